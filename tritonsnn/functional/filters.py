"""Synapse filters, spike traces and delays over whole sequences: fused linear scans and gathers
(``tritonsnn/ops/scan.py``)."""

from __future__ import annotations

import torch

from .. import _backend, ops
from ..contracts import ScanOptions, ScanParams, ScanState
from ._validate import check_input, flat, param, state

__all__ = ["exp_synapse", "dual_exp_synapse", "trace", "delay"]

_TRACE_MODES = ("cumulative", "nearest")


def _decay_factor(value, name, features, x, clamp):
    """A decay factor (alpha, trace decay): clamped to [0, 1] when learnable, else checked."""
    a = param(value, name, features, x).contiguous()  # kernels index it as a dense vector
    if clamp:
        return a.clamp(0.0, 1.0)
    if not a.is_cuda and not bool(((a >= 0) & (a <= 1)).all()):
        raise ValueError(f"{name} must lie in [0, 1] (a decay factor exp(-dt/tau)); got {value}")
    return a


def exp_synapse(x, alpha, *, i0=None, return_state=False, backend="auto"):
    """Single-exponential current synapse over a whole sequence.

    ``i[t] = alpha * i[t-1] + x[t]`` (``i[-1] = i0``, zeros by default), fused over time.

    Args:
        x: input (spikes or weighted input) ``[T, B, *features]``, fp32/fp16/bf16, any strides.
        alpha: decay ``exp(-dt/tau)``, clamped to [0, 1]; number or tensor broadcastable to
            ``features`` (per channel). A tensor that requires grad receives its gradient.
        i0: initial current ``[B, *features]``; receives gradients.
        return_state: also return the final current ``[B, *features]`` for the next chunk.
        backend: ``"auto"``, ``"triton"`` or ``"torch"``.

    Returns:
        The current ``[T, B, *features]`` in fp32, or ``(current, final_current)``.
    """
    check_input(x)
    features = tuple(x.shape[2:])
    a = _decay_factor(alpha, "alpha", features, x, clamp=True)
    h0 = state(i0, "i0", x, features)
    use_triton = _backend.resolve(backend, x.device) == "triton"
    h, _ = ops.scan.scan_fwd(flat(x), ScanState(h0, None), ScanParams(a, None), ScanOptions(False, False, use_triton))
    current = h.view(x.shape)
    if return_state:
        return current, (current[-1] if x.shape[0] > 0 else _zero_state(i0, x))
    return current


def _zero_state(v0, x):
    return torch.zeros(x.shape[1:], device=x.device) if v0 is None else v0.float().expand(x.shape[1:])


def dual_exp_synapse(x, alpha1, alpha2, *, state0=None, return_state=False, backend="auto"):
    """Double-exponential synapse: a cascade of two exponential filters, fused over time.

    ``h[t] = alpha1 * h[t-1] + x[t]`` and ``i[t] = alpha2 * i[t-1] + h[t]``; the output is
    ``i``. From zero state the response to a unit impulse at step 0 is
    ``sum_{j<=k} alpha1**j * alpha2**(k-j) = (alpha1**(k+1) - alpha2**(k+1)) / (alpha1 - alpha2)``:
    the difference of two exponentials scaled by ``1 / (alpha1 - alpha2)`` (rise and
    decay set by the two time constants, the order does not matter); with
    ``alpha1 == alpha2`` it is the alpha function ``(k + 1) * alpha**k``. Multiply
    by ``alpha1 - alpha2`` (or normalise the peak) for another convention.

    Args:
        x: input ``[T, B, *features]``.
        alpha1: decay of the first (input-side) stage, clamped to [0, 1]; scalar or per channel.
        alpha2: decay of the second (output) stage, clamped to [0, 1]; scalar or per channel.
        state0: ``(h0, i0)`` initial states ``[B, *features]`` (either may be None); receive gradients.
        return_state: also return the final ``(h, i)`` for the next chunk.
        backend: ``"auto"``, ``"triton"`` or ``"torch"``.

    Returns:
        The current ``i`` ``[T, B, *features]`` in fp32, or ``(current, (h_final, i_final))``.
    """
    check_input(x)
    features = tuple(x.shape[2:])
    if state0 is None:
        state0 = (None, None)
    if not (isinstance(state0, (tuple, list)) and len(state0) == 2):
        raise TypeError("state0 must be a pair (h0, i0) of [B, *features] tensors (or None)")
    a1 = _decay_factor(alpha1, "alpha1", features, x, clamp=True)
    a2 = _decay_factor(alpha2, "alpha2", features, x, clamp=True)
    h0 = state(state0[0], "state0[0]", x, features)
    y0 = state(state0[1], "state0[1]", x, features)
    use_triton = _backend.resolve(backend, x.device) == "triton"
    h, y = ops.scan.scan_fwd(flat(x), ScanState(h0, y0), ScanParams(a1, a2), ScanOptions(True, False, use_triton))
    current = y.view(x.shape)
    if return_state:
        if x.shape[0] == 0:
            return current, (_zero_state(state0[0], x), _zero_state(state0[1], x))
        return current, (h.view(x.shape)[-1], current[-1])
    return current


