"""The one validation and normalisation layer of the functional API: inputs, parameters and
states are checked here and shaped into what the ops take (fp32 ``[1]``/``[N]`` parameters,
``[B, N]`` states), with errors that name the argument and the fix."""
from __future__ import annotations

import math

import torch

from .. import _backend
from .. import surrogate as sg
from ..contracts import RESET_MODES, Reset, surrogate_fields


def check_input(x, name="x"):
    """``x`` must be a floating tensor ``[T, B, *features]``; returns ``features``."""
    if not isinstance(x, torch.Tensor):
        raise TypeError(f"{name} must be a torch.Tensor of shape [T, B, *features]; got {type(x).__name__}")
    if not x.is_floating_point():
        raise TypeError(f"{name} must be a floating tensor (float32/float16/bfloat16); got {x.dtype}: "
                        f"convert it with {name}.float()")
    if x.dim() < 2:
        raise ValueError(f"{name} must have shape [T, B, *features] (time first); got shape {tuple(x.shape)}. "
                         "For a single step use step_mode='single' or add a time axis with x[None]")
    return tuple(x.shape[2:])


def flat(x):
    """``x [T, B, *features]`` as ``[T, B, N]``."""
    return x.reshape(x.shape[0], x.shape[1], math.prod(x.shape[2:]))


def param(value, name, features, x, positive=False):
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


def decay(value, name, features, x):
    """A decay factor: a parameter clamped to [0, 1]."""
    return param(value, name, features, x).clamp(0.0, 1.0)


def state(v, name, x, features, dtype=torch.float32):
    """Initial state ``[B, *features]`` (broadcastable) as ``dtype`` ``[B, N]``, or None."""
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
    return v.to(dtype).reshape(x.shape[1], math.prod(features))


def count(count0, x, features, steps):
    """The initial refractory counter as int32 ``[B, N]`` when a refractory period is on, else None."""
    return state(count0, "count0", x, features, torch.int32) if steps > 0 else None


def reset_mode(reset_mechanism):
    try:
        return RESET_MODES[reset_mechanism]
    except (KeyError, TypeError):
        raise ValueError(f"reset_mechanism must be one of {sorted(RESET_MODES)}; got {reset_mechanism!r}") from None


def refractory_steps(refractory, dt=1.0):
    """Refractory period in whole steps: ``ceil(refractory / dt)`` (0 = off).

    Raises:
        ValueError: ``refractory`` < 0 or ``dt`` <= 0.
    """
    if not isinstance(refractory, (int, float)) or isinstance(refractory, bool):
        raise TypeError(f"refractory must be a number of milliseconds; got {type(refractory).__name__}")
    if not isinstance(dt, (int, float)) or isinstance(dt, bool):
        raise TypeError(f"dt must be a number of milliseconds; got {type(dt).__name__}")
    if refractory < 0:
        raise ValueError(f"refractory must be >= 0 (milliseconds; 0 turns it off); got {refractory}")
    if dt <= 0:
        raise ValueError(f"dt must be > 0 (milliseconds per step); got {dt}")
    # Guard against 2.0000000001 steps from float division rounding up to 3.
    return int(math.ceil(refractory / dt - 1e-9))


def common_options(x, *, reset_mechanism, reset_delay, surrogate, refractory, dt, backend) -> dict:
    """The option fields every neuron op takes, validated: reset mode, delay (a no-reset neuron
    has nothing to delay), refractory steps, surrogate fields and the backend choice."""
    mode = reset_mode(reset_mechanism)
    return dict(reset=mode, delay=bool(reset_delay) or mode == Reset.NONE,
                refractory=refractory_steps(refractory, dt), **surrogate_fields(sg.from_any(surrogate)),
                use_triton=_backend.resolve(backend, x.device) == "triton")


def result(x, spikes, seqs: dict, count, return_mem, return_state):
    """What a neuron function returns: spikes, ``(spikes, mem)`` or ``(spikes, state)``, every
    sequence viewed as ``x``'s shape, the final refractory counter (if any) as ``state["count"]``."""
    spikes = spikes.view(x.shape)
    if return_state:
        out = {k: v.view(x.shape) for k, v in seqs.items()}
        if count is not None:
            out["count"] = count.view(x.shape[1:])
        return spikes, out
    return (spikes, seqs["mem"].view(x.shape)) if return_mem else spikes


def is_set(value):
    """snnTorch's truthiness test for Lapicque's beta/R/C (``False``/``None``/0 mean "not given")."""
    if value is None or value is False:
        return False
    if isinstance(value, torch.Tensor):   # given; no value test (it would sync or break a trace)
        return value.numel() > 0
    return bool(value)
