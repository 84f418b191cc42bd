"""Synapse Modules: current filters, delays, and the Connection / Cell composition.

Like the neurons, these hold configuration, parameters and state only; the
dynamics live in :mod:`tritonsnn.functional` (fused scans and gathers over time).

* :class:`ExpSynapse`, :class:`DualExpSynapse`: spikes (or weighted input) to
  synaptic current, ``[T, B, *features]`` in, fp32 current out.
* :class:`Delay`: per-channel, fractional, trainable transmission delays.
* :class:`Connection`: delay -> weights (``Linear``/``Conv``) -> synapse filter, giving
  the input current of a neuron group (Inferno's Connection).
* :class:`Cell`: a connection plus the neurons it drives (Inferno's Cell); it can
  record the pre- and postsynaptic spikes that :class:`tritonsnn.STDP` learns from.

Nothing forces this structure: every piece is an ordinary layer that also works
inside ``nn.Sequential`` next to ``nn.Linear`` and ``tsnn.Leaky``.
"""

from __future__ import annotations

import math

import torch
from torch import nn

from . import _backend
from . import functional as F
from .utils import as_sequence, own_storage, register_tensor

__all__ = ["ExpSynapse", "DualExpSynapse", "Delay", "DelayedLinear", "OneToOne", "Connection", "Cell"]

_STEP_MODES = ("multi", "single")


def _decay(alpha, tau, dt, name):
    """``alpha`` as given, or ``exp(-dt / tau)`` from a time constant in milliseconds."""
    if (alpha is None) == (tau is None):
        raise ValueError(f"give exactly one of {name} (decay per step) or its time constant tau (ms, with dt)")
    if alpha is not None:
        return alpha
    if not (isinstance(dt, (int, float)) and dt > 0):
        raise ValueError(f"dt must be a positive step length in milliseconds; got {dt!r}")
    tau_t = torch.as_tensor(tau, dtype=torch.float32)
    if not bool((tau_t > 0).all()):
        raise ValueError(f"tau must be > 0 milliseconds; got {tau}")
    return torch.exp(-dt / tau_t)


class _Stateful(nn.Module):
    """Single/multi-step protocol shared by the synapse filters (as in ``SpikingNeuron``)."""

    def __init__(self, step_mode, stateful, backend):
        super().__init__()
        if step_mode not in _STEP_MODES:
            raise ValueError(f"step_mode must be one of {_STEP_MODES}; got {step_mode!r}")
        self.step_mode = step_mode
        self.stateful = bool(stateful)
        self.backend = _backend.check_backend_name(backend)
        self.state = None  # a plain attribute, so it never enters state_dict

    def forward(self, x):
        single = self.step_mode == "single"
        x = as_sequence(x, single)
        carry = single or self.stateful
        state = self.state if carry and self._state_fits(x) else None
        y, final = self._filter(x, state)
        if carry:
            self.state = tuple(map(own_storage, final)) if isinstance(final, tuple) else own_storage(final)
        return y[0] if single else y

    def _state_fits(self, x):
        s = self.state
        first = s[0] if isinstance(s, tuple) else s
        return first is not None and first.shape == x.shape[1:]

    def reset_state(self):
        """Forget the carried state: the next call starts from zero."""
        self.state = None

    def detach_state(self):
        """Cut the carried state from the autograd graph (truncated BPTT)."""
        if isinstance(self.state, tuple):
            self.state = tuple(s.detach() for s in self.state)
        elif self.state is not None:
            self.state = self.state.detach()


class ExpSynapse(_Stateful):
    """Single-exponential current synapse: ``i[t] = alpha * i[t-1] + x[t]``.

    Args:
        alpha: decay per step in [0, 1] (clamped), number or tensor broadcastable to the
            feature shape (per channel). Give this or ``tau``.
        tau: time constant in milliseconds (``alpha = exp(-dt / tau)``), number or tensor.
        dt: step length in milliseconds (used with ``tau``).
        learn_alpha: make ``alpha`` an ``nn.Parameter`` (gradient reduced in the fused kernel).
        step_mode: ``"multi"`` (``[T, B, ...]``) or ``"single"`` (``[B, ...]``, stateful).
        stateful: in multi-step mode, carry the final current into the next call.
        backend: ``"auto"``, ``"triton"`` or ``"torch"``.
    """

    def __init__(
        self, alpha=None, *, tau=None, dt=1.0, learn_alpha=False, step_mode="multi", stateful=False, backend="auto"
    ):
        super().__init__(step_mode, stateful, backend)
        register_tensor(self, "alpha", _decay(alpha, tau, dt, "alpha"), learn_alpha)

    def _filter(self, x, state):
        return F.exp_synapse(x, self.alpha, i0=state, return_state=True, backend=self.backend)

    def extra_repr(self):
        return f"alpha={_short(self.alpha)}, step_mode={self.step_mode!r}, stateful={self.stateful}"


