"""First-order integrate-and-fire dynamics (Leaky, IF, Lapicque, RLeaky one-to-one,
refractory periods) in PyTorch.

Shapes: ``x`` is ``[T, B, N]`` (``N`` = features per sample), state ``[B, N]``,
parameters (``beta``, ``threshold``, ``gain``, ``rec``) fp32 of shape ``[1]`` or
``[N]`` (already clamped/broadcast by the caller). The recurrence is written out in
``tritonsnn/kernels/lif.py``'s module docstring; both implementations follow it
step for step. Options left at their defaults (``gain=None``, ``rec=None``,
``refractory=0``) run exactly Leaky's loop.
"""
from __future__ import annotations

import torch

from .. import _alloc
from .. import surrogate as sg
from ..contracts import LifGrads, LifOptions, LifOutputs, LifParams, LifSaved, LifState, LifUpstream, Reset, lif_outputs

RESET_SUBTRACT, RESET_ZERO = Reset.SUBTRACT, Reset.ZERO


def _rows(seq):
    """``seq``'s rows as views, made at once: indexing a row per step costs about as much as a
    small op on it."""
    return None if seq is None else seq.unbind(0)


def _chunk_rows(like, chunk: int, on: bool = True):
    """Scratch rows for one chunk of steps of ``like [T, B, N]`` (None unless ``on``). The reverse
    loops reuse them for every chunk: a fresh tensor per chunk costs more than the op filling it."""
    return like.new_empty(min(chunk, like.shape[0]), *like.shape[1:]) if on else None


def _full_row(param, N):
    """A ``[1]`` or ``[N]`` parameter as a contiguous ``[N]`` row. An op over a chunk whose other
    operands all broadcast from ``[1]`` (``addcmul(beta, sgrad, V)``) takes a slow unvectorised
    path in PyTorch, about four times slower than with one ``[N]`` operand."""
    return param.expand(N).contiguous()


def _surrogate(x, surrogate, given, t0, t1):
    """The surrogate gradient of steps t0..t1 into ``x`` (a temporary holding membrane minus
    threshold), copied from ``given`` where it comes precomputed."""
    return x.copy_(given[t0:t1]) if given is not None else sg.grad_(x, surrogate)


def _post_reset(m, s, r, thr, reset):
    """Membrane after the same-step reset (``reset_delay=False``): ``m - (s - r)*thr`` or ``m - (s - r)*m``."""
    d = s - r
    return m - d * thr if reset == RESET_SUBTRACT else m - d * m


def _reset_now(m, s, r, thr, reset, bits_t, post_t):
    """Without ``reset_delay``: store step t's reset flags (and, given ``post_t``, the post-reset
    membrane); return the post-reset membrane and the flags of step t+1."""
    bits_t.copy_(r)
    p = _post_reset(m, s, r, thr, reset)
    if post_t is not None:
        post_t.copy_(p)
    return p, (p > thr).to(torch.float32)


