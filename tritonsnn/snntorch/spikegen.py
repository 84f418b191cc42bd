"""snnTorch-compatible spike generation: ``from tritonsnn.snntorch import spikegen``.

Every public name of ``snntorch.spikegen`` (snnTorch 1.0) is here with the
same signature, defaults and outputs (shapes and dtypes included); the
encoders are thin adapters over :mod:`tritonsnn.encode`, and the random ones
draw exactly what snnTorch draws, so under the same ``torch.manual_seed`` the
spikes are equal bit for bit.

Differences from snnTorch, each raising rather than returning something else:

* :func:`targets_rate` with ``correct_rate != 1`` or ``incorrect_rate != 0``
  (time-varying rate targets) raises ``NotImplementedError``: snnTorch 1.0
  fails there unless ``num_classes == num_steps``, and then returns a
  malformed ``[T, B, C, B, C]`` tensor.
* Arguments snnTorch would accept only to fail later or to return ``None``
  (a negative ``first_spike_time`` in :func:`targets_rate`, an unknown
  ``firing_pattern``, non-floating data for the encoders) raise a
  ``ValueError`` or ``TypeError`` up front.

snnTorch raises a bare ``Exception`` on bad arguments; here the errors are
``ValueError`` or ``TypeError``, subclasses of ``Exception``, so
``except Exception`` code keeps working.
"""

from __future__ import annotations

import warnings

import torch
import torch.nn.functional as F

from .. import encode

__all__ = [
    "delta",
    "dtype",
    "from_one_hot",
    "latency",
    "latency_code",
    "latency_code_linear",
    "latency_code_log",
    "latency_interpolate",
    "rate",
    "rate_conv",
    "rate_interpolate",
    "target_rate_code",
    "targets_convert",
    "targets_latency",
    "targets_rate",
    "to_one_hot",
    "to_one_hot_inverse",
]

#: The dtype snnTorch builds its spike and target tensors in.
dtype = torch.float

_PATTERNS = ("regular", "uniform", "poisson")


def _tensor(data, fn: str) -> None:
    if not isinstance(data, torch.Tensor):
        raise TypeError(f"spikegen.{fn}: expected a torch.Tensor, got {type(data).__name__}.")


def _steps(num_steps) -> int:
    """snnTorch's ``num_steps=False`` (and ``None``) means "not given": 0."""
    return 0 if num_steps is None or num_steps is False else num_steps


def _bernoulli(data: torch.Tensor) -> torch.Tensor:
    """``bernoulli(clamp(data, 0, 1))`` of time-varying data, 0-dim data included."""
    if data.dim() == 0:
        return encode.rate(data.unsqueeze(0), time_var_input=True)[0]
    return encode.rate(data, time_var_input=True)


# ----------------------------------------------------------------------------- rate


def rate(data, num_steps=False, gain=1, offset=0, first_spike_time=0, time_var_input=False):
    """Rate (Bernoulli) coding, as ``snntorch.spikegen.rate``.

    Static ``data`` ``[B, ...]`` is repeated over ``num_steps`` steps and each
    element spikes with probability ``clamp(gain * data + offset, 0, 1)``;
    the first ``first_spike_time`` steps are then zeroed. Time-varying
    ``data`` (``time_var_input=True``, no ``num_steps``) is already
    ``[T, B, ...]``; ``first_spike_time`` silent steps are prepended to it.
    As in snnTorch, ``gain`` and ``offset`` are ignored for time-varying data
    (a warning says so). See :func:`tritonsnn.encode.rate`.

    Returns:
        ``[num_steps, *data.shape]`` spikes in ``data``'s dtype (time-varying:
        ``[T + first_spike_time, ...]``; with prepended steps the dtype is
        promoted to at least float32, as snnTorch's concatenation does).
    """
    _tensor(data, "rate")
    steps = _steps(num_steps)
    if first_spike_time < 0 or steps < 0:
        raise ValueError("spikegen.rate: `first_spike_time` and `num_steps` cannot be negative.")
    if first_spike_time > steps - 1:
        if steps:
            raise ValueError(
                f"spikegen.rate: `first_spike_time` ({first_spike_time}) must be at most num_steps - 1 ({steps - 1})."
            )
        if not time_var_input:
            raise ValueError(
                "spikegen.rate: pass `num_steps > 0` for static data, or `time_var_input=True` "
                "if `data` already has a time dimension."
            )
    if time_var_input and steps:
        raise ValueError(
            "spikegen.rate: with `time_var_input=True` leave `num_steps` out: the first dimension of "
            "`data` (plus `first_spike_time`) sets the number of steps."
        )
    if not time_var_input:
        return encode.rate(data, steps, gain=gain, offset=offset, first_spike_time=first_spike_time)
    if gain != 1 or offset != 0:
        warnings.warn(
            "spikegen.rate: `gain` and `offset` are ignored with `time_var_input=True` (as in snnTorch); "
            "scale the data first, or use tritonsnn.encode.rate(..., time_var_input=True, gain=..., "
            "offset=...), which applies them.",
            stacklevel=2,
        )
    if data.dim() == 0 and first_spike_time == 0:
        return _bernoulli(data)
    spikes = encode.rate(data, time_var_input=True, first_spike_time=first_spike_time)
    return spikes.to(torch.promote_types(spikes.dtype, dtype)) if first_spike_time > 0 else spikes


