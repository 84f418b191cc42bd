"""SpikingJelly-style integrate-and-fire neurons over whole sequences: LIF (its ``LIFNode``)
and the nonlinear QIF, EIF, Izhikevich and AdEx, in SpikingJelly's conventions (Euler steps
with the time constant in units of steps, firing on ``>=``, hard reset to ``v_reset``, the
membrane starting at ``v_reset``). One call of the ``nlif`` op each (``ops/nonlinear.py``).
The constants of the dynamics are numbers; the threshold is a number or a tensor and
receives gradients."""

from __future__ import annotations

import math
from typing import NamedTuple

import torch

from .. import _backend, ops
from .. import surrogate as sg
from .._doc import shared_args
from ..contracts import NlifAdaptation, NlifCurrent, NlifOptions, NlifParams, NlifState, surrogate_fields
from ..contracts import Nonlinearity as NL
from ._validate import Layout, _check_number, cached_record, check_input, count, param, refractory_steps, result, state

__all__ = ["lif", "glif2", "qif", "eif", "izhikevich", "adex", "SharedThreshold", "SharedCurrent"]

DEFAULT_SURROGATE = sg.sigmoid(4.0)  # SpikingJelly's Sigmoid()


def _number(value, name, *, above=None):
    """A constant of the dynamics as a float, refused unless finite (and above a bound)."""
    if isinstance(value, torch.Tensor) or not isinstance(value, (int, float)) or isinstance(value, bool):
        raise TypeError(
            f"{name} must be a number; got {type(value).__name__}. The constants of the nonlinear neurons "
            "are not learnable (the threshold is: pass it as a tensor, or learn_threshold=True on the Module)"
        )
    v = float(value)
    _check_number(v, name, value)
    if above is not None and not v > above:
        raise ValueError(f"{name} must be > {above}; got {value}")
    return v


def check_constants(nonlinearity, consts: dict, adapt: bool) -> dict:
    """The constants of the dynamics as floats (None kept: ``v_reset=None`` subtracts the
    threshold), each refused unless a finite number within its bounds."""
    c = {k: (None if v is None and k == "v_reset" else _number(v, k)) for k, v in consts.items()}
    _number(c["tau"], "tau", above=1.0)  # SpikingJelly's bound: tau <= 1 overshoots in one Euler step
    if nonlinearity == NL.QUADRATIC:
        _number(c["a0"], "a0", above=0.0)
    elif nonlinearity == NL.EXPONENTIAL:
        _number(c["delta_t"], "delta_t", above=0.0)
    if adapt:
        _number(c["tau_w"], "tau_w", above=0.0)
    return c


_UNUSED = dict(
    v_c=0.0, a0=0.0, theta_rh=0.0, delta_t=1.0, v_reset=0.0, reset_mul=0.0, reset_add=0.0, a=0.0, b=0.0, tau_w=1.0
)


def _options(x, nonlinearity, consts, adapt, choice, flags, backend) -> NlifOptions:
    """The options record (made once per combination, ``_validate.cached_record``); ``flags`` is
    ``(detach_reset, need_mem, refractory steps, decay_input)``."""
    detach_reset, need_mem, steps, decay_input = flags
    use_triton = _backend.resolve(_backend.check_backend_name(backend), x.device) == "triton"
    key = (NlifOptions, nonlinearity, adapt, choice, flags, use_triton, *consts.items())

    def make():
        c = check_constants(nonlinearity, consts, adapt)
        return NlifOptions(
            nonlinearity=int(nonlinearity),
            adapt=adapt,
            hard_reset=c.get("v_reset") is not None or "reset_mul" in c,
            linear_reset="reset_mul" in c,
            detach_reset=detach_reset,
            decay_input=decay_input or nonlinearity != NL.LINEAR,  # the other drives always divide by tau
            **(_UNUSED | {k: v for k, v in c.items() if v is not None}),
            need_mem=need_mem,
            refractory=steps,
            **surrogate_fields(choice),
            use_triton=use_triton,
        )

    return cached_record(key, make)


