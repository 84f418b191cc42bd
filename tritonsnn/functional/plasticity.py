"""Plasticity over whole sequences: pair-based STDP weight changes and homeostatic thresholds.
These are no neuron dynamics: one trace scan per side and matrix products, under no_grad."""

from __future__ import annotations

import math

import torch

from ._validate import check_input
from .filters import trace

__all__ = ["stdp", "check_stdp_options", "homeostatic_threshold"]

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
    if pre.dim() != 3 or post.dim() != 3 or pre.shape[:2] != post.shape[:2]:
        raise ValueError(
            f"pre [T, B, I] and post [T, B, O] must share T and B; got {tuple(pre.shape)} and {tuple(post.shape)}"
        )
    if not isinstance(weight, torch.Tensor) or tuple(weight.shape) != (post.shape[2], pre.shape[2]):
        raise ValueError(
            f"weight must have shape [O, I] = {(post.shape[2], pre.shape[2])} "
            f"(post features, pre features); got {getattr(weight, 'shape', weight)}"
        )
    T, B = pre.shape[:2]
    f32 = torch.float32
    with torch.no_grad():
        x_pre = trace(pre, decay_pre, mode=trace_mode, trace0=pre_trace0, backend=backend)
        x_post = trace(post, decay_post, mode=trace_mode, trace0=post_trace0, backend=backend)
        s_pre, s_post = pre.to(f32), post.to(f32)
        if reward is not None:
            r = torch.as_tensor(reward, dtype=f32, device=pre.device)
            if r.numel() not in (1, B):
                raise ValueError(
                    f"reward must be a number or one value per sample [B] = [{B}]; got shape {tuple(r.shape)}"
                )
            r = r.reshape(-1)[None, :, None]
            s_post, x_post_r = s_post * r, x_post * r
        else:
            x_post_r = x_post
        # Sum over time and batch at once: [O, T*B] @ [T*B, I].
        ltp = s_post.reshape(T * B, -1).T @ x_pre.reshape(T * B, -1)
        ltd = x_post_r.reshape(T * B, -1).T @ s_pre.reshape(T * B, -1)
        if rule == "multiplicative":
            w = weight.detach().to(f32)
            delta = a_plus * (w_max - w) * ltp - a_minus * (w - w_min) * ltd
        else:
            delta = a_plus * ltp - a_minus * ltd
        if reduction == "mean" and B > 0:
            delta = delta / B
    if return_traces:
        return delta, x_pre, x_post
    return delta


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
