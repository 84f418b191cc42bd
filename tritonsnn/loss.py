"""Losses and metrics for SNN classifiers on time-first outputs ``[T, B, C]``.

Each loss exists twice with the meaning of the ``snntorch.functional`` loss
of the same name:

* a plain function, e.g. ``ce_rate(spk_out, targets)``, and
* an ``nn.Module`` named as in snnTorch, e.g. ``ce_rate_loss()``, built once
  with its options and called as ``loss_fn(spk_out, targets)``. The
  lowercase class names are kept for that reason. For snnTorch's exact
  constructor signatures, return shapes and quirks use
  :mod:`tritonsnn.snntorch.functional`, a thin adapter over this module.

``targets`` are class indices of shape ``[B]``. ``reduction`` is ``"mean"``
(snnTorch's default), ``"sum"`` or ``"none"`` with snnTorch's meaning: for
``"none"`` the cross-entropy losses return one value per sample ``[B]`` and
the MSE losses one per sample and class ``[B, C]``. Unlike snnTorch, which
returns a 1-element tensor from some losses, a reduced loss is always a
0-dim tensor.

Options shared by several losses:

* ``num_classes`` (population code): the ``C`` outputs are ``num_classes``
  equal groups of consecutive neurons, ``C / num_classes`` per class, whose
  spikes are summed; ``targets`` then index the groups. This is snnTorch's
  ``population_code=True, num_classes=...``.
* ``weight``: a per-class weight ``[num_classes]``; each sample's loss is
  multiplied by the weight of its target class, and ``reduction="mean"``
  divides by the summed weights of the batch (as
  ``torch.nn.functional.cross_entropy`` does), so a uniform weight changes
  nothing.

The temporal losses (:func:`mse_temporal`, :func:`ce_temporal`) work on the
first spike time of each output neuron (:func:`spike_times`); a neuron that
never fires counts as firing at the last step, ``T - 1``.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn

from ._doc import shared_args

__all__ = [
    "accuracy_rate",
    "accuracy_temporal",
    "ce_count",
    "ce_count_loss",
    "ce_max_membrane",
    "ce_max_membrane_loss",
    "ce_rate",
    "ce_rate_loss",
    "ce_temporal",
    "ce_temporal_loss",
    "l1_rate",
    "mse_count",
    "mse_count_loss",
    "mse_membrane",
    "mse_membrane_loss",
    "mse_temporal",
    "mse_temporal_loss",
    "spike_times",
]

_REDUCTIONS = ("mean", "sum", "none")
_INVERSES = ("negate", "reciprocal")


def _check_output(outputs: torch.Tensor, fn: str) -> None:
    if not isinstance(outputs, torch.Tensor) or outputs.dim() != 3:
        shape = tuple(outputs.shape) if isinstance(outputs, torch.Tensor) else type(outputs).__name__
        raise ValueError(
            f"{fn}: the output must be time-first [T, B, C], got shape {shape}; "
            "record the output layer over time and stack along dim 0."
        )


def _check_reduction(reduction: str, fn: str) -> None:
    if reduction not in _REDUCTIONS:
        raise ValueError(f"{fn}: `reduction` must be one of {_REDUCTIONS}, got {reduction!r}.")


def _check(outputs: torch.Tensor, targets: torch.Tensor, fn: str, reduction: str = "mean") -> torch.Tensor:
    """Validate a ``[T, B, C]`` output and ``[B]`` integer targets; return the targets as int64."""
    _check_output(outputs, fn)
    if not isinstance(targets, torch.Tensor) or targets.shape != outputs.shape[1:2]:
        shape = tuple(targets.shape) if isinstance(targets, torch.Tensor) else type(targets).__name__
        raise ValueError(
            f"{fn}: `targets` must be class indices of shape [B] = [{outputs.shape[1]}], got shape {shape}."
        )
    if targets.is_floating_point() or targets.is_complex() or targets.dtype == torch.bool:
        raise TypeError(
            f"{fn}: `targets` must be integer class indices, got {targets.dtype}; "
            "use `targets.long()` (one-hot targets: `targets.argmax(-1)`)."
        )
    _check_reduction(reduction, fn)
    # cross_entropy and one_hot need int64 indices; int32/uint8 labels are common.
    return targets.long()


def _groups(outputs: torch.Tensor, num_classes: int | None, fn: str) -> torch.Tensor:
    """``[T, B, C]`` -> ``[T, B, num_classes]``: each class sums its group of ``C / num_classes`` neurons."""
    size = outputs.shape[-1]
    if num_classes is None:
        return outputs
    if isinstance(num_classes, bool) or not isinstance(num_classes, int) or num_classes < 1:
        raise ValueError(f"{fn}: `num_classes` must be an int >= 1, got {num_classes!r}.")
    if size % num_classes:
        raise ValueError(
            f"{fn}: a population code needs the {size} outputs to split into `num_classes` = {num_classes} "
            "equal groups; the number of outputs must be a multiple of `num_classes`."
        )
    if num_classes == size:
        return outputs
    return outputs.unflatten(-1, (num_classes, size // num_classes)).sum(-1)


def _sample_weight(weight, targets: torch.Tensor, num_classes: int, like: torch.Tensor, fn: str):
    """Weight ``[B]`` of each sample's target class, or ``None`` without ``weight``."""
    if weight is None:
        return None
    weight = torch.as_tensor(weight, dtype=like.dtype, device=like.device)
    if weight.shape != (num_classes,):
        raise ValueError(
            f"{fn}: `weight` must hold one weight per class, shape [{num_classes}], got {tuple(weight.shape)}."
        )
    return weight[targets]


