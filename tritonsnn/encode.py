"""Spike encoders: turn static or time-series data into spike trains.

Static encoders (:func:`rate`, :func:`latency`) take ``data`` of shape
``[B, ...]`` and return ``[num_steps, B, ...]`` (:func:`rate` also encodes
time-varying ``[T, B, ...]`` data with ``time_var_input=True``);
:func:`latency_times` gives the latency code's unrounded spike times;
:func:`delta` takes a time series ``[T, B, ...]`` and returns the same shape. Every encoder returns
spikes in the floating dtype of ``data`` and reproduces the matching
``snntorch.spikegen`` function (see each docstring for the quirks kept).
"""

from __future__ import annotations

import math
import operator

import torch

__all__ = ["delta", "latency", "latency_times", "periodic", "poisson_interval", "rate"]

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
        raise TypeError(f"{fn}: `num_steps` must be an int >= 1, got {type(num_steps).__name__}.") from None
    if num_steps < 1:
        raise ValueError(f"{fn}: `num_steps` must be >= 1, got {num_steps}; pass a positive step count.")
    return num_steps


def rate(
    data: torch.Tensor,
    num_steps: int | None = None,
    *,
    gain: float = 1.0,
    offset: float = 0.0,
    first_spike_time: int = 0,
    time_var_input: bool = False,
    generator: torch.Generator | None = None,
) -> torch.Tensor:
    """Rate (Bernoulli) coding of static or time-varying data.

    Each element spikes independently with probability
    ``p = clamp(gain * data + offset, 0, 1)``, so the expected spike count
    over ``num_steps`` is ``num_steps * p``.

    * Static data (default): ``data`` is ``[B, ...]`` and the same
      probabilities are used at each of ``num_steps`` steps; the output is
      ``[num_steps, *data.shape]``.
    * Time-varying data (``time_var_input=True``): ``data`` is already
      time-first ``[T, B, ...]``, holding the probability of each step;
      ``num_steps`` must be left out and the output has the shape of ``data``.

    ``first_spike_time = t0`` silences the start of the train: for static
    data the first ``t0`` of the ``num_steps`` steps are zero (the output
    keeps ``num_steps`` steps); for time-varying data ``t0`` silent steps are
    *prepended*, so the output has ``T + t0`` steps. Both are the conventions
    of ``snntorch.spikegen.rate``.

    Like ``snntorch.spikegen.rate``, values of ``gain * data + offset``
    outside ``[0, 1]`` are clamped silently: saturating with ``gain > 1`` is a
    legitimate use, so it is not an error. With the same global seed (and no
    ``generator``) the output equals snnTorch's bit for bit (the silenced
    steps of static data are drawn too, then zeroed, as in snnTorch).

    Args:
        data: Firing probabilities, ``[B, ...]`` (static) or ``[T, B, ...]``
            (``time_var_input=True``), floating dtype.
        num_steps: Number of time steps ``T`` (>= 1) for static data; must be
            ``None`` for time-varying data.
        gain: Scale applied to ``data`` before clamping.
        offset: Shift applied after ``gain``.
        first_spike_time: Number of silent steps ``t0`` at the start (>= 0;
            ``< num_steps`` for static data).
        time_var_input: ``data`` already has a leading time dimension.
        generator: Optional ``torch.Generator`` (on ``data``'s device) for
            reproducible draws independent of the global RNG.

    Returns:
        Spikes in ``data.dtype``: ``[num_steps, *data.shape]`` for static
        data, ``[T + first_spike_time, *data.shape[1:]]`` for time-varying data.

    Raises:
        TypeError: ``data`` is not a floating tensor or ``num_steps`` is not an int.
        ValueError: ``num_steps`` is missing (static), given (time-varying) or
            ``< 1``; ``first_spike_time`` is out of range; time-varying
            ``data`` has no time dimension.
    """
    _check_data(data, "rate")
    try:
        first_spike_time = operator.index(first_spike_time)
    except TypeError:
        raise TypeError(f"rate: `first_spike_time` must be an int >= 0, got {first_spike_time!r}.") from None
    if first_spike_time < 0:
        raise ValueError(f"rate: `first_spike_time` must be an int >= 0, got {first_spike_time}.")
    if time_var_input:
        if num_steps is not None:
            raise ValueError(
                "rate: with `time_var_input=True` the time dimension is data's first dimension; "
                f"leave `num_steps` out (got {num_steps!r})."
            )
        if data.dim() < 1:
            raise ValueError("rate: time-varying `data` must be [T, ...], got a 0-dim tensor.")
    else:
        if num_steps is None:
            raise ValueError(
                "rate: `num_steps` is required for static data; for data that already has a time "
                "dimension pass `time_var_input=True`."
            )
        num_steps = _check_num_steps(num_steps, "rate")
        if first_spike_time > num_steps - 1:
            raise ValueError(
                f"rate: `first_spike_time` must be in [0, num_steps - 1] = [0, {num_steps - 1}], "
                f"got {first_spike_time}."
            )
    p = data if gain == 1 and offset == 0 else data * gain + offset
    p = torch.clamp(p, 0.0, 1.0)
    if time_var_input:
        spikes = torch.bernoulli(p, generator=generator)
        if first_spike_time:
            silent = spikes.new_zeros((first_spike_time, *spikes.shape[1:]))
            spikes = torch.cat((silent, spikes))
        return spikes
    # bernoulli writes a fresh contiguous tensor, so the expanded view costs no copy.
    spikes = torch.bernoulli(p.expand(num_steps, *p.shape), generator=generator)
    if first_spike_time:
        spikes[:first_spike_time] = 0
    return spikes


