"""Plasticity over whole sequences: pair-based STDP weight changes and homeostatic thresholds.
These are no neuron dynamics: one trace scan per side and matrix products, under no_grad.

Every rule here also takes a one-to-one connection's weight ``[N]`` (:class:`tritonsnn.OneToOne`:
synapse ``i`` joins ``pre[..., i]`` to ``post[..., i]``, both ``[T, B, N]``) and learns it
elementwise, ``LTP[i] = sum_{t, b} r[b] * post[t, b, i] * x_pre[t, b, i]`` and its LTD counterpart:
the diagonal of the dense terms."""

from __future__ import annotations

import math

import torch

from .. import _alloc
from ._validate import check_input
from .filters import delay_shares, trace

__all__ = [
    "stdp",
    "kernel_stdp",
    "exp_stdp_kernels",
    "elapsed",
    "mstdpet",
    "triplet_stdp",
    "check_stdp_options",
    "homeostatic_threshold",
]

_SCALED = ("scaled_multiplicative", "scaled_power")  # the bound differences over w_max - w_min (Inferno's)
_STDP_RULES = ("additive", "multiplicative", "power", "sharp", *_SCALED)
_BOUNDED = ("multiplicative", "power", "sharp", *_SCALED)  # weight-dependent: need w_min and w_max
_REDUCTIONS = ("mean", "sum", "max", "min", "median")
_PER_SAMPLE = ("max", "min", "median")  # need every sample's update, [B, *weight]


def stdp(
    pre,
    post,
    weight,
    *,
    a_plus,
    a_minus,
    decay_pre,
    decay_post,
    rule="additive",
    w_min=None,
    w_max=None,
    bound_power=1.0,
    reduction="mean",
    reward=None,
    trace_mode="cumulative",
    pre_trace0=None,
    post_trace0=None,
    return_traces=False,
    backend="auto",
    stride=1,
    padding=0,
    dilation=1,
    delay=None,
):
    """Pair-based STDP weight change of a fully connected or convolutional layer over a sequence.

    With traces ``x_pre = trace(pre, decay_pre)`` and ``x_post = trace(post, decay_post)``
    (see :func:`trace`; each includes the spike of the current step), and the weight
    ``W [O, I]`` held fixed over the sequence::

        LTP[o, i] = sum_{t, b} r[b] * post[t, b, o] * x_pre[t, b, i]     (post fires after pre)
        LTD[o, i] = sum_{t, b} r[b] * x_post[t, b, o] * pre[t, b, i]     (pre fires after post)
        additive:        dW = a_plus * LTP - a_minus * LTD
        multiplicative:  dW = a_plus * (w_max - W) * LTP - a_minus * (W - w_min) * LTD

    ``r[b]`` is the per-sample reward (1 without ``reward``: plain STDP; with it,
    reward-modulated MSTDP). Coincident spikes count in both terms. The sums over time
    and batch are one matrix product each; ``reduction="mean"`` divides by the batch
    size, so the shared weight receives the average of the per-sample updates.
    The result is not applied: see :class:`tritonsnn.STDP` or add it yourself and clamp.

    A ``Conv2d`` weight ``[O, C, kh, kw]`` (no groups) with ``pre [T, B, C, H, W]`` and
    ``post [T, B, O, H', W']`` learns through every position the kernel connects: the terms
    sum ``post[o, y, x] * x_pre[c, y*s + i*d - p, x*s + j*d - p]`` (and the LTD counterpart)
    over positions too, with the convolution's ``stride``, ``padding`` and ``dilation``
    (PySNN's and Inferno's convolutional STDP; the sums run on unfolded patches).
    A one-to-one weight ``[N]`` learns elementwise (see the module docstring).

    Args:
        pre: presynaptic spikes ``[T, B, I]``.
        post: postsynaptic spikes ``[T, B, O]``.
        weight: ``[O, I]``, a ``Conv2d``'s ``[O, C, kh, kw]`` or a one-to-one ``[N]`` (soft bounds read it).
        a_plus: learning rate (>= 0) of potentiation.
        a_minus: learning rate (>= 0) of depression.
        decay_pre: presynaptic trace decay ``exp(-dt/tau_pre)`` in [0, 1].
        decay_post: postsynaptic trace decay ``exp(-dt/tau_post)`` in [0, 1].
        rule: the weight dependence (Inferno's names): ``"additive"`` (none; clamp afterwards),
            ``"multiplicative"`` (soft bounds ``(w_max - W) LTP - (W - w_min) LTD``), ``"power"``
            (the same differences to the power ``bound_power``, clipped at 0) or ``"sharp"``
            (``H(w_max - W) LTP - H(W - w_min) LTD``: no change past a bound); ``"scaled_multiplicative"``,
            ``"scaled_power"``: the differences over ``w_max - w_min``. All but additive need both bounds.
        w_min: lower weight bound, ``w_min < w_max``.
        w_max: upper weight bound.
        bound_power: exponent of ``rule="power"``: a number, or ``(potentiation, depression)``.
        reduction: over the batch: ``"mean"``, ``"sum"`` (fused into the matrix products), or
            ``"max"``, ``"min"``, ``"median"`` of the per-sample updates (Inferno's batch
            reductions; these keep ``[B, *weight]`` for the call).
        reward: None, a number, or per-sample ``[B]`` rewards.
        trace_mode: ``"cumulative"`` or ``"nearest"``.
        pre_trace0: presynaptic trace carried from a previous chunk ``[B, I]``.
        post_trace0: postsynaptic trace carried from a previous chunk ``[B, O]``.
        return_traces: also return the trace sequences ``(x_pre, x_post)``.
        backend: backend of the trace scans.
        stride: of the convolution, for a ``Conv2d`` weight.
        padding: of the convolution (zeros), for a ``Conv2d`` weight.
        dilation: of the convolution, for a ``Conv2d`` weight.
        delay: per-synapse delays ``[O, I]`` in steps (a :class:`tritonsnn.DelayedLinear`'s), or
            ``(delays, tau)`` for exponential-decay interpolation (``delay_shares``): the presynaptic
            side reaches synapse ``(o, i)`` ``delay[o, i]`` steps late; the past is not seen.

    Returns:
        ``dW`` (the weight's shape) in fp32, or ``(dW, x_pre, x_post)``.
    """
    check_input(pre, "pre")
    check_input(post, "post")
    check_stdp_options(a_plus, a_minus, rule, w_min, w_max, reduction, bound_power)
    geometry = _check_pair(pre, post, weight, stride, padding, dilation, delay)
    B = pre.shape[1]
    with torch.no_grad():
        x_pre = trace(pre, decay_pre, mode=trace_mode, trace0=pre_trace0, backend=backend)
        x_post = trace(post, decay_post, mode=trace_mode, trace0=post_trace0, backend=backend)
        r = None if reward is None else _sample_rewards(reward, B, post)
        rule_ = _Rule(a_plus, a_minus, rule, w_min, w_max, weight, bound_power)
        per_sample = reduction in _PER_SAMPLE
        delta = _reduce(rule_.delta(*_pair_sums(pre, post, x_pre, x_post, r, geometry, per_sample)), reduction, B)
    if return_traces:
        return delta, x_pre, x_post
    return delta


