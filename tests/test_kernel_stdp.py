"""Kernel STDP (Inferno's rule with arbitrary kernels of the spike-time difference, nearest pairs)
against a step-by-step loop written from its definition, and against pair STDP with nearest traces."""

import math

import pytest
import torch
from torch import nn

import tritonsnn as tsnn
import tritonsnn.functional as F

from .checks import assert_close


def _spikes(T, B, N, p, gen):
    return (torch.rand(T, B, N, generator=gen) < p).float()


def _mexican_hat(d):
    """A signed kernel: potentiation near 0, depression further out (both signs in one kernel)."""
    return 0.05 * torch.exp(-((d / 3.0) ** 2)) - 0.02 * torch.exp(-d.abs() / 12.0)


def kernel_stdp_ref(pre, post, weight, kernel_post, kernel_pre, dt, rule, w_min, w_max, reduction, reward):
    """Per step: a post spike pairs with each synapse's latest pre spike (same step included), a pre
    spike with the latest post spike strictly before; positive changes bounded as LTP, negative as LTD."""
    T, B, O, I = pre.shape[0], pre.shape[1], post.shape[2], pre.shape[2]
    e_pre, e_post = torch.full((B, I), math.inf), torch.full((B, O), math.inf)
    up, down = torch.zeros(B, O, I), torch.zeros(B, O, I)
    r = torch.ones(B) if reward is None else torch.as_tensor(reward, dtype=torch.float32).expand(B)
    for t in range(T):
        e_pre = torch.where(pre[t] > 0, 0.0, e_pre + dt)
        before = e_post + dt
        for b in range(B):
            for o in range(O):
                for i in range(I):
                    changes = []
                    if post[t, b, o] > 0 and math.isfinite(e_pre[b, i]):
                        changes.append(float(kernel_post(e_pre[b, i : i + 1])[0]))
                    if pre[t, b, i] > 0 and math.isfinite(before[b, o]):
                        changes.append(float(kernel_pre(-before[b, o : o + 1])[0]))
                    for c in changes:
                        if c >= 0:
                            up[b, o, i] += r[b] * c
                        else:
                            down[b, o, i] -= r[b] * c
        e_post = torch.where(post[t] > 0, 0.0, e_post + dt)
    if rule == "multiplicative":
        up, down = (w_max - weight) * up, (weight - w_min) * down
    delta = up - down
    if reduction == "mean":
        return delta.mean(0), (e_pre, e_post)
    if reduction == "max":
        return delta.amax(0), (e_pre, e_post)
    return delta.sum(0), (e_pre, e_post)


@pytest.mark.parametrize("rule", ["additive", "multiplicative"])
@pytest.mark.parametrize("reduction", ["mean", "sum", "max"])
@pytest.mark.parametrize("reward", [None, "per_sample"])
def test_kernel_stdp_matches_the_step_by_step_rule(rule, reduction, reward):
    gen = torch.Generator().manual_seed(3)
    T, B, I, O = 23, 3, 5, 4
    pre, post = _spikes(T, B, I, 0.25, gen), _spikes(T, B, O, 0.2, gen)
    weight = torch.rand(O, I, generator=gen)
    r = None if reward is None else torch.tensor([1.0, -0.5, 2.0])
    kernel_pre = lambda d: 0.03 * torch.sin(d / 4.0)  # noqa: E731  (signed too)
    kw = dict(dt=0.5, rule=rule, w_min=0.0, w_max=1.0, reduction=reduction, reward=r)
    delta, (e_pre, e_post) = F.kernel_stdp(
        pre, post, weight, kernel_post=_mexican_hat, kernel_pre=kernel_pre, return_elapsed=True, **kw
    )
    want, (want_pre, want_post) = kernel_stdp_ref(pre, post, weight, _mexican_hat, kernel_pre, **kw)
    assert_close(delta, want, 1e-6, 1e-6, "dW")
    assert torch.equal(e_pre, want_pre) and torch.equal(e_post, want_post)


def _disjoint(T, B, I, O, gen):
    """Pre spikes on even steps, post spikes on odd ones: no coincident pairs."""
    pre, post = _spikes(T, B, I, 0.4, gen), _spikes(T, B, O, 0.4, gen)
    pre[1::2] = 0
    post[0::2] = 0
    return pre, post


@pytest.mark.parametrize("target", ["dense", "one_to_one", "conv"])
def test_exponential_kernels_are_pair_stdp_with_nearest_traces(target):
    gen = torch.Generator().manual_seed(4)
    T, B = 16, 2
    tau_plus, tau_minus, dt = 6.0, 9.0, 0.5
    kernel_post, kernel_pre = F.exp_stdp_kernels(0.02, 0.03, tau_plus, tau_minus)
    if target == "conv":
        pre, post = (_spikes(T, B, 2 * 36, 0.3, gen) for _ in range(2))
        pre, post = pre.view(T, B, 2, 6, 6), post[:, :, :48].reshape(T, B, 3, 4, 4)
        pre[1::2], post[0::2] = 0, 0
        weight, geometry = torch.rand(3, 2, 3, 3, generator=gen), {}
    else:
        N = 6
        pre, post = _disjoint(T, B, N, N if target == "one_to_one" else 4, gen)
        weight = torch.rand(N, generator=gen) if target == "one_to_one" else torch.rand(4, N, generator=gen)
        geometry = {}
    got = F.kernel_stdp(pre, post, weight, kernel_post=kernel_post, kernel_pre=kernel_pre, dt=dt, **geometry)
    want = F.stdp(
        pre,
        post,
        weight,
        a_plus=0.02,
        a_minus=0.03,
        decay_pre=math.exp(-dt / tau_plus),
        decay_post=math.exp(-dt / tau_minus),
        trace_mode="nearest",
    )
    assert got.abs().sum() > 0
    assert_close(got, want, 1e-6, 1e-5, "dW")


