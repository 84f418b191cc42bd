"""The compact saved membrane of :func:`tritonsnn.memory.compact_state`: the neuron ops keep the
membrane their backward reads as bf16 plus one bit per element, ``membrane > threshold`` as the
forward computed it (2.125 bytes per element instead of 4).

Backward gets the membrane back in fp32 with every threshold comparison as in the forward: an
element that fired is raised to at least just above the threshold, one that did not is lowered to
just below it, so the delayed and zeroing resets, refractory steps and spikes that backward
recomputes from the membrane are the forward's exactly; only the surrogate gradient sees the bf16
rounding. The margin (2^-16 of the threshold) keeps that true for a threshold that another backend
rounds an ulp apart (an adaptive threshold computed with a fused multiply-add).
"""

from __future__ import annotations

from typing import NamedTuple

import torch
import torch.nn.functional as F

ACTIVE = [0]  # nesting depth of compact_state()
_MARGIN = 2.0**-16


class Compact(NamedTuple):
    fired: torch.Tensor  # uint8, whether each element fired (membrane > or >= threshold), 8 per byte


def _weights(device):
    # made on the device (no host-to-device copy, which would synchronise a GPU)
    return torch.bitwise_left_shift(
        torch.ones(8, dtype=torch.uint8, device=device), torch.arange(8, dtype=torch.uint8, device=device)
    )


def encode(membrane: torch.Tensor, threshold, at=False) -> tuple[torch.Tensor, Compact]:
    """``membrane`` (fp32) as bf16 and its packed comparison with ``threshold`` (broadcasts): ``>``,
    or ``>=`` with ``at`` (a membrane at the threshold fires). :func:`decode` puts the membrane
    strictly on its side of the threshold, so either comparison reads it back the same."""
    flags = (torch.ge if at else torch.gt)(membrane, threshold).reshape(-1).to(torch.uint8)
    flags = F.pad(flags, (0, -flags.numel() % 8)).view(-1, 8)
    packed = torch.sum(flags * _weights(membrane.device), dim=1, dtype=torch.uint8)
    return membrane.to(torch.bfloat16), Compact(packed)


def decode(membrane: torch.Tensor, compact: Compact, threshold) -> torch.Tensor:
    """The fp32 membrane of :func:`encode`'s output, on the forward's side of ``threshold``."""
    n = membrane.numel()
    fired = compact.fired[:, None].bitwise_and(_weights(membrane.device)).ne(0).view(-1)[:n].view(membrane.shape)
    value = membrane.float()
    margin = torch.abs(threshold) * _MARGIN + 1e-30
    return torch.where(fired, torch.maximum(value, threshold + margin), torch.minimum(value, threshold - margin))
