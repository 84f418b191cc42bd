"""Custom ops for first-order integrate-and-fire dynamics (Leaky, IF, Lapicque,
RLeaky one-to-one; refractory periods)."""
from __future__ import annotations

from typing import Optional

import torch
from torch import Tensor

from .. import surrogate as sg
from . import LIB as _LIB, implementation


@torch.library.custom_op(f"{_LIB}::lif_fwd", mutates_args=())
def lif_fwd(x: Tensor, v0: Optional[Tensor], beta: Tensor, threshold: Tensor, reset: int,
            delay: bool, need_mem: bool, sg_kind: int, sg_param: float, use_triton: bool,
            gain: Optional[Tensor] = None, zero_whole: bool = False, rec: Optional[Tensor] = None,
            s0: Optional[Tensor] = None, refractory: int = 0,
            c0: Optional[Tensor] = None) -> tuple[Tensor, Tensor, Tensor, Tensor, Tensor, Tensor]:
    """``x [T, B, N]`` -> ``(spikes, pre, reset_bits, post, refr_bits, count)``; see kernels/lif.py."""
    return implementation("lif", use_triton).lif_fwd(
        x, v0, beta, threshold, reset, delay, need_mem, gain, zero_whole, rec, s0, refractory, c0)


@lif_fwd.register_fake
def _(x, v0, beta, threshold, reset, delay, need_mem, sg_kind, sg_param, use_triton,
      gain=None, zero_whole=False, rec=None, s0=None, refractory=0, c0=None):
    T, B, N = x.shape
    f32 = torch.float32
    bits = x.new_empty((0,) if delay else (T, B, N), dtype=torch.int8)
    post = x.new_empty((T, B, N) if not delay and need_mem else (0,), dtype=f32)
    qbits = x.new_empty((T, B, N) if refractory > 0 else (0,), dtype=torch.int8)
    count = x.new_empty((B, N) if refractory > 0 else (0,), dtype=torch.int32)
    return x.new_empty(T, B, N), x.new_empty(T, B, N, dtype=f32), bits, post, qbits, count


@torch.library.custom_op(f"{_LIB}::lif_bwd", mutates_args=())
def lif_bwd(grad_spikes: Tensor, grad_mem: Optional[Tensor], pre: Tensor, bits: Tensor,
            v0: Optional[Tensor], beta: Tensor, threshold: Tensor, reset: int, delay: bool,
            sg_kind: int, sg_param: float, x_dtype: torch.dtype, need_dbeta: bool,
            need_dthr: bool, use_triton: bool, gain: Optional[Tensor] = None,
            zero_whole: bool = False, rec: Optional[Tensor] = None, s0: Optional[Tensor] = None,
            need_drec: bool = False,
            qbits: Optional[Tensor] = None) -> tuple[Tensor, Tensor, Tensor, Tensor, Tensor, Tensor]:
    """Reverse time loop: ``(dx, dv0, dbeta, dthr, ds0, drec)``; unneeded gradients are empty."""
    dx, dv0, dbeta, dthr, ds0, drec = implementation("lif", use_triton).lif_bwd(
        grad_spikes, grad_mem, pre, bits, v0, beta, threshold, reset, delay,
        sg.Surrogate(sg_kind, sg_param), x_dtype, need_dbeta, need_dthr, gain, zero_whole,
        rec, s0, need_drec, qbits)
    def or_empty(g):  # a fresh empty each: outputs of a custom op may not alias
        return pre.new_empty(0) if g is None else g
    return dx, dv0, or_empty(dbeta), or_empty(dthr), or_empty(ds0), or_empty(drec)


@lif_bwd.register_fake
def _(grad_spikes, grad_mem, pre, bits, v0, beta, threshold, reset, delay, sg_kind, sg_param,
      x_dtype, need_dbeta, need_dthr, use_triton, gain=None, zero_whole=False, rec=None,
      s0=None, need_drec=False, qbits=None):
    T, B, N = pre.shape
    return (pre.new_empty(T, B, N, dtype=x_dtype), pre.new_empty(B, N),
            pre.new_empty(beta.shape if need_dbeta else (0,)),
            pre.new_empty(threshold.shape if need_dthr else (0,)),
            pre.new_empty((B, N) if rec is not None else (0,)),
            pre.new_empty(rec.shape if need_drec else (0,)))


def _lif_setup_context(ctx, inputs, output):
    (x, v0, beta, threshold, reset, delay, need_mem, sg_kind, sg_param, use_triton,
     gain, zero_whole, rec, s0, refractory, c0) = inputs
    _, pre, bits, _, qbits, _ = output
    ctx.save_for_backward(pre, bits, v0, beta, threshold, gain, rec, s0,
                          qbits if refractory > 0 else None)
    ctx.set_materialize_grads(False)  # unused outputs give None, not [T, B, N] of zeros
    ctx.options = (reset, delay, need_mem, sg_kind, sg_param, use_triton, x.dtype, zero_whole)


def _lif_backward(ctx, g_spikes, g_pre, g_bits, g_post, g_qbits, g_count):
    pre, bits, v0, beta, threshold, gain, rec, s0, qbits = ctx.saved_tensors
    reset, delay, need_mem, sg_kind, sg_param, use_triton, x_dtype, zero_whole = ctx.options
    # The membrane output is `pre` when delay else `post`; it is only exposed when need_mem.
    grad_mem = (g_pre if delay else g_post) if need_mem else None
    if g_spikes is None:  # only the membrane was used
        g_spikes = torch.zeros_like(pre)
    need = ctx.needs_input_grad + (False,) * (16 - len(ctx.needs_input_grad))  # omitted defaults
    need_dv0, need_dbeta, need_dthr, need_drec, need_ds0 = need[1], need[2], need[3], need[12], need[13]
    dx, dv0, dbeta, dthr, ds0, drec = lif_bwd(
        g_spikes, grad_mem, pre, bits, v0, beta, threshold, reset, delay, sg_kind, sg_param,
        x_dtype, need_dbeta, need_dthr, use_triton, gain, zero_whole, rec, s0, need_drec, qbits)
    grads = (dx, dv0 if need_dv0 else None, dbeta if need_dbeta else None,
             dthr if need_dthr else None, None, None, None, None, None, None,
             None, None, drec if need_drec else None, ds0 if need_ds0 else None, None, None)
    return grads[:len(ctx.needs_input_grad)]


torch.library.register_autograd(f"{_LIB}::lif_fwd", _lif_backward, setup_context=_lif_setup_context)
