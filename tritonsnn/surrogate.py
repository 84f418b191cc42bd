"""Surrogate gradients for the Heaviside spike function.

The forward pass is always ``H(x) = x > 0``; a surrogate only replaces ``dH/dx``
in backward. Formulas are those of snnTorch 1.0 so that gradients match it.
A :class:`Surrogate` is a small value object: the fused kernels receive its
integer ``kind`` as a compile-time constant and ``param`` as a float, and the
CPU path evaluates :func:`grad` below — the one PyTorch copy of the formulas.
"""
from __future__ import annotations

import math
from dataclasses import dataclass

import torch

__all__ = [
    "Surrogate", "atan", "fast_sigmoid", "sigmoid", "triangular",
    "straight_through", "grad", "grad_", "from_any",
]

# Integer ids shared with the Triton kernels (kernels/lif.py `_surrogate_grad`).
ATAN, FAST_SIGMOID, SIGMOID, TRIANGULAR, STRAIGHT_THROUGH = range(5)
_NAMES = {ATAN: "atan", FAST_SIGMOID: "fast_sigmoid", SIGMOID: "sigmoid",
          TRIANGULAR: "triangular", STRAIGHT_THROUGH: "straight_through"}


@dataclass(frozen=True)
class Surrogate:
    """A surrogate gradient choice: ``kind`` (an id above) and its ``param``.

    Calling it on a tensor gives Heaviside spikes whose backward uses the
    surrogate, for use in hand-written neuron code.
    """

    kind: int
    param: float = 0.0

    @property
    def name(self) -> str:
        return _NAMES[self.kind]

    def __call__(self, x: torch.Tensor) -> torch.Tensor:
        return _SpikeFn.apply(x, self)

    def __repr__(self) -> str:
        return f"surrogate.{self.name}({self.param})"


def atan(alpha: float = 2.0) -> Surrogate:
    """Arc-tangent: ``dS/dx = (alpha/2) / (1 + (pi/2 * alpha * x)^2)``. The default."""
    return Surrogate(ATAN, float(alpha))


def fast_sigmoid(slope: float = 25.0) -> Surrogate:
    """Fast sigmoid: ``dS/dx = 1 / (slope*|x| + 1)^2``."""
    return Surrogate(FAST_SIGMOID, float(slope))


def sigmoid(slope: float = 25.0) -> Surrogate:
    """Logistic: ``dS/dx = slope * sig(slope*x) * (1 - sig(slope*x))``.

    Equal to snnTorch's ``slope*exp(-slope*x)/(exp(-slope*x)+1)^2`` but written
    so that it does not give NaN for large ``|x|``.
    """
    return Surrogate(SIGMOID, float(slope))


def triangular(threshold: float = 1.0) -> Surrogate:
    """snnTorch's ``triangular``: ``dS/dx = threshold`` for ``x < 0``, ``-threshold`` for ``x >= 0``.

    This reproduces snnTorch 1.0 exactly, sign flip above threshold included.
    """
    return Surrogate(TRIANGULAR, float(threshold))


def straight_through() -> Surrogate:
    """Straight-through estimator: ``dS/dx = 1``."""
    return Surrogate(STRAIGHT_THROUGH, 0.0)


def from_any(surrogate) -> Surrogate:
    """Accept a :class:`Surrogate`, ``None`` (atan, the default) or a name such as ``"fast_sigmoid"``."""
    if surrogate is None:
        return atan()
    if isinstance(surrogate, Surrogate):
        return surrogate
    if isinstance(surrogate, str) and surrogate in _NAMES.values():
        return globals()[surrogate]()
    raise TypeError(
        f"surrogate must be a tritonsnn.surrogate.Surrogate such as tsnn.surrogate.atan(2.0) "
        f"or one of the names {sorted(_NAMES.values())}; got {surrogate!r}"
    )


def grad(x: torch.Tensor, surrogate: Surrogate) -> torch.Tensor:
    """``dS/dx`` at ``x`` (the membrane minus threshold), in PyTorch."""
    return grad_(x.clone(), surrogate)


def grad_(x: torch.Tensor, surrogate: Surrogate) -> torch.Tensor:
    """:func:`grad` computed in place in ``x`` (a temporary), without further allocations:
    the PyTorch backward paths call it once per chunk of time steps."""
    kind, a = surrogate.kind, surrogate.param
    if kind == ATAN:   # (a/2) / (1 + (pi/2 * a * x)^2) = 1 / (2/a + (2/a) (pi/2 * a * x)^2): two ops
        two_over_a = torch.full((), 2 / a, dtype=x.dtype, device=x.device)
        return torch.addcmul(two_over_a, x, x, value=2 / a * (math.pi / 2 * a) ** 2, out=x).reciprocal_()
    if kind == FAST_SIGMOID:   # 1 / (1 + a|x|)^2
        one = torch.ones((), dtype=x.dtype, device=x.device)
        return torch.add(one, x.abs_(), alpha=a, out=x).square_().reciprocal_()
    if kind == SIGMOID:
        sig = x.mul_(a).sigmoid_()
        return torch.addcmul(sig, sig, sig, value=-1, out=sig).mul_(a)   # a * sig * (1 - sig)
    if kind == TRIANGULAR:
        return x.lt_(0).mul_(2 * a).sub_(a)                               # a where x < 0, else -a
    if kind == STRAIGHT_THROUGH:
        return x.fill_(1)
    raise ValueError(f"unknown surrogate kind {kind}")


class _SpikeFn(torch.autograd.Function):
    @staticmethod
    def forward(ctx, x, surrogate):
        ctx.save_for_backward(x)
        ctx.surrogate = surrogate
        return (x > 0).to(x.dtype)

    @staticmethod
    def backward(ctx, g):
        (x,) = ctx.saved_tensors
        return g * grad(x, ctx.surrogate), None
