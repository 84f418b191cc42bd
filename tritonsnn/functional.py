"""Functional neuron dynamics over whole sequences ``[T, B, *features]``.

Each function validates its input, shapes parameters, picks the backend and
calls one custom op; no dynamics are computed here.
"""
from __future__ import annotations

import math

import torch

from . import _backend, ops
from . import surrogate as sg
from .ops_common import RESET_MODES, RESET_NONE

__all__ = ["leaky", "if_"]


def _check_input(x, name="x"):
    if not isinstance(x, torch.Tensor):
        raise TypeError(f"{name} must be a torch.Tensor of shape [T, B, *features]; got {type(x).__name__}")
    if not x.is_floating_point():
        raise TypeError(f"{name} must be a floating tensor (float32/float16/bfloat16); got {x.dtype}: "
                        f"convert it with {name}.float()")
    if x.dim() < 2:
        raise ValueError(f"{name} must have shape [T, B, *features] (time first); got shape {tuple(x.shape)}. "
                         "For a single step use step_mode='single' or add a time axis with x[None]")


def _param(value, name, features, x, positive=False):
    """``value`` (number or tensor broadcastable to ``features``) as fp32 ``[1]`` or ``[N]`` on x's device."""
    if isinstance(value, torch.Tensor):
        if value.device != x.device:
            if value.numel() != 1:
                raise ValueError(f"{name} is on {value.device} but x is on {x.device}: move it with "
                                 f"{name}.to(x.device)")
            value = value.to(x.device)
        t = value.to(torch.float32)
    elif isinstance(value, (int, float)):
        t = torch.tensor(float(value), device=x.device)
    else:
        raise TypeError(f"{name} must be a number or a tensor; got {type(value).__name__}")
    # A value check needs the data on the host: skipped on GPU (it would sync) and while
    # torch.compile traces; Modules check at construction.
    if positive and not t.is_cuda and not torch.compiler.is_compiling() and not bool((t > 0).all()):
        raise ValueError(f"{name} must be > 0; got {value}")
    if t.numel() == 1:
        return t.reshape(1)
    try:
        t = torch.broadcast_to(t, features)
    except RuntimeError:
        raise ValueError(f"{name} of shape {tuple(t.shape)} must be a scalar or broadcastable to the "
                         f"feature shape {tuple(features)} (input shape [T, B, *features])") from None
    return t.reshape(-1)


def _state(v, name, x, features):
    """Initial state ``[B, *features]`` (broadcastable) as fp32 ``[B, N]``, or None."""
    if v is None:
        return None
    if not isinstance(v, torch.Tensor):
        raise TypeError(f"{name} must be a tensor of shape [B, *features] or None; got {type(v).__name__}")
    if v.device != x.device:
        raise ValueError(f"{name} is on {v.device} but x is on {x.device}: move it with {name}.to(x.device)")
    shape = tuple(x.shape[1:])
    try:
        v = torch.broadcast_to(v, shape)
    except RuntimeError:
        raise ValueError(f"{name} of shape {tuple(v.shape)} must match (or broadcast to) "
                         f"[B, *features] = {shape}") from None
    return v.to(torch.float32).reshape(x.shape[1], math.prod(features))


def _reset_mode(reset_mechanism):
    try:
        return RESET_MODES[reset_mechanism]
    except (KeyError, TypeError):
        raise ValueError(f"reset_mechanism must be one of {sorted(RESET_MODES)}; got {reset_mechanism!r}") from None


def leaky(x, beta, threshold=1.0, *, v0=None, reset_mechanism="subtract", reset_delay=True,
          surrogate=None, return_mem=False, backend="auto"):
    """Leaky integrate-and-fire over a whole sequence (snnTorch ``Leaky`` semantics).

    Args:
        x: input current ``[T, B, *features]`` (fp32, fp16 or bf16; any strides).
        beta: membrane decay, clamped to [0, 1]; number or tensor broadcastable to ``features``.
        threshold: firing threshold (> 0); number or tensor broadcastable to ``features``.
        v0: initial membrane ``[B, *features]``; zeros when None. Receives gradients.
        reset_mechanism: ``"subtract"`` (default), ``"zero"`` or ``"none"``.
        reset_delay: True (snnTorch default) applies the reset of a spike at the next step;
            False applies it in the same step, so the returned membrane is post-reset.
        surrogate: a ``tsnn.surrogate`` choice; atan(alpha=2) by default.
        return_mem: also return the membrane ``[T, B, *features]`` (fp32).
        backend: ``"auto"`` (Triton on CUDA, PyTorch elsewhere), ``"triton"`` or ``"torch"``.

    Returns:
        spikes in x's dtype, or ``(spikes, mem)`` when ``return_mem``. The final state
        for a following chunk is ``mem[-1]``.
    """
    _check_input(x)
    features = tuple(x.shape[2:])
    mode = _reset_mode(reset_mechanism)
    surrogate = sg.from_any(surrogate)
    beta_v = _param(beta, "beta", features, x).clamp(0.0, 1.0)
    thr_v = _param(threshold, "threshold", features, x, positive=True)
    v0_2 = _state(v0, "v0", x, features)
    use_triton = _backend.resolve(backend, x.device) == "triton"
    delay = bool(reset_delay) or mode == RESET_NONE
    T, B = x.shape[:2]
    spikes, pre, _, post = ops.lif.lif_fwd(
        x.reshape(T, B, math.prod(features)), v0_2, beta_v, thr_v, mode, delay, bool(return_mem),
        surrogate.kind, surrogate.param, use_triton)
    spikes = spikes.view(x.shape)
    if return_mem:
        return spikes, (pre if delay else post).view(x.shape)
    return spikes


def if_(x, threshold=1.0, **kwargs):
    """Integrate-and-fire (no leak): :func:`leaky` with ``beta = 1``. Same keyword options."""
    return leaky(x, 1.0, threshold, **kwargs)
