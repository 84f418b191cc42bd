"""Plasticity: spike traces, pair-based STDP (plain and reward-modulated), and
homeostatic threshold adaptation.

The rules are computed for a whole sequence at once (traces by the fused scan,
weight changes as matrix products over time and batch; see
:func:`tritonsnn.functional.stdp`). State (traces) is per sample; what is learned
(weights, thresholds) is shared by the batch and receives the mean (or sum) of the
per-sample updates. These Modules hold configuration and state; the math lives in
:mod:`tritonsnn.functional`.

Example::

    cell = tsnn.Cell(tsnn.Connection(nn.Linear(64, 8, bias=False)), tsnn.Leaky(beta=0.9), record=True)
    stdp = tsnn.STDP(cell, a_plus=1e-2, a_minus=1.2e-2, tau_pre=20.0, tau_post=20.0,
                     rule="multiplicative", w_min=0.0, w_max=1.0)
    with torch.no_grad():
        cell(spikes_in)          # records pre and post spikes
        stdp.update()            # W += dW (mean over the batch), kept in [w_min, w_max]
"""

from __future__ import annotations

import math

import torch
from torch import nn

from . import _backend
from . import functional as F
from ._distributed import global_sum, group_for
from .neurons import RLeaky, RSynaptic
from .synapses import Cell, Connection, DelayedLinear, OneToOne
from .utils import MultiStep

__all__ = [
    "Trace",
    "STDP",
    "KernelSTDP",
    "MSTDPET",
    "TripletSTDP",
    "HomeostaticThreshold",
    "normalize_",
    "previous_step",
]


def _trace_decay(tau, dt, name):
    if not (isinstance(dt, (int, float)) and dt > 0):
        raise ValueError(f"dt must be a positive step length in milliseconds; got {dt!r}")
    if not (isinstance(tau, (int, float)) and tau > 0):
        raise ValueError(f"{name} must be a time constant > 0 milliseconds; got {tau!r}")
    return math.exp(-dt / tau)


class Trace(nn.Module):
    """Spike trace as a layer: ``tr[t] = decay * tr[t-1] + amplitude * s[t]`` (or ``"nearest"``).

    Args:
        tau: time constant in milliseconds (``decay = exp(-dt / tau)``).
        dt: step length in milliseconds.
        mode: ``"cumulative"`` or ``"nearest"`` (see :func:`tritonsnn.functional.trace`).
        amplitude: per-spike increment (cumulative) or value (nearest).
        stateful: carry the final trace into the next call.
        backend: ``"auto"``, ``"triton"`` or ``"torch"``.
    """

    def __init__(self, tau, dt=1.0, mode="cumulative", amplitude=1.0, stateful=False, backend="auto"):
        super().__init__()
        self.decay = _trace_decay(tau, dt, "tau")
        if mode not in ("cumulative", "nearest"):
            raise ValueError(f"mode must be 'cumulative' or 'nearest'; got {mode!r}")
        self.mode = mode
        self.amplitude = float(amplitude)
        self.stateful = bool(stateful)
        self.backend = _backend.check_backend_name(backend)
        self.state = None

    def forward(self, spikes):
        trace0 = (
            self.state if self.stateful and self.state is not None and self.state.shape == spikes.shape[1:] else None
        )
        tr, final = F.trace(
            spikes,
            self.decay,
            mode=self.mode,
            amplitude=self.amplitude,
            trace0=trace0,
            return_state=True,
            backend=self.backend,
        )
        if self.stateful:
            self.state = final.detach()
        return tr

    def reset_state(self):
        self.state = None

    def detach_state(self):
        if self.state is not None:
            self.state = self.state.detach()


