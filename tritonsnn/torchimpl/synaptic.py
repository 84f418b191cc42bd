"""Second-order dynamics (Synaptic, RSynaptic one-to-one, Alpha) in PyTorch.

Shapes: ``x`` is ``[T, B, N]``, states ``[B, N]`` fp32 (or None = zeros),
parameters fp32 ``[1]`` or ``[N]`` (clamped/broadcast by the caller). The
recurrences are written out in ``tritonsnn/kernels/synaptic.py``'s module
docstring; both implementations follow them step for step and share the
contract of ``syn_fwd`` / ``syn_bwd`` below.
"""
from __future__ import annotations

import functools

import torch

from .. import surrogate as sg
from ..contracts import (Reset, SecondOrder, SynGrads, SynOptions, SynOutputs, SynParams, SynSaved, SynState,
                         SynUpstream, syn_outputs)
from .lif import CHUNK_ELEMS, _chunk_rows, _full_row, _post_reset, _reduce_to, _reset_now, _rows, _surrogate


RESET_SUBTRACT, RESET_ZERO, RESET_NONE = Reset.SUBTRACT, Reset.ZERO, Reset.NONE


def _zeros_or(state, B, N, dev):
    return torch.zeros(B, N, dtype=torch.float32, device=dev) if state is None else state.to(torch.float32)


def syn_fwd(x, state: SynState, params: SynParams, opts: SynOptions) -> SynOutputs:
    """Forward time loop. Returns ``(spikes, cur, aux, mem, bits, post, refr, cnt)``.

    ``cur``: synaptic current after each step (Alpha: the excitatory one) and ``aux``:
    Alpha's inhibitory current, stored only when ``store_cur`` (else empty). ``mem``:
    the membrane before a same-step reset (Synaptic) or Alpha's membrane.
    ``bits``/``post``: reset flags and post-reset membrane, only for Synaptic with
    ``delay`` False (``post`` only when ``need_post``). ``v`` is the one-to-one
    recurrent weight (RSynaptic) or None. With ``refr_steps > 0``, ``refr`` holds one
    int8 refractory flag per step and ``cnt`` the
    refractory counter after the last step; ``cnt0`` is the counter before the first.
    """
    cur0, aux0, mem0, spk0, cnt0 = state
    alpha, beta, tau, thr, v = params
    reset, delay, store_cur, need_post, refr_steps = opts.reset, opts.delay, opts.store_cur, opts.need_mem, \
        opts.refractory
    T, B, N = x.shape
    dev, f32 = x.device, torch.float32
    is_alpha = opts.neuron == SecondOrder.ALPHA
    outs = syn_outputs(x, opts)
    spikes, cur, aux, mem, bits, post, refr, cnt_out = outs
    if is_alpha:
        _alpha_fwd(x, state, params, opts, outs)
        return outs
    c = _zeros_or(cur0, B, N, dev)
    p = _zeros_or(mem0, B, N, dev)
    s_prev = _zeros_or(spk0, B, N, dev) if v is not None else None
    cnt = None
    if refr_steps > 0:
        cnt = torch.zeros(B, N, dtype=torch.int32, device=dev) if cnt0 is None else cnt0.to(torch.int32, copy=True)
    r = (p > thr).to(f32)
    xs, mems, spks = _rows(x), _rows(mem), _rows(spikes)
    # The current is kept as its own buffer: written in place, never aliased with the membrane.
    c_rows = _rows(cur) if store_cur else [torch.empty(B, N, dtype=f32, device=dev)] * T
    for t in range(T):
        m = mems[t]
        c = torch.addcmul(xs[t], alpha, c, out=c_rows[t])
        if s_prev is not None:
            c.addcmul_(v, s_prev)
        torch.addcmul(c, beta, p, out=m)
        if cnt is not None:
            held = torch.gt(cnt, 0, out=refr[t]).bool()
            torch.where(held, p, m, out=m)   # refractory: no leak, no input; the reset below still applies
        if reset == RESET_SUBTRACT:
            m.addcmul_(r, thr, value=-1)
        elif reset == RESET_ZERO:
            m.mul_(1 - r)          # snnTorch zeroes the new membrane, input included (Leaky: the old one)
        s = torch.gt(m, thr, out=spks[t])
        if cnt is not None:
            s.masked_fill_(held, 0)
            fired = s.bool()
            cnt.sub_(1).clamp_(min=0).masked_fill_(fired, refr_steps)
        s32 = s if s.dtype == f32 else s.to(f32)
        if s_prev is not None:
            s_prev = s32
        if delay:
            # r[t+1] = H(pre[t] - thr): the spike itself unless a refractory step held it back.
            p, r = m, (s32 if cnt is None else (m > thr).to(f32))
        else:
            p, r = _reset_now(m, s32, r, thr, reset, bits[t], post[t] if need_post else None)
    if cnt is not None:
        cnt_out.copy_(cnt)
    return outs


