"""Fused first-order integrate-and-fire kernels: the whole time loop in one launch.

One template serves the whole first-order family; constexpr flags switch on what
each neuron adds to Leaky, so each difference is a few visible lines:

=============  ==================================================================
Leaky / IF     the base recurrence below (IF: ``beta = 1``)
Lapicque       ``HAS_GAIN`` (input times ``dt/C``, decay ``1 - dt/(R*C)``, not
               clamped) and ``ZERO_WHOLE`` (zero reset clears input too)
RLeaky (1:1)   ``REC``: ``+ V*s[t-1]``, ``ZERO_WHOLE``; V's gradient in-kernel
ALIF           ``ADAPT``: adaptive threshold ``th[t] = thr + b*a[t]``
refractory     ``REFRACTORY``: per-sample step counter, any neuron above
=============  ==================================================================

Per step ``t`` (``post[-1] = v0``, ``s[-1] = s0``, ``a[-1] = a0``; all state in fp32
registers; without ADAPT ``th[t] = thr``)::

    a[t]    = rho * a[t-1] + s[t-1]                  ADAPT; th[t] = thr + b * a[t]
    r[t]    = H(post[t-1] - th[t-1])                 reset flag, carries no gradient
    q[t]    = count[t-1] > 0                         REFRACTORY: step t is refractory
    drive   = beta * post[t-1] + g*x[t] + V*s[t-1]   (g = gain, V = rec; 1 and 0 when off)
    pre[t]  = drive - r[t] * th[t-1]                 RESET == subtract
            = beta*(1 - r[t])*post[t-1] + g*x[t]     RESET == zero (Leaky, IF, ALIF)
            = (1 - r[t]) * drive                     RESET == zero, ZERO_WHOLE (Lapicque, RLeaky)
            = drive                                  RESET == none
    pre[t]  = post[t-1] - r[t]*th[t-1]  (subtract) | (1 - r[t])*post[t-1]  (zero) | post[t-1]
                                                     instead, when q[t]: no input, no leak,
                                                     the pending reset still applies
    s[t]    = H(pre[t] - th[t]) * (1 - q[t])         surrogate gradient in backward
    count   = R if s[t] else max(count - 1, 0)       R = ceil(refractory / dt) steps
    post[t] = pre[t]                                 DELAY (snnTorch reset_delay=True)
            = pre[t] - (s[t] - r[t]) * thr           not DELAY, subtract
            = pre[t] - (s[t] - r[t]) * pre[t]        not DELAY, zero

So a spike at step t makes steps t+1..t+R refractory: their spike is 0 and the
input (and V's recurrent input) has zero gradient there. With ADAPT the spike at t
is compared with ``th[t]``, and the reset it causes at t+1 removes ``th[t]``, the
threshold it crossed (Bellec et al.'s LSNN); ALIF is DELAY only. Gradients flow
through ``s[t-1]`` into ``a[t]`` and, with REC, into ``V*s[t-1]`` (full BPTT).

The membrane a user sees is ``post``. Forward saves ``pre`` in fp32 (4 B/element);
only when not DELAY the reset bits (1 B/element); only with REFRACTORY the
refractory flags ``q`` (1 B/element); only with ADAPT the adaptation ``a`` (fp32,
also returned for monitoring). Spikes, ``post``, ``s[t-1]`` and thresholds are
recomputed in backward. Leaky/IF without a refractory period run exactly the
code and saved bytes they always did. One program owns ``BLOCK`` neurons of the
flattened ``B*N`` axis; parameters are scalars or per-neuron vectors (index
``% N``); parameter gradients are per-element partials summed over time in the
kernel, then over the batch by one torch reduction.
Kernels are compiled without FMA contraction (``enable_fp_fusion=False``) so each
multiply and add rounds as PyTorch's separate ops do: spikes then match snnTorch
bit for bit rather than flipping where the membrane sits within a rounding step
of the threshold.

RLeaky's all-to-all recurrence (``nn.Linear`` or ``nn.Conv2d``) is not in this kernel: step t
needs all of step t-1's spikes, so ``ops.lif.rleaky_dense_fwd`` runs a per-step
loop of one GEMM (or convolution) plus this kernel with ``T = 1``, and a hand-written
backward (per step the single-step backward and one GEMM or transposed convolution;
the weight gradient as one GEMM or convolution over all steps).
"""
from __future__ import annotations

