"""Pieces every kernel family shares: autotune configs, grid, parameter loads,
argument preparation and the batch reduction of per-element gradient partials."""
from __future__ import annotations

import triton
import triton.language as tl

from .. import _backend

# Compile without FMA contraction: each multiply and add then rounds as PyTorch's
# separate ops do, so spikes match snnTorch and the PyTorch path bit for bit.
LAUNCH = dict(enable_fp_fusion=False)


def configs():
    """Block sizes to autotune over, keyed on the element count M = B*N: small blocks keep
    every SM busy when M is small (latency bound), large ones amortise index math.
    The interpreter gets one small block so that tests stay fast."""
    if _backend.interpreter_enabled():
        return [triton.Config({"BLOCK": 256}, num_warps=1)]
    return [triton.Config({"BLOCK": b}, num_warps=w)
            for b, w in [(128, 1), (256, 2), (512, 4), (1024, 4), (1024, 8), (2048, 8)]]


def grid(M):
    return lambda meta: (triton.cdiv(M, meta["BLOCK"]),)


@triton.jit
def load_param(ptr, o_n, mask, PER_NEURON: tl.constexpr):
    """A parameter as a block: per-neuron values, or element 0 broadcast to every lane
    (one cached load; a single return type, which the compiler requires)."""
    if PER_NEURON:
        offs = o_n
    else:
        offs = o_n * 0
    return tl.load(ptr + offs, mask=mask, other=1.0).to(tl.float32)


@triton.jit
def load_state(ptr, o, mask, HAS: tl.constexpr, BLOCK: tl.constexpr):
    """An initial state as an fp32 block: loaded when given, zeros otherwise."""
    if HAS:
        return tl.load(ptr + o, mask=mask, other=0.0).to(tl.float32)
    return tl.zeros([BLOCK], dtype=tl.float32)


@triton.jit
def load_count(ptr, o, mask, HAS: tl.constexpr, BLOCK: tl.constexpr):
    """An initial refractory counter as an int32 block: loaded when given, zeros otherwise."""
    if HAS:
        return tl.load(ptr + o, mask=mask, other=0).to(tl.int32)
    return tl.zeros([BLOCK], dtype=tl.int32)


def flat_time_major(x):
    """View ``[T, B, N]`` as ``[T, B*N]`` with unit inner stride, copying only if needed."""
    x2 = x.reshape(x.shape[0], -1)
    return x2 if x2.stride(-1) == 1 else x2.contiguous()


def or_buffer(t, fallback):
    """``t`` as a contiguous kernel argument, or ``fallback`` (a pointer the flags leave
    unread) where it is absent or empty: never an empty tensor's null pointer."""
    return fallback if t is None or t.numel() == 0 else t.contiguous()


def reduce_partials(partial, param):
    """Per-element ``[B, N]`` gradient partials summed over the batch into ``param``'s shape."""
    g = partial.sum(0)
    return g.sum().reshape(1) if param.numel() == 1 else g
