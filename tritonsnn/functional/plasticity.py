"""Plasticity over whole sequences: pair-based STDP weight changes and homeostatic thresholds.
These are no neuron dynamics: one trace scan per side and matrix products, under no_grad."""

from __future__ import annotations

import math

import torch

from ._validate import check_input
from .filters import trace

__all__ = ["stdp", "mstdpet", "check_stdp_options", "homeostatic_threshold"]

_STDP_RULES = ("additive", "multiplicative")
_REDUCTIONS = ("mean", "sum")


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
    reduction="mean",
    reward=None,
    trace_mode="cumulative",
    pre_trace0=None,
    post_trace0=None,
    return_traces=False,
    backend="auto",
):
    """Pair-based STDP weight change of a fully connected layer over a whole sequence.

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

    Args:
        pre: presynaptic spikes ``[T, B, I]``.
        post: postsynaptic spikes ``[T, B, O]``.
        weight: ``[O, I]`` (read for the multiplicative rule's soft bounds and shapes).
        a_plus: learning rate (>= 0) of potentiation.
        a_minus: learning rate (>= 0) of depression.
        decay_pre: presynaptic trace decay ``exp(-dt/tau_pre)`` in [0, 1].
        decay_post: postsynaptic trace decay ``exp(-dt/tau_post)`` in [0, 1].
        rule: ``"additive"`` or ``"multiplicative"`` (soft bounds; needs w_min and w_max).
        w_min: lower weight bound, ``w_min < w_max``.
        w_max: upper weight bound.
        reduction: ``"mean"`` or ``"sum"`` over the batch.
        reward: None, a number, or per-sample ``[B]`` rewards.
        trace_mode: ``"cumulative"`` or ``"nearest"``.
        pre_trace0: presynaptic trace carried from a previous chunk ``[B, I]``.
        post_trace0: postsynaptic trace carried from a previous chunk ``[B, O]``.
        return_traces: also return the trace sequences ``(x_pre, x_post)``.
        backend: backend of the trace scans.

    Returns:
        ``dW [O, I]`` in fp32, or ``(dW, x_pre, x_post)``.
    """
    check_input(pre, "pre")
    check_input(post, "post")
    check_stdp_options(a_plus, a_minus, rule, w_min, w_max, reduction)
    _check_pair(pre, post, weight)
    B = pre.shape[1]
    with torch.no_grad():
        x_pre = trace(pre, decay_pre, mode=trace_mode, trace0=pre_trace0, backend=backend)
        x_post = trace(post, decay_post, mode=trace_mode, trace0=post_trace0, backend=backend)
        r = None
        if reward is not None:
            r = torch.as_tensor(reward, dtype=torch.float32, device=pre.device)
            if r.numel() not in (1, B):
                raise ValueError(
                    f"reward must be a number or one value per sample [B] = [{B}]; got shape {tuple(r.shape)}"
                )
            r = r.reshape(-1)[None, :, None]
        rule_ = _Rule(a_plus, a_minus, rule, w_min, w_max, weight)
        delta = rule_.delta(*_pair_sums(pre, post, x_pre, x_post, r))
        if reduction == "mean" and B > 0:
            delta = delta / B
    if return_traces:
        return delta, x_pre, x_post
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
    reduction="mean",
    trace_mode="cumulative",
    pre_trace0=None,
    post_trace0=None,
    eligibility0=None,
    return_state=False,
    backend="auto",
):
    """Reward-modulated STDP with an eligibility trace (MSTDPET, Florian 2007) over a sequence.

    Per sample, the pair term of step ``t`` (as in :func:`stdp`, soft-bounded with the
    multiplicative rule)::

        zeta[t] = a_plus * post[t] x_pre[t]^T - a_minus * x_post[t] pre[t]^T     [O, I]

    feeds the eligibility trace ``z[t] = decay_eligibility * z[t-1] + zeta[t]`` (``z[-1] =
    eligibility0``, zeros when None), and the reward turns it into the weight change::

        dW = sum_{t, b} reward[t, b] * z[t, b]        (divided by B with reduction="mean")

    ``z`` is never built over time: ``sum_t r[t] z[t] = sum_s R[s] zeta[s]`` with
    ``R[s] = sum_{t >= s} decay_eligibility^(t-s) r[t]``, the reward filtered backwards in time (one
    scan), so the sums are :func:`stdp`'s two matrix products with ``R`` as a per-step reward, plus
    ``sum_t decay^(t+1) r[t]`` times ``eligibility0``. Rewards after the sequence do not count
    unless the next chunk gets the final state (``return_state``).

    Args:
        pre: presynaptic spikes ``[T, B, I]``.
        post: postsynaptic spikes ``[T, B, O]``.
        weight: ``[O, I]`` (the multiplicative rule's soft bounds read it; held fixed).
        reward: a number, per sample ``[B]``, per step ``[T]`` or per step and sample ``[T, B]``.
        a_plus: learning rate (>= 0) of potentiation.
        a_minus: learning rate (>= 0) of depression.
        decay_pre: presynaptic trace decay ``exp(-dt/tau_pre)`` in [0, 1].
        decay_post: postsynaptic trace decay ``exp(-dt/tau_post)`` in [0, 1].
        decay_eligibility: eligibility trace decay ``exp(-dt/tau_z)`` in [0, 1].
        rule: ``"additive"`` or ``"multiplicative"`` (needs ``w_min`` and ``w_max``).
        w_min: lower weight bound.
        w_max: upper weight bound.
        reduction: ``"mean"`` or ``"sum"`` over the batch.
        trace_mode: ``"cumulative"`` or ``"nearest"`` (the spike traces).
        pre_trace0: presynaptic trace carried from a previous chunk ``[B, I]``.
        post_trace0: postsynaptic trace carried from a previous chunk ``[B, O]``.
        eligibility0: eligibility carried from a previous chunk ``[B, O, I]``.
        return_state: also return ``(x_pre[-1], x_post[-1], z[-1])``, the state for the next chunk.
        backend: backend of the trace scans.

    Returns:
        ``dW [O, I]`` fp32, or ``(dW, (pre_trace, post_trace, eligibility))``.
    """
    check_input(pre, "pre")
    check_input(post, "post")
    check_stdp_options(a_plus, a_minus, rule, w_min, w_max, reduction)
    _check_pair(pre, post, weight)
    if not (isinstance(decay_eligibility, (int, float)) and 0.0 <= decay_eligibility <= 1.0):
        raise ValueError(f"decay_eligibility must be a decay in [0, 1]; got {decay_eligibility!r}")
    T, B = pre.shape[:2]
    n_post, n_pre = weight.shape
    with torch.no_grad():
        r = _step_rewards(reward, T, B, pre.device)
        x_pre = trace(pre, decay_pre, mode=trace_mode, trace0=pre_trace0, backend=backend)
        x_post = trace(post, decay_post, mode=trace_mode, trace0=post_trace0, backend=backend)
        filtered = trace(r.flip(0)[..., None], decay_eligibility, backend=backend).flip(0)  # R [T, B, 1]
        rule_ = _Rule(a_plus, a_minus, rule, w_min, w_max, weight)
        delta = rule_.delta(*_pair_sums(pre, post, x_pre, x_post, filtered))
        powers = decay_eligibility ** torch.arange(1, T + 1, dtype=torch.float32, device=pre.device)
        z0 = None
        if eligibility0 is not None:
            z0 = torch.as_tensor(eligibility0, dtype=torch.float32, device=pre.device)
            if tuple(z0.shape) != (B, n_post, n_pre):
                raise ValueError(
                    f"eligibility0 must have shape [B, O, I] = {(B, n_post, n_pre)}; got {tuple(z0.shape)}"
                )
            delta = delta + torch.einsum("b,boi->oi", (powers[:, None] * r).sum(0), z0)
        if reduction == "mean" and B > 0:
            delta = delta / B
        if not return_state:
            return delta
        state = (x_pre[-1], x_post[-1], _final_eligibility(pre, post, x_pre, x_post, rule_, powers, z0))
    return delta, state