def kernel_stdp(
    pre,
    post,
    weight,
    *,
    kernel_post,
    kernel_pre,
    dt=1.0,
    rule="additive",
    w_min=None,
    w_max=None,
    bound_power=1.0,
    reduction="mean",
    reward=None,
    elapsed_pre0=None,
    elapsed_post0=None,
    return_elapsed=False,
    stride=1,
    padding=0,
    dilation=1,
    delay=None,
):
    """STDP with arbitrary kernels of the spike-time difference (Inferno's kernel STDP), nearest pairs.

    ``e_pre[t]``, ``e_post[t]`` are the milliseconds since each neuron's latest spike (0 at a spike
    step, ``inf`` before the first). At every postsynaptic spike the synapse changes by
    ``kernel_post(d)``, ``d = e_pre[t] >= 0`` (a presynaptic spike of the same step gives ``d = 0``);
    at every presynaptic spike by ``kernel_pre(d)``, ``d = -(e_post[t-1] + dt) < 0`` (the latest
    postsynaptic spike strictly before). Kernels are evaluated only where a latest spike exists::

        K_post = kernel_post(e_pre),  K_pre = kernel_pre(-(e_post[t-1] + dt))
        dW[o, i] = sum_{t, b} r[b] * (post[t, b, o] * K_post[t, b, i] + K_pre[t, b, o] * pre[t, b, i])

    A kernel's positive values potentiate and its negative ones depress, so with ``rule`` other
    than additive each part is bounded like :func:`stdp`'s LTP and LTD (``a_plus = a_minus = 1``:
    the kernels carry the learning rates). With ``exp_stdp_kernels(a_plus, a_minus, tau, tau)`` this
    is :func:`stdp` with ``trace_mode="nearest"`` except at coincident spikes, which pair once here.
    Unlike Inferno's trainer, which re-evaluates the latest pair on every call, each pair counts
    once, at the later spike. Layers, delays, rewards and reductions as :func:`stdp`.

    Args:
        pre: presynaptic spikes ``[T, B, I]`` (a ``Conv2d``'s ``[T, B, C, H, W]``).
        post: postsynaptic spikes ``[T, B, O]`` (``[T, B, O, H', W']``).
        weight: ``[O, I]``, ``[O, C, kh, kw]`` or a one-to-one ``[N]``.
        kernel_post: callable, ``d [..] >= 0`` ms (post at or after pre) -> the change, same shape.
        kernel_pre: callable, ``d [..] < 0`` ms (pre after post) -> the change, same shape.
        dt: step length in milliseconds (> 0).
        rule: ``"additive"``, ``"multiplicative"``, ``"power"`` or ``"sharp"`` (see :func:`stdp`).
        w_min: lower weight bound of the weight-dependent rules.
        w_max: upper weight bound of the weight-dependent rules.
        bound_power: exponent of ``rule="power"``.
        reduction: over the batch, as :func:`stdp`.
        reward: None, a number, or per-sample ``[B]`` rewards.
        elapsed_pre0: ``e_pre`` after the previous chunk ``[B, I]`` (ms; ``inf``: no spike yet).
        elapsed_post0: ``e_post`` after the previous chunk ``[B, O]``.
        return_elapsed: also return ``(e_pre[T-1], e_post[T-1])`` to carry into the next chunk.
        stride: of the convolution, for a ``Conv2d`` weight.
        padding: of the convolution, for a ``Conv2d`` weight.
        dilation: of the convolution, for a ``Conv2d`` weight.
        delay: per-synapse delays ``[O, I]`` in steps, as :func:`stdp`.

    Returns:
        ``dW`` (the weight's shape) in fp32, or ``(dW, (e_pre, e_post))``.
    """
    check_input(pre, "pre")
    check_input(post, "post")
    check_stdp_options(1.0, 1.0, rule, w_min, w_max, reduction, bound_power)
    if not callable(kernel_post) or not callable(kernel_pre):
        raise TypeError("kernel_post and kernel_pre must be callables of the spike-time difference in ms")
    if not (isinstance(dt, (int, float)) and math.isfinite(dt) and dt > 0):
        raise ValueError(f"dt must be a step length > 0 in milliseconds; got {dt!r}")
    geometry = _check_pair(pre, post, weight, stride, padding, dilation, delay)
    B = pre.shape[1]
    with torch.no_grad():
        start_pre = _elapsed0(elapsed_pre0, pre, "elapsed_pre0")
        start_post = _elapsed0(elapsed_post0, post, "elapsed_post0")
        e_pre, e_post = elapsed(pre, dt, start_pre), elapsed(post, dt, start_post)
        last_post = torch.cat([start_post[None], e_post])[: post.shape[0]] + dt  # the latest post spike strictly before
        k_post = _kernel(kernel_post, e_pre, "kernel_post")
        k_pre = _kernel(kernel_pre, -last_post, "kernel_pre")
        r = None if reward is None else _sample_rewards(reward, B, post)
        per_sample = reduction in _PER_SAMPLE
        rule_ = _Rule(1.0, 1.0, rule, w_min, w_max, weight, bound_power)
        if rule_.up is None:  # no weight dependence: the signed kernels in STDP's two products
            delta = sum(_pair_sums(pre, post, k_post, k_pre, r, geometry, per_sample))
        else:  # the positive parts are bounded as potentiation, the negative ones as depression
            up = _pair_sums(pre, post, k_post.clamp(min=0), k_pre.clamp(min=0), r, geometry, per_sample)
            down = _pair_sums(pre, post, -k_post.clamp(max=0), -k_pre.clamp(max=0), r, geometry, per_sample)
            delta = rule_.delta(sum(up), sum(down))
        delta = _reduce(delta, reduction, B)
    if return_elapsed:
        return delta, ((e_pre[-1], e_post[-1]) if pre.shape[0] else (start_pre, start_post))
    return delta