def run_nonlinear(
    x,
    threshold,
    consts: dict,
    *,
    nonlinearity,
    adapt,
    v0=None,
    w0=None,
    surrogate=None,
    detach_reset=False,
    return_mem=False,
    return_state=False,
    backend="auto",
    refractory=0.0,
    dt=1.0,
    count0=None,
    decay_input=True,
    threshold_adaptation=None,
    theta0=None,
    current_adaptation=None,
    current0=None,
    update_adaptation=True,
    single=False,
):
    """Shape everything, run the one ``nlif`` op, unflatten the outputs. ``single``: ``x`` is one
    step ``[B, *features]`` (the Modules' single-step mode) and so are the outputs. With a
    ``threshold_adaptation`` or ``current_adaptation`` the op runs under them
    (``ops.nonlinear.nlif_shared``) and ``state["theta"]`` / ``state["current"]`` are the
    adaptations after the last step."""
    check_input(x, single=single)
    layout = Layout(x, single)
    features = layout.features
    need_mem = return_mem or return_state
    choice = DEFAULT_SURROGATE if surrogate is None else sg.from_any(surrogate)
    steps = refractory_steps(refractory, dt)
    flags = (bool(detach_reset), bool(need_mem), steps, bool(decay_input))
    opts = _options(x, nonlinearity, consts, adapt, choice, flags, backend)
    params = NlifParams(param(threshold, "threshold", features, x, positive=True))
    mem0 = state(v0, "v0", x, features, layout=layout)
    if mem0 is None:  # SpikingJelly's initial membrane: v_reset (0 without a hard reset); GLIF2's: v_rest
        start = opts.v_rest if opts.linear_reset else opts.v_reset if opts.hard_reset else 0.0
        mem0 = torch.full((layout.B, layout.N), start, device=x.device)
    init = NlifState(
        mem0, state(w0, "w0", x, features, layout=layout) if adapt else None, count(count0, x, features, steps, layout)
    )
    shared = threshold_adaptation is not None or current_adaptation is not None
    if not shared:
        out = ops.nonlinear.nlif_fwd(layout.flat(x), init, params, opts, step=single)
    else:
        where = (update_adaptation, dt, features, x.device)
        thr = None if threshold_adaptation is None else _shared(threshold_adaptation, SharedThreshold, theta0, *where)
        cur = None if current_adaptation is None else _shared(current_adaptation, SharedCurrent, current0, *where)
        out, theta, w = ops.nonlinear.nlif_shared(layout.flat(x), init, params, opts, thr, cur, step=single)
    seqs = {"mem": out.mem, "w": out.w} if adapt else {"mem": out.mem}
    final_count = out.final_count if steps > 0 else None
    res = result(layout, out.spikes, seqs if need_mem else {}, final_count, return_mem, return_state)
    if return_state and shared:
        for key, value in (("theta", theta), ("current", w)):
            if value is not None:
                res[1][key] = value.view(*features, value.shape[-1])
    return res


class SharedThreshold(NamedTuple):
    """A threshold adaptation shared by the minibatch, as Inferno's ``ALIF``/``GLIF2``: the threshold
    of each neuron is ``threshold + sum_k theta_k``; after every step each sample's copy of
    ``theta_k`` decays by ``exp(-dt / tau[k])`` (held, with a refractory period, on the sample's
    refractory and spike steps, as Inferno holds it while refractory time is left) and grows
    by ``increment[k]`` where the sample fired, and the copies are reduced over the batch
    (``reduction``: ``"mean"``, Inferno's default, ``"sum"``, ``"max"`` or ``"min"``). The
    adaptation carries no gradient (Inferno's has none); the threshold itself can learn.

    Args:
        tau: time constants in ms (> 0), one or a tuple of ``K``.
        increment: the rise per spike, one or ``K`` (a single one serves every ``tau``).
        reduction: over the batch.
    """

    tau: float | tuple = 20.0
    increment: float | tuple = 0.05
    reduction: str = "mean"


class SharedCurrent(NamedTuple):
    """An adaptation current shared by the minibatch, as Inferno's ``Izhikevich``/``AdEx``
    (``adaptive_currents_linear``): the input of each neuron is ``x - sum_k w_k``; after every
    step each sample's copy of ``w_k`` takes the Euler step ``w_k + (dt / tau[k]) (coupling[k]
    (v - v_rest) - w_k)`` towards its membrane after the reset (held, with a refractory period,
    on the sample's refractory and spike steps), grows by ``increment[k]`` where the sample
    fired, and the copies are reduced over the batch. ``w`` is in the input's units (Inferno's
    with ``R = 1``; scale ``coupling`` and ``increment`` by ``R`` otherwise). It carries no
    gradient. tritonsnn's own ``Izhikevich``/``AdEx`` current ``w`` is per sample, as
    SpikingJelly's: with this one use :class:`tritonsnn.QIF` / :class:`tritonsnn.EIF`.

    Args:
        tau: time constants in ms (> 0), one or a tuple of ``K``.
        coupling: to the membrane, one or ``K``.
        increment: the rise per spike, one or ``K``.
        reduction: over the batch: ``"mean"``, ``"sum"``, ``"max"`` or ``"min"``.
    """

    tau: float | tuple = 100.0
    coupling: float | tuple = 0.0
    increment: float | tuple = 0.05
    reduction: str = "mean"


