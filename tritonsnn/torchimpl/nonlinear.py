"""Nonlinear integrate-and-fire dynamics (QIF, EIF, Izhikevich, AdEx) in PyTorch.

Shapes: ``x`` is ``[T, B, N]``, states ``[B, N]`` (the initial membrane given: the functional
layer starts it at ``v_reset``), the threshold fp32 ``[1]`` or ``[N]``; the constants of the
dynamics are numbers of the options record. The recurrence, written out in
``tritonsnn/kernels/nonlinear.py``'s module docstring, follows SpikingJelly's order of
operations; both implementations follow it step for step::

    h[t] = v[t-1] + (x[t] + f(v[t-1]) - w[t-1]) / tau      (- w only with adaptation)
    s[t] = h[t] >= threshold
    v[t] = s[t] * v_reset + (1 - s[t]) * h[t]              hard reset (else h[t] - s[t] * threshold;
                                                           linear: v_reset -> v_rest + m (h[t] - v_rest) - b)
    w[t] = w[t-1] + (a * (h[t] - v_rest) - w[t-1]) / tau_w + b * s[t]
"""

from __future__ import annotations

import torch

from .. import _alloc
from .. import surrogate as sg
from ..contracts import (
    NlifAdaptation,
    NlifCurrent,
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
from . import _common
from ._common import F32, Refractory, above, as_dtype, chunk_steps, chunks, reduce_batch, rows


def drive(v, x, w, opts: NlifOptions):
    """The membrane before the reset, ``h = v + (x + f(v) - w) / tau`` (LINEAR without
    ``decay_input``: ``v - (v - v_rest) / tau + x``), in SpikingJelly's order."""
    if not opts.decay_input:  # LINEAR only
        return v - (v - opts.v_rest) / opts.tau + x
    if opts.nonlinearity == NL.LINEAR:
        inner = x - (v - opts.v_rest)
    elif opts.nonlinearity == NL.QUADRATIC:
        inner = x + opts.a0 * (v - opts.v_rest) * (v - opts.v_c)
    else:
        inner = x + opts.v_rest - v + opts.delta_t * torch.exp((v - opts.theta_rh) / opts.delta_t)
    if w is not None:
        inner = inner - w
    return v + inner / opts.tau


def reset_target(h, opts: NlifOptions):
    """Where a hard reset sets the membrane: ``v_reset``, or GLIF2's linear reset of the pre-reset
    membrane ``v_rest + reset_mul (h - v_rest) - reset_add`` (Inferno's order)."""
    if opts.linear_reset:
        return (opts.v_rest + opts.reset_mul * (h - opts.v_rest)) - opts.reset_add
    return opts.v_reset


def after_reset(h, s, thr, opts: NlifOptions):
    """The membrane after the spikes ``s`` (fp32 0/1) of the step whose pre-reset membrane is ``h``."""
    if opts.hard_reset:
        return s * reset_target(h, opts) + (1.0 - s) * h
    return h - s * thr


def adapted(w, h, s, opts: NlifOptions):
    """The adaptation current after a step."""
    return w + (opts.a * (h - opts.v_rest) - w) / opts.tau_w + opts.b * s


def fired(h, thr):
    """Spikes ``h >= threshold`` as fp32 0/1 (SpikingJelly's Heaviside fires at equality)."""
    return above(h, thr, at=True)


def nlif_fwd(x, state: NlifState, params: NlifParams, opts: NlifOptions) -> NlifOutputs:
    """Forward time loop: spikes, the pre-reset membrane (saved for backward) and, with
    ``need_mem``, the membrane after each reset and the adaptation current. A refractory step
    holds the membrane and ``w`` and cannot fire."""
    out = nlif_outputs(x, opts)
    T, B, N = x.shape
    thr = step_thresholds(params)
    v = as_dtype(state.mem0)
    w = (torch.zeros_like(v) if state.w0 is None else as_dtype(state.w0)) if opts.adapt else None
    counter = Refractory(state.count0, opts.refractory, B, N, x.device) if opts.refractory > 0 else None
    mems = rows(out.mem) if opts.need_mem else None
    ws = rows(out.w) if opts.need_mem and opts.adapt else None
    for t, (xt, h_t, s_t) in enumerate(zip(rows(x), rows(out.pre), rows(out.spikes))):
        h = drive(v, as_dtype(xt), w, opts)
        thr_t = thr if params.offset is None else thr[t]
        s = fired(h, thr_t)
        if counter is not None:
            s.mul_(counter.step(t, out.refr_bits[t]))
            counter.hold(h, v)
            counter.fired(t, s)
        h_t.copy_(h)
        s_t.copy_(s)
        v = after_reset(h, s, thr_t, opts)
        if mems is not None:
            mems[t].copy_(v)
        if w is not None:
            w_new = adapted(w, h, s, opts)
            w = w_new if counter is None else counter.hold(w_new, w)
            if ws is not None:
                ws[t].copy_(w)
    if counter is not None:
        counter.final(T, out.final_count)
    return out


def nlif_step(x, state: NlifState, params: NlifParams, opts: NlifOptions) -> NlifOutputs | None:
    """One step ``x [B, N]`` as autograd-tracked ops (see ``torchimpl.lif.lif_step``): the forward
    loop's :func:`drive`, spikes through the surrogate (firing at ``>=``), :func:`after_reset`
    and :func:`adapted`. Returns the outputs a step reads (the others None), or None where the
    options need the fused op (refractory periods)."""
    if opts.refractory > 0:
        return None
    thr = step_thresholds(params)
    thr = thr if params.offset is None else thr[0]
    v = as_dtype(state.mem0)
    w = (torch.zeros_like(v) if state.w0 is None else as_dtype(state.w0)) if opts.adapt else None
    h = drive(v, as_dtype(x), w, opts)
    s = sg.spike(h - thr, opts.surrogate, at_zero=True)
    mem = after_reset(h, s.detach() if opts.detach_reset else s, thr, opts) if opts.need_mem else None
    w_new = adapted(w, h, s, opts) if opts.need_mem and w is not None else None
    return NlifOutputs(as_dtype(s, x.dtype), None, mem, w_new, None, None)


def step_thresholds(params: NlifParams):
    """The threshold: ``[1]`` or ``[N]``, or with a per-step offset ``[T, 1, N]`` (indexed by step,
    broadcast over the batch)."""
    if params.offset is None:
        return params.threshold
    return (params.threshold + params.offset).unsqueeze(1)


def shared_adaptation_step(theta, spikes, held, adaptation: NlifAdaptation):
    """The batch-shared threshold adaptation ``[N, K]`` after one step: each sample's copy decays
    (is held where ``held [B, N]``, if given) and grows by the increment
    where it fired (``spikes [B, N]``); the batch reduction makes it one again."""
    decayed = theta * adaptation.decay
    per_sample = decayed.expand(spikes.shape[0], *decayed.shape)
    return _shared_reduce(theta, per_sample, spikes, held, adaptation)


def shared_current_step(w, spikes, mem, held, current: NlifCurrent, v_rest):
    """The batch-shared adaptation current ``[N, K]`` after one step (Inferno's
    ``adaptive_currents_linear``): each sample's copy takes the Euler step ``w + rate (coupling
    (mem - v_rest) - w)`` towards its membrane after the reset ``mem [B, N]`` (held where ``held``)
    and grows by the increment where it fired; the batch reduction makes it one again."""
    euler = current.rate * (current.coupling * (mem - v_rest).unsqueeze(-1) - w)
    return _shared_reduce(w, w + euler, spikes, held, current)


def _shared_reduce(value, moved, spikes, held, adaptation):
    """``moved`` (each sample's copy of ``value`` after the step) held where ``held``, plus the
    increment where the sample fired, reduced over the batch."""
    if held is not None:
        moved = torch.where(held.unsqueeze(-1), value, moved)
    moved = moved + adaptation.increment * spikes.to(F32).unsqueeze(-1)
    if spikes.shape[0] == 0:
        return value
    if adaptation.reduction == "mean":
        return moved.mean(0)
    if adaptation.reduction == "sum":
        return moved.sum(0)
    return moved.amax(0) if adaptation.reduction == "max" else moved.amin(0)


def slope(v, opts: NlifOptions, free=1.0):
    """``d h / d v[t-1] = 1 + f'(v) / tau`` at the previous membrane ``v`` (1 on refractory steps,
    ``free`` = 0, where the membrane is held): the kernels' expression."""
    if opts.nonlinearity == NL.LINEAR:
        return 1.0 - free / opts.tau if isinstance(free, float) else free.mul(-1.0 / opts.tau).add_(1.0)
    if opts.nonlinearity == NL.QUADRATIC:
        df = opts.a0 * ((v - opts.v_c) + (v - opts.v_rest))
    else:
        df = torch.exp((v - opts.theta_rh) / opts.delta_t) - 1.0
    return (df * free / opts.tau).add_(1.0)


class _Factors:
    """What the reverse loop reads of steps ``t0..t1-1``, computed at once (nothing in it depends
    on a later step): the spikes ``s``, the masked surrogate gradient ``sg``, ``dv/ds`` (the
    reset's, unless ``detach_reset``), ``dv/dh`` (hard reset: ``1 - s``), the slope ``d h /
    d v[t-1]`` and the free-step mask (None without refractory periods)."""

    def __init__(self, pre, saved, state, thresholds, opts, t0, t1):
        h = pre[t0:t1]
        per_step = thresholds.dim() == 3
        thr = thresholds[t0:t1] if per_step else thresholds
        self.free = None if saved.refr_bits is None else 1.0 - saved.refr_bits[t0:t1].to(F32)
        self.s = self._masked(fired(h, thr))
        given = saved.sgrad[t0:t1] if saved.sgrad is not None else None
        self.sg = self._masked(given.to(F32) if given is not None else sg.grad_(h - thr, opts.surrogate))
        self.dv_ds = None if opts.detach_reset else (reset_target(h, opts) - h if opts.hard_reset else -thr)
        self.dv_dh = None
        if opts.hard_reset:  # the linear reset's target follows h too
            self.dv_dh = 1.0 - self.s if not opts.linear_reset else 1.0 - self.s * (1.0 - opts.reset_mul)
        # v[t-1] from pre[t-1] and s[t-1]: the chunk's own spikes, shifted by a step (only the
        # step before the chunk's are computed here)
        if t0 == 0:
            thr_prev = thr[:-1] if per_step else thr
            v_prev = torch.cat([as_dtype(state.mem0)[None], after_reset(h[:-1], self.s[:-1], thr_prev, opts)])
        else:
            thr_prev = thresholds[t0 - 1 : t1 - 1] if per_step else thr
            s_before = fired(pre[t0 - 1 : t0], thr_prev[:1] if per_step else thr)
            if saved.refr_bits is not None:
                s_before.mul_(1.0 - saved.refr_bits[t0 - 1 : t0].to(F32))
            v_prev = after_reset(pre[t0 - 1 : t1 - 1], torch.cat([s_before, self.s[:-1]]), thr_prev, opts)
        self.slope = slope(v_prev, opts, 1.0 if self.free is None else self.free)

    def _masked(self, t):
        return t if self.free is None else t.mul_(self.free)

    def free_at(self, i):
        return 1.0 if self.free is None else self.free[i]

    def slope_at(self, i):
        return self.slope if isinstance(self.slope, float) else self.slope[i]  # LIF's is a number


def nlif_bwd(
    up: NlifUpstream, saved: NlifSaved, state: NlifState, params: NlifParams, opts: NlifOptions, need, x_dtype
) -> NlifGrads:
    """Reverse time loop. With ``G_v``, ``G_w`` the gradients reaching ``v[t]``, ``w[t]`` and
    ``G_s`` the one reaching ``s[t]`` (its own, the reset's unless ``detach_reset``, ``b * G_w``)::

        G_h[t]  = G_s * sg(h[t] - thr) + G_v * dv/dh + G_w * a / tau_w    dx[t] = G_h[t] / tau
        G_v[t-1] += G_h[t] * (1 + f'(v[t-1]) / tau)
        G_w[t-1] += G_w[t] * (1 - 1 / tau_w) - G_h[t] / tau
        dthreshold -= G_s * sg(h[t] - thr) (+ G_v * s[t] for the subtracting reset)

    ``v[t-1]`` comes back from ``pre[t-1]`` (recomputed spikes), so only ``pre`` is saved."""
    pre = saved.pre
    T, B, N = pre.shape
    thr = step_thresholds(params)
    dx = _alloc.empty(T, B, N, dtype=x_dtype, device=pre.device)
    g_v = torch.zeros(B, N, dtype=F32, device=pre.device)
    g_w = torch.zeros_like(g_v) if opts.adapt else None
    acc_thr = torch.zeros_like(g_v) if need.threshold else None
    for t0, t1 in chunks(T, chunk_steps(B, N, _common.CHUNK_ELEMS)):
        f = _Factors(pre, saved, state, thr, opts, t0, t1)
        for i in range(t1 - t0 - 1, -1, -1):
            t, free = t0 + i, f.free_at(i)
            if up.g_mem is not None:
                g_v = g_v + up.g_mem[t]
            g_s = as_dtype(up.g_spikes[t])
            if f.dv_ds is not None:
                g_s = torch.addcmul(g_s, g_v, f.dv_ds[i] if f.dv_ds.dim() == 3 else f.dv_ds)
            if g_w is not None:
                if up.g_w is not None:
                    g_w = g_w + up.g_w[t]
                g_s = g_s + opts.b * g_w
            g_spike = g_s * f.sg[i]  # masked: a refractory step's spike is 0 whatever its membrane
            g_h = torch.addcmul(g_spike, g_v, f.dv_dh[i]) if opts.hard_reset else g_spike + g_v
            if g_w is not None:
                g_h.add_(g_w * ((opts.a / opts.tau_w) * free))
            torch.mul(g_h, free / opts.tau if opts.decay_input else free, out=dx[t])
            if acc_thr is not None:
                acc_thr.sub_(g_spike)
                if not opts.hard_reset:
                    acc_thr.sub_(g_v * f.s[i])
            if g_w is not None:  # a refractory step holds w and the membrane: the gradient passes through
                g_w = g_w * (1.0 - free / opts.tau_w) - g_h * (free / opts.tau)
            g_v = g_h * f.slope_at(i)
    dthr = None if acc_thr is None else reduce_batch(acc_thr, params.threshold)
    return NlifGrads(dx, g_v, g_w, dthr)