import torch
import triton
import triton.language as tl

from .. import _alloc
from ._common import LAUNCH, configs, flat_time_major, grid, load_count, load_param, load_state, or_buffer, reduce_partials
from ..ops_common import lif_outputs


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
def _post_reset(pre, s, r, thr, RESET: tl.constexpr):
    if RESET == 0:
        return pre - (s - r) * thr
    return pre - (s - r) * pre


@triton.autotune(configs(), key=["M", "N"])
@triton.jit(do_not_specialize=["T", "REFR_STEPS"])
def lif_fwd_kernel(
    p_x, p_v0, p_beta, p_thr, p_s, p_pre, p_bits, p_post,
    p_gain, p_rec, p_s0, p_c0, p_qbits, p_count, p_rho, p_b, p_a0, p_a,
    T, M, N, stride_xt, REFR_STEPS,
    RESET: tl.constexpr, DELAY: tl.constexpr, HAS_V0: tl.constexpr, STORE_POST: tl.constexpr,
    BETA_PER_NEURON: tl.constexpr, THR_PER_NEURON: tl.constexpr,
    HAS_GAIN: tl.constexpr, GAIN_PER_NEURON: tl.constexpr, ZERO_WHOLE: tl.constexpr,
    REC: tl.constexpr, REC_PER_NEURON: tl.constexpr, HAS_S0: tl.constexpr,
    REFRACTORY: tl.constexpr, HAS_C0: tl.constexpr,
    ADAPT: tl.constexpr, RHO_PER_NEURON: tl.constexpr, B_PER_NEURON: tl.constexpr, HAS_A0: tl.constexpr,
    BLOCK: tl.constexpr,
):
    o = tl.program_id(0).to(tl.int64) * BLOCK + tl.arange(0, BLOCK)
    m_o = o < M
    beta = load_param(p_beta, o % N, m_o, BETA_PER_NEURON)
    thr = load_param(p_thr, o % N, m_o, THR_PER_NEURON)
    if HAS_GAIN:
        gain = load_param(p_gain, o % N, m_o, GAIN_PER_NEURON)
    post = load_state(p_v0, o, m_o, HAS_V0, BLOCK)
    # th: this step's threshold; th_prev: the previous step's (the one its spike crossed).
    if ADAPT:
        rho = load_param(p_rho, o % N, m_o, RHO_PER_NEURON)
        b_ad = load_param(p_b, o % N, m_o, B_PER_NEURON)
        adapt = load_state(p_a0, o, m_o, HAS_A0, BLOCK)
        th_prev = thr + b_ad * adapt
        th = th_prev
        p_a += o
    else:
        th = thr
        th_prev = thr
    if REC or ADAPT:
        if REC:
            v_rec = load_param(p_rec, o % N, m_o, REC_PER_NEURON)
        s_prev = load_state(p_s0, o, m_o, HAS_S0, BLOCK)
    if REFRACTORY:
        count = load_count(p_c0, o, m_o, HAS_C0, BLOCK)
    # Pointers advance one row per step: pointer arithmetic is 64-bit, so T*B*N may exceed 2**31.
    p_x += o
    p_s += o
    p_pre += o
    p_bits += o
    p_post += o
    p_qbits += o
    for _ in range(T):
        x = tl.load(p_x, mask=m_o, other=0.0).to(tl.float32)
        if HAS_GAIN:
            x = gain * x
        if ADAPT:
            adapt = rho * adapt + s_prev
            tl.store(p_a, adapt, mask=m_o)
            th = thr + b_ad * adapt
        if RESET == 2:
            r = tl.zeros([BLOCK], dtype=tl.float32)
        else:
            r = (post > th_prev).to(tl.float32)
        if RESET == 1 and not ZERO_WHOLE:
            pre = beta * (post * (1.0 - r)) + x
        else:
            pre = beta * post + x
        if REC:
            pre += v_rec * s_prev
        if RESET == 1 and ZERO_WHOLE:
            pre = pre * (1.0 - r)
        if RESET == 0:
            pre -= r * th_prev
        if REFRACTORY:
            # Refractory step: no input, no leak, no spike; the pending reset still applies.
            refr = count > 0
            if RESET == 0:
                hold = post - r * th_prev
            elif RESET == 1:
                hold = post * (1.0 - r)
            else:
                hold = post
            pre = tl.where(refr, hold, pre)
            fire = (pre > th) & (~refr)
            count = tl.where(fire, REFR_STEPS, tl.maximum(count - 1, 0))
            tl.store(p_qbits, refr.to(tl.int8), mask=m_o)
            s = fire.to(tl.float32)
        else:
            s = (pre > th).to(tl.float32)
        tl.store(p_s, s.to(p_s.dtype.element_ty), mask=m_o)
        tl.store(p_pre, pre, mask=m_o)
        if DELAY:
            post = pre
        else:
            tl.store(p_bits, r.to(tl.int8), mask=m_o)
            post = _post_reset(pre, s, r, thr, RESET)
            if STORE_POST:
                tl.store(p_post, post, mask=m_o)
        if REC or ADAPT:
            s_prev = s
        if ADAPT:
            th_prev = th
            p_a += M
        p_x += stride_xt
        p_s += M
        p_pre += M
        p_bits += M
        p_post += M
        p_qbits += M
    if REFRACTORY:
        tl.store(p_count + o, count, mask=m_o)


