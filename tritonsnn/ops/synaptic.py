"""Custom ops for second-order dynamics (Synaptic, RSynaptic one-to-one, Alpha).

One op pair serves the whole family: ``neuron`` selects the Synaptic or Alpha
structure and ``v`` (None or the one-to-one recurrent weight) the recurrence;
see kernels/synaptic.py for the equations.
"""
from __future__ import annotations

from typing import Optional

import torch
from torch import Tensor

from .. import surrogate as sg
from ..ops_common import NEURON_ALPHA, syn_outputs
from . import LIB as _LIB, implementation


@torch.library.custom_op(f"{_LIB}::syn_fwd", mutates_args=())
def syn_fwd(x: Tensor, cur0: Optional[Tensor], aux0: Optional[Tensor], mem0: Optional[Tensor],
            spk0: Optional[Tensor], cnt0: Optional[Tensor], alpha: Tensor, beta: Tensor, tau: Optional[Tensor],
            threshold: Tensor, v: Optional[Tensor], neuron: int, reset: int, delay: bool, store_cur: bool,
            need_mem: bool, refr_steps: int, sg_kind: int, sg_param: float,
            use_triton: bool) -> tuple[Tensor, Tensor, Tensor, Tensor, Tensor, Tensor, Tensor, Tensor]:
    """``x [T, B, N]`` -> ``(spikes, cur, aux, mem, reset_bits, post, refr_flags, refr_count)``;
    see kernels/synaptic.py."""
    return implementation("synaptic", use_triton).syn_fwd(
        x, cur0, aux0, mem0, spk0, cnt0, alpha, beta, tau, threshold, v, neuron, reset, delay, store_cur, need_mem,
        refr_steps)


@syn_fwd.register_fake
def _(x, cur0, aux0, mem0, spk0, cnt0, alpha, beta, tau, threshold, v, neuron, reset, delay, store_cur, need_mem,
      refr_steps, sg_kind, sg_param, use_triton):
    return syn_outputs(x, neuron, delay, store_cur, need_mem, refr_steps > 0)


@torch.library.custom_op(f"{_LIB}::syn_bwd", mutates_args=())
def syn_bwd(g_spikes: Tensor, g_cur: Optional[Tensor], g_aux: Optional[Tensor], g_mem: Optional[Tensor],
            cur: Tensor, aux: Tensor, mem: Tensor, bits: Tensor, refr: Tensor, cur0: Optional[Tensor], aux0: Optional[Tensor],
            mem0: Optional[Tensor], spk0: Optional[Tensor], alpha: Tensor, beta: Tensor, tau: Optional[Tensor],
            threshold: Tensor, v: Optional[Tensor], neuron: int, reset: int, delay: bool, sg_kind: int,
            sg_param: float, x_dtype: torch.dtype, need_dalpha: bool, need_dbeta: bool, need_dtau: bool,
            need_dthr: bool, need_dv: bool, use_triton: bool) -> list[Tensor]:
    """Reverse time loop: ``(dx, dcur0, daux0, dmem0, dspk0, dalpha, dbeta, dtau, dthr, dv)``;
    gradients that are not needed or do not exist come back empty."""
    grads = implementation("synaptic", use_triton).syn_bwd(
        g_spikes, g_cur, g_aux, g_mem, cur, aux, mem, bits, refr, cur0, aux0, mem0, spk0, alpha, beta, tau,
        threshold, v, neuron, reset, delay, sg.Surrogate(sg_kind, sg_param), x_dtype,
        (need_dalpha, need_dbeta, need_dtau, need_dthr, need_dv))
    return [mem.new_empty(0) if g is None else g for g in grads]


@syn_bwd.register_fake
def _(g_spikes, g_cur, g_aux, g_mem, cur, aux, mem, bits, refr, cur0, aux0, mem0, spk0, alpha, beta, tau, threshold,
      v, neuron, reset, delay, sg_kind, sg_param, x_dtype, need_dalpha, need_dbeta, need_dtau, need_dthr,
      need_dv, use_triton):
    T, B, N = mem.shape
    is_alpha = neuron == NEURON_ALPHA
    state = (B, N)
    return [mem.new_empty(T, B, N, dtype=x_dtype), mem.new_empty(state),
            mem.new_empty(state if is_alpha else (0,)), mem.new_empty(state),
            mem.new_empty(state if v is not None else (0,)),
            mem.new_empty(alpha.shape if need_dalpha else (0,)), mem.new_empty(beta.shape if need_dbeta else (0,)),
            mem.new_empty(tau.shape if need_dtau and tau is not None else (0,)),
            mem.new_empty(threshold.shape if need_dthr else (0,)),
            mem.new_empty(v.shape if need_dv and v is not None else (0,))]


def _setup_context(ctx, inputs, output):
    (x, cur0, aux0, mem0, spk0, cnt0, alpha, beta, tau, threshold, v, neuron, reset, delay, store_cur, need_mem,
     refr_steps, sg_kind, sg_param, use_triton) = inputs
    _, cur, aux, mem, bits, _, refr, _ = output
    ctx.save_for_backward(cur, aux, mem, bits, refr, cur0, aux0, mem0, spk0, alpha, beta, tau, threshold, v)
    ctx.set_materialize_grads(False)  # unused outputs give None, not [T, B, N] of zeros
    ctx.options = (neuron, reset, delay, need_mem, sg_kind, sg_param, use_triton, x.dtype)


def _backward(ctx, g_spikes, g_cur, g_aux, g_mem, g_bits, g_post, g_refr, g_cnt):
    cur, aux, mem, bits, refr, cur0, aux0, mem0, spk0, alpha, beta, tau, threshold, v = ctx.saved_tensors
    neuron, reset, delay, need_mem, sg_kind, sg_param, use_triton, x_dtype = ctx.options
    # The membrane a caller sees is `post` only for Synaptic without delay.
    grad_mem = g_mem if delay or neuron == NEURON_ALPHA else g_post
    if g_spikes is None:
        g_spikes = torch.zeros_like(mem)
    needs = ctx.needs_input_grad
    grads = syn_bwd(g_spikes, g_cur if cur.numel() else None, g_aux if aux.numel() else None, grad_mem,
                    cur, aux, mem, bits, refr, cur0, aux0, mem0, spk0, alpha, beta, tau, threshold, v, neuron,
                    reset, delay, sg_kind, sg_param, x_dtype, needs[6], needs[7], needs[8] and tau is not None,
                    needs[9], needs[10] and v is not None, use_triton)
    # Inputs: x, cur0, aux0, mem0, spk0, cnt0 (integer: no gradient), alpha, beta, tau, threshold, v, options...
    dx, dcur0, daux0, dmem0, dspk0, dalpha, dbeta, dtau, dthr, dv = grads
    out = [g if need and g.numel() else None for g, need in
           zip([dx, dcur0, daux0, dmem0, dspk0, None, dalpha, dbeta, dtau, dthr, dv], needs[:11])]
    return (*out, None, None, None, None, None, None, None, None, None)


torch.library.register_autograd(f"{_LIB}::syn_fwd", _backward, setup_context=_setup_context)
