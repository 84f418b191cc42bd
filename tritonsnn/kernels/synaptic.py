"""Fused second-order kernels (Synaptic, RSynaptic one-to-one, Alpha): one template, two states.

Every neuron here carries two currents/potentials per element, ``cur`` and a
second one, and a membrane that decides spikes and resets. Per step ``t`` (all
state in fp32 registers, ``H(x) = x > 0``)::

    r[t]  = H(mem[t-1] - thr)                  reset flag from the carried membrane, no gradient

    SYNAPTIC (= Leaky with the input filtered by a current; the second state is the membrane)
    cur[t] = alpha * cur[t-1] + x[t]  (+ V * s[t-1]   RECURRENT: RSynaptic one-to-one)
    n[t]   = beta * mem[t-1] + cur[t]
    pre[t] = n[t] - r[t] * thr                 RESET == subtract
           = (1 - r[t]) * n[t]                 RESET == zero  (snnTorch zeroes the *new* membrane,
                                                               input included; Leaky zeroes the old one)
           = n[t]                              RESET == none
    s[t]   = H(pre[t] - thr)
    mem[t] = pre[t]                            DELAY (snnTorch reset_delay=True)
           = pre[t] - (s[t] - r[t]) * thr      not DELAY, subtract   (as Leaky)
           = pre[t] - (s[t] - r[t]) * pre[t]   not DELAY, zero

    ALPHA (the second state is an inhibitory current; the membrane is a readout, not a state)
    e[t]   = alpha * exc[t-1] + x[t]
    h[t]   = beta * inh[t-1] - x[t]
    m[t]   = tau * (e[t] + h[t])               tau = log(alpha) / (log(beta) - log(alpha)) + 1
    subtract: exc[t] = e[t] - r*thr,  inh[t] = (1-r) h[t],  mem[t] = m[t] + r * inh[t-1]
    zero:     exc[t] = (1-r) e[t],    inh[t] = (1-r) h[t],  mem[t] = (1-r) m[t]
    none:     exc[t] = e[t],          inh[t] = h[t],        mem[t] = m[t]
    s[t]   = H(mem[t] - thr)                   always delayed (snnTorch Alpha has no reset_delay)

REFRACTORY (R = ceil(refractory / dt) steps, counter c per element, carried as state): a
neuron that spikes at step t is refractory for steps t+1 .. t+R::

    held[t] = c[t-1] > 0                       saved as one int8 flag per element
    n[t]    = mem[t-1]           if held[t]    Synaptic: no leak, no input (cur[t] still evolves)
    m[t]    = mem[t-1]           if held[t]    Alpha: the membrane is held instead of read out
                                               (exc and inh still filter the input)
    pre[t]  = reset applied as above           a pending reset still acts (Alpha: on the
                                               currents and the held membrane alike)
    s[t]    = H(pre[t] - thr) * (1 - held[t])  no firing, hence no surrogate gradient
    c[t]    = R if s[t] else max(c[t-1] - 1, 0)

With DELAY (Alpha always) the reset flag is the previous step's spike, ``r[t] = s[t-1]``
(``H(mem0 - thr)`` where ``c[-1] == R``): a membrane held above threshold through the
period is not reset again, so one spike removes one threshold. In backward a held step
passes ``dL/dn`` to ``mem[t-1]`` with factor 1 instead of beta (Alpha: the zero reset's
``1 - r``, else 1) and nothing to the currents; the input still gets the gradient that
reaches it through the currents.

The reset terms of Alpha are snnTorch's, odd as they are (subtract adds the old
inhibitory current back onto the membrane). ``tau`` is computed by the caller with
torch ops, so autograd turns ``dtau`` into alpha/beta gradients.

Saved for backward: ``pre`` (Synaptic) or ``mem`` (Alpha) in fp32; ``cur`` (Alpha: with
``inh``) only when a decay needs a gradient or the caller wants the state sequence;
the reset bits only for Synaptic without DELAY; the refractory flags only when R > 0.
Spikes, ``mem[t-1]`` and the reset flags are recomputed. The
backward kernel walks ``T-1 .. 0`` carrying
``dL/dn[t+1]`` (membrane), ``dL/dcur[t+1]`` (current) and, for Alpha,
``dL/dinh[t+1]``; parameter gradients are per-element partials summed over time in
registers, then one torch reduction over the batch (deterministic). Like the
Leaky kernels these are compiled without FMA contraction, so every multiply and add
rounds as snnTorch's separate PyTorch ops do and spikes match it bit for bit.
"""

