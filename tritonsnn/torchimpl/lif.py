"""First-order integrate-and-fire dynamics (Leaky, IF) in PyTorch.

Shapes: ``x`` is ``[T, B, N]`` (``N`` = features per sample), state ``[B, N]``,
``beta``/``threshold`` fp32 of shape ``[1]`` or ``[N]`` (already clamped/broadcast
by the caller). The recurrence is written out in ``tritonsnn/kernels/lif.py``'s
module docstring; both implementations follow it step for step.
"""
from __future__ import annotations

import torch

from .. import _alloc
from .. import surrogate as sg
from ..ops_common import RESET_NONE, RESET_SUBTRACT, RESET_ZERO


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
    dev, f32 = x.device, torch.float32
    spikes = _alloc.empty(T, B, N, dtype=x.dtype, device=dev)
    pre = _alloc.empty(T, B, N, dtype=f32, device=dev)
    bits = _alloc.empty(T, B, N, dtype=torch.int8, device=dev) if not delay else x.new_empty(0, dtype=torch.int8)
    post = _alloc.empty(T, B, N, dtype=f32, device=dev) if not delay and need_post else x.new_empty(0, dtype=f32)
    p = torch.zeros(B, N, dtype=f32, device=dev) if v0 is None else v0.to(f32)
    r = (p > thr).to(f32)
    for t in range(T):
        m = pre[t]
        if reset == RESET_ZERO:
            p = p * (1 - r)
        torch.mul(beta, p, out=m)
        m.add_(x[t])
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


def lif_bwd(grad_spikes, grad_mem, pre, bits, v0, beta, thr, reset: int, delay: bool,
            surrogate: sg.Surrogate, x_dtype, need_dbeta: bool, need_dthr: bool):
    """Reverse time loop. Returns ``(dx, dv0, dbeta, dthr)``; dbeta/dthr shaped like
    ``beta``/``threshold``, ``None`` where not needed.

    ``grad_mem`` is the gradient of the returned membrane (``pre`` when ``delay``,
    ``post`` otherwise) or ``None``. The parts without a time recurrence
    (surrogate, Jacobian factors, parameter gradients) are computed for all steps
    at once; only ``g_pre[t] = a[t] + J[t] * (grad_mem[t] + coef[t+1] * g_pre[t+1])`` loops.
    """
    T, B, N = pre.shape
    f32 = torch.float32
    v0 = pre.new_zeros(B, N) if v0 is None else v0.to(f32)
    spk = (pre > thr).to(f32)
    sgrad = sg.grad(pre - thr, surrogate)
    a = grad_spikes.to(f32) * sgrad                      # spike path: dL/ds * ds/dpre
    if delay:
        prev = torch.cat([v0[None], pre[:-1]])           # membrane carried into each step
        r = (prev > thr).to(f32) if reset != RESET_NONE else torch.zeros_like(pre)
        post_jac = None                                  # post == pre
    else:
        r = bits.to(f32)
        d = spk - r
        prev = torch.cat([v0[None], _post_reset(pre, spk, r, thr, reset)[:-1]])
        # d post / d pre: the surrogate also flows through the same-step reset, as in snnTorch.
        post_jac = 1 - thr * sgrad if reset == RESET_SUBTRACT else (1 - d) - pre * sgrad
    keep = 1 - r if reset == RESET_ZERO else torch.ones_like(r)
    coef = beta * keep                                   # d pre[t] / d post[t-1]
    g_pre = torch.empty_like(pre)
    g_carry = pre.new_zeros(B, N)                        # dL/d post[t] through step t+1
    for t in range(T - 1, -1, -1):
        g_post = g_carry if grad_mem is None else g_carry + grad_mem[t]
        if post_jac is None:
            torch.add(a[t], g_post, out=g_pre[t])
        else:
            torch.addcmul(a[t], post_jac[t], g_post, out=g_pre[t])
        g_carry = coef[t] * g_pre[t]
    dbeta = dthr = None
    if need_dbeta:
        dbeta = _reduce_to(g_pre * keep * prev, beta)
    if need_dthr:
        g_thr = -a
        if reset == RESET_SUBTRACT:
            g_thr = g_thr - g_pre * r
        if post_jac is not None:
            g_post_all = torch.cat([coef[1:] * g_pre[1:], pre.new_zeros(1, B, N)])
            if grad_mem is not None:
                g_post_all = g_post_all + grad_mem
            dpost_dthr = thr * sgrad - d if reset == RESET_SUBTRACT else pre * sgrad
            g_thr = g_thr + g_post_all * dpost_dthr
        dthr = _reduce_to(g_thr, thr)
    return g_pre.to(x_dtype), g_carry, dbeta, dthr


def _reduce_to(g, param):
    """Sum a ``[T, B, N]`` per-element gradient down to ``param``'s shape ``[1]`` or ``[N]``."""
    g = g.sum(dim=(0, 1))
    return g.sum().reshape(1) if param.numel() == 1 else g
