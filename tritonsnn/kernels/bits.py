"""1-bit spike packing: 8 spikes per byte, most significant bit first (``numpy.packbits``'s
order, so packed bytes are the same on every backend). Any nonzero element packs as 1."""

from __future__ import annotations

import torch
import triton
import triton.language as tl

from .. import _alloc
from ._common import LAUNCH

BLOCK_BYTES = 1024


@triton.jit
def pack_bits_kernel(p_x, p_bits, n, n_bytes, BLOCK: tl.constexpr):
    byte = tl.program_id(0).to(tl.int64) * BLOCK + tl.arange(0, BLOCK)
    acc = tl.zeros([BLOCK], dtype=tl.int32)
    for j in tl.static_range(8):
        i = byte * 8 + j
        v = tl.load(p_x + i, mask=i < n, other=0)
        acc = acc | ((v != 0).to(tl.int32) << (7 - j))
    tl.store(p_bits + byte, acc.to(tl.uint8), mask=byte < n_bytes)


@triton.jit
def unpack_bits_kernel(p_bits, p_out, n, BLOCK: tl.constexpr):
    i = tl.program_id(0).to(tl.int64) * BLOCK + tl.arange(0, BLOCK)
    m = i < n
    byte = tl.load(p_bits + i // 8, mask=m, other=0).to(tl.int32)
    bit = (byte >> (7 - (i % 8).to(tl.int32))) & 1
    tl.store(p_out + i, bit.to(tl.float32).to(p_out.dtype.element_ty), mask=m)  # via fp32: exact, and any dtype


def pack_bits(x: torch.Tensor) -> torch.Tensor:
    """``x`` (any shape and dtype) as ``ceil(numel / 8)`` bytes of its nonzero pattern."""
    flat = x.reshape(-1).contiguous()  # the kernel reads element i at offset i
    if flat.dtype == torch.bool:
        flat = flat.view(torch.uint8)
    n = flat.numel()
    n_bytes = (n + 7) // 8
    bits = _alloc.empty(n_bytes, dtype=torch.uint8, device=x.device)
    if n:
        pack_bits_kernel[(triton.cdiv(n_bytes, BLOCK_BYTES),)](
            p_x=flat, p_bits=bits, n=n, n_bytes=n_bytes, BLOCK=BLOCK_BYTES, **LAUNCH
        )
    return bits


def unpack_bits(bits: torch.Tensor, n: int, dtype: torch.dtype) -> torch.Tensor:
    """The ``n`` elements packed by :func:`pack_bits`, as 0/1 of ``dtype`` (flat)."""
    out = _alloc.empty(n, dtype=dtype, device=bits.device)
    target = out.view(torch.uint8) if dtype == torch.bool else out
    if n:
        unpack_bits_kernel[(triton.cdiv(n, 8 * BLOCK_BYTES),)](
            p_bits=bits, p_out=target, n=n, BLOCK=8 * BLOCK_BYTES, **LAUNCH
        )
    return out
