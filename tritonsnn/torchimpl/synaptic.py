"""Second-order dynamics (Synaptic, RSynaptic one-to-one, Alpha) in PyTorch.

Shapes: ``x`` is ``[T, B, N]``, states ``[B, N]`` fp32 (or None = zeros),
parameters fp32 ``[1]`` or ``[N]`` (clamped/broadcast by the caller). The
recurrences are written out in ``tritonsnn/kernels/synaptic.py``'s module
docstring; both implementations follow them step for step and share the
contract of ``syn_fwd`` / ``syn_bwd`` below.
"""

from __future__ import annotations

from types import SimpleNamespace

import torch

from .. import _alloc
from .. import surrogate as sg
from ..contracts import (
    Reset,
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
from . import _common
from ._common import (
    F32,
    Refractory,
    above,
    as_dtype,
    carried_membrane,
    chunk_rows,
    chunk_steps,
    chunks,
    comparisons,
    could_fire,
    dpost_dthreshold,
    fired_last,
    full_row,
    head,
    param_grads,
    post_reset,
    reset_now,
    rows,
    same_step_reset_grad,
    span,
    surrogate,
    zeros_or,
)

RESET_SUBTRACT, RESET_ZERO, RESET_NONE = Reset.SUBTRACT, Reset.ZERO, Reset.NONE


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
    reset, delay, store_cur, need_post, refr_steps = (
        opts.reset,
        opts.delay,
        opts.store_cur,
        opts.need_mem,
        opts.refractory,
    )
    T, B, N = x.shape
    dev, f32 = x.device, F32
    is_alpha = opts.neuron == SecondOrder.ALPHA
    outs = syn_outputs(x, opts)
    spikes, cur, aux, mem, bits, post, refr, cnt_out = outs
    if is_alpha:
        _alpha_fwd(x, state, params, opts, outs)
        return outs
    c = zeros_or(cur0, B, N, dev)
    p = zeros_or(mem0, B, N, dev)
    s_prev = zeros_or(spk0, B, N, dev) if v is not None else None
    counter = Refractory(cnt0, refr_steps, B, N, dev) if refr_steps > 0 else None
    at = opts.at_threshold
    r = above(p, thr, at)
    if counter is not None and delay:
        r = r * fired_last(cnt0, refr_steps, r)
    xs, mems, spks = rows(x), rows(mem), rows(spikes)
    # The current is kept as its own buffer: written in place, never aliased with the membrane.
    c_rows = rows(cur) if store_cur else [torch.empty(B, N, dtype=f32, device=dev)] * T
    for t in range(T):
        c, m = synaptic_update(c, p, xs[t], s_prev, params, c_out=c_rows[t], m_out=mems[t])
        if counter is not None:
            free = counter.step(t, refr[t])
            counter.hold(m, p)  # refractory: no leak, no input; the reset below still applies
        delayed_reset_(m, r, thr, reset)
        s = above(m, thr, at, out=spks[t])
        if counter is not None:
            s.mul_(free)
        s32 = s if s.dtype == f32 else s.to(f32)
        if counter is not None:
            counter.fired(t, s32)
        if s_prev is not None:
            s_prev = s32
        if delay:
            # r[t+1] = H(pre[t] - thr) = s[t]; a refractory step's spike is 0, so its held
            # membrane is not reset again.
            p, r = m, s32
        else:
            p, r = reset_now(m, s32, r, thr, reset, bits[t], post[t] if need_post else None, at)
    if counter is not None:
        counter.final(T, cnt_out)
    return outs


def synaptic_update(c, p, xt, s_prev, params: SynParams, *, c_out=None, m_out=None):
    """One Synaptic step's current and membrane before the delayed reset, from the previous ones
    ``c``, ``p`` (and, one-to-one recurrent, the previous spikes): into ``c_out``/``m_out``, or
    (None) as autograd-tracked ops for :func:`syn_step`."""
    # Products then sums, two roundings as snnTorch's (addcmul would fuse them; see lif.py).
    c = torch.mul(c, params.alpha, out=c_out).add_(xt)
    if s_prev is not None:
        c.addcmul_(params.v, s_prev)
    return c, torch.mul(p, params.beta, out=m_out).add_(c)


def delayed_reset_(m, r, thr, reset):
    """The reset of the previous step's spike (flags ``r``) applied to the new membrane ``m``."""
    if reset == RESET_SUBTRACT:
        m.addcmul_(r, thr, value=-1)
    elif reset == RESET_ZERO:
        m.mul_(1 - r)  # snnTorch zeroes the new membrane, input included (Leaky: the old one)


def syn_step(x, state: SynState, params: SynParams, opts: SynOptions) -> SynOutputs | None:
    """One step ``x [B, N]`` as autograd-tracked ops (see ``torchimpl.lif.lif_step``): the loop
    bodies of :func:`syn_fwd`, spikes through the surrogate. Returns the outputs a step reads (the
    others None), or None where the options need the fused op (refractory periods)."""
    if opts.refractory > 0:
        return None
    B, N = x.shape
    dev, thr = x.device, params.threshold
    is_alpha = opts.neuron == SecondOrder.ALPHA
    p = zeros_or(state.mem0, B, N, dev)
    r = above(p, thr, opts.at_threshold) if opts.reset != RESET_NONE else None
    c = zeros_or(state.cur0, B, N, dev)
    aux = None
    if is_alpha:
        flag = None if r is None else (r if opts.reset == RESET_SUBTRACT else 1 - r)
        h = zeros_or(state.aux0, B, N, dev)
        c, aux, m = alpha_update(c, h, x, as_dtype(x).neg(), flag, params, opts.reset)
    else:
        s_prev = None if params.v is None else zeros_or(state.spk0, B, N, dev)
        c, m = synaptic_update(c, p, x, s_prev, params)
        delayed_reset_(m, r, thr, opts.reset)
    spikes = sg.spike(m - thr, opts.surrogate, at_zero=opts.at_threshold)
    post = None
    if opts.need_mem and not opts.delay and not is_alpha:
        post = post_reset(m, spikes, r, thr, opts.reset)
    keep = opts.store_cur
    mem = m if opts.need_mem and post is None else None
    return SynOutputs(
        as_dtype(spikes, x.dtype), c if keep else None, aux if keep else None, mem, None, post, None, None
    )


def _alpha_fwd(x, state: SynState, params: SynParams, opts: SynOptions, outs: SynOutputs):
    # Every step writes into preallocated rows (out=): a fresh [B, N] tensor per op costs
    # more than the op itself on CPU.
    exc0, inh0, mem0, _, cnt0 = state
    alpha, beta, tau, thr, _ = params
    reset, refr_steps = opts.reset, opts.refractory
    spikes, exc, inh, mem, _, _, refr, cnt_out = outs
    T, B, N = x.shape
    dev, f32 = x.device, F32
    e = zeros_or(exc0, B, N, dev)
    h = zeros_or(inh0, B, N, dev)
    if not exc.numel():  # currents not kept: two alternating rows each stay in cache
        exc = torch.empty(2, B, N, dtype=f32, device=dev)
        inh = torch.empty(2, B, N, dtype=f32, device=dev)
    n_rows = exc.shape[0]
    u = zeros_or(mem0, B, N, dev)
    counter = Refractory(cnt0, refr_steps, B, N, dev) if refr_steps > 0 else None
    # r[t] = H(mem[t-1] - thr) (with a refractory period s[t-1]): Alpha always delays the
    # reset. `flag` holds r (subtract) or 1 - r (zero), refreshed after each step.
    flag = torch.empty(B, N, dtype=f32, device=dev)
    fires, quiet = comparisons(opts.at_threshold)
    refresh = fires if reset == RESET_SUBTRACT else quiet
    if reset != RESET_NONE:
        refresh(u, thr, out=flag)
        if counter is not None:  # the reset is step -1's spike
            fired = fired_last(cnt0, refr_steps, flag)
            flag.copy_(flag * fired if reset == RESET_SUBTRACT else 1 - (1 - flag) * fired)  # keep = 1 - r
    chunk = chunk_steps(B, N, _common.CHUNK_ELEMS)
    neg_x = torch.empty(min(chunk, T), B, N, dtype=f32, device=dev)
    xs, es, hs, mems, spks, negs = map(rows, (x, exc, inh, mem, spikes, neg_x))
    for t in range(T):
        i = t % chunk
        if i == 0:  # -x for a chunk of steps in one op: inh[t] = beta*inh[t-1] + (-x[t]), bitwise beta*inh - x
            t1 = min(t + chunk, T)
            neg_x[: t1 - t].copy_(x[t:t1]).neg_()  # x may be half precision; the currents are fp32
        outs_t = dict(e_out=es[t % n_rows], h_out=hs[t % n_rows], u_out=mems[t])
        if counter is None:
            e, h, u = alpha_update(e, h, xs[t], negs[i], flag, params, reset, **outs_t)
        else:
            u_prev = u
            e_new, h_new, u = alpha_update(e, h, xs[t], negs[i], flag, params, reset, hold=True, **outs_t)
            free = counter.step(t, refr[t])
            counter.hold(u, u_prev)  # held membrane; the currents still filter the input
            if reset == RESET_ZERO:
                u.mul_(flag)  # the pending reset zeroes a held membrane too
            e, h = alpha_reset_(e_new, h_new, u, h, flag, thr, reset), h_new
        s = fires(u, thr, out=spks[t])
        if counter is not None:
            s.mul_(free)
            counter.fired(t, s if s.dtype == f32 else s.to(f32))
        if reset != RESET_NONE:
            if counter is None:
                refresh(u, thr, out=flag)
            else:  # the spike itself: a refractory step's held membrane is not reset again
                flag.copy_(s)
                if reset == RESET_ZERO:
                    flag.neg_().add_(1)
    if counter is not None:
        counter.final(T, cnt_out)


def alpha_update(e, h, xt, neg_x, flag, params: SynParams, reset, *, hold=False, e_out=None, h_out=None, u_out=None):
    """One Alpha step: the excitatory and inhibitory currents and the membrane ``(e, h, u)`` from
    the previous currents, ``x`` and ``-x`` (fp32), ``flag`` the previous step's reset flags ``r``
    (subtract) or ``1 - r`` (zero). Written into the ``*_out`` rows, or (None) as autograd-tracked
    ops for :func:`syn_step`. With ``hold`` the subtracting reset is left to the caller
    (:func:`alpha_reset_`), after a refractory step has held the membrane."""
    e_new = torch.mul(e, params.alpha, out=e_out).add_(xt)  # two roundings, as snnTorch's
    h_new = torch.mul(h, params.beta, out=h_out).add_(neg_x)
    if reset == RESET_ZERO:
        # snnTorch zeroes both currents and tau * (exc + inh); with r in {0, 1} summing the
        # zeroed currents gives the same values in one op less.
        e_new.mul_(flag)
        h_new.mul_(flag)
    u = torch.add(e_new, h_new, out=u_out).mul_(params.tau)  # tau * (exc + inh), snnTorch's order
    if not hold:
        e_new = alpha_reset_(e_new, h_new, u, h, flag, params.threshold, reset)
    return e_new, h_new, u


def alpha_reset_(e_new, h_new, u, h, flag, thr, reset):
    """Alpha's subtracting reset of the previous step's spike (``flag`` = r), in place."""
    if reset == RESET_SUBTRACT:
        u.addcmul_(flag, h)  # snnTorch: mem -= (-syn_inh_old) * reset
        e_new.addcmul_(flag, thr, value=-1)
        h_new.addcmul_(flag, h_new, value=-1)  # h * (1 - r) for r in {0, 1}, in one op
    return e_new


def syn_bwd(
    up: SynUpstream, saved: SynSaved, state: SynState, params: SynParams, opts: SynOptions, need: SynParams, x_dtype
) -> SynGrads:
    """Reverse time loop. ``up`` holds the gradients of the returned sequences (``g_mem`` of the
    returned membrane: ``post`` for Synaptic without delay), None when unused; ``saved.refr_bits``
    the forward's refractory flags (empty without refractory). Gradients not needed come back None.
    """
    if opts.neuron == SecondOrder.ALPHA:
        return _AlphaBackward(up, saved, state, params, opts, need, x_dtype).run()
    return _SynapticBackward(up, saved, state, params, opts, need, x_dtype).run()


class _SynapticBackward:
    """Synaptic's (and one-to-one RSynaptic's) reverse loop in named steps: per chunk of steps
    :meth:`_factors` (everything without a time recurrence), :meth:`_reverse` or
    :meth:`_reverse_second_order` (the recurrence), :meth:`_parameter_grads`; then :meth:`_result`.

    With V the general loop takes three ops per step: the spike gradient through V couples the
    membrane and current recurrences. Where the membrane passes straight on (reset_delay,
    subtract or no reset, no refractory period) and no gradient reaches the returned current,
    eliminating dL/dmem leaves one recurrence in C[t] = dL/dcur[t] of two ops per step:
    ``C[t] = base[t] + (alpha + beta + V*sgrad[t]) * C[t+1] - alpha*beta * C[t+2]``,
    with dL/dmem[t] = C[t] - alpha * C[t+1] built per chunk only where a gradient reads it.
    """

    def __init__(self, up, saved, state, params, opts, need, x_dtype):
        self.up, self.saved, self.params, self.opts, self.need, self.x_dtype = up, saved, params, opts, need, x_dtype
        mem = saved.mem
        self.T, self.B, self.N = T, B, N = mem.shape
        dev = mem.device
        self.cur0, self.mem0 = zeros_or(state.cur0, B, N, dev), zeros_or(state.mem0, B, N, dev)
        v = params.v
        self.spk0 = zeros_or(state.spk0, B, N, dev) if v is not None else None
        self.g_cur = _alloc.empty_like(mem)  # dL/d cur[t] = dL/d x[t]
        self.acc = {k: mem.new_zeros(B, N) for k in ("alpha", "beta", "threshold", "v") if getattr(need, k)}
        self.g_n_next = self.g_c_next = self.coef_next = None  # carries from the first step of the later chunk
        self.g_c_next2 = None  # C[t0 + 1] of the later chunk (second order)
        self.chunk = chunk = chunk_steps(B, N, _common.CHUNK_ELEMS)
        reset = opts.reset
        # Reset flags are needed by the zero reset and the threshold gradient (the subtracting
        # same-step reset's jacobian needs none).
        self.need_r = reset != RESET_NONE and (reset == RESET_ZERO or need.threshold)
        self.has_refr = saved.refr_bits.numel() > 0
        self.fired0 = fired_last(state.count0, opts.refractory, self.mem0) if self.has_refr and opts.delay else None
        self.beta_row = full_row(params.beta, N) if self.has_refr else None
        self.second_order = (
            v is not None and opts.delay and reset != RESET_ZERO and not self.has_refr and up.g_cur is None
        )
        if self.second_order:
            self.ab_sum, self.neg_ab = full_row(params.alpha + params.beta, N), -(params.alpha * params.beta)
        self.need_sv = v is not None and (not self.second_order or need.threshold)

        def scratch(on=True):
            return chunk_rows(mem, chunk, on)

        self.sg_rows, self.a_rows, self.pre_rows, self.sv_rows = scratch(), scratch(), scratch(), scratch(self.need_sv)
        self.n_rows, self.in_rows = scratch(reset == RESET_ZERO), scratch(self.has_refr)
        # s[t-1] and V's gradient partials per row need a later step (a single step reads spk0 only).
        self.spk_rows, self.k_rows = scratch(need.v and T > 1), scratch(self.second_order)
        self.zero_row = mem.new_zeros(B, N) if need.threshold or (self.second_order and need.beta) else None
        self.acc_v_rows = scratch().zero_() if need.v and T > 1 else None

    def run(self) -> SynGrads:
        for t0, t1 in chunks(self.T, self.chunk):
            f = self._factors(t0, t1)
            f.g_c_later = self.g_c_next  # dL/dcur at the first step of the later chunk
            if self.second_order:
                self._reverse_second_order(f)
            else:
                self._reverse(f)
            self._parameter_grads(f)
        return self._result()

    def _factors(self, t0, t1):
        saved, params, opts = self.saved, self.params, self.opts
        thr, v, reset = params.threshold, params.v, opts.reset
        n = t1 - t0
        f = SimpleNamespace(t0=t0, t1=t1, n=n, pc=span(saved.mem, t0, t1))
        refr = saved.refr_bits
        free_prev = (1 - as_dtype(refr[max(t0 - 1, 0) : t1 - 1])) if self.has_refr and not opts.delay else None
        f.prev, f.r = carried_membrane(
            saved.mem,
            saved.reset_bits,
            self.mem0,
            t0,
            t1,
            thr=thr,
            reset=reset,
            delay=opts.delay,
            free_prev=free_prev,
            fired_prev=None if self.fired0 is None else could_fire(refr, self.fired0, t0, t1),
            need_prev=self.need.beta,
            need_r=self.need_r,
            at=opts.at_threshold,
        )
        f.sgrad = surrogate(torch.sub(f.pc, thr, out=head(self.sg_rows, n)), opts.surrogate, saved.sgrad, t0, t1)
        f.coef = f.free = f.g_in = None
        if self.has_refr:
            # A refractory step cannot fire (no surrogate) and holds the membrane: d n[t] / d post[t-1] = 1
            # instead of beta, and the current does not reach it.
            held = as_dtype(span(refr, t0, t1))
            f.free = 1 - held
            f.sgrad.mul_(f.free)
            f.coef = torch.addcmul(held, f.free, self.beta_row)  # 1 where held, beta where free
            f.g_in = head(self.in_rows, n)
        f.gm = span(self.up.g_mem, t0, t1) if self.up.g_mem is not None else None
        # dL/d spike[t] times the surrogate: the output's part here; with V the recurrence adds
        # sgrad[t] * V * dL/dcur[t+1] inside the loop.
        g_spikes = self.up.g_spikes
        f.a = (
            torch.mul(f.sgrad, span(g_spikes, t0, t1), out=head(self.a_rows, n))
            if g_spikes is not None
            else head(self.a_rows, n).zero_()
        )
        f.sv = torch.mul(f.sgrad, v, out=head(self.sv_rows, n)) if self.need_sv else None
        f.keep = 1 - f.r if reset == RESET_ZERO else None
        f.base = f.post_jac = f.g_post = f.d = None
        if opts.delay:
            # g_pre[t] = a[t] + g_mem[t] + beta * g_n[t+1]: the part without recurrence summed up front.
            f.base = f.a if f.gm is None else f.a + f.gm
        else:
            f.post_jac, f.d = same_step_reset_grad(f.pc, f.r, f.sgrad, thr, reset, f.free, opts.at_threshold)
            f.g_post = f.pc.new_zeros(f.pc.shape) if f.gm is None else f.gm.to(F32, copy=True)
        f.g_pre = head(self.pre_rows, n)
        f.g_n = f.g_pre if f.keep is None else head(self.n_rows, n)
        f.gc = span(self.g_cur, t0, t1)
        if self.up.g_cur is not None:
            f.gc.copy_(span(self.up.g_cur, t0, t1))
        return f

    def _reverse_second_order(self, f):
        """The two-op recurrence in C[t] = dL/dcur[t] (see the class docstring)."""
        gc_r, base_r = rows(f.gc), rows(f.base)
        k_r = rows(torch.addcmul(self.ab_sum, f.sgrad, self.params.v, out=self.k_rows[: f.n]))
        g_next, g_next2 = self.g_c_next, self.g_c_next2
        for i in range(f.n - 1, -1, -1):
            gc_i = gc_r[i]
            if g_next is None:
                gc_i.copy_(base_r[i])
            else:
                torch.addcmul(base_r[i], k_r[i], g_next, out=gc_i)
                if g_next2 is not None:
                    gc_i.addcmul_(self.neg_ab, g_next2)
            g_next2, g_next = g_next, gc_i
        self.g_c_next, self.g_c_next2 = g_next, g_next2

    def _reverse(self, f):
        """The general recurrence: dL/d pre[t], dL/d n[t] and dL/d cur[t], last step to first."""
        alpha, has_g_cur = self.params.alpha, self.up.g_cur is not None
        # A chunk of one step with nothing after it (a single-step call) runs the loop body once on the
        # chunk's [1, B, N] tensors, without row views.
        one = f.n == 1 and self.g_n_next is None and self.g_c_next is None

        def rows_of(t):
            return None if t is None else (t,) if one else rows(t)

        pre_r = rows_of(f.g_pre)
        n_r = pre_r if f.g_n is f.g_pre else rows_of(f.g_n)
        a_r, jac_r, post_r, sv_r, keep_r, free_r, coef_r, in_r, gc_r, base_r = map(
            rows_of, (f.a, f.post_jac, f.g_post, f.sv, f.keep, f.free, f.coef, f.g_in, f.gc, f.base)
        )
        g_n_next, g_c_next, coef_next = self.g_n_next, self.g_c_next, self.coef_next
        for i in range(f.n - 1, -1, -1):
            pre = pre_r[i]
            if f.g_post is None:  # delay: post[t] = pre[t]
                if g_n_next is not None:
                    torch.addcmul(base_r[i], coef_next, g_n_next, out=pre)  # n[t+1] = beta * post[t] + ...
                else:
                    pre.copy_(base_r[i])
            else:
                if g_n_next is not None:
                    post_r[i].addcmul_(coef_next, g_n_next)
                torch.addcmul(a_r[i], jac_r[i], post_r[i], out=pre)
            if f.sv is not None and g_c_next is not None:  # cur[t+1] += V * s[t]
                pre.addcmul_(sv_r[i], g_c_next)
            g_n_i = pre if f.keep is None else torch.mul(pre, keep_r[i], out=n_r[i])
            g_cur_in = g_n_i  # dL/dn[t] as seen by cur[t]
            if self.has_refr:
                g_cur_in = torch.mul(g_n_i, free_r[i], out=in_r[i])
            # cur[t] feeds n[t] and, decayed, cur[t+1].
            gc_i = gc_r[i]
            if has_g_cur:
                gc_i.add_(g_cur_in)
                if g_c_next is not None:
                    gc_i.addcmul_(alpha, g_c_next)
            elif g_c_next is not None:
                torch.addcmul(g_cur_in, alpha, g_c_next, out=gc_i)
            else:
                gc_i.copy_(g_cur_in)
            g_n_next, g_c_next, coef_next = g_n_i, gc_i, (self.params.beta if f.coef is None else coef_r[i])
        if one:  # the carries of the earlier chunk are rows [B, N]
            g_n_next, g_c_next = g_n_next[0], g_c_next[0]
            coef_next = coef_next[0] if f.coef is not None else coef_next
        self.g_n_next, self.g_c_next, self.coef_next = g_n_next, g_c_next, coef_next

    def _parameter_grads(self, f):
        need, acc, params, saved = self.need, self.acc, self.params, self.saved
        alpha, thr = params.alpha, params.threshold
        t0, t1 = f.t0, f.t1
        if need.threshold or (self.second_order and need.beta):  # C[t+1] for each step t of the chunk
            later = torch.cat([f.gc[1:], (self.zero_row if f.g_c_later is None else f.g_c_later)[None]])
        if self.second_order and (need.beta or need.threshold):  # dL/dmem[t] = C[t] - alpha * C[t+1]
            f.g_pre = f.g_n = torch.addcmul(f.gc, alpha, later, value=-1, out=f.g_pre)
        if need.beta:
            acc["beta"] += ((f.g_in if self.has_refr else f.g_n) * f.prev).sum(0)
        if need.alpha:
            cur = saved.cur
            cur_prev = torch.cat([self.cur0[None], cur[t0 : t1 - 1]]) if t0 == 0 else cur[t0 - 1 : t1 - 1]
            acc["alpha"] += (f.gc * cur_prev).sum(0)
        if need.v:
            # sum_t dL/dcur[t] * s[t-1]: spikes recomputed straight into fp32, products accumulated
            # per row of the chunk and summed over time once at the end.
            g_v = f.gc
            if t0 == 0:
                acc["v"].addcmul_(f.gc[0], self.spk0)
                g_v = f.gc[1:]
            if g_v.shape[0]:
                lo = max(t0 - 1, 0)
                s_lo = above(saved.mem[lo : t1 - 1], thr, self.opts.at_threshold, out=self.spk_rows[: t1 - 1 - lo])
                if self.has_refr:
                    s_lo.mul_(1 - as_dtype(saved.refr_bits[lo : t1 - 1]))
                self.acc_v_rows[: g_v.shape[0]].addcmul_(g_v, s_lo)
        if need.threshold:
            acc["threshold"] -= f.a.sum(0)
            if f.sv is not None:  # the recurrent part of the spike gradient
                acc["threshold"] -= (f.sv * later).sum(0)
            if self.opts.reset == RESET_SUBTRACT:
                acc["threshold"] -= (f.g_pre * f.r).sum(0)
            if f.post_jac is not None:
                dpost = dpost_dthreshold(f.pc, f.d, f.sgrad, thr, self.opts.reset)
                acc["threshold"] += (f.g_post * dpost).sum(0)

    def _result(self) -> SynGrads:
        params, B, N = self.params, self.B, self.N
        alpha, beta, v = params.alpha, params.beta, params.v
        if self.need.v:
            if self.acc_v_rows is not None:
                self.acc["v"] += self.acc_v_rows.sum(0)
        if self.T > 0:
            g_n_next, coef_next = self.g_n_next, self.coef_next
            if self.second_order:  # dL/dmem[0] = C[0] - alpha * C[1]; d mem[0] / d mem0 = beta
                c0, c1 = self.g_c_next, self.g_c_next2
                g_n_next = c0 if c1 is None else torch.addcmul(c0, alpha, c1, value=-1)
                coef_next = beta
            dmem0 = coef_next * g_n_next
            dcur0 = alpha * self.g_c_next
            dspk0 = v * self.g_c_next if v is not None else None
        else:
            dmem0, dcur0 = self.mem0.new_zeros(B, N), self.mem0.new_zeros(B, N)
            dspk0 = self.mem0.new_zeros(B, N) if v is not None else None
        return SynGrads(
            dx=as_dtype(self.g_cur, self.x_dtype),
            dcur0=dcur0,
            daux0=None,
            dmem0=dmem0,
            dspk0=dspk0,
            **param_grads(SynGrads, self.acc, params),
        )


class _AlphaBackward:
    """Alpha's reverse loop, chunked like Synaptic's: per chunk, every term without a time
    recurrence at once (:meth:`_factors`, :meth:`_sources`), so that the loop (:meth:`_reverse`)
    is one addcmul per state and step: ``g_e[t] = Pe[t] + Ke[t] * g_e[t+1]`` and
    ``g_h[t] = Ph[t] + Kh[t] * g_h[t+1]`` (dL/d of the pre-reset exc and inh of step t; for
    subtract, ``Ph`` holds the ``r[t+1] * dL/dmem[t+1]`` that reaches ``inh[t]``). With a
    refractory period, dL/dmem first gets its own reverse pass (:meth:`_membrane_grad`): a held
    step passes it on to the previous membrane. The chunk terms live in scratch rows reused
    by every chunk."""

    def __init__(self, up, saved, state, params, opts, need, x_dtype):
        self.up, self.saved, self.params, self.opts, self.need = up, saved, params, opts, need
        mem = saved.mem
        self.T, B, N = mem.shape
        dev = mem.device
        reset = opts.reset
        self.subtract, self.zero, self.resets = reset == RESET_SUBTRACT, reset == RESET_ZERO, reset != RESET_NONE
        self.has_refr = saved.refr_bits.numel() > 0
        self.e0, self.h0, self.u0 = (zeros_or(s, B, N, dev) for s in (state.cur0, state.aux0, state.mem0))
        self.fired0 = fired_last(state.count0, opts.refractory, self.u0) if self.has_refr else None
        self.dx = _alloc.empty(self.T, B, N, dtype=x_dtype, device=dev)
        self.acc = {k: mem.new_zeros(B, N) for k in ("alpha", "beta", "tau", "threshold") if getattr(need, k)}
        self.chunk = chunk = chunk_steps(B, N, _common.CHUNK_ELEMS)

        def scratch(on=True):
            return chunk_rows(mem, chunk, on)

        self.r_rows, self.keep_rows, self.ke_rows, self.kh_rows = (
            scratch(self.subtract),
            scratch(self.resets),
            scratch(self.zero),
            scratch(self.resets),
        )
        self.a_rows, self.gu_rows = scratch(), scratch(up.g_mem is not None or self.has_refr)
        self.gm_rows, self.taugm_rows = scratch(self.zero or self.has_refr), scratch()
        self.free_rows, self.hold_rows = scratch(self.has_refr), scratch(self.has_refr)
        self.pe_rows, self.ph_rows = scratch(up.g_cur is not None), scratch(self.subtract or up.g_aux is not None)
        self.ge_rows, self.gh_rows = scratch(), scratch()
        # Carried from the first step of the later chunk: dL/d pre-reset exc and inh, and for
        # subtract r * dL/dmem (mem[t+1] = ... + r[t+1] * inh[t]).
        self.g_e_next, self.g_h_next = mem.new_zeros(B, N), mem.new_zeros(B, N)
        self.ru_next = mem.new_zeros(B, N) if self.subtract else None
        # Refractory: dL/dmem and d mem / d mem-before at the first step of the later chunk.
        self.g_u_next, self.hold_next = (mem.new_zeros(B, N), mem.new_zeros(B, N)) if self.has_refr else (None, None)

    def run(self) -> SynGrads:
        for t0, t1 in chunks(self.T, self.chunk):
            f = self._factors(t0, t1)
            self._sources(f)
            self._reverse(f)
            self._parameter_grads(f)
            self._carry(f)
        return self._result()

    def _from_prev_mem(self, compare, out, t0, t1):
        """``compare(mem[t-1], thr)`` for each step of the chunk, straight into fp32 rows."""
        mem, thr = self.saved.mem, self.params.threshold
        if t0 == 0:
            compare(self.u0, thr, out=out[0])
            compare(mem[0 : t1 - 1], thr, out=out[1:])
        else:
            compare(mem[t0 - 1 : t1 - 1], thr, out=out)
        return out

    def _factors(self, t0, t1):
        """Reset flags, the spike terms and dL/d membrane of the chunk."""
        saved, up, thr = self.saved, self.up, self.params.threshold
        n = t1 - t0
        f = SimpleNamespace(t0=t0, t1=t1, n=n)
        fires, quiet = comparisons(self.opts.at_threshold)
        if self.resets and self.has_refr:  # r[t] = s[t-1]: the crossing times "step t-1 could fire"
            keep = self._from_prev_mem(fires, self.keep_rows[:n], t0, t1)
            keep.mul_(could_fire(saved.refr_bits, self.fired0, t0, t1))
            f.r = self.r_rows[:n].copy_(keep) if self.subtract else None
            f.keep = keep.neg_().add_(1)
        else:
            f.r = self._from_prev_mem(fires, self.r_rows[:n], t0, t1) if self.subtract else None
            f.keep = self._from_prev_mem(quiet, self.keep_rows[:n], t0, t1) if self.resets else None  # 1 - r
        f.a = surrogate(torch.sub(saved.mem[t0:t1], thr, out=self.a_rows[:n]), self.opts.surrogate, saved.sgrad, t0, t1)
        if up.g_spikes is not None:
            f.a.mul_(up.g_spikes[t0:t1])
        else:
            f.a.zero_()
        if self.has_refr:
            # A held step cannot fire; its membrane is the previous one (times 1 - r for zero).
            f.free = torch.eq(saved.refr_bits[t0:t1], 0, out=self.free_rows[:n])
            f.hold = torch.ne(saved.refr_bits[t0:t1], 0, out=self.hold_rows[:n])
            if self.zero:
                f.hold.mul_(f.keep)
            f.a.mul_(f.free)
        f.g_u = f.a if up.g_mem is None else torch.add(f.a, up.g_mem[t0:t1], out=self.gu_rows[:n])
        if self.has_refr:
            self._membrane_grad(f)
        f.g_m = torch.mul(f.g_u, f.keep, out=self.gm_rows[:n]) if self.zero else f.g_u
        if self.has_refr:
            f.g_m = torch.mul(f.g_m, f.free, out=self.gm_rows[:n])  # a held membrane ignores the currents
        f.tau_gm = torch.mul(f.g_m, self.params.tau, out=self.taugm_rows[:n])
        return f

    def _membrane_grad(self, f):
        """Refractory: a held membrane is the previous one, so dL/dmem runs back through held steps."""
        if f.g_u is f.a:
            f.g_u = self.gu_rows[: f.n].copy_(f.a)
        carry, coef = self.g_u_next, self.hold_next
        for i in range(f.n - 1, -1, -1):
            carry = f.g_u[i].addcmul_(coef, carry)
            coef = f.hold[i]

    def _sources(self, f):
        """Gradients reaching the stored exc[t] / inh[t] from outside the recurrence (``Pe``, ``Ph``),
        times the reset's keep (the reset multiplies the stored state by it), and the factors ``Ke``,
        ``Kh`` to the next step."""
        up, t0, t1, n = self.up, f.t0, f.t1, f.n
        alpha, beta = self.params.alpha, self.params.beta
        f.Pe = f.tau_gm
        if up.g_cur is not None:
            ga = up.g_cur[t0:t1]
            f.Pe = (
                torch.addcmul(f.tau_gm, ga, f.keep, out=self.pe_rows[:n])
                if self.zero
                else torch.add(f.tau_gm, ga, out=self.pe_rows[:n])
            )
        f.Ph = f.tau_gm
        if self.subtract or up.g_aux is not None:
            gb = self.ph_rows[:n]
            if self.subtract:
                torch.mul(f.r[1:], f.g_u[1:], out=gb[:-1])
                gb[-1].copy_(self.ru_next)
                if up.g_aux is not None:
                    gb.add_(up.g_aux[t0:t1])
            else:
                gb.copy_(up.g_aux[t0:t1])
            if self.resets:
                gb.mul_(f.keep)
            f.Ph = gb.add_(f.tau_gm)
        f.Ke = torch.mul(f.keep, alpha, out=self.ke_rows[:n]) if self.zero else None
        f.Kh = torch.mul(f.keep, beta, out=self.kh_rows[:n]) if self.resets else None

    def _reverse(self, f):
        alpha, beta = self.params.alpha, self.params.beta
        f.g_e, f.g_h = self.ge_rows[: f.n], self.gh_rows[: f.n]
        ne, nh = self.g_e_next, self.g_h_next
        Pe_r, Ph_r, Ke_r, Kh_r, ge_r, gh_r = map(rows, (f.Pe, f.Ph, f.Ke, f.Kh, f.g_e, f.g_h))
        for i in range(f.n - 1, -1, -1):
            ne = torch.addcmul(Pe_r[i], alpha if f.Ke is None else Ke_r[i], ne, out=ge_r[i])
            nh = torch.addcmul(Ph_r[i], beta if f.Kh is None else Kh_r[i], nh, out=gh_r[i])
        torch.sub(f.g_e, f.g_h, out=self.dx[f.t0 : f.t1])  # x enters exc and, negated, inh

    def _parameter_grads(self, f):
        need, acc, saved, up = self.need, self.acc, self.saved, self.up
        alpha, beta = self.params.alpha, self.params.beta
        t0, t1 = f.t0, f.t1
        if need.alpha or need.tau:
            e_prev = torch.cat([self.e0[None], saved.cur[t0 : t1 - 1]]) if t0 == 0 else saved.cur[t0 - 1 : t1 - 1]
        if need.beta or need.tau:
            h_prev = torch.cat([self.h0[None], saved.aux[t0 : t1 - 1]]) if t0 == 0 else saved.aux[t0 - 1 : t1 - 1]
        if need.alpha:
            acc["alpha"] += (f.g_e * e_prev).sum(0)
        if need.beta:
            acc["beta"] += (f.g_h * h_prev).sum(0)
        if need.tau:
            acc["tau"] += (f.g_m * (alpha * e_prev + beta * h_prev)).sum(0)
        if need.threshold:
            acc["threshold"] -= f.a.sum(0)
            if self.subtract:
                # dL/d stored exc[t] = g_exc[t] + alpha * g_e[t+1]; subtract takes r[t]*thr from it.
                g_exc_full = alpha * torch.cat([f.g_e[1:], self.g_e_next[None]])
                if up.g_cur is not None:
                    g_exc_full += up.g_cur[t0:t1]
                acc["threshold"] -= (g_exc_full * f.r).sum(0)

    def _carry(self, f):
        self.g_e_next.copy_(f.g_e[0])
        self.g_h_next.copy_(f.g_h[0])
        if self.subtract:
            torch.mul(f.r[0], f.g_u[0], out=self.ru_next)
        if self.has_refr:
            self.g_u_next.copy_(f.g_u[0])
            self.hold_next.copy_(f.hold[0])

    def _result(self) -> SynGrads:
        params = self.params
        dexc0 = params.alpha * self.g_e_next
        dinh0 = params.beta * self.g_h_next
        if self.subtract:
            dinh0 += self.ru_next
        dmem0 = self.hold_next * self.g_u_next if self.has_refr else self.e0.new_zeros(self.e0.shape)
        return SynGrads(
            dx=self.dx, dcur0=dexc0, daux0=dinh0, dmem0=dmem0, dspk0=None, **param_grads(SynGrads, self.acc, params)
        )
