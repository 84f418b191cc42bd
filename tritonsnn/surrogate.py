"""Surrogate gradients for the Heaviside spike function.

The forward pass is always ``H(x) = x > 0``; a surrogate only replaces ``dH/dx``
in backward. Formulas are those of snnTorch 1.0 so that gradients match it.
A :class:`Surrogate` is a small value object: the fused kernels receive its
integer ``kind`` as a compile-time constant and ``param``/``param2`` as floats, and the
CPU path evaluates :func:`grad` below — the one PyTorch copy of the formulas.

Surrogates the kernels cannot evaluate (a user's function, random ones) are
*precomputed*: the surrogate gradient depends only on the saved membrane, so the
backward evaluates :func:`grad` on the whole sequence first and both backends read
it in their reverse loop (one more ``[T, B, N]`` fp32 buffer during backward).
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import torch

from . import _alloc

__all__ = [
    "Surrogate",
    "atan",
    "fast_sigmoid",
    "sigmoid",
    "triangular",
    "straight_through",
    "heaviside",
    "spike_rate_escape",
    "sparse_fast_sigmoid",
    "leaky_spike_operator",
    "stochastic_spike_operator",
    "custom",
    "grad",
    "grad_",
    "from_any",
    "precomputed",
]

# Integer ids shared with the Triton kernels (kernels/lif.py `_surrogate_grad`).
(
    ATAN,
    FAST_SIGMOID,
    SIGMOID,
    TRIANGULAR,
    STRAIGHT_THROUGH,
    HEAVISIDE,
    SPIKE_RATE_ESCAPE,
    SPARSE_FAST_SIGMOID,
    LEAKY_SPIKE_OPERATOR,
    STOCHASTIC_SPIKE_OPERATOR,
    CUSTOM,
) = range(11)
# What a kernel is told when the surrogate gradient comes precomputed (see the module docstring).
GIVEN = -1
_NAMES = {
    ATAN: "atan",
    FAST_SIGMOID: "fast_sigmoid",
    SIGMOID: "sigmoid",
    TRIANGULAR: "triangular",
    STRAIGHT_THROUGH: "straight_through",
    HEAVISIDE: "heaviside",
    SPIKE_RATE_ESCAPE: "spike_rate_escape",
    SPARSE_FAST_SIGMOID: "sparse_fast_sigmoid",
    LEAKY_SPIKE_OPERATOR: "leaky_spike_operator",
    STOCHASTIC_SPIKE_OPERATOR: "stochastic_spike_operator",
    CUSTOM: "custom",
}
# User functions of custom surrogates, by id (ops carry the id, not the function). Kept for the
# life of the process so that a graph built with one can always run its backward.
_CUSTOM: dict[int, object] = {}


@dataclass(frozen=True)
class Surrogate:
    """A surrogate gradient choice: ``kind`` (an id above) and its parameters ``param``, ``param2``.

    Calling it on a tensor gives Heaviside spikes whose backward uses the
    surrogate, for use in hand-written neuron code.
    """

    kind: int
    param: float = 0.0
    param2: float = 0.0

    @property
    def name(self) -> str:
        return _NAMES[self.kind]

    def __call__(self, x: torch.Tensor) -> torch.Tensor:
        return spike(x, self)

    def __post_init__(self):
        if self.kind not in _NAMES:
            raise ValueError(
                f"unknown surrogate kind {self.kind!r}: build one with a function of tritonsnn.surrogate "
                f"({', '.join(sorted(_NAMES.values()))})"
            )
        if not (math.isfinite(self.param) and math.isfinite(self.param2)):
            raise ValueError(f"surrogate.{_NAMES[self.kind]} needs finite parameters; got {self.param}, {self.param2}")
        if self.kind in (ATAN, SIGMOID) and self.param <= 0:
            # atan(0) divides by zero, sigmoid(0) has a zero gradient everywhere
            raise ValueError(f"surrogate.{_NAMES[self.kind]} needs a parameter > 0; got {self.param}")
        if self.kind == STOCHASTIC_SPIKE_OPERATOR and self.param2 < 0:
            raise ValueError(f"surrogate.stochastic_spike_operator needs a variance >= 0; got {self.param2}")

    def __repr__(self) -> str:
        if self.kind == CUSTOM:
            return f"surrogate.custom({_CUSTOM[int(self.param)]!r})"
        two = self.kind in (SPIKE_RATE_ESCAPE, SPARSE_FAST_SIGMOID, STOCHASTIC_SPIKE_OPERATOR)
        return f"surrogate.{self.name}({self.param}" + (f", {self.param2})" if two else ")")


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


def heaviside() -> Surrogate:
    """snnTorch's ``heaviside``: ``dS/dx = S``, 1 where the neuron fires and 0 elsewhere."""
    return Surrogate(HEAVISIDE, 0.0)


def spike_rate_escape(beta: float = 1.0, slope: float = 25.0) -> Surrogate:
    """Spike-rate escape (snnTorch's ``spike_rate_escape``): ``dS/dx = slope * exp(-beta * |x - 1|)``."""
    return Surrogate(SPIKE_RATE_ESCAPE, float(slope), float(beta))


def sparse_fast_sigmoid(slope: float = 25.0, B: float = 1.0) -> Surrogate:
    """Sparse fast sigmoid (snnTorch's ``SFS``): the fast sigmoid's ``1 / (slope*|x| + 1)^2`` where
    ``x > B``, 0 elsewhere."""
    return Surrogate(SPARSE_FAST_SIGMOID, float(slope), float(B))


def leaky_spike_operator(slope: float = 0.1) -> Surrogate:
    """Leaky spike operator (snnTorch's ``LSO`` as documented): ``dS/dx = 1`` where the neuron fires,
    ``slope`` elsewhere (the gradient of a threshold-shifted leaky ReLU)."""
    return Surrogate(LEAKY_SPIKE_OPERATOR, float(slope))


