"""tritonsnn.snntorch.spikeplot: what it draws, and the same drawing as snntorch.spikeplot where that imports.

snnTorch's spikeplot needs pandas; the comparisons with it are skipped without pandas, the rest always run.
"""

import gc
import sys
import warnings

import numpy as np
import pytest
import torch

matplotlib = pytest.importorskip("matplotlib")
matplotlib.use("Agg")

import matplotlib.pyplot as plt
from matplotlib.animation import ArtistAnimation
from matplotlib.lines import Line2D

from tritonsnn.snntorch import spikeplot as splt

# snnTorch hands torch tensors to imshow, which numpy 2 warns about
pytestmark = pytest.mark.filterwarnings("ignore:__array__ implementation:DeprecationWarning")


@pytest.fixture(autouse=True)
def _close_figures():
    yield
    plt.close("all")
    with warnings.catch_warnings():  # animations built but never shown warn when collected
        warnings.simplefilter("ignore", UserWarning)
        gc.collect()


@pytest.fixture
def ref():
    pytest.importorskip("pandas")
    pytest.importorskip("snntorch")
    return pytest.importorskip("snntorch.spikeplot")


def _spikes(shape, p=0.3, seed=0):
    return torch.bernoulli(torch.full(shape, p), generator=torch.Generator().manual_seed(seed))


def _snntorch_style_call(fn, *args, **kwargs):
    """Run a snnTorch plot without letting its rcParams changes leak into other tests."""
    with matplotlib.rc_context():
        return fn(*args, **kwargs)


def _lines(ax):
    return [(np.asarray(line.get_xdata()).tolist(), np.asarray(line.get_ydata()).tolist()) for line in ax.get_lines()]


def _segments(ax):
    return [np.asarray(c.get_segments()).tolist() for c in ax.collections if hasattr(c, "get_segments")]


# ---------------------------------------------------------------------------- raster


def test_raster_marks_every_spike(tmp_path):
    data = _spikes((20, 7))
    fig, ax = plt.subplots()
    marks = splt.raster(data, ax, s=1.5, c="black")
    assert marks is ax.collections[0]
    assert sorted(map(tuple, marks.get_offsets().tolist())) == sorted(map(tuple, data.nonzero().float().tolist()))
    assert marks.get_sizes().tolist() == [1.5]
    fig.savefig(tmp_path / "raster.png")
    assert (tmp_path / "raster.png").read_bytes()[:4] == b"\x89PNG"


def test_raster_one_dimensional_and_bad_shapes():
    _, ax = plt.subplots()
    data = torch.tensor([0.0, 1.0, 1.0, 0.0, -1.0])
    assert splt.raster(data, ax).get_offsets().tolist() == [[1, 0], [2, 0], [4, 0]]
    with pytest.raises(ValueError, match=r"\[T, N\]"):
        splt.raster(torch.ones(3, 2, 2), ax)
    with pytest.raises(TypeError):
        splt.raster([[1, 0]], ax)


def test_raster_matches_snntorch(ref):
    data = _spikes((15, 6), seed=1)
    _, (ax1, ax2) = plt.subplots(1, 2)
    ours, theirs = splt.raster(data, ax1, s=2, c="red"), ref.raster(data, ax2, s=2, c="red")
    assert ours.get_offsets().tolist() == theirs.get_offsets().tolist()
    assert ours.get_facecolors().tolist() == theirs.get_facecolors().tolist()
    one = torch.tensor([1.0, 0.0, 1.0])
    assert splt.raster(one, ax1).get_offsets().tolist() == ref.raster(one, ax2).get_offsets().tolist()


# ------------------------------------------------------------------------ spike_count


def test_spike_count_draws_a_lollipop_per_label():
    data = _spikes((25, 4), p=0.4, seed=2)
    fig, ax = plt.subplots()
    labels = ["a", "b", "c", "d"]
    assert splt.spike_count(data, fig, ax, labels, num_steps=25) is None
    counts = data.sum(0).tolist()
    dots = ax.get_lines()[0]
    assert dots.get_xdata().tolist() == counts and dots.get_ydata().tolist() == [1, 2, 3, 4]
    bars = np.asarray(ax.collections[0].get_segments())
    assert bars[:, 1, 0].tolist() == counts and bars[:, 0, 0].tolist() == [0, 0, 0, 0]
    assert [t.get_text() for t in ax.get_yticklabels()] == labels
    assert ax.get_xlim() == (0, 25)
    assert len(ax.patches) > 0  # grid shading
    assert matplotlib.rcParams["axes.edgecolor"] != "#333F4B"  # global style untouched


def test_spike_count_time_step_and_errors():
    data = _spikes((10, 3), seed=3)
    fig, ax = plt.subplots()
    splt.spike_count(data, fig, ax, ["x", "y", "z"], time_step=1e-3, gridshader=False)
    assert ax.get_xlabel() == "Time [s]"
    assert len(ax.patches) == 0
    with pytest.raises(ValueError, match="label"):
        splt.spike_count(data, fig, ax, ["x", "y"])
    with pytest.raises(ValueError, match=r"\[T, C\]"):
        splt.spike_count(data[None], fig, ax, ["x", "y", "z"])