def rate_conv(data):
    """Bernoulli spikes with probability ``clamp(data, 0, 1)``, one draw per element.

    Returns:
        Spikes of the shape and dtype of ``data``.
    """
    _tensor(data, "rate_conv")
    return _bernoulli(data)


# -------------------------------------------------------------------------- latency


def _latency_errors(data, num_steps, threshold, tau, first_spike_time, normalize):
    """The argument checks of snnTorch's latency codes (the rest is left to tritonsnn.encode)."""
    if threshold <= 0 or threshold >= 1:
        raise ValueError(f"spikegen.latency: `threshold` ({threshold}) must be between 0 and 1.")
    if tau <= 0:
        raise ValueError(f"spikegen.latency: `tau` ({tau}) must be greater than 0.")
    if first_spike_time and num_steps and first_spike_time > num_steps - 1:
        raise ValueError(
            f"spikegen.latency: `first_spike_time` ({first_spike_time}) must be at most "
            f"num_steps - 1 ({num_steps - 1})."
        )
    if first_spike_time < 0:
        raise ValueError(f"spikegen.latency: `first_spike_time` ({first_spike_time}) cannot be negative.")
    if num_steps < 0:
        raise ValueError(f"spikegen.latency: `num_steps` ({num_steps}) cannot be negative.")
    if normalize and not num_steps:
        raise ValueError("spikegen.latency: `num_steps` must be given when `normalize=True`.")


def latency_code_linear(data, num_steps=False, threshold=0.01, tau=1, first_spike_time=0, normalize=False):
    """Spike times of the linear latency code (:func:`tritonsnn.encode.latency_times`, ``method="linear"``).

    As in snnTorch, with ``normalize=True`` negative times (possible only for
    data above 1) are rescaled to ``[0, num_steps - 1]``.

    Returns:
        Unrounded spike times of the shape and dtype of ``data``.
    """
    _tensor(data, "latency_code_linear")
    steps = _steps(num_steps)
    _latency_errors(data, steps, threshold, tau, first_spike_time, normalize)
    t = encode.latency_times(
        data,
        steps or None,
        tau=tau,
        threshold=threshold,
        method="linear",
        normalize=normalize,
        first_spike_time=first_spike_time,
        time_dtype=data.dtype,
    )
    if normalize and t.numel() and torch.min(t) < 0:
        low = torch.min(t)
        t = (t - low) * (1 / (torch.max(t) - low)) * (steps - 1)
    return t


def latency_code_log(data, num_steps=False, threshold=0.01, tau=1, first_spike_time=0, normalize=False, epsilon=1e-7):
    """Spike times of the logarithmic (RC) latency code (:func:`tritonsnn.encode.latency_times`).

    Returns:
        Unrounded spike times of the shape and dtype of ``data``.
    """
    _tensor(data, "latency_code_log")
    steps = _steps(num_steps)
    _latency_errors(data, steps, threshold, tau, first_spike_time, normalize)
    return encode.latency_times(
        data,
        steps or None,
        tau=tau,
        threshold=threshold,
        method="log",
        normalize=normalize,
        first_spike_time=first_spike_time,
        epsilon=epsilon,
        time_dtype=data.dtype,
    )


