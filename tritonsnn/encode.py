"""Spike encoders: turn static or time-series data into spike trains.

Static encoders (:func:`rate`, :func:`latency`) take ``data`` of shape
``[B, ...]`` and return ``[num_steps, B, ...]``; :func:`delta` takes a time
series ``[T, B, ...]`` and returns the same shape. Every encoder returns
spikes in the floating dtype of ``data`` and reproduces the matching
``snntorch.spikegen`` function (see each docstring for the quirks kept).
"""

from __future__ import annotations

import operator

import torch

__all__ = ["rate", "latency", "delta"]

_LATENCY_METHODS = ("log", "linear")


def _check_data(data: torch.Tensor, fn: str) -> None:
    if not isinstance(data, torch.Tensor):
        raise TypeError(f"{fn}: `data` must be a torch.Tensor, got {type(data).__name__}.")
    if not data.is_floating_point():
        raise TypeError(
            f"{fn}: `data` must be a floating-point tensor, got {data.dtype}; "
            "convert it first, e.g. `data.float() / 255` for uint8 images."
        )


def _check_num_steps(num_steps: int, fn: str) -> int:
    # bool is an int subclass; `num_steps=True` is almost certainly a mistake.
    if isinstance(num_steps, bool):
        raise TypeError(f"{fn}: `num_steps` must be an int >= 1, got {num_steps!r}.")
    try:
        num_steps = operator.index(num_steps)
    except TypeError:
        raise TypeError(
            f"{fn}: `num_steps` must be an int >= 1, got {type(num_steps).__name__}."
        ) from None
    if num_steps < 1:
        raise ValueError(f"{fn}: `num_steps` must be >= 1, got {num_steps}; pass a positive step count.")
    return num_steps


def rate(
    data: torch.Tensor,
    num_steps: int,
    *,
    gain: float = 1.0,
    offset: float = 0.0,
    generator: torch.Generator | None = None,
) -> torch.Tensor:
    """Rate (Bernoulli) coding of static data.

    At every step each element spikes independently with probability
    ``p = clamp(gain * data + offset, 0, 1)``, so the expected spike count
    over ``num_steps`` is ``num_steps * p``.

    Like ``snntorch.spikegen.rate``, values of ``gain * data + offset``
    outside ``[0, 1]`` are clamped silently: saturating with ``gain > 1`` is a
    legitimate use, so it is not an error. With the same global seed (and no
    ``generator``) the output equals snnTorch's bit for bit.

    Args:
        data: Firing probabilities, shape ``[B, ...]``, floating dtype.
        num_steps: Number of time steps ``T`` (>= 1).
        gain: Scale applied to ``data`` before clamping.
        offset: Shift applied after ``gain``.
        generator: Optional ``torch.Generator`` (on ``data``'s device) for
            reproducible draws independent of the global RNG.

    Returns:
        Spikes of shape ``[num_steps, *data.shape]`` in ``data.dtype``.

    Raises:
        TypeError: ``data`` is not a floating tensor or ``num_steps`` is not an int.
        ValueError: ``num_steps < 1``.
    """
    _check_data(data, "rate")
    num_steps = _check_num_steps(num_steps, "rate")
    p = torch.clamp(data * gain + offset, 0.0, 1.0)
    # bernoulli writes a fresh contiguous tensor, so the expanded view costs no copy.
    return torch.bernoulli(p.expand(num_steps, *p.shape), generator=generator)