class DualExpSynapse(_Stateful):
    """Double-exponential synapse, a cascade of two exponential filters (see
    :func:`tritonsnn.functional.dual_exp_synapse` for the exact form and impulse response).

    ``h[t] = alpha1 * h[t-1] + x[t]``; ``i[t] = alpha2 * i[t-1] + h[t]``; output ``i``.

    Args:
        alpha1: decay per step of the first stage, clamped to [0, 1]; scalar or per channel.
            Give ``alpha1``/``alpha2`` or ``tau1``/``tau2`` (milliseconds, with ``dt``).
        alpha2: decay per step of the second stage (as ``alpha1``).
        tau1: time constant of the first stage in milliseconds.
        tau2: time constant of the second stage in milliseconds.
        dt: step length in milliseconds.
        learn_alpha: make both decays ``nn.Parameter``s.
        step_mode: as :class:`ExpSynapse`.
        stateful: as :class:`ExpSynapse`.
        backend: as :class:`ExpSynapse`.
    """

    def __init__(
        self,
        alpha1=None,
        alpha2=None,
        *,
        tau1=None,
        tau2=None,
        dt=1.0,
        learn_alpha=False,
        step_mode="multi",
        stateful=False,
        backend="auto",
    ):
        super().__init__(step_mode, stateful, backend)
        register_tensor(self, "alpha1", _decay(alpha1, tau1, dt, "alpha1"), learn_alpha)
        register_tensor(self, "alpha2", _decay(alpha2, tau2, dt, "alpha2"), learn_alpha)

    def _filter(self, x, state):
        return F.dual_exp_synapse(x, self.alpha1, self.alpha2, state0=state, return_state=True, backend=self.backend)

    def extra_repr(self):
        return (
            f"alpha1={_short(self.alpha1)}, alpha2={_short(self.alpha2)}, "
            f"step_mode={self.step_mode!r}, stateful={self.stateful}"
        )


class _Delays(nn.Module):
    """What :class:`Delay` and :class:`DelayedLinear` share: validated delays (``d`` already a
    tensor), in steps or milliseconds, clamped to ``[0, max_delay]`` when learned, and the input
    history a stateful module keeps."""

    def _init_delays(self, d, *, dt, learn_delay, max_delay, stateful):
        if dt is not None and not (isinstance(dt, (int, float)) and dt > 0):
            raise ValueError(f"dt must be a positive step length in milliseconds (or None for steps); got {dt!r}")
        if not bool(torch.isfinite(d).all()) or (d.numel() and float(d.min()) < 0):
            raise ValueError(f"delays must be finite and >= 0; got values in [{float(d.min())}, {float(d.max())}]")
        if max_delay is not None and not (
            isinstance(max_delay, (int, float)) and math.isfinite(max_delay) and max_delay >= float(d.max())
        ):
            raise ValueError(
                f"max_delay must be a finite number >= every delay (max {float(d.max()):g}); got {max_delay!r}"
            )
        self.dt = dt
        self.max_delay = None if max_delay is None else float(max_delay)
        self.stateful = bool(stateful)
        register_tensor(self, "delay", d, learn_delay)
        self.history = None  # last input steps of a stateful module (not in state_dict)

    def _steps(self):
        d = self.delay.clamp(0, self.max_delay) if isinstance(self.delay, nn.Parameter) else self.delay
        return d if self.dt is None else d / self.dt

    def _longest(self, steps) -> int:
        """Whole steps of the longest delay a call may see (``max_delay`` bounds learned ones)."""
        longest = float(steps.detach().max()) if self.max_delay is None else self.max_delay / (self.dt or 1.0)
        return int(math.floor(longest))

    def _with_history(self, x, keep):
        """``x`` with the ``keep`` input steps before it in front: the previous call's last ones when
        stateful (zeros where there were none, the same as zero padding before the start); the
        last ``keep`` steps are kept for the next call."""
        hist = self.history if self.stateful else None
        if hist is None or hist.shape[1:] != x.shape[1:]:
            hist = x.new_zeros(0, *x.shape[1:])
        if hist.shape[0] < keep:
            hist = torch.cat([hist.new_zeros(keep - hist.shape[0], *x.shape[1:]), hist])
        padded = torch.cat([hist[hist.shape[0] - keep :].to(x.dtype), x])
        if self.stateful:
            self.history = own_storage(padded[padded.shape[0] - keep :])
        return padded

    def reset_state(self):
        """Forget the kept history."""
        self.history = None

    def detach_state(self):
        if self.history is not None:
            self.history = self.history.detach()


