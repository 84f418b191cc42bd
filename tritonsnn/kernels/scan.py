"""Fused linear scans (synaptic currents, spike traces): the whole time loop in one launch.

Per step ``t`` (``h[-1] = h0``, ``y[-1] = y0``; state in fp32 registers)::

    keep[t] = 1                       (default)
            = (x[t] == 0)             NEAREST: a nonzero input replaces the state
    h[t]    = a * keep[t] * h[t-1] + x[t]      first stage (the only one unless SECOND)
    y[t]    = b * y[t-1] + h[t]                SECOND: cascade of two exponentials

The output is ``h`` (first order) or ``y`` (second order); both are saved in fp32
because backward needs the states they hold. Backward walks time in reverse::

    gy[t] = grad_y[t] + b * gy[t+1]
    gh[t] = grad_h[t] + gy[t] + a * keep[t+1] * gh[t+1]      dx[t] = gh[t]
    da   += gh[t] * keep[t] * h[t-1]                        db   += gy[t] * y[t-1]

One program owns ``BLOCK`` elements of the flattened ``B*N`` axis; ``a``/``b`` are
scalars or per-channel vectors (index ``% N``). Parameter gradients are written as
per-element partials summed over time in-kernel and over the batch by one torch sum.
"""

from __future__ import annotations

import torch
import triton
import triton.language as tl

from .. import _alloc
from ..contracts import ScanGrads, ScanOptions, ScanOutputs, ScanParams, ScanSaved, ScanState, ScanUpstream
from ._common import (
    LAUNCH,
    autotune,
    finish_grads,
    flat_time_major,
    grad_partials,
    grid,
    load_param,
    load_state,
    need_flags,
    or_buffer,
    pointers,
)


@autotune
@triton.jit(do_not_specialize=["T"])
def scan_fwd_kernel(
    p_x, p_h0, p_y0, p_a, p_b, p_h, p_y,
    T, M, N, stride_xt,
    SECOND: tl.constexpr, NEAREST: tl.constexpr, HAS_H0: tl.constexpr, HAS_Y0: tl.constexpr,
    A_PER_CHANNEL: tl.constexpr, B_PER_CHANNEL: tl.constexpr, BLOCK: tl.constexpr,
):  # fmt: skip
    o = tl.program_id(0).to(tl.int64) * BLOCK + tl.arange(0, BLOCK)
    m_o = o < M
    a = load_param(p_a, o % N, m_o, A_PER_CHANNEL)
    h = load_state(p_h0, o, m_o, HAS_H0, BLOCK)
    if SECOND:
        b = load_param(p_b, o % N, m_o, B_PER_CHANNEL)
        y = load_state(p_y0, o, m_o, HAS_Y0, BLOCK)
    p_x += o
    p_h += o
    p_y += o
    for _ in range(T):
        x = tl.load(p_x, mask=m_o, other=0.0).to(tl.float32)
        if NEAREST:
            h = tl.where(x != 0.0, x, a * h)
        else:
            h = a * h + x
        tl.store(p_h, h, mask=m_o)
        if SECOND:
            y = b * y + h
            tl.store(p_y, y, mask=m_o)
        p_x += stride_xt
        p_h += M
        p_y += M


