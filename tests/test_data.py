"""tsnn.data: event binning (against a per-event loop), time-major batches, the SHD reader and
the SHD example on a synthetic file in SHD's HDF5 layout."""

import importlib.util
from pathlib import Path

import numpy as np
import pytest
import torch

import tritonsnn as tsnn

EXAMPLES = Path(__file__).resolve().parent.parent / "examples"


def test_bin_events_counts_every_event_in_its_bin():
    rng = np.random.default_rng(0)
    times, units = rng.uniform(0, 1.4, 500), rng.integers(0, 7, 500)
    times[:3] = [0.0, 0.7, 1.4 - 1e-12]  # the edges: first bin, a bin boundary, the top edge
    frames = tsnn.data.bin_events(times, units, 7, 10, duration=1.4)
    want = torch.zeros(10, 7)
    for t, u in zip(times, units):
        want[min(int(t / 1.4 * 10), 9), u] += 1
    assert frames.dtype == torch.float32 and torch.equal(frames, want)
    assert frames.sum() == 500


def test_bin_events_refuses_what_it_would_lose_or_misplace():
    with pytest.raises(ValueError, match="2 events at or after duration=1.0.*drop_late=True"):
        tsnn.data.bin_events([0.5, 1.0, 2.0], [0, 1, 2], 3, 4, duration=1.0)
    kept = tsnn.data.bin_events([0.5, 1.0, 2.0], [0, 1, 2], 3, 4, duration=1.0, drop_late=True)
    assert kept.sum() == 1 and kept[2, 0] == 1
    with pytest.raises(ValueError, match=r"units must be in \[0, 3\)"):
        tsnn.data.bin_events([0.1], [3], 3, 4, duration=1.0)
    with pytest.raises(ValueError, match="times must be >= 0"):
        tsnn.data.bin_events([-0.1], [0], 3, 4, duration=1.0)
    with pytest.raises(ValueError, match="one length"):
        tsnn.data.bin_events([0.1, 0.2], [0], 3, 4, duration=1.0)
    assert tsnn.data.bin_events([], [], 3, 4, duration=1.0).shape == (4, 3)  # no events: zeros


def test_collate_pads_to_the_longest_sample_time_major():
    batch = [(torch.ones(3, 2), 1), (torch.ones(5, 2) * 2, 0)]
    x, y = tsnn.data.collate(batch)
    assert x.shape == (5, 2, 2) and y.tolist() == [1, 0]
    assert torch.equal(x[:3, 0], torch.ones(3, 2)) and torch.equal(x[3:, 0], torch.zeros(2, 2))
    assert torch.equal(x[:, 1], torch.full((5, 2), 2.0))


@pytest.fixture(scope="module")
def shd():
    pytest.importorskip("h5py")
    spec = importlib.util.spec_from_file_location("shd_example", EXAMPLES / "shd.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


@pytest.fixture(scope="module")
def shd_dir(shd, tmp_path_factory):
    directory = tmp_path_factory.mktemp("shd")
    shd.write_synthetic(directory, n_train=240, n_test=60)
    return directory


def test_shd_reader_bins_the_files_events(shd_dir):
    import h5py  # noqa: PLC0415

    data = tsnn.data.SHD(shd_dir / "shd_train.h5", n_bins=20, limit=30)
    assert len(data) == 30
    frames, label = data[3]
    with h5py.File(shd_dir / "shd_train.h5") as f:
        times, units, want_label = f["spikes/times"][3], f["spikes/units"][3], int(f["labels"][3])
    assert frames.shape == (20, 700) and int(label) == want_label
    assert torch.equal(frames, tsnn.data.bin_events(times, units, 700, 20, duration=1.4, drop_late=True))
    with pytest.raises(FileNotFoundError, match="no SHD file"):
        tsnn.data.SHD(shd_dir / "missing.h5")


def test_shd_example_learns_the_synthetic_task(shd, shd_dir, capsys):
    accuracy = shd.main(["--data", str(shd_dir), "--epochs", "10", "--bins", "40", "--hidden", "64", "--lr", "5e-3"])
    out = capsys.readouterr().out
    assert "test accuracy" in out
    assert accuracy >= 0.5  # 20 classes: chance is 0.05