def _alpha_fwd(x, state: SynState, params: SynParams, opts: SynOptions, outs: SynOutputs):
    # Every step writes into preallocated rows (out=): a fresh [B, N] tensor per op costs
    # more than the op itself on CPU.
    exc0, inh0, mem0, _, cnt0 = state
    alpha, beta, tau, thr, _ = params
    reset, refr_steps = opts.reset, opts.refractory
    spikes, exc, inh, mem, _, _, refr, cnt_out = outs
    T, B, N = x.shape
    dev, f32 = x.device, torch.float32
    e = _zeros_or(exc0, B, N, dev)
    h = _zeros_or(inh0, B, N, dev)
    if not exc.numel():   # currents not kept: two alternating rows each stay in cache
        exc = torch.empty(2, B, N, dtype=f32, device=dev)
        inh = torch.empty(2, B, N, dtype=f32, device=dev)
    rows = exc.shape[0]
    u = _zeros_or(mem0, B, N, dev)
    cnt = None
    if refr_steps > 0:
        cnt = torch.zeros(B, N, dtype=torch.int32, device=dev) if cnt0 is None else cnt0.to(torch.int32, copy=True)
    # r[t] = H(mem[t-1] - thr): Alpha always delays the reset. `flag` holds r (subtract) or
    # 1 - r (zero), refreshed from each step's membrane.
    flag = torch.empty(B, N, dtype=f32, device=dev)
    refresh = torch.gt if reset == RESET_SUBTRACT else torch.le
    if reset != RESET_NONE:
        refresh(u, thr, out=flag)
    chunk = max(1, CHUNK_ELEMS // max(1, B * N))
    neg_x = torch.empty(min(chunk, T), B, N, dtype=f32, device=dev)
    xs, es, hs, mems, spks, negs = map(_rows, (x, exc, inh, mem, spikes, neg_x))
    for t in range(T):
        i = t % chunk
        if i == 0:   # -x for a chunk of steps in one op: inh[t] = beta*inh[t-1] + (-x[t]), bitwise beta*inh - x
            t1 = min(t + chunk, T)
            neg_x[:t1 - t].copy_(x[t:t1]).neg_()   # x may be half precision; the currents are fp32
        e_new = torch.addcmul(xs[t], alpha, e, out=es[t % rows])
        h_new = torch.addcmul(negs[i], beta, h, out=hs[t % rows])
        if reset == RESET_ZERO:
            # snnTorch zeroes both currents and tau * (exc + inh); with r in {0, 1} summing the
            # zeroed currents gives the same values in one op less.
            e_new.mul_(flag)
            h_new.mul_(flag)
        u_prev, u = u, torch.add(e_new, h_new, out=mems[t]).mul_(tau)   # tau * (exc + inh), snnTorch's order
        if cnt is not None:
            held = torch.gt(cnt, 0, out=refr[t]).bool()
            torch.where(held, u_prev, u, out=u)    # held membrane; the currents still filter the input
            if reset == RESET_ZERO:
                u.mul_(flag)                       # the pending reset zeroes a held membrane too
        if reset == RESET_SUBTRACT:
            u.addcmul_(flag, h)            # snnTorch: mem -= (-syn_inh_old) * reset
            e_new.addcmul_(flag, thr, value=-1)
            h_new.addcmul_(flag, h_new, value=-1)   # h * (1 - r) for r in {0, 1}, in one op
        s = torch.gt(u, thr, out=spks[t])
        if cnt is not None:
            s.masked_fill_(held, 0)
            cnt.sub_(1).clamp_(min=0).masked_fill_(s.bool(), refr_steps)
        if reset != RESET_NONE:
            refresh(u, thr, out=flag)
        e, h = e_new, h_new
    if cnt is not None:
        cnt_out.copy_(cnt)


def syn_bwd(up: SynUpstream, saved: SynSaved, state: SynState, params: SynParams, opts: SynOptions,
            need: SynParams, x_dtype) -> SynGrads:
    """Reverse time loop. Returns ``(dx, dcur0, daux0, dmem0, dspk0, dalpha, dbeta, dtau, dthr, dv)``.

    ``g_*`` are the gradients of the returned sequences (``g_mem`` of the returned
    membrane: ``post`` for Synaptic without delay), ``None`` when unused. ``refr`` is
    the forward's refractory flags (empty without refractory). ``need`` is
    ``(dalpha, dbeta, dtau, dthr, dv)`` flags; unneeded ones come back None.
    """
    g_spikes, g_cur, g_aux, g_mem = up
    cur, aux, mem, bits, refr, given_sgrad = saved
    cur0, aux0, mem0, spk0, _ = state
    alpha, beta, tau, thr, v = params
    reset, delay, surrogate = opts.reset, opts.delay, opts.surrogate
    if opts.neuron == SecondOrder.ALPHA:
        return _alpha_bwd(up, saved, state, params, opts, need, x_dtype)
    need_dalpha, need_dbeta, need_dthr, need_dv = need.alpha, need.beta, need.threshold, need.v
    T, B, N = mem.shape
    dev, f32 = mem.device, torch.float32
    c0 = _zeros_or(cur0, B, N, dev)
    p0 = _zeros_or(mem0, B, N, dev)
    s0 = _zeros_or(spk0, B, N, dev) if v is not None else None
    g_a = torch.empty_like(mem)                      # dL/d cur[t] = dL/d x[t]
    acc = {k: mem.new_zeros(B, N) for k, on in
           (("alpha", need_dalpha), ("beta", need_dbeta), ("thr", need_dthr), ("v", need_dv)) if on}
    g_n_next = g_a_next = coef_next = None           # carries from the first step of the later chunk
    chunk = max(1, CHUNK_ELEMS // max(1, B * N))
    # Reset flags are needed by the zero reset, the same-step reset and the threshold gradient.
    need_r = reset != RESET_NONE and (reset == RESET_ZERO or (not delay) or need_dthr)
    has_refr = refr.numel() > 0
    beta_row = _full_row(beta, N)
    # With V the loop below takes three ops per step: the spike gradient through V couples the
    # membrane and current recurrences. Where the membrane passes straight on (reset_delay,
    # subtract or no reset, no refractory period) and no gradient reaches the returned current,
    # eliminating dL/dmem leaves one recurrence in C[t] = dL/dcur[t] of two ops per step:
    #   C[t] = base[t] + (alpha + beta + V*sgrad[t]) * C[t+1] - alpha*beta * C[t+2],
    # with dL/dmem[t] = C[t] - alpha * C[t+1] built per chunk only where a gradient reads it.
    second_order = v is not None and delay and reset != RESET_ZERO and not has_refr and g_cur is None
    if second_order:
        ab_sum, neg_ab = _full_row(alpha + beta, N), -(alpha * beta)
        g_a_next2 = None                             # C[t0 + 1] of the later chunk
    need_sv = v is not None and (not second_order or need_dthr)
    scratch = functools.partial(_chunk_rows, mem, chunk)
    sg_rows, a_rows, pre_rows, sv_rows = scratch(), scratch(), scratch(), scratch(need_sv)
    n_rows, in_rows, spk_rows = scratch(reset == RESET_ZERO), scratch(has_refr), scratch(need_dv)
    k_rows = scratch(second_order)
    zero_row = mem.new_zeros(B, N)
    if need_dv:
        acc_v_rows = scratch().zero_()
    for t1 in range(T, 0, -chunk):
        t0 = max(0, t1 - chunk)
        n = t1 - t0
        pc = mem[t0:t1]
        # Membrane carried into each step (post[t-1], mem0 at t = 0) and reset flags.
        prev = r = None
        if delay:
            if need_dbeta or need_r:
                prev = torch.cat([(p0 if t0 == 0 else mem[t0 - 1])[None], mem[t0:t1 - 1]])
            if need_r:
                r = (prev > thr).to(f32)
        else:
            r = bits[t0:t1].to(f32)
            lo = max(t0 - 1, 0)
            s_lo = (mem[lo:t1 - 1] > thr).to(f32)
            if has_refr:
                s_lo.mul_(1 - refr[lo:t1 - 1].to(f32))
            post_prev = _post_reset(mem[lo:t1 - 1], s_lo, bits[lo:t1 - 1].to(f32), thr, reset)
            prev = torch.cat([p0[None], post_prev]) if t0 == 0 else post_prev
        sgrad = _surrogate(torch.sub(pc, thr, out=sg_rows[:n]), surrogate, given_sgrad, t0, t1)
        if has_refr:
            # A refractory step cannot fire (no surrogate) and holds the membrane: d n[t] / d post[t-1] = 1
            # instead of beta, and the current does not reach it.
            held = refr[t0:t1].to(f32)
            free = 1 - held
            sgrad.mul_(free)
            coef = torch.where(held.bool(), 1.0, beta_row)
            g_in = in_rows[:n]
        else:
            coef = free = g_in = None
        gm = g_mem[t0:t1] if g_mem is not None else None
        # dL/d spike[t] times the surrogate: the output's part here; with V the recurrence adds
        # sgrad[t] * V * dL/dcur[t+1] inside the loop.
        a = torch.mul(sgrad, g_spikes[t0:t1], out=a_rows[:n]) if g_spikes is not None else a_rows[:n].zero_()
        sv = torch.mul(sgrad, v, out=sv_rows[:n]) if need_sv else None
        g_a_later = g_a_next                             # dL/dcur at the first step of the later chunk
        keep = 1 - r if reset == RESET_ZERO else None
        base = post_jac = g_post = None
        if delay:
            # g_pre[t] = a[t] + g_mem[t] + beta * g_n[t+1]: the part without recurrence summed up front.
            base = a if gm is None else a + gm
        else:
            d = (pc > thr).to(f32) * (free if has_refr else 1) - r
            post_jac = 1 - thr * sgrad if reset == RESET_SUBTRACT else (1 - d) - pc * sgrad
            g_post = pc.new_zeros(pc.shape) if gm is None else gm.to(f32, copy=True)
        g_pre = pre_rows[:n]
        g_n = g_pre if keep is None else n_rows[:n]
        gc = g_a[t0:t1]
        if g_cur is not None:
            gc.copy_(g_cur[t0:t1])
        gc_r, base_r = _rows(gc), _rows(base)
        if second_order:
            k_r = _rows(torch.addcmul(ab_sum, sgrad, v, out=k_rows[:n]))
            for i in range(n - 1, -1, -1):
                gc_i = gc_r[i]
                if g_a_next is None:
                    gc_i.copy_(base_r[i])
                else:
                    torch.addcmul(base_r[i], k_r[i], g_a_next, out=gc_i)
                    if g_a_next2 is not None:
                        gc_i.addcmul_(neg_ab, g_a_next2)
                g_a_next2, g_a_next = g_a_next, gc_i
        else:
            pre_r, n_r, a_r, jac_r, post_r, sv_r, keep_r, free_r, coef_r, in_r = map(
                _rows, (g_pre, g_n, a, post_jac, g_post, sv, keep, free, coef, g_in))
            for i in range(n - 1, -1, -1):
                pre = pre_r[i]
                if g_post is None:                               # delay: post[t] = pre[t]
                    if g_n_next is not None:
                        torch.addcmul(base_r[i], coef_next, g_n_next, out=pre)   # n[t+1] = beta * post[t] + ...
                    else:
                        pre.copy_(base_r[i])
                else:
                    if g_n_next is not None:
                        post_r[i].addcmul_(coef_next, g_n_next)
                    torch.addcmul(a_r[i], jac_r[i], post_r[i], out=pre)
                if sv is not None and g_a_next is not None:      # cur[t+1] += V * s[t]
                    pre.addcmul_(sv_r[i], g_a_next)
                g_n_i = pre if keep is None else torch.mul(pre, keep_r[i], out=n_r[i])
                g_cur_in = g_n_i                                 # dL/dn[t] as seen by cur[t]
                if has_refr:
                    g_cur_in = torch.mul(g_n_i, free_r[i], out=in_r[i])
                # cur[t] feeds n[t] and, decayed, cur[t+1].
                gc_i = gc_r[i]
                if g_cur is not None:
                    gc_i.add_(g_cur_in)
                    if g_a_next is not None:
                        gc_i.addcmul_(alpha, g_a_next)
                elif g_a_next is not None:
                    torch.addcmul(g_cur_in, alpha, g_a_next, out=gc_i)
                else:
                    gc_i.copy_(g_cur_in)
                g_n_next, g_a_next, coef_next = g_n_i, gc_i, (beta if coef is None else coef_r[i])
        if need_dthr or (second_order and need_dbeta):   # C[t+1] for each step t of the chunk
            later = torch.cat([gc[1:], (zero_row if g_a_later is None else g_a_later)[None]])
        if second_order and (need_dbeta or need_dthr):   # dL/dmem[t] = C[t] - alpha * C[t+1]
            g_pre = g_n = torch.addcmul(gc, alpha, later, value=-1, out=g_pre)
        if need_dbeta:
            acc["beta"] += ((g_in if has_refr else g_n) * prev).sum(0)
        if need_dalpha:
            cur_prev = torch.cat([c0[None], cur[t0:t1 - 1]]) if t0 == 0 else cur[t0 - 1:t1 - 1]
            acc["alpha"] += (gc * cur_prev).sum(0)
        if need_dv:
            # sum_t dL/dcur[t] * s[t-1]: spikes recomputed straight into fp32, products accumulated
            # per row of the chunk and summed over time once at the end.
            lo = max(t0 - 1, 0)
            s_lo = torch.gt(mem[lo:t1 - 1], thr, out=spk_rows[:t1 - 1 - lo])
            if has_refr:
                s_lo.mul_(1 - refr[lo:t1 - 1].to(f32))
            g_v = gc
            if t0 == 0:
                acc["v"].addcmul_(gc[0], s0)
                g_v = gc[1:]
            acc_v_rows[:g_v.shape[0]].addcmul_(g_v, s_lo)
        if need_dthr:
            acc["thr"] -= a.sum(0)
            if sv is not None:                               # the recurrent part of the spike gradient
                acc["thr"] -= (sv * later).sum(0)
            if reset == RESET_SUBTRACT:
                acc["thr"] -= (g_pre * r).sum(0)
            if post_jac is not None:
                dpost_dthr = thr * sgrad - d if reset == RESET_SUBTRACT else pc * sgrad
                acc["thr"] += (g_post * dpost_dthr).sum(0)
    if need_dv:
        acc["v"] += acc_v_rows.sum(0)
    if T > 0:
        if second_order:   # dL/dmem[0] = C[0] - alpha * C[1]; d mem[0] / d mem0 = beta
            g_n_next = g_a_next if g_a_next2 is None else torch.addcmul(g_a_next, alpha, g_a_next2, value=-1)
            coef_next = beta
        dmem0 = coef_next * g_n_next
        dcur0 = alpha * g_a_next
        dspk0 = v * g_a_next if v is not None else None
    else:
        dmem0, dcur0 = p0.new_zeros(B, N), p0.new_zeros(B, N)
        dspk0 = p0.new_zeros(B, N) if v is not None else None
    grads = [_reduce_to(acc[k].sum(0), p) if k in acc else None
             for k, p in (("alpha", alpha), ("beta", beta), ("thr", thr), ("v", v))]
    dalpha, dbeta, dthr, dv = grads
    return SynGrads(g_a.to(x_dtype), dcur0, None, dmem0, dspk0, dalpha, dbeta, None, dthr, dv)


def _alpha_bwd(up: SynUpstream, saved: SynSaved, state: SynState, params: SynParams, opts: SynOptions,
               need: SynParams, x_dtype) -> SynGrads:
    """Alpha's reverse loop, chunked like Synaptic's: per chunk, every term without a time
    recurrence at once, so that the loop is one addcmul per state and step:
    ``g_e[t] = Pe[t] + Ke[t] * g_e[t+1]`` and ``g_h[t] = Ph[t] + Kh[t] * g_h[t+1]`` (dL/d of the
    pre-reset exc and inh of step t; for subtract, ``Ph`` holds the ``r[t+1] * dL/dmem[t+1]``
    that reaches ``inh[t]``). With a refractory period, dL/dmem first gets its own reverse
    pass: a held step passes it on to the previous membrane. The chunk terms live in scratch
    rows reused by every chunk."""
    g_spikes, g_exc, g_inh, g_mem = up
    exc, inh, mem, _, refr, given_sgrad = saved
    exc0, inh0, mem0, _, _ = state
    alpha, beta, tau, thr, _ = params
    reset, surrogate = opts.reset, opts.surrogate
    need_dalpha, need_dbeta, need_dtau, need_dthr = need.alpha, need.beta, need.tau, need.threshold
    T, B, N = mem.shape
    dev = mem.device
    subtract, zero, resets = reset == RESET_SUBTRACT, reset == RESET_ZERO, reset != RESET_NONE
    has_refr = refr.numel() > 0
    e0, h0, u0 = (_zeros_or(s, B, N, dev) for s in (exc0, inh0, mem0))
    dx = torch.empty(T, B, N, dtype=x_dtype, device=dev)
    acc = {k: mem.new_zeros(B, N) for k, on in
           (("alpha", need_dalpha), ("beta", need_dbeta), ("tau", need_dtau), ("thr", need_dthr)) if on}
    chunk = max(1, CHUNK_ELEMS // max(1, B * N))
    scratch = functools.partial(_chunk_rows, mem, chunk)
    r_rows, keep_rows, ke_rows, kh_rows = scratch(subtract), scratch(resets), scratch(zero), scratch(resets)
    a_rows, gu_rows, gm_rows, taugm_rows = scratch(), scratch(g_mem is not None or has_refr), \
        scratch(zero or has_refr), scratch()
    free_rows, hold_rows = scratch(has_refr), scratch(has_refr)
    pe_rows, ph_rows = scratch(g_exc is not None), scratch(subtract or g_inh is not None)
    ge_rows, gh_rows = scratch(), scratch()
    # Carried from the first step of the later chunk: dL/d pre-reset exc and inh, and for
    # subtract r * dL/dmem (mem[t+1] = ... + r[t+1] * inh[t]).
    g_e_next, g_h_next = mem.new_zeros(B, N), mem.new_zeros(B, N)
    ru_next = mem.new_zeros(B, N) if subtract else None
    # Refractory: dL/dmem and d mem / d mem-before at the first step of the later chunk.
    g_u_next, hold_next = (mem.new_zeros(B, N), mem.new_zeros(B, N)) if has_refr else (None, None)
    for t1 in range(T, 0, -chunk):
        t0 = max(0, t1 - chunk)
        n = t1 - t0
        u = mem[t0:t1]

        def from_prev_mem(compare, out):   # compare(mem[t-1], thr) straight into fp32 rows
            if t0 == 0:
                compare(u0, thr, out=out[0])
                compare(mem[0:t1 - 1], thr, out=out[1:])
            else:
                compare(mem[t0 - 1:t1 - 1], thr, out=out)
            return out
        r = from_prev_mem(torch.gt, r_rows[:n]) if subtract else None
        keep = from_prev_mem(torch.le, keep_rows[:n]) if resets else None     # 1 - r
        a = _surrogate(torch.sub(u, thr, out=a_rows[:n]), surrogate, given_sgrad, t0, t1)
        if g_spikes is not None:
            a.mul_(g_spikes[t0:t1])
        else:
            a.zero_()
        if has_refr:
            # A held step cannot fire; its membrane is the previous one (times 1 - r for zero).
            free = torch.eq(refr[t0:t1], 0, out=free_rows[:n])
            hold = torch.ne(refr[t0:t1], 0, out=hold_rows[:n])
            if zero:
                hold.mul_(keep)
            a.mul_(free)
        g_u = a if g_mem is None else torch.add(a, g_mem[t0:t1], out=gu_rows[:n])
        if has_refr:
            if g_u is a:
                g_u = gu_rows[:n].copy_(a)
            carry, coef = g_u_next, hold_next
            for i in range(n - 1, -1, -1):
                carry = g_u[i].addcmul_(coef, carry)
                coef = hold[i]
        g_m = torch.mul(g_u, keep, out=gm_rows[:n]) if zero else g_u
        if has_refr:
            g_m = torch.mul(g_m, free, out=gm_rows[:n])     # a held membrane ignores the currents
        tau_gm = torch.mul(g_m, tau, out=taugm_rows[:n])
        # Gradients reaching the stored exc[t] / inh[t] from outside the recurrence, times the
        # reset's keep (the reset multiplies the stored state by it).
        Pe = tau_gm
        if g_exc is not None:
            ga = g_exc[t0:t1]
            Pe = torch.addcmul(tau_gm, ga, keep, out=pe_rows[:n]) if zero else torch.add(tau_gm, ga, out=pe_rows[:n])
        Ph = tau_gm
        if subtract or g_inh is not None:
            gb = ph_rows[:n]
            if subtract:
                torch.mul(r[1:], g_u[1:], out=gb[:-1])
                gb[-1].copy_(ru_next)
                if g_inh is not None:
                    gb.add_(g_inh[t0:t1])
            else:
                gb.copy_(g_inh[t0:t1])
            if resets:
                gb.mul_(keep)
            Ph = gb.add_(tau_gm)
        Ke = torch.mul(keep, alpha, out=ke_rows[:n]) if zero else None
        Kh = torch.mul(keep, beta, out=kh_rows[:n]) if resets else None
        g_e, g_h = ge_rows[:n], gh_rows[:n]
        ne, nh = g_e_next, g_h_next
        Pe_r, Ph_r, Ke_r, Kh_r, ge_r, gh_r = map(_rows, (Pe, Ph, Ke, Kh, g_e, g_h))
        for i in range(n - 1, -1, -1):
            ne = torch.addcmul(Pe_r[i], alpha if Ke is None else Ke_r[i], ne, out=ge_r[i])
            nh = torch.addcmul(Ph_r[i], beta if Kh is None else Kh_r[i], nh, out=gh_r[i])
        torch.sub(g_e, g_h, out=dx[t0:t1])      # x enters exc and, negated, inh
        if need_dalpha or need_dtau:
            e_prev = torch.cat([e0[None], exc[t0:t1 - 1]]) if t0 == 0 else exc[t0 - 1:t1 - 1]
        if need_dbeta or need_dtau:
            h_prev = torch.cat([h0[None], inh[t0:t1 - 1]]) if t0 == 0 else inh[t0 - 1:t1 - 1]
        if need_dalpha:
            acc["alpha"] += (g_e * e_prev).sum(0)
        if need_dbeta:
            acc["beta"] += (g_h * h_prev).sum(0)
        if need_dtau:
            acc["tau"] += (g_m * (alpha * e_prev + beta * h_prev)).sum(0)
        if need_dthr:
            acc["thr"] -= a.sum(0)
            if subtract:
                # dL/d stored exc[t] = g_exc[t] + alpha * g_e[t+1]; subtract takes r[t]*thr from it.
                g_exc_full = alpha * torch.cat([g_e[1:], g_e_next[None]])
                if g_exc is not None:
                    g_exc_full += g_exc[t0:t1]
                acc["thr"] -= (g_exc_full * r).sum(0)
        g_e_next.copy_(g_e[0])
        g_h_next.copy_(g_h[0])
        if subtract:
            torch.mul(r[0], g_u[0], out=ru_next)
        if has_refr:
            g_u_next.copy_(g_u[0])
            hold_next.copy_(hold[0])
    dexc0 = alpha * g_e_next
    dinh0 = beta * g_h_next
    if subtract:
        dinh0 += ru_next
    dalpha, dbeta, dtau, dthr = (_reduce_to(acc[k].sum(0), p) if k in acc else None
                                 for k, p in (("alpha", alpha), ("beta", beta), ("tau", tau), ("thr", thr)))
    dmem0 = hold_next * g_u_next if has_refr else e0.new_zeros(B, N)   # mem0 matters only if held
    return SynGrads(dx, dexc0, dinh0, dmem0, None, dalpha, dbeta, dtau, dthr, None)