_REDUCTIONS = ("mean", "sum", "max", "min")


def _shared(spec, want, value0, update, dt, features, device):
    """The adaptation record (``NlifAdaptation`` or ``NlifCurrent``) of a ``SharedThreshold`` or
    ``SharedCurrent`` and the carried components ``value0 [*features, K]`` (zeros when None). The
    rates are computed as Inferno computes them, in fp32 from ``dt`` and the time constants."""
    kind = type(spec).__name__
    if not isinstance(spec, want):
        slot = "threshold_adaptation" if want is SharedThreshold else "current_adaptation"
        raise TypeError(f"{slot} must be a tsnn.functional.{want.__name__}; got {kind}")
    taus = spec.tau if isinstance(spec.tau, (tuple, list)) else (spec.tau,)
    K = len(taus)
    per_k = {"increment": spec.increment} | ({"coupling": spec.coupling} if isinstance(spec, SharedCurrent) else {})
    per_k = {k: v if isinstance(v, (tuple, list)) else (v,) * K for k, v in per_k.items()}
    if not taus or any(len(v) != K for v in per_k.values()):
        raise ValueError(f"{kind} needs one value or one per tau of each of {sorted(per_k)}; got {spec}")
    for tau in taus:
        _number(tau, f"{kind} tau", above=0.0)
    for name, values in per_k.items():
        for v in values:
            _number(v, f"{kind} {name}")
    if spec.reduction not in _REDUCTIONS:
        raise ValueError(f"{kind} reduction must be one of {_REDUCTIONS}; got {spec.reduction!r}")
    name0 = "theta0" if isinstance(spec, SharedThreshold) else "current0"
    N = math.prod(features)
    if value0 is None:
        value = torch.zeros(N, K, device=device)
    else:
        value = torch.as_tensor(value0, dtype=torch.float32, device=device).detach()
        if tuple(value.shape) != (*features, K):
            raise ValueError(
                f"{name0} must be [*features, K] = {(*features, K)} (K = the number of time constants); "
                f"got {tuple(value.shape)}"
            )
        value = value.reshape(N, K)
    rate = float(dt) / torch.tensor(taus, dtype=torch.float32, device=device)  # Inferno's step_time / tau
    increment = torch.tensor([float(v) for v in per_k["increment"]], device=device)
    if isinstance(spec, SharedThreshold):
        return NlifAdaptation(value, torch.exp(-rate), increment, spec.reduction, bool(update))
    coupling = torch.tensor([float(v) for v in per_k["coupling"]], device=device)
    return NlifCurrent(value, rate, coupling, increment, spec.reduction, bool(update))


_ARGS = """
        threshold: firing threshold (> 0), a number or a tensor broadcastable to the features
            (receives gradients); a neuron fires where its membrane reaches it (``>=``).
        v_rest: resting potential (``lif``: the potential it leaks to; ``v_reset``, or 0
            without hard reset, by default, as SpikingJelly's).
        v_reset: the membrane after a spike (hard reset); None subtracts the threshold instead.
        v0: initial membrane ``[B, *features]``; ``v_reset`` (0 without hard reset) when None.
        options: ``surrogate=`` a ``tsnn.surrogate`` choice (SpikingJelly's ``Sigmoid()``,
            ``tsnn.surrogate.sigmoid(4.0)``, by default); ``detach_reset=True``: no gradient
            through the reset (SpikingJelly's); ``return_mem=True``: also return the membrane
            after each step's reset; ``return_state=True``: return ``(spikes, state)``, a dict of
            the state sequences (``"mem"``, and ``"w"`` with an adaptation current);
            ``backend=`` ``"auto"`` (Triton on CUDA, PyTorch elsewhere), ``"triton"`` or ``"torch"``;
            ``refractory=`` a refractory period in ms (0, off, by default) and ``dt=`` ms per step:
            after a spike, ``ceil(refractory/dt)`` steps that hold the membrane (and ``w``) and
            cannot fire, as Inferno's neurons; ``count0=`` the initial counter, and
            ``state["count"]`` the final one; ``threshold_adaptation=`` a :class:`SharedThreshold`
            (Inferno's batch-shared adaptive threshold) with ``theta0=`` its components
            ``[*features, K]`` before the first step (zeros when None), ``update_adaptation=False`` to
            keep them fixed, and ``state["theta"]`` the components after the last step;
            ``current_adaptation=`` a :class:`SharedCurrent` (Inferno's batch-shared adaptation
            current) with ``current0=`` and ``state["current"]`` likewise.
"""