def test_spike_count_animation_frames():
    data = _spikes((6, 3), p=0.5, seed=4)
    fig, ax = plt.subplots()
    anim = splt.spike_count(data, fig, ax, ["0", "1", "2"], animate=True, interpolate=2, num_steps=6)
    assert isinstance(anim, ArtistAnimation)
    frames = anim._framedata
    assert len(frames) == 12
    # frame i shows the counts of data[:i // 2] and a time bar at i / 2
    lines = [a for a in frames[7] if isinstance(a, Line2D)]
    dots = [a for a in lines if a.get_marker() == "o"]
    assert dots[0].get_xdata().tolist() == data[:3].sum(0).tolist()
    bar = [a for a in lines if a.get_color() == "tab:orange"]
    assert list(bar[0].get_xdata()) == [3.5, 3.5]


def test_spike_count_matches_snntorch(ref):
    data = _spikes((20, 5), p=0.35, seed=5)
    labels = list("abcde")
    fig1, ax1 = plt.subplots()
    splt.spike_count(data, fig1, ax1, labels, num_steps=20)
    fig2, ax2 = plt.subplots()  # snnTorch draws on the current axes
    _snntorch_style_call(ref.spike_count, data, fig2, ax2, labels, num_steps=20)
    assert _lines(ax1) == _lines(ax2)
    assert _segments(ax1) == _segments(ax2)
    assert [t.get_text() for t in ax1.get_yticklabels()] == [t.get_text() for t in ax2.get_yticklabels()]
    assert ax1.get_xlim() == ax2.get_xlim() and ax1.get_xlabel() == ax2.get_xlabel()
    spans = [np.asarray(p.get_xy()).tolist() for p in ax1.patches]
    assert spans == [np.asarray(p.get_xy()).tolist() for p in ax2.patches]


def test_spike_count_animation_matches_snntorch(ref):
    data = _spikes((5, 3), p=0.5, seed=6)
    fig1, ax1 = plt.subplots()
    ours = splt.spike_count(data, fig1, ax1, ["0", "1", "2"], animate=True, interpolate=2, num_steps=5)
    fig2, ax2 = plt.subplots()
    theirs = _snntorch_style_call(
        ref.spike_count, data, fig2, ax2, ["0", "1", "2"], animate=True, interpolate=2, num_steps=5
    )
    assert len(ours._framedata) == len(theirs._framedata)
    for a, b in zip(ours._framedata, theirs._framedata):
        assert [type(x).__name__ for x in a] == [type(x).__name__ for x in b]
    assert _lines(ax1) == _lines(ax2)


# ----------------------------------------------------------------------------- traces


def test_traces_one_panel_per_neuron_with_spikes_riding():
    mem = torch.randn(30, 6)
    spk = (mem > 1).float()
    splt.traces(mem, spk=spk, dim=(2, 3), spk_height=4, titles=["n0", "n1"])
    axes = plt.gcf().axes
    assert len(axes) == 6
    for i, ax in enumerate(axes):
        assert ax.get_lines()[0].get_ydata().tolist() == (mem[:, i] + 4 * spk[:, i]).tolist()
        assert not ax.axison
    assert [ax.get_title() for ax in axes[:3]] == ["n0", "n1", ""]
    with pytest.raises(ValueError, match="N >= 9"):
        splt.traces(torch.randn(10, 4))


def test_traces_matches_snntorch(ref):
    mem = torch.randn(25, 9, generator=torch.Generator().manual_seed(7))
    spk = (mem > 1).float()
    fig1 = plt.figure()
    splt.traces(mem, spk=spk, titles=["a", "b"])
    fig2 = plt.figure()
    ref.traces(mem, spk=spk, titles=["a", "b"])
    assert [_lines(ax) for ax in fig1.axes] == [_lines(ax) for ax in fig2.axes]
    assert [ax.get_title() for ax in fig1.axes] == [ax.get_title() for ax in fig2.axes]


# --------------------------------------------------------------------------- animator


def test_animator_one_image_per_step(tmp_path):
    data = torch.rand(8, 5, 5)
    fig, ax = plt.subplots()
    anim = splt.animator(data, fig, ax, num_steps=6, interval=30)
    assert isinstance(anim, ArtistAnimation)
    frames = anim._framedata
    assert len(frames) == 6
    assert np.array_equal(frames[3][0].get_array(), data[3].numpy())
    assert frames[0][0].get_clim() == (data.min().item(), data.max().item())
    anim.save(tmp_path / "anim.gif", writer="pillow")
    assert (tmp_path / "anim.gif").read_bytes()[:3] == b"GIF"
    with pytest.raises(ValueError, match="belong"):
        splt.animator(data, plt.figure(), ax)


def test_animator_matches_snntorch(ref):
    data = torch.rand(4, 3, 3)
    fig1, ax1 = plt.subplots()
    fig2, ax2 = plt.subplots()
    ours, theirs = splt.animator(data, fig1, ax1), ref.animator(data, fig2, ax2)
    assert len(ours._framedata) == len(theirs._framedata) == 4
    for a, b in zip(ours._framedata, theirs._framedata):
        assert np.array_equal(a[0].get_array(), b[0].get_array())
        assert a[0].get_clim() == b[0].get_clim()


def test_missing_matplotlib_names_the_extra(monkeypatch):
    monkeypatch.setitem(sys.modules, "matplotlib.pyplot", None)
    with pytest.raises(ImportError, match=r"pip install tritonsnn\[plot\]"):
        splt.traces(torch.randn(5, 9))