def latency_times(
    data: torch.Tensor,
    num_steps: int | None = None,
    *,
    tau: float = 1.0,
    threshold: float = 0.01,
    method: str = "log",
    normalize: bool = False,
    first_spike_time: int = 0,
    epsilon: float = 1e-7,
    time_dtype: torch.dtype | None = None,
) -> torch.Tensor:
    """Unrounded spike times of the latency code of :func:`latency`.

    With ``x`` the input and ``t0 = first_spike_time``:

    * ``method="log"`` (an RC circuit charging towards ``x``):
      ``t = tau * log(x' / (x' - threshold)) + t0`` with
      ``x' = max(x, threshold + epsilon)``, so inputs below ``threshold`` get
      the latest time.
    * ``method="linear"``: ``t = min(tau * (1 - x), tau * (1 - threshold)) + t0``.

    With ``normalize=True`` the times are stretched to end exactly at
    ``num_steps - 1``: for ``"log"``, ``t = (t - t0) * (num_steps - t0 - 1) /
    max(t - t0) + t0`` (the maximum over the *whole* tensor, as in snnTorch);
    for ``"linear"``, ``tau`` is replaced by ``num_steps - 1 - t0``.
    These are the times of ``snntorch.spikegen.latency_code`` (``linear=True``
    there is ``method="linear"`` here), computed in the same operation order.

    ``data`` is not range-checked here (:func:`latency` checks it).

    Args:
        data: Intensities, normally in ``[0, 1]``, any shape, floating dtype.
        num_steps: Number of time steps; needed only for ``normalize=True``.
        tau: Time constant (> 0) of the code, in steps.
        threshold: Intensity in ``(0, 1)`` below which an input counts as silent.
        method: ``"log"`` or ``"linear"``.
        normalize: Stretch the times to fill ``[t0, num_steps - 1]``.
        first_spike_time: Earliest spike time ``t0`` (>= 0, and
            ``<= num_steps - 1`` when ``num_steps`` is given).
        epsilon: Margin above ``threshold`` to which the ``"log"`` code clamps
            its input (keeps the logarithm finite).
        time_dtype: Dtype in which the times are computed; the default is
            ``data``'s dtype promoted to at least float32, since half-precision
            logarithms can move a spike by a step.

    Returns:
        Spike times of the shape of ``data``, in ``time_dtype``.

    Raises:
        TypeError: ``data`` is not a floating tensor.
        ValueError: an argument is out of range or ``method`` is unknown.
    """
    _check_data(data, "latency")
    if method not in _LATENCY_METHODS:
        raise ValueError(f"latency: `method` must be 'log' or 'linear', got {method!r}.")
    if not 0.0 < threshold < 1.0:
        raise ValueError(f"latency: `threshold` must be in (0, 1), got {threshold}.")
    if not tau > 0:
        raise ValueError(f"latency: `tau` must be > 0, got {tau}.")
    if num_steps is not None:
        num_steps = _check_num_steps(num_steps, "latency")
    elif normalize:
        raise ValueError("latency: `normalize=True` needs `num_steps`.")
    upper = num_steps - 1 if num_steps is not None else None
    if first_spike_time < 0 or (upper is not None and first_spike_time > upper):
        raise ValueError(
            f"latency: `first_spike_time` must be in [0, num_steps - 1] = [0, {upper}], got {first_spike_time}."
            if upper is not None
            else f"latency: `first_spike_time` must be >= 0, got {first_spike_time}."
        )
    # The operation order follows snnTorch so that rounding ties land on the same step.
    x = data.to(time_dtype or torch.promote_types(data.dtype, torch.float32))
    t0 = first_spike_time
    if method == "log":
        x = torch.clamp(x, min=threshold + epsilon)
        t = tau * torch.log(x / (x - threshold)) + t0
        if normalize and t.numel():
            t = (t - t0) * (num_steps - t0 - 1) / torch.max(t - t0) + t0
        return t
    if normalize:
        tau = num_steps - 1 - t0
    return torch.clamp_max(-tau * (x - 1), -tau * (threshold - 1)) + t0


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
    epsilon: float = 1e-7,
    late_spikes: str = "raise",
    time_dtype: torch.dtype | None = None,
) -> torch.Tensor:
    """Latency (time-to-first-spike) coding: larger values spike earlier.

    Each element spikes at most once, at step ``round(t)`` (round half to
    even, as ``torch.round``) with ``t`` the time given by
    :func:`latency_times` (see there for the ``"log"`` and ``"linear"``
    codes, ``normalize``, ``first_spike_time`` and ``epsilon``).

    This reproduces ``snntorch.spikegen.latency`` (``linear=True`` there is
    ``method="linear"`` here; ``bypass=True`` there is ``late_spikes="drop"``
    here) including its quirks:

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
        epsilon: See :func:`latency_times`.
        late_spikes: What to do with spikes that would fall after step
            ``num_steps - 1``: ``"raise"`` a ValueError, or ``"drop"`` them
            (those elements do not spike).
        time_dtype: See :func:`latency_times`.

    Returns:
        Spikes of shape ``[num_steps, *data.shape]`` in ``data.dtype``, at most
        one spike per element.

    Raises:
        TypeError: ``data`` is not a floating tensor or ``num_steps`` is not an int.
        ValueError: an argument is out of range, ``method`` is unknown, or
            (``late_spikes="raise"``) a spike would fall after step ``num_steps - 1``.
    """
    _check_data(data, "latency")
    num_steps = _check_num_steps(num_steps, "latency")
    if late_spikes not in ("raise", "drop"):
        raise ValueError(f"latency: `late_spikes` must be 'raise' or 'drop', got {late_spikes!r}.")
    t = latency_times(
        data,
        num_steps,
        tau=tau,
        threshold=threshold,
        method=method,
        normalize=normalize,
        first_spike_time=first_spike_time,
        epsilon=epsilon,
        time_dtype=time_dtype,
    )
    if data.numel() and (data.min() < 0 or data.max() > 1):
        raise ValueError(
            f"latency: `data` must lie in [0, 1], got [{data.min().item()}, {data.max().item()}]; "
            "rescale it, e.g. (data - data.min()) / (data.max() - data.min())."
        )
    step = torch.round(t).long()
    fires = data >= threshold if clip else torch.ones_like(data, dtype=torch.bool)
    if late_spikes == "raise":
        last = step[fires].max().item() if fires.any() else 0
        if last > num_steps - 1:
            raise ValueError(
                f"latency: the latest spike falls at step {last}, beyond num_steps - 1 = {num_steps - 1}; "
                "increase `num_steps`, decrease `tau`, set `normalize=True`, or set `clip=True` "
                "(inputs below `threshold` spike last)."
            )
    steps = torch.arange(num_steps, device=data.device).view(-1, *([1] * data.dim()))
    # Steps beyond num_steps - 1 match no row of `steps`, so late spikes are dropped here.
    return ((steps == step) & fires).to(data.dtype)


