"""snnTorch's surrogate-gradient factories, returning tritonsnn surrogates.

``from tritonsnn.snntorch import surrogate`` then ``spike_grad=surrogate.fast_sigmoid(slope=25)``
works as with snnTorch: each factory takes snnTorch's argument names and defaults and returns
a :class:`tritonsnn.surrogate.Surrogate`, which the fused kernels evaluate and which, called
on a tensor, gives Heaviside spikes with that surrogate gradient (as snnTorch's do).

snnTorch's ``torch.autograd.Function`` classes (``ATan``, ``FastSigmoid``, ...) are not
provided: the neurons take the surrogate objects the factories return.
"""
from __future__ import annotations

from .. import surrogate as _sg
from ..surrogate import Surrogate

__all__ = ["Surrogate", "atan", "fast_sigmoid", "sigmoid", "straight_through_estimator", "triangular"]


def atan(alpha=2.0):
    """Arc-tangent surrogate, ``dS/dU = (alpha/2) / (1 + (pi/2 * alpha * U)^2)`` (the default)."""
    return _sg.atan(alpha)


def fast_sigmoid(slope=25):
    """Fast-sigmoid surrogate, ``dS/dU = 1 / (slope*|U| + 1)^2``."""
    return _sg.fast_sigmoid(slope)


def sigmoid(slope=25):
    """Logistic surrogate, ``dS/dU = slope * s * (1 - s)`` with ``s = sigmoid(slope * U)``."""
    return _sg.sigmoid(slope)


def triangular(threshold=1):
    """snnTorch's triangular surrogate: ``dS/dU = threshold`` below 0, ``-threshold`` from 0 on."""
    return _sg.triangular(threshold)


def straight_through_estimator():
    """Straight-through estimator, ``dS/dU = 1``."""
    return _sg.straight_through()


_FUNCTION_CLASSES = {
    "ATan": "atan(alpha)", "FastSigmoid": "fast_sigmoid(slope)", "Sigmoid": "sigmoid(slope)",
    "Triangular": "triangular(threshold)", "StraightThroughEstimator": "straight_through_estimator()",
}


def __getattr__(name):
    if name in _FUNCTION_CLASSES:
        raise AttributeError(
            f"snntorch.surrogate.{name} is snnTorch's autograd.Function; tritonsnn's neurons evaluate the "
            f"surrogate in their kernels and take a surrogate object: use "
            f"tritonsnn.snntorch.surrogate.{_FUNCTION_CLASSES[name]} (callable on a tensor as well)")
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
