"""snnTorch-compatible plots: ``import tritonsnn.snntorch.spikeplot as splt``.

``raster``, ``spike_count``, ``traces`` and ``animator`` take snnTorch 1.0's
arguments and draw what it draws (same marks, lines, labels and frames),
reusing :mod:`tritonsnn.plot` where the layouts agree. matplotlib is needed
(``pip install tritonsnn[plot]``) and imported only when a function is
called; pandas and celluloid, which snnTorch's version needs, are not.

Differences from snnTorch 1.0, which draws some elements through pyplot's
*current* axes and sets global style:

* ``spike_count`` and ``animator`` draw on the ``ax`` they are given even
  when it is not the current axes, and ``spike_count`` styles that axes (and
  ``fig``'s background) instead of changing ``matplotlib.rcParams``;
* ``raster`` of a tensor with more than two dimensions raises a
  ``ValueError`` (snnTorch would pass the third coordinate as marker sizes).
"""

from __future__ import annotations

import math

import torch

from .. import plot as _plot

__all__ = ["Camera", "animator", "raster", "spike_count", "traces"]

_INK = "#333F4B"
_BAR = "#007ACC"


def animator(data, fig, ax, num_steps=False, interval=40, cmap="plasma"):
    """Animation of ``data`` ``[num_steps, H, W]`` over its first dimension (:func:`tritonsnn.plot.animate`).

    Returns:
        ``matplotlib.animation.ArtistAnimation``.
    """
    if fig is not None and ax is not None and ax.figure is not fig:
        raise ValueError("spikeplot.animator: `ax` must belong to `fig`.")
    return _plot.animate(data, ax, interval=interval, cmap=cmap, num_steps=num_steps or None)


def raster(data, ax, **kwargs):
    """Raster plot: ``ax.scatter`` of (time step, neuron) of each non-zero entry of ``data`` ``[T, N]`` or ``[T]``.

    ``kwargs`` go to ``Axes.scatter`` (e.g. ``s=1.5, c="black"``).

    Returns:
        The ``PathCollection`` from ``Axes.scatter``.
    """
    if not isinstance(data, torch.Tensor):
        raise TypeError(f"spikeplot.raster: `data` must be a torch.Tensor, got {type(data).__name__}.")
    if data.dim() > 2:
        raise ValueError(
            f"spikeplot.raster: `data` must be [T, N] or [T], got {tuple(data.shape)}; flatten one sample, e.g. "
            "`data[:, 0].reshape(data.shape[0], -1)`, or use tritonsnn.plot.raster(data, sample=...)."
        )
    if data.dim() == 1:
        data = data.unsqueeze(1)
    steps, neurons = torch.where(data.detach().cpu())
    return ax.scatter(steps.numpy(), neurons.numpy(), **kwargs)


def traces(data, spk=None, dim=(3, 3), spk_height=5, titles=None):
    """Grid of ``dim`` panels on the current figure, panel ``i`` the trace ``data[:, i]``
    (:func:`tritonsnn.plot.traces`).

    With ``spk``, ``spk_height * spk`` is added so spikes ride on the traces.
    Panels share the first panel's y axis and hide their axes; ``titles``
    label the first panels.
    """
    plt = _plot._pyplot()
    from matplotlib.gridspec import GridSpec

    panels = math.prod(dim)
    if data.dim() != 2 or data.shape[1] < panels:
        raise ValueError(
            f"spikeplot.traces: `data` must be [T, N] with N >= {panels} (dim={tuple(dim)}), got {tuple(data.shape)}."
        )
    values = (data + spk_height * spk) if spk is not None else data
    grid = GridSpec(*dim)
    first = None
    for i in range(panels):
        ax = plt.subplot(grid[i]) if first is None else plt.subplot(grid[i], sharey=first)
        if first is None:
            first = ax
        if titles is not None and i < len(titles):
            ax.set_title(titles[i])
        _plot.traces(values, ax, neurons=[i])
        ax.axis("off")


class Camera:
    """Collects the artists added to a figure between snapshots, to build an ``ArtistAnimation``.

    ``snap()`` records every artist added to any axes of the figure since
    the previous snapshot as one frame; ``animate(**kwargs)`` returns the
    ``matplotlib.animation.ArtistAnimation`` of the frames.
    """

    _KINDS = ("collections", "patches", "lines", "texts", "artists", "images")

    def __init__(self, figure):
        self._figure = figure
        self._seen = {}
        self._photos = []

    def snap(self):
        frame = []
        for i, axis in enumerate(self._figure.axes):
            if axis.legend_ is not None:
                axis.add_artist(axis.legend_)
            for kind in self._KINDS:
                artists = list(getattr(axis, kind))
                seen = self._seen.get((i, kind), 0)
                frame += artists[seen:]
                self._seen[(i, kind)] = len(artists)
        self._photos.append(frame)
        return frame

    def animate(self, *args, **kwargs):
        from matplotlib.animation import ArtistAnimation

        return ArtistAnimation(self._figure, self._photos, *args, **kwargs)


