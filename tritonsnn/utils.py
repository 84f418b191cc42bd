"""Network-level helpers: time-distributed layers and state management."""
from __future__ import annotations

import torch
from torch import nn

__all__ = ["MultiStep", "reset", "detach"]


class MultiStep(nn.Module):
    """Apply a stateless layer (``Conv2d``, ``BatchNorm2d``, ``Flatten``, ...) to every step of ``[T, B, ...]``.

    The time and batch axes are merged for one call of ``layer``, so the layer sees
    ``[T*B, ...]`` and runs as one batched op.
    """

    def __init__(self, layer: nn.Module):
        super().__init__()
        self.layer = layer

    def forward(self, x):
        if x.dim() < 2:
            raise ValueError(f"MultiStep expects [T, B, ...]; got shape {tuple(x.shape)}")
        y = self.layer(x.flatten(0, 1))
        return y.unflatten(0, x.shape[:2])


def as_sequence(x, single: bool):
    """``x`` as ``[T, B, ...]``: in single-step mode the one step ``[B, ...]`` gains a time axis."""
    if not single:
        return x
    if not isinstance(x, torch.Tensor) or x.dim() < 1:
        raise ValueError("step_mode='single' expects one step of shape [B, *features]")
    return x.unsqueeze(0)


def _each_neuron(net: nn.Module):
    for m in net.modules():
        if hasattr(m, "reset_state") and hasattr(m, "detach_state"):
            yield m


def reset(net: nn.Module) -> nn.Module:
    """Zero the carried state of every neuron in ``net`` (call between sequences)."""
    for m in _each_neuron(net):
        m.reset_state()
    return net


def detach(net: nn.Module) -> nn.Module:
    """Detach the carried state of every neuron in ``net`` from the graph (truncated BPTT)."""
    for m in _each_neuron(net):
        m.detach_state()
    return net