def _reduce(loss: torch.Tensor, reduction: str, sample_weight: torch.Tensor | None = None) -> torch.Tensor:
    """Reduce a per-sample ``[B]`` or per-element ``[..., B, C]`` loss (samples along dim ``-2`` then)."""
    if sample_weight is not None:
        shape = (-1,) if loss.dim() == 1 else (-1, 1)
        loss = loss * sample_weight.view(shape)
        if reduction == "mean":
            per_sample = loss.numel() // max(sample_weight.numel(), 1)
            return loss.sum() / (sample_weight.sum() * per_sample)
    if reduction == "mean":
        return loss.mean()
    if reduction == "sum":
        return loss.sum()
    return loss


def _on_off(targets: torch.Tensor, num_classes: int, on, off, like: torch.Tensor) -> torch.Tensor:
    """``[B, C]`` tensor holding ``on`` at each target class and ``off`` elsewhere."""
    one_hot = F.one_hot(targets, num_classes).to(like.dtype)
    return one_hot * on + (1 - one_hot) * off


def ce_rate(
    spk_out: torch.Tensor,
    targets: torch.Tensor,
    *,
    num_classes: int | None = None,
    weight: torch.Tensor | None = None,
    reduction: str = "mean",
) -> torch.Tensor:
    """Cross-entropy applied at every step, averaged over time.

    ``loss = mean_t CE(spk_out[t], targets)``: pushes the target neuron to
    fire at every step and the others to stay silent. Equals
    ``snntorch.functional.ce_rate_loss()``. With ``num_classes`` the
    cross-entropy of each step is taken over the group sums of that step
    (snnTorch's ``ce_rate_loss(population_code=True)`` does not group its
    outputs; see :mod:`tritonsnn.snntorch.functional`).

    Args:
        spk_out: Output spikes (or any logits) ``[T, B, C]``.
        targets: Class indices ``[B]``.
        num_classes: Population code with this many classes (see the module notes).
        weight: Per-class weights ``[num_classes]`` (see the module notes).
        reduction: ``"mean"`` | ``"sum"`` | ``"none"`` (per-sample ``[B]``) over the batch.

    Returns:
        The loss.
    """
    targets = _check(spk_out, targets, "ce_rate", reduction)
    logits = _groups(spk_out, num_classes, "ce_rate")
    num_steps, batch, classes = logits.shape
    per_step = F.cross_entropy(logits.reshape(num_steps * batch, classes), targets.repeat(num_steps), reduction="none")
    w = _sample_weight(weight, targets, classes, spk_out, "ce_rate")
    return _reduce(per_step.view(num_steps, batch).mean(0), reduction, w)


