"""Nonlinear integrate-and-fire dynamics (QIF, EIF, Izhikevich, AdEx) in PyTorch.

Shapes: ``x`` is ``[T, B, N]``, states ``[B, N]`` (the initial membrane given: the functional
layer starts it at ``v_reset``), the threshold fp32 ``[1]`` or ``[N]``; the constants of the
dynamics are numbers of the options record. The recurrence, written out in
``tritonsnn/kernels/nonlinear.py``'s module docstring, follows SpikingJelly's order of
operations; both implementations follow it step for step::

    h[t] = v[t-1] + (x[t] + f(v[t-1]) - w[t-1]) / tau      (- w only with adaptation)
    s[t] = h[t] >= threshold
    v[t] = s[t] * v_reset + (1 - s[t]) * h[t]              hard reset (else h[t] - s[t] * threshold)
    w[t] = w[t-1] + (a * (h[t] - v_rest) - w[t-1]) / tau_w + b * s[t]
"""

from __future__ import annotations

import torch

from .. import _alloc
from .. import surrogate as sg
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
from ._common import F32, Refractory, as_dtype, reduce_batch, rows


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


def after_reset(h, s, thr, opts: NlifOptions):
    """The membrane after the spikes ``s`` (fp32 0/1) of the step whose pre-reset membrane is ``h``."""
    if opts.hard_reset:
        return s * opts.v_reset + (1.0 - s) * h
    return h - s * thr


def adapted(w, h, s, opts: NlifOptions):
    """The adaptation current after a step."""
    return w + (opts.a * (h - opts.v_rest) - w) / opts.tau_w + opts.b * s


def fired(h, thr):
    """Spikes ``h >= threshold`` as fp32 0/1 (SpikingJelly's Heaviside fires at equality)."""
    return torch.ge(h, thr, out=torch.empty_like(h))


def nlif_fwd(x, state: NlifState, params: NlifParams, opts: NlifOptions) -> NlifOutputs:
    """Forward time loop: spikes, the pre-reset membrane (saved for backward) and, with
    ``need_mem``, the membrane after each reset and the adaptation current. A refractory step
    holds the membrane and ``w`` and cannot fire."""
    out = nlif_outputs(x, opts)
    T, B, N = x.shape
    thr = params.threshold
    v = as_dtype(state.mem0)
    w = (torch.zeros_like(v) if state.w0 is None else as_dtype(state.w0)) if opts.adapt else None
    counter = Refractory(state.count0, opts.refractory, B, N, x.device) if opts.refractory > 0 else None
    mems = rows(out.mem) if opts.need_mem else None
    ws = rows(out.w) if opts.need_mem and opts.adapt else None
    for t, (xt, h_t, s_t) in enumerate(zip(rows(x), rows(out.pre), rows(out.spikes))):
        h = drive(v, as_dtype(xt), w, opts)
        s = fired(h, thr)
        if counter is not None:
            s.mul_(counter.step(t, out.refr_bits[t]))
            counter.hold(h, v)
            counter.fired(t, s)
        h_t.copy_(h)
        s_t.copy_(s)
        v = after_reset(h, s, thr, opts)
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


def slope(v, opts: NlifOptions):
    """``d h / d v[t-1] = 1 + f'(v) / tau`` at the previous membrane ``v``."""
    if opts.nonlinearity == NL.LINEAR:
        return torch.full_like(v, 1.0 - 1.0 / opts.tau)
    if opts.nonlinearity == NL.QUADRATIC:
        df = opts.a0 * ((v - opts.v_c) + (v - opts.v_rest))
    else:
        df = torch.exp((v - opts.theta_rh) / opts.delta_t) - 1.0
    return 1.0 + df / opts.tau


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
    thr, choice = params.threshold, opts.surrogate
    frees = None if saved.refr_bits is None else 1.0 - saved.refr_bits.to(F32)
    dx = _alloc.empty(T, B, N, dtype=x_dtype, device=pre.device)
    g_v = torch.zeros(B, N, dtype=F32, device=pre.device)
    g_w = torch.zeros_like(g_v) if opts.adapt else None
    acc_thr = torch.zeros_like(g_v) if need.threshold else None

    def spikes(t):
        s = fired(pre[t], thr)
        return s if frees is None else s * frees[t]

    for t in range(T - 1, -1, -1):
        h, s, free = pre[t], spikes(t), 1.0 if frees is None else frees[t]
        sgrad = saved.sgrad[t] if saved.sgrad is not None else sg.grad_(h - thr, choice)
        if up.g_mem is not None:
            g_v = g_v + up.g_mem[t]
        g_s = up.g_spikes[t].to(F32)
        if not opts.detach_reset:
            g_s = g_s + g_v * ((opts.v_reset - h) if opts.hard_reset else -thr)
        g_h = g_v * (1.0 - s) if opts.hard_reset else g_v
        if g_w is not None:
            if up.g_w is not None:
                g_w = g_w + up.g_w[t]
            g_s = g_s + opts.b * g_w
            g_h = g_h + (opts.a / opts.tau_w) * free * g_w
        g_spike = g_s * sgrad * free  # a refractory step's spike is 0 whatever its membrane
        g_h = g_h + g_spike
        dx[t] = g_h * free / opts.tau if opts.decay_input else g_h * free
        if acc_thr is not None:
            acc_thr -= g_spike if opts.hard_reset else g_spike + g_v * s
        v_prev = as_dtype(state.mem0) if t == 0 else after_reset(pre[t - 1], spikes(t - 1), thr, opts)
        if g_w is not None:  # a refractory step holds w and the membrane: the gradient passes through
            g_w = g_w * (1.0 - free / opts.tau_w) - g_h * free / opts.tau
        g_v = g_h * (1.0 + (slope(v_prev, opts) - 1.0) * free)
    dthr = None if acc_thr is None else reduce_batch(acc_thr, thr)
    return NlifGrads(dx, g_v, g_w, dthr)
