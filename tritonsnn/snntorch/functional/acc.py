"""snnTorch-compatible accuracy metrics (``snntorch.functional.acc``), adapters over :mod:`tritonsnn.loss`.

Both return a ``numpy.float64``, as snnTorch does, so ``acc.item()`` and
``float(acc)`` work.
"""

from __future__ import annotations

import numpy as np
import torch

from ... import loss as _loss
from .loss import _binary, _population

__all__ = ["accuracy_rate", "accuracy_temporal"]


def _labels(targets):
    """Class indices; integral float labels (which snnTorch compares as they are) become int64."""
    if isinstance(targets, torch.Tensor) and targets.is_floating_point():
        if not bool((targets == targets.round()).all()):
            raise ValueError("accuracy: `targets` must be class indices; got non-integral values.")
        return targets.long()
    return targets


def accuracy_rate(spk_out, targets, population_code=False, num_classes=False):
    """Fraction of samples whose most-active output neuron (or group) is the target.

    :func:`tritonsnn.loss.accuracy_rate`; ties go to the lowest index.

    Returns:
        ``numpy.float64`` in ``[0, 1]``.
    """
    k = _population(population_code, num_classes, spk_out.size(-1), "accuracy_rate")
    return np.float64(_loss.accuracy_rate(spk_out, _labels(targets), num_classes=k))


def accuracy_temporal(spk_out, targets):
    """Fraction of samples whose first-firing output neuron is the target (binary spikes).

    :func:`tritonsnn.loss.accuracy_temporal`; a silent neuron counts as firing
    at the last step, ties go to the lowest index.

    Returns:
        ``numpy.float64`` in ``[0, 1]``.
    """
    _binary(spk_out, "accuracy_temporal")
    return np.float64(_loss.accuracy_temporal(spk_out, _labels(targets)))