def ce_count(
    spk_out: torch.Tensor,
    targets: torch.Tensor,
    *,
    num_classes: int | None = None,
    weight: torch.Tensor | None = None,
    reduction: str = "mean",
) -> torch.Tensor:
    """Cross-entropy on the spike counts summed over time.

    Equals ``snntorch.functional.ce_count_loss()``; ``num_classes`` is its
    ``population_code=True, num_classes=...``.

    Args:
        spk_out: Output spikes ``[T, B, C]``.
        targets: Class indices ``[B]``.
        num_classes: Population code with this many classes (see the module notes).
        weight: Per-class weights ``[num_classes]`` (see the module notes).
        reduction: ``"mean"`` | ``"sum"`` | ``"none"`` (per-sample ``[B]``).

    Returns:
        The loss.
    """
    targets = _check(spk_out, targets, "ce_count", reduction)
    counts = _groups(spk_out, num_classes, "ce_count").sum(0)
    w = _sample_weight(weight, targets, counts.shape[-1], spk_out, "ce_count")
    return _reduce(F.cross_entropy(counts, targets, reduction="none"), reduction, w)


def ce_max_membrane(
    mem_out: torch.Tensor, targets: torch.Tensor, *, weight: torch.Tensor | None = None, reduction: str = "mean"
) -> torch.Tensor:
    """Cross-entropy on each output neuron's maximum membrane potential over time.

    Equals ``snntorch.functional.ce_max_membrane_loss()``. On ties in time
    the gradient goes to a single step, as with ``torch.max`` in snnTorch.

    Args:
        mem_out: Output membrane potential ``[T, B, C]``.
        targets: Class indices ``[B]``.
        weight: Per-class weights ``[C]`` (see the module notes).
        reduction: ``"mean"`` | ``"sum"`` | ``"none"`` (per-sample ``[B]``).

    Returns:
        The loss.
    """
    targets = _check(mem_out, targets, "ce_max_membrane", reduction)
    w = _sample_weight(weight, targets, mem_out.shape[-1], mem_out, "ce_max_membrane")
    return _reduce(F.cross_entropy(mem_out.max(0).values, targets, reduction="none"), reduction, w)


def mse_count(
    spk_out: torch.Tensor,
    targets: torch.Tensor,
    *,
    correct_rate: float = 1.0,
    incorrect_rate: float = 0.0,
    num_classes: int | None = None,
    weight: torch.Tensor | None = None,
    reduction: str = "mean",
) -> torch.Tensor:
    """Mean squared error between spike counts and target counts, divided by ``T``.

    The target count is ``int(T * correct_rate * g)`` for the target class and
    ``int(T * incorrect_rate * g)`` for the others, with ``g = C /
    num_classes`` neurons per class (``g = 1`` without a population code).
    The truncation to an integer (so ``T=10, correct_rate=0.75`` targets 7
    spikes, not 7.5) is snnTorch's and is kept. Equals
    ``snntorch.functional.mse_count_loss(correct_rate, incorrect_rate)``;
    ``num_classes`` is its ``population_code=True, num_classes=...``.

    Args:
        spk_out: Output spikes ``[T, B, C]``.
        targets: Class indices ``[B]``.
        correct_rate: Desired firing rate of the target class, in ``[0, 1]``.
        incorrect_rate: Desired firing rate of the other classes, in ``[0, 1]``.
        num_classes: Population code with this many classes (see the module notes).
        weight: Per-class weights ``[num_classes]`` (see the module notes).
        reduction: ``"mean"`` | ``"sum"`` | ``"none"`` (per element ``[B, num_classes]``).

    Returns:
        The loss.

    Raises:
        ValueError: a rate is outside ``[0, 1]``.
    """
    targets = _check(spk_out, targets, "mse_count", reduction)
    for name, value in (("correct_rate", correct_rate), ("incorrect_rate", incorrect_rate)):
        if not 0 <= value <= 1:
            raise ValueError(f"mse_count: `{name}` is a firing rate per step and must be in [0, 1], got {value}.")
    num_steps, _, size = spk_out.shape
    counts = _groups(spk_out, num_classes, "mse_count").sum(0)
    classes = counts.shape[-1]
    per_class = size / classes
    on, off = int(num_steps * correct_rate * per_class), int(num_steps * incorrect_rate * per_class)
    target = _on_off(targets, classes, on, off, counts)
    w = _sample_weight(weight, targets, classes, spk_out, "mse_count")
    return _reduce((counts - target).square() / num_steps, reduction, w)


