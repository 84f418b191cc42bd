"""snnTorch-compatible loss functions (``snntorch.functional.loss``), thin adapters over :mod:`tritonsnn.loss`.

Each class is built with snnTorch's options and called as
``loss_fn(spk_out, targets)`` with time-first outputs ``[T, B, C]`` and class
indices ``[B]``; values, gradients, return shapes (snnTorch returns shape
``[1]`` from ``ce_rate_loss`` and ``mse_membrane_loss``) and dtypes are
snnTorch's, including these conventions of snnTorch 1.0:

* with ``weight``, ``reduction="mean"`` is the plain mean over the batch of
  the weighted per-sample losses (not normalised by the weights, except in
  ``ce_temporal_loss``, which is ``torch.nn.CrossEntropyLoss``), and
  ``reduction="sum"`` returns the unreduced losses;
* ``mse_membrane_loss`` and the label targets of ``mse_temporal_loss`` use
  ``max(0, off_target)`` when ``on_target > off_target`` (so by default
  ``mse_temporal_loss`` asks every neuron to fire at step 0);
* ``SpikeTime`` (temporal losses) treats a silent neuron as firing at the
  last step, with a -1 sign-estimator gradient at the step read.

Options whose snnTorch 1.0 code contradicts its documentation are not
reproduced; they raise ``NotImplementedError`` naming the tritonsnn
alternative: ``ce_rate_loss(population_code=True)``,
``mse_membrane_loss(time_var_targets=True)``, ``mse_temporal_loss(multi_spike=True)``
and ``weight`` in the MSE losses for batches of more than one sample.
Temporal losses also require binary spikes, and ``mse_count_loss`` rates in
``[0, 1]`` (``ValueError`` otherwise; snnTorch would aim at more spikes than
steps, or at negative counts).
"""

from __future__ import annotations

import torch

from ... import loss as _loss
from .. import spikegen

__all__ = [
    "LossFunctions",
    "SpikeTime",
    "ce_count_loss",
    "ce_max_membrane_loss",
    "ce_rate_loss",
    "ce_temporal_loss",
    "dtype",
    "mse_count_loss",
    "mse_membrane_loss",
    "mse_temporal_loss",
    "spikegen",
]

#: The dtype snnTorch accumulates some losses in.
dtype = torch.float


def _population(population_code, num_classes, num_outputs, name):
    """``num_classes`` for tritonsnn.loss (``None`` without a population code), checked as snnTorch does."""
    if not population_code:
        return None
    if not num_classes:
        raise ValueError(f"{name}: `num_classes` must be specified if `population_code=True`.")
    if num_outputs % num_classes:
        raise ValueError(
            f"{name}: the number of outputs ({num_outputs}) must be a multiple of `num_classes` ({num_classes})."
        )
    return int(num_classes)


def _mse_weight_supported(weight, batch, name, native):
    if weight is not None and batch != 1:
        raise NotImplementedError(
            f"{name}(weight=...) is reproduced for a batch of one sample only: snnTorch 1.0 multiplies the "
            "[B, C] squared errors by weight[targets] ([B]) along the class axis, which fails unless B == C and "
            "then weights the wrong axis. For per-class weights of each sample's target class use "
            f"{native}(..., weight=...)."
        )


def _binary(spk_out, name):
    if not isinstance(spk_out, torch.Tensor) or spk_out.dim() != 3:
        shape = tuple(spk_out.shape) if isinstance(spk_out, torch.Tensor) else type(spk_out).__name__
        raise ValueError(f"{name}: the output spikes must be time-first [T, B, C], got {shape}.")
    if not bool(((spk_out == 0) | (spk_out == 1)).all()):
        raise ValueError(
            f"{name}: spike times are read from binary (0/1) spikes; snnTorch 1.0 turns a non-binary value v "
            "at step t into the time v * (t + 1) - 1, which tritonsnn does not reproduce. Pass the output "
            "spikes, or use tritonsnn.loss.spike_times (any non-zero entry counts as a spike)."
        )