def elapsed(spikes, dt=1.0, elapsed0=None, name="elapsed0"):
    """Milliseconds since each neuron's latest spike, ``[T, B, *features]`` fp32: 0 at a spike step,
    ``elapsed0 + (t + 1) dt`` before the first (``elapsed0``: the value after a previous chunk,
    ``inf`` when None: no spike yet). One cumulative max over time, no per-step loop."""
    start = _elapsed0(elapsed0, spikes, name)
    steps = torch.arange(spikes.shape[0], device=spikes.device, dtype=torch.float32)
    steps = steps.view(-1, *[1] * (spikes.dim() - 1))
    fired_at = torch.where(spikes != 0, steps, -1.0).cummax(0).values if spikes.shape[0] else spikes.float()
    return torch.where(fired_at >= 0, (steps - fired_at) * dt, start + (steps + 1) * dt)


def _elapsed0(value, spikes, name):
    """The carried elapsed times of ``spikes [T, B, ...]``, per-step shape (``inf`` when None)."""
    if value is None:
        return torch.full(spikes.shape[1:], math.inf, dtype=torch.float32, device=spikes.device)
    e0 = torch.as_tensor(value, dtype=torch.float32, device=spikes.device)
    if tuple(e0.shape) != tuple(spikes.shape[1:]):
        want = tuple(spikes.shape[1:])
        raise ValueError(f"{name} must have the per-step shape {want} of its spikes; got {tuple(e0.shape)}")
    return e0


def _kernel(kernel, diff, name):
    """``kernel(diff)`` where ``diff`` is finite (a latest spike exists), 0 elsewhere, as fp32."""
    finite = torch.isfinite(diff)
    values = torch.as_tensor(kernel(torch.where(finite, diff, 0.0)), dtype=torch.float32, device=diff.device)
    if values.shape != diff.shape:
        raise ValueError(f"{name} must return the shape of its argument {tuple(diff.shape)}; got {tuple(values.shape)}")
    return torch.where(finite, values, 0.0)


def exp_stdp_kernels(a_plus, a_minus, tau_plus=20.0, tau_minus=20.0):
    """The exponential pair kernels ``(kernel_post, kernel_pre)`` of :func:`kernel_stdp`:
    ``a_plus exp(-d / tau_plus)`` for ``d >= 0`` and ``-a_minus exp(d / tau_minus)`` for ``d < 0``
    (Inferno's ``exp_stdp_post_kernel``/``exp_stdp_pre_kernel`` with a depressing pre side)."""
    for name, v in (("tau_plus", tau_plus), ("tau_minus", tau_minus)):
        if not (isinstance(v, (int, float)) and v > 0):
            raise ValueError(f"{name} must be a time constant > 0 in milliseconds; got {v!r}")
    check_stdp_options(a_plus, a_minus, "additive", None, None, "mean")
    return (lambda d: a_plus * torch.exp(-d / tau_plus)), (lambda d: -a_minus * torch.exp(d / tau_minus))