def latency(
    data: torch.Tensor,
    num_steps: int,
    *,
    tau: float = 1.0,
    threshold: float = 0.01,
    method: str = "log",
    normalize: bool = False,
    clip: bool = False,
    first_spike_time: int = 0,
) -> torch.Tensor:
    """Latency (time-to-first-spike) coding: larger values spike earlier.

    Each element spikes at most once, at step ``round(t)`` (round half to
    even, as ``torch.round``), where, with ``x`` the input and
    ``t0 = first_spike_time``:

    * ``method="log"`` (an RC circuit charging towards ``x``):
      ``t = tau * log(x' / (x' - threshold)) + t0`` with
      ``x' = max(x, threshold + 1e-7)``, so inputs below ``threshold`` get the
      latest time.
    * ``method="linear"``: ``t = min(tau * (1 - x), tau * (1 - threshold)) + t0``.

    With ``normalize=True`` the times are stretched to end exactly at step
    ``num_steps - 1``: for ``"log"``, ``t = (t - t0) * (num_steps - t0 - 1) /
    max(t - t0) + t0``; for ``"linear"``, ``tau`` is replaced by
    ``num_steps - 1 - t0`` (the ``tau`` argument is then ignored).

    This reproduces ``snntorch.spikegen.latency`` (``linear=True`` there is
    ``method="linear"`` here) including its quirks:

    * the ``"log"`` normalisation divides by the maximum over the *whole*
      tensor, so a sample's spike times depend on the rest of the batch
      unless some element lies below ``threshold``;
    * inputs below ``threshold`` still spike (at the latest time) unless
      ``clip=True``.

    The default ``tau=1.0`` is snnTorch's. Unlike snnTorch, elements removed
    by ``clip=True`` are left out of the range check below, since they never
    spike.

    Args:
        data: Intensities in ``[0, 1]``, shape ``[B, ...]``, floating dtype.
        num_steps: Number of time steps ``T`` (>= 1).
        tau: Time constant (> 0) of the code, in steps.
        threshold: Intensity in ``(0, 1)`` below which an input counts as
            silent.
        method: ``"log"`` or ``"linear"``.
        normalize: Stretch spike times to fill ``[t0, num_steps - 1]``.
        clip: Emit no spike for inputs below ``threshold``.
        first_spike_time: Earliest spike step ``t0``, in ``[0, num_steps - 1]``.

    Returns:
        Spikes of shape ``[num_steps, *data.shape]`` in ``data.dtype``, at most
        one spike per element.

    Raises:
        TypeError: ``data`` is not a floating tensor or ``num_steps`` is not an int.
        ValueError: an argument is out of range, ``method`` is unknown, or a
            spike would fall after step ``num_steps - 1``.
    """
    _check_data(data, "latency")
    num_steps = _check_num_steps(num_steps, "latency")
    if method not in _LATENCY_METHODS:
        raise ValueError(f"latency: `method` must be 'log' or 'linear', got {method!r}.")
    if not 0.0 < threshold < 1.0:
        raise ValueError(f"latency: `threshold` must be in (0, 1), got {threshold}.")
    if tau <= 0:
        raise ValueError(f"latency: `tau` must be > 0, got {tau}.")
    if not 0 <= first_spike_time <= num_steps - 1:
        raise ValueError(
            f"latency: `first_spike_time` must be in [0, num_steps - 1] = [0, {num_steps - 1}], "
            f"got {first_spike_time}."
        )
    if data.numel() and (data.min() < 0 or data.max() > 1):
        raise ValueError(
            f"latency: `data` must lie in [0, 1], got [{data.min().item()}, {data.max().item()}]; "
            "rescale it, e.g. (data - data.min()) / (data.max() - data.min())."
        )

    # Spike times in at least fp32 (fp16 log would move spikes); the operation
    # order follows snnTorch so that rounding ties land on the same step.
    x = data.to(torch.promote_types(data.dtype, torch.float32))
    t0 = first_spike_time
    if method == "log":
        x = torch.clamp(x, min=threshold + 1e-7)
        t = tau * torch.log(x / (x - threshold)) + t0
        if normalize and t.numel():
            t = (t - t0) * (num_steps - t0 - 1) / torch.max(t - t0) + t0
    else:
        if normalize:
            tau = num_steps - 1 - t0
        t = torch.clamp_max(-tau * (x - 1), -tau * (threshold - 1)) + t0

    step = torch.round(t).long()
    fires = data >= threshold if clip else torch.ones_like(data, dtype=torch.bool)
    last = step[fires].max().item() if fires.any() else 0
    if last > num_steps - 1:
        raise ValueError(
            f"latency: the latest spike falls at step {last}, beyond num_steps - 1 = {num_steps - 1}; "
            "increase `num_steps`, decrease `tau`, set `normalize=True`, or set `clip=True` "
            "(inputs below `threshold` spike last)."
        )
    steps = torch.arange(num_steps, device=data.device).view(-1, *([1] * data.dim()))
    return ((steps == step) & fires).to(data.dtype)


def delta(
    data: torch.Tensor,
    threshold: float = 0.1,
    *,
    padding: bool = False,
    off_spike: bool = False,
) -> torch.Tensor:
    """Delta (change) coding of a time series.

    Spikes ``+1`` at step ``t`` when ``data[t] - data[t-1] >= threshold`` and,
    with ``off_spike=True``, ``-1`` when ``data[t] - data[t-1] <= -threshold``.
    As in ``snntorch.spikegen.delta`` the comparison is inclusive (a change of
    exactly ``threshold`` spikes), and the step before ``t = 0`` is taken to be
    zeros (``padding=False``, so a large first value spikes) or ``data[0]``
    itself (``padding=True``, so step 0 never spikes).

    Args:
        data: Time series of shape ``[T, B, ...]``, floating dtype.
        threshold: Minimum change (> 0) that triggers a spike.
        padding: Compare step 0 with itself instead of with zeros.
        off_spike: Also emit ``-1`` spikes for decreases.

    Returns:
        Spikes of the shape and dtype of ``data``, values in ``{0, 1}`` or
        ``{-1, 0, 1}`` with ``off_spike=True``.

    Raises:
        TypeError: ``data`` is not a floating tensor.
        ValueError: ``data`` has no time dimension or ``threshold <= 0``.
    """
    _check_data(data, "delta")
    if data.dim() < 1 or data.shape[0] < 1:
        raise ValueError(
            f"delta: `data` must be a time series [T, ...] with T >= 1, got shape {tuple(data.shape)}."
        )
    if not threshold > 0:
        raise ValueError(f"delta: `threshold` must be > 0, got {threshold}.")
    first = data[:1] if padding else torch.zeros_like(data[:1])
    change = data - torch.cat((first, data[:-1]))
    spikes = (change >= threshold).to(data.dtype)
    if off_spike:
        spikes = spikes - (change <= -threshold).to(data.dtype)
    return spikes