def _layer_of(target):
    """The ``nn.Linear``, ``nn.Conv2d``, ``DelayedLinear`` or ``OneToOne`` whose weight a rule learns
    (a recurrent neuron's: its lateral ``recurrent`` layer)."""
    layer = target
    if isinstance(layer, (RLeaky, RSynaptic)):
        if not layer.all_to_all:
            raise ValueError(
                f"STDP on a {type(layer).__name__} learns its all-to-all recurrent layer; this one is "
                "one-to-one (all_to_all=False): learn its V with tsnn.OneToOne-style rules instead"
            )
        layer = layer.recurrent
    if isinstance(layer, Cell):
        layer = layer.connection
    if isinstance(layer, Connection):
        layer = layer.layer
    if isinstance(layer, MultiStep):
        layer = layer.layer
    if isinstance(layer, nn.Conv2d) and (
        layer.groups != 1 or layer.padding_mode != "zeros" or isinstance(layer.padding, str)
    ):
        raise ValueError(
            "STDP on an nn.Conv2d needs groups=1, zero padding and a numeric padding; got "
            f"groups={layer.groups}, padding_mode={layer.padding_mode!r}, padding={layer.padding!r}"
        )
    if not isinstance(layer, (nn.Linear, nn.Conv2d, DelayedLinear, OneToOne)):
        raise TypeError(
            "STDP learns the weight of an nn.Linear, nn.Conv2d, tsnn.DelayedLinear or tsnn.OneToOne (directly, in "
            f"tsnn.MultiStep, or inside a tsnn.Connection or tsnn.Cell); got {type(layer).__name__}"
        )
    return layer


def _geometry(layer) -> dict:
    """The convolution's arguments of the STDP functions (none for a dense layer)."""
    if isinstance(layer, nn.Conv2d):
        return dict(stride=layer.stride, padding=layer.padding, dilation=layer.dilation)
    if isinstance(layer, DelayedLinear):
        steps = layer._steps().detach()
        return dict(delay=steps if layer.tau is None else (steps, layer._tau_steps()))
    return {}