def trace(spikes, decay, *, mode="cumulative", amplitude=1.0, trace0=None, return_state=False, backend="auto"):
    """Spike trace over a whole sequence (the fused scan of :func:`exp_synapse`).

    * ``mode="cumulative"``: ``tr[t] = decay * tr[t-1] + amplitude * s[t]`` (all pairs).
    * ``mode="nearest"``: ``tr[t] = amplitude * s[t]`` where ``s[t] != 0``, else
      ``decay * tr[t-1]`` (nearest-spike interaction).

    Args:
        spikes: ``[T, B, *features]``.
        decay: ``exp(-dt/tau)`` in [0, 1]; scalar or per channel.
        mode: ``"cumulative"`` or ``"nearest"``.
        amplitude: value added (cumulative) or set (nearest) per spike.
        trace0: initial trace ``[B, *features]`` (carried state of a previous chunk).
        return_state: also return the final trace.
        backend: ``"auto"``, ``"triton"`` or ``"torch"``.

    Returns:
        The trace ``[T, B, *features]`` in fp32, or ``(trace, final_trace)``.
    """
    check_input(spikes, "spikes")
    if mode not in _TRACE_MODES:
        raise ValueError(f"mode must be one of {_TRACE_MODES}; got {mode!r}")
    features = tuple(spikes.shape[2:])
    a = _decay_factor(decay, "decay", features, spikes, clamp=False)
    h0 = state(trace0, "trace0", spikes, features)
    x = spikes if amplitude == 1.0 else spikes * amplitude
    use_triton = _backend.resolve(backend, spikes.device) == "triton"
    h, _ = ops.scan.scan_fwd(
        flat(x), ScanState(h0, None), ScanParams(a, None), ScanOptions(False, mode == "nearest", use_triton)
    )
    tr = h.view(spikes.shape)
    if return_state:
        return tr, (tr[-1] if spikes.shape[0] > 0 else _zero_state(trace0, spikes))
    return tr


def delay(x, delay, *, dt=None, backend="auto"):
    """Delay every channel of ``x`` by its own (possibly fractional, trainable) delay.

    ``y[t] = (1 - f) * x[t - k] + f * x[t - k - 1]`` with ``k = floor(d)``, ``f = d - k``
    and ``x[s] = 0`` for ``s < 0`` (zero padding at the start). The gradient w.r.t. ``d``
    is the interpolation slope ``x[t - k - 1] - x[t - k]``, so delays learn by gradient
    descent. Fused over time: one gather per element, no Python loop over ``T``.

    Args:
        x: ``[T, B, *features]``.
        delay: delays, number or tensor broadcastable to ``features`` (per channel), in steps,
            or in milliseconds when ``dt`` is given. Must be >= 0 and shorter than the
            sequence (``< T`` steps). A tensor that requires grad receives its gradient.
        dt: step length in milliseconds; None means ``delay`` is in steps.
        backend: ``"auto"``, ``"triton"`` or ``"torch"``.

    Returns:
        The delayed sequence, same shape and dtype as ``x``.
    """
    check_input(x)
    features = tuple(x.shape[2:])
    if dt is not None and not (isinstance(dt, (int, float)) and dt > 0):
        raise ValueError(f"dt must be a positive step length in milliseconds (or None for steps); got {dt!r}")
    steps = param(delay, "delay", features, x).contiguous()
    if dt is not None:
        steps = steps / float(dt)
    if not steps.is_cuda and not torch.compiler.is_compiling():  # a host check: would sync on GPU / break graphs
        lo, hi = float(steps.detach().min()), float(steps.detach().max())
        unit = "ms" if dt is not None else "steps"
        scale = float(dt) if dt is not None else 1.0
        if lo < 0:
            raise ValueError(
                f"delay must be >= 0; got a minimum of {lo * scale:g} {unit}. Clamp learned "
                "delays with delay.data.clamp_(min=0) after each optimiser step"
            )
        if hi >= x.shape[0]:
            raise ValueError(
                f"delay must be shorter than the sequence: the longest is {hi * scale:g} {unit} "
                f"= {hi:g} steps but T = {x.shape[0]}; use a longer sequence or shorter "
                "delays (a stateful tsnn.Delay keeps the history across chunks)"
            )
    use_triton = _backend.resolve(backend, x.device) == "triton"
    return ops.scan.delay_fwd(flat(x), steps, use_triton).view(x.shape)


def delay_shares(steps, lag, tau=None):
    """The share of whole-step lag ``lag`` in fractional delays ``steps`` (in steps): how a delay
    ``d = k + f`` reads the sequence. Linear (``tau`` None): ``(1 - f)`` of lag ``k`` and ``f`` of lag
    ``k + 1``, the triangle ``max(0, 1 - |d - lag|)``. Exponential decay (``tau``, the synapse's time
    constant in steps; Inferno's ``interp_expdecay``): all of lag ``ceil(d)``, decayed over the
    ``ceil(d) - d`` steps to the delayed time, ``exp(-(ceil(d) - d) / tau)``: exact for a current that
    only decays between steps. Differentiable in ``steps`` (piecewise, for learned delays)."""
    if tau is None:
        return torch.relu(1.0 - (steps - lag).abs())
    return torch.where(torch.ceil(steps) == lag, torch.exp((steps - lag) / tau), 0.0)
