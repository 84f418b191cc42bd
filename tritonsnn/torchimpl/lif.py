"""First-order integrate-and-fire dynamics (Leaky, IF) in PyTorch.

Shapes: ``x`` is ``[T, B, N]`` (``N`` = features per sample), state ``[B, N]``,
``beta``/``threshold`` fp32 of shape ``[1]`` or ``[N]`` (already clamped/broadcast
by the caller). The recurrence is written out in ``tritonsnn/kernels/lif.py``'s
module docstring; both implementations follow it step for step.
"""
from __future__ import annotations

import torch

from .. import surrogate as sg
from ..ops_common import RESET_NONE, RESET_SUBTRACT, RESET_ZERO, lif_outputs


def _post_reset(m, s, r, thr, reset):
    """Membrane after the same-step reset (``reset_delay=False``): ``m - (s - r)*thr`` or ``m - (s - r)*m``."""
    d = s - r
    return m - d * thr if reset == RESET_SUBTRACT else m - d * m


def lif_fwd(x, v0, beta, thr, reset: int, delay: bool, need_post: bool):
    """Forward time loop. Returns ``(spikes, pre, reset_bits, post)``.

    ``pre`` is the membrane before the same-step reset (all that backward needs
    when ``delay``); ``reset_bits`` and ``post`` are only filled when ``delay``
    is False (``post`` only when ``need_post``), else empty.
    """
    T, B, N = x.shape
    f32 = torch.float32
    spikes, pre, bits, post = lif_outputs(x, delay, need_post)
    p = torch.zeros(B, N, dtype=f32, device=x.device) if v0 is None else v0.to(f32)
    r = (p > thr).to(f32)
    for t in range(T):
        m = pre[t]
        if reset == RESET_ZERO:
            p = p * (1 - r)
        torch.addcmul(x[t], beta, p, out=m)
        if reset == RESET_SUBTRACT:
            m.addcmul_(r, thr, value=-1)
        s = torch.gt(m, thr, out=spikes[t])
        if delay:
            p, r = m, s.to(f32)   # r[t+1] = H(pre[t] - thr) = s[t]: no second comparison
        else:
            bits[t].copy_(r)
            p = _post_reset(m, s.to(f32), r, thr, reset)
            if need_post:
                post[t].copy_(p)
            r = (p > thr).to(f32)
    return spikes, pre, bits, post


# Backward works through time in chunks of about this many elements: big enough to
# amortise per-op overhead, small enough that the temporaries stay in cache.
CHUNK_ELEMS = 1 << 16


def lif_bwd(grad_spikes, grad_mem, pre, bits, v0, beta, thr, reset: int, delay: bool,
            surrogate: sg.Surrogate, x_dtype, need_dbeta: bool, need_dthr: bool):
    """Reverse time loop. Returns ``(dx, dv0, dbeta, dthr)``; dbeta/dthr shaped like
    ``beta``/``threshold``, ``None`` where not needed.

    ``grad_spikes``/``grad_mem`` are the gradients of the spikes and of the returned
    membrane (``pre`` when ``delay``, ``post`` otherwise), ``None`` when unused.
    Within a chunk of steps, everything without a time recurrence (surrogate,
    Jacobian factors, parameter-gradient terms) is computed at once; the loop
    itself is ``g_pre[t] = a[t] + J[t] * (grad_mem[t] + coef[t+1] * g_pre[t+1])``.
    """
    T, B, N = pre.shape
    f32 = torch.float32
    v0 = pre.new_zeros(B, N) if v0 is None else v0.to(f32)
    g_pre = torch.empty_like(pre)
    acc_beta = pre.new_zeros(B, N) if need_dbeta else None
    acc_thr = pre.new_zeros(B, N) if need_dthr else None
    g_next = coef_next = None            # g_pre and coef of the first step of the later chunk
    chunk = max(1, CHUNK_ELEMS // max(1, B * N))
    for t1 in range(T, 0, -chunk):
        t0 = max(0, t1 - chunk)
        pc = pre[t0:t1]
        # Membrane carried into each step of the chunk (post[t-1], v0 at t = 0) and reset flags.
        if delay:
            prev = torch.cat([(v0 if t0 == 0 else pre[t0 - 1])[None], pre[t0:t1 - 1]])
            r = (prev > thr).to(f32) if reset != RESET_NONE else None
        else:
            r = bits[t0:t1].to(f32)
            lo = max(t0 - 1, 0)
            post_prev = _post_reset(pre[lo:t1 - 1], (pre[lo:t1 - 1] > thr).to(f32), bits[lo:t1 - 1].to(f32), thr, reset)
            prev = torch.cat([v0[None], post_prev]) if t0 == 0 else post_prev
        sgrad = sg.grad(pc - thr, surrogate)
        a = sgrad * grad_spikes[t0:t1] if grad_spikes is not None else torch.zeros_like(pc)
        keep = 1 - r if reset == RESET_ZERO else None
        coef = beta * keep if keep is not None else beta.expand(t1 - t0, 1, -1)   # d pre[t] / d post[t-1]
        g_post = pc.new_zeros(pc.shape) if grad_mem is None else grad_mem[t0:t1].to(f32, copy=True)
        # g_post[t] (dL/d post[t]) gets coef[t+1] * g_pre[t+1] inside the loop.
        if delay:
            g_post.add_(a)
            post_jac = None
        else:
            d = (pc > thr).to(f32) - r
            # The surrogate also flows through the same-step reset, as in snnTorch.
            post_jac = 1 - thr * sgrad if reset == RESET_SUBTRACT else (1 - d) - pre[t0:t1] * sgrad
        gc = g_pre[t0:t1]
        for i in range(t1 - t0 - 1, -1, -1):
            if g_next is not None:
                g_post[i].addcmul_(coef_next, g_next)
            if post_jac is None:
                gc[i] = g_post[i]
            else:
                torch.addcmul(a[i], post_jac[i], g_post[i], out=gc[i])
            g_next, coef_next = gc[i], coef[i]
        if need_dbeta:
            acc_beta += (gc * prev if keep is None else gc * keep * prev).sum(0)
        if need_dthr:
            acc_thr -= a.sum(0)
            if reset == RESET_SUBTRACT:
                acc_thr -= (gc * r).sum(0)
            if post_jac is not None:
                dpost_dthr = thr * sgrad - d if reset == RESET_SUBTRACT else pc * sgrad
                acc_thr += (g_post * dpost_dthr).sum(0)
    dv0 = coef_next * g_next if T > 0 else v0.new_zeros(B, N)
    dbeta = _reduce_to(acc_beta.sum(0), beta) if need_dbeta else None
    dthr = _reduce_to(acc_thr.sum(0), thr) if need_dthr else None
    return g_pre.to(x_dtype), dv0, dbeta, dthr


def _reduce_to(g, param):
    """Sum a per-neuron ``[N]`` gradient down to ``param``'s shape ``[1]`` or ``[N]``."""
    return g.sum().reshape(1) if param.numel() == 1 else g