def _step_rewards(reward, T, B, device):
    """``reward`` (number, [B], [T] or [T, B]) as fp32 ``[T, B]``."""
    r = torch.as_tensor(reward, dtype=torch.float32, device=device)
    if r.dim() == 0 or tuple(r.shape) in ((B,), (T, B)):
        return torch.broadcast_to(r, (T, B))
    if tuple(r.shape) == (T,):
        return r[:, None].expand(T, B)
    raise ValueError(
        f"reward must be a number, [B] = [{B}], [T] = [{T}] or [T, B] = [{T}, {B}]; got shape {tuple(r.shape)}"
    )


def _final_eligibility(pre, post, x_pre, x_post, rule, powers, z0):
    """``z[T-1]`` per sample ``[B, O, I]``: ``sum_s decay^(T-1-s) zeta[s]`` (+ ``decay^T z0``)."""
    T = pre.shape[0]
    if T == 0:
        return z0 if z0 is not None else torch.zeros(pre.shape[1], post.shape[2], pre.shape[2], device=pre.device)
    w = (powers / powers[0]).flip(0)[:, None, None]  # decay^(T-1-s)
    s_post, s_pre = post.to(torch.float32), pre.to(torch.float32)
    ltp = torch.bmm((s_post * w).permute(1, 2, 0), x_pre.permute(1, 0, 2))  # [B, O, I]
    ltd = torch.bmm((x_post * w).permute(1, 2, 0), s_pre.permute(1, 0, 2))
    z = rule.delta(ltp, ltd)
    return z if z0 is None else z + powers[-1] * z0


