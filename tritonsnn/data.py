"""Event data as input sequences for the neurons.

Neuromorphic datasets store spikes as events: a time and an address per event (the Spiking
Heidelberg Digits: ``times`` in seconds and ``units`` 0..699; a DVS camera or tonic's
structured arrays: ``t`` in microseconds and ``x``, ``y``, ``p``). :func:`bin_events` counts
them into ``[T, units]`` frames of equal time bins, :func:`collate` batches frames time-major
(``[T, B, ...]``, zero-padded to the longest) for a ``DataLoader``, and :class:`SHD` reads the
Spiking Heidelberg Digits' HDF5 files (``spikes/times``, ``spikes/units``, ``labels``).

With tonic, the same binning applies to its structured event arrays::

    frames = tsnn.data.bin_events(ev["t"], ev["x"], n_units=700, n_bins=100, duration=1.4e6)
    # a camera: units = x + W * (y + H * p), then frames.view(n_bins, P, H, W)
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import torch

__all__ = ["SHD", "bin_events", "collate"]


def bin_events(times, units, n_units: int, n_bins: int, *, duration: float, drop_late: bool = False, dtype=None):
    """Event counts per time bin and unit, ``[n_bins, n_units]``.

    Args:
        times: event times ``[E]`` (any unit, >= 0), array-like.
        units: event addresses ``[E]``, integers in ``[0, n_units)``.
        n_units: number of addresses.
        n_bins: number of equal time bins covering ``[0, duration)``: bin ``floor(t / duration * n_bins)``.
        duration: time covered by the bins, in the unit of ``times``.
        drop_late: drop events at ``t >= duration``; by default they raise (nothing is lost unseen).
        dtype: of the counts (default float32, the neurons' input).

    Raises:
        ValueError: negative times, addresses out of range, events beyond ``duration`` without
            ``drop_late``, or a non-positive ``n_bins``/``n_units``/``duration``.
    """
    if n_bins < 1 or n_units < 1 or not duration > 0:
        raise ValueError(f"n_bins and n_units must be >= 1 and duration > 0; got {n_bins}, {n_units}, {duration}")
    t = torch.as_tensor(np.asarray(times, dtype=np.float64))
    u = torch.as_tensor(np.asarray(units).astype(np.int64, copy=False))
    if t.shape != u.shape or t.dim() != 1:
        raise ValueError(f"times and units must be 1-D and of one length; got {tuple(t.shape)} and {tuple(u.shape)}")
    if t.numel() and float(t.min()) < 0:
        raise ValueError(f"event times must be >= 0; got {float(t.min())}")
    if u.numel() and (int(u.min()) < 0 or int(u.max()) >= n_units):
        raise ValueError(f"event units must be in [0, {n_units}); got {int(u.min())}..{int(u.max())}")
    late = t >= duration
    if bool(late.any()):
        if not drop_late:
            raise ValueError(
                f"{int(late.sum())} events at or after duration={duration} (the last at {float(t.max())}): pass "
                "a longer duration, or drop_late=True to leave them out"
            )
        t, u = t[~late], u[~late]
    bins = torch.floor(t * (n_bins / duration)).long().clamp_(max=n_bins - 1)  # rounding at the top edge
    counts = torch.bincount(bins * n_units + u, minlength=n_bins * n_units)
    return counts.view(n_bins, n_units).to(dtype or torch.float32)


def collate(batch):
    """``DataLoader`` ``collate_fn`` for ``(frames [T_i, ...], label)`` samples: ``(x [T, B, ...], labels [B])``
    with ``T = max T_i`` (shorter samples padded with zeros at the end)."""
    frames, labels = zip(*batch)
    x = torch.nn.utils.rnn.pad_sequence(list(frames))  # time-major [T, B, ...]
    return x, torch.as_tensor(labels)


class SHD(torch.utils.data.Dataset):
    """The Spiking Heidelberg Digits (Cramer et al. 2020): 700 input units, 20 classes of spoken
    digits, one HDF5 file per split (``shd_train.h5``, ``shd_test.h5``; download them from
    https://zenkelab.org/datasets).

    Each item is ``(frames [n_bins, 700], label)``: :func:`bin_events` over ``[0, duration)``
    seconds. Events after ``duration`` are left out (as in the usual SHD pipelines, which cut at
    1.4 s) and counted in :attr:`dropped_events`. Needs ``h5py`` (``pip install tritonsnn[data]``).

    Args:
        path: the ``.h5`` file.
        n_bins: time bins per sample.
        duration: seconds covered by the bins.
        limit: read only the first ``limit`` samples.
    """

    n_units = 700
    n_classes = 20

    def __init__(self, path, n_bins: int = 100, duration: float = 1.4, limit: int | None = None):
        try:
            import h5py  # noqa: PLC0415 - optional dependency
        except ImportError:
            raise ImportError("tsnn.data.SHD reads HDF5 files with h5py: pip install h5py") from None
        path = Path(path)
        if not path.is_file():
            raise FileNotFoundError(f"no SHD file at {path} (expected shd_train.h5 / shd_test.h5)")
        with h5py.File(path, "r") as f:
            n = len(f["labels"]) if limit is None else min(limit, len(f["labels"]))
            self.times = [np.asarray(t) for t in f["spikes"]["times"][:n]]
            self.units = [np.asarray(u) for u in f["spikes"]["units"][:n]]
            self.labels = torch.as_tensor(np.asarray(f["labels"][:n]).astype(np.int64))
        self.n_bins, self.duration = n_bins, duration
        self.dropped_events = sum(int((t >= duration).sum()) for t in self.times)

    def __len__(self):
        return len(self.labels)

    def __getitem__(self, i):
        frames = bin_events(
            self.times[i], self.units[i], self.n_units, self.n_bins, duration=self.duration, drop_late=True
        )
        return frames, self.labels[i]