def latency_code(
    data, num_steps=False, threshold=0.01, tau=1, first_spike_time=0, normalize=False, linear=False, epsilon=1e-7
):
    """Spike times of the latency code and the mask of inputs below ``threshold``.

    Returns:
        ``(spike_time, data < threshold)``.
    """
    _tensor(data, "latency_code")
    below = data < threshold
    if linear:
        t = latency_code_linear(data, num_steps, threshold, tau, first_spike_time, normalize)
    else:
        t = latency_code_log(data, num_steps, threshold, tau, first_spike_time, normalize, epsilon)
    return t, below


def latency(
    data,
    num_steps=False,
    threshold=0.01,
    tau=1,
    first_spike_time=0,
    on_target=1,
    off_target=0,
    clip=False,
    normalize=False,
    linear=False,
    interpolate=False,
    bypass=False,
    epsilon=1e-7,
):
    """Latency (time-to-first-spike) coding, as ``snntorch.spikegen.latency``.

    Spikes come from :func:`tritonsnn.encode.latency` (``linear=True`` is its
    ``method="linear"``), the times computed in ``data``'s dtype as snnTorch
    does. Then, as in snnTorch: ``bypass=True`` drops spikes beyond the last
    step instead of raising, and without ``num_steps`` takes the latest spike
    time + 1 as ``num_steps``; the out-of-range check counts inputs removed by
    ``clip`` too; spikes become ``on_target`` and the rest
    ``max(spike * on_target, off_target)``; ``interpolate=True`` returns
    :func:`latency_interpolate` of the spike times instead of spikes.

    Returns:
        ``[num_steps, *data.shape]`` float32 tensor.
    """
    _tensor(data, "latency")
    if data.is_floating_point() and data.numel() and (torch.min(data) < 0 or torch.max(data) > 1):
        raise ValueError(
            f"spikegen.latency: elements of `data` must lie in [0, 1], got "
            f"[{torch.min(data).item()}, {torch.max(data).item()}]."
        )
    if threshold < 0 or threshold > 1:
        raise ValueError(f"spikegen.latency: `threshold` ({threshold}) must be between 0 and 1.")
    steps = _steps(num_steps)
    if not steps and not bypass:
        raise ValueError(
            "spikegen.latency: `num_steps` must be given; alternatively `bypass=True` sets it to the "
            "last spike time + 1 (which may give tensors of varying length in a loop)."
        )
    spike_time, _ = latency_code(data, steps, threshold, tau, first_spike_time, normalize, linear, epsilon)
    if not bool(torch.isfinite(spike_time).all()):
        raise ValueError(
            f"spikegen.latency: the spike times of this {data.dtype} data are not finite: snnTorch computes them "
            "in the data's dtype, where inputs near or below `threshold` overflow, and its output then depends "
            "on integer overflow; this is not reproduced. Convert the data to float32 (tritonsnn.encode.latency "
            "computes half-precision data's times in float32)."
        )
    last = int(torch.round(torch.max(spike_time)).item()) if spike_time.numel() else 0
    if not steps:
        steps = last + 1
    if last > steps - 1 and not bypass:
        raise ValueError(
            f"spikegen.latency: the latest spike time ({last}) is beyond num_steps - 1 ({steps - 1}); set "
            "`bypass=True` to drop such spikes, or decrease `tau`, or set `normalize=True`."
        )
    if interpolate:
        return latency_interpolate(spike_time, steps, on_target=on_target, off_target=off_target)
    spikes = encode.latency(
        data,
        steps,
        tau=tau,
        threshold=threshold,
        method="linear" if linear else "log",
        normalize=normalize,
        clip=clip,
        first_spike_time=first_spike_time,
        epsilon=epsilon,
        late_spikes="drop",
        time_dtype=data.dtype,
    ).to(dtype)
    if on_target != 1 or off_target != 0:
        spikes = torch.clamp(spikes * on_target, off_target)
    return spikes


# ---------------------------------------------------------------------------- delta


