"""snnTorch's ``utils``: state reset for a network, dataset subsets and validation splits."""

from __future__ import annotations

import numpy as np
from torch import nn

__all__ = ["data_subset", "reset", "valid_split"]


def reset(net: nn.Module) -> nn.Module:
    """Zero the state of every neuron in ``net`` and cut it from the autograd graph.

    Call it before each batch (snnTorch's ``utils.reset``). It walks all of ``net``'s
    modules, nested ones included, and resets the snnTorch-style neurons of
    :mod:`tritonsnn.snntorch` (``init_hidden`` or not; ``RSynaptic``'s spikes too) as
    well as tritonsnn's native neurons and other stateful modules (``tsnn.reset``).
    Unlike snnTorch 1.0, neurons outside ``net`` keep their state.
    """
    for module in net.modules():
        if hasattr(module, "reset_state") and hasattr(module, "detach_state"):
            module.reset_state()
    return net


def data_subset(dataset, subset, idx=0):
    """Keep the ``idx``-th of ``subset`` equal slices of ``dataset.data`` / ``dataset.targets``
    (in place; e.g. ``subset=10`` keeps a tenth of MNIST). Returns the dataset."""
    if subset > 1:
        step = len(dataset.data) // subset
        keep = np.arange(step * idx, step * (idx + 1))
        dataset.data = dataset.data[keep]
        dataset.targets = dataset.targets[keep]
    return dataset


def valid_split(ds_train, ds_val, split, seed=0):
    """Split ``ds_train`` into training and validation samples (a fraction ``split``), keeping
    the ``data`` / ``targets`` attributes: ``ds_val`` receives the validation samples (in index
    order) and ``ds_train`` the rest, drawn with ``numpy.random.default_rng(seed)`` exactly as
    snnTorch draws them. Returns ``(ds_train, ds_val)``."""
    n = len(ds_train)
    n_train = n - int(n * split)
    train_idx = np.random.default_rng(seed=seed).choice(n, size=n_train, replace=False)
    val_idx = np.setdiff1d(np.arange(n), train_idx).tolist()
    ds_val.data = ds_train.data[val_idx]
    ds_val.targets = ds_train.targets[val_idx]
    ds_train.data = ds_train.data[train_idx]
    ds_train.targets = ds_train.targets[train_idx]
    return ds_train, ds_val
