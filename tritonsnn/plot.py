"""Quick-look plots of spike trains and membrane traces (needs matplotlib).

matplotlib is an optional dependency (``pip install tritonsnn[plot]``); it is
imported only when a function here is called, so ``import tritonsnn.plot``
always works. Inputs are time-first: ``[T, N]`` for one sample, or
``[T, B, ...]`` for a batch, from which ``sample`` picks one sample and whose
feature dimensions are flattened into neurons. Every plotting function draws
on ``ax`` (a new figure when ``None``) and returns the Axes.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any, Sequence

import torch

__all__ = ["raster", "traces", "spike_counts", "save"]


def _pyplot():
    try:
        import matplotlib.pyplot as plt
    except ImportError as err:
        raise ImportError(
            "tritonsnn.plot needs matplotlib; install it with `pip install tritonsnn[plot]`."
        ) from err
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
):
    """Line plot of membrane potential over time, one line per neuron.

    Args:
        mem: ``[T, N]`` or ``[T, B, ...]`` membrane tensor.
        ax: Axes to draw on; a new figure is made when ``None``.
        neurons: Neuron indices to draw (after flattening); all when ``None``.
        sample: Batch index to draw for batched input.
        threshold: If given, drawn as a dashed horizontal line.

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
