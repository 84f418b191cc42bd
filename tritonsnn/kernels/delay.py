"""Fused per-channel fractional delays: one gather over time per element, one launch.

The formulas (linear interpolation between neighbouring steps, zero padding at
the start, gradient w.r.t. the delay = interpolation slope) are written out in
``tritonsnn/torchimpl/delay.py``. One program owns ``BLOCK`` elements of the
flattened ``B*N`` axis and walks all ``T`` steps; each element reads the two
input steps its channel's delay points at. Backward is the mirror gather
(``t + k``, ``t + k + 1``) plus the slope term, reduced over time in-kernel.
"""

from __future__ import annotations

import torch
import triton
import triton.language as tl

from .. import _alloc
from ._common import LAUNCH, autotune, flat_time_major, grid, load_param, reduce_partials


@triton.jit
def _load_step(p_base, s, stride_t, T, m_o):
    """``seq[s]`` per element (``s`` an int64 vector of steps); 0 outside ``[0, T)``."""
    m = m_o & (s >= 0) & (s < T)
    return tl.load(p_base + s * stride_t, mask=m, other=0.0).to(tl.float32)


@triton.jit
def _split_delay(p_d, o_n, m_o, PER_CHANNEL: tl.constexpr):
    """The delay per element (a block even for a scalar delay) as whole steps ``k`` (int64)
    and the fraction ``f`` interpolated towards step ``k + 1``."""
    d = load_param(p_d, o_n, m_o, PER_CHANNEL)
    k_f = tl.floor(d)
    return k_f.to(tl.int64), d - k_f


@autotune
@triton.jit(do_not_specialize=["T"])
def delay_fwd_kernel(p_x, p_d, p_y, T, M, N, stride_xt,
                     PER_CHANNEL: tl.constexpr, BLOCK: tl.constexpr):  # fmt: skip
    o = tl.program_id(0).to(tl.int64) * BLOCK + tl.arange(0, BLOCK)
    m_o = o < M
    k, f = _split_delay(p_d, o % N, m_o, PER_CHANNEL)
    p_x += o
    p_y += o
    for t in range(T):
        s = t - k
        x0 = _load_step(p_x, s, stride_xt, T, m_o)
        x1 = _load_step(p_x, s - 1, stride_xt, T, m_o)
        tl.store(p_y, ((1.0 - f) * x0 + f * x1).to(p_y.dtype.element_ty), mask=m_o)
        p_y += M


@autotune
@triton.jit(do_not_specialize=["T"])
def delay_bwd_kernel(p_gy, p_x, p_d, p_dx, p_dd, T, M, N, stride_gt, stride_xt,
                     PER_CHANNEL: tl.constexpr, NEED_DD: tl.constexpr, BLOCK: tl.constexpr):  # fmt: skip
    o = tl.program_id(0).to(tl.int64) * BLOCK + tl.arange(0, BLOCK)
    m_o = o < M
    k, f = _split_delay(p_d, o % N, m_o, PER_CHANNEL)
    acc_d = tl.zeros([BLOCK], dtype=tl.float32)
    p_gy += o
    p_x += o
    p_dx += o
    p_g_now = p_gy  # gy[t], stepped by pointer so the offset stays 64-bit
    for t in range(T):
        s = t + k
        g0 = _load_step(p_gy, s, stride_gt, T, m_o)
        g1 = _load_step(p_gy, s + 1, stride_gt, T, m_o)
        tl.store(p_dx, ((1.0 - f) * g0 + f * g1).to(p_dx.dtype.element_ty), mask=m_o)
        if NEED_DD:
            g = tl.load(p_g_now, mask=m_o, other=0.0).to(tl.float32)
            x0 = _load_step(p_x, t - k, stride_xt, T, m_o)
            x1 = _load_step(p_x, t - k - 1, stride_xt, T, m_o)
            acc_d += g * (x1 - x0)
        p_dx += M
        p_g_now += stride_gt
    if NEED_DD:
        tl.store(p_dd + o, acc_d, mask=m_o)


def delay_fwd(x, delay):
    """Launch the forward kernel; same contract as ``torchimpl.delay.delay_fwd``."""
    T, B, N = x.shape
    M = B * N
    x2 = flat_time_major(x)
    y = _alloc.empty(T, B, N, dtype=x.dtype, device=x.device)
    if M > 0 and T > 0:
        delay_fwd_kernel[grid(M)](
            p_x=x2, p_d=delay, p_y=y, T=T, M=M, N=N, stride_xt=x2.stride(0), PER_CHANNEL=delay.numel() > 1, **LAUNCH
        )
    return y


def delay_bwd(grad_y, x, delay, x_dtype, need_ddelay: bool):
    """Launch the backward kernel; same contract as ``torchimpl.delay.delay_bwd``."""
    T, B, N = x.shape
    M = B * N
    g2 = flat_time_major(grad_y)
    x2 = flat_time_major(x)
    dx = _alloc.empty(T, B, N, dtype=x_dtype, device=x.device)
    part = _alloc.empty(B, N, dtype=torch.float32, device=x.device) if need_ddelay else dx
    if M > 0 and T > 0:
        delay_bwd_kernel[grid(M)](
            p_gy=g2,
            p_x=x2,
            p_d=delay,
            p_dx=dx,
            p_dd=part,
            T=T,
            M=M,
            N=N,
            stride_gt=g2.stride(0),
            stride_xt=x2.stride(0),
            PER_CHANNEL=delay.numel() > 1,
            NEED_DD=need_ddelay,
            **LAUNCH,
        )
    elif need_ddelay:
        part.zero_()
    return dx, (reduce_partials(part, delay) if need_ddelay else None)