def stochastic_spike_operator(mean: float = 0.0, variance: float = 0.2) -> Surrogate:
    """Stochastic spike operator (snnTorch's ``SSO``): ``dS/dx = 1`` where the neuron fires, and
    ``(u - 0.5 + mean) * variance`` elsewhere with ``u ~ U[0, 1)`` drawn afresh in every backward
    (``torch.rand_like``, so ``torch.manual_seed`` makes it repeatable). Precomputed."""
    return Surrogate(STOCHASTIC_SPIKE_OPERATOR, float(mean), float(variance))


def custom(grad_fn) -> Surrogate:
    """A surrogate from a function ``grad_fn(x) -> dS/dx`` of ``x`` = membrane minus threshold
    (any PyTorch code returning a tensor of x's shape). Precomputed: evaluated once per backward
    on the whole sequence. The same function object always gives the same surrogate."""
    if not callable(grad_fn):
        raise TypeError(f"custom surrogate needs a function x -> dS/dx; got {type(grad_fn).__name__}")
    for key, fn in _CUSTOM.items():
        if fn is grad_fn:
            return Surrogate(CUSTOM, float(key))
    key = len(_CUSTOM)
    _CUSTOM[key] = grad_fn
    return Surrogate(CUSTOM, float(key))


PRECOMPUTED = frozenset({STOCHASTIC_SPIKE_OPERATOR, CUSTOM})


def precomputed(surrogate: Surrogate) -> bool:
    """Whether the backward evaluates this surrogate on the whole sequence before its reverse loop."""
    return surrogate.kind in PRECOMPUTED


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
    kind, a, b = surrogate.kind, surrogate.param, surrogate.param2
    if kind == ATAN:  # (a/2) / (1 + (pi/2 * a * x)^2) = 1 / (2/a + (2/a) (pi/2 * a * x)^2): two ops
        return torch.addcmul(_scalar(2 / a, x), x, x, value=2 / a * (math.pi / 2 * a) ** 2, out=x).reciprocal_()
    if kind == FAST_SIGMOID:  # 1 / (1 + a|x|)^2
        return torch.add(_scalar(1.0, x), x.abs_(), alpha=a, out=x).square_().reciprocal_()
    if kind == SIGMOID:
        sig = x.mul_(a).sigmoid_()
        return torch.addcmul(sig, sig, sig, value=-1, out=sig).mul_(a)  # a * sig * (1 - sig)
    if kind == TRIANGULAR:
        return x.lt_(0).mul_(2 * a).sub_(a)  # a where x < 0, else -a
    if kind == STRAIGHT_THROUGH:
        return x.fill_(1)
    if kind == HEAVISIDE:
        return x.gt_(0)
    if kind == SPIKE_RATE_ESCAPE:  # a * exp(-b * |x - 1|)
        return x.sub_(1).abs_().mul_(-b).exp_().mul_(a)
    if kind == SPARSE_FAST_SIGMOID:  # the fast sigmoid where x > b
        above = torch.gt(x, b, out=torch.empty_like(x))
        return torch.add(_scalar(1.0, x), x.abs_(), alpha=a, out=x).square_().reciprocal_().mul_(above)
    if kind == STOCHASTIC_SPIKE_OPERATOR:  # 1 where fired, (u - 0.5 + mean) * variance elsewhere
        fired = x > 0
        return x.copy_(torch.rand_like(x)).sub_(0.5).add_(a).mul_(b).masked_fill_(fired, 1.0)
    if kind == CUSTOM:
        g = _CUSTOM[int(a)](x)
        if not isinstance(g, torch.Tensor) or g.shape != x.shape:
            raise ValueError(
                f"custom surrogate function must return a tensor of shape {tuple(x.shape)}; "
                f"got {getattr(g, 'shape', type(g).__name__)}"
            )
        return x.copy_(g)
    if kind == LEAKY_SPIKE_OPERATOR:
        fired = x > 0
        return x.fill_(a).masked_fill_(fired, 1.0)
    raise ValueError(f"unknown surrogate kind {kind}")


def _scalar(value: float, like: torch.Tensor) -> torch.Tensor:
    """A 0-d tensor of ``value`` (dtype and device of ``like``), made once: the formulas above need
    one as an operand."""
    return _alloc.constant(float(value), like.dtype, like.device)


def spike(x: torch.Tensor, surrogate: Surrogate, at_zero: bool = False) -> torch.Tensor:
    """Heaviside spikes ``x > 0`` (``at_zero``: ``x >= 0``, SpikingJelly's) in x's dtype, whose
    backward multiplies by the surrogate gradient at ``x``. Outside functorch transforms it enters
    autograd through the C ``apply`` that ``Function.apply`` ends in: the Python wrapper around it
    costs as much as the spike itself on a small layer, and one-step-per-call loops call this
    every step."""
    if torch._C._are_functorch_transforms_active():
        return _SpikeFn.apply(x, surrogate, at_zero)
    return _apply_spike(x, surrogate, at_zero)


class _SpikeFn(torch.autograd.Function):
    @staticmethod
    def forward(ctx, x, surrogate, at_zero):
        ctx.save_for_backward(x)
        ctx.surrogate = surrogate
        compare = torch.ge if at_zero else torch.gt
        return compare(x, 0.0, out=torch.empty_like(x))  # a float output: faster than a bool's .to()

    @staticmethod
    def backward(ctx, g):
        (x,) = ctx.saved_tensors
        return grad(x, ctx.surrogate).mul_(g), None, None  # into the fresh surrogate tensor: no allocation


_apply_spike = super(torch.autograd.Function, _SpikeFn).apply  # torch._C._FunctionBase.apply
