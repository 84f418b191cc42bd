"""Custom ops for first-order integrate-and-fire dynamics (Leaky, IF, Lapicque,
RLeaky one-to-one, ALIF; refractory periods). One op pair for the whole family:
the options select code paths (constexpr flags in the kernel)."""
from __future__ import annotations

from typing import Optional

import torch
from torch import Tensor

from .. import surrogate as sg
from ..ops_common import lif_outputs
from . import LIB as _LIB, implementation
from ._recurrence import Recurrence, initial_spikes

_N_INPUTS = 19


@torch.library.custom_op(f"{_LIB}::lif_fwd", mutates_args=())
def lif_fwd(x: Tensor, v0: Optional[Tensor], beta: Tensor, threshold: Tensor, reset: int,
            delay: bool, need_mem: bool, sg_kind: int, sg_param: float, use_triton: bool,
            gain: Optional[Tensor] = None, zero_whole: bool = False, rec: Optional[Tensor] = None,
            s0: Optional[Tensor] = None, refractory: int = 0, c0: Optional[Tensor] = None,
            rho: Optional[Tensor] = None, b: Optional[Tensor] = None,
            a0: Optional[Tensor] = None) -> tuple[Tensor, Tensor, Tensor, Tensor, Tensor, Tensor, Tensor]:
    """``x [T, B, N]`` -> ``(spikes, pre, reset_bits, post, refr_bits, count, adapt)``; see kernels/lif.py."""
    return implementation("lif", use_triton).lif_fwd(
        x, v0, beta, threshold, reset, delay, need_mem, gain, zero_whole, rec, s0, refractory, c0,
        rho, b, a0)


@lif_fwd.register_fake
def _(x, v0, beta, threshold, reset, delay, need_mem, sg_kind, sg_param, use_triton,
      gain=None, zero_whole=False, rec=None, s0=None, refractory=0, c0=None, rho=None, b=None, a0=None):
    return lif_outputs(x, delay, need_mem, refractory, rho is not None)


@torch.library.custom_op(f"{_LIB}::lif_bwd", mutates_args=())
def lif_bwd(grad_spikes: Tensor, grad_mem: Optional[Tensor], pre: Tensor, bits: Tensor,
            v0: Optional[Tensor], beta: Tensor, threshold: Tensor, reset: int, delay: bool,
            sg_kind: int, sg_param: float, x_dtype: torch.dtype, need_dbeta: bool,
            need_dthr: bool, use_triton: bool, gain: Optional[Tensor] = None,
            zero_whole: bool = False, rec: Optional[Tensor] = None, s0: Optional[Tensor] = None,
            need_drec: bool = False, qbits: Optional[Tensor] = None, rho: Optional[Tensor] = None,
            b: Optional[Tensor] = None, a0: Optional[Tensor] = None, adapt: Optional[Tensor] = None,
            need_drho: bool = False, need_db: bool = False, grad_adapt: Optional[Tensor] = None,
            ) -> tuple[Tensor, Tensor, Tensor, Tensor, Tensor, Tensor, Tensor, Tensor, Tensor]:
    """Reverse time loop: ``(dx, dv0, dbeta, dthr, ds0, drec, da0, drho, db)``; unneeded gradients are empty."""
    grads = implementation("lif", use_triton).lif_bwd(
        grad_spikes, grad_mem, pre, bits, v0, beta, threshold, reset, delay,
        sg.Surrogate(sg_kind, sg_param), x_dtype, need_dbeta, need_dthr, gain, zero_whole,
        rec, s0, need_drec, qbits, rho, b, a0, adapt, need_drho, need_db, grad_adapt)
    # A fresh empty for each missing gradient: outputs of a custom op may not alias.
    return tuple(pre.new_empty(0) if g is None else g for g in grads)


@lif_bwd.register_fake
def _(grad_spikes, grad_mem, pre, bits, v0, beta, threshold, reset, delay, sg_kind, sg_param,
      x_dtype, need_dbeta, need_dthr, use_triton, gain=None, zero_whole=False, rec=None,
      s0=None, need_drec=False, qbits=None, rho=None, b=None, a0=None, adapt=None,
      need_drho=False, need_db=False, grad_adapt=None):
    T, B, N = pre.shape
    state = (B, N) if rec is not None or rho is not None else (0,)
    return (pre.new_empty(T, B, N, dtype=x_dtype), pre.new_empty(B, N),
            pre.new_empty(beta.shape if need_dbeta else (0,)),
            pre.new_empty(threshold.shape if need_dthr else (0,)),
            pre.new_empty(state),
            pre.new_empty(rec.shape if need_drec else (0,)),
            pre.new_empty((B, N) if rho is not None else (0,)),
            pre.new_empty(rho.shape if need_drho else (0,)),
            pre.new_empty(b.shape if need_db else (0,)))


