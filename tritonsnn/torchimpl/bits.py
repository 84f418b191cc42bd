"""1-bit spike packing on the CPU: ``numpy.packbits`` (one vectorised pass each way; the same
byte layout as the Triton kernels). Any nonzero element packs as 1."""

from __future__ import annotations

import numpy as np
import torch


def pack_bits(x: torch.Tensor) -> torch.Tensor:
    """``x`` (any shape and dtype) as ``ceil(numel / 8)`` bytes of its nonzero pattern."""
    nonzero = torch.ne(x.detach().reshape(-1), 0)
    return torch.from_numpy(np.packbits(nonzero.numpy()))


def unpack_bits(bits: torch.Tensor, n: int, dtype: torch.dtype) -> torch.Tensor:
    """The ``n`` elements packed by :func:`pack_bits`, as 0/1 of ``dtype`` (flat)."""
    flat = torch.from_numpy(np.unpackbits(bits.numpy(), count=n))
    return flat.view(torch.bool) if dtype == torch.bool else flat.to(dtype)
