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

from types import SimpleNamespace

import torch

from .. import _alloc
from .. import surrogate as sg
from ..contracts import LifGrads, LifOptions, LifOutputs, LifParams, LifSaved, LifState, LifUpstream, Reset, lif_outputs
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
    could_fire,
    dpost_dthreshold,
    fired_last,
    full_row,
    param_grads,
    post_reset,
    quiet,
    reset_now,
    rows,
    same_step_reset_grad,
    shifted,
    span,
    surrogate,
    zeros_or,
)

RESET_SUBTRACT, RESET_ZERO = Reset.SUBTRACT, Reset.ZERO


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
    reset, delay, refractory, need_post = (opts.reset, opts.delay, opts.refractory, opts.need_mem)
    T, B, N = x.shape
    dev, f32 = x.device, F32
    refr, adapt = refractory > 0, rho is not None
    spikes, pre, bits, post, qbits, count_out, aseq = lif_outputs(x, opts, adapt)
    p = zeros_or(v0, B, N, dev)
    s_prev = zeros_or(s0, B, N, dev) if rec is not None or adapt else None
    counter = Refractory(c0, refractory, B, N, dev) if refr else None
    if adapt:
        a = zeros_or(a0, B, N, dev)
        th_prev = thr + b * a  # threshold of the previous step: the one its spike crossed
    else:
        th = th_prev = thr
    at = opts.at_threshold
    r = above(p, th_prev, at)
    if refr and delay:
        r = r * fired_last(c0, refractory, r)
    xs, pres, spks = ((x[0],), (pre[0],), (spikes[0],)) if T == 1 else (rows(x), rows(pre), rows(spikes))
    for t in range(T):
        m = pres[t]
        if adapt:
            a = torch.mul(a, rho, out=aseq[t]).add_(s_prev)
            th = thr + b * a
        xt = xs[t] if gain is None else gain * xs[t]
        beta_t, s_in = beta, s_prev
        if refr:
            # Refractory step: no input (x*0) and no leak (decay exactly 1); the pending
            # reset below still applies. Multiplying by exact 0/1 keeps free steps bitwise.
            free = counter.step(t, qbits[t])
            xt = xt * free
            beta_t = torch.addcmul(1 - free, free, beta)
            if rec is not None:
                s_in = s_prev * free
        membrane(p, r, xt, beta_t, th_prev, opts, rec=rec, s_in=s_in, out=m)
        if refr:
            sf = above(m, th, at).mul_(free)
            spks[t].copy_(sf)
            counter.fired(t, sf)
        else:
            s = above(m, th, at, out=spks[t])
            sf = s if s.dtype == f32 else s.to(f32)
        if delay:
            p = m
            # r[t+1] = H(pre[t] - th[t]) = s[t]; a refractory step's spike is 0, so its held
            # membrane is not reset again.
            r = sf
        else:
            p, r = reset_now(m, sf, r, thr, reset, bits[t], post[t] if need_post else None, at)
        s_prev = sf
        th_prev = th
    if refr:
        counter.final(T, count_out)
    return LifOutputs(spikes, pre, bits, post, qbits, count_out, aseq)


def membrane(p, r, xt, beta, th_prev, opts: LifOptions, *, rec=None, s_in=None, out=None):
    """The membrane of one step before its spike, from the previous one ``p``, its reset flags
    ``r`` (the delayed reset), the input ``xt`` (gain applied) and, one-to-one recurrent, ``rec *
    s_in``: written into ``out``, or (``out`` None) as autograd-tracked ops for :func:`lif_step`."""
    keep = 1 - r if opts.reset == RESET_ZERO else None
    zero_before = keep is not None and not opts.zero_whole
    # beta*p then + x, two roundings as snnTorch's (and the kernels'): addcmul fuses them into
    # one on this CPU, which moves the membrane by an ulp and, near the threshold, a spike.
    m = torch.mul(p * keep if zero_before else p, beta, out=out).add_(xt)
    if rec is not None:
        m.addcmul_(rec, s_in)
    if opts.zero_whole and keep is not None:
        m.mul_(keep)
    if opts.reset == RESET_SUBTRACT:
        m.addcmul_(r, th_prev, value=-1)
    return m