def delta(data, threshold=0.1, padding=False, off_spike=False):
    """Delta (change) coding, as ``snntorch.spikegen.delta`` (see :func:`tritonsnn.encode.delta`).

    Unlike the native function, any dtype and any ``threshold`` (also
    ``<= 0``) are accepted, as in snnTorch.

    Returns:
        Spikes of the shape and dtype of ``data``.
    """
    _tensor(data, "delta")
    if data.dim() < 1:
        raise ValueError("spikegen.delta: `data` must be a time series [T, ...], got a 0-dim tensor.")
    return encode._delta(data, threshold, padding, off_spike)


# -------------------------------------------------------------------------- targets


def to_one_hot(targets, num_classes):
    """One-hot encoding ``[B, num_classes]`` (float32) of class indices ``[B]``."""
    _tensor(targets, "to_one_hot")
    if targets.dim() != 1:
        raise ValueError(
            f"spikegen.to_one_hot: `targets` must be class indices of shape [B], got {tuple(targets.shape)}."
        )
    if targets.numel() and (torch.max(targets) > num_classes - 1 or torch.min(targets) < 0):
        raise ValueError(
            f"spikegen.to_one_hot: targets in [{torch.min(targets).item()}, {torch.max(targets).item()}] are "
            f"out of bounds for `num_classes` ({num_classes})."
        )
    return F.one_hot(targets.to(torch.int64), num_classes).to(dtype)


def to_one_hot_inverse(one_hot_targets):
    """1 where ``one_hot_targets`` is 0 and 0 elsewhere, in its dtype."""
    _tensor(one_hot_targets, "to_one_hot_inverse")
    return (one_hot_targets == 0).to(one_hot_targets.dtype)


def from_one_hot(one_hot_label):
    """Row indices of the entries equal to 1: ``torch.where(one_hot_label == 1)[0]``.

    For a one-hot matrix ``[B, C]`` these are the sample indices (as in
    snnTorch); ``one_hot_label.argmax(-1)`` gives the classes.
    """
    _tensor(one_hot_label, "from_one_hot")
    return torch.where(one_hot_label == 1)[0]


def target_rate_code(num_steps, first_spike_time=0, rate=1, firing_pattern="regular"):
    """Rate-coded target spike train of one neuron and its spike times.

    ``"regular"`` fires every ``1 / rate`` steps from ``first_spike_time``;
    ``"uniform"`` draws as many times uniformly from ``[first_spike_time,
    num_steps)`` (duplicates merge); ``"poisson"`` fires at each step from
    ``first_spike_time`` with probability ``rate``. Same draws as snnTorch.

    Returns:
        ``(spikes [num_steps], spike_times)``.
    """
    if not 0 <= rate <= 1:
        raise ValueError(f"spikegen.target_rate_code: `rate` ({rate}) must be between 0 and 1.")
    if first_spike_time > num_steps:
        raise ValueError(
            f"spikegen.target_rate_code: `first_spike_time` ({first_spike_time}) must be at most "
            f"num_steps ({num_steps})."
        )
    if rate == 0:
        return torch.zeros(num_steps), torch.Tensor()
    pattern = str(firing_pattern).lower()
    if pattern == "regular":
        times = torch.arange(first_spike_time, num_steps, 1 / rate).long()
    elif pattern == "uniform":
        count = len(torch.arange(first_spike_time, num_steps, 1 / rate))
        times = (torch.rand(count) * (num_steps - first_spike_time) + first_spike_time).long()
    elif pattern == "poisson":
        p = torch.cat((torch.zeros(first_spike_time), torch.ones(num_steps - first_spike_time) * rate))
        spikes = torch.bernoulli(p)
        return spikes, torch.where(spikes == 1)[0]
    else:
        raise ValueError(
            f"spikegen.target_rate_code: `firing_pattern` must be one of {_PATTERNS}, got {firing_pattern!r}."
        )
    return torch.zeros(num_steps).scatter(0, times, 1), times


