"""Second-order neurons (Synaptic, Alpha; RSynaptic in ``recurrent.py``) over whole sequences:
one call of the ``syn`` op each (``tritonsnn/ops/synaptic.py``)."""

from __future__ import annotations

import torch

from .. import ops
from .._doc import shared_args
from ..contracts import SecondOrder, SynOptions, SynParams, SynState
from . import _rest
from ._validate import Common, Layout, check_input, common, count, decay, param, result, state

__all__ = ["synaptic", "alpha"]


def second_order_params(x, alpha, beta, threshold, V=None, single=False, options: Common | None = None):
    """``(layout, SynParams)``: the decays clamped to [0, 1], the threshold checked (and shifted
    by the ``options``' ``v_reset``: ``_rest.threshold``)."""
    shift = None if options is None else _rest.shift_of(options)
    check_input(x, single=single)
    layout = Layout(x, single)
    features = layout.features
    return layout, SynParams(
        alpha=decay(alpha, "alpha", features, x),
        beta=decay(beta, "beta", features, x),
        tau=None,
        threshold=_rest.threshold(threshold, shift, features, x),
        v=None if V is None else param(V, "V", features, x),
    )


def run_synaptic(
    x,
    layout: Layout,
    params: SynParams,
    options: Common,
    *,
    syn0=None,
    v0=None,
    s0=None,
    count0=None,
    return_mem=False,
    return_state=False,
):
    """Synaptic (``params.v`` None) or one-to-one RSynaptic through one ``syn`` op."""
    features = layout.features
    need_mem = bool(return_mem or return_state)
    # With v_rest, the membrane's leak input (1 - beta)(v_rest - c) rides on the current: the
    # current runs as syn + k, which takes (1 - alpha) k more input per step.
    shift = _rest.shift_of(options)  # params.threshold is shifted already (second_order_params)
    k = _rest.leak_input(shift, params.beta)
    init = SynState(
        cur0=_rest.start_current(syn0, k, x, layout),
        aux0=None,
        mem0=_rest.start(v0, shift, x, layout),
        spk0=state(s0, "s0", x, features, layout=layout) if params.v is not None else None,
        count0=count(count0, x, features, options.refractory, layout),
    )
    opts = options.record(
        SynOptions,
        x,
        neuron=SecondOrder.SYNAPTIC,
        store_cur=bool(return_state) or params.alpha.requires_grad,
        need_mem=need_mem,
    )
    out = ops.synaptic.syn_fwd(
        _rest.current_input(layout.flat(x), k, params.alpha), init, params, opts, step=layout.single
    )
    seqs = {"syn": _rest.current(out.cur, k)} if return_state else {}
    if need_mem:
        seqs["mem"] = _rest.membrane(out.mem if opts.delay else out.post, shift)
    spikes = _rest.spikes_like(out.spikes, x)
    return result(layout, spikes, seqs, out.final_count if opts.refractory > 0 else None, return_mem, return_state)


def run_alpha(
    x,
    layout: Layout,
    params: SynParams,
    options: Common,
    *,
    syn_exc0=None,
    syn_inh0=None,
    v0=None,
    count0=None,
    return_mem=False,
    return_state=False,
):
    """Alpha through one ``syn`` op; ``params.tau`` is derived here from the decays."""
    alpha_v, beta_v = params.alpha, params.beta
    if not alpha_v.is_cuda and not torch.compiler.is_compiling():  # a host check: would sync on GPU / break graphs
        if float(beta_v.detach().max()) >= 1:
            raise ValueError("beta must be < 1 for the Alpha neuron (tau = log(alpha)/(log(beta) - log(alpha)) + 1)")
        if float((alpha_v - beta_v).detach().min()) <= 0:
            raise ValueError(
                f"alpha must be greater than beta for the Alpha neuron; got alpha={alpha_v.tolist()}, "
                f"beta={beta_v.tolist()}"
            )
    params = params._replace(tau=torch.log(alpha_v) / (torch.log(beta_v) - torch.log(alpha_v)) + 1)
    features = layout.features
    init = SynState(
        cur0=state(syn_exc0, "syn_exc0", x, features, layout=layout),
        aux0=state(syn_inh0, "syn_inh0", x, features, layout=layout),
        mem0=state(v0, "v0", x, features, layout=layout),
        spk0=None,
        count0=count(count0, x, features, options.refractory, layout),
    )
    # The current sequences are only read back for the decays' gradients (tau depends on both).
    opts = options.record(
        SynOptions, x, neuron=SecondOrder.ALPHA, store_cur=bool(return_state) or params.tau.requires_grad, need_mem=True
    )
    out = ops.synaptic.syn_fwd(layout.flat(x), init, params, opts, step=layout.single)
    seqs = {"syn_exc": out.cur, "syn_inh": out.aux, "mem": out.mem} if return_state else {"mem": out.mem}
    return result(layout, out.spikes, seqs, out.final_count if opts.refractory > 0 else None, return_mem, return_state)