class STDP(nn.Module):
    """Pair-based STDP for a fully connected or convolutional layer, once per sequence (minibatch).

    The weight change of the whole sequence is :func:`tritonsnn.functional.stdp`
    (traces by the fused scan, sums over time and batch as matrix products), with
    the weight held fixed during the sequence; :meth:`update` adds it to the shared
    weight and clamps to ``[w_min, w_max]``.

    Args:
        target: an ``nn.Linear``, an ``nn.Conv2d`` (bare or in ``tsnn.MultiStep``; pre and post
            spikes then ``[T, B, C, H, W]``), a :class:`tritonsnn.DelayedLinear` (the presynaptic side
            reaches each synapse after its delay), a :class:`tritonsnn.OneToOne` (weight ``[N]``, learnt
            elementwise), a :class:`tritonsnn.Connection`/:class:`tritonsnn.Cell` wrapping one, or an
            all-to-all ``tsnn.RLeaky``/``tsnn.RSynaptic``, whose lateral ``recurrent`` layer it learns
            (the presynaptic spikes are the layer's own one step earlier: :func:`previous_step`).
            With a recording ``Cell``, :meth:`update` needs no arguments.
        a_plus: learning rate (>= 0) of potentiation.
        a_minus: learning rate (>= 0) of depression.
        tau_pre: presynaptic trace time constant in milliseconds.
        tau_post: postsynaptic trace time constant in milliseconds.
        dt: step length in milliseconds.
        rule: ``"additive"`` (hard bounds by clamping), ``"multiplicative"`` (soft bounds), ``"power"``,
            ``"sharp"``, ``"scaled_multiplicative"`` or ``"scaled_power"`` (see
            :func:`tritonsnn.functional.stdp`); the weight is clamped to
            ``[w_min, w_max]`` after every update.
        bound_power: exponent of ``rule="power"``, a number or ``(potentiation, depression)``.
        w_min: lower weight bound (``w_min < w_max``); required for ``"multiplicative"``.
        w_max: upper weight bound; required for ``"multiplicative"``.
        reduction: ``"mean"`` (default), ``"sum"``, or ``"max"``/``"min"``/``"median"`` of the
            per-sample updates (not across processes: with torch.distributed only mean and sum).
        trace_mode: ``"cumulative"`` or ``"nearest"``.
        stateful: carry the per-sample traces across calls (chunked sequences).
        backend: backend of the trace scans.
        distributed: with torch.distributed initialised (DDP, FSDP), sum the weight change
            over ``process_group``: ``"mean"`` and ``"sum"`` are then those of the global batch
            and every replica moves its weight alike. ``False`` keeps each rank's own batch.
        process_group: the group to reduce over (None: the default group).
    """

    def __init__(
        self,
        target,
        *,
        a_plus,
        a_minus,
        tau_pre=20.0,
        tau_post=20.0,
        dt=1.0,
        rule="additive",
        w_min=None,
        w_max=None,
        bound_power=1.0,
        reduction="mean",
        trace_mode="cumulative",
        stateful=False,
        backend="auto",
        distributed=True,
        process_group=None,
    ):
        super().__init__()
        F.check_stdp_options(a_plus, a_minus, rule, w_min, w_max, reduction, bound_power)
        self.distributed, self.process_group = bool(distributed), process_group
        if reduction not in ("mean", "sum") and self.distributed and torch.distributed.is_initialized():
            raise ValueError(
                f"reduction={reduction!r} needs every sample's update, which the distributed sum does not "
                "give: use 'mean' or 'sum', or distributed=False (each rank's own batch)"
            )
        # In a tuple, not as submodules: the model owns the layer, and its weight must not
        # appear twice in a state_dict that holds both.
        self._target = (_layer_of(target), target if isinstance(target, Cell) else None)
        if self.cell is not None and not self.cell.record:
            raise ValueError("the Cell must record its spikes for STDP: build it with tsnn.Cell(..., record=True)")
        self.a_plus, self.a_minus = float(a_plus), float(a_minus)
        self.decay_pre = _trace_decay(tau_pre, dt, "tau_pre")
        self.decay_post = _trace_decay(tau_post, dt, "tau_post")
        self.rule, self.w_min, self.w_max, self.bound_power = rule, w_min, w_max, bound_power
        self.reduction, self.trace_mode = reduction, trace_mode
        self.stateful = bool(stateful)
        if self.stateful and isinstance(self.linear, DelayedLinear):
            raise ValueError(
                "stateful STDP on a tsnn.DelayedLinear is not supported: spikes still in flight at a chunk's "
                "end would not pair in the next one; run whole sequences (stateful=False)"
            )
        self.backend = _backend.check_backend_name(backend)
        self.pre_trace = self.post_trace = None

    @property
    def linear(self) -> nn.Module:
        """The layer whose weight this rule learns (an ``nn.Linear`` or ``nn.Conv2d``)."""
        return self._target[0]

    @property
    def cell(self):
        """The recording Cell given as target, or None."""
        return self._target[1]

    def forward(self, pre, post, reward=None):
        """The weight change ``dW [O, I]`` of one sequence, not applied (see :meth:`update`)."""
        carry = self.stateful and self.pre_trace is not None and self.pre_trace.shape[0] == pre.shape[1]
        group = group_for(self.distributed, self.process_group)
        delta, x_pre, x_post = F.stdp(
            pre,
            post,
            self.linear.weight,
            a_plus=self.a_plus,
            a_minus=self.a_minus,
            decay_pre=self.decay_pre,
            decay_post=self.decay_post,
            **self._weight_options(group),
            reward=reward,
            trace_mode=self.trace_mode,
            pre_trace0=self.pre_trace if carry else None,
            post_trace0=self.post_trace if carry else None,
            return_traces=True,
            backend=self.backend,
            **_geometry(self.linear),
        )
        if self.stateful and pre.shape[0] > 0:
            self.pre_trace, self.post_trace = x_pre[-1], x_post[-1]
        return self._across(delta, pre.shape[1], group)

    def _weight_options(self, group) -> dict:
        """The weight dependence and batch reduction every rule's function takes; with a process
        ``group`` the batch's sum, for :meth:`_across` to reduce over the global batch."""
        reduction = "sum" if group is not None else self.reduction
        return dict(
            rule=self.rule, w_min=self.w_min, w_max=self.w_max, bound_power=self.bound_power, reduction=reduction
        )

    def _across(self, delta, batch, group):
        """``delta`` (a batch's sum when ``group`` is set) as the global batch's sum or mean."""
        if group is None:
            return delta
        delta, batch = global_sum(delta.contiguous(), batch, group)
        return delta / batch if self.reduction == "mean" and batch > 0 else delta

    @torch.no_grad()
    def update(self, pre=None, post=None, reward=None):
        """Apply one sequence's STDP to the weight in place; returns ``dW``.

        ``pre``/``post`` default to the spikes a recording Cell kept from its last call.
        """
        if pre is None or post is None:
            if self.cell is None or self.cell.pre is None:
                raise ValueError(
                    "pass pre and post spikes, or build STDP on a tsnn.Cell(..., record=True) and run it first"
                )
            pre, post = self.cell.pre, self.cell.post
        delta = self(pre, post, reward)
        w = self.linear.weight
        w.add_(delta.to(w.dtype))
        if self.w_min is not None or self.w_max is not None:
            w.clamp_(min=self.w_min, max=self.w_max)
        return delta

    def reset_state(self):
        self.pre_trace = self.post_trace = None

    def detach_state(self):
        pass

    def extra_repr(self):
        return (
            f"a_plus={self.a_plus:g}, a_minus={self.a_minus:g}, rule={self.rule!r}, "
            f"w_min={self.w_min}, w_max={self.w_max}, reduction={self.reduction!r}"
        )