def _check_pair(pre, post, weight):
    if pre.dim() != 3 or post.dim() != 3 or pre.shape[:2] != post.shape[:2]:
        raise ValueError(
            f"pre [T, B, I] and post [T, B, O] must share T and B; got {tuple(pre.shape)} and {tuple(post.shape)}"
        )
    if not isinstance(weight, torch.Tensor) or tuple(weight.shape) != (post.shape[2], pre.shape[2]):
        raise ValueError(
            f"weight must have shape [O, I] = {(post.shape[2], pre.shape[2])} "
            f"(post features, pre features); got {getattr(weight, 'shape', weight)}"
        )


def _pair_sums(pre, post, x_pre, x_post, r):
    """``(LTP, LTD)`` ``[O, I]``: ``sum_{t,b} r post x_pre^T`` and ``sum_{t,b} r x_post pre^T`` (``r``
    broadcasts to ``[T, B, 1]``; None: 1), each one matrix product over the merged time and batch."""
    T, B = pre.shape[:2]
    s_pre, s_post = pre.to(torch.float32), post.to(torch.float32)
    if r is not None:
        s_post, x_post = s_post * r, x_post * r
    ltp = s_post.reshape(T * B, -1).T @ x_pre.reshape(T * B, -1)
    ltd = x_post.reshape(T * B, -1).T @ s_pre.reshape(T * B, -1)
    return ltp, ltd


class _Rule:
    """The weight change of pair terms, additive or soft-bounded (``W`` held fixed)."""

    def __init__(self, a_plus, a_minus, rule, w_min, w_max, weight):
        self.a_plus, self.a_minus, self.w_min, self.w_max = a_plus, a_minus, w_min, w_max
        self.w = weight.detach().to(torch.float32) if rule == "multiplicative" else None

    def delta(self, ltp, ltd):
        if self.w is None:
            return self.a_plus * ltp - self.a_minus * ltd
        return self.a_plus * (self.w_max - self.w) * ltp - self.a_minus * (self.w - self.w_min) * ltd


def check_stdp_options(a_plus, a_minus, rule, w_min, w_max, reduction):
    """Raise a ValueError naming the bad STDP option."""
    for name, v in (("a_plus", a_plus), ("a_minus", a_minus)):
        if not isinstance(v, (int, float)) or not math.isfinite(v) or v < 0:
            raise ValueError(f"{name} must be a finite learning rate >= 0; got {v!r}")
    if rule not in _STDP_RULES:
        raise ValueError(f"rule must be one of {_STDP_RULES}; got {rule!r}")
    if reduction not in _REDUCTIONS:
        raise ValueError(f"reduction must be one of {_REDUCTIONS}; got {reduction!r}")
    if rule == "multiplicative" and (w_min is None or w_max is None):
        raise ValueError("rule='multiplicative' (soft bounds) needs both w_min and w_max")
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
        thr = torch.as_tensor(threshold, dtype=torch.float32, device=spikes.device).detach()
        return (thr + rate * (firing - target_rate)).clamp_(min=min_threshold)