@triton.autotune(configs(), key=["M", "N"])
@triton.jit(do_not_specialize=["T"])
def lif_bwd_kernel(
    p_gs, p_gm, p_pre, p_bits, p_v0, p_beta, p_thr,
    p_dx, p_dv0, p_dbeta, p_dthr,
    p_gain, p_rec, p_s0, p_qbits, p_ds0, p_drec,
    p_rho, p_b, p_a0, p_a, p_da0, p_drho, p_db, p_ga,
    T, M, N, stride_gst, stride_gmt, stride_gat, sg_param,
    RESET: tl.constexpr, DELAY: tl.constexpr, HAS_V0: tl.constexpr, HAS_GRAD_MEM: tl.constexpr,
    BETA_PER_NEURON: tl.constexpr, THR_PER_NEURON: tl.constexpr,
    NEED_DBETA: tl.constexpr, NEED_DTHR: tl.constexpr, SURROGATE: tl.constexpr,
    HAS_GAIN: tl.constexpr, GAIN_PER_NEURON: tl.constexpr, ZERO_WHOLE: tl.constexpr,
    REC: tl.constexpr, REC_PER_NEURON: tl.constexpr, HAS_S0: tl.constexpr, NEED_DREC: tl.constexpr,
    REFRACTORY: tl.constexpr,
    ADAPT: tl.constexpr, RHO_PER_NEURON: tl.constexpr, B_PER_NEURON: tl.constexpr, HAS_A0: tl.constexpr,
    NEED_DRHO: tl.constexpr, NEED_DB: tl.constexpr, HAS_GRAD_ADAPT: tl.constexpr, BLOCK: tl.constexpr,
):
    o = tl.program_id(0).to(tl.int64) * BLOCK + tl.arange(0, BLOCK)
    m_o = o < M
    beta = load_param(p_beta, o % N, m_o, BETA_PER_NEURON)
    thr = load_param(p_thr, o % N, m_o, THR_PER_NEURON)
    if HAS_GAIN:
        gain = load_param(p_gain, o % N, m_o, GAIN_PER_NEURON)
    v0 = load_state(p_v0, o, m_o, HAS_V0, BLOCK)
    if REC or ADAPT:
        if REC:
            v_rec = load_param(p_rec, o % N, m_o, REC_PER_NEURON)
        s0 = load_state(p_s0, o, m_o, HAS_S0, BLOCK)
    if ADAPT:
        rho = load_param(p_rho, o % N, m_o, RHO_PER_NEURON)
        b_ad = load_param(p_b, o % N, m_o, B_PER_NEURON)
        a0 = load_state(p_a0, o, m_o, HAS_A0, BLOCK)
    g_acarry = tl.zeros([BLOCK], dtype=tl.float32)    # dL/d a[t] through step t+1 (ADAPT)
    g_thcarry = tl.zeros([BLOCK], dtype=tl.float32)   # dL/d th[t] through step t+1's reset (ADAPT)
    acc_rho = tl.zeros([BLOCK], dtype=tl.float32)
    acc_b = tl.zeros([BLOCK], dtype=tl.float32)
    g_carry = tl.zeros([BLOCK], dtype=tl.float32)    # dL/d post[t] through step t+1
    g_scarry = tl.zeros([BLOCK], dtype=tl.float32)   # dL/d s[t] through step t+1 (REC)
    acc_beta = tl.zeros([BLOCK], dtype=tl.float32)
    acc_thr = tl.zeros([BLOCK], dtype=tl.float32)
    acc_rec = tl.zeros([BLOCK], dtype=tl.float32)
    # Walk rows T-1 .. 0 with 64-bit pointers; pre[t], r[t] and the refractory flag q[t]
    # are carried from the previous iteration's loads of row t-1.
    last = (T - 1).to(tl.int64)
    p_gs += o + last * stride_gst
    p_gm += o + last * stride_gmt
    p_pre += o + last * M
    p_bits += o + last * M
    p_qbits += o + last * M
    p_dx += o + last * M
    p_a += o + last * M
    p_ga += o + last * stride_gat
    pre = tl.load(p_pre, mask=m_o, other=0.0)
    if ADAPT:
        a_cur = tl.load(p_a, mask=m_o, other=0.0)
    if DELAY:
        r = tl.zeros([BLOCK], dtype=tl.float32)
    else:
        r = tl.load(p_bits, mask=m_o, other=0).to(tl.float32)
    if REFRACTORY:
        nq = 1.0 - tl.load(p_qbits, mask=m_o, other=0).to(tl.float32)   # 1 on free steps
    else:
        nq = tl.full([BLOCK], 1.0, tl.float32)
    for i in range(T):
        t = T - 1 - i
        # Membrane carried into step t: post[t-1], rebuilt from row t-1, or v0 at t == 0.
        m_prev = m_o & ((tl.zeros([BLOCK], dtype=tl.int32) + t) > 0)
        pre_prev = tl.load(p_pre - M, mask=m_prev, other=0.0)
        if REFRACTORY:
            nq_prev = 1.0 - tl.load(p_qbits - M, mask=m_prev, other=0).to(tl.float32)
        else:
            nq_prev = tl.full([BLOCK], 1.0, tl.float32)
        if ADAPT:   # thresholds of step t and t-1
            a_prev = tl.where(m_prev, tl.load(p_a - M, mask=m_prev, other=0.0), a0)
            th = thr + b_ad * a_cur
            th_p = thr + b_ad * a_prev
        else:
            th = thr
            th_p = thr
        s_prev = (pre_prev > th_p).to(tl.float32) * nq_prev      # spikes of step t-1
        if DELAY:
            prev = tl.where(m_prev, pre_prev, v0)
            r_prev = tl.zeros([BLOCK], dtype=tl.float32)
            if RESET != 2:
                r = (prev > th_p).to(tl.float32)
        else:
            r_prev = tl.load(p_bits - M, mask=m_prev, other=0).to(tl.float32)
            prev = tl.where(m_prev, _post_reset(pre_prev, s_prev, r_prev, thr, RESET), v0)
        gs = tl.load(p_gs, mask=m_o, other=0.0).to(tl.float32)
        if REC or ADAPT:
            gs += g_scarry
        sgrad = _surrogate_grad(pre - th, SURROGATE, sg_param) * nq
        a = gs * sgrad
        g_post = g_carry
        if HAS_GRAD_MEM:
            g_post += tl.load(p_gm, mask=m_o, other=0.0).to(tl.float32)
        if DELAY:
            g_pre = a + g_post
        else:
            s = (pre > thr).to(tl.float32) * nq
            if RESET == 0:
                g_pre = a + (1.0 - thr * sgrad) * g_post
                if NEED_DTHR:
                    acc_thr += g_post * (thr * sgrad - (s - r))
            else:
                g_pre = a + ((1.0 - (s - r)) - pre * sgrad) * g_post
                if NEED_DTHR:
                    acc_thr += g_post * (pre * sgrad)
        if RESET == 1:
            keep = 1.0 - r
        else:
            keep = tl.full([BLOCK], 1.0, tl.float32)
        # d pre / d(input terms): zeroed by a refractory step or (ZERO_WHOLE) by the reset.
        din = nq
        if ZERO_WHOLE:
            din = din * keep
        dx = g_pre * din
        if HAS_GAIN:
            dx = dx * gain
        tl.store(p_dx, dx.to(p_dx.dtype.element_ty), mask=m_o)
        if NEED_DBETA:
            acc_beta += g_pre * keep * prev * nq
        if NEED_DREC:
            acc_rec += g_pre * din * tl.where(m_prev, s_prev, s0)
        if ADAPT:
            # th[t] = thr + b*a[t] feeds s[t] and (subtract) step t+1's reset; a[t] = rho*a[t-1] + s[t-1].
            g_th = g_thcarry - a
            g_a = b_ad * g_th + rho * g_acarry
            if HAS_GRAD_ADAPT:
                g_a += tl.load(p_ga, mask=m_o, other=0.0).to(tl.float32)
            acc_thr += g_th
            if NEED_DB:
                acc_b += g_th * a_cur
            if NEED_DRHO:
                acc_rho += g_a * a_prev
            g_acarry = g_a
            if RESET == 0:
                g_thcarry = -r * g_pre
        elif NEED_DTHR:
            acc_thr -= a
            if RESET == 0:
                acc_thr -= g_pre * r
        # Free step: d pre / d post[t-1] = beta*keep; refractory step: keep alone.
        g_carry = (beta * nq + (1.0 - nq)) * keep * g_pre
        if REC:
            g_scarry = v_rec * din * g_pre
        if ADAPT:
            if REC:
                g_scarry += g_acarry
            else:
                g_scarry = g_acarry
            a_cur = a_prev
        pre = pre_prev
        r = r_prev
        nq = nq_prev
        p_gs -= stride_gst
        p_gm -= stride_gmt
        p_pre -= M
        p_bits -= M
        p_qbits -= M
        p_dx -= M
        p_a -= M
        p_ga -= stride_gat
    tl.store(p_dv0 + o, g_carry, mask=m_o)
    if REC or ADAPT:
        tl.store(p_ds0 + o, g_scarry, mask=m_o)
    if ADAPT:
        # th[-1] = thr + b*a0 fed step 0's reset.
        acc_thr += g_thcarry
        acc_b += g_thcarry * a0
        tl.store(p_da0 + o, rho * g_acarry + b_ad * g_thcarry, mask=m_o)
        if NEED_DRHO:
            tl.store(p_drho + o, acc_rho, mask=m_o)
        if NEED_DB:
            tl.store(p_db + o, acc_b, mask=m_o)
    # Per-element partials summed over time here; the batch sum is one torch reduction.
    if NEED_DBETA:
        tl.store(p_dbeta + o, acc_beta, mask=m_o)
    if NEED_DTHR:
        tl.store(p_dthr + o, acc_thr, mask=m_o)
    if NEED_DREC:
        tl.store(p_drec + o, acc_rec, mask=m_o)