class MSTDPET(STDP):
    """Reward-modulated STDP with an eligibility trace (MSTDPET, Florian 2007; PySNN's main rule).

    Each step's STDP pair term enters a per-sample eligibility trace of time constant
    ``tau_eligibility``; the reward of every step, ``[T, B]`` (or ``[T]``, ``[B]``, a number), turns
    the trace into the weight change (:func:`tritonsnn.functional.mstdpet`: two matrix products,
    no trace over time kept). :meth:`update` applies it and clamps like :class:`STDP`, whose
    options it takes; with ``stateful=True`` the spike traces and the eligibility ``[B, O, I]``
    carry into the next call, so a reward that arrives later still credits earlier spikes.

    Args:
        target: an ``nn.Linear``, or a :class:`tritonsnn.Connection`/:class:`tritonsnn.Cell` around one.
        a_plus: learning rate (>= 0) of potentiation.
        a_minus: learning rate (>= 0) of depression.
        tau_eligibility: eligibility time constant in milliseconds.
        bound_by_effect: bound each term by what the reward makes of it, as Inferno's MSTDPET
            (see :func:`tritonsnn.functional.mstdpet`); needs a weight-dependent ``rule``.
        **stdp_options: ``tau_pre``, ``tau_post``, ``dt``, ``rule``, ``w_min``, ``w_max``,
            ``reduction``, ``trace_mode``, ``stateful``, ``backend``, ``distributed``,
            ``process_group``, as :class:`STDP`.
    """

    def __init__(self, target, *, a_plus, a_minus, tau_eligibility=25.0, bound_by_effect=False, **stdp_options):
        super().__init__(target, a_plus=a_plus, a_minus=a_minus, **stdp_options)
        self.decay_eligibility = _trace_decay(tau_eligibility, stdp_options.get("dt", 1.0), "tau_eligibility")
        if bound_by_effect and self.rule == "additive":
            raise ValueError("bound_by_effect needs a weight-dependent rule (multiplicative, power, sharp)")
        self.bound_by_effect = bool(bound_by_effect)
        self.eligibility = None

    def forward(self, pre, post, reward=None):
        """The weight change ``dW [O, I]`` of one sequence under ``reward``, not applied (see :meth:`update`)."""
        if reward is None:
            raise ValueError("MSTDPET needs the reward of the sequence: reward=[T, B] (or [T], [B], a number)")
        B = pre.shape[1]
        carry = self.stateful and self.pre_trace is not None and self.pre_trace.shape[0] == B
        group = group_for(self.distributed, self.process_group)
        out = F.mstdpet(
            pre,
            post,
            self.linear.weight,
            reward,
            a_plus=self.a_plus,
            a_minus=self.a_minus,
            decay_pre=self.decay_pre,
            decay_post=self.decay_post,
            decay_eligibility=self.decay_eligibility,
            **self._weight_options(group),
            trace_mode=self.trace_mode,
            pre_trace0=self.pre_trace if carry else None,
            post_trace0=self.post_trace if carry else None,
            eligibility0=self.eligibility if carry else None,
            return_state=self.stateful,
            backend=self.backend,
            bound_by_effect=self.bound_by_effect,
            **_geometry(self.linear),
        )
        delta = out[0] if self.stateful else out
        if self.stateful and pre.shape[0] > 0:
            self.pre_trace, self.post_trace, self.eligibility = out[1]
        return self._across(delta, B, group)

    def reset_state(self):
        super().reset_state()
        self.eligibility = None

    def extra_repr(self):
        return super().extra_repr() + f", decay_eligibility={self.decay_eligibility:g}"