def lif_constants(tau, v_reset, v_rest):
    """LIF's constants; the leak goes to ``v_rest``, by default ``v_reset`` (0 without a hard
    reset), SpikingJelly's leak target."""
    rest = (0.0 if v_reset is None else v_reset) if v_rest is None else v_rest
    return dict(tau=tau, v_rest=rest, v_reset=v_reset)


@shared_args(_ARGS)
def lif(x, tau=2.0, decay_input=True, threshold=1.0, v_reset=0.0, v_rest=None, *, v0=None, **options):
    """Leaky integrate-and-fire in SpikingJelly's form (its ``LIFNode`` and defaults; Inferno's
    linear neuron with Euler steps): ``h[t] = v[t-1] + (x[t] - (v[t-1] - v_rest)) / tau``
    (``decay_input=False``: ``v[t-1] - (v[t-1] - v_rest) / tau + x[t]``), firing on ``>=``,
    hard reset to ``v_reset``. snnTorch's form, firing on ``>`` with ``beta``, is :func:`leaky`.

    Args:
        x: input current ``[T, B, *features]`` (fp32, fp16 or bf16).
        tau: membrane time constant in steps (> 1).
        decay_input: divide the input by ``tau`` too (SpikingJelly's default).

    Returns:
        spikes in x's dtype, or ``(spikes, mem)`` / ``(spikes, state)``.
    """
    return run_nonlinear(
        x,
        threshold,
        lif_constants(tau, v_reset, v_rest),
        nonlinearity=NL.LINEAR,
        adapt=False,
        v0=v0,
        decay_input=decay_input,
        **options,
    )


GLIF2_ADAPTATION = SharedThreshold(tau=20.0, increment=0.1)


@shared_args(_ARGS)
def glif2(
    x,
    tau=2.0,
    threshold=1.0,
    v_rest=0.0,
    reset_mul=0.5,
    reset_add=0.1,
    decay_input=True,
    *,
    v0=None,
    threshold_adaptation=GLIF2_ADAPTATION,
    **options,
):
    """Generalised leaky integrate-and-fire 2 (GLIF2, Teeter et al. 2018; Inferno's ``GLIF2``):
    :func:`lif`'s dynamics with a reset that keeps part of the membrane,
    ``v = v_rest + reset_mul (h - v_rest) - reset_add`` where it fired, and a spike-driven
    threshold adaptation (by default ``SharedThreshold(tau=20.0, increment=0.1)``, batch-shared
    as Inferno's; None: off). The membrane starts at ``v_rest``. The defaults are chosen for a
    threshold of 1, not taken from a fit. Inferno's rate constants ``rc_adaptation`` are
    ``tau = 1 / rc``.

    Args:
        x: input current ``[T, B, *features]`` (fp32, fp16 or bf16).
        tau: membrane time constant in steps (> 1).
        reset_mul: the share of ``h - v_rest`` a spike keeps (Inferno's ``reset_v_mul``).
        reset_add: what a spike subtracts besides (Inferno's ``reset_v_add``).
        decay_input: divide the input by ``tau`` too (SpikingJelly's default).
        threshold_adaptation: a :class:`SharedThreshold`, or None.

    Returns:
        spikes in x's dtype, or ``(spikes, mem)`` / ``(spikes, state)``.
    """
    consts = dict(tau=tau, v_rest=v_rest, reset_mul=reset_mul, reset_add=reset_add)
    return run_nonlinear(
        x,
        threshold,
        consts,
        nonlinearity=NL.LINEAR,
        adapt=False,
        v0=v0,
        decay_input=decay_input,
        threshold_adaptation=threshold_adaptation,
        **options,
    )


@shared_args(_ARGS)
def qif(x, tau=2.0, v_c=0.8, a0=1.0, threshold=1.0, v_rest=0.0, v_reset=-0.1, *, v0=None, **options):
    """Quadratic integrate-and-fire (SpikingJelly's ``QIFNode``, its defaults):
    ``h[t] = v[t-1] + (x[t] + a0 (v[t-1] - v_rest)(v[t-1] - v_c)) / tau``.

    Args:
        x: input current ``[T, B, *features]`` (fp32, fp16 or bf16).
        tau: membrane time constant in steps (> 1).
        v_c: critical voltage (above it the quadratic term drives the membrane up).
        a0: strength of the quadratic term (> 0).

    Returns:
        spikes in x's dtype, or ``(spikes, mem)`` / ``(spikes, state)``.
    """
    consts = dict(tau=tau, v_rest=v_rest, v_c=v_c, a0=a0, v_reset=v_reset)
    return run_nonlinear(x, threshold, consts, nonlinearity=NL.QUADRATIC, adapt=False, v0=v0, **options)


