"""What the all-to-all recurrent ops (RLeaky, RSynaptic with an ``nn.Linear``) share.

Step t needs every spike of step t-1 before it starts, so those ops loop over steps:
one GEMM for the recurrent input and the family's fused single-step update (T = 1).
Their backward is written by hand: per step the single-step backward and one GEMM for
the spike gradient; the weight gradient is one GEMM over all steps at the end instead
of T accumulations.
"""
import torch


def recurrent_input(x_t, s_prev, w_t, bias):
    """``x[t] + s[t-1] @ W^T (+ b)`` in fp32 (``w_t`` is the transposed weight)."""
    rec = torch.mm(s_prev, w_t) if bias is None else torch.addmm(bias.to(torch.float32), s_prev, w_t)
    return x_t + rec


def initial_spikes(s0, x):
    B, N = x.shape[1:]
    return x.new_zeros(B, N, dtype=torch.float32) if s0 is None else s0.to(torch.float32)


def weight_grads(g_in, spikes, s0, weight, bias, need_weight, need_bias):
    """``(dW, db)`` from ``g_in [T, B, N]`` = dL/d(recurrent input) and the spikes: one GEMM
    against the spikes each step saw (``s0`` for the first)."""
    T, B, N = g_in.shape
    g_flat = g_in.reshape(T * B, N)
    dweight = dbias = None
    if need_weight:
        s_prev = torch.cat([initial_spikes(s0, g_in)[None], spikes[:T - 1].to(torch.float32)])[:T]
        dweight = torch.mm(g_flat.t(), s_prev.reshape(T * B, N)).to(weight.dtype)
    if bias is not None and need_bias:
        dbias = g_flat.sum(0).to(bias.dtype)
    return dweight, dbias