def triplet_stdp(
    pre,
    post,
    weight,
    *,
    a2_plus,
    a3_plus,
    a2_minus,
    a3_minus,
    decay_plus,
    decay_minus,
    decay_x,
    decay_y,
    rule="additive",
    w_min=None,
    w_max=None,
    bound_power=1.0,
    reduction="mean",
    traces0=None,
    return_traces=False,
    backend="auto",
):
    """Triplet STDP (Pfister & Gerstner 2006, the all-to-all model) over a whole sequence.

    Four traces (cumulative, each including its own step's spike): ``r1`` and ``r2`` of the
    presynaptic spikes (decays ``decay_plus``, ``decay_x``), ``o1`` and ``o2`` of the postsynaptic
    ones (``decay_minus``, ``decay_y``). A postsynaptic spike potentiates by
    ``r1 * (a2_plus + a3_plus * o2_before)`` and a presynaptic one depresses by
    ``o1 * (a2_minus + a3_minus * r2_before)``, ``_before`` the trace just before that step's own
    spike; summed over time and batch, two matrix products::

        LTP = sum_{t,b} (post * (a2_plus + a3_plus * o2_before))^T r1
        LTD = sum_{t,b} o1^T (pre * (a2_minus + a3_minus * r2_before))

    With ``a3_plus = a3_minus = 0`` it is :func:`stdp` with ``a_plus = a2_plus``, ``a_minus =
    a2_minus``. Dense layers only.

    Args:
        pre: presynaptic spikes ``[T, B, I]``.
        post: postsynaptic spikes ``[T, B, O]``.
        weight: ``[O, I]``, or a one-to-one connection's ``[N]`` (see :func:`stdp`).
        a2_plus: pair potentiation amplitude (>= 0).
        a3_plus: triplet potentiation amplitude (>= 0).
        a2_minus: pair depression amplitude (>= 0).
        a3_minus: triplet depression amplitude (>= 0).
        decay_plus: decay of ``r1`` (``exp(-dt/tau_plus)``).
        decay_minus: decay of ``o1`` (``exp(-dt/tau_minus)``).
        decay_x: decay of ``r2`` (``exp(-dt/tau_x)``).
        decay_y: decay of ``o2`` (``exp(-dt/tau_y)``).
        rule: the weight dependence, as in :func:`stdp`.
        w_min: lower weight bound.
        w_max: upper weight bound.
        bound_power: exponent of ``rule="power"``.
        reduction: over the batch, as in :func:`stdp`.
        traces0: ``(r1, r2, o1, o2)`` carried from a previous chunk (``[B, I]``, ``[B, I]``, ``[B, O]``, ``[B, O]``).
        return_traces: also return the final ``(r1, r2, o1, o2)``.
        backend: backend of the trace scans.

    Returns:
        ``dW [O, I]`` fp32, or ``(dW, traces)``.
    """
    check_input(pre, "pre")
    check_input(post, "post")
    for name, v in (("a3_plus", a3_plus), ("a3_minus", a3_minus)):
        if not isinstance(v, (int, float)) or not math.isfinite(v) or v < 0:
            raise ValueError(f"{name} must be a finite amplitude >= 0; got {v!r}")
    check_stdp_options(a2_plus, a2_minus, rule, w_min, w_max, reduction, bound_power)
    geometry = _check_pair(pre, post, weight)
    if geometry not in (None, ONE_TO_ONE):
        raise ValueError("triplet_stdp takes a dense layer's weight [O, I] or a one-to-one connection's [N]")
    B = pre.shape[1]
    r1_0, r2_0, o1_0, o2_0 = traces0 if traces0 is not None else (None,) * 4
    with torch.no_grad():
        s_pre, s_post = pre.to(torch.float32), post.to(torch.float32)
        r1 = trace(pre, decay_plus, trace0=r1_0, backend=backend)
        r2 = trace(pre, decay_x, trace0=r2_0, backend=backend)
        o1 = trace(post, decay_minus, trace0=o1_0, backend=backend)
        o2 = trace(post, decay_y, trace0=o2_0, backend=backend)
        per_sample = reduction in _PER_SAMPLE
        shape = tuple(weight.shape)
        ltp = _sums(s_post * (a2_plus + a3_plus * (o2 - s_post)), r1, geometry, shape, per_sample)
        ltd = _sums(o1, s_pre * (a2_minus + a3_minus * (r2 - s_pre)), geometry, shape, per_sample)
        delta = _reduce(_Rule(1.0, 1.0, rule, w_min, w_max, weight, bound_power).delta(ltp, ltd), reduction, B)
    if return_traces:
        last = (lambda t: t[-1]) if pre.shape[0] else (lambda t: None)
        return delta, tuple(last(t) for t in (r1, r2, o1, o2))
    return delta


