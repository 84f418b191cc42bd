"""The neuron case table: one row per neuron variant of the package, read by tests/test_conformance.py.

A row says how to run the variant (its functional call and its Module), how to run the slow
reference (tests/reference.py) with the same options, which learnable parameters and initial
states it takes, which state sequences it returns, its snnTorch counterpart, the option
variants its semantics are checked under, and the known bugs of its concerns. The shared
concerns (shapes, layouts, dtypes, zero sizes, gradients, backends, torch.compile, opcheck,
carried state, snnTorch parity) are written once, in test_conformance.py, for every row.

A new first-order neuron variant needs its Module, its spec in the reference, its kernel
flags, and one row in ``CASES``.
"""

from __future__ import annotations

import itertools
from collections.abc import Callable
from dataclasses import dataclass, field, replace

import torch
from torch import nn

import tritonsnn as tsnn
from tritonsnn import functional as F

from .reference import alpha_ref, first_order_ref, nonlinear_ref, synaptic_ref

# ----------------------------------------------------------------------------- the row type


@dataclass(frozen=True)
class Case:
    """One neuron variant.

    * ``call(x, p, st, **kw)``: the tritonsnn functional call; ``p`` the parameters (by name),
      ``st`` the initial states (functional keywords), ``kw`` the options, ``backend`` and
      ``return_mem`` / ``return_state``.
    * ``ref(x, p, st, **opts)``: the reference for the same options: ``(spikes, {sequence: tensor})``
      with the sequences of ``seqs``.
    * ``module(p, **kw)``: the Module holding ``p``'s values, every one of them learnable.
    * ``params``: the learnable parameters, name (the functional's keyword and the Module's
      attribute) -> ``(low, high)`` of the values drawn, or a factory ``layer(features)`` of the
      recurrent layer (all of whose parameters learn).
    * ``state``: the initial states the variant takes, functional keyword -> kind (``STATE_KINDS``).
    * ``seqs``: the state sequences ``return_state=True`` returns, besides the final ``"count"``.
    * ``opts``: the variant's options (functional keywords); ``sweep``: further option sets
      (merged into ``opts``) that the semantic tests (reference, snnTorch, opcheck) also run.
    * ``snntorch(p, **opts)``: the snnTorch neuron with ``p``'s values as Parameters, or None;
      ``snntorch_seqs``: the sequences its steps return after the spikes; ``snntorch_kinds``: the
      parameter kinds ("scalar", "per_neuron") compared.
    * ``images``: features are ``[C, H, W]`` (a recurrent ``nn.Conv2d``); ``flat``: features are
      one axis (a recurrent ``nn.Linear``).
    * ``drive``: ``(scale, offset)`` of the random input, so that some but not all neurons fire.
    * ``bugs``: ``"concern-backend"`` -> reason, for the strict xfails of known package bugs.
    * ``full_triton``: the structural concerns (shapes, layouts, dtypes, zero sizes) and the compiled
      network run on the Triton interpreter in the default tier; otherwise only the semantic ones
      (reference over every variant, snnTorch, opcheck) do, the rest there being in the slow tier
      (``TRITONSNN_TEST_SLOW=1``): the interpreter costs about 0.2 s per launch. Even these rows run
      a core on the interpreter by default: the shapes T1B1N1, multidim and ragged, the layouts
      strided and transposed, the call kinds state and scalar; ``triton_more`` names what else
      (shape, layout or call kind) they run there by default.
    """

    name: str
    call: Callable
    ref: Callable
    module: Callable | None
    params: dict
    state: dict
    seqs: tuple = ("mem",)
    opts: dict = field(default_factory=dict)
    sweep: tuple = ()
    snntorch: Callable | None = None
    snntorch_seqs: tuple = ("mem",)
    snntorch_kinds: tuple = ("scalar", "per_neuron")
    images: bool = False
    flat: bool = False
    drive: tuple = (1.2, 0.5)
    bugs: dict = field(default_factory=dict)
    full_triton: bool = False
    triton_more: tuple = ()

    @property
    def refractory_steps(self):
        return F.refractory_steps(self.opts.get("refractory", 0.0), self.opts.get("dt", 1.0))

    def variants(self):
        """``(id, opts)`` of the row's own options and of every sweep entry."""
        out = [("", dict(self.opts))]
        for extra in self.sweep:
            out.append(("-".join(_short(k, v) for k, v in extra.items()), {**self.opts, **extra}))
        return out

    def __repr__(self):
        return self.name


