"""Fused nonlinear integrate-and-fire neurons (QIF, EIF, Izhikevich, AdEx): the whole time loop
in one launch, state in fp32 registers.

Per step ``t`` (``v[-1] = mem0``, ``w[-1] = w0``), in SpikingJelly's order of operations::

    f(v)  = a0 * (v - v_rest) * (v - v_c)                           QUADRATIC (QIF, Izhikevich)
          = v_rest - v + delta_t * exp((v - theta_rh) / delta_t)    EXPONENTIAL (EIF, AdEx)
    h[t]  = v[t-1] + (x[t] + f(v[t-1]) - w[t-1]) / tau              (- w only with ADAPT)
          = v[t-1] + (x[t] - (v[t-1] - v_rest)) / tau               LINEAR (LIF) with DECAY_INPUT
          = v[t-1] - (v[t-1] - v_rest) / tau + x[t]                 LINEAR without
    s[t]  = h[t] >= threshold (+ offset[t], HAS_OFFSET: the batch-shared threshold adaptation)
    v[t]  = s[t] * v_reset + (1 - s[t]) * h[t]                      HARD (else h[t] - s[t] * threshold)
            v_reset -> v_rest + reset_mul * (h[t] - v_rest) - reset_add  LINEAR_RESET (GLIF2)
    w[t]  = w[t-1] + (a * (h[t] - v_rest) - w[t-1]) / tau_w + b * s[t]     ADAPT

With ``REFRACTORY`` a step where the counter (``R = ceil(refractory / dt)`` after a spike, one
less each step) is positive holds the membrane (``h[t] = v[t-1]``) and ``w`` and cannot fire.

Forward stores the spikes and ``h`` (what backward needs) and, with ``STORE_MEM``, ``v`` and
``w``. Backward walks time in reverse with ``G_v``/``G_w`` the gradients reaching ``v[t]``,
``w[t]`` (see ``torchimpl/nonlinear.py``) and recomputes ``v[t-1]`` from ``h[t-1]``. The
threshold's gradient is a per-element partial summed over time in-kernel, over the batch by
one torch sum. The exponential is Triton's, within a few ulp of PyTorch's.
"""

from __future__ import annotations

import torch
import triton
import triton.language as tl

from ..contracts import (
    NlifGrads,
    NlifOptions,
    NlifOutputs,
    NlifParams,
    NlifSaved,
    NlifState,
    NlifUpstream,
    nlif_outputs,
)
from ..contracts import Nonlinearity as NL
from ._common import (
    LAUNCH,
    autotune,
    finish_grads,
    fires,
    flat_time_major,
    grad_partials,
    grid,
    load_count,
    load_param,
    load_state,
    or_buffer,
    refractory_count,
    surrogate_args,
    surrogate_at,
    upstream_args,
)


@triton.jit
def _reset_target(h, v_reset, v_rest, reset_mul, reset_add, LINEAR_RESET: tl.constexpr):
    """Where a hard reset sets the membrane: v_reset, or GLIF2's v_rest + m (h - v_rest) - b (one
    return of one type: the compiler refuses a block on one branch and a scalar on the other)."""
    if LINEAR_RESET:
        target = (v_rest + reset_mul * (h - v_rest)) - reset_add
    else:
        target = tl.zeros_like(h) + v_reset
    return target


@triton.jit
def _after_reset(h, s, thr, target, HARD: tl.constexpr):
    if HARD:
        return s * target + (1.0 - s) * h
    return h - s * thr


