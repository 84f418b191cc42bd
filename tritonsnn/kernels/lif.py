"""Fused first-order integrate-and-fire kernels (Leaky, IF): the whole time loop in one launch.

Per step ``t`` (``post[-1] = v0``; all state in fp32 registers)::

    r[t]    = H(post[t-1] - thr)                     reset flag, carries no gradient
    pre[t]  = beta * post[t-1] + x[t] - r[t] * thr   RESET == subtract
            = beta * (1 - r[t]) * post[t-1] + x[t]   RESET == zero
            = beta * post[t-1] + x[t]                RESET == none
    s[t]    = H(pre[t] - thr)                        surrogate gradient in backward
    post[t] = pre[t]                                 DELAY (snnTorch reset_delay=True)
            = pre[t] - (s[t] - r[t]) * thr           not DELAY, subtract
            = pre[t] - (s[t] - r[t]) * pre[t]        not DELAY, zero

The membrane a user sees is ``post``. Forward saves ``pre`` in fp32 (4 B/element)
and, only when not DELAY, the reset bits (1 B/element); spikes and ``post`` are
recomputed in backward. One program owns ``BLOCK`` neurons of the flattened
``B*N`` axis; parameters are scalars or per-neuron vectors (index ``% N``).
Kernels are compiled without FMA contraction (``enable_fp_fusion=False``) so each
multiply and add rounds as PyTorch's separate ops do: spikes then match snnTorch
bit for bit rather than flipping where the membrane sits within a rounding step
of the threshold.
"""
from __future__ import annotations

import torch
import triton
import triton.language as tl

from .. import _alloc, _backend
from ..ops_common import lif_outputs


def _configs():
    """Block sizes to autotune over, keyed on the neuron count M = B*N: small blocks keep
    every SM busy when M is small (latency bound), large ones amortise index math.
    The interpreter gets one small block so that tests stay fast."""
    if _backend.interpreter_enabled():
        return [triton.Config({"BLOCK": 256}, num_warps=1)]
    return [triton.Config({"BLOCK": b}, num_warps=w)
            for b, w in [(128, 1), (256, 2), (512, 4), (1024, 4), (1024, 8), (2048, 8)]]


@triton.jit
def _surrogate_grad(x, SURROGATE: tl.constexpr, a):
    """dH/dx; ids and formulas mirror tritonsnn/surrogate.py."""
    if SURROGATE == 0:    # atan
        h = 1.5707963267948966 * a * x
        return (a * 0.5) / (1.0 + h * h)
    elif SURROGATE == 1:  # fast_sigmoid
        d = a * tl.abs(x) + 1.0
        return 1.0 / (d * d)
    elif SURROGATE == 2:  # sigmoid
        sig = tl.sigmoid(a * x)
        return a * sig * (1.0 - sig)
    elif SURROGATE == 3:  # snnTorch triangular
        return tl.where(x < 0, a, -a)
    else:                 # straight-through
        return tl.full(x.shape, 1.0, tl.float32)


@triton.jit
def _load_param(ptr, o_n, mask, PER_NEURON: tl.constexpr):
    """A parameter as a block: per-neuron values, or element 0 broadcast to every lane
    (one cached load; keeps a single return type for the compiler)."""
    if PER_NEURON:
        offs = o_n
    else:
        offs = o_n * 0
    return tl.load(ptr + offs, mask=mask, other=1.0).to(tl.float32)


@triton.jit
def _post_reset(pre, s, r, thr, RESET: tl.constexpr):
    if RESET == 0:
        return pre - (s - r) * thr
    return pre - (s - r) * pre


@triton.autotune(_configs(), key=["M", "N"])
@triton.jit(do_not_specialize=["T"])
def lif_fwd_kernel(
    p_x, p_v0, p_beta, p_thr, p_s, p_pre, p_bits, p_post,
    T, M, N, stride_xt,
    RESET: tl.constexpr, DELAY: tl.constexpr, HAS_V0: tl.constexpr, STORE_POST: tl.constexpr,
    BETA_PER_NEURON: tl.constexpr, THR_PER_NEURON: tl.constexpr, BLOCK: tl.constexpr,
):
    o = tl.program_id(0).to(tl.int64) * BLOCK + tl.arange(0, BLOCK)
    m_o = o < M
    beta = _load_param(p_beta, o % N, m_o, BETA_PER_NEURON)
    thr = _load_param(p_thr, o % N, m_o, THR_PER_NEURON)
    if HAS_V0:
        post = tl.load(p_v0 + o, mask=m_o, other=0.0).to(tl.float32)
    else:
        post = tl.zeros([BLOCK], dtype=tl.float32)
    # Pointers advance one row per step: pointer arithmetic is 64-bit, so T*B*N may exceed 2**31.
    p_x += o
    p_s += o
    p_pre += o
    p_bits += o
    p_post += o
    for _ in range(T):
        x = tl.load(p_x, mask=m_o, other=0.0).to(tl.float32)
        if RESET == 2:
            r = tl.zeros([BLOCK], dtype=tl.float32)
        else:
            r = (post > thr).to(tl.float32)
        if RESET == 1:
            pre = beta * (post * (1.0 - r)) + x
        else:
            pre = beta * post + x - r * thr
        s = (pre > thr).to(tl.float32)
        tl.store(p_s, s.to(p_s.dtype.element_ty), mask=m_o)
        tl.store(p_pre, pre, mask=m_o)
        if DELAY:
            post = pre
        else:
            tl.store(p_bits, r.to(tl.int8), mask=m_o)
            post = _post_reset(pre, s, r, thr, RESET)
            if STORE_POST:
                tl.store(p_post, post, mask=m_o)
        p_x += stride_xt
        p_s += M
        p_pre += M
        p_bits += M
        p_post += M