def lif_fwd(x, state: LifState, params: LifParams, opts: LifOptions) -> LifOutputs:
    """Forward time loop. Returns ``(spikes, pre, reset_bits, post, refr_bits, count, adapt)``.

    ``pre`` is the membrane before the same-step reset (all that backward needs
    when ``delay``); ``reset_bits`` and ``post`` are only filled when ``delay``
    is False (``post`` only when ``need_post``), else empty. ``refr_bits`` (int8,
    1 on refractory steps) and ``count`` (the final int32 refractory counter) are
    only filled when ``refractory > 0``, else empty. ``adapt`` is the adaptation
    sequence ``a[t]`` (fp32) when ``rho`` is given (ALIF, ``delay`` only), else empty.
    """
    v0, s0, a0, c0 = state
    beta, thr, gain, rec, rho, b = params
    reset, delay, zero_whole, refractory, need_post = opts.reset, opts.delay, opts.zero_whole, opts.refractory, \
        opts.need_mem
    T, B, N = x.shape
    dev, f32 = x.device, torch.float32
    refr, adapt = refractory > 0, rho is not None
    spikes, pre, bits, post, qbits, count_out, aseq = lif_outputs(x, opts, adapt)
    p = torch.zeros(B, N, dtype=f32, device=dev) if v0 is None else v0.to(f32)
    s_prev = None
    if rec is not None or adapt:
        s_prev = torch.zeros(B, N, dtype=f32, device=dev) if s0 is None else s0.to(f32)
    if refr:
        # The counter kept as the step of the last spike, count[t] = max(R - (t - last), 0),
        # in fp32 (exact for whole steps) so that every per-step op is a fast float op.
        c = torch.zeros(B, N, dtype=f32, device=dev) if c0 is None else c0.to(f32)
        last = c - (refractory + 1)
        free = torch.empty(B, N, dtype=f32, device=dev)
    if adapt:
        a = torch.zeros(B, N, dtype=f32, device=dev) if a0 is None else a0.to(f32)
        th_prev = thr + b * a        # threshold of the previous step: the one its spike crossed
    else:
        th = th_prev = thr
    zero_before = reset == RESET_ZERO and not zero_whole
    r = (p > th_prev).to(f32)
    xs, pres, spks = _rows(x), _rows(pre), _rows(spikes)
    for t in range(T):
        m = pres[t]
        if adapt:
            a = torch.addcmul(s_prev, rho, a, out=aseq[t])
            th = thr + b * a
        xt = xs[t] if gain is None else gain * xs[t]
        beta_t, s_in = beta, s_prev
        if refr:
            # Refractory step: no input (x*0) and no leak (decay exactly 1); the pending
            # reset below still applies. Multiplying by exact 0/1 keeps free steps bitwise.
            torch.lt(last, float(t - refractory), out=free)
            torch.ge(last, float(t - refractory), out=qbits[t])
            xt = xt * free
            beta_t = torch.addcmul(1 - free, free, beta)
            if rec is not None:
                s_in = s_prev * free
        keep = 1 - r if reset == RESET_ZERO else None
        pz = p * keep if keep is not None else p
        torch.addcmul(xt, beta_t, pz if zero_before else p, out=m)
        if rec is not None:
            m.addcmul_(rec, s_in)
        if zero_whole and keep is not None:
            m.mul_(keep)
        if reset == RESET_SUBTRACT:
            m.addcmul_(r, th_prev, value=-1)
        if refr:
            above = torch.gt(m, th, out=torch.empty_like(m))
            sf = above * free
            spks[t].copy_(sf)
            last.addcmul_(sf, float(t) - last)     # last = t where it fired
        else:
            s = torch.gt(m, th, out=spks[t])
            sf = s if s.dtype == f32 else s.to(f32)
        if delay:
            p = m
            # r[t+1] = H(pre[t] - thr), which is s[t] unless s was forced to 0.
            r = sf if not refr else above
        else:
            p, r = _reset_now(m, sf, r, thr, reset, bits[t], post[t] if need_post else None)
        s_prev = sf
        th_prev = th
    if refr:
        count_out.copy_((last + (refractory - (T - 1))).clamp_(min=0))
    return LifOutputs(spikes, pre, bits, post, qbits, count_out, aseq)


# Backward works through time in chunks of about this many elements: big enough to
# amortise per-op overhead, small enough that the temporaries stay in cache (512 KiB of
# fp32 each; at B*N = 32768 four steps were 4-8% faster than two for Synaptic/RLeaky/RSynaptic).
CHUNK_ELEMS = 1 << 17