@autotune
@triton.jit(do_not_specialize=["T", "REFR_STEPS"])
def nlif_fwd_kernel(
    p_x, p_mem0, p_w0, p_count0, p_threshold, p_offset, p_spikes, p_pre, p_mem, p_w, p_refr_bits, p_final_count,
    T, M, N, stride_xt, REFR_STEPS,
    tau, v_rest, v_c, a0, theta_rh, delta_t, v_reset, reset_mul, reset_add, a, b, tau_w,
    EXPONENTIAL: tl.constexpr, LINEAR: tl.constexpr, DECAY_INPUT: tl.constexpr, ADAPT: tl.constexpr,
    HARD: tl.constexpr, LINEAR_RESET: tl.constexpr, HAS_W0: tl.constexpr,
    REFRACTORY: tl.constexpr, HAS_COUNT0: tl.constexpr,
    THRESHOLD_PER_NEURON: tl.constexpr, HAS_OFFSET: tl.constexpr, STORE_MEM: tl.constexpr, BLOCK: tl.constexpr,
):  # fmt: skip
    o = tl.program_id(0).to(tl.int64) * BLOCK + tl.arange(0, BLOCK)
    m_o = o < M
    thr0 = load_param(p_threshold, o % N, m_o, THRESHOLD_PER_NEURON)
    thr = thr0
    p_offset += o % N
    v = tl.load(p_mem0 + o, mask=m_o, other=0.0).to(tl.float32)
    w = load_state(p_w0, o, m_o, HAS_W0, BLOCK)
    if REFRACTORY:
        count = load_count(p_count0, o, m_o, HAS_COUNT0, BLOCK)
    p_x += o
    p_spikes += o
    p_pre += o
    p_mem += o
    p_w += o
    p_refr_bits += o
    for _ in range(T):
        if HAS_OFFSET:  # this step's share of the batch-shared threshold adaptation
            thr = thr0 + tl.load(p_offset, mask=m_o, other=0.0)
            p_offset += N
        x = tl.load(p_x, mask=m_o, other=0.0).to(tl.float32)
        if DECAY_INPUT:
            if LINEAR:
                inner = x - (v - v_rest)
            elif EXPONENTIAL:
                inner = x + v_rest - v + delta_t * tl.exp((v - theta_rh) / delta_t)
            else:
                inner = x + a0 * (v - v_rest) * (v - v_c)
            if ADAPT:
                inner = inner - w
            h = v + inner / tau
        else:  # LINEAR only
            h = v - (v - v_rest) / tau + x
        s = fires(h, thr, True)  # SpikingJelly's Heaviside fires at the threshold
        if REFRACTORY:  # a refractory step holds the membrane (and w) and cannot fire
            refr = count > 0
            h = tl.where(refr, v, h)
            s = tl.where(refr, 0.0, s)
            tl.store(p_refr_bits, refr.to(tl.int8), mask=m_o)
            count = refractory_count(count, s > 0, REFR_STEPS)
        tl.store(p_pre, h, mask=m_o)
        tl.store(p_spikes, s.to(p_spikes.dtype.element_ty), mask=m_o)
        v = _after_reset(h, s, thr, _reset_target(h, v_reset, v_rest, reset_mul, reset_add, LINEAR_RESET), HARD)
        if ADAPT:
            w_new = w + (a * (h - v_rest) - w) / tau_w + b * s
            if REFRACTORY:
                w = tl.where(refr, w, w_new)
            else:
                w = w_new
        if STORE_MEM:
            tl.store(p_mem, v, mask=m_o)
            if ADAPT:
                tl.store(p_w, w, mask=m_o)
        p_x += stride_xt
        p_spikes += M
        p_pre += M
        p_mem += M
        p_w += M
        p_refr_bits += M
    if REFRACTORY:
        tl.store(p_final_count + o, count, mask=m_o)