@autotune
@triton.jit(do_not_specialize=["T"])
def scan_bwd_kernel(
    p_gy, p_gh, p_x, p_h, p_y, p_h0, p_y0, p_a, p_b,
    p_dx, p_dh0, p_dy0, p_da, p_db,
    T, M, N, stride_gyt, stride_ght, stride_xt,
    SECOND: tl.constexpr, NEAREST: tl.constexpr, HAS_H0: tl.constexpr, HAS_Y0: tl.constexpr,
    HAS_GRAD_H: tl.constexpr, A_PER_CHANNEL: tl.constexpr, B_PER_CHANNEL: tl.constexpr,
    NEED_DA: tl.constexpr, NEED_DB: tl.constexpr, BLOCK: tl.constexpr,
):  # fmt: skip
    o = tl.program_id(0).to(tl.int64) * BLOCK + tl.arange(0, BLOCK)
    m_o = o < M
    a = load_param(p_a, o % N, m_o, A_PER_CHANNEL)
    h0 = load_state(p_h0, o, m_o, HAS_H0, BLOCK)
    if SECOND:
        b = load_param(p_b, o % N, m_o, B_PER_CHANNEL)
        y0 = load_state(p_y0, o, m_o, HAS_Y0, BLOCK)
    carry_h = tl.zeros([BLOCK], dtype=tl.float32)  # a * keep[t+1] * gh[t+1]
    carry_y = tl.zeros([BLOCK], dtype=tl.float32)  # b * gy[t+1]
    acc_a = tl.zeros([BLOCK], dtype=tl.float32)
    acc_b = tl.zeros([BLOCK], dtype=tl.float32)
    last = (T - 1).to(tl.int64)
    p_gy += o + last * stride_gyt
    p_gh += o + last * stride_ght
    p_x += o + last * stride_xt
    p_h += o + last * M
    p_y += o + last * M
    p_dx += o + last * M
    for i in range(T):
        t = T - 1 - i
        m_prev = m_o & ((tl.zeros([BLOCK], dtype=tl.int32) + t) > 0)
        h_prev = tl.where(m_prev, tl.load(p_h - M, mask=m_prev, other=0.0), h0)
        g_out = tl.load(p_gy, mask=m_o, other=0.0).to(tl.float32)
        if SECOND:
            gy = g_out + carry_y
            gh = gy
            if HAS_GRAD_H:
                gh += tl.load(p_gh, mask=m_o, other=0.0).to(tl.float32)
            gh += carry_h
            if NEED_DB:
                y_prev = tl.where(m_prev, tl.load(p_y - M, mask=m_prev, other=0.0), y0)
                acc_b += gy * y_prev
            carry_y = b * gy
        else:
            gh = g_out + carry_h
        if NEAREST:
            keep = (tl.load(p_x, mask=m_o, other=0.0) == 0.0).to(tl.float32)
        else:
            keep = tl.full([BLOCK], 1.0, tl.float32)
        tl.store(p_dx, gh.to(p_dx.dtype.element_ty), mask=m_o)
        if NEED_DA:
            acc_a += gh * keep * h_prev
        carry_h = a * keep * gh
        p_gy -= stride_gyt
        p_gh -= stride_ght
        p_x -= stride_xt
        p_h -= M
        p_y -= M
        p_dx -= M
    tl.store(p_dh0 + o, carry_h, mask=m_o)
    if SECOND:
        tl.store(p_dy0 + o, carry_y, mask=m_o)
    if NEED_DA:
        tl.store(p_da + o, acc_a, mask=m_o)
    if NEED_DB:
        tl.store(p_db + o, acc_b, mask=m_o)


def _flags(state: ScanState, params: ScanParams, opts: ScanOptions) -> dict:
    return dict(
        SECOND=opts.second,
        NEAREST=opts.nearest,
        HAS_H0=state.h0 is not None,
        HAS_Y0=state.y0 is not None,
        A_PER_CHANNEL=params.a.numel() > 1,
        B_PER_CHANNEL=params.b is not None and params.b.numel() > 1,
    )


def scan_fwd(x, state: ScanState, params: ScanParams, opts: ScanOptions) -> ScanOutputs:
    """Launch the forward kernel; same contract as ``torchimpl.scan.scan_fwd``."""
    T, B, N = x.shape
    M = B * N
    dev, f32 = x.device, torch.float32
    x2 = flat_time_major(x)
    h = _alloc.empty(T, B, N, dtype=f32, device=dev)
    y = _alloc.empty(T, B, N, dtype=f32, device=dev) if opts.second else h.new_empty(0)
    if M > 0 and T > 0:
        scan_fwd_kernel[grid(M)](
            p_x=x2,
            p_h0=or_buffer(state.h0, h),
            p_y0=or_buffer(state.y0, h),
            p_a=params.a,
            p_b=or_buffer(params.b, params.a),
            p_h=h,
            p_y=or_buffer(y, h),
            T=T,
            M=M,
            N=N,
            stride_xt=x2.stride(0),
            **_flags(state, params, opts),
            **LAUNCH,
        )
    return ScanOutputs(h, y)


def scan_bwd(
    up: ScanUpstream,
    saved: ScanSaved,
    state: ScanState,
    params: ScanParams,
    opts: ScanOptions,
    need: ScanParams,
    x_dtype,
) -> ScanGrads:
    """Launch the backward kernel; same contract as ``torchimpl.scan.scan_bwd``."""
    T, B, N = saved.h.shape
    M = B * N
    gy = flat_time_major(up.g_out)
    gh = flat_time_major(up.g_h) if up.g_h is not None else gy
    x2 = flat_time_major(saved.x) if opts.nearest else saved.h.reshape(T, M)
    grads = grad_partials(ScanGrads, saved.h, x_dtype, need, dh0=True, dy0=opts.second)
    if M > 0 and T > 0:
        scan_bwd_kernel[grid(M)](
            p_gy=gy,
            p_gh=gh,
            p_x=x2,
            p_h=saved.h,
            p_y=or_buffer(saved.y, saved.h),
            p_h0=or_buffer(state.h0, saved.h),
            p_y0=or_buffer(state.y0, saved.h),
            p_a=params.a,
            p_b=or_buffer(params.b, params.a),
            **pointers(grads, grads.dh0),
            T=T,
            M=M,
            N=N,
            stride_gyt=gy.stride(0),
            stride_ght=gh.stride(0),
            stride_xt=x2.stride(0),
            HAS_GRAD_H=up.g_h is not None,
            **need_flags(need, grads),
            **_flags(state, params, opts),
            **LAUNCH,
        )
    return finish_grads(grads, params, launched=M > 0 and T > 0)
