"""Recurrent neurons (RLeaky, RSynaptic): one-to-one recurrence fused into the neuron's op;
all-to-all recurrence through a square ``nn.Linear`` or a same-size ``nn.Conv2d`` as one op with
a hand-written backward (``tritonsnn/ops/recurrent.py``); any other callable as an autograd loop
of single-step ops."""

from __future__ import annotations

import math

import torch

from .. import ops
from .._doc import shared_args
from .._spikes import mark_spikes
from ..contracts import Dense, LifOptions, LifParams, LifState, SecondOrder, SynOptions, SynState
from . import _rest
from ._validate import Common, Layout, check_input, common, count, decay, result, state
from .first_order import _COMMON_ARGS, _first_order
from .second_order import run_synaptic, second_order_params

__all__ = ["rleaky", "rsynaptic"]


def _square_linear(layer, n):
    return isinstance(layer, torch.nn.Linear) and layer.in_features == layer.out_features == n


def _conv_image(layer, features):
    """``[C, H, W]`` when ``layer`` is an ``nn.Conv2d`` mapping images ``features = (C, H, W)`` to
    images of the same size (snnTorch's recurrent convolution: odd kernel, padding ``k//2``),
    which the all-to-all ops run; else None."""
    if not (isinstance(layer, torch.nn.Conv2d) and len(features) == 3):
        return None
    kh, kw = layer.kernel_size
    same = (
        layer.in_channels == layer.out_channels == features[0]
        and layer.groups == 1
        and layer.stride == (1, 1)
        and layer.dilation == (1, 1)
        and layer.padding_mode == "zeros"
        and kh % 2 == 1
        and kw % 2 == 1
        and layer.padding == (kh // 2, kw // 2)
    )
    return list(features) if same else None


def _dense(layer, x, single=False):
    """The all-to-all ops' record of ``layer``, or None when another kind of layer needs the loop."""
    if not callable(layer):
        raise TypeError(f"recurrent must be a callable such as an nn.Linear, or None; got {type(layer).__name__}")
    check_input(x, single=single)
    features = Layout(x, single).features
    image = _conv_image(layer, features)
    if image or _square_linear(layer, math.prod(features)):
        return Dense(layer.weight, layer.bias, image)
    return None


def _feedback(layer, spk):
    """``layer(spk)``, which must keep the spikes' shape ``[B, *features]``: a layer that does not
    fit them would fail with a bare shape error, or broadcast into a silently wrong drive."""
    fix = (
        "the recurrent layer must map the spikes to their own shape: nn.Linear(N, N) for N features "
        "(RLeaky/RSynaptic: linear_features=N), or nn.Conv2d(C, C, k, padding=k // 2) with an odd k for "
        "images (C, H, W) (conv2d_channels=C)"
    )
    try:
        out = layer(spk)
    except RuntimeError as err:
        raise ValueError(f"{layer} does not fit spikes of shape {list(spk.shape)} ({err}); {fix}") from err
    if not isinstance(out, torch.Tensor) or out.shape != spk.shape:
        got = list(out.shape) if isinstance(out, torch.Tensor) else type(out).__name__
        raise ValueError(f"{layer} maps spikes of shape {list(spk.shape)} to {got}; {fix}")
    return out


def _stack(rows, x, dtype):
    return torch.stack(rows) if rows else x.new_empty(x.shape, dtype=dtype)


@shared_args(_COMMON_ARGS)
def rleaky(
    x,
    beta,
    V=1.0,
    threshold=1.0,
    *,
    recurrent=None,
    v0=None,
    s0=None,
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
    """Recurrent leaky integrate-and-fire, as ``snntorch.RLeaky``.

    ``mem[t] = beta*mem[t-1] + x[t] + rec(s[t-1]) - reset*threshold``, where ``rec`` is
    the one-to-one weight ``V*s`` (fused: one kernel for the whole sequence) or, when
    ``recurrent`` is given, the ``nn.Linear`` (or same-size ``nn.Conv2d``: odd kernel,
    padding ``k//2``, on ``x [T, B, C, H, W]``) of an all-to-all RLeaky: then a per-step
    loop of one matmul (or convolution) and the fused single-step neuron op, with a
    hand-written backward (one op, ``ops.recurrent.rleaky_dense_fwd``). Any other callable runs
    as an autograd per-step loop. The zero reset multiplies the whole new state by
    ``1 - reset``, as snnTorch does.

    Args:
        x: input current ``[T, B, *features]``.
        beta: decay, clamped to [0, 1].
        V: one-to-one recurrent weight, scalar or per-neuron; ignored when ``recurrent`` is set.
        threshold: firing threshold (> 0).
        recurrent: a callable ``[B, *features] -> [B, *features]`` for all-to-all recurrence.
        v0: initial membrane ``[B, *features]``.
        s0: initial spikes ``[B, *features]`` (snnTorch's ``spk``), zeros when None.
        reset_delay: as in :func:`leaky`.

    Returns:
        spikes, or ``(spikes, mem)`` when ``return_mem``.
    """
    options = common(locals())
    return run_rleaky(
        x,
        beta,
        threshold,
        options,
        V=V,
        recurrent=recurrent,
        v0=v0,
        s0=s0,
        count0=count0,
        return_mem=return_mem,
        return_state=return_state,
    )


def run_rleaky(
    x,
    beta,
    threshold,
    options: Common,
    *,
    V=None,
    recurrent=None,
    v0=None,
    s0=None,
    count0=None,
    return_mem=False,
    return_state=False,
    single=False,
):
    """:func:`rleaky` with validated options; ``single`` as in ``first_order._first_order``."""
    returns = dict(return_mem=return_mem, return_state=return_state)
    if recurrent is None:
        return _first_order(
            x, beta, threshold, options, v0=v0, s0=s0, count0=count0, V=V, zero_whole=True, single=single, **returns
        )
    dense = _dense(recurrent, x, single)
    if dense is not None:
        layout = Layout(x, single)
        features = layout.features
        shift = _rest.shift_of(options)  # v_rest, v_reset: as in _first_order
        init = LifState(
            _rest.start(v0, shift, x, layout),
            state(s0, "s0", x, features, layout=layout),
            None,
            count(count0, x, features, options.refractory, layout),
        )
        threshold = _rest.threshold(threshold, shift, features, x)
        params = LifParams(decay(beta, "beta", features, x), threshold)
        leak = _rest.leak_input(shift, params.beta)
        out = ops.recurrent.rleaky_dense_fwd(
            _rest.add_input(layout.flat(x), leak),
            init,
            dense,
            params,
            options.record(LifOptions, x, zero_whole=True, need_mem=True),
            step=single,
        )
        spikes = _rest.spikes_like(out.spikes, x)
        mem = _rest.membrane(out.mem, shift)
        return result(layout, spikes, {"mem": mem}, out.final_count if options.refractory > 0 else None, **returns)
    # Any other layer: an autograd loop of one fused update per step.
    seq = x[None] if single else x
    spk = torch.zeros_like(seq[0]) if s0 is None else s0.to(x.dtype)
    mem, carried = v0, count0
    spikes, mems = [], []
    for x_t in seq.unbind(0):
        spk, st = _first_order(
            x_t + _feedback(recurrent, spk),
            beta,
            threshold,
            options,
            v0=mem,
            count0=carried,
            zero_whole=True,
            return_state=True,
            single=True,
        )
        mem, carried = st["mem"], st.get("count")
        spikes.append(spk)
        mems.append(mem)
    return _loop_result(
        seq,
        _stack(spikes, seq, x.dtype),
        {"mem": _stack(mems, seq, torch.float32)},
        carried,
        options,
        single,
        **returns,
    )


def _loop_result(seq, spikes, seqs, carried, options, single, return_mem, return_state):
    """What the autograd loops return; the final counter is zeros when no step ran."""
    if single:
        spikes, seqs = spikes[0], {k: v[0] for k, v in seqs.items()}
    spikes = mark_spikes(spikes)
    if return_state:
        state_out = dict(seqs)
        if options.refractory > 0:
            state_out["count"] = (
                carried if carried is not None else torch.zeros(seq.shape[1:], dtype=torch.int32, device=seq.device)
            )
        return spikes, state_out
    return (spikes, seqs["mem"]) if return_mem else spikes


def rsynaptic(
    x,
    alpha,
    beta,
    V=1.0,
    threshold=1.0,
    *,
    recurrent=None,
    syn0=None,
    v0=None,
    s0=None,
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
    """Recurrent Synaptic neuron (snnTorch ``RSynaptic``): each step's spikes feed the next step's current.

    ``syn[t] = alpha * syn[t-1] + x[t] + rec(spk[t-1])`` with ``rec(s) = V * s`` (one-to-one,
    fully fused: one kernel for the whole sequence, ``V`` learnable, its gradient reduced in
    the kernel) or ``rec = recurrent`` (all-to-all, applied to the spikes ``[B, *features]``).
    A square ``nn.Linear`` or a same-size ``nn.Conv2d`` (odd kernel, padding ``k//2``, on
    ``x [T, B, C, H, W]``) runs as one op: per step one GEMM or convolution and the fused
    single-step update, with a hand-written backward (``ops.recurrent.rsyn_dense_fwd``). Any
    other callable runs as a Python loop over steps around the fused single-step update,
    under ordinary autograd.

    ``x``, ``alpha``, ``beta``, ``threshold``, ``syn0``, ``v0``, ``reset_mechanism``,
    ``reset_delay``, ``surrogate``, ``return_mem``, ``return_state``, ``backend``,
    ``refractory``, ``dt`` and ``count0`` are as in :func:`synaptic`.

    Args:
        V: one-to-one recurrent weight, number or tensor broadcastable to ``features``
            (ignored when ``recurrent`` is given).
        recurrent: callable applied to the previous spikes for all-to-all recurrence, or None.
        s0: spikes before the first step ``[B, *features]``; zeros when None.

    Returns:
        As :func:`synaptic`: spikes, ``(spikes, mem)`` or ``(spikes, state)``.
    """
    options = common(locals())
    return run_rsynaptic(
        x,
        alpha,
        beta,
        threshold,
        options,
        V=V,
        recurrent=recurrent,
        syn0=syn0,
        v0=v0,
        s0=s0,
        count0=count0,
        return_mem=return_mem,
        return_state=return_state,
    )


def run_rsynaptic(
    x,
    alpha,
    beta,
    threshold,
    options: Common,
    *,
    V=1.0,
    recurrent=None,
    syn0=None,
    v0=None,
    s0=None,
    count0=None,
    return_mem=False,
    return_state=False,
    single=False,
):
    """:func:`rsynaptic` with validated options; ``single`` as in ``first_order._first_order``."""
    layout, params = second_order_params(
        x, alpha, beta, threshold, V=V if recurrent is None else None, single=single, options=options
    )
    returns = dict(return_mem=return_mem, return_state=return_state)
    if recurrent is None:
        return run_synaptic(x, layout, params, options, syn0=syn0, v0=v0, s0=s0, count0=count0, **returns)
    dense = _dense(recurrent, x, single)
    if dense is not None:
        features = layout.features
        shift = _rest.shift_of(options)  # v_rest, v_reset: as in run_synaptic
        k = _rest.leak_input(shift, params.beta)
        init = SynState(
            _rest.start_current(syn0, k, x, layout),
            None,
            _rest.start(v0, shift, x, layout),
            state(s0, "s0", x, features, layout=layout),
            count(count0, x, features, options.refractory, layout),
        )
        opts = options.record(SynOptions, x, neuron=SecondOrder.SYNAPTIC, store_cur=True, need_mem=True)
        out = ops.recurrent.rsyn_dense_fwd(
            _rest.current_input(layout.flat(x), k, params.alpha), init, dense, params, opts, step=single
        )
        mem = _rest.membrane(out.mem, shift)
        return result(
            layout,
            _rest.spikes_like(out.spikes, x),
            {"syn": _rest.current(out.cur, k), "mem": mem} if return_state else {"mem": mem},
            out.final_count if options.refractory > 0 else None,
            **returns,
        )
    # Any other layer: an autograd loop of one fused update per step.
    seq = x[None] if single else x
    spk = torch.zeros(seq.shape[1:], dtype=x.dtype, device=x.device) if s0 is None else s0
    syn, mem, carried = syn0, v0, count0
    spikes, syns, mems = [], [], []
    for x_t in seq.unbind(0):
        drive = x_t + _feedback(recurrent, spk)
        spk, st = run_synaptic(
            drive, Layout(drive, True), params, options, syn0=syn, v0=mem, count0=carried, return_state=True
        )
        syn, mem, carried = st["syn"], st["mem"], st.get("count")
        spikes.append(spk)
        syns.append(syn)
        mems.append(mem)
    seqs = {"syn": _stack(syns, seq, torch.float32), "mem": _stack(mems, seq, torch.float32)}
    return _loop_result(seq, _stack(spikes, seq, x.dtype), seqs, carried, options, single, **returns)