@autotune
@triton.jit(do_not_specialize=["T"])
def nlif_bwd_kernel(
    p_g_spikes, p_g_mem, p_g_w, p_pre, p_refr_bits, p_sgrad, p_mem0, p_threshold, p_offset,
    p_dx, p_dmem0, p_dw0, p_dthreshold,
    T, M, N, stride_g_spikes, stride_g_mem, stride_g_w,
    tau, v_rest, v_c, a0, theta_rh, delta_t, v_reset, reset_mul, reset_add, a, b, tau_w, sg_param, sg_param2,
    EXPONENTIAL: tl.constexpr, LINEAR: tl.constexpr, DECAY_INPUT: tl.constexpr, ADAPT: tl.constexpr,
    HARD: tl.constexpr, LINEAR_RESET: tl.constexpr, DETACH: tl.constexpr,
    THRESHOLD_PER_NEURON: tl.constexpr, HAS_OFFSET: tl.constexpr, HAS_G_MEM: tl.constexpr, HAS_G_W: tl.constexpr,
    REFRACTORY: tl.constexpr, NEED_DTHRESHOLD: tl.constexpr, SURROGATE: tl.constexpr, BLOCK: tl.constexpr,
):  # fmt: skip
    o = tl.program_id(0).to(tl.int64) * BLOCK + tl.arange(0, BLOCK)
    m_o = o < M
    thr0 = load_param(p_threshold, o % N, m_o, THRESHOLD_PER_NEURON)
    thr = thr0
    thr_prev = thr0
    v0 = tl.load(p_mem0 + o, mask=m_o, other=0.0).to(tl.float32)
    g_v = tl.zeros([BLOCK], dtype=tl.float32)
    g_w = tl.zeros([BLOCK], dtype=tl.float32)
    acc_thr = tl.zeros([BLOCK], dtype=tl.float32)
    last = (T - 1).to(tl.int64)
    p_g_spikes += o + last * stride_g_spikes
    p_g_mem += o + last * stride_g_mem
    p_g_w += o + last * stride_g_w
    p_pre += o + last * M
    p_refr_bits += o + last * M
    p_sgrad += o + last * M
    p_dx += o + last * M
    p_offset += o % N + last * N
    for i in range(T):
        t = T - 1 - i
        m_prev = m_o & ((tl.zeros([BLOCK], dtype=tl.int32) + t) > 0)
        if HAS_OFFSET:  # the thresholds of this step and of the one before
            thr = thr0 + tl.load(p_offset, mask=m_o, other=0.0)
            thr_prev = thr0 + tl.load(p_offset - N, mask=m_prev, other=0.0)
            p_offset -= N
        h = tl.load(p_pre, mask=m_o, other=0.0)
        free = tl.full([BLOCK], 1.0, tl.float32)
        if REFRACTORY:  # a refractory step's spike is 0 and its membrane and w are held
            free = 1.0 - tl.load(p_refr_bits, mask=m_o, other=0).to(tl.float32)
        s = fires(h, thr, True) * free
        sgrad = surrogate_at(p_sgrad, h - thr, m_o, SURROGATE, sg_param, sg_param2) * free
        if HAS_G_MEM:
            g_v += tl.load(p_g_mem, mask=m_o, other=0.0).to(tl.float32)
        g_s = tl.load(p_g_spikes, mask=m_o, other=0.0).to(tl.float32)
        if HARD:
            if not DETACH:
                g_s += g_v * (_reset_target(h, v_reset, v_rest, reset_mul, reset_add, LINEAR_RESET) - h)
            if LINEAR_RESET:  # the target follows h
                g_h = g_v * (1.0 - s * (1.0 - reset_mul))
            else:
                g_h = g_v * (1.0 - s)
        else:
            if not DETACH:
                g_s -= g_v * thr
            g_h = g_v
        if ADAPT:
            if HAS_G_W:
                g_w += tl.load(p_g_w, mask=m_o, other=0.0).to(tl.float32)
            g_s += b * g_w
            g_h += (a / tau_w) * free * g_w
        g_spike = g_s * sgrad
        g_h += g_spike
        if DECAY_INPUT:
            tl.store(p_dx, (g_h * free / tau).to(p_dx.dtype.element_ty), mask=m_o)
        else:
            tl.store(p_dx, (g_h * free).to(p_dx.dtype.element_ty), mask=m_o)
        if NEED_DTHRESHOLD:
            acc_thr -= g_spike
            if not HARD:
                acc_thr -= g_v * s
        h_prev = tl.load(p_pre - M, mask=m_prev, other=0.0)
        s_prev = fires(h_prev, thr_prev, True)
        if REFRACTORY:
            s_prev = s_prev * (1.0 - tl.load(p_refr_bits - M, mask=m_prev, other=0).to(tl.float32))
        target = _reset_target(h_prev, v_reset, v_rest, reset_mul, reset_add, LINEAR_RESET)
        v_prev = tl.where(m_prev, _after_reset(h_prev, s_prev, thr_prev, target, HARD), v0)
        if ADAPT:
            g_w = g_w * (1.0 - free / tau_w) - g_h * free / tau
        if LINEAR:
            df = tl.full([BLOCK], -1.0, tl.float32)
        elif EXPONENTIAL:
            df = tl.exp((v_prev - theta_rh) / delta_t) - 1.0
        else:
            df = a0 * ((v_prev - v_c) + (v_prev - v_rest))
        g_v = g_h * (1.0 + df * free / tau)
        p_g_spikes -= stride_g_spikes
        p_g_mem -= stride_g_mem
        p_g_w -= stride_g_w
        p_pre -= M
        p_refr_bits -= M
        p_sgrad -= M
        p_dx -= M
    tl.store(p_dmem0 + o, g_v, mask=m_o)
    if ADAPT:
        tl.store(p_dw0 + o, g_w, mask=m_o)
    if NEED_DTHRESHOLD:
        tl.store(p_dthreshold + o, acc_thr, mask=m_o)