def _lif_setup_context(ctx, inputs, output):
    inputs = tuple(inputs) + (None,) * (_N_INPUTS - len(inputs))   # omitted defaults
    (x, v0, beta, threshold, reset, delay, need_mem, sg_kind, sg_param, use_triton,
     gain, zero_whole, rec, s0, refractory, c0, rho, b, a0) = inputs
    _, pre, bits, _, qbits, _, adapt = output
    refractory = refractory or 0
    ctx.save_for_backward(pre, bits, v0, beta, threshold, gain, rec, s0,
                          qbits if refractory > 0 else None, rho, b, a0,
                          adapt if rho is not None else None)
    ctx.set_materialize_grads(False)  # unused outputs give None, not [T, B, N] of zeros
    ctx.options = (reset, delay, need_mem, sg_kind, sg_param, use_triton, x.dtype, bool(zero_whole))


def _lif_backward(ctx, g_spikes, g_pre, g_bits, g_post, g_qbits, g_count, g_adapt):
    pre, bits, v0, beta, threshold, gain, rec, s0, qbits, rho, b, a0, adapt = ctx.saved_tensors
    reset, delay, need_mem, sg_kind, sg_param, use_triton, x_dtype, zero_whole = ctx.options
    # The membrane output is `pre` when delay else `post`; it is only exposed when need_mem.
    grad_mem = (g_pre if delay else g_post) if need_mem else None
    if g_spikes is None:  # only the membrane was used
        g_spikes = torch.zeros_like(pre)
    n = len(ctx.needs_input_grad)
    need = ctx.needs_input_grad + (False,) * (_N_INPUTS - n)
    need_dbeta, need_dthr, need_drec, need_drho, need_db = need[2], need[3], need[12], need[16], need[17]
    dx, dv0, dbeta, dthr, ds0, drec, da0, drho, db = lif_bwd(
        g_spikes, grad_mem, pre, bits, v0, beta, threshold, reset, delay, sg_kind, sg_param,
        x_dtype, need_dbeta, need_dthr, use_triton, gain, zero_whole, rec, s0, need_drec, qbits,
        rho, b, a0, adapt, need_drho, need_db, g_adapt)
    grads = [None] * _N_INPUTS
    grads[0], grads[1], grads[2], grads[3] = dx, dv0, dbeta, dthr
    grads[12], grads[13], grads[15], grads[16], grads[17], grads[18] = drec, ds0, None, drho, db, da0
    return tuple(g if need[i] else None for i, g in enumerate(grads))[:n]


torch.library.register_autograd(f"{_LIB}::lif_fwd", _lif_backward, setup_context=_lif_setup_context)


# --- RLeaky with all-to-all recurrence (an nn.Linear): see ops/_recurrence.py --------

@torch.library.custom_op(f"{_LIB}::rleaky_dense_fwd", mutates_args=())
def rleaky_dense_fwd(x: Tensor, v0: Optional[Tensor], s0: Optional[Tensor], weight: Tensor,
                     bias: Optional[Tensor], beta: Tensor, threshold: Tensor, reset: int, delay: bool,
                     sg_kind: int, sg_param: float, use_triton: bool, refractory: int = 0,
                     c0: Optional[Tensor] = None, image: Optional[list[int]] = None
                     ) -> tuple[Tensor, Tensor, Tensor, Tensor, Tensor, Tensor]:
    """``x [T, B, N]`` -> ``(spikes, mem, pre, reset_bits, refr_bits, count)``; ``mem`` is the
    membrane a user sees (``pre`` when ``delay``, post-reset otherwise). ``weight``/``bias`` are
    an ``nn.Linear``'s or, with ``image = [C, H, W]``, a same-size ``nn.Conv2d``'s."""
    impl = implementation("lif", use_triton)
    T, B, N = x.shape
    spikes, pre, bits, mem, qbits, count, _ = lif_outputs(x, delay, True, refractory)
    if delay:
        mem = pre
    f32 = torch.float32
    s_prev = initial_spikes(s0, x)
    v, c = v0, c0
    rec = Recurrence(weight, bias, image)
    for t in range(T):
        cur = rec.input(x[t], s_prev)
        s_t, pre_t, bits_t, post_t, q_t, c, _ = impl.lif_fwd(
            cur[None], v, beta, threshold, reset, delay, True, None, True, None, None, refractory, c)
        spikes[t], pre[t] = s_t[0], pre_t[0]
        if not delay:
            bits[t], mem[t] = bits_t[0], post_t[0]
        if refractory > 0:
            qbits[t] = q_t[0]
        v = mem[t]
        s_prev = spikes[t].to(f32)
    if refractory > 0 and T > 0:
        count = c
    elif refractory > 0:
        count.copy_(c0 if c0 is not None else torch.zeros_like(count))
    return spikes, mem.clone() if delay else mem, pre, bits, qbits, count


