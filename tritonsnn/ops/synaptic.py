"""Custom ops for second-order dynamics (Synaptic, RSynaptic, Alpha).

One op pair serves the whole family: ``neuron`` selects the Synaptic or Alpha
structure and ``v`` (None or the one-to-one recurrent weight) the recurrence;
see kernels/synaptic.py for the equations. RSynaptic's all-to-all recurrence (an
``nn.Linear``) is a second op that steps the first one (ops/_recurrence.py).
"""
from __future__ import annotations

from typing import Optional

import torch
from torch import Tensor

from .. import surrogate as sg
from ..ops_common import NEURON_ALPHA, NEURON_SYNAPTIC, syn_outputs
from . import LIB as _LIB, implementation
from ._recurrence import Recurrence, initial_spikes


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


# --- RSynaptic with all-to-all recurrence (an nn.Linear): see ops/_recurrence.py -----

@torch.library.custom_op(f"{_LIB}::rsyn_dense_fwd", mutates_args=())
def rsyn_dense_fwd(x: Tensor, syn0: Optional[Tensor], mem0: Optional[Tensor], s0: Optional[Tensor],
                   cnt0: Optional[Tensor], weight: Tensor, bias: Optional[Tensor], alpha: Tensor, beta: Tensor,
                   threshold: Tensor, reset: int, delay: bool, refr_steps: int, sg_kind: int, sg_param: float,
                   use_triton: bool, image: Optional[list[int]] = None
                   ) -> tuple[Tensor, Tensor, Tensor, Tensor, Tensor, Tensor, Tensor]:
    """``x [T, B, N]`` -> ``(spikes, syn, mem, pre, reset_bits, refr_flags, count)``; ``mem`` is the
    membrane a user sees (``pre`` when ``delay``, post-reset otherwise). ``weight``/``bias`` are
    an ``nn.Linear``'s or, with ``image = [C, H, W]``, a same-size ``nn.Conv2d``'s."""
    impl = implementation("synaptic", use_triton)
    T = x.shape[0]
    spikes, syn, _, pre, bits, post, refr, count = syn_outputs(x, NEURON_SYNAPTIC, delay, True, True, refr_steps > 0)
    rec = Recurrence(weight, bias, image)
    s_prev, c, m, k = initial_spikes(s0, x), syn0, mem0, cnt0
    for t in range(T):
        drive = rec.input(x[t], s_prev)
        s_t, c_t, _, pre_t, bits_t, post_t, refr_t, k = impl.syn_fwd(
            drive[None], c, None, m, None, k, alpha, beta, None, threshold, None, NEURON_SYNAPTIC, reset, delay,
            True, True, refr_steps)
        spikes[t], syn[t], pre[t] = s_t[0], c_t[0], pre_t[0]
        if not delay:
            bits[t], post[t] = bits_t[0], post_t[0]
        if refr_steps > 0:
            refr[t] = refr_t[0]
        c, m = syn[t], (pre[t] if delay else post[t])
        s_prev = s_t[0].to(torch.float32)
    if refr_steps > 0:
        count.copy_(k if k is not None else torch.zeros_like(count))
    return spikes, syn, pre.clone() if delay else post, pre, bits, refr, count


@rsyn_dense_fwd.register_fake
def _(x, syn0, mem0, s0, cnt0, weight, bias, alpha, beta, threshold, reset, delay, refr_steps, sg_kind, sg_param,
      use_triton, image=None):
    spikes, syn, _, pre, bits, _, refr, count = syn_outputs(x, NEURON_SYNAPTIC, delay, True, True, refr_steps > 0)
    return spikes, syn, torch.empty_like(pre), pre, bits, refr, count


def _dense_setup_context(ctx, inputs, output):
    inputs = tuple(inputs) + (None,) * (17 - len(inputs))   # omitted image
    (x, syn0, mem0, s0, cnt0, weight, bias, alpha, beta, threshold, reset, delay, refr_steps, sg_kind, sg_param,
     use_triton, image) = inputs
    spikes, syn, mem, pre, bits, refr, _ = output
    ctx.save_for_backward(syn0, mem0, s0, weight, bias, alpha, beta, threshold, spikes, syn, mem, pre, bits, refr)
    ctx.set_materialize_grads(False)
    ctx.options = (reset, delay, sg_kind, sg_param, use_triton, x.dtype, image)


def _dense_backward(ctx, g_spikes, g_syn, g_mem, g_pre, g_bits, g_refr, g_count):
    syn0, mem0, s0, weight, bias, alpha, beta, threshold, spikes, syn, mem, pre, bits, refr = ctx.saved_tensors
    reset, delay, sg_kind, sg_param, use_triton, x_dtype, image = ctx.options
    impl = implementation("synaptic", use_triton)
    surrogate = sg.Surrogate(sg_kind, sg_param)
    need = ctx.needs_input_grad
    T, B, N = pre.shape
    f32 = torch.float32
    rec = Recurrence(weight, bias, image)
    no_aux = pre.new_empty(0)
    g_in = torch.empty_like(pre)                       # dL/d (x[t] + recurrent(s[t-1]))
    g_c = pre.new_zeros(B, N)                          # dL/d syn[t] through step t+1
    g_m = pre.new_zeros(B, N)                          # dL/d mem[t] through step t+1
    g_s = pre.new_zeros(B, N)                          # dL/d s[t] through the recurrence at t+1
    param_grads = [None, None, None]                   # alpha, beta, threshold
    for t in range(T - 1, -1, -1):
        gs_t = g_s if g_spikes is None else g_spikes[t].to(f32) + g_s
        gc_t = g_c if g_syn is None else g_syn[t] + g_c
        gm_t = g_m if g_mem is None else g_mem[t] + g_m
        step = slice(t, t + 1)
        dx, g_c, _, g_m, _, dalpha, dbeta, _, dthr, _ = impl.syn_bwd(
            gs_t[None], gc_t[None], None, gm_t[None], syn[step], no_aux, pre[step], bits if delay else bits[step],
            refr[step] if refr.numel() else refr, syn0 if t == 0 else syn[t - 1], None,
            mem0 if t == 0 else mem[t - 1], None, alpha, beta, None, threshold, None, NEURON_SYNAPTIC, reset,
            delay, surrogate, f32, (need[7], need[8], False, need[9], False))
        g_in[t] = dx[0]
        g_s = rec.spike_grad(dx[0])
        for i, g in enumerate((dalpha, dbeta, dthr)):
            if g is not None:
                param_grads[i] = g if param_grads[i] is None else param_grads[i] + g
    dweight, dbias = rec.weight_grads(g_in, spikes, s0, need[5], need[6])
    grads = (g_in.to(x_dtype), g_c, g_m, g_s, None, dweight, dbias, *param_grads) + (None,) * 7
    return tuple(g if n else None for g, n in zip(grads, need))


torch.library.register_autograd(f"{_LIB}::rsyn_dense_fwd", _dense_backward, setup_context=_dense_setup_context)
