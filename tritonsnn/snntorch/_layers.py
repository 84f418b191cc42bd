"""snnTorch's non-neuron layers: batch normalisation through time and graded spikes."""

from __future__ import annotations

import torch
from torch import nn

__all__ = ["BatchNormTT1d", "BatchNormTT2d", "GradedSpikes"]


def _bntt(norm, input_features, time_steps, eps, momentum, affine):
    layers = nn.ModuleList(norm(input_features, eps=eps, momentum=momentum, affine=affine) for _ in range(time_steps))
    for bn in layers:  # one scale per step and feature, no shift (Kim & Panda's BNTT)
        bn.bias = None
    return layers


def BatchNormTT1d(input_features, time_steps, eps=1e-5, momentum=0.1, affine=True):
    """Batch normalisation through time: an ``nn.ModuleList`` of ``time_steps`` ``nn.BatchNorm1d``
    layers without bias; apply ``layers[step]`` at each step (as ``snntorch.BatchNormTT1d``)."""
    return _bntt(nn.BatchNorm1d, input_features, time_steps, eps, momentum, affine)


def BatchNormTT2d(input_features, time_steps, eps=1e-5, momentum=0.1, affine=True):
    """As :func:`BatchNormTT1d` with ``nn.BatchNorm2d`` (``input_features`` channels)."""
    return _bntt(nn.BatchNorm2d, input_features, time_steps, eps, momentum, affine)


class GradedSpikes(nn.Module):
    """Learnable spike magnitudes: ``x * weights`` with ``weights`` of shape ``[size, 1]``,
    initialised to ``constant_factor`` or, when it is falsy, uniformly in [0.5, 1.5)."""

    def __init__(self, size, constant_factor):
        super().__init__()
        self.size = size
        if constant_factor:
            weights = torch.ones(size=[size, 1]) * constant_factor
        else:
            weights = torch.rand(size=[size, 1]) + 0.5
        self.weights = nn.Parameter(weights)

    def forward(self, x):
        return x * self.weights