_SECOND_ORDER_ARGS = """
        reset_delay: True (snnTorch default) applies a spike's reset at the next step.
        surrogate: a ``tsnn.surrogate`` choice; atan(alpha=2) by default.
        return_mem: also return the membrane ``[T, B, *features]`` (fp32).
        return_state: return ``(spikes, state)`` instead, ``state`` a dict of the state
            sequences (fp32 ``[T, B, *features]``): ``"syn"`` and ``"mem"``, and with a
            refractory period ``"count"``, the final refractory counter ``[B, *features]`` (int32).
        refractory: refractory period in ms (0 = off); a neuron that spikes at step t is
            refractory for steps t+1 .. t+ceil(refractory/dt): its membrane neither leaks nor
            integrates and it cannot fire, the spike's reset applies once, and the synaptic
            current evolves as usual (so the input keeps the gradient that reaches it through
            the current).
        dt: ms per step.
        count0: initial refractory counter ``[B, *features]`` (steps left), zeros when None.
        backend: ``"auto"`` (Triton on CUDA, PyTorch elsewhere), ``"triton"`` or ``"torch"``.
        fire_at_threshold: a membrane equal to the threshold fires (``>=``, as Inferno, PySNN and
            SpikingJelly); False (default): only above it (``>``, snnTorch's).
        v_rest: the potential the membrane leaks towards, ``mem[t] = v_rest + beta * (mem[t-1] -
            v_rest) + syn[t]``; the membrane starts there when ``v0`` is None.
        v_reset: where ``reset_mechanism="zero"`` sets the membrane; then the threshold must
            exceed it. 0 with the other resets.
"""


@shared_args(_SECOND_ORDER_ARGS)
def synaptic(
    x,
    alpha,
    beta,
    threshold=1.0,
    *,
    syn0=None,
    v0=None,
    reset_mechanism="subtract",
    reset_delay=True,
    surrogate=None,
    return_mem=False,
    return_state=False,
    backend="auto",
    refractory=0.0,
    dt=1.0,
    count0=None,
    fire_at_threshold=False,
    v_rest=0.0,
    v_reset=0.0,
):
    """Second-order LIF with a synaptic current (snnTorch ``Synaptic`` semantics) over a sequence.

    ``syn[t] = alpha * syn[t-1] + x[t]``, ``mem[t] = beta * mem[t-1] + syn[t] - reset``;
    the exact order of operations and reset variants are in ``tritonsnn/kernels/synaptic.py``.

    Args:
        x: input current ``[T, B, *features]`` (fp32, fp16 or bf16; any strides).
        alpha: synaptic current decay, clamped to [0, 1]; number or tensor broadcastable to ``features``.
        beta: membrane decay, clamped to [0, 1]; number or tensor broadcastable to ``features``.
        threshold: firing threshold (> 0); number or tensor broadcastable to ``features``.
        syn0: initial synaptic current ``[B, *features]``; zeros when None. Receives gradients.
        v0: initial membrane ``[B, *features]``; ``v_rest`` (0) when None. Receives gradients.
        reset_mechanism: ``"subtract"`` (default), ``"zero"`` or ``"none"``. As in snnTorch,
            ``"zero"`` zeroes the *new* membrane (input included) and leaves ``syn`` alone.
    Returns:
        spikes in x's dtype; ``(spikes, mem)`` when ``return_mem``; ``(spikes, state)`` when
        ``return_state``. The state for a following chunk is ``state["syn"][-1]``,
        ``state["mem"][-1]`` (and ``state["count"]``).
    """
    options = common(locals())
    layout, params = second_order_params(x, alpha, beta, threshold, options=options)
    return run_synaptic(
        x, layout, params, options, syn0=syn0, v0=v0, count0=count0, return_mem=return_mem, return_state=return_state
    )


def alpha(
    x,
    alpha,
    beta,
    threshold=1.0,
    *,
    syn_exc0=None,
    syn_inh0=None,
    v0=None,
    reset_mechanism="zero",
    surrogate=None,
    return_mem=False,
    return_state=False,
    backend="auto",
    refractory=0.0,
    dt=1.0,
    count0=None,
    fire_at_threshold=False,
):
    """Alpha neuron (snnTorch ``Alpha``): excitatory and inhibitory currents whose sum,
    scaled by ``tau = log(alpha) / (log(beta) - log(alpha)) + 1``, is the membrane.

    Requires ``alpha > beta`` and ``beta < 1`` (after clamping to [0, 1]), as snnTorch does.
    There is no ``reset_delay`` option: the reset always acts at the next step.

    Args:
        x: input current ``[T, B, *features]``.
        alpha: decay of the excitatory current; number or tensor.
        beta: decay of the inhibitory current; number or tensor.
        threshold: firing threshold (> 0).
        syn_exc0: initial excitatory current ``[B, *features]``; zeros when None.
        syn_inh0: initial inhibitory current ``[B, *features]``; zeros when None.
        v0: initial membrane ``[B, *features]``; zeros when None. It sets the first reset flag
            and, if the first step is refractory, the held membrane.
        reset_mechanism: ``"zero"`` (snnTorch's default here: zeroes both currents and the
            membrane), ``"subtract"`` or ``"none"``.
        surrogate: as in :func:`synaptic`.
        return_mem: as in :func:`synaptic`.
        backend: as in :func:`synaptic`.
        return_state: return ``(spikes, state)``, ``state`` the sequences ``"syn_exc"``,
            ``"syn_inh"`` and ``"mem"`` (and, with a refractory period, the final ``"count"``).
        refractory: refractory period in milliseconds (``ceil(refractory/dt)`` steps).
            A refractory step holds the membrane at its previous value instead of reading it
            out of the currents, cannot fire, and applies the spike's reset once; the currents
            keep filtering the input (as Synaptic's current does).
        dt: milliseconds per step.
        count0: initial refractory counter ``[B, *features]`` (steps left), zeros when None.

    Returns:
        spikes, ``(spikes, mem)`` or ``(spikes, state)``.
    """
    layout, params = second_order_params(x, alpha, beta, threshold)
    options = common(locals(), reset_delay=True)
    return run_alpha(
        x,
        layout,
        params,
        options,
        syn_exc0=syn_exc0,
        syn_inh0=syn_inh0,
        v0=v0,
        count0=count0,
        return_mem=return_mem,
        return_state=return_state,
    )