def mstdpet(
    pre,
    post,
    weight,
    reward,
    *,
    a_plus,
    a_minus,
    decay_pre,
    decay_post,
    decay_eligibility,
    rule="additive",
    w_min=None,
    w_max=None,
    bound_power=1.0,
    reduction="mean",
    trace_mode="cumulative",
    pre_trace0=None,
    post_trace0=None,
    eligibility0=None,
    return_state=False,
    backend="auto",
    stride=1,
    padding=0,
    dilation=1,
    delay=None,
    bound_by_effect=False,
):
    """Reward-modulated STDP with an eligibility trace (MSTDPET, Florian 2007) over a sequence.

    Per sample, the pair term of step ``t`` (as in :func:`stdp`, soft-bounded with the
    multiplicative rule)::

        zeta[t] = a_plus * post[t] x_pre[t]^T - a_minus * x_post[t] pre[t]^T     [O, I]

    feeds the eligibility trace ``z[t] = decay_eligibility * z[t-1] + zeta[t]`` (``z[-1] =
    eligibility0``, zeros when None), and the reward turns it into the weight change::

        dW = sum_{t, b} reward[t, b] * z[t, b]        (divided by B with reduction="mean")

    ``z`` is never built over time: ``sum_t r[t] z[t] = sum_s R[s] zeta[s]``, ``R`` the reward
    filtered backwards in time (``R[s] = r[s] + decay * R[s+1]``), so the sums are :func:`stdp`'s
    two matrix products. Later rewards count only through the final state (``return_state``).

    Args:
        pre: presynaptic spikes ``[T, B, I]``.
        post: postsynaptic spikes ``[T, B, O]``.
        weight: ``[O, I]``, a ``Conv2d``'s ``[O, C, kh, kw]`` or a one-to-one ``[N]`` (see
            :func:`stdp`; the soft bounds read it; held fixed).
        reward: a number, per sample ``[B]``, per step ``[T]`` or per step and sample ``[T, B]``.
        a_plus: learning rate (>= 0) of potentiation.
        a_minus: learning rate (>= 0) of depression.
        decay_pre: presynaptic trace decay ``exp(-dt/tau_pre)`` in [0, 1].
        decay_post: postsynaptic trace decay ``exp(-dt/tau_post)`` in [0, 1].
        decay_eligibility: eligibility trace decay ``exp(-dt/tau_z)`` in [0, 1].
        rule: the weight dependence, as in :func:`stdp`.
        w_min: lower weight bound.
        w_max: upper weight bound.
        bound_power: exponent of ``rule="power"`` (see :func:`stdp`).
        reduction: over the batch, as in :func:`stdp`.
        trace_mode: ``"cumulative"`` or ``"nearest"`` (the spike traces).
        pre_trace0: presynaptic trace carried from a previous chunk ``[B, I]``.
        post_trace0: postsynaptic trace carried from a previous chunk ``[B, O]``.
        eligibility0: eligibility carried from a previous chunk ``[B, O, I]``.
        return_state: also return ``(x_pre[-1], x_post[-1], z[-1])``, the state for the next chunk.
        backend: backend of the trace scans.
        stride: of the convolution, for a ``Conv2d`` weight (see :func:`stdp`).
        padding: of the convolution, for a ``Conv2d`` weight.
        dilation: of the convolution, for a ``Conv2d`` weight.
        delay: per-synapse delays ``[O, I]`` in steps (see :func:`stdp`).
        bound_by_effect: bound each term by what the reward makes of it (Inferno): under a negative
            reward LTP depresses, bounded by ``W - w_min``, and LTD potentiates; the eligibility is
            then its raw LTP and LTD halves ``[2, B, *weight]`` (before the rates and bounds).

    Returns:
        ``dW [O, I]`` fp32, or ``(dW, (pre_trace, post_trace, eligibility))``.
    """
    check_input(pre, "pre")
    check_input(post, "post")
    check_stdp_options(a_plus, a_minus, rule, w_min, w_max, reduction, bound_power)
    geometry = _check_pair(pre, post, weight, stride, padding, dilation, delay)
    _check_eligibility_options(decay_eligibility, bound_by_effect, rule)
    T, B = pre.shape[:2]
    with torch.no_grad():
        x_pre = trace(pre, decay_pre, mode=trace_mode, trace0=pre_trace0, backend=backend)
        x_post = trace(post, decay_post, mode=trace_mode, trace0=post_trace0, backend=backend)
        rule_ = _Rule(a_plus, a_minus, rule, w_min, w_max, weight, bound_power)
        z0 = None if eligibility0 is None else _eligibility0(eligibility0, B, weight, bound_by_effect)
        r, seqs = _step_rewards(reward, T, B, pre.device), (pre, post, x_pre, x_post)
        how = dict(per_sample=reduction in _PER_SAMPLE, by_effect=bound_by_effect, backend=backend)
        delta, powers = _rewarded(seqs, r, rule_, decay_eligibility, geometry, z0, **how)
        delta = _reduce(delta, reduction, B)
        if not return_state:
            return delta
        z = _final_eligibility(pre, post, x_pre, x_post, None if bound_by_effect else rule_, powers, z0, geometry)
    if T == 0:  # nothing ran: the carried state goes on
        return delta, (pre_trace0, post_trace0, z)
    return delta, (x_pre[-1], x_post[-1], z)


def _check_eligibility_options(decay_eligibility, bound_by_effect, rule):
    if not (isinstance(decay_eligibility, (int, float)) and 0.0 <= decay_eligibility <= 1.0):
        raise ValueError(f"decay_eligibility must be a decay in [0, 1]; got {decay_eligibility!r}")
    if bound_by_effect and rule not in _BOUNDED:
        raise ValueError(f"bound_by_effect needs a weight-dependent rule {_BOUNDED}; got rule={rule!r}")


def _carried(weights, z0, per_sample):
    """``weights [B]`` times the per-sample ``z0``, kept per sample or summed over the batch."""
    if per_sample:
        return weights.view(-1, *[1] * (z0.dim() - 1)) * z0
    return torch.tensordot(weights, z0, dims=1)