from __future__ import annotations

import triton
import triton.language as tl

from ..contracts import (
    SecondOrder,
    SynGrads,
    SynOptions,
    SynOutputs,
    SynParams,
    SynSaved,
    SynState,
    SynUpstream,
    syn_outputs,
)
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
def syn_fwd_kernel(
    p_x, p_cur0, p_aux0, p_mem0, p_spk0, p_count0, p_alpha, p_beta, p_tau, p_threshold, p_v,
    p_spikes, p_cur, p_aux, p_mem, p_reset_bits, p_post, p_refr_bits, p_final_count,
    T, M, N, stride_xt, REFR_STEPS,
    ALPHA: tl.constexpr, RESET: tl.constexpr, DELAY: tl.constexpr, RECURRENT: tl.constexpr,
    REFRACTORY: tl.constexpr, HAS_COUNT0: tl.constexpr, STORE_CUR: tl.constexpr, STORE_POST: tl.constexpr,
    HAS_CUR0: tl.constexpr, HAS_AUX0: tl.constexpr, HAS_MEM0: tl.constexpr, HAS_SPK0: tl.constexpr,
    ALPHA_PER_NEURON: tl.constexpr, BETA_PER_NEURON: tl.constexpr, TAU_PER_NEURON: tl.constexpr,
    THRESHOLD_PER_NEURON: tl.constexpr,
    V_PER_NEURON: tl.constexpr, AT_THRESHOLD: tl.constexpr, BLOCK: tl.constexpr,
):  # fmt: skip
    o = tl.program_id(0).to(tl.int64) * BLOCK + tl.arange(0, BLOCK)
    m_o = o < M
    alpha = load_param(p_alpha, o % N, m_o, ALPHA_PER_NEURON)
    beta = load_param(p_beta, o % N, m_o, BETA_PER_NEURON)
    thr = load_param(p_threshold, o % N, m_o, THRESHOLD_PER_NEURON)
    cur = load_state(p_cur0, o, m_o, HAS_CUR0, BLOCK)
    mem = load_state(p_mem0, o, m_o, HAS_MEM0, BLOCK)
    if ALPHA:
        tau = load_param(p_tau, o % N, m_o, TAU_PER_NEURON)
        aux = load_state(p_aux0, o, m_o, HAS_AUX0, BLOCK)
    if RECURRENT:
        v = load_param(p_v, o % N, m_o, V_PER_NEURON)
        spk = load_state(p_spk0, o, m_o, HAS_SPK0, BLOCK)
    if REFRACTORY:
        cnt = load_count(p_count0, o, m_o, HAS_COUNT0, BLOCK)
        p_refr_bits += o
        if DELAY:
            # The delayed reset is the previous step's spike (step -1 fired where count0 == R):
            # a membrane held above threshold is not reset again.
            pending = fires(mem, thr, AT_THRESHOLD) * (cnt == REFR_STEPS).to(tl.float32)
    p_x += o
    p_spikes += o
    p_cur += o
    p_aux += o
    p_mem += o
    p_reset_bits += o
    p_post += o
    for _ in range(T):
        x = tl.load(p_x, mask=m_o, other=0.0).to(tl.float32)
        if RESET == 2:
            r = tl.zeros([BLOCK], dtype=tl.float32)
        elif REFRACTORY and DELAY:
            r = pending
        else:
            r = fires(mem, thr, AT_THRESHOLD)
        cur_new = alpha * cur + x
        if RECURRENT:
            cur_new += v * spk
        if ALPHA:
            aux_new = beta * aux - x
            pre = tau * (cur_new + aux_new)
        else:
            pre = beta * mem + cur_new
        if REFRACTORY:
            held = cnt > 0
            pre = tl.where(held, mem, pre)  # no leak, no input; the reset below still applies
            tl.store(p_refr_bits, held.to(tl.int8), mask=m_o)
        if ALPHA:
            if RESET == 0:
                pre += r * aux
                cur_new -= r * thr
                aux_new = aux_new * (1.0 - r)
            elif RESET == 1:
                cur_new = cur_new * (1.0 - r)
                aux_new = aux_new * (1.0 - r)
                pre = pre * (1.0 - r)
            aux = aux_new
            if STORE_CUR:
                tl.store(p_aux, aux, mask=m_o)
        else:
            if RESET == 0:
                pre -= r * thr
            elif RESET == 1:
                pre = pre * (1.0 - r)
        cur = cur_new
        fire = fires(pre, thr, AT_THRESHOLD) > 0
        if REFRACTORY:
            fire = fire & (cnt <= 0)
            cnt = refractory_count(cnt, fire, REFR_STEPS)
            p_refr_bits += M
        s = fire.to(tl.float32)
        tl.store(p_spikes, s.to(p_spikes.dtype.element_ty), mask=m_o)
        tl.store(p_mem, pre, mask=m_o)
        if STORE_CUR:
            tl.store(p_cur, cur, mask=m_o)
        if DELAY:
            mem = pre
            if REFRACTORY:
                pending = s
        else:
            tl.store(p_reset_bits, r.to(tl.int8), mask=m_o)
            mem = post_reset(pre, s, r, thr, RESET)
            if STORE_POST:
                tl.store(p_post, mem, mask=m_o)
        if RECURRENT:
            spk = s
        p_x += stride_xt
        p_spikes += M
        p_cur += M
        p_aux += M
        p_mem += M
        p_reset_bits += M
        p_post += M
    if REFRACTORY:
        tl.store(p_final_count + o, cnt, mask=m_o)


