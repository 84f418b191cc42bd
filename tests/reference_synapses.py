"""Executable specification for synapses, delays, traces and STDP: plain step-by-step
loops with autograd, slow on purpose. The fused ops must match them."""

import math

import torch


def exp_synapse_ref(x, alpha, i0=None):
    """``i[t] = alpha * i[t-1] + x[t]`` step by step; alpha clamped to [0, 1]."""
    a = torch.as_tensor(alpha, dtype=torch.float32).clamp(0, 1)
    i = torch.zeros_like(x[0], dtype=torch.float32) if i0 is None else i0.float()
    out = []
    for t in range(x.shape[0]):
        i = a * i + x[t].float()
        out.append(i)
    return torch.stack(out)


def dual_exp_synapse_ref(x, alpha1, alpha2, h0=None, i0=None):
    """Cascade ``h[t] = a1 h[t-1] + x[t]``, ``i[t] = a2 i[t-1] + h[t]``; returns ``(i_seq, h_seq)``."""
    a1 = torch.as_tensor(alpha1, dtype=torch.float32).clamp(0, 1)
    a2 = torch.as_tensor(alpha2, dtype=torch.float32).clamp(0, 1)
    h = torch.zeros_like(x[0], dtype=torch.float32) if h0 is None else h0.float()
    i = torch.zeros_like(x[0], dtype=torch.float32) if i0 is None else i0.float()
    hs, ys = [], []
    for t in range(x.shape[0]):
        h = a1 * h + x[t].float()
        i = a2 * i + h
        hs.append(h)
        ys.append(i)
    return torch.stack(ys), torch.stack(hs)


def trace_ref(s, decay, mode="cumulative", amplitude=1.0, trace0=None):
    """Spike trace step by step (cumulative: add; nearest: a spike sets the trace)."""
    d = torch.as_tensor(decay, dtype=torch.float32)
    tr = torch.zeros_like(s[0], dtype=torch.float32) if trace0 is None else trace0.float()
    out = []
    for t in range(s.shape[0]):
        st = s[t].float() * amplitude
        if mode == "nearest":
            tr = torch.where(st != 0, st, d * tr)
        else:
            tr = d * tr + st
        out.append(tr)
    return torch.stack(out)


def delay_ref(x, delay):
    """Per-channel fractional delay, one step and one channel at a time.

    ``x [T, B, N]``, ``delay [N]`` in steps. Autograd differentiates through the
    fraction ``f = d - floor(d)``: the gradient w.r.t. ``d`` is the interpolation slope.
    """
    T, B, N = x.shape
    d = delay.expand(N)
    cols = []
    for n in range(N):
        k = math.floor(float(d[n].detach()))
        f = d[n] - k
        steps = []
        for t in range(T):
            x0 = x[t - k, :, n].float() if 0 <= t - k < T else x.new_zeros(B, dtype=torch.float32)
            x1 = x[t - k - 1, :, n].float() if 0 <= t - k - 1 < T else x.new_zeros(B, dtype=torch.float32)
            steps.append((1 - f) * x0 + f * x1)
        cols.append(torch.stack(steps))
    return torch.stack(cols, -1)


def stdp_ref(
    pre,
    post,
    weight,
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
):
    """The same pair-based STDP rule as a per-step loop over time and samples.

    Traces are updated first at every step, then each sample adds
    ``r * outer(post, x_pre)`` to LTP and ``r * outer(x_post, pre)`` to LTD.
    """
    T, B, I = pre.shape
    O = post.shape[2]
    xp = torch.zeros(B, I) if pre_trace0 is None else pre_trace0.clone().float()
    xq = torch.zeros(B, O) if post_trace0 is None else post_trace0.clone().float()
    ltp = torch.zeros(O, I, dtype=torch.float64)
    ltd = torch.zeros(O, I, dtype=torch.float64)
    r = torch.ones(B) if reward is None else torch.as_tensor(reward, dtype=torch.float32).expand(B)
    for t in range(T):
        sp, sq = pre[t].float(), post[t].float()
        if trace_mode == "nearest":
            xp = torch.where(sp != 0, sp, decay_pre * xp)
            xq = torch.where(sq != 0, sq, decay_post * xq)
        else:
            xp = decay_pre * xp + sp
            xq = decay_post * xq + sq
        for b in range(B):
            ltp += float(r[b]) * torch.outer(sq[b], xp[b]).double()
            ltd += float(r[b]) * torch.outer(xq[b], sp[b]).double()
    w = weight.detach().double()
    if rule == "multiplicative":
        delta = a_plus * (w_max - w) * ltp - a_minus * (w - w_min) * ltd
    else:
        delta = a_plus * ltp - a_minus * ltd
    if reduction == "mean":
        delta = delta / B
    return delta.float(), xp, xq