def lif_fwd(x, v0, beta, thr, reset: int, delay: bool, need_post: bool, gain=None,
            zero_whole: bool = False, rec=None, s0=None, refractory: int = 0, c0=None,
            rho=None, b=None, a0=None):
    """Launch the forward kernel; same contract as ``torchimpl.lif.lif_fwd``."""
    T, B, N = x.shape
    M = B * N
    x2 = flat_time_major(x)
    refr, adapt = refractory > 0, rho is not None
    spikes, pre, bits, post, qbits, count, aseq = lif_outputs(x, delay, need_post, refractory, adapt)
    if refr and (M == 0 or T == 0):
        count.copy_(c0 if c0 is not None else torch.zeros_like(count))
    if M > 0 and T > 0:
        # Pointers the flags leave unused get a real buffer: never pass an empty tensor's null pointer.
        lif_fwd_kernel[grid(M)](
            x2, or_buffer(v0, pre), beta, thr, spikes, pre, or_buffer(bits, pre), or_buffer(post, pre),
            or_buffer(gain, beta), or_buffer(rec, beta), or_buffer(s0, pre), or_buffer(c0, pre), or_buffer(qbits, pre), or_buffer(count, pre),
            or_buffer(rho, beta), or_buffer(b, beta), or_buffer(a0, pre), or_buffer(aseq, pre),
            T, M, N, x2.stride(0), int(refractory),
            RESET=reset, DELAY=delay, HAS_V0=v0 is not None, STORE_POST=not delay and need_post,
            BETA_PER_NEURON=beta.numel() > 1, THR_PER_NEURON=thr.numel() > 1,
            HAS_GAIN=gain is not None, GAIN_PER_NEURON=gain is not None and gain.numel() > 1,
            ZERO_WHOLE=zero_whole, REC=rec is not None,
            REC_PER_NEURON=rec is not None and rec.numel() > 1, HAS_S0=s0 is not None,
            REFRACTORY=refr, HAS_C0=c0 is not None,
            ADAPT=adapt, RHO_PER_NEURON=adapt and rho.numel() > 1, B_PER_NEURON=adapt and b.numel() > 1,
            HAS_A0=a0 is not None,
            **LAUNCH,
        )
    return spikes, pre, bits, post, qbits, count, aseq