def lif_bwd(up: LifUpstream, saved: LifSaved, state: LifState, params: LifParams, opts: LifOptions,
            need: LifParams, x_dtype) -> LifGrads:
    """Reverse time loop. Returns ``(dx, dv0, dbeta, dthr, ds0, drec, da0, drho, db)``;
    parameter gradients shaped like their parameter, ``None`` where not needed (``ds0``
    only with ``rec`` or adaptation, ``da0`` only with adaptation).

    ``grad_spikes``/``grad_mem`` are the gradients of the spikes and of the returned
    membrane (``pre`` when ``delay``, ``post`` otherwise), ``None`` when unused.
    ``qbits`` holds the refractory flags (``None`` without refractory periods);
    ``aseq`` the adaptation sequence when ``rho`` is given (ALIF), ``grad_adapt``
    the gradient of the returned adaptation sequence (``None`` when unused).
    Within a chunk of steps, everything without a time recurrence (surrogate,
    Jacobian factors, parameter-gradient terms) is computed at once; the loop
    itself is ``g_pre[t] = P[t] + K[t] * g_pre[t+1]`` (plus, with adaptation, the
    coupled ``g_a[t] = Q[t] + K3[t] * g_pre[t+1] + K4[t] * g_a[t+1]``).
    """
    grad_spikes, grad_mem, grad_adapt = up
    pre, bits, qbits, aseq, given_sgrad = saved
    v0, s0, a0, _ = state
    beta, thr, gain, rec, rho, b = params
    reset, delay, zero_whole, surrogate = opts.reset, opts.delay, opts.zero_whole, opts.surrogate
    need_dbeta, need_dthr, need_drec, need_drho, need_db = need.beta, need.threshold, need.v, need.rho, need.b
    T, B, N = pre.shape
    f32 = torch.float32
    adapt = rho is not None
    spk_state = rec is not None or adapt     # s[t-1] feeds step t
    v0 = pre.new_zeros(B, N) if v0 is None else v0.to(f32)
    if spk_state:
        s0 = pre.new_zeros(B, N) if s0 is None else s0.to(f32)
    if adapt:
        a0 = pre.new_zeros(B, N) if a0 is None else a0.to(f32)
    g_pre = torch.empty_like(pre)
    # The input gradient is g_pre itself unless gain, a zeroing reset of the input or
    # refractory steps scale it.
    scale_dx = gain is not None or (zero_whole and reset == RESET_ZERO) or qbits is not None
    dx = _alloc.empty(T, B, N, dtype=x_dtype, device=pre.device) if scale_dx else None
    zeros = lambda: pre.new_zeros(B, N)  # noqa: E731
    acc_beta = zeros() if need_dbeta else None
    acc_thr = zeros() if need_dthr else None
    acc_rec = zeros() if need_drec else None
    acc_rho = zeros() if need_drho else None
    acc_b = zeros() if need_db else None
    # Factors of the first step after the chunk: g_pre, g_a, coef (d pre/d post[t-1]),
    # vcoef (d pre/d s[t-1] through rec) and rsub (the reset flag when it subtracts th[t-1]).
    g_next, ga_next, coef_next, vcoef_next, rsub_next = zeros(), zeros(), zeros(), zeros(), zeros()
    g_after = ga_after = None
    # The reset flags matter to the zero reset, and to subtract's threshold/adaptation gradients.
    need_r = reset == RESET_ZERO or (reset == RESET_SUBTRACT and (need_dthr or need_db or adapt))
    # Leaky's plain case: d pre[t]/d post[t-1] is beta itself, broadcast in the loop.
    # With delay and no zero reset, refractory steps or adaptation, d pre[t+1]/d pre[t] is
    # beta (+ rec*sgrad[t]) with constant factors: no per-step factor tensors to build.
    const_coef = delay and reset != RESET_ZERO and qbits is None and not adapt
    const_k = const_coef and rec is None
    chunk = max(1, CHUNK_ELEMS // max(1, B * N))
    if need_drec:
        spk_rows, acc_rec_rows = _chunk_rows(pre, chunk), _chunk_rows(pre, chunk).zero_()
    for t1 in range(T, 0, -chunk):
        t0 = max(0, t1 - chunk)
        c = t1 - t0
        pc = pre[t0:t1]
        lo = max(t0 - 1, 0)
        nq = None if qbits is None else 1 - qbits[t0:t1].to(f32)     # 1 on free steps
        nq_prev = None if qbits is None else 1 - qbits[lo:t1 - 1].to(f32)
        if adapt:   # thresholds of each step (th_c) and of the step before (th_p)
            a_c = aseq[t0:t1]
            a_first = a0 if t0 == 0 else aseq[t0 - 1]
            # Same ops as the forward loop (no fused multiply-add), so recomputed flags agree bitwise.
            th_c = thr + b * a_c
            th_p = torch.cat([(thr + b * a_first)[None].expand(1, B, N), th_c[:-1]])
            th_lo = th_p[1:] if t0 == 0 else th_p     # thresholds of rows lo .. t1-2
            a_p = torch.cat([a_first[None], aseq[t0:t1 - 1]]) if need_db or need_drho else None
        else:
            th_c = th_p = th_lo = thr
        # Membrane carried into each step of the chunk (post[t-1], v0 at t = 0) and reset flags,
        # built only where something reads them.
        if delay:
            prev = r = None
            if need_dbeta or need_r:
                prev = torch.cat([(v0 if t0 == 0 else pre[t0 - 1])[None], pre[t0:t1 - 1]])
            if need_r:
                r = (prev > th_p).to(f32)
        else:
            r = bits[t0:t1].to(f32)
            s_lo = (pre[lo:t1 - 1] > thr).to(f32)
            if nq_prev is not None:
                s_lo = s_lo * nq_prev
            post_prev = _post_reset(pre[lo:t1 - 1], s_lo, bits[lo:t1 - 1].to(f32), thr, reset)
            prev = torch.cat([v0[None], post_prev]) if t0 == 0 else post_prev
        if need_drec:   # spikes of steps lo .. t1-2 (s[t-1] for each t of the chunk but t = 0), as fp32
            s_lo = torch.gt(pre[lo:t1 - 1], th_lo, out=spk_rows[:t1 - 1 - lo])
            if nq_prev is not None:
                s_lo.mul_(nq_prev)
        sgrad = _surrogate(pc - th_c, surrogate, given_sgrad, t0, t1)
        if nq is not None:
            sgrad = sgrad * nq
        keep = 1 - r if reset == RESET_ZERO else None
        kin = keep if zero_whole else None                   # input terms zeroed with the reset
        # d pre[t] / d post[t-1]: beta (times the zero-reset keep) on free steps, keep alone when refractory.
        coef = beta * keep if keep is not None else beta.expand(c, 1, -1)
        if nq is not None:
            hold = keep if keep is not None else 1.0
            coef = nq * coef + (1 - nq) * hold
        din = nq if kin is None else (kin if nq is None else kin * nq)   # d pre / d(gain*x + rec*s_prev)
        vcoef = None
        if rec is not None:
            vcoef = rec * din if din is not None else rec.expand(c, 1, -1)
        rsub = r if reset == RESET_SUBTRACT else None

        def shifted(f, f_next):   # the factor of step t+1, for each t of the chunk
            return torch.cat([f[1:].expand(c - 1, B, N), f_next[None]]) if c > 1 else f_next[None]
        coef_sh = None if const_coef else shifted(coef, coef_next)
        vcoef_sh = None
        if rec is not None:   # broadcasts like a [c, B, N] factor when constant
            vcoef_sh = rec if const_coef else shifted(vcoef, vcoef_next)
        if delay:
            post_jac = None
            d = None
        else:
            sc = (pc > thr).to(f32)
            if nq is not None:
                sc = sc * nq
            d = sc - r
            # The surrogate also flows through the same-step reset, as in snnTorch.
            post_jac = 1 - thr * sgrad if reset == RESET_SUBTRACT else (1 - d) - pc * sgrad
        gs = grad_spikes[t0:t1] if grad_spikes is not None else None
        gm = grad_mem[t0:t1].to(f32) if grad_mem is not None else None
        # g_pre[t] = sgrad*(gs + vcoef[t+1]*g_pre[t+1] + g_a[t+1]) + post_jac*(gm + coef[t+1]*g_pre[t+1])
        sg_gs = sgrad * gs if gs is not None else torch.zeros_like(pc)
        P = sg_gs
        if gm is not None:
            P = P + (gm if post_jac is None else post_jac * gm)
        if const_k:
            K = beta
        elif const_coef:      # RLeaky: beta + rec*sgrad[t] in one op
            K = torch.addcmul(_full_row(beta, N), sgrad, rec)
        else:
            K = coef_sh if post_jac is None else post_jac * coef_sh
            if rec is not None:
                K = K + sgrad * vcoef_sh
        gc = g_pre[t0:t1]
        if adapt:
            # g_a[t] = b*g_th[t] + rho*g_a[t+1], g_th[t] = -sgrad*g_s[t] - rsub[t+1]*g_pre[t+1]
            rsub_sh = shifted(rsub, rsub_next) if rsub is not None else None
            Q = sg_gs * -b
            if grad_adapt is not None:
                Q = Q + grad_adapt[t0:t1]
            k3 = sgrad * vcoef_sh if rec is not None else None
            if rsub_sh is not None:
                k3 = rsub_sh if k3 is None else k3 + rsub_sh
            K3 = k3 * -b if k3 is not None else torch.zeros_like(pc)
            K4 = torch.addcmul(_full_row(rho, N), b, sgrad, value=-1)
            ga_c = torch.empty_like(pc)
            P_r, K_r, gc_r, sg_r, Q_r, K3_r, K4_r, ga_r = map(_rows, (P, K, gc, sgrad, Q, K3, K4, ga_c))
            for i in range(c - 1, -1, -1):
                gi = torch.addcmul(P_r[i], K_r[i], g_next, out=gc_r[i]).addcmul_(sg_r[i], ga_next)
                ga_i = torch.addcmul(Q_r[i], K3_r[i], g_next, out=ga_r[i]).addcmul_(K4_r[i], ga_next)
                g_next, ga_next = gi, ga_i
        else:
            P_r, K_r, gc_r = _rows(P), (None if const_k else _rows(K)), _rows(gc)
            for i in range(c - 1, -1, -1):
                g_next = torch.addcmul(P_r[i], K if const_k else K_r[i], g_next, out=gc_r[i])
        need_param_grads = need_dthr or need_db or need_drho
        if need_param_grads and (spk_state or post_jac is not None):   # g_pre[t+1] for each t of the chunk
            gp_sh = torch.cat([gc[1:], g_after[None] if t1 < T else pc.new_zeros(1, B, N)])
        if adapt:
            ga_sh = torch.cat([ga_c[1:], ga_after[None] if t1 < T else pc.new_zeros(1, B, N)])
            ga_after = ga_c[0]
            rsub_next = rsub[0] if rsub is not None else rsub_next
        g_after = gc[0]
        coef_next = coef[0].expand(B, N)
        if rec is not None:
            vcoef_next = vcoef[0].expand(B, N)
        if scale_dx:
            dxc = gc * din if din is not None else gc
            torch.mul(dxc, gain, out=dx[t0:t1]) if gain is not None else dx[t0:t1].copy_(dxc)
        if need_dbeta:
            term = gc * prev
            for f in (keep, nq):
                if f is not None:
                    term = term * f
            acc_beta += term.sum(0)
        if need_drec:
            # sum_t g_pre[t] * s[t-1] (* din[t]), accumulated per row of the chunk and summed over time once.
            g_rec = gc if din is None else gc * din
            if t0 == 0:
                acc_rec.addcmul_(g_rec[0], s0)
                g_rec = g_rec[1:]
            acc_rec_rows[:g_rec.shape[0]].addcmul_(g_rec, s_lo)
        if need_param_grads:
            # dL/d s[t] from everything after the spike function: gs, rec and adaptation.
            if spk_state:
                g_spk = gs if gs is not None else torch.zeros_like(pc)
                if rec is not None:
                    g_spk = g_spk + vcoef_sh * gp_sh
                if adapt:
                    g_spk = g_spk + ga_sh
                sg_gspk = sgrad * g_spk
            else:
                sg_gspk = sg_gs
            # th[t] enters s[t] = H(pre - th[t]) (-sg_gspk) and, subtracting, pre[t+1] (-rsub*g_pre).
        if need_dthr:
            minus_g_th = sg_gspk if rsub is None else torch.addcmul(sg_gspk, gc, rsub)
            acc_thr -= minus_g_th.sum(0)
            if post_jac is not None:
                g_post = coef_sh * gp_sh
                if gm is not None:
                    g_post = g_post + gm
                dpost_dthr = thr * sgrad - d if reset == RESET_SUBTRACT else pc * sgrad
                acc_thr += (g_post * dpost_dthr).sum(0)
        if need_db:
            acc_b -= (sg_gspk * a_c).sum(0)
            if rsub is not None:
                acc_b -= (gc * rsub * a_p).sum(0)
        if need_drho:
            acc_rho += (ga_c * a_p).sum(0)
    da0 = None
    if T > 0:
        dv0 = coef_next * g_next
        ds0 = None
        if spk_state:
            ds0 = vcoef_next * g_next if rec is not None else zeros()
            if adapt:
                ds0 = ds0 + ga_next
        if adapt:
            da0 = rho * ga_next - b * rsub_next * g_next
    else:
        dv0 = zeros()
        ds0 = zeros() if spk_state else None
        da0 = zeros() if adapt else None
    dx = dx if scale_dx else g_pre.to(x_dtype)
    if need_drec:
        acc_rec += acc_rec_rows.sum(0)
    red = lambda acc, param, need: _reduce_to(acc.sum(0), param) if need else None  # noqa: E731
    return LifGrads(dx, dv0, ds0, da0, red(acc_beta, beta, need_dbeta), red(acc_thr, thr, need_dthr),
                    red(acc_rec, rec, need_drec), red(acc_rho, rho, need_drho), red(acc_b, b, need_db))


def _reduce_to(g, param):
    """Sum a per-neuron ``[N]`` gradient down to ``param``'s shape ``[1]`` or ``[N]``."""
    return g.sum().reshape(1) if param.numel() == 1 else g