def _constants(opts: NlifOptions) -> dict:
    """The numbers of the dynamics and the structure flags of both kernels."""
    names = (
        "tau",
        "v_rest",
        "v_c",
        "a0",
        "theta_rh",
        "delta_t",
        "v_reset",
        "reset_mul",
        "reset_add",
        "a",
        "b",
        "tau_w",
    )
    return {k: getattr(opts, k) for k in names} | dict(
        EXPONENTIAL=opts.nonlinearity == NL.EXPONENTIAL,
        LINEAR=opts.nonlinearity == NL.LINEAR,
        DECAY_INPUT=opts.decay_input,
        ADAPT=opts.adapt,
        HARD=opts.hard_reset,
        LINEAR_RESET=opts.linear_reset,
    )


def _offset(params: NlifParams, placeholder):
    """The per-step threshold offsets ``[T, N]`` as fp32 rows, or a placeholder pointer."""
    return placeholder if params.offset is None else params.offset.to(torch.float32).contiguous()


def nlif_fwd(x, state: NlifState, params: NlifParams, opts: NlifOptions) -> NlifOutputs:
    """Launch the forward kernel; same contract as ``torchimpl.nonlinear.nlif_fwd``."""
    T, B, N = x.shape
    M = B * N
    out = nlif_outputs(x, opts)
    if opts.refractory > 0 and (M == 0 or T == 0):  # nothing runs: the counter stays the initial one
        out.final_count.copy_(state.count0 if state.count0 is not None else torch.zeros_like(out.final_count))
    if M > 0 and T > 0:
        x2 = flat_time_major(x)
        nlif_fwd_kernel[grid(M)](
            p_x=x2,
            p_mem0=state.mem0.contiguous(),
            p_w0=or_buffer(state.w0, out.pre),
            p_count0=or_buffer(state.count0, out.pre),
            p_threshold=params.threshold.contiguous(),
            p_offset=_offset(params, out.pre),
            p_spikes=out.spikes,
            p_pre=out.pre,
            p_mem=or_buffer(out.mem, out.pre),
            p_w=or_buffer(out.w, out.pre),
            p_refr_bits=or_buffer(out.refr_bits, out.pre),
            p_final_count=or_buffer(out.final_count, out.pre),
            T=T,
            M=M,
            N=N,
            stride_xt=x2.stride(0),
            REFR_STEPS=opts.refractory,
            **_constants(opts),
            HAS_W0=state.w0 is not None,
            REFRACTORY=opts.refractory > 0,
            HAS_COUNT0=state.count0 is not None,
            THRESHOLD_PER_NEURON=params.threshold.numel() > 1,
            HAS_OFFSET=params.offset is not None,
            STORE_MEM=opts.need_mem,
            **LAUNCH,
        )
    return out


def nlif_bwd(
    up: NlifUpstream, saved: NlifSaved, state: NlifState, params: NlifParams, opts: NlifOptions, need, x_dtype
) -> NlifGrads:
    """Launch the backward kernel; same contract as ``torchimpl.nonlinear.nlif_bwd``."""
    T, B, N = saved.pre.shape
    M = B * N
    grads = grad_partials(NlifGrads, saved.pre, x_dtype, need, dmem0=True, dw0=opts.adapt)
    if M > 0 and T > 0:
        nlif_bwd_kernel[grid(M)](
            **upstream_args(up),
            p_pre=saved.pre,
            p_refr_bits=or_buffer(saved.refr_bits, saved.pre),
            p_sgrad=or_buffer(saved.sgrad, saved.pre),
            p_mem0=state.mem0.contiguous(),
            p_threshold=params.threshold.contiguous(),
            p_offset=_offset(params, saved.pre),
            p_dx=grads.dx,
            p_dmem0=grads.dmem0,
            p_dw0=or_buffer(grads.dw0, grads.dmem0),
            p_dthreshold=or_buffer(grads.dthreshold, grads.dmem0),
            T=T,
            M=M,
            N=N,
            **_constants(opts),
            DETACH=opts.detach_reset,
            REFRACTORY=opts.refractory > 0,
            THRESHOLD_PER_NEURON=params.threshold.numel() > 1,
            HAS_OFFSET=params.offset is not None,
            NEED_DTHRESHOLD=need.threshold,
            **surrogate_args(saved, opts),
            **LAUNCH,
        )
    return finish_grads(grads, params, launched=M > 0 and T > 0)
