"""Quick-look plots of spike trains and membrane traces (needs matplotlib).

matplotlib is an optional dependency (``pip install tritonsnn[plot]``); it is
imported only when a function here is called, so ``import tritonsnn.plot``
always works. Inputs are time-first: ``[T, N]`` for one sample, or
``[T, B, ...]`` for a batch, from which ``sample`` picks one sample and whose
feature dimensions are flattened into neurons. Every plotting function draws
on ``ax`` (a new figure when ``None``) and returns the Axes, except
:func:`animate`, which returns the animation.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import Any

import torch

__all__ = ["animate", "raster", "save", "spike_counts", "traces"]


def _pyplot():
    try:
        import matplotlib.pyplot as plt
    except ImportError as err:
        raise ImportError("tritonsnn.plot needs matplotlib; install it with `pip install tritonsnn[plot]`.") from err
    return plt


def _axes(ax):
    if ax is None:
        _, ax = _pyplot().subplots()
    return ax


def _one_sample(x: torch.Tensor, sample: int, fn: str) -> torch.Tensor:
    """``[T, N]`` float CPU view of one sample of a ``[T, N]`` or ``[T, B, ...]`` tensor."""
    if not isinstance(x, torch.Tensor) or x.dim() < 2:
        shape = tuple(x.shape) if isinstance(x, torch.Tensor) else type(x).__name__
        raise ValueError(f"{fn}: expected a time-first tensor [T, N] or [T, B, ...], got {shape}.")
    if x.dim() > 2:
        if not -x.shape[1] <= sample < x.shape[1]:
            raise IndexError(f"{fn}: `sample` {sample} is out of range for batch size {x.shape[1]}.")
        x = x[:, sample].reshape(x.shape[0], -1)
    return x.detach().float().cpu()


def raster(
    spikes: torch.Tensor,
    ax=None,
    *,
    sample: int = 0,
    marker: str = "|",
    s: float = 20.0,
    color: str = "black",
    **scatter_kwargs: Any,
):
    """Raster plot: one mark per spike at (time step, neuron).

    Every non-zero entry counts as a spike, so ``-1`` off-spikes from
    :func:`tritonsnn.encode.delta` are drawn too.

    Args:
        spikes: ``[T, N]`` or ``[T, B, ...]`` spike tensor.
        ax: Axes to draw on; a new figure is made when ``None``.
        sample: Batch index to draw for batched input.
        marker: Marker style passed to ``Axes.scatter``.
        s: Marker size.
        color: Marker colour.
        **scatter_kwargs: Further ``Axes.scatter`` arguments.

    Returns:
        The matplotlib Axes.
    """
    x = _one_sample(spikes, sample, "raster")
    ax = _axes(ax)
    t, n = torch.nonzero(x, as_tuple=True)
    ax.scatter(t.numpy(), n.numpy(), marker=marker, s=s, c=color, **scatter_kwargs)
    ax.set_xlim(-0.5, x.shape[0] - 0.5)
    ax.set_ylim(-0.5, x.shape[1] - 0.5)
    ax.set_xlabel("time step")
    ax.set_ylabel("neuron")
    return ax


def traces(
    mem: torch.Tensor,
    ax=None,
    *,
    neurons: Sequence[int] | None = None,
    sample: int = 0,
    threshold: float | None = None,
    legend: bool = True,
):
    """Line plot of membrane potential over time, one line per neuron.

    Args:
        mem: ``[T, N]`` or ``[T, B, ...]`` membrane tensor.
        ax: Axes to draw on; a new figure is made when ``None``.
        neurons: Neuron indices to draw (after flattening); all when ``None``.
        sample: Batch index to draw for batched input.
        threshold: If given, drawn as a dashed horizontal line.
        legend: Label each line (``neuron n``, ``threshold``) in a legend.

    Returns:
        The matplotlib Axes.
    """
    x = _one_sample(mem, sample, "traces")
    ax = _axes(ax)
    for n in range(x.shape[1]) if neurons is None else neurons:
        ax.plot(x[:, n].numpy(), label=f"neuron {n}")
    if threshold is not None:
        ax.axhline(threshold, linestyle="--", color="gray", label="threshold")
    ax.set_xlabel("time step")
    ax.set_ylabel("membrane potential")
    if legend:
        ax.legend(fontsize="small")
    return ax


def spike_counts(spikes: torch.Tensor, ax=None, *, sample: int = 0):
    """Bar chart of the number of spikes of each neuron over time.

    Args:
        spikes: ``[T, N]`` or ``[T, B, ...]`` spike tensor.
        ax: Axes to draw on; a new figure is made when ``None``.
        sample: Batch index to draw for batched input.

    Returns:
        The matplotlib Axes.
    """
    counts = _one_sample(spikes, sample, "spike_counts").sum(0)
    ax = _axes(ax)
    ax.bar(range(counts.numel()), counts.numpy())
    ax.set_xlabel("neuron")
    ax.set_ylabel("spike count")
    return ax


def animate(frames: torch.Tensor, ax=None, *, interval: float = 40, cmap: str = "plasma", num_steps: int | None = None):
    """Animation of a sequence of images, one frame per time step (e.g. a rate-coded image sample).

    Each step is drawn with ``Axes.imshow`` using one colour scale for the
    whole sequence (the minimum and maximum over all frames); the axes are
    hidden. Show it with ``plt.show()``, save it with
    ``anim.save("spikes.gif")`` (needs Pillow) or embed it with
    ``anim.to_jshtml()``. Keep a reference to the returned object while it
    plays.

    Args:
        frames: ``[T, H, W]`` (or ``[T, H, W, 3|4]`` RGB(A)) tensor.
        ax: Axes to draw on; a new figure is made when ``None``.
        interval: Delay between frames in milliseconds.
        cmap: Colour map of single-channel frames.
        num_steps: Number of leading steps to animate; all when ``None``.

    Returns:
        A ``matplotlib.animation.ArtistAnimation``.
    """
    if not isinstance(frames, torch.Tensor) or frames.dim() not in (3, 4):
        shape = tuple(frames.shape) if isinstance(frames, torch.Tensor) else type(frames).__name__
        raise ValueError(f"animate: expected frames [T, H, W] (or [T, H, W, C]), got {shape}.")
    steps = frames.shape[0] if num_steps is None else num_steps
    if not 1 <= steps <= frames.shape[0]:
        raise ValueError(f"animate: `num_steps` must be in [1, {frames.shape[0]}], got {num_steps}.")
    _pyplot()
    from matplotlib.animation import ArtistAnimation

    ax = _axes(ax)
    data = frames.detach().cpu()
    vmin, vmax = data.min().item(), data.max().item()
    ax.set_axis_off()
    images = [[ax.imshow(data[t].numpy(), cmap=cmap, vmin=vmin, vmax=vmax)] for t in range(steps)]
    return ArtistAnimation(ax.figure, images, interval=interval)


def save(fig_or_ax, path: str | Path, **savefig_kwargs: Any) -> Path:
    """Save the figure of a Figure or Axes to ``path`` (format from its suffix).

    Args:
        fig_or_ax: A matplotlib ``Figure`` or ``Axes``.
        path: Destination file, e.g. ``"raster.png"``.
        **savefig_kwargs: Passed to ``Figure.savefig`` (``dpi``, ...).

    Returns:
        ``path`` as a ``Path``.
    """
    # Axes.figure is its Figure; Figure.figure is itself, or None in older matplotlib.
    fig = getattr(fig_or_ax, "figure", None) or fig_or_ax
    path = Path(path)
    fig.savefig(path, **savefig_kwargs)
    return path
