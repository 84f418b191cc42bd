"""Reading class labels out of unlabelled spiking layers (Diehl & Cook 2015; Inferno's max-rate
classifier): each neuron is assigned the class it fires most for, and a sample is predicted
as the class whose neurons fire most."""

from __future__ import annotations

import torch
from torch import nn

__all__ = ["MaxRateClassifier"]


class MaxRateClassifier(nn.Module):
    """Assign each of ``n_neurons`` the class it fires most for; predict by those assignments.

    :meth:`update` adds a labelled batch's firing rates per class and neuron (a running mean
    over every sample of the class seen, or with ``decay`` an exponential average of the batch
    means, for a network whose weights still learn). :meth:`forward` predicts, per sample, the
    class whose assigned neurons have the largest mean rate (a class without neurons scores 0;
    ties go to the lower class index). The rates and assignments are buffers (``state_dict``).

    Args:
        n_neurons: neurons of the layer read out (its last axis).
        n_classes: classes.
        decay: None for the running mean, or a decay in [0, 1) per :meth:`update` call.
    """

    def __init__(self, n_neurons: int, n_classes: int, *, decay: float | None = None):
        super().__init__()
        if n_neurons < 1 or n_classes < 1:
            raise ValueError(f"n_neurons and n_classes must be >= 1; got {n_neurons}, {n_classes}")
        if decay is not None and not 0.0 <= decay < 1.0:
            raise ValueError(f"decay must be None or in [0, 1); got {decay}")
        self.n_classes, self.decay = n_classes, decay
        self.register_buffer("rates", torch.zeros(n_classes, n_neurons))  # mean rate per class and neuron
        self.register_buffer("counts", torch.zeros(n_classes))  # samples seen per class

    @property
    def assignments(self) -> torch.Tensor:
        """The class of each neuron ``[n_neurons]`` (the one with the highest rate; -1 before any update)."""
        seen = self.counts > 0
        if not bool(seen.any()):
            return torch.full(self.rates.shape[1:], -1, dtype=torch.long, device=self.rates.device)
        return self.rates.masked_fill(~seen[:, None], -1.0).argmax(0)

    def _rates(self, spikes):
        if spikes.dim() != 3 or spikes.shape[2] != self.rates.shape[1]:
            raise ValueError(
                f"spikes must be [T, B, {self.rates.shape[1]}] (time, batch, neurons); got {tuple(spikes.shape)}"
            )
        return spikes.float().mean(0)  # [B, N]

    @torch.no_grad()
    def update(self, spikes: torch.Tensor, labels: torch.Tensor) -> None:
        """Add a batch: ``spikes [T, B, n_neurons]`` and its class ``labels [B]``."""
        rates = self._rates(spikes)
        labels = torch.as_tensor(labels, device=rates.device).long()
        if labels.shape != rates.shape[:1] or (labels.numel() and (labels.min() < 0 or labels.max() >= self.n_classes)):
            raise ValueError(f"labels must be [B] = [{rates.shape[0]}] class indices in [0, {self.n_classes})")
        one_hot = torch.nn.functional.one_hot(labels, self.n_classes).float()  # [B, C]
        batch_counts = one_hot.sum(0)
        batch_sums = one_hot.T @ rates  # [C, N]
        present = batch_counts > 0
        if self.decay is None:
            total = self.counts + batch_counts
            mean = (self.rates * self.counts[:, None] + batch_sums) / total.clamp(min=1)[:, None]
            self.rates.copy_(torch.where(present[:, None], mean, self.rates))
        else:
            batch_mean = batch_sums / batch_counts.clamp(min=1)[:, None]
            first = present & (self.counts == 0)
            smoothed = self.decay * self.rates + (1.0 - self.decay) * batch_mean
            self.rates.copy_(
                torch.where(first[:, None], batch_mean, torch.where(present[:, None], smoothed, self.rates))
            )
        self.counts += batch_counts

    @torch.no_grad()
    def forward(self, spikes: torch.Tensor) -> torch.Tensor:
        """Predicted classes ``[B]`` of ``spikes [T, B, n_neurons]``."""
        rates = self._rates(spikes)
        members = torch.nn.functional.one_hot(self.assignments.clamp(min=0), self.n_classes).float()
        members = members * (self.assignments >= 0).float()[:, None]  # [N, C]
        scores = (rates @ members) / members.sum(0).clamp(min=1)  # mean rate of each class's neurons
        return scores.argmax(1)