def _short(key, value):
    if key == "reset_delay":
        return "delay" if value else "nodelay"
    if key == "refractory":
        return f"refr{value:g}"
    if key in POTENTIALS:
        return f"{key}={value}"
    return str(value)


# Initial-state kinds: how test_conformance draws them ([B, *features]).
STATE_KINDS = ("mem", "cur", "spikes", "adapt", "count")


# ----------------------------------------------------------------------------- reference adapters


def _steps(opts):
    return F.refractory_steps(opts.get("refractory", 0.0), opts.get("dt", 1.0))


def _common_ref(st, opts):
    return {
        "reset_mechanism": opts.get("reset_mechanism", "subtract"),
        "reset_delay": opts.get("reset_delay", True),
        "refractory_steps": _steps(opts),
        "c0": st.get("count0"),
        **_potentials(opts),
    }


def _potentials(opts):
    return {"v_rest": opts.get("v_rest", 0.0), "v_reset": opts.get("v_reset", 0.0)}


def _leaky_ref(x, p, st, **opts):
    s, m, _ = first_order_ref(x, p.get("beta", 1.0), p["threshold"], st.get("v0"), **_common_ref(st, opts))
    return s, {"mem": m}


LAPICQUE_BETA = 0.9


def _lapicque_ref(x, p, st, **opts):
    R, C = F.lapicque_coefficients(LAPICQUE_BETA)
    s, m, _ = first_order_ref(
        x,
        1 - 1 / (R * C),
        p["threshold"],
        st.get("v0"),
        gain=R * (1 / (R * C)),
        zero_whole=True,
        clamp_beta=False,
        **_common_ref(st, opts),
    )
    return s, {"mem": m}


def _rleaky_ref(x, p, st, **opts):
    s, m, _ = first_order_ref(
        x,
        p["beta"],
        p["threshold"],
        st.get("v0"),
        V=p.get("V"),
        recurrent=p.get("recurrent"),
        s0=st.get("s0"),
        zero_whole=True,
        **_common_ref(st, opts),
    )
    return s, {"mem": m}


def _alif_ref(x, p, st, **opts):
    s, m, _, a = first_order_ref(
        x,
        p["beta"],
        p["threshold"],
        st.get("v0"),
        s0=st.get("s0"),
        a0=st.get("a0"),
        rho=p["rho"],
        b=p["b"],
        **_common_ref(st, opts),
    )
    return s, {"mem": m, "adapt": a}


def _synaptic_ref(x, p, st, **opts):
    s, syn, m = synaptic_ref(
        x,
        p["alpha"],
        p["beta"],
        p["threshold"],
        st.get("syn0"),
        st.get("v0"),
        opts.get("reset_mechanism", "subtract"),
        opts.get("reset_delay", True),
        V=p.get("V"),
        recurrent=p.get("recurrent"),
        spk0=st.get("s0"),
        refractory_steps=_steps(opts),
        refr0=st.get("count0"),
        **_potentials(opts),
    )
    return s, {"syn": syn, "mem": m}


def _alpha_ref(x, p, st, **opts):
    s, exc, inh, m = alpha_ref(
        x,
        p["alpha"],
        p["beta"],
        p["threshold"],
        st.get("syn_exc0"),
        st.get("syn_inh0"),
        st.get("v0"),
        opts.get("reset_mechanism", "zero"),
        refractory_steps=_steps(opts),
        refr0=st.get("count0"),
    )
    return s, {"syn_exc": exc, "syn_inh": inh, "mem": m}


# ----------------------------------------------------------------------------- recurrent layers