def rate_interpolate(spike_time, num_steps, on_target=1, off_target=0, epsilon=1e-7):
    """Target that ramps linearly from ``off_target`` up to ``on_target`` at each spike time.

    For each spike time in ``[0, num_steps)`` (in increasing order), the steps
    since the previous spike ramp from ``off_target`` to ``on_target``
    (a spike right after the previous one is just ``on_target``); the steps
    after the last spike hold ``off_target``. Without spike times the target
    is ``off_target`` throughout.

    Returns:
        A 1-D float32 tensor (``num_steps`` long for spike times in range).
    """
    _tensor(spike_time, "rate_interpolate")
    if not spike_time.numel():
        return torch.ones(num_steps) * off_target
    times = set(spike_time.flatten().tolist())
    pieces, previous = [torch.zeros(0)], -1
    for step in range(num_steps):
        if step not in times:
            continue
        gap = step - previous - 1
        if gap == 0:
            pieces.append(torch.Tensor([on_target]))
        else:
            pieces.append(torch.arange(off_target, on_target + epsilon, (on_target - off_target) / gap))
        previous = step
    top = torch.max(spike_time)
    if top < num_steps - 1:
        pieces.append(torch.Tensor([off_target] * len(range(int(top.item()), num_steps - 1))))
    return torch.cat(pieces)


def latency_interpolate(spike_time, num_steps, on_target=1, off_target=0):
    """Per-neuron target ramping linearly from ``off_target`` (step 0) to ``on_target`` at its spike time.

    Each element of ``spike_time`` is one neuron's (rounded) spike time ``s``:
    its target at step ``t`` is ``off_target + (on_target - off_target) * t /
    s`` up to ``t = s`` and ``off_target`` after it; a neuron spiking at step
    0 is ``on_target`` at step 0 only, and spike times beyond ``num_steps``
    give ``off_target`` throughout.

    Returns:
        ``[num_steps, *spike_time.shape]`` float32 tensor.
    """
    _tensor(spike_time, "latency_interpolate")
    if on_target < off_target:
        raise ValueError(
            f"spikegen.latency_interpolate: `on_target` ({on_target}) must be at least `off_target` ({off_target})."
        )
    s = torch.round(spike_time).float()
    s[s > num_steps] = 0.5  # t / 0.5 > 1 at every step t > 0: such neurons stay off
    out = torch.ones((num_steps, *s.shape), dtype=dtype, device=s.device)
    first = 0
    if (s == 0).any():
        out[0] = (s == 0).to(dtype)
        s[s == 0] = 0.5
        first = 1
    if num_steps > first:
        t = torch.arange(first, num_steps, dtype=dtype, device=s.device).view(-1, *([1] * s.dim()))
        # reciprocal-then-multiply is how `step / tensor` evaluates in PyTorch (and in snnTorch).
        out[first:] = s.reciprocal() * t
    out = out * (on_target - off_target) + off_target
    out[out > on_target] = off_target
    return out