class KernelSTDP(STDP):
    """STDP with arbitrary kernels of the spike-time difference (Inferno's ``KernelSTDP``), nearest
    pairs, once per sequence: :func:`tritonsnn.functional.kernel_stdp`. :meth:`update` applies and
    clamps like :class:`STDP`; ``stateful=True`` carries the times since the latest spikes.

    Args:
        target: as :class:`STDP`.
        kernel_post: callable of ``d >= 0`` ms (post at or after pre) -> the change; positive
            values potentiate, negative ones depress.
        kernel_pre: callable of ``d < 0`` ms (pre after post) -> the change.
            :func:`tritonsnn.functional.exp_stdp_kernels` gives the exponential pair.
        dt: step length in milliseconds.
        **stdp_options: ``rule``, ``w_min``, ``w_max``, ``bound_power``, ``reduction``, ``stateful``,
            ``distributed``, ``process_group``, as :class:`STDP` (the kernels replace its traces).
    """

    def __init__(self, target, *, kernel_post, kernel_pre, dt=1.0, **stdp_options):
        traced = sorted({"a_plus", "a_minus", "tau_pre", "tau_post", "trace_mode", "backend"} & set(stdp_options))
        if traced:
            raise TypeError(f"KernelSTDP takes no {traced}: the kernels give the change of each spike pair")
        if not callable(kernel_post) or not callable(kernel_pre):
            raise TypeError("kernel_post and kernel_pre must be callables of the spike-time difference in ms")
        super().__init__(target, a_plus=0.0, a_minus=0.0, dt=dt, **stdp_options)
        self.kernel_post, self.kernel_pre, self.dt = kernel_post, kernel_pre, float(dt)
        self.elapsed = None  # (e_pre, e_post) after the last call, with stateful

    def forward(self, pre, post, reward=None):
        """The weight change of one sequence, not applied (see :meth:`update`)."""
        carry = self.stateful and self.elapsed is not None and self.elapsed[0].shape[0] == pre.shape[1]
        group = group_for(self.distributed, self.process_group)
        delta, last = F.kernel_stdp(
            pre,
            post,
            self.linear.weight,
            kernel_post=self.kernel_post,
            kernel_pre=self.kernel_pre,
            dt=self.dt,
            **self._weight_options(group),
            reward=reward,
            elapsed_pre0=self.elapsed[0] if carry else None,
            elapsed_post0=self.elapsed[1] if carry else None,
            return_elapsed=True,
            **_geometry(self.linear),
        )
        if self.stateful:
            self.elapsed = last
        return self._across(delta, pre.shape[1], group)

    def reset_state(self):
        super().reset_state()
        self.elapsed = None

    def extra_repr(self):
        return f"rule={self.rule!r}, w_min={self.w_min}, w_max={self.w_max}, reduction={self.reduction!r}"


def previous_step(spikes: torch.Tensor, last=None) -> torch.Tensor:
    """The presynaptic side of a lateral (recurrent) connection: a layer's own spikes ``[T, B, ...]``
    one step later, as its recurrence receives them (``s[t-1]`` at step t; ``last``, the final step
    of the previous chunk, or zeros, at t = 0). With ``tsnn.STDP(rleaky)`` (which learns
    ``rleaky.recurrent``): ``stdp(tsnn.plasticity.previous_step(spk), spk)``."""
    first = torch.zeros_like(spikes[:1]) if last is None else last.to(spikes.dtype).unsqueeze(0)
    return torch.cat([first, spikes[:-1]]) if spikes.shape[0] else spikes