def lif_step(x, state: LifState, params: LifParams, opts: LifOptions) -> LifOutputs | None:
    """One step ``x [B, N]`` as autograd-tracked ops: :func:`membrane`, then spikes through the
    surrogate, as snnTorch composes its step. The eager single-step path (``ops.lif``) takes it
    over the fused op, whose one-step reverse loop costs more in Python than autograd's C++ graph
    of a few ops. Returns the outputs a step reads (the others None), or None where the options
    need the fused op: refractory periods, adaptation."""
    if opts.refractory > 0 or params.rho is not None:
        return None
    B, N = x.shape
    p = zeros_or(state.mem0, B, N, x.device)
    thr = params.threshold
    r = above(p, thr, opts.at_threshold) if opts.reset != Reset.NONE else None
    xt = x if params.gain is None else params.gain * x
    s_in = None if params.v is None else zeros_or(state.spk0, B, N, x.device)
    m = membrane(p, r, xt, params.beta, thr, opts, rec=params.v, s_in=s_in)
    spikes = sg.spike(m - thr, opts.surrogate, at_zero=opts.at_threshold)
    mem = (m if opts.delay else post_reset(m, spikes, r, thr, opts.reset)) if opts.need_mem else None
    pre, post = (mem, None) if opts.delay else (None, mem)
    return LifOutputs(as_dtype(spikes, x.dtype), pre, None, post, None, None, None)


def lif_bwd(
    up: LifUpstream, saved: LifSaved, state: LifState, params: LifParams, opts: LifOptions, need: LifParams, x_dtype
) -> LifGrads:
    """Reverse time loop. Parameter gradients come back shaped like their parameter, None
    where not needed (``dspk0`` only with ``v`` or adaptation, ``dadapt0`` only with adaptation).

    ``up.g_spikes``/``up.g_mem`` are the gradients of the spikes and of the returned membrane
    (``pre`` when ``delay``, ``post`` otherwise), ``g_mem`` None when unused; ``saved.refr_bits``
    holds the refractory flags (None without refractory periods), ``saved.adapt`` the
    adaptation sequence when ``rho`` is given (ALIF), ``up.g_adapt`` its gradient. Within a
    chunk of steps, everything without a time recurrence (surrogate, Jacobian factors,
    parameter-gradient terms) is computed at once; the loop itself is
    ``g_pre[t] = P[t] + K[t] * g_pre[t+1]`` (plus, with adaptation, the coupled
    ``g_a[t] = Q[t] + K3[t] * g_pre[t+1] + K4[t] * g_a[t+1]``).
    """
    return _Backward(up, saved, state, params, opts, need, x_dtype).run()


