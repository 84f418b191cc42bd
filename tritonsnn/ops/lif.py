"""Custom ops for first-order integrate-and-fire dynamics (Leaky, IF)."""
from __future__ import annotations

from typing import Optional

import torch
from torch import Tensor

from .. import surrogate as sg
from ..ops_common import lif_outputs
from . import LIB as _LIB, implementation


@torch.library.custom_op(f"{_LIB}::lif_fwd", mutates_args=())
def lif_fwd(x: Tensor, v0: Optional[Tensor], beta: Tensor, threshold: Tensor, reset: int,
            delay: bool, need_mem: bool, sg_kind: int, sg_param: float,
            use_triton: bool) -> tuple[Tensor, Tensor, Tensor, Tensor]:
    """``x [T, B, N]`` -> ``(spikes, pre, reset_bits, post)``; see kernels/lif.py for the recurrence."""
    return implementation("lif", use_triton).lif_fwd(x, v0, beta, threshold, reset, delay, need_mem)


@lif_fwd.register_fake
def _(x, v0, beta, threshold, reset, delay, need_mem, sg_kind, sg_param, use_triton):
    return lif_outputs(x, delay, need_mem)


@torch.library.custom_op(f"{_LIB}::lif_bwd", mutates_args=())
def lif_bwd(grad_spikes: Tensor, grad_mem: Optional[Tensor], pre: Tensor, bits: Tensor,
            v0: Optional[Tensor], beta: Tensor, threshold: Tensor, reset: int, delay: bool,
            sg_kind: int, sg_param: float, x_dtype: torch.dtype, need_dbeta: bool,
            need_dthr: bool, use_triton: bool) -> tuple[Tensor, Tensor, Tensor, Tensor]:
    """Reverse time loop: ``(dx, dv0, dbeta, dthr)``; unneeded parameter grads are empty."""
    dx, dv0, dbeta, dthr = implementation("lif", use_triton).lif_bwd(
        grad_spikes, grad_mem, pre, bits, v0, beta, threshold, reset, delay,
        sg.Surrogate(sg_kind, sg_param), x_dtype, need_dbeta, need_dthr)
    return (dx, dv0, pre.new_empty(0) if dbeta is None else dbeta,
            pre.new_empty(0) if dthr is None else dthr)


@lif_bwd.register_fake
def _(grad_spikes, grad_mem, pre, bits, v0, beta, threshold, reset, delay, sg_kind, sg_param,
      x_dtype, need_dbeta, need_dthr, use_triton):
    T, B, N = pre.shape
    return (pre.new_empty(T, B, N, dtype=x_dtype), pre.new_empty(B, N),
            pre.new_empty(beta.shape if need_dbeta else (0,)),
            pre.new_empty(threshold.shape if need_dthr else (0,)))


def _lif_setup_context(ctx, inputs, output):
    x, v0, beta, threshold, reset, delay, need_mem, sg_kind, sg_param, use_triton = inputs
    _, pre, bits, _ = output
    ctx.save_for_backward(pre, bits, v0, beta, threshold)
    ctx.set_materialize_grads(False)  # unused outputs give None, not [T, B, N] of zeros
    ctx.options = (reset, delay, need_mem, sg_kind, sg_param, use_triton, x.dtype)


def _lif_backward(ctx, g_spikes, g_pre, g_bits, g_post):
    pre, bits, v0, beta, threshold = ctx.saved_tensors
    reset, delay, need_mem, sg_kind, sg_param, use_triton, x_dtype = ctx.options
    # The membrane output is `pre` when delay else `post`; it is only exposed when need_mem.
    grad_mem = (g_pre if delay else g_post) if need_mem else None
    if g_spikes is None:  # only the membrane was used
        g_spikes = torch.zeros_like(pre)
    _, need_dv0, need_dbeta, need_dthr = ctx.needs_input_grad[:4]
    dx, dv0, dbeta, dthr = lif_bwd(
        g_spikes, grad_mem, pre, bits, v0, beta, threshold, reset, delay, sg_kind, sg_param,
        x_dtype, need_dbeta, need_dthr, use_triton)
    return (dx, dv0 if need_dv0 else None, dbeta if need_dbeta else None,
            dthr if need_dthr else None, None, None, None, None, None, None)


torch.library.register_autograd(f"{_LIB}::lif_fwd", _lif_backward, setup_context=_lif_setup_context)
