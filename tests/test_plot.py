"""Plot helpers: files are written, drawn marks match the data, bad input, missing matplotlib."""

import sys

import pytest
import torch

from tritonsnn import plot


@pytest.fixture
def plt():
    matplotlib = pytest.importorskip("matplotlib")
    matplotlib.use("Agg")
    from matplotlib import pyplot

    yield pyplot
    pyplot.close("all")


def _spikes(shape, p=0.3, seed=0):
    return torch.bernoulli(torch.full(shape, p), generator=torch.Generator().manual_seed(seed))


def _assert_png(path):
    assert path.exists() and path.stat().st_size > 0
    assert path.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


def test_raster_single_sample_marks_every_spike(plt, tmp_path):
    spikes = _spikes((20, 7))
    ax = plot.raster(spikes)
    offsets = ax.collections[0].get_offsets()
    assert len(offsets) == int(spikes.count_nonzero())
    assert sorted(map(tuple, offsets.tolist())) == sorted(map(tuple, spikes.nonzero().float().tolist()))
    path = plot.save(ax, tmp_path / "raster.png")
    _assert_png(path)


def test_raster_batched_picks_sample_and_flattens_features(plt):
    spikes = _spikes((10, 3, 2, 4))
    ax = plot.raster(spikes, sample=2)
    assert len(ax.collections[0].get_offsets()) == int(spikes[:, 2].count_nonzero())
    assert ax.get_ylim() == (-0.5, 7.5)  # 2 * 4 neurons


def test_raster_counts_off_spikes(plt):
    spikes = torch.tensor([[1.0, 0.0], [0.0, -1.0], [-1.0, 1.0]])
    ax = plot.raster(spikes)
    assert len(ax.collections[0].get_offsets()) == 4


def test_traces_draws_selected_neurons_and_threshold(plt, tmp_path):
    mem = torch.randn(15, 2, 5)
    fig, ax = plt.subplots()
    returned = plot.traces(mem, ax, neurons=[0, 3], sample=1, threshold=1.0)
    assert returned is ax
    lines = ax.get_lines()
    assert len(lines) == 3  # two neurons + threshold
    assert lines[1].get_ydata().tolist() == mem[:, 1, 3].tolist()
    assert list(lines[2].get_ydata()) == [1.0, 1.0]
    assert [t.get_text() for t in ax.get_legend().get_texts()] == ["neuron 0", "neuron 3", "threshold"]
    _assert_png(plot.save(fig, tmp_path / "traces.png"))
    assert plot.traces(mem, plt.subplots()[1], legend=False).get_legend() is None


def test_traces_all_neurons_by_default(plt):
    assert len(plot.traces(torch.randn(8, 4)).get_lines()) == 4


def test_spike_counts_bar_heights(plt, tmp_path):
    spikes = _spikes((30, 2, 6))
    ax = plot.spike_counts(spikes, sample=1)
    heights = [bar.get_height() for bar in ax.patches]
    assert heights == spikes[:, 1].sum(0).tolist()
    _assert_png(plot.save(ax, str(tmp_path / "counts.png"), dpi=50))


def test_rejects_tensor_without_time_and_neuron_dims(plt):
    with pytest.raises(ValueError, match=r"\[T, N\]"):
        plot.raster(torch.ones(5))


def test_rejects_sample_out_of_range(plt):
    with pytest.raises(IndexError, match="sample"):
        plot.spike_counts(torch.ones(4, 2, 3), sample=2)


def test_missing_matplotlib_names_the_extra(monkeypatch):
    # A None entry in sys.modules makes `import matplotlib.pyplot` raise ImportError.
    monkeypatch.setitem(sys.modules, "matplotlib.pyplot", None)
    with pytest.raises(ImportError, match=r"pip install tritonsnn\[plot\]"):
        plot.raster(torch.ones(3, 2))


def test_animate_one_frame_per_step_with_shared_colour_scale(plt, tmp_path):
    from matplotlib.animation import ArtistAnimation

    frames = torch.rand(5, 4, 3)
    anim = plot.animate(frames, num_steps=4, interval=20, cmap="gray")
    assert isinstance(anim, ArtistAnimation)
    images = [frame[0] for frame in anim._framedata]
    assert len(images) == 4
    assert all(im.get_clim() == (frames.min().item(), frames.max().item()) for im in images)
    assert (images[2].get_array() == frames[2].numpy()).all()
    assert not images[0].axes.axison
    anim.save(tmp_path / "frames.gif", writer="pillow")
    assert (tmp_path / "frames.gif").read_bytes()[:3] == b"GIF"


def test_animate_rejects_bad_frames(plt):
    with pytest.raises(ValueError, match=r"\[T, H, W\]"):
        plot.animate(torch.rand(5, 4))
    with pytest.raises(ValueError, match="num_steps"):
        plot.animate(torch.rand(5, 4, 4), num_steps=6)