def linear(features):
    return nn.Linear(features[-1], features[-1])


def conv(features):
    return nn.Conv2d(features[0], features[0], 3, padding=1)


def _load(module, layer):
    module.recurrent.load_state_dict(layer.state_dict())
    return module


def _dense_kw(layer):
    if isinstance(layer, nn.Conv2d):
        return {"conv2d_channels": layer.in_channels, "kernel_size": layer.kernel_size[0]}
    return {"linear_features": layer.in_features}


def _learnable(module, names):
    """snnTorch's Alpha cannot be built with learn_alpha=True (it assigns a clamped tensor to the
    Parameter): make ``names`` Parameters after construction."""
    for name in names:
        setattr(module, name, nn.Parameter(getattr(module, name).detach().clone()))
    return module


def _v(t):
    return t.detach().clone()


# ----------------------------------------------------------------------------- snnTorch counterparts


def _snn():
    import snntorch

    return snntorch


def _snn_reset(opts):
    return {"reset_mechanism": opts.get("reset_mechanism", "subtract"), "reset_delay": opts.get("reset_delay", True)}


# ----------------------------------------------------------------------------- the rows

RESETS = ("subtract", "zero", "none")
BETA = (0.4, 1.0)
THR = (0.5, 1.5)
LEAKY_P = {"beta": (-0.1, 1.1), "threshold": THR}  # some decays outside [0, 1]: clamped
SYN_P = {"alpha": (0.3, 0.95), "beta": BETA, "threshold": THR}
ALPHA_P = {"alpha": (0.85, 0.97), "beta": (0.3, 0.6), "threshold": (0.5, 1.0)}


def _delays(*pairs):
    return tuple({"reset_mechanism": r, "reset_delay": d} for r, d in pairs)


def _resets(*resets):
    return tuple({"reset_mechanism": r} for r in resets)


ALL_OTHER_DELAYS = {  # every (reset, delay) but the default (subtract, True)
    (r, d) for r, d in itertools.product(RESETS, (True, False)) if (r, d) != ("subtract", True)
}


def _other_delays(exclude=()):
    return _delays(*sorted(ALL_OTHER_DELAYS - set(exclude), key=lambda rd: (RESETS.index(rd[0]), not rd[1])))


# Rest and reset potentials (v_rest, v_reset): tritonsnn's options of the snnTorch-form neurons,
# so the rows' sweeps that set them are left out of the snnTorch parity test.
POTENTIALS = ("v_rest", "v_reset")


def _rest(v_rest, v_reset=None, **opts):
    """A sweep entry with a rest potential (and, given ``v_reset``, the zero reset to it)."""
    reset = {} if v_reset is None else {"reset_mechanism": "zero", "v_reset": v_reset}
    return {**opts, **reset, "v_rest": v_rest}


LEAKY_POTENTIALS = {  # (reset, delay) -> the sweep of that Leaky row
    ("subtract", True): (_rest(0.3),),
    ("zero", True): (_rest(-0.4, -0.2), _rest(0.25, 0.25)),
    ("zero", False): (_rest(0.2, -0.3, reset_delay=False),),
    ("none", True): (_rest(0.3),),
}


def leaky_case(reset, delay):
    name = "leaky-" + reset + ("" if delay else "-nodelay")
    opts = {"reset_mechanism": reset, "reset_delay": delay}
    return Case(
        name,
        call=lambda x, p, st, **kw: F.leaky(x, p["beta"], p["threshold"], **st, **kw),
        ref=_leaky_ref,
        module=lambda p, **kw: tsnn.Leaky(p["beta"], p["threshold"], learn_beta=True, learn_threshold=True, **kw),
        params=LEAKY_P,
        state={"v0": "mem"},
        opts=opts,
        sweep=LEAKY_POTENTIALS.get((reset, delay), ()),
        snntorch=lambda p, **o: _snn().Leaky(
            beta=_v(p["beta"]), threshold=_v(p["threshold"]), learn_beta=True, learn_threshold=True, **_snn_reset(o)
        ),
        drive=(1.2, 0.3),
    )


