"""Per-channel (heterogeneous) fractional delays in PyTorch: a gather over time.

Shapes: ``x`` is ``[T, B, N]``, ``delay`` fp32 ``[1]`` or ``[N]`` in steps (>= 0).
With ``k = floor(d)`` and ``f = d - k``, the output is the linear interpolation
between the two neighbouring steps, zero before the start::

    y[t] = (1 - f) * x[t - k] + f * x[t - k - 1]          x[s] = 0 for s < 0
    dL/dx[s] = (1 - f) * gy[s + k] + f * gy[s + k + 1]     gy[t] = 0 for t >= T
    dL/dd    = sum_t gy[t] * (x[t - k - 1] - x[t - k])     the interpolation slope

At an integer delay ``f = 0`` and the slope is the one towards the next longer
delay (a right derivative). ``tritonsnn/kernels/delay.py`` follows the same formulas.
"""

from __future__ import annotations

import torch

from .. import _alloc


def _split(delay, N):
    """Whole steps (int64 ``[N]``) and fraction (fp32 ``[N]``) of each channel's delay."""
    d = delay.expand(N)
    k = torch.floor(d)
    return k.to(torch.int64), d - k


def _gather_time(seq, index):
    """``seq[index[t, n], b, n]`` with ``index [T, N]``; zero where the index leaves ``[0, T)``."""
    T, B, N = seq.shape
    valid = (index >= 0) & (index < T)
    idx = index.clamp(0, max(T - 1, 0))[:, None, :].expand(index.shape[0], B, N)
    return torch.gather(seq, 0, idx) * valid[:, None, :].to(seq.dtype)


def delay_fwd(x, delay):
    """Delayed copy of ``x`` in x's dtype (computed in fp32)."""
    T, B, N = x.shape
    k, f = _split(delay, N)
    t = torch.arange(T, device=x.device)[:, None]
    xf = x.to(torch.float32)
    y = (1 - f) * _gather_time(xf, t - k) + f * _gather_time(xf, t - k - 1)
    out = _alloc.empty(T, B, N, dtype=x.dtype, device=x.device)
    return out.copy_(y)


def delay_bwd(grad_y, x, delay, x_dtype, need_ddelay: bool):
    """Returns ``(dx, ddelay)``; ``ddelay`` shaped like ``delay`` or ``None``."""
    T, B, N = x.shape
    k, f = _split(delay, N)
    t = torch.arange(T, device=x.device)[:, None]
    g = grad_y.to(torch.float32)
    dx = (1 - f) * _gather_time(g, t + k) + f * _gather_time(g, t + k + 1)
    ddelay = None
    if need_ddelay:
        xf = x.to(torch.float32)
        slope = _gather_time(xf, t - k - 1) - _gather_time(xf, t - k)
        per_channel = (g * slope).sum((0, 1))
        ddelay = per_channel.sum().reshape(1) if delay.numel() == 1 else per_channel
    return dx.to(x_dtype), ddelay