def lif_bwd(grad_spikes, grad_mem, pre, bits, v0, beta, thr, reset: int, delay: bool,
            surrogate, x_dtype, need_dbeta: bool, need_dthr: bool, gain=None,
            zero_whole: bool = False, rec=None, s0=None, need_drec: bool = False, qbits=None,
            rho=None, b=None, a0=None, aseq=None, need_drho: bool = False, need_db: bool = False,
            grad_adapt=None):
    """Launch the backward kernel; same contract as ``torchimpl.lif.lif_bwd``."""
    T, B, N = pre.shape
    M = B * N
    dev, f32 = pre.device, torch.float32
    gs = flat_time_major(grad_spikes)
    gm = flat_time_major(grad_mem) if grad_mem is not None else gs
    ga = flat_time_major(grad_adapt) if grad_adapt is not None else gs
    dx = _alloc.empty(T, B, N, dtype=x_dtype, device=dev)
    dv0 = _alloc.empty(B, N, dtype=f32, device=dev)
    part_beta = _alloc.empty(B, N, dtype=f32, device=dev) if need_dbeta else dv0
    part_thr = _alloc.empty(B, N, dtype=f32, device=dev) if need_dthr else dv0
    adapt = rho is not None
    ds0 = _alloc.empty(B, N, dtype=f32, device=dev) if rec is not None or adapt else None
    part_rec = _alloc.empty(B, N, dtype=f32, device=dev) if need_drec else dv0
    da0 = _alloc.empty(B, N, dtype=f32, device=dev) if adapt else None
    part_rho = _alloc.empty(B, N, dtype=f32, device=dev) if need_drho else dv0
    part_b = _alloc.empty(B, N, dtype=f32, device=dev) if need_db else dv0
    if M > 0 and T > 0:
        lif_bwd_kernel[grid(M)](
            gs, gm, pre, or_buffer(bits, pre), or_buffer(v0, pre), beta, thr,
            dx, dv0, part_beta, part_thr,
            or_buffer(gain, beta), or_buffer(rec, beta), or_buffer(s0, pre), or_buffer(qbits, pre), or_buffer(ds0, dv0), part_rec,
            or_buffer(rho, beta), or_buffer(b, beta), or_buffer(a0, pre), or_buffer(aseq, pre), or_buffer(da0, dv0), part_rho, part_b,
            ga, T, M, N, gs.stride(0), gm.stride(0), ga.stride(0), surrogate.param,
            RESET=reset, DELAY=delay, HAS_V0=v0 is not None, HAS_GRAD_MEM=grad_mem is not None,
            BETA_PER_NEURON=beta.numel() > 1, THR_PER_NEURON=thr.numel() > 1,
            NEED_DBETA=need_dbeta, NEED_DTHR=need_dthr, SURROGATE=surrogate.kind,
            HAS_GAIN=gain is not None, GAIN_PER_NEURON=gain is not None and gain.numel() > 1,
            ZERO_WHOLE=zero_whole, REC=rec is not None,
            REC_PER_NEURON=rec is not None and rec.numel() > 1, HAS_S0=s0 is not None,
            NEED_DREC=need_drec, REFRACTORY=qbits is not None,
            ADAPT=adapt, RHO_PER_NEURON=adapt and rho.numel() > 1, B_PER_NEURON=adapt and b.numel() > 1,
            HAS_A0=a0 is not None, NEED_DRHO=need_drho, NEED_DB=need_db,
            HAS_GRAD_ADAPT=grad_adapt is not None,
            **LAUNCH,
        )
    else:
        for t in (dv0, part_beta, part_thr, part_rec, part_rho, part_b, ds0, da0):
            if t is not None:
                t.zero_()
    dbeta = reduce_partials(part_beta, beta) if need_dbeta else None
    dthr = reduce_partials(part_thr, thr) if need_dthr else None
    drec = reduce_partials(part_rec, rec) if need_drec else None
    drho = reduce_partials(part_rho, rho) if need_drho else None
    db = reduce_partials(part_b, b) if need_db else None
    return dx, dv0, dbeta, dthr, ds0, drec, da0, drho, db