def _if_case(name, opts, sweep=()):
    return Case(
        name,
        call=lambda x, p, st, **kw: F.if_(x, p["threshold"], **st, **kw),
        ref=_leaky_ref,
        module=lambda p, **kw: tsnn.IF(p["threshold"], learn_threshold=True, **kw),
        params={"threshold": (1.0, 2.5)},
        state={"v0": "mem", **({"count0": "count"} if opts else {})},
        opts=opts,
        sweep=sweep,
        snntorch=None
        if opts
        else (
            lambda p, **o: _snn().Leaky(beta=1.0, threshold=_v(p["threshold"]), learn_threshold=True, **_snn_reset(o))
        ),
        drive=(0.8, 0.2),
    )


def _lapicque_case(name, opts, sweep=()):
    return Case(
        name,
        call=lambda x, p, st, **kw: F.lapicque(x, LAPICQUE_BETA, p["threshold"], **st, **kw),
        ref=_lapicque_ref,
        module=lambda p, **kw: tsnn.Lapicque(beta=LAPICQUE_BETA, threshold=p["threshold"], learn_threshold=True, **kw),
        params={"threshold": THR},
        state={"v0": "mem", **({"count0": "count"} if "refractory" in opts else {})},
        opts=opts,
        sweep=sweep,
        snntorch=None
        if "refractory" in opts
        else (
            lambda p, **o: _snn().Lapicque(
                beta=LAPICQUE_BETA,
                threshold=_v(p["threshold"]),
                learn_threshold=True,
                reset_mechanism=o.get("reset_mechanism", "subtract"),
            )
        ),
        drive=(5.0, 6.0),
    )


def _rleaky_case(name, opts, sweep=(), refractory=False):
    return Case(
        name,
        call=lambda x, p, st, **kw: F.rleaky(x, p["beta"], p["V"], p["threshold"], **st, **kw),
        ref=_rleaky_ref,
        module=lambda p, **kw: tsnn.RLeaky(
            p["beta"],
            p["V"],
            all_to_all=False,
            threshold=p["threshold"],
            learn_beta=True,
            learn_threshold=True,
            learn_recurrent=True,
            **kw,
        ),
        params={"beta": BETA, "V": (-0.5, 0.5), "threshold": THR},
        state={"v0": "mem", "s0": "spikes", **({"count0": "count"} if refractory else {})},
        opts=opts,
        sweep=sweep,
        snntorch=None
        if refractory
        else (
            lambda p, **o: _snn().RLeaky(
                beta=_v(p["beta"]),
                V=_v(p["V"]),
                threshold=_v(p["threshold"]),
                all_to_all=False,
                learn_beta=True,
                learn_threshold=True,
                learn_recurrent=True,
                **_snn_reset(o),
            )
        ),
    )


def _rleaky_dense_case(name, layer, opts, sweep=(), refractory=False):
    return Case(
        name,
        call=lambda x, p, st, **kw: F.rleaky(
            x, p["beta"], threshold=p["threshold"], recurrent=p["recurrent"], **st, **kw
        ),
        ref=_rleaky_ref,
        module=lambda p, **kw: _load(
            tsnn.RLeaky(
                p["beta"],
                threshold=p["threshold"],
                learn_beta=True,
                learn_threshold=True,
                **_dense_kw(p["recurrent"]),
                **kw,
            ),
            p["recurrent"],
        ),
        params={"beta": BETA, "threshold": THR, "recurrent": layer},
        state={"v0": "mem", "s0": "spikes", **({"count0": "count"} if refractory else {})},
        opts=opts,
        sweep=sweep,
        snntorch=None
        if refractory
        else (
            lambda p, **o: _load(
                _snn().RLeaky(
                    beta=_v(p["beta"]),
                    threshold=_v(p["threshold"]),
                    learn_beta=True,
                    learn_threshold=True,
                    **_dense_kw(p["recurrent"]),
                    **_snn_reset(o),
                ),
                p["recurrent"],
            )
        ),
        snntorch_kinds=("scalar",),
        images=layer is conv,
        flat=layer is linear,
    )


