"""snnTorch's surrogate-gradient factories, returning tritonsnn surrogates.

``from tritonsnn.snntorch import surrogate`` then ``spike_grad=surrogate.fast_sigmoid(slope=25)``
works as with snnTorch: each factory takes snnTorch's argument names and defaults and returns
a :class:`tritonsnn.surrogate.Surrogate`, which the fused kernels evaluate and which, called
on a tensor, gives Heaviside spikes with that surrogate gradient (as snnTorch's do).

snnTorch's ``torch.autograd.Function`` classes (``ATan``, ``FastSigmoid``, ...) are not
provided: the neurons take the surrogate objects the factories return.
"""

from __future__ import annotations

import torch

from .. import surrogate as _sg
from ..surrogate import Surrogate

__all__ = [
    "LSO",
    "SFS",
    "SSO",
    "Surrogate",
    "atan",
    "custom_surrogate",
    "fast_sigmoid",
    "heaviside",
    "sigmoid",
    "spike_rate_escape",
    "straight_through_estimator",
    "triangular",
]


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


def heaviside():
    """``dS/dU = S``: the gradient passes only where the neuron fired."""
    return _sg.heaviside()


def spike_rate_escape(beta=1, slope=25):
    """Spike-rate escape, ``dS/dU = slope * exp(-beta * |U - 1|)``."""
    return _sg.spike_rate_escape(beta, slope)


def SFS(slope=25, B=1):
    """Sparse fast sigmoid: the fast sigmoid's gradient where ``U > B``, 0 elsewhere."""
    return _sg.sparse_fast_sigmoid(slope, B)


def LSO(slope=0.1):
    """Leaky spike operator as snnTorch documents it: ``dS/dU = 1`` where the neuron fired, ``slope``
    elsewhere. (snnTorch 1.0's own ``LSO()`` cannot run: it passes its slope to the stochastic operator.)"""
    return _sg.leaky_spike_operator(slope)


def SSO(mean=0, variance=0.2):
    """Stochastic spike operator: ``dS/dU = 1`` where the neuron fired, ``(u - 0.5 + mean) * variance``
    elsewhere, ``u ~ U[0, 1)`` drawn in backward (``torch.rand_like``, as snnTorch draws it)."""
    return _sg.stochastic_spike_operator(mean, variance)


_CUSTOM: dict = {}


def custom_surrogate(custom_surrogate_function):
    """A surrogate from snnTorch's ``f(input_, grad_input, spikes) -> grad``. tritonsnn evaluates the
    surrogate gradient on the whole saved membrane at once and multiplies it by the incoming gradient
    in its reverse loop, so ``f`` is called with ``grad_input = 1`` and must be linear in it (the
    surrogate gradients snnTorch documents are)."""
    fn = custom_surrogate_function
    if fn not in _CUSTOM:

        def grad(x):
            return fn(x, torch.ones_like(x), (x > 0).to(x.dtype))

        grad.__qualname__ = grad.__name__ = getattr(fn, "__name__", "custom_surrogate_function")
        _CUSTOM[fn] = _sg.custom(grad)
    return _CUSTOM[fn]


_FUNCTION_CLASSES = {
    "ATan": "atan(alpha)",
    "FastSigmoid": "fast_sigmoid(slope)",
    "Sigmoid": "sigmoid(slope)",
    "Triangular": "triangular(threshold)",
    "StraightThroughEstimator": "straight_through_estimator()",
    "Heaviside": "heaviside()",
    "SpikeRateEscape": "spike_rate_escape(beta, slope)",
    "SparseFastSigmoid": "SFS(slope, B)",
    "StochasticSpikeOperator": "SSO(mean, variance)",
    "LeakySpikeOperator": "LSO(slope)",
    "CustomSurrogate": "custom_surrogate(f)",
}


def __getattr__(name):
    if name in _FUNCTION_CLASSES:
        raise AttributeError(
            f"snntorch.surrogate.{name} is snnTorch's autograd.Function; tritonsnn's neurons evaluate the "
            f"surrogate in their kernels and take a surrogate object: use "
            f"tritonsnn.snntorch.surrogate.{_FUNCTION_CLASSES[name]} (callable on a tensor as well)"
        )
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