class Delay(_Delays):
    """Per-channel (heterogeneous) transmission delays, fractional and trainable.

    ``y[t] = (1 - f) * x[t - k] + f * x[t - k - 1]`` for a delay ``d = k + f`` steps,
    zero before the start; see :func:`tritonsnn.functional.delay`.

    Args:
        delay: delays (>= 0), number or tensor broadcastable to the feature shape, in steps,
            or in milliseconds when ``dt`` is given.
        dt: step length in milliseconds, or None for delays in steps.
        learn_delay: make the delays an ``nn.Parameter`` (gradient = interpolation slope).
            Learned delays are clamped to ``[0, max_delay]`` in the forward pass.
        max_delay: the longest delay (same unit as ``delay``) learned delays may reach; a
            stateful module keeps that much input history, so that the spikes still in flight
            reach later chunks however the delays move. Needed for ``stateful`` learned delays.
        stateful: keep the last steps of input so that delays reach back into the previous
            call (chunked sequences); otherwise each call starts from zero history and a
            delay must be shorter than the sequence.
        backend: ``"auto"``, ``"triton"`` or ``"torch"``.
    """

    def __init__(self, delay, *, dt=None, learn_delay=False, max_delay=None, stateful=False, backend="auto"):
        super().__init__()
        if stateful and learn_delay and max_delay is None:
            raise ValueError(
                "a stateful Delay with learned delays needs max_delay= (the longest delay it may learn, in the "
                "unit of delay): it keeps that much input history, so that spikes in flight reach the next chunk"
            )
        self._init_delays(
            torch.as_tensor(delay, dtype=torch.float32),
            dt=dt,
            learn_delay=learn_delay,
            max_delay=max_delay,
            stateful=stateful,
        )
        self.backend = _backend.check_backend_name(backend)

    def forward(self, x):
        steps = self._steps()
        if not self.stateful:
            return F.delay(x, steps, backend=self.backend)
        keep = self._longest(steps) + 1  # the input steps the longest delay reaches back
        return F.delay(self._with_history(x, keep), steps, backend=self.backend)[keep:]

    def extra_repr(self):
        unit = "steps" if self.dt is None else f"ms, dt={self.dt}"
        bound = "" if self.max_delay is None else f", max_delay={self.max_delay:g}"
        return f"delay={_short(self.delay)} ({unit}){bound}, stateful={self.stateful}"


