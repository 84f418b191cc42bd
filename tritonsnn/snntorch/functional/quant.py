"""snnTorch-compatible state quantisation (``snntorch.functional.quant``).

``state_quant(...)`` returns a function that snaps a tensor (a neuron's
membrane, say) to the nearest of ``2 ** num_bits`` levels in the forward
pass and passes the gradient straight through (a straight-through
estimator), for quantisation-aware training. The levels are snnTorch's,
value for value. tritonsnn's own neurons have no ``state_quant`` hook; the
function can be applied to any tensor.
"""

from __future__ import annotations

import math

import torch

__all__ = ["StateQuant", "state_quant"]

# snnTorch's default base of the non-uniform levels' geometric spacing, by bit width.
_MULTIPLIERS = {1: 0.05, 2: 0.1, 3: 0.3, 4: 0.5, 5: 0.7, 6: 0.9, 7: 0.925}
_CHUNK = 1 << 16  # elements per nearest-level search (bounds the [chunk, levels] distance matrix)


class StateQuant(torch.autograd.Function):
    """Nearest level of ``levels`` in the forward pass (lowest index on ties); identity gradient."""

    @staticmethod
    def forward(ctx, input_, levels):
        levels = levels.to(input_.device)
        flat = input_.detach().reshape(-1)
        index = torch.empty(flat.shape, dtype=torch.long, device=flat.device)
        for start in range(0, flat.numel(), _CHUNK):
            part = flat[start : start + _CHUNK]
            index[start : start + _CHUNK] = torch.min(torch.abs(levels - part.unsqueeze(-1)), dim=-1)[1]
        return levels[index].reshape(input_.shape)

    @staticmethod
    def backward(ctx, grad_output):
        return grad_output.clone(), None


def _geometric(count, multiplier, span):
    """Steps ``multiplier ** j / room`` (``j < count``) whose total is ``span``, in snnTorch's order."""
    room = sum(multiplier**j for j in reversed(range(count))) / span
    return [multiplier**j / room for j in range(count)]


def _levels(num_bits, uniform, thr_centered, threshold, lower_limit, upper_limit, multiplier):
    num_levels = 2 << num_bits - 1
    if uniform:
        return torch.linspace(-threshold - threshold * lower_limit, threshold + threshold * upper_limit, num_levels)
    if multiplier is None:
        multiplier = _MULTIPLIERS.get(num_bits, 0.95)
    high = threshold + threshold * upper_limit
    low = -(threshold + threshold * lower_limit)
    # Non-uniform levels are densest next to `pivot`: the threshold, or 0 with thr_centered=False.
    pivot = threshold if thr_centered else 0
    lower_bits = math.floor(num_levels * ((pivot - low) / (high - low)))
    upper_bits = num_levels - lower_bits
    values = []
    if lower_bits:
        value = low
        for step in _geometric(lower_bits, multiplier, pivot - low):
            values.append(value)  # from `low` upwards, widest steps first
            value += step
    if upper_bits:
        value = pivot
        for step in reversed(_geometric(upper_bits, multiplier, high - pivot)):
            value += step  # from `pivot` upwards, narrowest steps first, ending at `high`
            values.append(value)
    return torch.tensor(values)


def state_quant(
    num_bits=8, uniform=True, thr_centered=True, threshold=1, lower_limit=0, upper_limit=0.2, multiplier=None
):
    """Quantiser of neuron states with ``2 ** num_bits`` levels, as ``snntorch.functional.quant.state_quant``.

    Uniform levels span ``[-threshold * (1 + lower_limit), threshold * (1 +
    upper_limit)]``. Non-uniform levels (``uniform=False``) cover the same
    range with geometrically shrinking spacing (base ``multiplier``, by
    default chosen from ``num_bits`` as snnTorch does) towards the threshold
    (``thr_centered=True``) or towards 0.

    Returns:
        A function ``q(x)`` giving ``x`` snapped to the nearest level (float32),
        with a straight-through gradient.
    """
    levels = _levels(num_bits, uniform, thr_centered, threshold, lower_limit, upper_limit, multiplier)

    def inner(x):
        return StateQuant.apply(x, levels)

    return inner