def _alif_case(name, opts, sweep=()):
    return Case(
        name,
        call=lambda x, p, st, **kw: F.alif(x, p["beta"], p["threshold"], p["rho"], p["b"], **st, **kw),
        ref=_alif_ref,
        module=lambda p, **kw: tsnn.ALIF(
            p["beta"],
            p["threshold"],
            p["rho"],
            p["b"],
            learn_beta=True,
            learn_threshold=True,
            learn_rho=True,
            learn_b=True,
            **kw,
        ),
        params={"beta": (0.5, 1.0), "threshold": (0.5, 1.0), "rho": (0.6, 0.9), "b": (0.0, 0.4)},
        state={"v0": "mem", "s0": "spikes", "a0": "adapt", **({"count0": "count"} if opts else {})},
        seqs=("mem", "adapt"),
        opts=opts,
        sweep=sweep,
        drive=(1.2, 0.7),
    )


def _synaptic_case(name, opts, sweep=()):
    refractory = "refractory" in opts
    return Case(
        name,
        call=lambda x, p, st, **kw: F.synaptic(x, p["alpha"], p["beta"], p["threshold"], **st, **kw),
        ref=_synaptic_ref,
        module=lambda p, **kw: tsnn.Synaptic(
            p["alpha"], p["beta"], p["threshold"], learn_alpha=True, learn_beta=True, learn_threshold=True, **kw
        ),
        params=SYN_P,
        state={"syn0": "cur", "v0": "mem", **({"count0": "count"} if refractory else {})},
        seqs=("syn", "mem"),
        opts=opts,
        sweep=sweep,
        snntorch=None
        if refractory
        else (
            lambda p, **o: _snn().Synaptic(
                alpha=_v(p["alpha"]),
                beta=_v(p["beta"]),
                threshold=_v(p["threshold"]),
                learn_alpha=True,
                learn_beta=True,
                learn_threshold=True,
                **_snn_reset(o),
            )
        ),
        snntorch_seqs=("syn", "mem"),
        drive=(1.5, 0.0) if not refractory else (2.0, 0.0),
    )


def _rsynaptic_case(name, opts, sweep=()):
    refractory = "refractory" in opts
    return Case(
        name,
        call=lambda x, p, st, **kw: F.rsynaptic(x, p["alpha"], p["beta"], p["V"], p["threshold"], **st, **kw),
        ref=_synaptic_ref,
        module=lambda p, **kw: tsnn.RSynaptic(
            p["alpha"],
            p["beta"],
            p["V"],
            all_to_all=False,
            threshold=p["threshold"],
            learn_alpha=True,
            learn_beta=True,
            learn_threshold=True,
            learn_recurrent=True,
            **kw,
        ),
        params={**SYN_P, "V": (-0.6, 0.8)},
        state={"syn0": "cur", "v0": "mem", "s0": "spikes", **({"count0": "count"} if refractory else {})},
        seqs=("syn", "mem"),
        opts=opts,
        sweep=sweep,
        snntorch=None
        if refractory
        else (
            lambda p, **o: _snn().RSynaptic(
                alpha=_v(p["alpha"]),
                beta=_v(p["beta"]),
                V=_v(p["V"]),
                threshold=_v(p["threshold"]),
                all_to_all=False,
                learn_alpha=True,
                learn_beta=True,
                learn_threshold=True,
                learn_recurrent=True,
                reset_mechanism=o.get("reset_mechanism", "subtract"),
            )
        ),
        snntorch_seqs=("syn", "mem"),
        drive=(1.5, 0.0) if not refractory else (2.0, 0.0),
    )