def _delta(data: torch.Tensor, threshold: float, padding: bool, off_spike: bool) -> torch.Tensor:
    """The delta code without argument checks (any dtype, any threshold)."""
    first = data[:1] if padding else torch.zeros_like(data[:1])
    change = data - torch.cat((first, data[:-1]))
    spikes = (change >= threshold).to(data.dtype)
    if off_spike:
        spikes = spikes - (change <= -threshold).to(data.dtype)
    return spikes


def delta(
    data: torch.Tensor, threshold: float = 0.1, *, padding: bool = False, off_spike: bool = False
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
        raise ValueError(f"delta: `data` must be a time series [T, ...] with T >= 1, got shape {tuple(data.shape)}.")
    if not threshold > 0:
        raise ValueError(f"delta: `threshold` must be > 0, got {threshold}.")
    return _delta(data, threshold, padding, off_spike)


def _rates_in_hz(rates: torch.Tensor, fn: str) -> torch.Tensor:
    _check_data(rates, fn)
    if rates.numel() and (not bool(torch.isfinite(rates).all()) or float(rates.min()) < 0):
        raise ValueError(
            f"{fn}: `rates` must be finite firing rates >= 0 (Hz); got values in [{rates.min()}, {rates.max()}]"
        )
    return rates


def poisson_interval(
    rates: torch.Tensor,
    num_steps: int,
    *,
    dt: float = 1.0,
    refractory: float = 0.0,
    generator: torch.Generator | None = None,
) -> torch.Tensor:
    """Spike trains of a Poisson process with an absolute refractory period, drawn interval by
    interval (Inferno's Poisson-interval encoder) rather than as one coin flip per step.

    Each element fires at ``rates`` Hz on average: its inter-spike intervals are
    ``refractory + Exponential(mean 1/rate')`` with ``1/rate' = 1/rate - refractory``, so the
    refractory period shapes the train without changing the mean rate; the first spike comes
    after an ``Exponential(rate')`` wait (a neuron that has not fired yet). Spike times are
    exact; step ``t`` counts the spikes in ``[t dt, (t+1) dt)``, so a step holds more than one
    spike only when ``refractory < dt`` (with ``refractory >= dt`` the output is 0/1).

    Args:
        rates: mean firing rates in Hz ``[B, ...]``, >= 0; ``rate * refractory`` must stay below 1 s.
        num_steps: steps ``T``.
        dt: milliseconds per step.
        refractory: absolute refractory period in milliseconds (>= 0).
        generator: an optional ``torch.Generator`` on ``rates``' device.

    Returns:
        Spike counts ``[num_steps, *rates.shape]`` in ``rates.dtype``.
    """
    rates = _rates_in_hz(rates, "poisson_interval")
    num_steps = _check_num_steps(num_steps, "poisson_interval")
    if not (dt > 0 and math.isfinite(dt)) or not (refractory >= 0 and math.isfinite(refractory)):
        raise ValueError(
            f"poisson_interval: dt must be > 0 and refractory >= 0 (ms); got dt={dt}, refractory={refractory}"
        )
    per_ms = rates.double() / 1000.0
    mean_wait = 1.0 / per_ms - refractory  # ms of the exponential part of an interval
    if bool((mean_wait[per_ms > 0] <= 0).any()):
        raise ValueError(
            f"poisson_interval: a rate of r Hz with a refractory period of {refractory} ms needs r * refractory "
            "< 1000 (the period alone would fire faster); lower the rates or the refractory period"
        )

    def wait(shape_like):
        u = torch.empty(shape_like.shape, dtype=torch.float64, device=rates.device).exponential_(generator=generator)
        return torch.where(per_ms > 0, u * mean_wait, torch.full_like(u, math.inf))

    out = torch.zeros((num_steps, *rates.shape), dtype=rates.dtype, device=rates.device)
    next_spike = wait(per_ms)  # ms
    for t in range(num_steps):
        end = (t + 1) * dt
        due = next_spike < end
        while bool(due.any()):  # several spikes in one step only when refractory < dt
            out[t] += due.to(out.dtype)
            next_spike = torch.where(due, next_spike + refractory + wait(per_ms), next_spike)
            due = next_spike < end
    return out


def periodic(
    rates: torch.Tensor, num_steps: int, *, dt: float = 1.0, phase: torch.Tensor | float = 0.0
) -> torch.Tensor:
    """Regular spike trains: each element fires every ``1000 / rate`` ms (Inferno's homogeneous
    encoder), at times ``(k - phase) * period`` for ``k = 1, 2, ...``.

    Step ``t`` counts the spikes at times in ``(t dt, (t+1) dt]``: ``floor((t+1) dt r + phase) -
    floor(t dt r + phase)`` with ``r`` in spikes per ms (0/1 while ``rate * dt <= 1000``); so
    100 Hz with ``dt = 1`` fires at steps 9, 19, 29, ...

    Args:
        rates: firing rates in Hz ``[B, ...]``, >= 0.
        num_steps: steps ``T``.
        dt: milliseconds per step.
        phase: fraction of a period already elapsed at time 0, number or tensor broadcastable to ``rates``.

    Returns:
        Spike counts ``[num_steps, *rates.shape]`` in ``rates.dtype``.
    """
    rates = _rates_in_hz(rates, "periodic")
    num_steps = _check_num_steps(num_steps, "periodic")
    if not (dt > 0 and math.isfinite(dt)):
        raise ValueError(f"periodic: dt must be > 0 (ms); got {dt}")
    phase = torch.as_tensor(phase, dtype=torch.float64, device=rates.device)
    if phase.numel() and (float(phase.min()) < 0 or float(phase.max()) >= 1):
        raise ValueError(f"periodic: phase must be a fraction of the period in [0, 1); got {phase}")
    steps = torch.arange(num_steps + 1, dtype=torch.float64, device=rates.device) * dt
    spikes_so_far = torch.floor(steps.view(-1, *[1] * rates.dim()) * (rates.double() / 1000.0) + phase)
    return torch.diff(spikes_so_far, dim=0).to(rates.dtype)