@triton.autotune(_configs(), key=["M", "N"])
@triton.jit(do_not_specialize=["T"])
def lif_bwd_kernel(
    p_gs, p_gm, p_pre, p_bits, p_v0, p_beta, p_thr,
    p_dx, p_dv0, p_dbeta, p_dthr,
    T, M, N, stride_gst, stride_gmt, sg_param,
    RESET: tl.constexpr, DELAY: tl.constexpr, HAS_V0: tl.constexpr, HAS_GRAD_MEM: tl.constexpr,
    BETA_PER_NEURON: tl.constexpr, THR_PER_NEURON: tl.constexpr,
    NEED_DBETA: tl.constexpr, NEED_DTHR: tl.constexpr, SURROGATE: tl.constexpr, BLOCK: tl.constexpr,
):
    o = tl.program_id(0).to(tl.int64) * BLOCK + tl.arange(0, BLOCK)
    m_o = o < M
    beta = _load_param(p_beta, o % N, m_o, BETA_PER_NEURON)
    thr = _load_param(p_thr, o % N, m_o, THR_PER_NEURON)
    if HAS_V0:
        v0 = tl.load(p_v0 + o, mask=m_o, other=0.0).to(tl.float32)
    else:
        v0 = tl.zeros([BLOCK], dtype=tl.float32)
    g_carry = tl.zeros([BLOCK], dtype=tl.float32)   # dL/d post[t] through step t+1
    acc_beta = tl.zeros([BLOCK], dtype=tl.float32)
    acc_thr = tl.zeros([BLOCK], dtype=tl.float32)
    # Walk rows T-1 .. 0 with 64-bit pointers; pre[t] and r[t] are carried from the
    # previous iteration's loads of row t-1.
    last = (T - 1).to(tl.int64)
    p_gs += o + last * stride_gst
    p_gm += o + last * stride_gmt
    p_pre += o + last * M
    p_bits += o + last * M
    p_dx += o + last * M
    pre = tl.load(p_pre, mask=m_o, other=0.0)
    if DELAY:
        r = tl.zeros([BLOCK], dtype=tl.float32)
    else:
        r = tl.load(p_bits, mask=m_o, other=0).to(tl.float32)
    for i in range(T):
        t = T - 1 - i
        # Membrane carried into step t: post[t-1], rebuilt from row t-1, or v0 at t == 0.
        m_prev = m_o & ((tl.zeros([BLOCK], dtype=tl.int32) + t) > 0)
        pre_prev = tl.load(p_pre - M, mask=m_prev, other=0.0)
        if DELAY:
            prev = tl.where(m_prev, pre_prev, v0)
            r_prev = tl.zeros([BLOCK], dtype=tl.float32)
            if RESET != 2:
                r = (prev > thr).to(tl.float32)
        else:
            r_prev = tl.load(p_bits - M, mask=m_prev, other=0).to(tl.float32)
            s_prev = (pre_prev > thr).to(tl.float32)
            prev = tl.where(m_prev, _post_reset(pre_prev, s_prev, r_prev, thr, RESET), v0)
        gs = tl.load(p_gs, mask=m_o, other=0.0).to(tl.float32)
        sgrad = _surrogate_grad(pre - thr, SURROGATE, sg_param)
        a = gs * sgrad
        g_post = g_carry
        if HAS_GRAD_MEM:
            g_post += tl.load(p_gm, mask=m_o, other=0.0).to(tl.float32)
        if DELAY:
            g_pre = a + g_post
        else:
            s = (pre > thr).to(tl.float32)
            if RESET == 0:
                g_pre = a + (1.0 - thr * sgrad) * g_post
                if NEED_DTHR:
                    acc_thr += g_post * (thr * sgrad - (s - r))
            else:
                g_pre = a + ((1.0 - (s - r)) - pre * sgrad) * g_post
                if NEED_DTHR:
                    acc_thr += g_post * (pre * sgrad)
        tl.store(p_dx, g_pre.to(p_dx.dtype.element_ty), mask=m_o)
        if RESET == 1:
            keep = 1.0 - r
        else:
            keep = tl.full([BLOCK], 1.0, tl.float32)
        if NEED_DBETA:
            acc_beta += g_pre * keep * prev
        if NEED_DTHR:
            acc_thr -= a
            if RESET == 0:
                acc_thr -= g_pre * r
        g_carry = beta * keep * g_pre
        pre = pre_prev
        r = r_prev
        p_gs -= stride_gst
        p_gm -= stride_gmt
        p_pre -= M
        p_bits -= M
        p_dx -= M
    tl.store(p_dv0 + o, g_carry, mask=m_o)
    # Per-element partials summed over time here; the batch sum is one torch reduction.
    if NEED_DBETA:
        tl.store(p_dbeta + o, acc_beta, mask=m_o)
    if NEED_DTHR:
        tl.store(p_dthr + o, acc_thr, mask=m_o)