def targets_rate(
    targets,
    num_classes,
    num_steps=False,
    first_spike_time=0,
    correct_rate=1,
    incorrect_rate=0,
    on_target=1,
    off_target=0,
    firing_pattern="regular",
    interpolate=False,
    epsilon=1e-7,
):
    """Rate-coded targets from class indices, as ``snntorch.spikegen.targets_rate``.

    With the defaults (``correct_rate=1, incorrect_rate=0``) and
    ``first_spike_time=0`` this is the ``[B, num_classes]`` matrix holding
    ``on_target`` at each target class and ``off_target`` elsewhere; as in
    snnTorch, when ``on_target > off_target`` the other classes hold
    ``max(0, off_target)``. With ``first_spike_time > 0`` it is repeated
    over ``num_steps`` steps ``[num_steps, B, num_classes]`` with the first
    ``first_spike_time`` steps set to ``off_target``.

    Raises:
        NotImplementedError: ``correct_rate != 1`` or ``incorrect_rate != 0``
            (see the module notes); use ``tritonsnn.loss.mse_count`` with
            ``correct_rate`` / ``incorrect_rate`` for rate-coded targets.
    """
    if not 0 <= correct_rate <= 1 or not 0 <= incorrect_rate <= 1:
        raise ValueError(
            f"spikegen.targets_rate: `correct_rate` ({correct_rate}) and `incorrect_rate` ({incorrect_rate}) "
            "must be between 0 and 1."
        )
    if not num_steps and (correct_rate != 1 or incorrect_rate != 0):
        raise ValueError("spikegen.targets_rate: `num_steps` must be given when the rates are not 1 and 0.")
    if incorrect_rate > correct_rate:
        raise ValueError("spikegen.targets_rate: `correct_rate` must be at least `incorrect_rate`.")
    if str(firing_pattern).lower() not in _PATTERNS:
        raise ValueError(f"spikegen.targets_rate: `firing_pattern` must be one of {_PATTERNS}, got {firing_pattern!r}.")
    if correct_rate != 1 or incorrect_rate != 0:
        raise NotImplementedError(
            "spikegen.targets_rate: time-varying rate targets (correct_rate != 1 or incorrect_rate != 0) are not "
            "reproduced: snnTorch 1.0 fails on them unless num_classes == num_steps, and then returns a "
            "malformed [T, B, C, B, C] tensor. To train towards firing rates use "
            "tritonsnn.loss.mse_count(spk, targets, correct_rate=..., incorrect_rate=...) "
            "(snnTorch's mse_count_loss), which targets spike counts."
        )
    if first_spike_time < 0:
        raise ValueError(f"spikegen.targets_rate: `first_spike_time` ({first_spike_time}) cannot be negative.")
    one_hot = to_one_hot(targets, num_classes)
    if first_spike_time == 0:
        if on_target > off_target:
            return torch.clamp(one_hot * on_target, off_target)
        return one_hot * on_target + ~one_hot.bool() * off_target
    out = torch.clamp(one_hot * on_target, off_target).repeat(int(num_steps), 1, 1)
    out[:first_spike_time] = off_target
    return out


def targets_latency(
    targets,
    num_classes,
    num_steps=False,
    first_spike_time=0,
    on_target=1,
    off_target=0,
    interpolate=False,
    threshold=0.01,
    tau=1,
    clip=False,
    normalize=False,
    linear=False,
    epsilon=1e-7,
    bypass=False,
):
    """Latency-coded targets: :func:`latency` of ``to_one_hot(targets, num_classes)``.

    The target class (value 1) spikes first; the others (value 0, below
    ``threshold``) spike last, or never with ``clip=True``.

    Returns:
        ``[num_steps, B, num_classes]`` float32 tensor.
    """
    return latency(
        to_one_hot(targets, num_classes),
        num_steps=num_steps,
        first_spike_time=first_spike_time,
        on_target=on_target,
        off_target=off_target,
        interpolate=interpolate,
        threshold=threshold,
        tau=tau,
        clip=clip,
        normalize=normalize,
        linear=linear,
        bypass=bypass,
        epsilon=epsilon,
    )


def targets_convert(
    targets,
    num_classes,
    code="rate",
    num_steps=False,
    first_spike_time=0,
    correct_rate=1,
    incorrect_rate=0,
    on_target=1,
    off_target=0,
    firing_pattern="regular",
    interpolate=False,
    epsilon=1e-7,
    threshold=0.01,
    tau=1,
    clip=False,
    normalize=False,
    linear=False,
    bypass=False,
):
    """Spike-coded targets: :func:`targets_rate` (``code="rate"``) or :func:`targets_latency` (``"latency"``).

    As in snnTorch, ``code="latency"`` passes neither ``on_target``,
    ``off_target``, ``interpolate`` nor ``epsilon`` on (their defaults apply).
    """
    if code == "rate":
        return targets_rate(
            targets=targets,
            num_classes=num_classes,
            num_steps=num_steps,
            first_spike_time=first_spike_time,
            correct_rate=correct_rate,
            incorrect_rate=incorrect_rate,
            on_target=on_target,
            off_target=off_target,
            firing_pattern=firing_pattern,
            interpolate=interpolate,
            epsilon=epsilon,
        )
    if code == "latency":
        return targets_latency(
            targets,
            num_classes,
            num_steps=num_steps,
            threshold=threshold,
            tau=tau,
            first_spike_time=first_spike_time,
            clip=clip,
            normalize=normalize,
            linear=linear,
            bypass=bypass,
        )
    raise ValueError(f"spikegen.targets_convert: `code` must be 'rate' or 'latency', got {code!r}.")
