"""Output allocation. Tests set ``FILL_NAN`` so that a kernel which leaves part of
an output unwritten fails loudly instead of passing on leftover memory."""

import torch

FILL_NAN = False


def empty(*shape, dtype, device) -> torch.Tensor:
    out = torch.empty(*shape, dtype=dtype, device=device)
    if FILL_NAN:
        out.fill_(float("nan") if dtype.is_floating_point else -1)
    return out