def _flat_time_major(x):
    """View ``[T, B, N]`` as ``[T, B*N]`` with unit inner stride, copying only if needed."""
    T = x.shape[0]
    x2 = x.reshape(T, -1)
    if x2.stride(-1) != 1:
        x2 = x2.contiguous()
    return x2


def _or(t, fallback):
    """``t`` as a contiguous kernel argument, or ``fallback`` where it is absent or empty."""
    return fallback if t is None or t.numel() == 0 else t.contiguous()


def _grid(M):
    return lambda meta: (triton.cdiv(M, meta["BLOCK"]),)


def lif_fwd(x, v0, beta, thr, reset: int, delay: bool, need_post: bool):
    """Launch the forward kernel; same contract as ``torchimpl.lif.lif_fwd``."""
    T, B, N = x.shape
    M = B * N
    x2 = _flat_time_major(x)
    spikes, pre, bits, post = lif_outputs(x, delay, need_post)
    if M > 0 and T > 0:
        # Pointers the flags leave unused get a real buffer: never pass an empty tensor's null pointer.
        lif_fwd_kernel[_grid(M)](
            x2, _or(v0, pre), beta, thr, spikes, pre, _or(bits, pre), _or(post, pre),
            T, M, N, x2.stride(0),
            RESET=reset, DELAY=delay, HAS_V0=v0 is not None, STORE_POST=not delay and need_post,
            BETA_PER_NEURON=beta.numel() > 1, THR_PER_NEURON=thr.numel() > 1,
            enable_fp_fusion=False,
        )
    return spikes, pre, bits, post


def lif_bwd(grad_spikes, grad_mem, pre, bits, v0, beta, thr, reset: int, delay: bool,
            surrogate, x_dtype, need_dbeta: bool, need_dthr: bool):
    """Launch the backward kernel; same contract as ``torchimpl.lif.lif_bwd``."""
    T, B, N = pre.shape
    M = B * N
    dev, f32 = pre.device, torch.float32
    gs = _flat_time_major(grad_spikes)
    gm = _flat_time_major(grad_mem) if grad_mem is not None else gs
    dx = _alloc.empty(T, B, N, dtype=x_dtype, device=dev)
    dv0 = _alloc.empty(B, N, dtype=f32, device=dev)
    part_beta = _alloc.empty(B, N, dtype=f32, device=dev) if need_dbeta else dv0
    part_thr = _alloc.empty(B, N, dtype=f32, device=dev) if need_dthr else dv0
    if M > 0 and T > 0:
        lif_bwd_kernel[_grid(M)](
            gs, gm, pre, _or(bits, pre), _or(v0, pre), beta, thr,
            dx, dv0, part_beta, part_thr,
            T, M, N, gs.stride(0), gm.stride(0), surrogate.param,
            RESET=reset, DELAY=delay, HAS_V0=v0 is not None, HAS_GRAD_MEM=grad_mem is not None,
            BETA_PER_NEURON=beta.numel() > 1, THR_PER_NEURON=thr.numel() > 1,
            NEED_DBETA=need_dbeta, NEED_DTHR=need_dthr, SURROGATE=surrogate.kind,
            enable_fp_fusion=False,
        )
    else:
        dv0.zero_()
        part_beta.zero_()
        part_thr.zero_()
    dbeta = _reduce_partials(part_beta, beta) if need_dbeta else None
    dthr = _reduce_partials(part_thr, thr) if need_dthr else None
    return dx, dv0, dbeta, dthr


def _reduce_partials(partial, param):
    g = partial.sum(0)
    return g.sum().reshape(1) if param.numel() == 1 else g