def _rsynaptic_dense_case(name, layer, opts, sweep=()):
    refractory = "refractory" in opts
    return Case(
        name,
        call=lambda x, p, st, **kw: F.rsynaptic(
            x, p["alpha"], p["beta"], threshold=p["threshold"], recurrent=p["recurrent"], **st, **kw
        ),
        ref=_synaptic_ref,
        module=lambda p, **kw: _load(
            tsnn.RSynaptic(
                p["alpha"],
                p["beta"],
                threshold=p["threshold"],
                learn_alpha=True,
                learn_beta=True,
                learn_threshold=True,
                **_dense_kw(p["recurrent"]),
                **kw,
            ),
            p["recurrent"],
        ),
        params={**SYN_P, "recurrent": layer},
        state={"syn0": "cur", "v0": "mem", "s0": "spikes", **({"count0": "count"} if refractory else {})},
        seqs=("syn", "mem"),
        opts=opts,
        sweep=sweep,
        snntorch=None
        if refractory
        else (
            lambda p, **o: _load(
                _snn().RSynaptic(
                    alpha=_v(p["alpha"]),
                    beta=_v(p["beta"]),
                    threshold=_v(p["threshold"]),
                    learn_alpha=True,
                    learn_beta=True,
                    learn_threshold=True,
                    **_dense_kw(p["recurrent"]),
                    reset_mechanism=o.get("reset_mechanism", "subtract"),
                ),
                p["recurrent"],
            )
        ),
        snntorch_seqs=("syn", "mem"),
        snntorch_kinds=("scalar",),
        images=layer is conv,
        flat=layer is linear,
        drive=(1.5, 0.0) if not refractory else (2.0, 0.0),
    )


def _plif_drive(x, w):
    """PLIF's input and decay from its parameter: ``k*x`` (in x's dtype) and ``1 - k``, ``k = sigmoid(w)``."""
    k = torch.sigmoid(w)
    return x * k.to(x.dtype), 1 - k


def _plif_ref(x, p, st, **opts):
    drive, decay = _plif_drive(x, p["w"])
    ref_opts = {**_common_ref(st, opts), "reset_mechanism": "zero", "reset_delay": False}
    s, m, _ = first_order_ref(drive, decay, p["threshold"], st.get("v0"), **ref_opts)
    return s, {"mem": m}


def _plif_module(p, **kw):
    neuron = tsnn.PLIF(torch.full(p["w"].shape, 2.0), threshold=p["threshold"], learn_threshold=True, **kw)
    with torch.no_grad():
        neuron.w.copy_(p["w"])  # the drawn parameter itself, not its round trip through tau
    return neuron


def _plif_case(name):
    def call(x, p, st, **kw):
        drive, decay = _plif_drive(x, p["w"])
        return F.leaky(drive, decay, p["threshold"], reset_mechanism="zero", reset_delay=False, **st, **kw)

    return Case(
        name,
        call=call,
        ref=_plif_ref,
        module=_plif_module,
        params={"w": (-1.0, 1.0), "threshold": THR},
        state={"v0": "mem"},
        drive=(2.4, 0.8),
    )


def _alpha_case(name, opts, sweep=()):
    refractory = "refractory" in opts
    return Case(
        name,
        call=lambda x, p, st, **kw: F.alpha(x, p["alpha"], p["beta"], p["threshold"], **st, **kw),
        ref=_alpha_ref,
        module=lambda p, **kw: tsnn.Alpha(
            p["alpha"], p["beta"], p["threshold"], learn_alpha=True, learn_beta=True, learn_threshold=True, **kw
        ),
        params=ALPHA_P,
        state={"syn_exc0": "cur", "syn_inh0": "cur", "v0": "mem", **({"count0": "count"} if refractory else {})},
        seqs=("syn_exc", "syn_inh", "mem"),
        opts=opts,
        sweep=sweep,
        snntorch=None
        if refractory
        else (
            lambda p, **o: _learnable(
                _snn().Alpha(
                    alpha=_v(p["alpha"]),
                    beta=_v(p["beta"]),
                    threshold=_v(p["threshold"]),
                    reset_mechanism=o.get("reset_mechanism", "zero"),
                ),
                ("alpha", "beta", "threshold"),
            )
        ),
        snntorch_seqs=("syn_exc", "syn_inh", "mem"),
        drive=(2.0, 0.5),
    )