class _Backward:
    """:func:`lif_bwd` in named steps. Per chunk of steps: :meth:`_thresholds` and
    :meth:`_factors` (everything without a time recurrence), :meth:`_reverse` (the recurrence),
    :meth:`_carry` (what the earlier chunk needs of this one), :meth:`_input_grad` and
    :meth:`_parameter_grads`; at the end :meth:`_result` (initial-state gradients, reductions)."""

    def __init__(self, up, saved, state, params, opts, need, x_dtype):
        self.up, self.saved, self.params, self.opts, self.need, self.x_dtype = up, saved, params, opts, need, x_dtype
        pre = saved.pre
        self.T, B, self.N = pre.shape
        self.B = B
        self.adapt = params.rho is not None
        self.spk_state = params.v is not None or self.adapt  # s[t-1] feeds step t
        self.mem0 = zeros_or(state.mem0, B, self.N, pre.device)
        self.spk0 = zeros_or(state.spk0, B, self.N, pre.device) if self.spk_state else None
        self.adapt0 = zeros_or(state.adapt0, B, self.N, pre.device) if self.adapt else None
        refr_delay = opts.delay and saved.refr_bits is not None
        self.fired0 = fired_last(state.count0, opts.refractory, self.mem0) if refr_delay else None
        self.g_pre = _alloc.empty_like(pre)
        reset = opts.reset
        # The input gradient is g_pre itself unless gain, a zeroing reset of the input or
        # refractory steps scale it.
        self.scale_dx = (
            params.gain is not None or (opts.zero_whole and reset == RESET_ZERO) or saved.refr_bits is not None
        )
        self.dx = _alloc.empty(self.T, B, self.N, dtype=x_dtype, device=pre.device) if self.scale_dx else None
        self.acc = {k: self._zeros() for k in ("beta", "threshold", "v", "rho", "b") if getattr(need, k)}
        # Factors of the first step after the chunk: g_pre, g_a, coef (d pre/d post[t-1]),
        # vcoef (d pre/d s[t-1] through v) and rsub (the reset flag when it subtracts th[t-1]);
        # None before the last step, where nothing comes from a later one.
        self.g_next = self.ga_next = self.coef_next = self.vcoef_next = self.rsub_next = None
        self.g_after = self.ga_after = None
        # The reset flags matter to the zero reset, and to subtract's threshold/adaptation gradients.
        self.need_r = reset == RESET_ZERO or (reset == RESET_SUBTRACT and (need.threshold or need.b or self.adapt))
        # With delay and no zero reset, refractory steps or adaptation, d pre[t+1]/d pre[t] is
        # beta (+ v*sgrad[t]) with constant factors: no per-step factor tensors to build.
        self.const_coef = opts.delay and reset != RESET_ZERO and saved.refr_bits is None and not self.adapt
        self.const_k = self.const_coef and params.v is None  # Leaky's plain case: K is beta
        # Leaky's delayed zero reset alone (no input zeroing, refractory steps, adaptation, V or
        # beta gradient): K[t] = coef[t+1] = beta * (1 - s[t]) = beta * H(thr - pre[t]), read off
        # the chunk's own rows, so the reset flags and the carried membrane are never built.
        self.zero_k = (
            opts.delay
            and reset == RESET_ZERO
            and not opts.zero_whole
            and saved.refr_bits is None
            and not self.adapt
            and params.v is None
            and not need.beta
        )
        if self.zero_k:
            self.need_r = False
        self.need_param_grads = need.threshold or need.b or need.rho
        self.chunk = chunk_steps(B, self.N, _common.CHUNK_ELEMS)
        if need.v:
            # s[t-1] for the rows of a chunk, and per-row partials of V's gradient (summed over time once);
            # a single step reads s0 only.
            later_rows = self.T > 1
            self.spk_rows = chunk_rows(pre, self.chunk, later_rows)
            self.acc_v_rows = chunk_rows(pre, self.chunk, later_rows)
            if later_rows:
                self.acc_v_rows.zero_()

    def _zeros(self):
        return self.saved.pre.new_zeros(self.B, self.N)

    def _could_fire(self, t0, t1):
        """The delayed reset's refractory mask of the chunk (:func:`could_fire`), or None."""
        if self.fired0 is None:
            return None
        return could_fire(self.saved.refr_bits, self.fired0, t0, t1)

    def _or_zeros(self, carry):
        """A carry from the later chunk, or zeros at the last step (nothing comes after it)."""
        return self._zeros() if carry is None else carry

    def run(self) -> LifGrads:
        for t0, t1 in chunks(self.T, self.chunk):
            f = self._factors(t0, t1)
            self._reverse(f)
            self._carry(f)
            self._input_grad(f)
            self._parameter_grads(f)
        return self._result()

    def _thresholds(self, f):
        """Thresholds of each step (``th_c``), of the step before (``th_p``) and of rows lo .. t1-2
        (``th_lo``); with adaptation also ``a`` of each step and of the step before."""
        thr, b, aseq = self.params.threshold, self.params.b, self.saved.adapt
        f.th_c = f.th_p = f.th_lo = thr
        f.a_c = f.a_p = None
        if not self.adapt:
            return
        t0, t1 = f.t0, f.t1
        f.a_c = aseq[t0:t1]
        a_first = self.adapt0 if t0 == 0 else aseq[t0 - 1]
        # Same ops as the forward loop (no fused multiply-add), so recomputed flags agree bitwise.
        f.th_c = thr + b * f.a_c
        f.th_p = torch.cat([(thr + b * a_first)[None].expand(1, self.B, self.N), f.th_c[:-1]])
        f.th_lo = f.th_p[1:] if t0 == 0 else f.th_p
        if self.need.b or self.need.rho:
            f.a_p = torch.cat([a_first[None], aseq[t0 : t1 - 1]])

    def _factors(self, t0, t1):
        """Every factor of chunk t0..t1 that needs no time recurrence."""
        saved, params, opts, need = self.saved, self.params, self.opts, self.need
        beta, thr, v = params.beta, params.threshold, params.v
        reset, qbits = opts.reset, saved.refr_bits
        f = SimpleNamespace(t0=t0, t1=t1, c=t1 - t0, pc=span(saved.pre, t0, t1), lo=max(t0 - 1, 0))
        f.nq = None if qbits is None else 1 - as_dtype(qbits[t0:t1])  # 1 on free steps
        nq_prev = None if qbits is None else 1 - as_dtype(qbits[f.lo : t1 - 1])
        self._thresholds(f)
        f.prev, f.r = carried_membrane(
            saved.pre,
            saved.reset_bits,
            self.mem0,
            t0,
            t1,
            thr=thr,
            reset=reset,
            delay=opts.delay,
            th_prev=f.th_p,
            free_prev=nq_prev,
            fired_prev=self._could_fire(t0, t1),
            need_prev=need.beta,
            need_r=self.need_r,
            at=opts.at_threshold,
        )
        if need.v and t1 - 1 > f.lo:  # spikes of steps lo .. t1-2 (s[t-1] for each t of the chunk but t = 0)
            f.s_lo = above(saved.pre[f.lo : t1 - 1], f.th_lo, opts.at_threshold, out=self.spk_rows[: t1 - 1 - f.lo])
            if nq_prev is not None:
                f.s_lo.mul_(nq_prev)
        sgrad = surrogate(f.pc - f.th_c, opts.surrogate, saved.sgrad, t0, t1)
        f.sgrad = sgrad if f.nq is None else sgrad * f.nq
        f.keep = 1 - f.r if reset == RESET_ZERO and f.r is not None else None
        kin = f.keep if opts.zero_whole else None  # input terms zeroed with the reset
        # d pre[t] / d post[t-1]: beta (times the zero-reset keep) on free steps, keep alone when refractory.
        f.din = f.nq if kin is None else (kin if f.nq is None else kin * f.nq)  # d pre / d(gain*x + v*s_prev)
        if self.const_coef:  # the same for every step: the parameters themselves
            f.coef, f.vcoef = beta, v
        elif self.zero_k:
            f.coef = f.vcoef = None
        else:
            f.coef = beta * f.keep if f.keep is not None else beta.expand(f.c, 1, -1)
            if f.nq is not None:
                hold = f.keep if f.keep is not None else 1.0
                f.coef = f.nq * f.coef + (1 - f.nq) * hold
            f.vcoef = None
            if v is not None:
                f.vcoef = v * f.din if f.din is not None else v.expand(f.c, 1, -1)
        f.rsub = f.r if reset == RESET_SUBTRACT else None
        if self.zero_k:
            f.coef_sh = quiet(f.pc, thr, opts.at_threshold).mul_(beta)
        else:
            f.coef_sh = None if self.const_coef else shifted(f.coef, self._or_zeros(self.coef_next))
        f.vcoef_sh = None
        if v is not None:  # broadcasts like a [c, B, N] factor when constant
            f.vcoef_sh = v if self.const_coef else shifted(f.vcoef, self._or_zeros(self.vcoef_next))
        f.post_jac = f.d = None
        if not opts.delay:
            f.post_jac, f.d = same_step_reset_grad(f.pc, f.r, f.sgrad, thr, reset, f.nq, opts.at_threshold)
        self._sources(f)
        return f

    def _sources(self, f):
        """The terms of the recurrence: ``P`` (from the outputs), ``K`` (to the next step) and,
        with adaptation, ``Q``, ``K3``, ``K4``."""
        up, params = self.up, self.params
        beta, v, b = params.beta, params.v, params.b
        t0, t1 = f.t0, f.t1
        f.gs = span(up.g_spikes, t0, t1) if up.g_spikes is not None else None
        f.gm = as_dtype(span(up.g_mem, t0, t1)) if up.g_mem is not None else None
        # g_pre[t] = sgrad*(gs + vcoef[t+1]*g_pre[t+1] + g_a[t+1]) + post_jac*(gm + coef[t+1]*g_pre[t+1]);
        # P, the part without recurrence, goes straight into g_pre's rows (the loop then runs in place).
        f.gc = span(self.g_pre, t0, t1)
        f.sg_gs = None
        if self.need_param_grads or self.adapt:
            f.sg_gs = f.sgrad * f.gs if f.gs is not None else torch.zeros_like(f.pc)
        if f.gm is None:
            f.P = f.gc.copy_(f.sg_gs) if f.sg_gs is not None else torch.mul(f.sgrad, f.gs, out=f.gc)
        elif f.post_jac is None:
            f.P = torch.addcmul(f.gm, f.sgrad, f.gs, out=f.gc)
        else:
            f.P = torch.mul(f.post_jac, f.gm, out=f.gc).addcmul_(f.sgrad, f.gs)
        if f.c == 1 and self.g_next is None and not self.adapt:
            f.K = None  # a single last step: nothing comes after it
        elif self.const_k:
            f.K = beta
        elif self.const_coef:  # RLeaky: beta + v*sgrad[t] in one op
            f.K = torch.addcmul(full_row(beta, self.N), f.sgrad, v)
        else:
            f.K = f.coef_sh if f.post_jac is None else f.post_jac * f.coef_sh
            if v is not None:
                f.K = f.K + f.sgrad * f.vcoef_sh
        if not self.adapt:
            return
        # g_a[t] = b*g_th[t] + rho*g_a[t+1], g_th[t] = -sgrad*g_s[t] - rsub[t+1]*g_pre[t+1]
        rsub_sh = shifted(f.rsub, self._or_zeros(self.rsub_next)) if f.rsub is not None else None
        f.Q = f.sg_gs * -b
        if up.g_adapt is not None:
            f.Q = f.Q + up.g_adapt[t0:t1]
        k3 = f.sgrad * f.vcoef_sh if v is not None else None
        if rsub_sh is not None:
            k3 = rsub_sh if k3 is None else k3 + rsub_sh
        f.K3 = k3 * -b if k3 is not None else torch.zeros_like(f.pc)
        f.K4 = torch.addcmul(full_row(params.rho, self.N), b, f.sgrad, value=-1)

    def _reverse(self, f):
        """The recurrence over the chunk's steps, last to first, in place in ``g_pre`` (which holds
        ``P``) and ``g_a``."""
        g_next = self.g_next
        if self.adapt:
            f.ga_c = f.Q  # a fresh tensor: the recurrence runs in it in place
            ga_next = self.ga_next
            gc_r, K_r, sg_r, ga_r, K3_r, K4_r = map(rows, (f.gc, f.K, f.sgrad, f.ga_c, f.K3, f.K4))
            for i in range(f.c - 1, -1, -1):
                if g_next is not None:
                    gc_r[i].addcmul_(K_r[i], g_next).addcmul_(sg_r[i], ga_next)
                    ga_r[i].addcmul_(K3_r[i], g_next).addcmul_(K4_r[i], ga_next)
                g_next, ga_next = gc_r[i], ga_r[i]
            self.ga_next = ga_next
        elif f.c == 1 and g_next is None:  # one step and nothing after it: g_pre is P
            g_next = f.gc[0]
        else:
            K = f.K
            gc_r, K_r = rows(f.gc), (None if self.const_k else rows(K))
            for i in range(f.c - 1, -1, -1):
                if g_next is not None:
                    gc_r[i].addcmul_(K if self.const_k else K_r[i], g_next)
                g_next = gc_r[i]
        self.g_next = g_next

    def _carry(self, f):
        """g_pre (and g_a) of step t+1 for each step t of the chunk, then what the earlier chunk reads."""
        later = self.g_after is not None
        if self.need_param_grads and (self.spk_state or f.post_jac is not None):
            f.gp_sh = torch.cat([f.gc[1:], (self.g_after if later else f.pc.new_zeros(self.B, self.N))[None]])
        if self.adapt:
            f.ga_sh = torch.cat([f.ga_c[1:], (self.ga_after if later else f.pc.new_zeros(self.B, self.N))[None]])
            self.ga_after = f.ga_c[0]
            self.rsub_next = f.rsub[0] if f.rsub is not None else self.rsub_next
        self.g_after = f.gc[0]
        if self.const_coef:
            self.coef_next, self.vcoef_next = f.coef, f.vcoef
        elif self.zero_k:  # only dL/dmem0 reads it: beta * (1 - r[0]), r[0] = H(mem0 - thr)
            if f.t0 == 0:
                self.coef_next = quiet(self.mem0, self.params.threshold, self.opts.at_threshold).mul_(self.params.beta)
        else:
            self.coef_next = f.coef[0].expand(self.B, self.N)
            if self.params.v is not None:
                self.vcoef_next = f.vcoef[0].expand(self.B, self.N)

    def _input_grad(self, f):
        if not self.scale_dx:
            return
        gain, out = self.params.gain, self.dx[f.t0 : f.t1]
        dxc = f.gc * f.din if f.din is not None else f.gc
        torch.mul(dxc, gain, out=out) if gain is not None else out.copy_(dxc)

    def _parameter_grads(self, f):
        """The chunk's terms of every parameter gradient wanted."""
        need, acc, params = self.need, self.acc, self.params
        thr = params.threshold
        if need.beta:
            term = f.gc * f.prev
            for factor in (f.keep, f.nq):
                if factor is not None:
                    term = term * factor
            acc["beta"] += term.sum(0)
        if need.v:
            # sum_t g_pre[t] * s[t-1] (* din[t]), accumulated per row of the chunk and summed over time once.
            g_v = f.gc if f.din is None else f.gc * f.din
            if f.t0 == 0:
                acc["v"].addcmul_(g_v[0], self.spk0)
                g_v = g_v[1:]
            if g_v.shape[0]:
                self.acc_v_rows[: g_v.shape[0]].addcmul_(g_v, f.s_lo)
        if not self.need_param_grads:
            return
        # dL/d s[t] from everything after the spike function: gs, v and adaptation.
        sg_gspk = f.sg_gs
        if self.spk_state:
            g_spk = f.gs if f.gs is not None else torch.zeros_like(f.pc)
            if params.v is not None:
                g_spk = g_spk + f.vcoef_sh * f.gp_sh
            if self.adapt:
                g_spk = g_spk + f.ga_sh
            sg_gspk = f.sgrad * g_spk
        # th[t] enters s[t] = H(pre - th[t]) (-sg_gspk) and, subtracting, pre[t+1] (-rsub*g_pre).
        if need.threshold:
            minus_g_th = sg_gspk if f.rsub is None else torch.addcmul(sg_gspk, f.gc, f.rsub)
            acc["threshold"] -= minus_g_th.sum(0)
            if f.post_jac is not None:
                g_post = f.coef_sh * f.gp_sh
                if f.gm is not None:
                    g_post = g_post + f.gm
                acc["threshold"] += (g_post * dpost_dthreshold(f.pc, f.d, f.sgrad, thr, self.opts.reset)).sum(0)
        if need.b:
            acc["b"] -= (sg_gspk * f.a_c).sum(0)
            if f.rsub is not None:
                acc["b"] -= (f.gc * f.rsub * f.a_p).sum(0)
        if need.rho:
            acc["rho"] += (f.ga_c * f.a_p).sum(0)

    def _result(self) -> LifGrads:
        params, rho, b = self.params, self.params.rho, self.params.b
        dspk0 = dadapt0 = None
        if self.T > 0:
            dmem0 = self.coef_next * self.g_next
            if self.spk_state:
                dspk0 = self.vcoef_next * self.g_next if params.v is not None else self._zeros()
                if self.adapt:
                    dspk0 = dspk0 + self.ga_next
            if self.adapt:
                dadapt0 = rho * self.ga_next
                if self.rsub_next is not None:
                    dadapt0 = dadapt0 - b * self.rsub_next * self.g_next
        else:
            dmem0 = self._zeros()
            dspk0 = self._zeros() if self.spk_state else None
            dadapt0 = self._zeros() if self.adapt else None
        if self.need.v:
            if self.acc_v_rows is not None:
                self.acc["v"] += self.acc_v_rows.sum(0)
        return LifGrads(
            dx=self.dx if self.scale_dx else as_dtype(self.g_pre, self.x_dtype),
            dmem0=dmem0,
            dspk0=dspk0,
            dadapt0=dadapt0,
            **param_grads(LifGrads, self.acc, params),
        )