class DelayedLinear(_Delays):
    """A fully connected layer whose every synapse has its own transmission delay (Inferno's and
    PySNN's per-synapse delays): ``y[t, b, o] = bias[o] + sum_i W[o, i] * x[t - d[o, i], b, i]``.

    A fractional delay ``d = k + f`` interpolates between neighbouring steps as :class:`Delay`
    does, ``(1 - f) x[t - k] + f x[t - k - 1]``, so delays train by gradient; with
    ``interpolation="exp_decay"`` (Inferno's, for an input that is a synaptic current decaying
    with time constant ``tau``) it reads ``x[t - ceil(d)]`` decayed over the ``ceil(d) - d``
    steps to the delayed time (:func:`tritonsnn.functional.delay_shares`). The layer runs as one
    matrix product per whole-step lag: the weight is split over lags ``0 .. K-1`` by the
    interpolation's shares (``K`` = the longest delay + 2), and the shifted inputs are
    multiplied by their share. Inputs are ``[T, B, in_features]`` (time first).

    Args:
        in_features: inputs per sample.
        out_features: outputs per sample.
        delay: delays (>= 0), a number or a tensor broadcastable to ``[out_features, in_features]``,
            in steps, or in milliseconds when ``dt`` is given.
        bias: add a learnable bias.
        dt: step length in milliseconds, or None for delays in steps.
        learn_delay: make the delays an ``nn.Parameter`` (clamped to ``[0, max_delay]`` in forward).
        max_delay: the longest delay learned delays may reach (same unit as ``delay``); needed with
            ``learn_delay`` (it fixes the number of lags).
        stateful: keep the last input steps, so that delays reach back into the previous call.
        interpolation: of fractional delays, ``"linear"`` or ``"exp_decay"``.
        tau: with ``"exp_decay"``, the input current's time constant (same unit as ``delay``).
    """

    def __init__(
        self,
        in_features,
        out_features,
        delay=0.0,
        *,
        bias=True,
        dt=None,
        learn_delay=False,
        max_delay=None,
        stateful=False,
        interpolation="linear",
        tau=None,
    ):
        super().__init__()
        dense = nn.Linear(in_features, out_features, bias=bias)  # nn.Linear's initialisation
        self.in_features, self.out_features = in_features, out_features
        self.weight = dense.weight
        self.bias = dense.bias
        d = torch.as_tensor(delay, dtype=torch.float32)
        try:
            d = torch.broadcast_to(d, (out_features, in_features)).clone()
        except RuntimeError:
            raise ValueError(
                f"delay of shape {tuple(d.shape)} must broadcast to [out_features, in_features] = "
                f"{[out_features, in_features]}"
            ) from None
        if learn_delay and max_delay is None:
            raise ValueError("learn_delay=True needs max_delay= (the longest delay it may learn; it fixes the lags)")
        self._init_delays(d, dt=dt, learn_delay=learn_delay, max_delay=max_delay, stateful=stateful)
        if interpolation not in ("linear", "exp_decay"):
            raise ValueError(f"interpolation must be 'linear' or 'exp_decay'; got {interpolation!r}")
        if (interpolation == "exp_decay") != (tau is not None):
            raise ValueError("interpolation='exp_decay' needs tau= (the input's time constant), and only it takes one")
        if tau is not None and not (isinstance(tau, (int, float)) and math.isfinite(tau) and tau > 0):
            raise ValueError(f"tau must be a time constant > 0; got {tau!r}")
        self.interpolation, self.tau = interpolation, tau

    def _tau_steps(self):
        """The exponential interpolation's time constant in steps (None: linear)."""
        return None if self.tau is None else self.tau / (self.dt or 1.0)

    def forward(self, x):
        if x.dim() < 3 or x.shape[-1] != self.in_features:
            raise ValueError(f"DelayedLinear expects [T, B, {self.in_features}] (time first); got {tuple(x.shape)}")
        steps = self._steps()
        lags = self._longest(steps) + 2  # whole-step lags 0 .. longest + 1 (interpolation's upper neighbour)
        T = x.shape[0]
        past = lags - 1  # steps of input before this call that a lag can reach
        padded = self._with_history(x, past)
        k = torch.arange(lags, dtype=steps.dtype, device=steps.device)[:, None, None]
        shares = self.weight * F.delay_shares(steps, k, self._tau_steps())  # [lags, O, I]
        y = None
        for lag in range(lags):
            term = torch.nn.functional.linear(padded[past - lag : past - lag + T], shares[lag])
            y = term if y is None else y + term
        if self.bias is not None:
            y = y + self.bias
        return y

    def extra_repr(self):
        unit = "steps" if self.dt is None else f"ms, dt={self.dt}"
        longest = f"delays up to {float(self.delay.max()):g} {unit}"
        exp = "" if self.tau is None else f", interpolation='exp_decay', tau={self.tau:g}"
        return (
            f"in_features={self.in_features}, out_features={self.out_features}, {longest}, "
            f"stateful={self.stateful}{exp}"
        )