# SpikingJelly's defaults (QIFNode, EIFNode, IzhikevichNode; AdEx: tsnn.functional.adex's)
NONLINEAR = {
    "lif": (F.lif, tsnn.LIF, dict(tau=2.0, v_reset=0.0)),
    # GLIF2's reset without its adaptation (that has rows of its own in tests/test_shared_threshold.py)
    "glif2": (F.glif2, tsnn.GLIF2, dict(tau=2.0, v_rest=0.05, reset_mul=0.4, reset_add=0.1, threshold_adaptation=None)),
    "qif": (F.qif, tsnn.QIF, dict(tau=2.0, v_rest=0.0, v_c=0.8, a0=1.0, v_reset=-0.1)),
    "eif": (F.eif, tsnn.EIF, dict(tau=2.0, v_rest=0.0, theta_rh=0.8, delta_t=1.0, v_reset=-0.1)),
    "izhikevich": (
        F.izhikevich,
        tsnn.Izhikevich,
        dict(tau=2.0, v_rest=-0.1, v_c=0.8, a0=1.0, v_reset=0.0, a=0.3, b=0.2, tau_w=3.0),
    ),
    "adex": (
        F.adex,
        tsnn.AdEx,
        dict(tau=2.0, v_rest=0.0, theta_rh=0.8, delta_t=1.0, v_reset=-0.1, a=0.13, b=0.1, tau_w=30.0),
    ),
}


def _nonlinear_case(name, opts=None, sweep=()):
    fn, module, consts = NONLINEAR[name.split("-")[0]]
    adapt = "tau_w" in consts
    refractory = bool(opts)

    def ref(x, p, st, **opts):
        c = consts | {k: v for k, v in opts.items() if k in (*consts, "v_rest", "decay_input")}
        s, m, w = nonlinear_ref(
            x,
            p["threshold"],
            c,
            kind="exponential" if "delta_t" in consts else "quadratic" if "a0" in consts else "linear",
            adapt=adapt,
            detach_reset=opts.get("detach_reset", False),
            refractory_steps=_steps(opts),
            **st,
        )
        return s, ({"mem": m, "w": w} if adapt else {"mem": m})

    return Case(
        name,
        call=lambda x, p, st, **kw: fn(x, threshold=p["threshold"], **(consts | kw), **st),
        ref=ref,
        module=lambda p, **kw: module(threshold=p["threshold"], learn_threshold=True, **(consts | kw)),
        params={"threshold": (0.8, 1.2)},
        state={"v0": "mem", **({"w0": "adapt"} if adapt else {}), **({"count0": "count"} if refractory else {})},
        seqs=("mem", "w") if adapt else ("mem",),
        opts=opts or {},
        sweep=sweep,
        drive=(1.0, 1.2) if refractory else (0.8, 0.4),  # from v_reset: to fire again within a short input
        full_triton=True,
    )