class LossFunctions:
    """Base of the rate and membrane losses: ``loss_fn(spk_out, targets)`` computes, then reduces.

    Subclasses implement ``_compute_loss(spk_out, targets)``. With a
    ``weight``, ``_compute_loss`` returns unreduced losses and
    ``reduction="mean"`` is applied here as a plain mean.
    """

    def __init__(self, reduction, weight):
        self.reduction = reduction
        self.weight = weight

    def __call__(self, spk_out, targets):
        return self._reduce(self._compute_loss(spk_out, targets))

    def _compute_loss(self, spk_out, targets):
        raise NotImplementedError(f"{type(self).__name__} must implement _compute_loss(spk_out, targets).")

    def _prediction_check(self, spk_out):
        return spk_out.device, spk_out.size(0), spk_out.size(-1)

    def _population_code(self, spk_out, num_classes, num_outputs):
        """Spike counts ``[B, num_classes]`` of equal groups of consecutive outputs (float32)."""
        k = _population(True, num_classes, num_outputs, type(self).__name__)
        return spk_out.unflatten(-1, (k, num_outputs // k)).sum(-1).sum(0).to(dtype)

    def _intermediate_reduction(self):
        return self.reduction if self.weight is None else "none"

    def _reduce(self, loss):
        return loss.mean() if self.weight is not None and self.reduction == "mean" else loss


class ce_rate_loss(LossFunctions):
    """Cross-entropy at every step, averaged over time (:func:`tritonsnn.loss.ce_rate`).

    Returns shape ``[1]`` (reduced) or ``[B]``, float32, as snnTorch.

    Raises:
        NotImplementedError: ``population_code=True`` (see the module notes);
            use ``tritonsnn.loss.ce_rate(..., num_classes=...)``.
    """

    def __init__(self, population_code=False, num_classes=False, reduction="mean", weight=None):
        super().__init__(reduction=reduction, weight=weight)
        self.population_code = population_code
        self.num_classes = num_classes
        self.__name__ = "ce_rate_loss"
        if population_code:
            raise NotImplementedError(
                "ce_rate_loss(population_code=True) is not reproduced: snnTorch 1.0 does not group the outputs "
                "there; it takes the cross-entropy over all output neurons with the class index as a neuron "
                "index (and fails without a 2-element `weight`). For a population-coded rate loss use "
                "tritonsnn.loss.ce_rate(spk, targets, num_classes=...), or SF.ce_count_loss(population_code=True, "
                "num_classes=...)."
            )

    def _compute_loss(self, spk_out, targets):
        loss = _loss.ce_rate(spk_out, targets, weight=self.weight, reduction=self._intermediate_reduction())
        return (loss if loss.dim() else loss.reshape(1)).to(dtype)


class ce_count_loss(LossFunctions):
    """Cross-entropy on the spike counts (:func:`tritonsnn.loss.ce_count`), optionally population-coded."""

    def __init__(self, population_code=False, num_classes=False, reduction="mean", weight=None):
        super().__init__(reduction=reduction, weight=weight)
        self.population_code = population_code
        self.num_classes = num_classes
        self.__name__ = "ce_count_loss"

    def _compute_loss(self, spk_out, targets):
        k = _population(self.population_code, self.num_classes, spk_out.size(-1), self.__name__)
        loss = _loss.ce_count(
            spk_out, targets, num_classes=k, weight=self.weight, reduction=self._intermediate_reduction()
        )
        return loss if k is None else loss.to(dtype)


class ce_max_membrane_loss(LossFunctions):
    """Cross-entropy on the maximum membrane potential over time (:func:`tritonsnn.loss.ce_max_membrane`)."""

    def __init__(self, reduction="mean", weight=None):
        super().__init__(reduction=reduction, weight=weight)
        self.__name__ = "ce_max_membrane_loss"

    def _compute_loss(self, mem_out, targets):
        return _loss.ce_max_membrane(mem_out, targets, weight=self.weight, reduction=self._intermediate_reduction())


class mse_count_loss(LossFunctions):
    """Squared error of spike counts against ``int(T * rate)`` targets (:func:`tritonsnn.loss.mse_count`).

    Raises:
        NotImplementedError: ``weight`` with a batch of more than one sample.
    """

    def __init__(
        self, correct_rate=1, incorrect_rate=0, population_code=False, num_classes=False, reduction="mean", weight=None
    ):
        super().__init__(reduction=reduction, weight=weight)
        self.correct_rate = correct_rate
        self.incorrect_rate = incorrect_rate
        self.population_code = population_code
        self.num_classes = num_classes
        self.__name__ = "mse_count_loss"

    def _compute_loss(self, spk_out, targets):
        k = _population(self.population_code, self.num_classes, spk_out.size(-1), self.__name__)
        _mse_weight_supported(self.weight, spk_out.size(1), self.__name__, "tritonsnn.loss.mse_count")
        loss = _loss.mse_count(
            spk_out,
            targets,
            correct_rate=self.correct_rate,
            incorrect_rate=self.incorrect_rate,
            num_classes=k,
            weight=self.weight,
            reduction=self._intermediate_reduction(),
        )
        return loss.to(torch.promote_types(loss.dtype, dtype) if k is None else dtype)


class mse_membrane_loss(LossFunctions):
    """Squared error of the membrane at every step against on/off targets (:func:`tritonsnn.loss.mse_membrane`).

    Returns shape ``[1]`` (reduced) or ``[B, C]``, float32, as snnTorch.

    Raises:
        NotImplementedError: ``time_var_targets=True``, or ``weight`` with a
            batch of more than one sample.
    """

    def __init__(self, time_var_targets=False, on_target=1, off_target=0, reduction="mean", weight=None):
        super().__init__(reduction=reduction, weight=weight)
        self.time_var_targets = time_var_targets
        self.on_target = on_target
        self.off_target = off_target
        self.__name__ = "mse_membrane_loss"
        if time_var_targets:
            raise NotImplementedError(
                "mse_membrane_loss(time_var_targets=True) is not reproduced: snnTorch 1.0 then compares step t "
                "of the whole batch with the target row of sample t (and fails when num_steps > batch size). "
                "Use mse_membrane_loss() (the same target at every step) or tritonsnn.loss.mse_membrane."
            )

    def _compute_loss(self, mem_out, targets):
        _mse_weight_supported(self.weight, mem_out.size(1), self.__name__, "tritonsnn.loss.mse_membrane")
        # snnTorch's targets hold max(0, off_target) when on_target > off_target.
        off = max(self.off_target, 0) if self.on_target > self.off_target else self.off_target
        loss = _loss.mse_membrane(
            mem_out,
            targets,
            on_target=self.on_target,
            off_target=off,
            weight=self.weight,
            reduction=self._intermediate_reduction(),
        )
        return (loss if loss.dim() else loss.reshape(1)).to(dtype)


class SpikeTime(torch.nn.Module):
    """First spike times of the output and target spike times, as used by the temporal losses.

    ``SpikeTime(...)(spk_out, targets)`` returns ``(spike_times [B, C],
    target_times [B, C])``: :func:`tritonsnn.loss.spike_times` of the
    (binary) output, and the targets as times, either given
    (``target_is_time=True``) or made from labels by
    :func:`~tritonsnn.snntorch.spikegen.targets_convert` with ``on_target`` /
    ``off_target``; negative times count from the end. Spike times within
    ``tolerance`` steps of their target are replaced by the target. Unlike
    snnTorch, given target times are not modified in place.

    Raises:
        NotImplementedError: ``multi_spike=True`` (see the module notes).
    """

    def __init__(self, target_is_time=False, on_target=0, off_target=-1, tolerance=0, multi_spike=False):
        super().__init__()
        self.target_is_time = target_is_time
        self.tolerance = tolerance
        self.multi_spike = multi_spike
        if not target_is_time:
            self.on_target = on_target
            self.off_target = off_target
        if multi_spike:
            raise NotImplementedError(
                "multi_spike=True is not reproduced: snnTorch 1.0 clears a time step for every neuron once any "
                "neuron's n-th spike was read from it, so a neuron's later spike times depend on the others. "
                "Use tritonsnn.loss.mse_temporal with target times [F, B, C] (or sequences of F on/off target "
                "times), which compares each neuron's own first F spikes."
            )

    def forward(self, spk_out, targets):
        _binary(spk_out, "SpikeTime")
        target = self._target_times(spk_out, targets)
        times = _loss.spike_times(spk_out)
        if self.tolerance:
            times = _loss._within_tolerance(times, target, self.tolerance)
        return times, target

    def _target_times(self, spk_out, targets, from_end=True):
        """Target times; negative ones counted from the end unless ``from_end=False`` (left to the caller)."""
        num_steps, _, num_outputs = spk_out.shape
        if self.target_is_time:
            target = torch.as_tensor(targets, device=spk_out.device)
        else:
            target = spikegen.targets_convert(
                targets, num_classes=num_outputs, on_target=self.on_target, off_target=self.off_target
            ).to(spk_out.device)
        return torch.where(target < 0, target + num_steps, target) if from_end else target


class mse_temporal_loss:
    """Squared error of first spike times against target times, both over ``T``.

    ``target_is_time=False``: ``targets`` are labels turned into times by
    :class:`SpikeTime`; ``True``: spike times ``[B, C]``. Computed by
    :func:`tritonsnn.loss.mse_temporal` on the target times.

    Raises:
        NotImplementedError: ``multi_spike=True``, or ``weight`` with a batch
            of more than one sample or with ``target_is_time=True``.
    """

    def __init__(
        self,
        target_is_time=False,
        on_target=0,
        off_target=-1,
        tolerance=0,
        multi_spike=False,
        reduction="mean",
        weight=None,
    ):
        self.reduction = reduction
        self.weight = weight
        self.spk_time_fn = SpikeTime(target_is_time, on_target, off_target, tolerance, multi_spike)
        self.__name__ = "mse_temporal_loss"
        if weight is not None and target_is_time:
            raise NotImplementedError(
                "mse_temporal_loss(target_is_time=True, weight=...) is not reproduced: snnTorch 1.0 indexes "
                "`weight` with the target spike times. Pass label targets, or weight the loss yourself."
            )

    def __call__(self, spk_rec, targets):
        fn = self.spk_time_fn
        _binary(spk_rec, self.__name__)
        _mse_weight_supported(self.weight, spk_rec.size(1), self.__name__, "tritonsnn.loss.mse_temporal")
        target = fn._target_times(spk_rec, targets, from_end=False)  # tritonsnn.loss counts from the end
        loss = _loss.mse_temporal(
            spk_rec,
            target,
            target_is_time=True,
            tolerance=fn.tolerance,
            reduction="none" if self.weight is not None else self.reduction,
        )
        if self.weight is not None:
            weight = torch.as_tensor(self.weight, device=loss.device)
            loss = loss * weight[targets]
            if self.reduction == "mean":
                loss = loss.mean()
        return loss


class ce_temporal_loss:
    """Cross-entropy on inverted first spike times (:func:`tritonsnn.loss.ce_temporal`).

    ``inverse="negate"`` uses ``-t``, ``"reciprocal"`` uses ``1 / (t + 1)``;
    ``weight`` and ``reduction`` are those of ``torch.nn.CrossEntropyLoss``.
    """

    def __init__(self, inverse="negate", reduction="mean", weight=None):
        self.reduction = reduction
        self.weight = weight
        self.spk_time_fn = SpikeTime(target_is_time=False)
        self.inverse = inverse
        self._ce_temporal_cases()
        self.__name__ = "ce_temporal_loss"

    def __call__(self, spk_rec, targets):
        _binary(spk_rec, self.__name__)
        return _loss.ce_temporal(spk_rec, targets, inverse=self.inverse, weight=self.weight, reduction=self.reduction)

    def _ce_temporal_cases(self):
        if self.inverse not in ("negate", "reciprocal"):
            raise ValueError('ce_temporal_loss: `inverse` must be "negate" or "reciprocal".')