def _fp32(value, device):
    """``value`` as an fp32 tensor on ``device``; a number without a host-to-device copy per call."""
    if isinstance(value, (int, float)):
        return _alloc.constant(float(value), torch.float32, device)
    return torch.as_tensor(value, dtype=torch.float32, device=device)


def _sample_rewards(reward, B, post):
    """A number or ``[B]`` rewards, broadcasting to ``post``."""
    r = _fp32(reward, post.device)
    if r.numel() not in (1, B):
        raise ValueError(f"reward must be a number or one value per sample [B] = [{B}]; got shape {tuple(r.shape)}")
    return r.reshape(1, -1, *[1] * (post.dim() - 2))


def _eligibility0(value, B, weight, halves=False):
    z0 = torch.as_tensor(value, dtype=torch.float32, device=weight.device)
    want = ((2,) if halves else ()) + (B, *weight.shape)
    if tuple(z0.shape) != want:
        what = "[2, B, *weight.shape] (bound_by_effect: the LTP and LTD halves)" if halves else "[B, *weight.shape]"
        raise ValueError(f"eligibility0 must have shape {what} = {want}; got {tuple(z0.shape)}")
    return z0


def _rewarded(seqs, r, rule, decay, geometry, z0, *, per_sample, by_effect, backend):
    """``sum_t r[t] z[t]`` without building ``z``: the reward filtered backwards in time
    (``R[s] = r[s] + decay R[s+1]``) weights the pair sums, and ``z0`` counts through
    ``sum_t r[t] decay^(t+1)``. With ``by_effect`` the positive and negative rewards go
    separately, the bounds of the negative part swapped. Returns ``(dW, decay^(1..T))``."""
    pre, post = seqs[:2]
    T, B = pre.shape[:2]
    powers = decay ** torch.arange(1, T + 1, dtype=torch.float32, device=pre.device)
    parts = ((r.clamp(min=0), 1), (r.clamp(max=0), -1)) if by_effect else ((r, 1),)
    delta = 0
    for part, sign in parts:
        filtered = trace(part.flip(0)[..., None], decay, backend=backend).flip(0)  # R [T, B, 1]
        filtered = filtered.view(T, B, *[1] * (post.dim() - 2))
        delta = delta + rule.delta(*_pair_sums(*seqs, filtered, geometry, per_sample), sign)
        if z0 is not None:  # what the rewards reach of the carried eligibility, [B] times z0
            reach = (powers[:, None] * part).sum(0)
            if by_effect:
                delta = delta + rule.delta(_carried(reach, z0[0], per_sample), _carried(reach, z0[1], per_sample), sign)
            else:
                delta = delta + _carried(reach, z0, per_sample)
    return delta, powers


def _step_rewards(reward, T, B, device):
    """``reward`` (number, [B], [T] or [T, B]) as fp32 ``[T, B]``."""
    r = _fp32(reward, device)
    if r.dim() == 0 or tuple(r.shape) in ((B,), (T, B)):
        return torch.broadcast_to(r, (T, B))
    if tuple(r.shape) == (T,):
        return r[:, None].expand(T, B)
    raise ValueError(
        f"reward must be a number, [B] = [{B}], [T] = [{T}] or [T, B] = [{T}, {B}]; got shape {tuple(r.shape)}"
    )


def _final_eligibility(pre, post, x_pre, x_post, rule, powers, z0, geometry):
    """``z[T-1]`` per sample ``[B, *weight]``: ``sum_s decay^(T-1-s) zeta[s]`` (+ ``decay^T z0``);
    ``rule`` None: its raw LTP and LTD halves ``[2, B, *weight]`` (``bound_by_effect``)."""
    T, B = pre.shape[:2]
    shape = _weight_shape(pre, post, geometry)
    if T == 0:
        return z0 if z0 is not None else torch.zeros(*((2,) if rule is None else ()), B, *shape, device=pre.device)
    w = (powers / powers[0]).flip(0).view(T, *[1] * (post.dim() - 1))  # decay^(T-1-s)
    s_post, s_pre = post.to(torch.float32), pre.to(torch.float32)
    ltp = _sums(s_post * w, x_pre, geometry, shape, per_sample=True)
    ltd = _sums(x_post * w, s_pre, geometry, shape, per_sample=True)
    z = torch.stack([ltp, ltd]) if rule is None else rule.delta(ltp, ltd)
    return z if z0 is None else z + powers[-1] * z0


class _OneToOne:
    """A one-to-one connection (weight ``[N]``, synapse ``i`` from pre ``i`` to post ``i``): the
    geometry of its pair sums, elementwise instead of outer products."""


ONE_TO_ONE = _OneToOne()


class _Delays:
    """Per-synapse delays ``[O, I]`` (steps) of a dense layer, interpolated as ``delay_shares`` does
    (``tau``: exponential decay): the geometry of its pair sums."""

    def __init__(self, steps, tau=None):
        self.steps, self.tau = steps, tau
        self.lags = int(math.floor(float(steps.max()))) + 2 if steps.numel() else 1

    def shares(self, lag):
        return delay_shares(self.steps, lag, self.tau)  # [O, I]