CASES = [
    *(
        replace(
            leaky_case(r, d),
            full_triton=r == "subtract",
            triton_more={(True,): ("T1", "B1N1", "expanded"), (False,): ("spikes",)}[(d,)] if r == "subtract" else (),
        )
        for r, d in itertools.product(RESETS, (True, False))
    ),
    _if_case("if", {}),
    _lapicque_case("lapicque", {}, sweep=(*_resets("zero", "none"), _rest(0.2, -0.3))),
    _rleaky_case("rleaky", {}, sweep=(*_other_delays(), _rest(0.2), _rest(-0.2, 0.1, reset_delay=False))),
    replace(
        _rleaky_dense_case(
            "rleaky-linear", linear, {}, sweep=(*_other_delays(exclude=[("none", False)]), _rest(-0.2, 0.1))
        ),
        full_triton=True,
    ),
    _rleaky_dense_case("rleaky-conv", conv, {}, sweep=_delays(("zero", True))),
    replace(
        _alif_case("alif", {}, sweep=(*_resets("zero", "none"), _rest(0.2), _rest(0.1, -0.2))),
        full_triton=True,
        triton_more=("spikes",),
    ),
    replace(
        _synaptic_case("synaptic", {}, sweep=(*_other_delays(), _rest(0.3), _rest(0.2, -0.3, reset_delay=False))),
        full_triton=True,
        triton_more=("T1", "B1N1", "fixed"),
    ),
    replace(_rsynaptic_case("rsynaptic", {}, sweep=(*_resets("zero", "none"), _rest(-0.2, 0.1))), full_triton=True),
    _rsynaptic_dense_case("rsynaptic-linear", linear, {}, sweep=(*_resets("zero"), _rest(0.2), _rest(0.2, -0.1))),
    _rsynaptic_dense_case("rsynaptic-conv", conv, {}),
    replace(_alpha_case("alpha", {}, sweep=_resets("subtract", "none")), full_triton=True),
    _plif_case("plif"),
    # SpikingJelly's LIF and nonlinear neurons (firing on >=, hard reset to v_reset).
    _nonlinear_case("lif", sweep=({"decay_input": False}, {"v_reset": None}, {"v_rest": -0.2, "v_reset": 0.1})),
    _nonlinear_case("glif2", sweep=({"detach_reset": True}, {"decay_input": False})),
    _nonlinear_case("glif2-refractory", {"refractory": 2.0}),
    _nonlinear_case("qif", sweep=({"v_reset": None}, {"detach_reset": True})),
    _nonlinear_case("eif", sweep=({"detach_reset": True},)),
    _nonlinear_case("izhikevich", sweep=({"v_reset": None},)),
    _nonlinear_case("adex", sweep=({"detach_reset": True},)),
    _nonlinear_case("qif-refractory", {"refractory": 2.0}, sweep=({"v_reset": None},)),
    _nonlinear_case("adex-refractory", {"refractory": 2.0}),
    # Refractory periods: an option of every neuron.
    replace(
        leaky_case("subtract", True),
        name="leaky-refractory",
        opts={"refractory": 2.5, "dt": 1.0},
        state={"v0": "mem", "count0": "count"},
        snntorch=None,
        sweep=(*_other_delays(), _rest(0.2, -0.3), _rest(0.3)),
        full_triton=True,
    ),
    _if_case("if-refractory", {"refractory": 2.0}),
    replace(_lapicque_case("lapicque-refractory", {"refractory": 2.0, "reset_mechanism": "zero"}), full_triton=True),
    replace(
        _rleaky_case(
            "rleaky-refractory", {"refractory": 2.0}, sweep=(*_resets("zero"), _rest(0.2, -0.2)), refractory=True
        ),
        full_triton=True,
    ),
    _rleaky_dense_case("rleaky-linear-refractory", linear, {"refractory": 1.0}, refractory=True),
    _rleaky_dense_case("rleaky-conv-refractory", conv, {"refractory": 1.0}, refractory=True),
    _alif_case("alif-refractory", {"refractory": 2.0}, sweep=_resets("zero", "none")),
    _synaptic_case(
        "synaptic-refractory",
        {"refractory": 3.0},
        sweep=(*_other_delays(exclude=[("none", False)]), {"refractory": 1.0}, _rest(0.2, -0.2)),
    ),
    replace(_rsynaptic_case("rsynaptic-refractory", {"refractory": 2.0}), full_triton=True),
    _rsynaptic_dense_case("rsynaptic-linear-refractory", linear, {"refractory": 2.0}, sweep=_delays(("zero", False))),
    _rsynaptic_dense_case("rsynaptic-conv-refractory", conv, {"refractory": 2.0}, sweep=_delays(("zero", False))),
    replace(
        _alpha_case("alpha-refractory", {"refractory": 3.0}, sweep=(*_resets("subtract", "none"), {"refractory": 1.0})),
        full_triton=True,
        triton_more=("T1", "B1N1", "fixed"),
    ),
]

BY_NAME = {c.name: c for c in CASES}
assert len(BY_NAME) == len(CASES), "row names must be unique"