class _GridShader:
    """Shades every other interval between the x ticks of ``ax``, redrawn when the x limits change."""

    def __init__(self, ax, first=True, **kwargs):
        self.spans = []
        self.sf = first
        self.ax = ax
        self.kw = kwargs
        self.ax.autoscale(False, axis="x")
        self.cid = self.ax.callbacks.connect("xlim_changed", self.shade)
        self.shade()

    def clear(self):
        for span in self.spans:
            try:
                span.remove()
            except (ValueError, NotImplementedError, AttributeError):
                pass  # already removed, e.g. with its axes
        self.spans = []

    def shade(self, evt=None):
        import numpy as np

        self.clear()
        low, high = self.ax.get_xlim()
        ticks = self.ax.get_xticks()
        edges = np.concatenate(([low], ticks[(ticks > low) & (ticks < high)], [high]))
        skip = 0 if self.sf else 1
        for start, end in zip(edges[skip::2], edges[skip + 1 :: 2]):
            self.spans.append(self.ax.axvspan(start, end, zorder=0, **self.kw))


def _style(ax, fig):
    """The look snnTorch's spike_count gives through rcParams, applied to ``ax`` and ``fig`` only."""
    for spine in ax.spines.values():
        spine.set_edgecolor(_INK)
        spine.set_linewidth(0.8)
    ax.tick_params(axis="both", colors=_INK)
    if fig is not None:
        fig.set_facecolor("white")


def _count_frame(data, labels, ax, idx, time_step):
    """One frame of spike_count: a horizontal lollipop per label, the spike count of ``data[:idx]``."""
    counts = data[:idx].sum(dim=0).detach().cpu().numpy()
    rows = list(range(1, len(labels) + 1))
    ax.hlines(y=rows, xmin=0, xmax=counts, color=_BAR, alpha=0.5, linewidth=8)
    ax.plot(counts, rows, "o", markersize=8, color=_BAR, alpha=0.6)
    ax.set_xlabel("Time Step", fontsize=15, fontweight="black", color=_INK)
    ax.set_ylabel("Labels", fontsize=15, fontweight="black", color=_INK)
    ax.tick_params(axis="both", which="major", labelsize=12)
    ax.set_yticks(rows, labels)
    for label in ax.get_yticklabels():
        label.set_color(_INK)
    ax.spines["top"].set_color("none")
    ax.spines["right"].set_color("none")
    ax.spines["bottom"].set_position(("axes", -0.04))
    ax.spines["left"].set_position(("axes", 0.0))
    if time_step:
        ax.set_xlabel("Time [s]", fontsize=15, fontweight="black", color=_INK)
        locs = ax.get_xticks()
        ax.set_xticks(locs, [float(loc) * time_step for loc in locs])


def spike_count(
    data, fig, ax, labels, num_steps=False, animate=False, interpolate=1, gridshader=True, interval=25, time_step=False
):
    """Horizontal lollipop chart of the spike count of each output ``data`` ``[T, C]``, optionally animated.

    Each of the ``C`` rows (named by ``labels``) is a line from 0 to the
    neuron's spike count with a dot at its end; the x axis spans
    ``num_steps`` (default ``T``), in seconds with ``time_step``. With
    ``animate=True`` the counts grow step by step behind an orange time bar
    (``interpolate`` frames per step).

    Returns:
        ``None``, or the ``ArtistAnimation`` with ``animate=True``.
    """
    _plot._pyplot()
    if not isinstance(data, torch.Tensor) or data.dim() != 2:
        shape = tuple(data.shape) if isinstance(data, torch.Tensor) else type(data).__name__
        raise ValueError(f"spikeplot.spike_count: `data` must be [T, C] (one sample), got {shape}.")
    if len(labels) != data.shape[1]:
        raise ValueError(
            f"spikeplot.spike_count: {len(labels)} labels for {data.shape[1]} outputs; give one label per output."
        )
    xrange = num_steps or data.size(0)
    _style(ax, fig)
    ax.set_xlim([0, xrange])
    if not animate:
        _count_frame(data, labels, ax, xrange, time_step)
        if gridshader:
            _GridShader(ax, facecolor="lightgrey", first=False, alpha=0.7)
        return None
    camera = Camera(fig if fig is not None else ax.figure)
    for i in range(xrange * interpolate):
        _count_frame(data, labels, ax, math.floor(i / interpolate), time_step)
        if gridshader:
            _GridShader(ax, facecolor="lightgrey", first=False, alpha=0.7)
        ax.axvline(x=i / interpolate, color="tab:orange", linewidth=3)
        camera.snap()
    return camera.animate(interval=interval)
