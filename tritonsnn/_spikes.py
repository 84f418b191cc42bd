"""Which tensors are spikes: the registry :func:`tritonsnn.memory.pack_spikes` reads. Every neuron
function marks the spikes it returns (only while packing is on, so it costs nothing otherwise)."""

from __future__ import annotations

import weakref

import torch

# Storages of the spike tensors tritonsnn's neurons returned while packing is on, by address:
# (a weak reference to the tensor, its version counter then). The entry dies with the tensor, so
# an address reused by another tensor is never taken for spikes; a version that moved on (an
# in-place op such as dropout's scaling) means the values may no longer be 0/1.
SPIKES: dict[int, tuple[weakref.ref, int]] = {}
ACTIVE = [0]


def mark_spikes(spikes: torch.Tensor) -> torch.Tensor:
    """Record ``spikes`` (a neuron's output, values 0/1) as packable; a no-op unless
    :func:`pack_spikes` is active. Returns ``spikes``."""
    if ACTIVE[0] and spikes.numel() and not torch.compiler.is_compiling():
        key = spikes.untyped_storage().data_ptr()

        def forget(ref, key=key):
            entry = SPIKES.get(key)
            if entry is not None and entry[0] is ref:
                del SPIKES[key]

        SPIKES[key] = (weakref.ref(spikes, forget), spikes._version)
    return spikes


def is_spikes(t: torch.Tensor) -> bool:
    """True when ``t`` views the storage of marked spikes that no in-place op has changed since."""
    if t.layout != torch.strided or t.numel() == 0 or t.is_sparse:
        return False
    entry = SPIKES.get(t.untyped_storage().data_ptr())
    if entry is None:
        return False
    base = entry[0]()
    return base is not None and t._version == entry[1]