def mse_membrane(
    mem_out: torch.Tensor,
    targets: torch.Tensor,
    *,
    on_target: float = 1.0,
    off_target: float = 0.0,
    weight: torch.Tensor | None = None,
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
        weight: Per-class weights ``[C]`` (see the module notes).
        reduction: ``"mean"`` | ``"sum"`` | ``"none"`` (per element ``[B, C]``).

    Returns:
        The loss.
    """
    targets = _check(mem_out, targets, "mse_membrane", reduction)
    target = _on_off(targets, mem_out.shape[-1], on_target, off_target, mem_out)
    w = _sample_weight(weight, targets, mem_out.shape[-1], mem_out, "mse_membrane")
    return _reduce((mem_out - target).square().mean(0), reduction, w)


class _SpikeTimes(torch.autograd.Function):
    """Step of the first ``num_spikes`` spikes of each neuron, with a -1 sign-estimator gradient."""

    @staticmethod
    def forward(ctx, spk: torch.Tensor, num_spikes: int) -> torch.Tensor:
        num_steps = spk.shape[0]
        fired = spk != 0
        count = fired.cumsum(0) if num_spikes > 1 else None
        steps = []
        for k in range(1, num_spikes + 1):
            hit = fired if k == 1 else fired & (count == k)
            # argmax returns the first maximal index: the step of the k-th spike.
            first = hit.to(torch.uint8).argmax(0)
            steps.append(torch.where(hit.any(0), first, num_steps - 1))
        index = torch.stack(steps)
        ctx.save_for_backward(index)
        ctx.spk_shape = spk.shape
        return index.to(spk.dtype)

    @staticmethod
    def backward(ctx, grad_times: torch.Tensor):
        (index,) = ctx.saved_tensors
        grad = grad_times.new_zeros(ctx.spk_shape)
        return grad.scatter_add_(0, index, -grad_times), None


def spike_times(spk_out: torch.Tensor, num_spikes: int | None = None) -> torch.Tensor:
    """Time step of each neuron's first spike (or first ``num_spikes`` spikes).

    A spike is any non-zero entry; a neuron with fewer spikes than asked for
    counts as firing at the last step ``T - 1`` (for each missing spike). The
    step index is not differentiable, so the gradient is a sign estimator, as
    in snnTorch's temporal losses: ``d time / d spk_out[t] = -1`` at the step
    ``t`` the time was read from (``T - 1`` for a missing spike) and 0
    elsewhere, so raising the output at a spike's step moves it earlier.

    Args:
        spk_out: Output spikes ``[T, ...]``.
        num_spikes: ``None`` for the first spike only, else how many spike
            times ``F >= 1`` to return per neuron.

    Returns:
        Spike times (as ``spk_out``'s dtype) of shape ``spk_out.shape[1:]``,
        or ``[F, *spk_out.shape[1:]]`` with ``num_spikes``.
    """
    if not isinstance(spk_out, torch.Tensor) or spk_out.dim() < 1 or spk_out.shape[0] < 1:
        raise ValueError("spike_times: `spk_out` must be a time-first tensor [T, ...] with T >= 1.")
    if num_spikes is not None and (isinstance(num_spikes, bool) or not isinstance(num_spikes, int) or num_spikes < 1):
        raise ValueError(f"spike_times: `num_spikes` must be None or an int >= 1, got {num_spikes!r}.")
    times = _SpikeTimes.apply(spk_out, num_spikes or 1)
    return times[0] if num_spikes is None else times


def _target_times(targets, spk_out, target_is_time, on_target, off_target, fn):
    """Target spike times ``[B, C]`` or ``[F, B, C]`` (negative times counted from the end) and the labels."""
    num_steps, batch, size = spk_out.shape
    if target_is_time:
        target = torch.as_tensor(targets, device=spk_out.device)
        target = target.to(
            torch.promote_types(spk_out.dtype, torch.float32) if not target.is_floating_point() else target.dtype
        )
        if target.shape != (batch, size) and not (target.dim() == 3 and target.shape[1:] == (batch, size)):
            raise ValueError(
                f"{fn}: with `target_is_time=True`, `targets` are spike times of shape [B, C] = [{batch}, {size}] "
                f"or [F, B, C], got {tuple(target.shape)}."
            )
        labels = None
    else:
        labels = _check(spk_out, targets, fn)
        on = torch.as_tensor(on_target, dtype=spk_out.dtype, device=spk_out.device)
        off = torch.as_tensor(off_target, dtype=spk_out.dtype, device=spk_out.device)
        if on.dim() == 0 and off.dim() == 0:
            target = _on_off(labels, size, on, off, spk_out)
        elif on.dim() == 1 and on.shape == off.shape and on.numel() >= 1:
            target = torch.stack([_on_off(labels, size, a, b, spk_out) for a, b in zip(on, off)])
        else:
            raise ValueError(
                f"{fn}: `on_target` and `off_target` must both be spike times (numbers), or sequences of the "
                f"same length F for F spikes per neuron; got shapes {tuple(on.shape)} and {tuple(off.shape)}."
            )
    return torch.where(target < 0, target + num_steps, target), labels


def _within_tolerance(times: torch.Tensor, target: torch.Tensor, tolerance: float) -> torch.Tensor:
    """``times``, with those closer than ``tolerance`` to ``target`` replaced by the target (no gradient there)."""
    return torch.where((times - target).abs() < tolerance, target.to(times.dtype), times)


def mse_temporal(
    spk_out: torch.Tensor,
    targets: torch.Tensor,
    *,
    target_is_time: bool = False,
    on_target=0,
    off_target=-1,
    tolerance: float = 0,
    weight: torch.Tensor | None = None,
    reduction: str = "mean",
) -> torch.Tensor:
    """Mean squared error between output spike times and target spike times, in units of ``T``.

    The loss of each neuron is ``(t / T - target / T) ** 2`` with ``t`` its
    first spike time (:func:`spike_times`; ``T - 1`` if it does not fire).
    Target times are either given (``target_is_time=True``: ``targets`` of
    shape ``[B, C]``) or made from class labels: ``on_target`` for the
    target class, ``off_target`` for the others. Negative times count from
    the end (``-1`` is step ``T - 1``). With ``F`` target spikes per neuron
    (targets ``[F, B, C]``, or sequences of length ``F`` as ``on_target`` and
    ``off_target``) the first ``F`` spike times of each neuron are compared.
    A spike closer than ``tolerance`` steps to its target adds no loss.

    This is ``snntorch.functional.mse_temporal_loss`` as documented there.
    snnTorch's own code differs in two places, which the adapter in
    :mod:`tritonsnn.snntorch.functional` reproduces or rejects: its label
    targets replace a negative ``off_target`` by 0 when ``on_target >
    off_target`` (so by default every neuron is asked to fire at step 0), and
    its ``multi_spike=True`` removes a step from every neuron once any
    neuron's spike was read from it.

    Args:
        spk_out: Output spikes ``[T, B, C]``.
        targets: Class indices ``[B]``, or spike times (``target_is_time=True``).
        target_is_time: ``targets`` are spike times rather than labels.
        on_target: Spike time(s) of the target class (labels only).
        off_target: Spike time(s) of the other classes (labels only).
        tolerance: Distance in steps under which a spike counts as on time.
        weight: Per-class weights ``[C]`` (labels only; see the module notes).
        reduction: ``"mean"`` | ``"sum"`` | ``"none"`` (per element, ``[B, C]`` or ``[F, B, C]``).

    Returns:
        The loss.
    """
    _check_output(spk_out, "mse_temporal")
    _check_reduction(reduction, "mse_temporal")
    if target_is_time and weight is not None:
        raise ValueError(
            "mse_temporal: `weight` weights classes by the label of each sample; "
            "it needs label targets (`target_is_time=False`)."
        )
    target, labels = _target_times(targets, spk_out, target_is_time, on_target, off_target, "mse_temporal")
    num_steps = spk_out.shape[0]
    times = spike_times(spk_out, target.shape[0] if target.dim() == 3 else None)
    if tolerance:
        times = _within_tolerance(times, target, tolerance)
    err = (times / num_steps - target / num_steps).square()
    w = None if labels is None else _sample_weight(weight, labels, spk_out.shape[-1], spk_out, "mse_temporal")
    return _reduce(err, reduction, w)


def ce_temporal(
    spk_out: torch.Tensor,
    targets: torch.Tensor,
    *,
    inverse: str = "negate",
    weight: torch.Tensor | None = None,
    reduction: str = "mean",
) -> torch.Tensor:
    """Cross-entropy on inverted first spike times: the target neuron should fire first.

    The logits are ``-t`` (``inverse="negate"``) or ``1 / (t + 1)``
    (``inverse="reciprocal"``) with ``t`` each neuron's first spike time
    (:func:`spike_times`). Equals ``snntorch.functional.ce_temporal_loss``;
    ``weight`` is passed to ``torch.nn.functional.cross_entropy`` as there.

    Args:
        spk_out: Output spikes ``[T, B, C]``.
        targets: Class indices ``[B]``.
        inverse: ``"negate"`` or ``"reciprocal"``.
        weight: Per-class weights ``[C]`` (see the module notes).
        reduction: ``"mean"`` | ``"sum"`` | ``"none"`` (per-sample ``[B]``).

    Returns:
        The loss.
    """
    labels = _check(spk_out, targets, "ce_temporal", reduction)
    if inverse not in _INVERSES:
        raise ValueError(f"ce_temporal: `inverse` must be one of {_INVERSES}, got {inverse!r}.")
    times = spike_times(spk_out)
    logits = -times if inverse == "negate" else 1 / (times + 1)
    w = _sample_weight(weight, labels, spk_out.shape[-1], spk_out, "ce_temporal")
    return _reduce(F.cross_entropy(logits, labels, reduction="none"), reduction, w)


def l1_rate(spikes: torch.Tensor, *, scale: float = 1e-5) -> torch.Tensor:
    """L1 activity penalty: ``scale`` times the total number of spikes.

    Added to a loss it pushes the network to fire sparsely. Equals
    ``snntorch.functional.l1_rate_sparsity(Lambda=scale)(spikes)``.

    Args:
        spikes: Spikes of any shape (e.g. a hidden layer's ``[T, B, N]``).
        scale: Strength of the penalty.

    Returns:
        A 0-dim tensor.
    """
    if not isinstance(spikes, torch.Tensor):
        raise TypeError(f"l1_rate: `spikes` must be a torch.Tensor, got {type(spikes).__name__}.")
    return scale * spikes.sum()


def _accuracy(prediction: torch.Tensor, targets: torch.Tensor, fn: str) -> float:
    batch = targets.numel()
    if batch == 0:
        raise ValueError(f"{fn}: the batch is empty (B = 0); accuracy is undefined.")
    # An exact count over B in float64, as numpy's mean of the hits would give.
    return (prediction == targets).sum().item() / batch


def accuracy_rate(spk_out: torch.Tensor, targets: torch.Tensor, *, num_classes: int | None = None) -> float:
    """Fraction of samples whose most-active output neuron (or group) is the target.

    The prediction is the neuron with the highest spike count over time; on a
    tie the lowest index wins, as in ``snntorch.functional.accuracy_rate``.
    With ``num_classes`` (population code, see the module notes) the group
    with the highest summed count is predicted.

    Args:
        spk_out: Output spikes ``[T, B, C]``.
        targets: Class indices ``[B]``.
        num_classes: Population code with this many classes.

    Returns:
        Accuracy in ``[0, 1]`` as a Python float.
    """
    targets = _check(spk_out, targets, "accuracy_rate")
    with torch.no_grad():
        prediction = _groups(spk_out, num_classes, "accuracy_rate").sum(0).argmax(-1)
    return _accuracy(prediction, targets, "accuracy_rate")


def accuracy_temporal(spk_out: torch.Tensor, targets: torch.Tensor) -> float:
    """Fraction of samples whose first-firing output neuron is the target.

    The prediction is the neuron with the earliest first spike
    (:func:`spike_times`; a silent neuron counts as firing at ``T - 1``); on
    a tie the lowest index wins, as in ``snntorch.functional.accuracy_temporal``.

    Args:
        spk_out: Output spikes ``[T, B, C]``.
        targets: Class indices ``[B]``.

    Returns:
        Accuracy in ``[0, 1]`` as a Python float.
    """
    targets = _check(spk_out, targets, "accuracy_temporal")
    with torch.no_grad():
        prediction = spike_times(spk_out).argmin(-1)
    return _accuracy(prediction, targets, "accuracy_temporal")


class _ModuleForm(nn.Module):
    """The Module form of a loss function: options given at construction (kept as attributes),
    outputs and targets at the call."""

    _loss = None

    def __init__(self, args: dict) -> None:
        # args: the subclass constructor's locals(), the loss's options (no docstring, so that
        # help() shows nn.Module's for every form's __init__, as before)
        super().__init__()
        options = {k: v for k, v in args.items() if k not in ("self", "__class__")}
        self._options = tuple(options)
        for name, value in options.items():
            setattr(self, name, value)

    def forward(self, outputs: torch.Tensor, targets: torch.Tensor) -> torch.Tensor:
        return type(self)._loss(outputs, targets, **{name: getattr(self, name) for name in self._options})


_CLASS_COUNT_ARGS = """
        reduction: ``"mean"`` | ``"sum"`` | ``"none"``.
        num_classes: Population code with this many classes.
        weight: Per-class weights.
"""


class _ClassCountForm(_ModuleForm):
    """The Module form of a cross-entropy loss of spike counts or rates."""

    def __init__(self, reduction: str = "mean", *, num_classes: int | None = None, weight=None) -> None:
        super().__init__(locals())


@shared_args(_CLASS_COUNT_ARGS)
class ce_rate_loss(_ClassCountForm):
    """Module form of :func:`ce_rate` (``snntorch.functional.ce_rate_loss``).

    Args:"""

    _loss = staticmethod(ce_rate)


@shared_args(_CLASS_COUNT_ARGS)
class ce_count_loss(_ClassCountForm):
    """Module form of :func:`ce_count` (``snntorch.functional.ce_count_loss``).

    Args:"""

    _loss = staticmethod(ce_count)


class ce_max_membrane_loss(_ModuleForm):
    """Module form of :func:`ce_max_membrane` (``snntorch.functional.ce_max_membrane_loss``).

    Args:
        reduction: ``"mean"`` | ``"sum"`` | ``"none"``.
        weight: Per-class weights.
    """

    _loss = staticmethod(ce_max_membrane)

    def __init__(self, reduction: str = "mean", *, weight=None) -> None:
        super().__init__(locals())


class mse_count_loss(_ModuleForm):
    """Module form of :func:`mse_count` (``snntorch.functional.mse_count_loss``).

    Args:
        correct_rate: Desired firing rate of the target class, in ``[0, 1]``.
        incorrect_rate: Desired firing rate of the other classes, in ``[0, 1]``.
        reduction: ``"mean"`` | ``"sum"`` | ``"none"``.
        num_classes: Population code with this many classes.
        weight: Per-class weights.
    """

    _loss = staticmethod(mse_count)

    def __init__(
        self,
        correct_rate: float = 1.0,
        incorrect_rate: float = 0.0,
        reduction: str = "mean",
        *,
        num_classes: int | None = None,
        weight=None,
    ) -> None:
        super().__init__(locals())


class mse_membrane_loss(_ModuleForm):
    """Module form of :func:`mse_membrane` (``snntorch.functional.mse_membrane_loss``).

    Args:
        on_target: Membrane target of the target class.
        off_target: Membrane target of the other classes.
        reduction: ``"mean"`` | ``"sum"`` | ``"none"``.
        weight: Per-class weights.
    """

    _loss = staticmethod(mse_membrane)

    def __init__(
        self, on_target: float = 1.0, off_target: float = 0.0, reduction: str = "mean", *, weight=None
    ) -> None:
        super().__init__(locals())


class mse_temporal_loss(_ModuleForm):
    """Module form of :func:`mse_temporal` (``snntorch.functional.mse_temporal_loss``).

    Args:
        target_is_time: ``targets`` are spike times rather than labels.
        on_target: Spike time(s) of the target class.
        off_target: Spike time(s) of the other classes.
        tolerance: Distance in steps under which a spike counts as on time.
        reduction: ``"mean"`` | ``"sum"`` | ``"none"``.
        weight: Per-class weights.
    """

    _loss = staticmethod(mse_temporal)

    def __init__(
        self,
        target_is_time: bool = False,
        on_target=0,
        off_target=-1,
        tolerance: float = 0,
        reduction: str = "mean",
        *,
        weight=None,
    ) -> None:
        super().__init__(locals())


class ce_temporal_loss(_ModuleForm):
    """Module form of :func:`ce_temporal` (``snntorch.functional.ce_temporal_loss``).

    Args:
        inverse: ``"negate"`` or ``"reciprocal"``.
        reduction: ``"mean"`` | ``"sum"`` | ``"none"``.
        weight: Per-class weights.
    """

    _loss = staticmethod(ce_temporal)

    def __init__(self, inverse: str = "negate", reduction: str = "mean", *, weight=None) -> None:
        super().__init__(locals())