@torch.no_grad()
def normalize_(weight: torch.Tensor, total: float, dim: int = 1, eps: float = 1e-6) -> torch.Tensor:
    """Scale ``weight`` in place so that its sums along ``dim`` equal ``total``: each neuron's input
    weights (``dim=1`` of an ``[O, I]`` weight) keep a fixed budget, so strengthening some inputs
    weakens the others (Diehl & Cook's competitive normalisation; Inferno's normalisation). Sums
    below ``eps`` count as ``eps``. Returns ``weight``."""
    if not total > 0:
        raise ValueError(f"total must be > 0 (the summed weight each neuron keeps); got {total}")
    return weight.mul_(total / weight.sum(dim, keepdim=True).clamp_min(eps))


class TripletSTDP(STDP):
    """Triplet STDP (Pfister & Gerstner 2006, all-to-all): pair terms plus triplet terms that make
    potentiation grow with the postsynaptic rate (:func:`tritonsnn.functional.triplet_stdp`, two
    matrix products per sequence). Defaults: the time constants of their visual-cortex fit.

    Args:
        target: an ``nn.Linear`` (or a Connection/Cell around one).
        a2_plus: pair potentiation amplitude.
        a3_plus: triplet potentiation amplitude.
        a2_minus: pair depression amplitude.
        a3_minus: triplet depression amplitude.
        tau_plus: presynaptic pair trace ``r1``, ms.
        tau_minus: postsynaptic pair trace ``o1``, ms.
        tau_x: presynaptic triplet trace ``r2``, ms.
        tau_y: postsynaptic triplet trace ``o2``, ms.
        **stdp_options: ``dt``, ``rule``, ``w_min``, ``w_max``, ``bound_power``, ``reduction``,
            ``stateful`` (the four traces carry over), ``backend``, ``distributed``,
            ``process_group``, as :class:`STDP`.
    """

    def __init__(
        self,
        target,
        *,
        a2_plus,
        a3_plus,
        a2_minus,
        a3_minus,
        tau_plus=16.8,
        tau_minus=33.7,
        tau_x=101.0,
        tau_y=125.0,
        **stdp_options,
    ):
        super().__init__(target, a_plus=a2_plus, a_minus=a2_minus, tau_pre=tau_plus, tau_post=tau_minus, **stdp_options)
        if not isinstance(self.linear, nn.Linear):
            raise TypeError(f"TripletSTDP learns an nn.Linear's weight; got {type(self.linear).__name__}")
        dt = stdp_options.get("dt", 1.0)
        self.a3_plus, self.a3_minus = float(a3_plus), float(a3_minus)
        self.decay_x, self.decay_y = _trace_decay(tau_x, dt, "tau_x"), _trace_decay(tau_y, dt, "tau_y")
        self.traces = None

    def forward(self, pre, post, reward=None):
        """The weight change ``dW [O, I]`` of one sequence, not applied (see :meth:`update`)."""
        if reward is not None:
            raise ValueError("TripletSTDP takes no reward (use tsnn.STDP(reward=) or tsnn.MSTDPET)")
        B = pre.shape[1]
        carry = self.stateful and self.traces is not None and self.traces[0].shape[0] == B
        group = group_for(self.distributed, self.process_group)
        delta, traces = F.triplet_stdp(
            pre,
            post,
            self.linear.weight,
            a2_plus=self.a_plus,
            a3_plus=self.a3_plus,
            a2_minus=self.a_minus,
            a3_minus=self.a3_minus,
            decay_plus=self.decay_pre,
            decay_minus=self.decay_post,
            decay_x=self.decay_x,
            decay_y=self.decay_y,
            **self._weight_options(group),
            traces0=self.traces if carry else None,
            return_traces=True,
            backend=self.backend,
        )
        if self.stateful and pre.shape[0] > 0:
            self.traces = traces
        return self._across(delta, B, group)

    def reset_state(self):
        super().reset_state()
        self.traces = None

    def extra_repr(self):
        return super().extra_repr() + f", a3_plus={self.a3_plus:g}, a3_minus={self.a3_minus:g}"