@autotune
@triton.jit(do_not_specialize=["T", "REFR_STEPS"])
def syn_bwd_kernel(
    p_g_spikes, p_g_cur, p_g_aux, p_g_mem, p_cur, p_aux, p_mem, p_reset_bits, p_refr_bits, p_sgrad,
    p_cur0, p_aux0, p_mem0, p_spk0, p_count0, p_alpha, p_beta, p_tau, p_threshold, p_v,
    p_dx, p_dcur0, p_daux0, p_dmem0, p_dspk0, p_dalpha, p_dbeta, p_dtau, p_dthreshold, p_dv,
    T, M, N, stride_g_spikes, stride_g_cur, stride_g_aux, stride_g_mem, sg_param, sg_param2, REFR_STEPS,
    ALPHA: tl.constexpr, RESET: tl.constexpr, DELAY: tl.constexpr, RECURRENT: tl.constexpr,
    REFRACTORY: tl.constexpr, HAS_COUNT0: tl.constexpr,
    HAS_G_CUR: tl.constexpr, HAS_G_AUX: tl.constexpr, HAS_G_MEM: tl.constexpr,
    HAS_CUR0: tl.constexpr, HAS_AUX0: tl.constexpr, HAS_MEM0: tl.constexpr, HAS_SPK0: tl.constexpr,
    ALPHA_PER_NEURON: tl.constexpr, BETA_PER_NEURON: tl.constexpr, TAU_PER_NEURON: tl.constexpr,
    THRESHOLD_PER_NEURON: tl.constexpr,
    V_PER_NEURON: tl.constexpr, NEED_DALPHA: tl.constexpr, NEED_DBETA: tl.constexpr, NEED_DTAU: tl.constexpr,
    NEED_DTHRESHOLD: tl.constexpr, NEED_DV: tl.constexpr, SURROGATE: tl.constexpr, AT_THRESHOLD: tl.constexpr,
    BLOCK: tl.constexpr,
):  # fmt: skip
    o = tl.program_id(0).to(tl.int64) * BLOCK + tl.arange(0, BLOCK)
    m_o = o < M
    alpha = load_param(p_alpha, o % N, m_o, ALPHA_PER_NEURON)
    beta = load_param(p_beta, o % N, m_o, BETA_PER_NEURON)
    thr = load_param(p_threshold, o % N, m_o, THRESHOLD_PER_NEURON)
    cur0 = load_state(p_cur0, o, m_o, HAS_CUR0, BLOCK)
    mem0 = load_state(p_mem0, o, m_o, HAS_MEM0, BLOCK)
    if ALPHA:
        tau = load_param(p_tau, o % N, m_o, TAU_PER_NEURON)
        aux0 = load_state(p_aux0, o, m_o, HAS_AUX0, BLOCK)
    if RECURRENT:
        v = load_param(p_v, o % N, m_o, V_PER_NEURON)
        spk0 = load_state(p_spk0, o, m_o, HAS_SPK0, BLOCK)
    if REFRACTORY:  # 1 where step -1 fired: the delayed reset of step 0 (see the forward)
        fired0 = (load_count(p_count0, o, m_o, HAS_COUNT0, BLOCK) == REFR_STEPS).to(tl.float32)
    zero = tl.zeros([BLOCK], dtype=tl.float32)
    g_n_next = zero  # Synaptic: dL/dn[t+1];  Alpha: dL/dinh-side h[t+1]
    g_c_next = zero  # dL/dcur[t+1] (Synaptic) or dL/de[t+1] (Alpha)
    g_u_next = zero  # Alpha: dL/dmem[t+1] (subtract: mem[t+1] = ... + r[t+1] * inh[t])
    hold_next = zero  # Alpha: d mem[t+1] / d mem[t], nonzero only on a refractory step
    r_next = zero
    coef_next = beta  # d n[t+1] / d mem[t]: beta, or 1 on a refractory step
    acc_alpha = zero
    acc_beta = zero
    acc_tau = zero
    acc_thr = zero
    acc_v = zero
    last = (T - 1).to(tl.int64)
    p_g_spikes += o + last * stride_g_spikes
    p_g_cur += o + last * stride_g_cur
    p_g_aux += o + last * stride_g_aux
    p_g_mem += o + last * stride_g_mem
    p_cur += o + last * M
    p_aux += o + last * M
    p_mem += o + last * M
    p_sgrad += o + last * M
    p_reset_bits += o + last * M
    p_refr_bits += o + last * M
    p_dx += o + last * M
    pre = tl.load(p_mem, mask=m_o, other=0.0)
    for i in range(T):
        t = T - 1 - i
        m_prev = m_o & ((tl.zeros([BLOCK], dtype=tl.int32) + t) > 0)
        # Row t-1 (or the initial state at t == 0): membrane carried in, reset flag, currents.
        pre_prev = tl.load(p_mem - M, mask=m_prev, other=0.0)
        # Spikes of step t-1 and t; refractory steps cannot fire.
        s_prev = fires(pre_prev, thr, AT_THRESHOLD)
        free = tl.full([BLOCK], 1.0, tl.float32)
        if REFRACTORY:
            free = 1.0 - tl.load(p_refr_bits, mask=m_o, other=0).to(tl.float32)
            free_prev = 1.0 - tl.load(p_refr_bits - M, mask=m_prev, other=0).to(tl.float32)
            s_prev = s_prev * free_prev
        if DELAY:
            prev = tl.where(m_prev, pre_prev, mem0)
            if RESET == 2:
                r = zero
            else:
                r = fires(prev, thr, AT_THRESHOLD)
                if REFRACTORY:  # r[t] = s[t-1]
                    r = r * tl.where(m_prev, free_prev, fired0)
        else:
            r = tl.load(p_reset_bits, mask=m_o, other=0).to(tl.float32)
            r_prev = tl.load(p_reset_bits - M, mask=m_prev, other=0).to(tl.float32)
        if not DELAY:
            prev = tl.where(m_prev, post_reset(pre_prev, s_prev, r_prev, thr, RESET), mem0)
        gs = tl.load(p_g_spikes, mask=m_o, other=0.0).to(tl.float32)
        g_cur_ext = load_state(p_g_cur, 0, m_o, HAS_G_CUR, BLOCK)
        g_mem_ext = load_state(p_g_mem, 0, m_o, HAS_G_MEM, BLOCK)
        sgrad = surrogate_at(p_sgrad, pre - thr, m_o, SURROGATE, sg_param, sg_param2)
        if REFRACTORY:
            sgrad = sgrad * free
        if ALPHA:
            if NEED_DALPHA or NEED_DTAU:
                cur_prev = tl.where(m_prev, tl.load(p_cur - M, mask=m_prev, other=0.0), cur0)
            if NEED_DBETA or NEED_DTAU:
                aux_prev = tl.where(m_prev, tl.load(p_aux - M, mask=m_prev, other=0.0), aux0)
            g_aux_ext = load_state(p_g_aux, 0, m_o, HAS_G_AUX, BLOCK)
            a = sgrad * gs
            g_u = a + g_mem_ext
            if REFRACTORY:
                g_u += hold_next * g_u_next  # a held mem[t+1] is mem[t]
            g_cur = g_cur_ext + alpha * g_c_next  # dL/dexc[t]
            g_aux = g_aux_ext + beta * g_n_next  # dL/dinh[t]
            if RESET == 0:
                g_aux += r_next * g_u_next
            g_m = g_u  # dL/d the readout tau * (e + h)
            if RESET == 1:
                g_m = g_u * (1.0 - r)
            if REFRACTORY:
                g_m = g_m * free  # a held membrane ignores the currents
                hold_next = 1.0 - free
                if RESET == 1:
                    hold_next = hold_next * (1.0 - r)
            g_e = g_cur
            g_h = g_aux
            if RESET == 1:
                g_e = g_cur * (1.0 - r)
            if RESET != 2:
                g_h = g_aux * (1.0 - r)
            g_e += tau * g_m
            g_h += tau * g_m
            tl.store(p_dx, (g_e - g_h).to(p_dx.dtype.element_ty), mask=m_o)
            if NEED_DALPHA:
                acc_alpha += g_e * cur_prev
            if NEED_DBETA:
                acc_beta += g_h * aux_prev
            if NEED_DTAU:
                acc_tau += g_m * (alpha * cur_prev + beta * aux_prev)
            if NEED_DTHRESHOLD:
                acc_thr -= a
                if RESET == 0:
                    acc_thr -= g_cur * r
            g_c_next = g_e
            g_n_next = g_h
            g_u_next = g_u
            r_next = r
        else:
            g_spk = gs
            if RECURRENT:
                g_spk += v * g_c_next  # cur[t+1] += V * s[t]
            a = sgrad * g_spk
            g_post = g_mem_ext + coef_next * g_n_next  # n[t+1] = beta * mem[t] + cur[t+1]
            if DELAY:
                g_pre = a + g_post
            else:
                s_now = fires(pre, thr, AT_THRESHOLD) * free
                g_pre, g_thr = through_same_step_reset(a, g_post, pre, s_now, r, thr, sgrad, RESET)
                if NEED_DTHRESHOLD:
                    acc_thr += g_thr
            g_n = g_pre
            if RESET == 1:
                g_n = g_pre * (1.0 - r)
            g_in = g_n * free  # a refractory step ignores its current
            g_c = g_in + alpha * g_c_next + g_cur_ext
            tl.store(p_dx, g_c.to(p_dx.dtype.element_ty), mask=m_o)
            if NEED_DALPHA:
                cur_prev = tl.where(m_prev, tl.load(p_cur - M, mask=m_prev, other=0.0), cur0)
                acc_alpha += g_c * cur_prev
            if NEED_DBETA:
                acc_beta += g_in * prev
            if NEED_DV:
                acc_v += g_c * tl.where(m_prev, s_prev, spk0)
            if NEED_DTHRESHOLD:
                acc_thr -= a
                if RESET == 0:
                    acc_thr -= g_pre * r
            g_n_next = g_n
            g_c_next = g_c
            coef_next = beta
            if REFRACTORY:
                coef_next = tl.where(free > 0, beta, 1.0)
        pre = pre_prev
        p_g_spikes -= stride_g_spikes
        p_g_cur -= stride_g_cur
        p_g_aux -= stride_g_aux
        p_g_mem -= stride_g_mem
        p_cur -= M
        p_aux -= M
        p_mem -= M
        p_sgrad -= M
        p_reset_bits -= M
        p_refr_bits -= M
        p_dx -= M
    tl.store(p_dcur0 + o, alpha * g_c_next, mask=m_o)
    if ALPHA:
        d_aux0 = beta * g_n_next
        if RESET == 0:
            d_aux0 += r_next * g_u_next
        tl.store(p_daux0 + o, d_aux0, mask=m_o)
        tl.store(p_dmem0 + o, hold_next * g_u_next, mask=m_o)  # mem0 only matters if step 0 is held
    else:
        tl.store(p_dmem0 + o, coef_next * g_n_next, mask=m_o)
    if RECURRENT:
        tl.store(p_dspk0 + o, v * g_c_next, mask=m_o)
    if NEED_DALPHA:
        tl.store(p_dalpha + o, acc_alpha, mask=m_o)
    if NEED_DBETA:
        tl.store(p_dbeta + o, acc_beta, mask=m_o)
    if NEED_DTAU:
        tl.store(p_dtau + o, acc_tau, mask=m_o)
    if NEED_DTHRESHOLD:
        tl.store(p_dthreshold + o, acc_thr, mask=m_o)
    if NEED_DV:
        tl.store(p_dv + o, acc_v, mask=m_o)