@rleaky_dense_fwd.register_fake
def _(x, v0, s0, weight, bias, beta, threshold, reset, delay, sg_kind, sg_param, use_triton,
      refractory=0, c0=None, image=None):
    spikes, pre, bits, mem, qbits, count, _ = lif_outputs(x, delay, True, refractory)
    return spikes, torch.empty_like(pre), pre, bits, qbits, count


def _dense_setup_context(ctx, inputs, output):
    inputs = tuple(inputs) + (None,) * (15 - len(inputs))
    (x, v0, s0, weight, bias, beta, threshold, reset, delay, sg_kind, sg_param, use_triton,
     refractory, c0, image) = inputs
    spikes, mem, pre, bits, qbits, _ = output
    refractory = refractory or 0
    ctx.save_for_backward(v0, s0, weight, bias, beta, threshold, spikes, mem, pre, bits,
                          qbits if refractory > 0 else None)
    ctx.set_materialize_grads(False)
    ctx.options = (reset, delay, sg_kind, sg_param, use_triton, x.dtype, image)


def _dense_backward(ctx, g_spikes, g_mem, g_pre, g_bits, g_qbits, g_count):
    v0, s0, weight, bias, beta, threshold, spikes, mem, pre, bits, qbits = ctx.saved_tensors
    reset, delay, sg_kind, sg_param, use_triton, x_dtype, image = ctx.options
    impl = implementation("lif", use_triton)
    surrogate = sg.Surrogate(sg_kind, sg_param)
    need = ctx.needs_input_grad + (False,) * (15 - len(ctx.needs_input_grad))
    need_dbeta, need_dthr = need[5], need[6]
    T, B, N = pre.shape
    f32 = torch.float32
    rec = Recurrence(weight, bias, image)
    g_cur = torch.empty_like(pre)                      # dL/d (x[t] + recurrent(s[t-1]))
    g_v = pre.new_zeros(B, N)                          # dL/d mem[t] through step t+1
    g_s = pre.new_zeros(B, N)                          # dL/d s[t] through the recurrence at t+1
    dbeta = torch.zeros_like(beta) if need_dbeta else None
    dthr = torch.zeros_like(threshold) if need_dthr else None
    for t in range(T - 1, -1, -1):
        gs_t = g_s if g_spikes is None else g_spikes[t].to(f32) + g_s
        gm_t = g_v if g_mem is None else g_mem[t].to(f32) + g_v
        v_prev = v0 if t == 0 else mem[t - 1]
        dx, g_v, db_t, dt_t, *_ = impl.lif_bwd(
            gs_t[None], gm_t[None], pre[t:t + 1], bits[t:t + 1] if not delay else bits, v_prev,
            beta, threshold, reset, delay, surrogate, f32, need_dbeta, need_dthr, None, True,
            None, None, False, qbits[t:t + 1] if qbits is not None else None)
        g_cur[t] = dx[0]
        g_s = rec.spike_grad(g_cur[t])
        if need_dbeta:
            dbeta += db_t
        if need_dthr:
            dthr += dt_t
    dweight, dbias = rec.weight_grads(g_cur, spikes, s0, need[3], need[4])
    grads = (g_cur.to(x_dtype), g_v if need[1] else None, g_s if need[2] else None, dweight,
             dbias, dbeta, dthr, None, None, None, None, None, None, None, None)
    return grads[:len(ctx.needs_input_grad)]


torch.library.register_autograd(f"{_LIB}::rleaky_dense_fwd", _dense_backward,
                                setup_context=_dense_setup_context)