def _check_pair(pre, post, weight, stride=1, padding=0, dilation=1, delay=None):
    """Validate the shapes; the convolution's geometry ``(kernel, stride, padding, dilation)`` for a
    ``Conv2d`` weight, :class:`_Delays` for a dense one with per-synapse delays, else None."""
    if delay is not None:
        delay, tau = delay if isinstance(delay, tuple) else (delay, None)
        d = torch.as_tensor(delay, dtype=torch.float32, device=pre.device).detach()
        if not isinstance(weight, torch.Tensor) or weight.dim() != 2 or tuple(d.shape) != tuple(weight.shape):
            raise ValueError(
                f"delay must be [O, I] like a dense weight; got delay {tuple(d.shape)} for weight "
                f"{tuple(getattr(weight, 'shape', ()))}"
            )
        if d.numel() and float(d.min()) < 0:
            raise ValueError("delays must be >= 0")
        _check_pair(pre, post, weight)
        return _Delays(d, tau)
    if not isinstance(weight, torch.Tensor) or weight.dim() not in (1, 2, 4):
        raise ValueError(
            "weight must be a dense layer's [O, I], a Conv2d's [O, C, kh, kw] or a one-to-one "
            f"connection's [N]; got {getattr(weight, 'shape', weight)}"
        )
    if weight.dim() == 1:
        if pre.dim() != 3 or pre.shape != post.shape or pre.shape[2] != weight.shape[0]:
            raise ValueError(
                f"a one-to-one weight [N] = {tuple(weight.shape)} joins pre [T, B, N] to post [T, B, N] of the "
                f"same shape; got {tuple(pre.shape)} and {tuple(post.shape)}"
            )
        return ONE_TO_ONE
    image = weight.dim() == 4
    rank = 5 if image else 3
    if pre.dim() != rank or post.dim() != rank or pre.shape[:2] != post.shape[:2]:
        layout = "[T, B, C, H, W] and [T, B, O, H', W']" if image else "[T, B, I] and [T, B, O]"
        raise ValueError(
            f"pre and post must be {layout} and must share T and B; got {tuple(pre.shape)} and {tuple(post.shape)}"
        )
    if (post.shape[2], pre.shape[2]) != tuple(weight.shape[:2]):
        raise ValueError(
            f"weight must have shape [O, I{', kh, kw' if image else ''}] with O = {post.shape[2]} (post features) "
            f"and I = {pre.shape[2]} (pre features); got {tuple(weight.shape)}"
        )
    return (tuple(weight.shape[2:]), stride, padding, dilation) if image else None


def _sums(post_side, pre_side, geometry, shape, per_sample=False):
    """``sum_{t, b} post_side (x) pre_side`` ``[*shape]`` (``[B, *shape]`` with ``per_sample``): one
    matrix product over the merged time and batch; a convolution's over its unfolded patches."""
    T, B = post_side.shape[:2]
    if geometry is ONE_TO_ONE:
        product = post_side * pre_side
        return product.sum(0) if per_sample else product.sum((0, 1))
    if isinstance(geometry, _Delays):  # the pre side reaches each synapse `lag` steps late, split over lags
        total = 0
        for lag in range(min(geometry.lags, T + 1)):
            late = torch.cat([pre_side.new_zeros(lag, *pre_side.shape[1:]), pre_side[: T - lag]])
            total = total + geometry.shares(lag) * _sums(post_side, late, None, shape, per_sample)
        return total
    if geometry is None:
        if per_sample:
            return torch.bmm(post_side.permute(1, 2, 0), pre_side.permute(1, 0, 2))
        rows, cols = math.prod(post_side.shape[2:]), math.prod(pre_side.shape[2:])  # -1 fails for T = 0
        return post_side.reshape(T * B, rows).T @ pre_side.reshape(T * B, cols)
    kernel, stride, padding, dilation = geometry
    patches = torch.nn.functional.unfold(
        pre_side.reshape(T * B, *pre_side.shape[2:]), kernel, dilation=dilation, padding=padding, stride=stride
    )  # [T*B, C*kh*kw, positions]
    rows = post_side.reshape(T * B, post_side.shape[2], math.prod(post_side.shape[3:]))  # [T*B, O, positions]
    if rows.shape[-1] != patches.shape[-1]:
        raise ValueError(
            f"post's {tuple(post_side.shape[3:])} positions are not the convolution's output of pre "
            f"{tuple(pre_side.shape[2:])} (kernel {kernel}, stride {stride}, padding {padding}, dilation {dilation})"
        )
    if per_sample:
        sums = torch.einsum("tbol,tbkl->bok", rows.view(T, B, *rows.shape[1:]), patches.view(T, B, *patches.shape[1:]))
        return sums.reshape(B, *shape)
    return torch.einsum("nol,nkl->ok", rows, patches).reshape(shape)


def _reduce(delta, reduction, batch):
    """The batch reduction of a summed (``"mean"``, ``"sum"``) or per-sample (others) update."""
    if reduction == "mean":
        return delta / batch if batch > 0 else delta
    if reduction in _PER_SAMPLE:
        if batch == 0:
            return delta.sum(0)
        if reduction == "median":
            return delta.median(0).values
        return delta.amax(0) if reduction == "max" else delta.amin(0)
    return delta


