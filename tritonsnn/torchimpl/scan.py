"""Linear scans (synaptic currents, spike traces) in PyTorch.

Shapes: ``x`` is ``[T, B, N]``, states ``[B, N]``, ``a``/``b`` fp32 ``[1]`` or ``[N]``.
The recurrence is written out in ``tritonsnn/kernels/scan.py``'s module docstring;
both implementations follow it step for step. Each step is one fused op writing
straight into the output buffer; everything without a time recurrence (parameter
gradients) is one reduction over the whole sequence.
"""

from __future__ import annotations

import torch

from .. import _alloc
from ..contracts import ScanGrads, ScanOptions, ScanOutputs, ScanParams, ScanSaved, ScanState, ScanUpstream
from ._common import reduce_to


def scan_fwd(x, state: ScanState, params: ScanParams, opts: ScanOptions) -> ScanOutputs:
    """Forward time loop. Returns ``(h, y)`` in fp32; ``y`` is empty unless ``second``."""
    (h0, y0), (a, b), second, nearest = state, params, opts.second, opts.nearest
    T, B, N = x.shape
    dev, f32 = x.device, torch.float32
    h = _alloc.empty(T, B, N, dtype=f32, device=dev)
    y = _alloc.empty(T, B, N, dtype=f32, device=dev) if second else h.new_empty(0)
    xf = x if x.dtype == f32 else x.to(f32)
    h_prev = torch.zeros(B, N, dtype=f32, device=dev) if h0 is None else h0.to(f32)
    # Nearest: a spike replaces the state, h[t] = x[t] + a * (x[t] == 0) * h[t-1], the decay
    # masked for the whole sequence at once (a float mask: bool tensors are slow on the CPU).
    decay = torch.eq(xf, 0, out=_alloc.empty(T, B, N, dtype=f32, device=dev)).mul_(a) if nearest else None
    for t in range(T):
        torch.addcmul(xf[t], a if decay is None else decay[t], h_prev, out=h[t])
        h_prev = h[t]
    if second:
        y_prev = torch.zeros(B, N, dtype=f32, device=dev) if y0 is None else y0.to(f32)
        for t in range(T):
            torch.addcmul(h[t], b, y_prev, out=y[t])
            y_prev = y[t]
    return ScanOutputs(h, y)


def _shifted(seq, first):
    """``seq[t-1]`` for every ``t``: ``first`` (or zeros) at ``t = 0``."""
    first = seq.new_zeros(seq.shape[1:]) if first is None else first.to(seq.dtype)
    return torch.cat([first[None], seq[:-1]])


def _reverse_scan(g, coef):
    """In place: ``g[t] += coef[t+1] * g[t+1]`` from the last step back (coef broadcastable per step)."""
    for t in range(g.shape[0] - 2, -1, -1):
        g[t].addcmul_(coef if coef.dim() < g.dim() else coef[t + 1], g[t + 1])


def scan_bwd(
    up: ScanUpstream,
    saved: ScanSaved,
    state: ScanState,
    params: ScanParams,
    opts: ScanOptions,
    need: ScanParams,
    x_dtype,
) -> ScanGrads:
    """Reverse time loop. Returns ``(dx, dh0, dy0, da, db)``; ``dy0``/``db`` only for
    ``second``, parameter grads shaped like ``a``/``b``, ``None`` where not needed."""
    (grad_out, grad_h), (x, h, y), (h0, y0), (a, b) = up, saved, state, params
    second, nearest, need_da, need_db = opts.second, opts.nearest, need.a, need.b
    T, B, N = h.shape
    f32 = torch.float32
    if T == 0:
        z = h.new_zeros(B, N)
        return ScanGrads(
            h.new_empty(0, B, N, dtype=x_dtype),
            z,
            z.clone() if second else None,
            h.new_zeros(a.shape) if need_da else None,
            h.new_zeros(b.shape) if need_db and second else None,
        )
    keep = torch.eq(x, 0, out=_alloc.empty(*x.shape, dtype=f32, device=x.device)) if nearest else None
    coef_a = a * keep if nearest else a
    dy0 = db = None
    if second:
        gy = grad_out.to(f32, copy=True)
        _reverse_scan(gy, b)
        dy0 = b * gy[0]
        if need_db:
            db = reduce_to((gy * _shifted(y, y0)).sum((0, 1)), b)
        gh = gy if grad_h is None else gy.add_(grad_h)  # gy is no longer needed: reuse it
    else:
        gh = grad_out.to(f32, copy=True)
    _reverse_scan(gh, coef_a)
    dh0 = (coef_a if not nearest else coef_a[0]) * gh[0]
    da = None
    if need_da:
        h_prev = _shifted(h, h0)
        da = reduce_to((gh * (h_prev if keep is None else keep * h_prev)).sum((0, 1)), a)
    return ScanGrads(gh.to(x_dtype), dh0, dy0, da, db)
