"""Fused first-order integrate-and-fire kernels: the whole time loop in one launch.

One template serves the whole first-order family; constexpr flags switch on what
each neuron adds to Leaky, so each difference is a few visible lines:

=============  ==================================================================
Leaky / IF     the base recurrence below (IF: ``beta = 1``)
Lapicque       ``HAS_GAIN`` (input times ``dt/C``, decay ``1 - dt/(R*C)``, not
               clamped) and ``ZERO_WHOLE`` (zero reset clears input too)
RLeaky (1:1)   ``RECURRENT``: ``+ V*s[t-1]``, ``ZERO_WHOLE``; V's gradient in-kernel
ALIF           ``ADAPT``: adaptive threshold ``th[t] = thr + b*a[t]``
refractory     ``REFRACTORY``: per-sample step counter, any neuron above
=============  ==================================================================

Per step ``t`` (``post[-1] = v0``, ``s[-1] = s0``, ``a[-1] = a0``; all state in fp32
registers; without ADAPT ``th[t] = thr``)::

    a[t]    = rho * a[t-1] + s[t-1]                  ADAPT; th[t] = thr + b * a[t]
    r[t]    = H(post[t-1] - th[t-1])                 reset flag, carries no gradient
            = s[t-1]                                 REFRACTORY and DELAY: a held membrane is
                                                     not reset again (s[-1]: v0 > th where
                                                     count0 == R)
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
through ``s[t-1]`` into ``a[t]`` and, with RECURRENT, into ``V*s[t-1]`` (full BPTT).

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

import triton
import triton.language as tl

from ..contracts import LifGrads, LifOptions, LifOutputs, LifParams, LifSaved, LifState, LifUpstream, lif_outputs
from ._common import (
    autotune,
    fires,
    grad_partials,
    has_flags,
    load_count,
    load_param,
    load_state,
    neuron_bwd,
    neuron_fwd,
    per_neuron_flags,
    post_reset,
    refractory_count,
    surrogate_at,
    through_same_step_reset,
)


@autotune
@triton.jit(do_not_specialize=["T", "REFR_STEPS"])
def lif_fwd_kernel(
    p_x, p_mem0, p_beta, p_threshold, p_spikes, p_pre, p_reset_bits, p_post,
    p_gain, p_v, p_spk0, p_count0, p_refr_bits, p_final_count, p_rho, p_b, p_adapt0, p_adapt,
    T, M, N, stride_xt, REFR_STEPS,
    RESET: tl.constexpr, DELAY: tl.constexpr, HAS_MEM0: tl.constexpr, STORE_POST: tl.constexpr,
    BETA_PER_NEURON: tl.constexpr, THRESHOLD_PER_NEURON: tl.constexpr,
    HAS_GAIN: tl.constexpr, GAIN_PER_NEURON: tl.constexpr, ZERO_WHOLE: tl.constexpr,
    RECURRENT: tl.constexpr, V_PER_NEURON: tl.constexpr, HAS_SPK0: tl.constexpr,
    REFRACTORY: tl.constexpr, HAS_COUNT0: tl.constexpr,
    ADAPT: tl.constexpr, RHO_PER_NEURON: tl.constexpr, B_PER_NEURON: tl.constexpr, HAS_ADAPT0: tl.constexpr,
    AT_THRESHOLD: tl.constexpr, BLOCK: tl.constexpr,
):  # fmt: skip
    o = tl.program_id(0).to(tl.int64) * BLOCK + tl.arange(0, BLOCK)
    m_o = o < M
    beta = load_param(p_beta, o % N, m_o, BETA_PER_NEURON)
    thr = load_param(p_threshold, o % N, m_o, THRESHOLD_PER_NEURON)
    if HAS_GAIN:
        gain = load_param(p_gain, o % N, m_o, GAIN_PER_NEURON)
    post = load_state(p_mem0, o, m_o, HAS_MEM0, BLOCK)
    # th: this step's threshold; th_prev: the previous step's (the one its spike crossed).
    if ADAPT:
        rho = load_param(p_rho, o % N, m_o, RHO_PER_NEURON)
        b_ad = load_param(p_b, o % N, m_o, B_PER_NEURON)
        adapt = load_state(p_adapt0, o, m_o, HAS_ADAPT0, BLOCK)
        th_prev = thr + b_ad * adapt
        th = th_prev
        p_adapt += o
    else:
        th = thr
        th_prev = thr
    if RECURRENT or ADAPT:
        if RECURRENT:
            v_rec = load_param(p_v, o % N, m_o, V_PER_NEURON)
        s_prev = load_state(p_spk0, o, m_o, HAS_SPK0, BLOCK)
    if REFRACTORY:
        count = load_count(p_count0, o, m_o, HAS_COUNT0, BLOCK)
        if DELAY:
            # The delayed reset is the previous step's spike (step -1 fired where count0 == R):
            # a membrane held above threshold is not reset again.
            pending = fires(post, th_prev, AT_THRESHOLD) * (count == REFR_STEPS).to(tl.float32)
    # Pointers advance one row per step: pointer arithmetic is 64-bit, so T*B*N may exceed 2**31.
    p_x += o
    p_spikes += o
    p_pre += o
    p_reset_bits += o
    p_post += o
    p_refr_bits += o
    for _ in range(T):
        x = tl.load(p_x, mask=m_o, other=0.0).to(tl.float32)
        if HAS_GAIN:
            x = gain * x
        if ADAPT:
            adapt = rho * adapt + s_prev
            tl.store(p_adapt, adapt, mask=m_o)
            th = thr + b_ad * adapt
        if RESET == 2:
            r = tl.zeros([BLOCK], dtype=tl.float32)
        elif REFRACTORY and DELAY:
            r = pending
        else:
            r = fires(post, th_prev, AT_THRESHOLD)
        if RESET == 1 and not ZERO_WHOLE:
            pre = beta * (post * (1.0 - r)) + x
        else:
            pre = beta * post + x
        if RECURRENT:
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
            fire = (fires(pre, th, AT_THRESHOLD) > 0) & (~refr)
            count = refractory_count(count, fire, REFR_STEPS)
            tl.store(p_refr_bits, refr.to(tl.int8), mask=m_o)
            s = fire.to(tl.float32)
        else:
            s = fires(pre, th, AT_THRESHOLD)
        tl.store(p_spikes, s.to(p_spikes.dtype.element_ty), mask=m_o)
        tl.store(p_pre, pre, mask=m_o)
        if DELAY:
            post = pre
            if REFRACTORY:
                pending = s
        else:
            tl.store(p_reset_bits, r.to(tl.int8), mask=m_o)
            post = post_reset(pre, s, r, thr, RESET)
            if STORE_POST:
                tl.store(p_post, post, mask=m_o)
        if RECURRENT or ADAPT:
            s_prev = s
        if ADAPT:
            th_prev = th
            p_adapt += M
        p_x += stride_xt
        p_spikes += M
        p_pre += M
        p_reset_bits += M
        p_post += M
        p_refr_bits += M
    if REFRACTORY:
        tl.store(p_final_count + o, count, mask=m_o)


@autotune
@triton.jit(do_not_specialize=["T", "REFR_STEPS"])
def lif_bwd_kernel(
    p_g_spikes, p_g_mem, p_pre, p_reset_bits, p_sgrad, p_mem0, p_beta, p_threshold,
    p_dx, p_dmem0, p_dbeta, p_dthreshold,
    p_gain, p_v, p_spk0, p_count0, p_refr_bits, p_dspk0, p_dv,
    p_rho, p_b, p_adapt0, p_adapt, p_dadapt0, p_drho, p_db, p_g_adapt,
    T, M, N, stride_g_spikes, stride_g_mem, stride_g_adapt, sg_param, sg_param2, REFR_STEPS,
    RESET: tl.constexpr, DELAY: tl.constexpr, HAS_MEM0: tl.constexpr, HAS_G_MEM: tl.constexpr,
    BETA_PER_NEURON: tl.constexpr, THRESHOLD_PER_NEURON: tl.constexpr,
    NEED_DBETA: tl.constexpr, NEED_DTHRESHOLD: tl.constexpr, SURROGATE: tl.constexpr,
    HAS_GAIN: tl.constexpr, GAIN_PER_NEURON: tl.constexpr, ZERO_WHOLE: tl.constexpr,
    RECURRENT: tl.constexpr, V_PER_NEURON: tl.constexpr, HAS_SPK0: tl.constexpr, NEED_DV: tl.constexpr,
    REFRACTORY: tl.constexpr, HAS_COUNT0: tl.constexpr,
    ADAPT: tl.constexpr, RHO_PER_NEURON: tl.constexpr, B_PER_NEURON: tl.constexpr, HAS_ADAPT0: tl.constexpr,
    NEED_DRHO: tl.constexpr, NEED_DB: tl.constexpr, HAS_G_ADAPT: tl.constexpr, AT_THRESHOLD: tl.constexpr,
    BLOCK: tl.constexpr,
):  # fmt: skip
    o = tl.program_id(0).to(tl.int64) * BLOCK + tl.arange(0, BLOCK)
    m_o = o < M
    beta = load_param(p_beta, o % N, m_o, BETA_PER_NEURON)
    thr = load_param(p_threshold, o % N, m_o, THRESHOLD_PER_NEURON)
    if HAS_GAIN:
        gain = load_param(p_gain, o % N, m_o, GAIN_PER_NEURON)
    v0 = load_state(p_mem0, o, m_o, HAS_MEM0, BLOCK)
    if RECURRENT or ADAPT:
        if RECURRENT:
            v_rec = load_param(p_v, o % N, m_o, V_PER_NEURON)
        s0 = load_state(p_spk0, o, m_o, HAS_SPK0, BLOCK)
    if ADAPT:
        rho = load_param(p_rho, o % N, m_o, RHO_PER_NEURON)
        b_ad = load_param(p_b, o % N, m_o, B_PER_NEURON)
        a0 = load_state(p_adapt0, o, m_o, HAS_ADAPT0, BLOCK)
    if REFRACTORY:  # 1 where step -1 fired: the delayed reset of step 0 (see the forward)
        fired0 = (load_count(p_count0, o, m_o, HAS_COUNT0, BLOCK) == REFR_STEPS).to(tl.float32)
    g_acarry = tl.zeros([BLOCK], dtype=tl.float32)  # dL/d a[t] through step t+1 (ADAPT)
    g_thcarry = tl.zeros([BLOCK], dtype=tl.float32)  # dL/d th[t] through step t+1's reset (ADAPT)
    acc_rho = tl.zeros([BLOCK], dtype=tl.float32)
    acc_b = tl.zeros([BLOCK], dtype=tl.float32)
    g_carry = tl.zeros([BLOCK], dtype=tl.float32)  # dL/d post[t] through step t+1
    g_scarry = tl.zeros([BLOCK], dtype=tl.float32)  # dL/d s[t] through step t+1 (RECURRENT)
    acc_beta = tl.zeros([BLOCK], dtype=tl.float32)
    acc_thr = tl.zeros([BLOCK], dtype=tl.float32)
    acc_rec = tl.zeros([BLOCK], dtype=tl.float32)
    # Walk rows T-1 .. 0 with 64-bit pointers; pre[t], r[t] and the refractory flag q[t]
    # are carried from the previous iteration's loads of row t-1.
    last = (T - 1).to(tl.int64)
    p_g_spikes += o + last * stride_g_spikes
    p_g_mem += o + last * stride_g_mem
    p_pre += o + last * M
    p_sgrad += o + last * M
    p_reset_bits += o + last * M
    p_refr_bits += o + last * M
    p_dx += o + last * M
    p_adapt += o + last * M
    p_g_adapt += o + last * stride_g_adapt
    pre = tl.load(p_pre, mask=m_o, other=0.0)
    if ADAPT:
        a_cur = tl.load(p_adapt, mask=m_o, other=0.0)
    if DELAY:
        r = tl.zeros([BLOCK], dtype=tl.float32)
    else:
        r = tl.load(p_reset_bits, mask=m_o, other=0).to(tl.float32)
    if REFRACTORY:
        nq = 1.0 - tl.load(p_refr_bits, mask=m_o, other=0).to(tl.float32)  # 1 on free steps
    else:
        nq = tl.full([BLOCK], 1.0, tl.float32)
    for i in range(T):
        t = T - 1 - i
        # Membrane carried into step t: post[t-1], rebuilt from row t-1, or v0 at t == 0.
        m_prev = m_o & ((tl.zeros([BLOCK], dtype=tl.int32) + t) > 0)
        pre_prev = tl.load(p_pre - M, mask=m_prev, other=0.0)
        if REFRACTORY:
            nq_prev = 1.0 - tl.load(p_refr_bits - M, mask=m_prev, other=0).to(tl.float32)
        else:
            nq_prev = tl.full([BLOCK], 1.0, tl.float32)
        if ADAPT:  # thresholds of step t and t-1
            a_prev = tl.where(m_prev, tl.load(p_adapt - M, mask=m_prev, other=0.0), a0)
            th = thr + b_ad * a_cur
            th_p = thr + b_ad * a_prev
        else:
            th = thr
            th_p = thr
        s_prev = fires(pre_prev, th_p, AT_THRESHOLD) * nq_prev  # spikes of step t-1
        if DELAY:
            prev = tl.where(m_prev, pre_prev, v0)
            r_prev = tl.zeros([BLOCK], dtype=tl.float32)
            if RESET != 2:
                r = fires(prev, th_p, AT_THRESHOLD)
                if REFRACTORY:  # r[t] = s[t-1]
                    r = r * tl.where(m_prev, nq_prev, fired0)
        else:
            r_prev = tl.load(p_reset_bits - M, mask=m_prev, other=0).to(tl.float32)
            prev = tl.where(m_prev, post_reset(pre_prev, s_prev, r_prev, thr, RESET), v0)
        gs = tl.load(p_g_spikes, mask=m_o, other=0.0).to(tl.float32)
        if RECURRENT or ADAPT:
            gs += g_scarry
        sgrad = surrogate_at(p_sgrad, pre - th, m_o, SURROGATE, sg_param, sg_param2) * nq
        a = gs * sgrad
        g_post = g_carry
        if HAS_G_MEM:
            g_post += tl.load(p_g_mem, mask=m_o, other=0.0).to(tl.float32)
        if DELAY:
            g_pre = a + g_post
        else:
            s_now = fires(pre, thr, AT_THRESHOLD) * nq
            g_pre, g_thr = through_same_step_reset(a, g_post, pre, s_now, r, thr, sgrad, RESET)
            if NEED_DTHRESHOLD:
                acc_thr += g_thr
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
        if NEED_DV:
            acc_rec += g_pre * din * tl.where(m_prev, s_prev, s0)
        if ADAPT:
            # th[t] = thr + b*a[t] feeds s[t] and (subtract) step t+1's reset; a[t] = rho*a[t-1] + s[t-1].
            g_th = g_thcarry - a
            g_a = b_ad * g_th + rho * g_acarry
            if HAS_G_ADAPT:
                g_a += tl.load(p_g_adapt, mask=m_o, other=0.0).to(tl.float32)
            acc_thr += g_th
            if NEED_DB:
                acc_b += g_th * a_cur
            if NEED_DRHO:
                acc_rho += g_a * a_prev
            g_acarry = g_a
            if RESET == 0:
                g_thcarry = -r * g_pre
        elif NEED_DTHRESHOLD:
            acc_thr -= a
            if RESET == 0:
                acc_thr -= g_pre * r
        # Free step: d pre / d post[t-1] = beta*keep; refractory step: keep alone.
        g_carry = (beta * nq + (1.0 - nq)) * keep * g_pre
        if RECURRENT:
            g_scarry = v_rec * din * g_pre
        if ADAPT:
            if RECURRENT:
                g_scarry += g_acarry
            else:
                g_scarry = g_acarry
            a_cur = a_prev
        pre = pre_prev
        r = r_prev
        nq = nq_prev
        p_g_spikes -= stride_g_spikes
        p_g_mem -= stride_g_mem
        p_pre -= M
        p_sgrad -= M
        p_reset_bits -= M
        p_refr_bits -= M
        p_dx -= M
        p_adapt -= M
        p_g_adapt -= stride_g_adapt
    tl.store(p_dmem0 + o, g_carry, mask=m_o)
    if RECURRENT or ADAPT:
        tl.store(p_dspk0 + o, g_scarry, mask=m_o)
    if ADAPT:
        # th[-1] = thr + b*a0 fed step 0's reset.
        acc_thr += g_thcarry
        acc_b += g_thcarry * a0
        tl.store(p_dadapt0 + o, rho * g_acarry + b_ad * g_thcarry, mask=m_o)
        if NEED_DRHO:
            tl.store(p_drho + o, acc_rho, mask=m_o)
        if NEED_DB:
            tl.store(p_db + o, acc_b, mask=m_o)
    # Per-element partials summed over time here; the batch sum is one torch reduction.
    if NEED_DBETA:
        tl.store(p_dbeta + o, acc_beta, mask=m_o)
    if NEED_DTHRESHOLD:
        tl.store(p_dthreshold + o, acc_thr, mask=m_o)
    if NEED_DV:
        tl.store(p_dv + o, acc_rec, mask=m_o)


def _flags(state: LifState, params: LifParams, opts: LifOptions) -> dict:
    """The constexpr flags both kernels take, derived from the records."""
    return dict(
        RESET=int(opts.reset),
        DELAY=opts.delay,
        ZERO_WHOLE=opts.zero_whole,
        HAS_GAIN=params.gain is not None,
        RECURRENT=params.v is not None,
        ADAPT=params.rho is not None,
        REFRACTORY=opts.refractory > 0,
        AT_THRESHOLD=opts.at_threshold,
        **per_neuron_flags(params),
        **has_flags(state),
    )


def lif_fwd(x, state: LifState, params: LifParams, opts: LifOptions) -> LifOutputs:
    """Launch the forward kernel; same contract as ``torchimpl.lif.lif_fwd``."""
    out = lif_outputs(x, opts, adapt=params.rho is not None)
    return neuron_fwd(lif_fwd_kernel, x, state, params, out, opts, seq=out.pre, **_flags(state, params, opts))


def lif_bwd(
    up: LifUpstream, saved: LifSaved, state: LifState, params: LifParams, opts: LifOptions, need: LifParams, x_dtype
) -> LifGrads:
    """Launch the backward kernel; same contract as ``torchimpl.lif.lif_bwd``."""
    spiking_state = params.v is not None or params.rho is not None
    grads = grad_partials(
        LifGrads, saved.pre, x_dtype, need, dmem0=True, dspk0=spiking_state, dadapt0=params.rho is not None
    )
    return neuron_bwd(
        lif_bwd_kernel, up, saved, state, params, opts, need, grads=grads, seq=saved.pre, **_flags(state, params, opts)
    )