def _pair_sums(pre, post, x_pre, x_post, r, geometry=None, per_sample=False):
    """``(LTP, LTD)``: ``sum r post x_pre^T`` and ``sum r x_post pre^T`` over time, batch (and a
    convolution's positions), ``r`` broadcasting to ``post`` (None: 1)."""
    s_pre, s_post = pre.to(torch.float32), post.to(torch.float32)
    if r is not None:
        s_post, x_post = s_post * r, x_post * r
    shape = _weight_shape(pre, post, geometry)
    return _sums(s_post, x_pre, geometry, shape, per_sample), _sums(x_post, s_pre, geometry, shape, per_sample)


def _weight_shape(pre, post, geometry):
    """The shape of the weight (and of its change) the pair sums of ``geometry`` fill."""
    if geometry is ONE_TO_ONE:
        return (post.shape[2],)
    if isinstance(geometry, tuple):  # a convolution's (kernel, stride, padding, dilation)
        return (post.shape[2], pre.shape[2], *geometry[0])
    return (post.shape[2], pre.shape[2])


class _Rule:
    """The weight change of pair terms under the rule's weight dependence (``W`` held fixed)."""

    def __init__(self, a_plus, a_minus, rule, w_min, w_max, weight, power=1.0):
        self.a_plus, self.a_minus, self.shape = a_plus, a_minus, tuple(weight.shape)
        self.up = self.down = None  # factors of LTP and LTD (None: 1)
        if rule in _BOUNDED:
            w = weight.detach().to(torch.float32)
            room_up, room_down = w_max - w, w - w_min
            if rule in _SCALED:
                room_up, room_down = room_up / (w_max - w_min), room_down / (w_max - w_min)
            if rule in ("power", "scaled_power"):
                up, down = power if isinstance(power, (tuple, list)) else (power, power)
                room_up, room_down = room_up.clamp(min=0) ** up, room_down.clamp(min=0) ** down
            elif rule == "sharp":
                room_up, room_down = (room_up >= 0).float(), (room_down >= 0).float()
            self.up, self.down = room_up, room_down

    def delta(self, ltp, ltd, sign=1):
        """``a_plus up(W) LTP - a_minus down(W) LTD``; ``sign`` -1 (terms a negative reward turns
        around): the LTP term depresses and the LTD term potentiates, their bounds swapped."""
        if self.up is None:
            return self.a_plus * ltp - self.a_minus * ltd
        up, down = (self.up, self.down) if sign > 0 else (self.down, self.up)
        return self.a_plus * up * ltp - self.a_minus * down * ltd


def check_stdp_options(a_plus, a_minus, rule, w_min, w_max, reduction, bound_power=1.0):
    """Raise a ValueError naming the bad STDP option."""
    powers = bound_power if isinstance(bound_power, (tuple, list)) else (bound_power, bound_power)
    if len(powers) != 2 or not all(isinstance(p, (int, float)) and math.isfinite(p) and p > 0 for p in powers):
        raise ValueError(f"bound_power must be a number > 0 or a pair of them; got {bound_power!r}")
    for name, v in (("a_plus", a_plus), ("a_minus", a_minus)):
        if not isinstance(v, (int, float)) or not math.isfinite(v) or v < 0:
            raise ValueError(f"{name} must be a finite learning rate >= 0; got {v!r}")
    if rule not in _STDP_RULES:
        raise ValueError(f"rule must be one of {_STDP_RULES}; got {rule!r}")
    if reduction not in _REDUCTIONS:
        raise ValueError(f"reduction must be one of {_REDUCTIONS}; got {reduction!r}")
    if rule in _BOUNDED and (w_min is None or w_max is None):
        raise ValueError(f"rule={rule!r} (weight-dependent bounds) needs both w_min and w_max")
    if w_min is not None and w_max is not None and not w_min < w_max:
        raise ValueError(f"w_min must be smaller than w_max; got w_min={w_min}, w_max={w_max}")


def homeostatic_threshold(threshold, spikes, *, target_rate, rate, min_threshold=1e-3, firing=None):
    """Threshold moved towards a target firing rate from a batch of spikes (returns a new tensor).

    ``thr += rate * (mean_{t, b} spikes[t, b] - target_rate)`` per neuron, then clamped
    to ``>= min_threshold``. The firing rate is averaged over time and the whole batch:
    the threshold is a parameter shared by every sample, unlike the per-sample
    adaptation state of an ALIF neuron.

    Args:
        threshold: current threshold, scalar or ``features``-shaped tensor.
        spikes: ``[T, B, *features]``.
        target_rate: desired spikes per step in [0, 1].
        rate: adaptation rate (> 0).
        min_threshold: lower clamp (> 0) so that the threshold stays valid.
        firing: the firing rate to use instead of ``spikes``' own (``features``-shaped), e.g.
            that of the global batch under torch.distributed.

    Returns:
        The new threshold, ``features``-shaped, fp32.
    """
    check_input(spikes, "spikes")
    if not (isinstance(target_rate, (int, float)) and 0.0 <= target_rate <= 1.0):
        raise ValueError(f"target_rate must be a firing probability per step in [0, 1]; got {target_rate!r}")
    if not (isinstance(rate, (int, float)) and rate > 0 and math.isfinite(rate)):
        raise ValueError(f"rate must be a positive adaptation rate; got {rate!r}")
    if not min_threshold > 0:
        raise ValueError(f"min_threshold must be > 0; got {min_threshold!r}")
    with torch.no_grad():
        if firing is None:
            firing = spikes.to(torch.float32).mean((0, 1))
        thr = _fp32(threshold, spikes.device).detach()
        return (thr + rate * (firing - target_rate)).clamp_(min=min_threshold)
