"""Executable specification: plain autograd time loops, slow on purpose.

Written from snnTorch 1.0's order of operations (``Leaky.forward``,
``mem_reset``, ``fire``); the fused kernels and the PyTorch path must match it.
"""
import torch

from tritonsnn.surrogate import atan


def leaky_ref(x, beta, threshold=1.0, v0=None, reset_mechanism="subtract", reset_delay=True,
              surrogate=None):
    """Returns ``(spikes, mem)`` over ``x [T, B, *features]``, computed step by step in fp32."""
    spike = surrogate or atan()
    beta = torch.as_tensor(beta, dtype=torch.float32).clamp(0, 1)
    thr = torch.as_tensor(threshold, dtype=torch.float32)
    x = x.float()
    mem = torch.zeros_like(x[0]) if v0 is None else v0.float()
    spikes, mems = [], []
    for t in range(x.shape[0]):
        reset = spike(mem - thr).detach() if reset_mechanism != "none" else torch.zeros_like(mem)
        if reset_mechanism == "zero":
            mem = (1 - reset) * mem
        mem = beta * mem + x[t]
        if reset_mechanism == "subtract":
            mem = mem - reset * thr
        s = spike(mem - thr)
        if not reset_delay and reset_mechanism != "none":
            do_reset = s - reset
            mem = mem - do_reset * thr if reset_mechanism == "subtract" else mem - do_reset * mem
        spikes.append(s)
        mems.append(mem)
    return torch.stack(spikes), torch.stack(mems)