class OneToOne(nn.Module):
    """A one-to-one connection: feature ``i`` of the input drives neuron ``i`` through its own
    weight, ``y = x * weight`` over the last axis (``[T, B, N]`` or ``[B, N]``). Inferno's and
    PySNN's one-to-one (and, with a layer's own spikes as input, lateral self-) connections;
    :class:`tritonsnn.STDP`, :class:`tritonsnn.MSTDPET` and :class:`tritonsnn.TripletSTDP` learn its
    weight ``[N]`` elementwise.

    Args:
        features: N.
        init: the initial weight, a number or ``[N]`` values.
    """

    def __init__(self, features: int, init=1.0):
        super().__init__()
        if not isinstance(features, int) or features < 0:
            raise ValueError(f"features must be an int >= 0; got {features!r}")
        w = torch.as_tensor(init, dtype=torch.float32).detach().clone()
        if w.numel() not in (1, features):
            raise ValueError(f"init must be a number or [features] = [{features}] values; got shape {tuple(w.shape)}")
        self.weight = nn.Parameter(w.expand(features).clone() if w.numel() == 1 else w.reshape(features))

    def forward(self, x):
        if x.shape[-1:] != self.weight.shape:
            raise ValueError(
                f"OneToOne({self.weight.shape[0]}) takes [..., {self.weight.shape[0]}]; got {tuple(x.shape)}"
            )
        return x * self.weight

    def extra_repr(self):
        return f"features={self.weight.shape[0]}"


class Connection(nn.Module):
    """Presynaptic spikes to postsynaptic current: ``synapse(layer(delay(x)))``.

    ``delay`` acts per presynaptic channel, ``layer`` (any stateless map such as
    ``nn.Linear`` or ``nn.Conv2d``) is applied to every step at once, and ``synapse``
    filters the weighted input per postsynaptic channel (a current-based synapse).

    Args:
        layer: the weights, applied over ``[T*B, ...]`` in one call.
        synapse: an :class:`ExpSynapse`/:class:`DualExpSynapse` (or None: current = weighted input).
        delay: a :class:`Delay` (or None).
        record: keep the (delayed) presynaptic spikes of the last call in ``self.presynaptic``
            for plasticity rules.

    Example::

        conn = tsnn.Connection(nn.Linear(100, 10), synapse=tsnn.ExpSynapse(tau=5.0),
                               delay=tsnn.Delay(torch.rand(100) * 3))
        cell = tsnn.Cell(conn, tsnn.Leaky(beta=0.9))
        spikes = cell(x_seq)            # [T, B, 100] -> [T, B, 10]
    """

    def __init__(
        self, layer: nn.Module, synapse: nn.Module | None = None, delay: nn.Module | None = None, record: bool = False
    ):
        super().__init__()
        if not isinstance(layer, nn.Module):
            raise TypeError(f"layer must be an nn.Module (e.g. nn.Linear); got {type(layer).__name__}")
        self.layer = layer
        self.synapse = synapse
        self.delay = delay
        self.record = bool(record)
        self.presynaptic = None

    @property
    def weight(self):
        return self.layer.weight

    def forward(self, x):
        if not isinstance(x, torch.Tensor) or x.dim() < 2:
            raise ValueError(f"Connection expects [T, B, ...]; got shape {tuple(getattr(x, 'shape', ()))}")
        if self.delay is not None:
            x = self.delay(x)
        if self.record:
            self.presynaptic = x.detach()
        y = self.layer(x.flatten(0, 1)).unflatten(0, x.shape[:2])
        return self.synapse(y) if self.synapse is not None else y

    def reset_state(self):
        self.presynaptic = None

    def detach_state(self):
        pass


class Cell(nn.Module):
    """A connection and the neurons it drives: ``neuron(connection(x))``.

    Args:
        connection: a :class:`Connection` (or any layer producing input current).
        neuron: a multi-step neuron such as ``tsnn.Leaky``.
        record: keep the presynaptic spikes (``self.pre``, after the delay) and the
            postsynaptic spikes (``self.post``) of the last call, detached, for
            :class:`tritonsnn.STDP`.
    """

    def __init__(self, connection: nn.Module, neuron: nn.Module, record: bool = False):
        super().__init__()
        self.connection = connection
        self.neuron = neuron
        self.record = bool(record)
        self.pre = self.post = None

    def forward(self, x):
        conn = self.connection
        if self.record and isinstance(conn, Connection):
            conn.record = True  # STDP needs the spikes as they arrive, i.e. after the delay
        out = self.neuron(conn(x))
        if self.record:
            self.pre = conn.presynaptic if isinstance(conn, Connection) and conn.presynaptic is not None else x.detach()
            self.post = (out[0] if isinstance(out, tuple) else out).detach()
        return out

    def reset_state(self):
        self.pre = self.post = None

    def detach_state(self):
        pass


def _short(t):
    return f"{t.item():.4g}" if t.numel() == 1 else f"tensor{tuple(t.shape)}"