def _flags(state: SynState, params: SynParams, opts: SynOptions) -> dict:
    """The constexpr flags both kernels take, derived from the records."""
    return dict(
        ALPHA=opts.neuron == SecondOrder.ALPHA,
        RESET=int(opts.reset),
        DELAY=opts.delay,
        RECURRENT=params.v is not None,
        REFRACTORY=opts.refractory > 0,
        AT_THRESHOLD=opts.at_threshold,
        **per_neuron_flags(params),
        **has_flags(state),
    )


def syn_fwd(x, state: SynState, params: SynParams, opts: SynOptions) -> SynOutputs:
    """Launch the forward kernel; same contract as ``torchimpl.synaptic.syn_fwd``."""
    out = syn_outputs(x, opts)
    flags = _flags(state, params, opts)
    return neuron_fwd(syn_fwd_kernel, x, state, params, out, opts, seq=out.mem, STORE_CUR=opts.store_cur, **flags)


def syn_bwd(
    up: SynUpstream, saved: SynSaved, state: SynState, params: SynParams, opts: SynOptions, need: SynParams, x_dtype
) -> SynGrads:
    """Launch the backward kernel; same contract as ``torchimpl.synaptic.syn_bwd``."""
    alpha, recurrent = opts.neuron == SecondOrder.ALPHA, params.v is not None
    grads = grad_partials(SynGrads, saved.mem, x_dtype, need, dcur0=True, daux0=alpha, dmem0=True, dspk0=recurrent)
    return neuron_bwd(
        syn_bwd_kernel, up, saved, state, params, opts, need, grads=grads, seq=saved.mem, **_flags(state, params, opts)
    )
