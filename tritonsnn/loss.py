"""Losses and metrics for SNN classifiers on time-first outputs ``[T, B, C]``.

Each loss exists twice with the same meaning as ``snntorch.functional``:

* a plain function, e.g. ``ce_rate(spk_out, targets)``, and
* an ``nn.Module`` named exactly as in snnTorch, e.g. ``ce_rate_loss()``,
  built once with its options and called as ``loss_fn(spk_out, targets)``,
  so ``import tritonsnn.loss as SF`` can replace ``import snntorch.functional
  as SF`` for these names. The lowercase class names are kept for that reason.

``targets`` are class indices of shape ``[B]``. ``reduction`` is ``"mean"``
(snnTorch's default), ``"sum"`` or ``"none"`` with snnTorch's meaning: for
``"none"`` the cross-entropy losses return one value per sample ``[B]`` and
the MSE losses one per sample and class ``[B, C]``. Unlike snnTorch, which
returns a 1-element tensor from some losses, a reduced loss is always a
0-dim tensor. snnTorch's ``population_code`` and ``weight`` options are not
provided.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn

__all__ = [
    "ce_rate",
    "ce_count",
    "mse_count",
    "ce_max_membrane",
    "mse_membrane",
    "accuracy_rate",
    "ce_rate_loss",
    "ce_count_loss",
    "mse_count_loss",
    "ce_max_membrane_loss",
    "mse_membrane_loss",
]

_REDUCTIONS = ("mean", "sum", "none")


def _check(outputs: torch.Tensor, targets: torch.Tensor, fn: str, reduction: str = "mean") -> torch.Tensor:
    """Validate a ``[T, B, C]`` output and ``[B]`` integer targets; return the targets as int64."""
    if outputs.dim() != 3:
        raise ValueError(
            f"{fn}: the output must be time-first [T, B, C], got shape {tuple(outputs.shape)}; "
            "record the output layer over time and stack along dim 0."
        )
    if targets.shape != outputs.shape[1:2]:
        raise ValueError(
            f"{fn}: `targets` must be class indices of shape [B] = [{outputs.shape[1]}], "
            f"got shape {tuple(targets.shape)}."
        )
    if targets.is_floating_point() or targets.is_complex() or targets.dtype == torch.bool:
        raise TypeError(
            f"{fn}: `targets` must be integer class indices, got {targets.dtype}; "
            "use `targets.long()` (one-hot targets: `targets.argmax(-1)`)."
        )
    if reduction not in _REDUCTIONS:
        raise ValueError(f"{fn}: `reduction` must be one of {_REDUCTIONS}, got {reduction!r}.")
    # cross_entropy and one_hot need int64 indices; int32/uint8 labels are common.
    return targets.long()


def _reduce(per_sample: torch.Tensor, reduction: str) -> torch.Tensor:
    if reduction == "mean":
        return per_sample.mean()
    if reduction == "sum":
        return per_sample.sum()
    return per_sample


def _on_off(
    targets: torch.Tensor, num_classes: int, on: float, off: float, like: torch.Tensor
) -> torch.Tensor:
    """``[B, C]`` tensor holding ``on`` at each target class and ``off`` elsewhere."""
    one_hot = F.one_hot(targets, num_classes).to(like.dtype)
    return one_hot * on + (1 - one_hot) * off


def ce_rate(spk_out: torch.Tensor, targets: torch.Tensor, *, reduction: str = "mean") -> torch.Tensor:
    """Cross-entropy applied at every step, averaged over time.

    ``loss = mean_t CE(spk_out[t], targets)``: pushes the target neuron to
    fire at every step and the others to stay silent. Equals
    ``snntorch.functional.ce_rate_loss()``.

    Args:
        spk_out: Output spikes (or any logits) ``[T, B, C]``.
        targets: Class indices ``[B]``.
        reduction: ``"mean"`` | ``"sum"`` | ``"none"`` (per-sample ``[B]``) over the batch.

    Returns:
        The loss.
    """
    targets = _check(spk_out, targets, "ce_rate", reduction)
    num_steps, batch, num_classes = spk_out.shape
    per_step = F.cross_entropy(
        spk_out.reshape(num_steps * batch, num_classes), targets.repeat(num_steps), reduction="none"
    )
    return _reduce(per_step.view(num_steps, batch).mean(0), reduction)


def ce_count(spk_out: torch.Tensor, targets: torch.Tensor, *, reduction: str = "mean") -> torch.Tensor:
    """Cross-entropy on the spike counts summed over time.

    Equals ``snntorch.functional.ce_count_loss()``.

    Args:
        spk_out: Output spikes ``[T, B, C]``.
        targets: Class indices ``[B]``.
        reduction: ``"mean"`` | ``"sum"`` | ``"none"`` (per-sample ``[B]``).

    Returns:
        The loss.
    """
    targets = _check(spk_out, targets, "ce_count", reduction)
    return F.cross_entropy(spk_out.sum(0), targets, reduction=reduction)


def ce_max_membrane(mem_out: torch.Tensor, targets: torch.Tensor, *, reduction: str = "mean") -> torch.Tensor:
    """Cross-entropy on each output neuron's maximum membrane potential over time.

    Equals ``snntorch.functional.ce_max_membrane_loss()``. On ties in time
    the gradient goes to a single step, as with ``torch.max`` in snnTorch.

    Args:
        mem_out: Output membrane potential ``[T, B, C]``.
        targets: Class indices ``[B]``.
        reduction: ``"mean"`` | ``"sum"`` | ``"none"`` (per-sample ``[B]``).

    Returns:
        The loss.
    """
    targets = _check(mem_out, targets, "ce_max_membrane", reduction)
    return F.cross_entropy(mem_out.max(0).values, targets, reduction=reduction)


def mse_count(
    spk_out: torch.Tensor,
    targets: torch.Tensor,
    *,
    correct_rate: float = 1.0,
    incorrect_rate: float = 0.0,
    reduction: str = "mean",
) -> torch.Tensor:
    """Mean squared error between spike counts and target counts, divided by ``T``.

    The target count is ``int(T * correct_rate)`` for the target class and
    ``int(T * incorrect_rate)`` for the others. The truncation to an integer
    (so ``T=10, correct_rate=0.75`` targets 7 spikes, not 7.5) is snnTorch's
    and is kept. Equals ``snntorch.functional.mse_count_loss(correct_rate,
    incorrect_rate)``.

    Args:
        spk_out: Output spikes ``[T, B, C]``.
        targets: Class indices ``[B]``.
        correct_rate: Desired firing rate of the target class, in ``[0, 1]``.
        incorrect_rate: Desired firing rate of the other classes, in ``[0, 1]``.
        reduction: ``"mean"`` | ``"sum"`` | ``"none"`` (per element ``[B, C]``).

    Returns:
        The loss.

    Raises:
        ValueError: a rate is outside ``[0, 1]``.
    """
    targets = _check(spk_out, targets, "mse_count", reduction)
    for name, value in (("correct_rate", correct_rate), ("incorrect_rate", incorrect_rate)):
        if not 0 <= value <= 1:
            raise ValueError(
                f"mse_count: `{name}` is a firing rate per step and must be in [0, 1], got {value}."
            )
    num_steps, _, num_classes = spk_out.shape
    on, off = int(num_steps * correct_rate), int(num_steps * incorrect_rate)
    target = _on_off(targets, num_classes, on, off, spk_out)
    return _reduce((spk_out.sum(0) - target).square() / num_steps, reduction)


def mse_membrane(
    mem_out: torch.Tensor,
    targets: torch.Tensor,
    *,
    on_target: float = 1.0,
    off_target: float = 0.0,
    reduction: str = "mean",
) -> torch.Tensor:
    """Mean squared error between the membrane at every step and a constant target.

    The target is ``on_target`` for the target class and ``off_target`` for
    the others, at every step; the squared errors are averaged over time.
    Equals ``snntorch.functional.mse_membrane_loss(on_target=..., off_target=...)``
    with one deliberate difference: snnTorch silently uses 0 instead of a
    negative ``off_target`` when ``on_target > off_target``; here
    ``off_target`` is always used as given.

    Args:
        mem_out: Output membrane potential ``[T, B, C]``.
        targets: Class indices ``[B]``.
        on_target: Membrane target of the target class.
        off_target: Membrane target of the other classes.
        reduction: ``"mean"`` | ``"sum"`` | ``"none"`` (per element ``[B, C]``).

    Returns:
        The loss.
    """
    targets = _check(mem_out, targets, "mse_membrane", reduction)
    target = _on_off(targets, mem_out.shape[-1], on_target, off_target, mem_out)
    return _reduce((mem_out - target).square().mean(0), reduction)


def accuracy_rate(spk_out: torch.Tensor, targets: torch.Tensor) -> float:
    """Fraction of samples whose most-active output neuron is the target.

    The prediction is the neuron with the highest spike count over time; on a
    tie the lowest index wins, as in ``snntorch.functional.accuracy_rate``.

    Args:
        spk_out: Output spikes ``[T, B, C]``.
        targets: Class indices ``[B]``.

    Returns:
        Accuracy in ``[0, 1]`` as a Python float.
    """
    targets = _check(spk_out, targets, "accuracy_rate")
    if spk_out.shape[1] == 0:
        raise ValueError("accuracy_rate: the batch is empty (B = 0); accuracy is undefined.")
    prediction = spk_out.sum(0).argmax(-1)
    return (prediction == targets).float().mean().item()


class ce_rate_loss(nn.Module):
    """Module form of :func:`ce_rate` (``snntorch.functional.ce_rate_loss``).

    Args:
        reduction: ``"mean"`` | ``"sum"`` | ``"none"``.
    """

    def __init__(self, reduction: str = "mean") -> None:
        super().__init__()
        self.reduction = reduction

    def forward(self, spk_out: torch.Tensor, targets: torch.Tensor) -> torch.Tensor:
        return ce_rate(spk_out, targets, reduction=self.reduction)


class ce_count_loss(nn.Module):
    """Module form of :func:`ce_count` (``snntorch.functional.ce_count_loss``).

    Args:
        reduction: ``"mean"`` | ``"sum"`` | ``"none"``.
    """

    def __init__(self, reduction: str = "mean") -> None:
        super().__init__()
        self.reduction = reduction

    def forward(self, spk_out: torch.Tensor, targets: torch.Tensor) -> torch.Tensor:
        return ce_count(spk_out, targets, reduction=self.reduction)


class ce_max_membrane_loss(nn.Module):
    """Module form of :func:`ce_max_membrane` (``snntorch.functional.ce_max_membrane_loss``).

    Args:
        reduction: ``"mean"`` | ``"sum"`` | ``"none"``.
    """

    def __init__(self, reduction: str = "mean") -> None:
        super().__init__()
        self.reduction = reduction

    def forward(self, mem_out: torch.Tensor, targets: torch.Tensor) -> torch.Tensor:
        return ce_max_membrane(mem_out, targets, reduction=self.reduction)


class mse_count_loss(nn.Module):
    """Module form of :func:`mse_count` (``snntorch.functional.mse_count_loss``).

    Args:
        correct_rate: Desired firing rate of the target class, in ``[0, 1]``.
        incorrect_rate: Desired firing rate of the other classes, in ``[0, 1]``.
        reduction: ``"mean"`` | ``"sum"`` | ``"none"``.
    """

    def __init__(
        self, correct_rate: float = 1.0, incorrect_rate: float = 0.0, reduction: str = "mean"
    ) -> None:
        super().__init__()
        self.correct_rate = correct_rate
        self.incorrect_rate = incorrect_rate
        self.reduction = reduction

    def forward(self, spk_out: torch.Tensor, targets: torch.Tensor) -> torch.Tensor:
        return mse_count(
            spk_out,
            targets,
            correct_rate=self.correct_rate,
            incorrect_rate=self.incorrect_rate,
            reduction=self.reduction,
        )


class mse_membrane_loss(nn.Module):
    """Module form of :func:`mse_membrane` (``snntorch.functional.mse_membrane_loss``).

    Args:
        on_target: Membrane target of the target class.
        off_target: Membrane target of the other classes.
        reduction: ``"mean"`` | ``"sum"`` | ``"none"``.
    """

    def __init__(self, on_target: float = 1.0, off_target: float = 0.0, reduction: str = "mean") -> None:
        super().__init__()
        self.on_target = on_target
        self.off_target = off_target
        self.reduction = reduction

    def forward(self, mem_out: torch.Tensor, targets: torch.Tensor) -> torch.Tensor:
        return mse_membrane(
            mem_out,
            targets,
            on_target=self.on_target,
            off_target=self.off_target,
            reduction=self.reduction,
        )