def test_coincident_spikes_pair_once_at_zero_difference():
    pre = torch.tensor([[[1.0]]])
    post = torch.tensor([[[1.0]]])
    seen = []
    d = F.kernel_stdp(
        pre,
        post,
        torch.zeros(1, 1),
        kernel_post=lambda d: (seen.append(d.clone()), torch.ones_like(d))[1],
        kernel_pre=lambda d: torch.full_like(d, 100.0),
    )
    assert d.item() == 1.0  # the pre side found no post spike strictly before
    assert seen[0].item() == 0.0


def test_kernel_stdp_module_over_chunks_equals_one_call():
    gen = torch.Generator().manual_seed(5)
    pre, post = _spikes(30, 2, 5, 0.3, gen), _spikes(30, 2, 3, 0.3, gen)
    kernels = dict(kernel_post=_mexican_hat, kernel_pre=lambda d: -0.02 * torch.exp(d / 10.0))
    whole = tsnn.KernelSTDP(nn.Linear(5, 3), reduction="sum", dt=0.5, **kernels)(pre, post)
    chunked = tsnn.KernelSTDP(nn.Linear(5, 3), reduction="sum", dt=0.5, stateful=True, **kernels)
    total = sum(chunked(pre[a : a + 7], post[a : a + 7]) for a in range(0, 30, 7))
    assert_close(total, whole, 1e-6, 1e-6, "dW over chunks")
    chunked.reset_state()
    assert chunked.elapsed is None


def test_kernel_stdp_module_updates_and_clamps_the_weight():
    layer = nn.Linear(4, 2)
    nn.init.constant_(layer.weight, 0.5)
    kp, km = F.exp_stdp_kernels(5.0, 0.0)
    rule = tsnn.KernelSTDP(layer, kernel_post=kp, kernel_pre=km, w_min=0.0, w_max=1.0)
    pre = torch.zeros(4, 1, 4)
    post = torch.zeros(4, 1, 2)
    pre[0], post[1] = 1, 1  # every pair causal: potentiation past w_max
    delta = rule.update(pre, post)
    assert (delta > 0).all() and torch.equal(layer.weight, torch.ones(2, 4))


def test_elapsed_counts_from_the_latest_spike_and_carries():
    s = torch.tensor([0.0, 1.0, 0.0, 0.0, 1.0, 0.0]).view(6, 1, 1)
    assert F.elapsed(s, 2.0).flatten().tolist() == [math.inf, 0.0, 2.0, 4.0, 0.0, 2.0]
    assert F.elapsed(s, 2.0, torch.tensor([[3.0]])).flatten().tolist() == [5.0, 0.0, 2.0, 4.0, 0.0, 2.0]
    assert F.elapsed(torch.zeros(0, 2, 3)).shape == (0, 2, 3)


def test_kernel_stdp_takes_zero_steps_and_keeps_the_carried_times():
    e0 = torch.full((2, 3), 4.0)
    kp, km = F.exp_stdp_kernels(0.1, 0.1)
    d, (e_pre, e_post) = F.kernel_stdp(
        torch.zeros(0, 2, 3), torch.zeros(0, 2, 1), torch.zeros(1, 3), kernel_post=kp, kernel_pre=km,
        elapsed_pre0=e0, return_elapsed=True,
    )  # fmt: skip
    assert torch.equal(d, torch.zeros(1, 3)) and torch.equal(e_pre, e0) and torch.isinf(e_post).all()


def test_bad_kernel_stdp_arguments():
    pre, post, w = torch.zeros(3, 2, 4), torch.zeros(3, 2, 2), torch.zeros(2, 4)
    kp, km = F.exp_stdp_kernels(0.1, 0.1)
    with pytest.raises(TypeError, match="callables"):
        F.kernel_stdp(pre, post, w, kernel_post=0.1, kernel_pre=km)
    with pytest.raises(ValueError, match="dt must be"):
        F.kernel_stdp(pre, post, w, kernel_post=kp, kernel_pre=km, dt=0)
    with pytest.raises(ValueError, match="elapsed_pre0 must have the per-step shape"):
        F.kernel_stdp(pre, post, w, kernel_post=kp, kernel_pre=km, elapsed_pre0=torch.zeros(4))
    with pytest.raises(ValueError, match="kernel_post must return the shape"):
        F.kernel_stdp(pre, post, w, kernel_post=lambda d: d.sum(), kernel_pre=km)
    with pytest.raises(ValueError, match="needs both w_min and w_max"):
        F.kernel_stdp(pre, post, w, kernel_post=kp, kernel_pre=km, rule="multiplicative")
    with pytest.raises(ValueError, match="tau_plus must be"):
        F.exp_stdp_kernels(0.1, 0.1, tau_plus=0)
    with pytest.raises(TypeError, match="KernelSTDP takes no"):
        tsnn.KernelSTDP(nn.Linear(4, 2), kernel_post=kp, kernel_pre=km, tau_pre=5.0)