def _threshold_shape(thr, features):
    """The per-neuron shape of a homeostatic threshold: ``features``, or the threshold's own."""
    if features is None:
        if thr.numel() == 1:
            raise ValueError(
                "HomeostaticThreshold adapts one threshold per neuron and this neuron has one shared threshold: "
                "pass features=N (the neuron's feature shape, e.g. features=(C, H, W) after a convolution), or "
                "build the neuron with a per-neuron threshold such as threshold=torch.full((N,), 1.0)"
            )
        return tuple(thr.shape)
    shape = (int(features),) if isinstance(features, int) else tuple(int(f) for f in features)
    if thr.numel() != 1 and tuple(thr.shape) != shape:
        raise ValueError(f"features={features!r} does not match the neuron's threshold of shape {list(thr.shape)}")
    return shape


class HomeostaticThreshold(nn.Module):
    """Homeostatic threshold of a neuron group, adapted from the batch firing rate.

    After each sequence, :meth:`update` moves every neuron's threshold by
    ``rate * (firing_rate - target_rate)`` (firing rate = spikes per step averaged over
    time and the batch), so neurons that fire too often become harder to excite and
    silent ones easier. The threshold is the neuron's own shared ``threshold``
    buffer/parameter, one value per neuron: a shared scalar threshold is made
    ``features``-shaped here, at construction, so the model's ``state_dict`` and an
    optimizer built afterwards see the final shape, and :meth:`update` writes in place.
    This is distinct from the per-sample adaptation state of an ALIF neuron.

    Args:
        neuron: a neuron Module with a ``threshold`` (e.g. ``tsnn.Leaky``).
        target_rate: desired spikes per step, in [0, 1].
        rate: adaptation rate (> 0).
        min_threshold: the threshold never goes below this (> 0).
        features: the neuron's feature shape (``N`` or ``(C, H, W)``); needed when its
            threshold is one shared value, checked against it otherwise.
        distributed: with torch.distributed initialised, the firing rate is that of the global
            batch (spike counts summed over ``process_group``), so every replica moves its
            threshold alike. ``False`` keeps each rank's own batch.
        process_group: the group to reduce over (None: the default group).
    """

    def __init__(
        self,
        neuron: nn.Module,
        *,
        target_rate,
        rate,
        min_threshold=1e-3,
        features=None,
        distributed=True,
        process_group=None,
    ):
        super().__init__()
        self.distributed, self.process_group = bool(distributed), process_group
        thr = getattr(neuron, "threshold", None)
        if not isinstance(thr, torch.Tensor):
            raise TypeError(f"neuron must have a threshold tensor (e.g. tsnn.Leaky); got {type(neuron).__name__}")
        # Validate now rather than at the first update.
        F.homeostatic_threshold(thr, torch.zeros(1, 1), target_rate=target_rate, rate=rate, min_threshold=min_threshold)
        shape = _threshold_shape(thr, features)
        if tuple(thr.shape) != shape:
            per_neuron = thr.detach().expand(shape).clone()
            if isinstance(thr, nn.Parameter):
                thr.data = per_neuron
            else:
                neuron.threshold = per_neuron
        self.neuron = [neuron]  # a list, so the neuron is not registered twice as a submodule
        self.target_rate, self.rate, self.min_threshold = float(target_rate), float(rate), float(min_threshold)

    @torch.no_grad()
    def update(self, spikes):
        """Adapt the threshold from ``spikes [T, B, *features]``; returns the new threshold."""
        thr = self.neuron[0].threshold
        if tuple(spikes.shape[2:]) != tuple(thr.shape):
            raise ValueError(
                f"spikes [T, B, *features] = {list(spikes.shape)} do not match the neuron's threshold of shape "
                f"{list(thr.shape)}: pass the spikes of the neuron this HomeostaticThreshold adapts"
            )
        group = group_for(self.distributed, self.process_group)
        firing = None
        if group is not None:  # spikes per step and sample over the global batch
            counts, samples = global_sum(spikes.to(torch.float32).sum((0, 1)), spikes.shape[0] * spikes.shape[1], group)
            firing = counts / max(samples, 1)
        new = F.homeostatic_threshold(
            thr, spikes, target_rate=self.target_rate, rate=self.rate, min_threshold=self.min_threshold, firing=firing
        )
        thr.copy_(new)  # in place: the same tensor the optimizer and the state_dict hold
        return new

    def extra_repr(self):
        return f"target_rate={self.target_rate:g}, rate={self.rate:g}"