@shared_args(_ARGS)
def eif(x, tau=2.0, delta_t=1.0, theta_rh=0.8, threshold=1.0, v_rest=0.0, v_reset=-0.1, *, v0=None, **options):
    """Exponential integrate-and-fire (SpikingJelly's ``EIFNode``, its defaults):
    ``h[t] = v[t-1] + (x[t] + v_rest - v[t-1] + delta_t exp((v[t-1] - theta_rh) / delta_t)) / tau``.

    Args:
        x: input current ``[T, B, *features]`` (fp32, fp16 or bf16).
        tau: membrane time constant in steps (> 1).
        delta_t: sharpness of the exponential (> 0).
        theta_rh: rheobase threshold, where the exponential takes over.

    Returns:
        spikes in x's dtype, or ``(spikes, mem)`` / ``(spikes, state)``.
    """
    consts = dict(tau=tau, v_rest=v_rest, theta_rh=theta_rh, delta_t=delta_t, v_reset=v_reset)
    return run_nonlinear(x, threshold, consts, nonlinearity=NL.EXPONENTIAL, adapt=False, v0=v0, **options)


_ADAPT_ARGS = """
        a: subthreshold coupling of the adaptation current to the membrane.
        b: increment of the adaptation current per spike.
        tau_w: time constant of the adaptation current in steps (> 0).
        w0: initial adaptation current ``[B, *features]``; zeros when None.
"""


@shared_args(_ARGS + _ADAPT_ARGS)
def izhikevich(
    x,
    tau=2.0,
    v_c=0.8,
    a0=1.0,
    threshold=1.0,
    v_rest=-0.1,
    v_reset=0.0,
    a=0.0,
    b=0.0,
    tau_w=2.0,
    *,
    v0=None,
    w0=None,
    **options,
):
    """Izhikevich's quadratic neuron with an adaptation current (SpikingJelly's
    ``IzhikevichNode``, its defaults): ``h[t] = v[t-1] + (x[t] + a0 (v[t-1] - v_rest)(v[t-1] -
    v_c) - w[t-1]) / tau``, ``w[t] = w[t-1] + (a (h[t] - v_rest) - w[t-1]) / tau_w + b s[t]``.

    Args:
        x: input current ``[T, B, *features]`` (fp32, fp16 or bf16).
        tau: membrane time constant in steps (> 1).
        v_c: critical voltage.
        a0: strength of the quadratic term (> 0).

    Returns:
        spikes in x's dtype, or ``(spikes, mem)`` / ``(spikes, state)``.
    """
    consts = dict(tau=tau, v_rest=v_rest, v_c=v_c, a0=a0, v_reset=v_reset, a=a, b=b, tau_w=tau_w)
    return run_nonlinear(x, threshold, consts, nonlinearity=NL.QUADRATIC, adapt=True, v0=v0, w0=w0, **options)


@shared_args(_ARGS + _ADAPT_ARGS)
def adex(
    x,
    tau=2.0,
    delta_t=1.0,
    theta_rh=0.8,
    threshold=1.0,
    v_rest=0.0,
    v_reset=-0.1,
    a=0.13,
    b=0.1,
    tau_w=30.0,
    *,
    v0=None,
    w0=None,
    **options,
):
    """Adaptive exponential integrate-and-fire (Brette & Gerstner 2005): EIF's drive with the
    adaptation current of :func:`izhikevich`, ``h[t] = v[t-1] + (x[t] + v_rest - v[t-1] +
    delta_t exp((v[t-1] - theta_rh) / delta_t) - w[t-1]) / tau``. The defaults are EIF's, with
    the adaptation of Brette & Gerstner's cortical cell in these units (``tau_w / tau = 15``,
    ``a`` = 0.13 of the leak conductance) and a spike-triggered ``b = 0.1``.

    Args:
        x: input current ``[T, B, *features]`` (fp32, fp16 or bf16).
        tau: membrane time constant in steps (> 1).
        delta_t: sharpness of the exponential (> 0).
        theta_rh: rheobase threshold.

    Returns:
        spikes in x's dtype, or ``(spikes, mem)`` / ``(spikes, state)``.
    """
    consts = dict(tau=tau, v_rest=v_rest, theta_rh=theta_rh, delta_t=delta_t, v_reset=v_reset, a=a, b=b, tau_w=tau_w)
    return run_nonlinear(x, threshold, consts, nonlinearity=NL.EXPONENTIAL, adapt=True, v0=v0, w0=w0, **options)
