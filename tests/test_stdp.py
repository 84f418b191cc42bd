"""STDP (plain, soft-bounded, reward-modulated) against a per-step loop of the same
rule; Trace module; homeostatic threshold adaptation."""

import copy
import math

import pytest
import torch
from torch import nn

import tritonsnn as tsnn
import tritonsnn.functional as F

from .reference_synapses import stdp_ref, trace_ref
from .test_synapses import assert_close


def _spikes(T, B, N, p, gen):
    return (torch.rand(T, B, N, generator=gen) < p).float()


@pytest.mark.parametrize("rule", ["additive", "multiplicative"])
@pytest.mark.parametrize("reduction", ["mean", "sum"])
@pytest.mark.parametrize("reward", [None, "per_sample", "scalar"])
@pytest.mark.parametrize("trace_mode", ["cumulative", "nearest"])
def test_stdp_matches_per_step_loop(rule, reduction, reward, trace_mode):
    gen = torch.Generator().manual_seed(11)
    T, B, I, O = 9, 3, 7, 5
    pre, post = _spikes(T, B, I, 0.3, gen), _spikes(T, B, O, 0.25, gen)
    weight = torch.rand(O, I, generator=gen)
    r = {None: None, "per_sample": torch.tensor([1.0, -0.5, 2.0]), "scalar": 0.7}[reward]
    kw = {
        "a_plus": 0.01,
        "a_minus": 0.012,
        "decay_pre": math.exp(-1 / 5),
        "decay_post": math.exp(-1 / 8),
        "rule": rule,
        "w_min": 0.0,
        "w_max": 1.0,
        "reduction": reduction,
        "reward": r,
        "trace_mode": trace_mode,
    }
    delta, x_pre, x_post = F.stdp(pre, post, weight, return_traces=True, **kw)
    want, want_pre, want_post = stdp_ref(pre, post, weight, **kw)
    assert_close(delta, want, 1e-5, 1e-7, "dW")
    assert_close(x_pre[-1], want_pre, 1e-6, 1e-6, "final pre trace")
    assert_close(x_post[-1], want_post, 1e-6, 1e-6, "final post trace")


@pytest.mark.parametrize("backend", ["torch", "triton"])
def test_stdp_traces_on_both_backends(backend, device):
    gen = torch.Generator().manual_seed(12)
    pre, post = _spikes(6, 2, 5, 0.4, gen).to(device), _spikes(6, 2, 3, 0.4, gen).to(device)
    weight = torch.rand(3, 5, generator=gen).to(device)
    kw = {"a_plus": 0.1, "a_minus": 0.05, "decay_pre": 0.8, "decay_post": 0.6}
    delta = F.stdp(pre, post, weight, backend=backend, **kw)
    assert_close(delta.cpu(), stdp_ref(pre.cpu(), post.cpu(), weight.cpu(), **kw)[0], 1e-5, 1e-7, "dW")


def test_stdp_timing_sign():
    # pre fires 2 steps before post -> potentiation; post 2 steps before pre -> depression.
    T = 10
    pre = torch.zeros(T, 2, 1)
    post = torch.zeros(T, 2, 1)
    pre[3, 0], post[5, 0] = 1, 1  # sample 0: causal pair
    post[3, 1], pre[5, 1] = 1, 1  # sample 1: anti-causal pair
    w = torch.zeros(1, 1)
    kw = {"a_plus": 1.0, "a_minus": 1.0, "decay_pre": 0.5, "decay_post": 0.5, "reduction": "sum"}
    causal = F.stdp(pre[:, :1], post[:, :1], w, **kw)
    anti = F.stdp(pre[:, 1:], post[:, 1:], w, **kw)
    assert math.isclose(causal.item(), 0.25) and math.isclose(anti.item(), -0.25)
    # reduction="mean" averages the per-sample updates of the shared weight.
    assert math.isclose(F.stdp(pre, post, w, **{**kw, "reduction": "mean"}).item(), 0.0, abs_tol=1e-7)


def test_stateful_stdp_chunks_add_up_to_the_whole_sequence():
    gen = torch.Generator().manual_seed(13)
    pre, post = _spikes(12, 2, 6, 0.3, gen), _spikes(12, 2, 4, 0.3, gen)
    linear = nn.Linear(6, 4, bias=False)
    kw = {"a_plus": 0.01, "a_minus": 0.02, "tau_pre": 5.0, "tau_post": 10.0}
    whole = tsnn.STDP(linear, **kw)(pre, post)
    rule = tsnn.STDP(linear, stateful=True, **kw)
    parts = rule(pre[:5], post[:5]) + rule(pre[5:], post[5:])
    assert_close(parts, whole, 1e-5, 1e-7, "chunked dW")
    tsnn.reset(rule)
    assert rule.pre_trace is None


def test_stdp_update_applies_to_shared_weight_within_bounds():
    gen = torch.Generator().manual_seed(14)
    conn = tsnn.Connection(nn.Linear(8, 3, bias=False))
    with torch.no_grad():
        conn.layer.weight.uniform_(0.0, 1.0, generator=gen)
    cell = tsnn.Cell(conn, tsnn.Leaky(beta=0.9, threshold=0.5), record=True)
    rule = tsnn.STDP(cell, a_plus=0.5, a_minus=0.4, rule="additive", w_min=0.0, w_max=1.0)
    x = _spikes(20, 4, 8, 0.5, gen)
    before = conn.layer.weight.detach().clone()
    with torch.no_grad():
        cell(x)
        delta = rule.update()
    expected = (
        before
        + F.stdp(
            cell.pre,
            cell.post,
            before,
            a_plus=0.5,
            a_minus=0.4,
            decay_pre=math.exp(-1 / 20),
            decay_post=math.exp(-1 / 20),
        )
    ).clamp(0.0, 1.0)
    assert_close(conn.layer.weight.detach(), expected, 1e-6, 1e-6, "updated weight")
    assert delta.abs().max() > 1.0  # big rates: the clamp was exercised
    assert conn.layer.weight.min() >= 0.0 and conn.layer.weight.max() <= 1.0


def test_multiplicative_rule_stays_inside_bounds_without_clamping():
    gen = torch.Generator().manual_seed(15)
    w = torch.rand(4, 6, generator=gen) * 0.5 + 0.25
    pre, post = _spikes(30, 2, 6, 0.3, gen), _spikes(30, 2, 4, 0.3, gen)
    delta = F.stdp(
        pre,
        post,
        w,
        a_plus=0.01,
        a_minus=0.01,
        decay_pre=0.9,
        decay_post=0.9,
        rule="multiplicative",
        w_min=0.0,
        w_max=1.0,
    )
    near_top = torch.full_like(w, 0.999)
    delta_top = F.stdp(
        pre,
        post,
        near_top,
        a_plus=0.01,
        a_minus=0.0,
        decay_pre=0.9,
        decay_post=0.9,
        rule="multiplicative",
        w_min=0.0,
        w_max=1.0,
    )
    assert delta_top.max() <= 0.001 + 1e-7 and delta_top.max() > 0  # potentiation shrinks near w_max
    assert ((w + delta) > 0).all() and ((w + delta) < 1).all()


def test_bad_stdp_arguments():
    lin = nn.Linear(4, 3)
    pre, post, w = torch.zeros(5, 2, 4), torch.zeros(5, 2, 3), lin.weight
    base = {"a_plus": 0.1, "a_minus": 0.1, "decay_pre": 0.9, "decay_post": 0.9}
    with pytest.raises(ValueError, match="w_min must be smaller"):
        F.stdp(pre, post, w, w_min=1.0, w_max=1.0, **base)
    with pytest.raises(ValueError, match="a_plus"):
        F.stdp(pre, post, w, **{**base, "a_plus": -0.1})
    with pytest.raises(ValueError, match="a_minus"):
        F.stdp(pre, post, w, **{**base, "a_minus": float("nan")})
    with pytest.raises(ValueError, match="needs both w_min and w_max"):
        F.stdp(pre, post, w, rule="multiplicative", w_max=1.0, **base)
    with pytest.raises(ValueError, match="rule"):
        F.stdp(pre, post, w, rule="hebb", **base)
    with pytest.raises(ValueError, match="reduction"):
        F.stdp(pre, post, w, reduction="prod", **base)
    with pytest.raises(ValueError, match="reward"):
        F.stdp(pre, post, w, reward=torch.ones(3), **base)
    with pytest.raises(ValueError, match="weight must have shape"):
        F.stdp(pre, post, w.T, **base)
    with pytest.raises(ValueError, match="share T and B"):
        F.stdp(pre, post[:4], w, **base)
    with pytest.raises(ValueError, match="decay"):
        F.stdp(pre, post, w, **{**base, "decay_pre": 2.0})
    with pytest.raises(TypeError, match="nn.Linear, nn.Conv2d, tsnn.DelayedLinear or tsnn.OneToOne"):
        tsnn.STDP(nn.Conv1d(1, 1, 3), a_plus=0.1, a_minus=0.1)
    with pytest.raises(ValueError, match="groups=1"):
        tsnn.STDP(nn.Conv2d(2, 2, 3, groups=2), a_plus=0.1, a_minus=0.1)
    with pytest.raises(ValueError, match="record=True"):
        tsnn.STDP(tsnn.Cell(tsnn.Connection(lin), tsnn.Leaky(beta=0.9)), a_plus=0.1, a_minus=0.1)
    with pytest.raises(ValueError, match="tau_post"):
        tsnn.STDP(lin, a_plus=0.1, a_minus=0.1, tau_post=0.0)
    with pytest.raises(ValueError, match="w_min must be smaller"):
        tsnn.STDP(lin, a_plus=0.1, a_minus=0.1, w_min=2.0, w_max=1.0)
    with pytest.raises(ValueError, match="pass pre and post"):
        tsnn.STDP(lin, a_plus=0.1, a_minus=0.1).update()


def test_trace_module_matches_functional_and_carries_state():
    gen = torch.Generator().manual_seed(16)
    s = _spikes(10, 2, 3, 0.3, gen)
    tr = tsnn.Trace(tau=4.0, dt=1.0, mode="nearest", stateful=True)
    out = torch.cat([tr(s[:4]), tr(s[4:])])
    assert_close(out, trace_ref(s, math.exp(-0.25), "nearest"), 1e-6, 1e-6, "stateful nearest trace")
    with pytest.raises(ValueError, match="tau"):
        tsnn.Trace(tau=0.0)


def test_stdp_does_not_own_its_layer():
    # The model owns the layer; a model holding the rule has the weight once in its state_dict,
    # and a deep copy of the model copies the layer once (the rule follows the copy).
    cell = tsnn.Cell(tsnn.Connection(nn.Linear(4, 3, bias=False)), tsnn.Leaky(beta=0.9), record=True)
    model = nn.ModuleDict({"cell": cell, "stdp": tsnn.STDP(cell, a_plus=0.1, a_minus=0.1)})
    assert sorted(model.state_dict()) == ["cell.connection.layer.weight", "cell.neuron.beta", "cell.neuron.threshold"]
    twin = copy.deepcopy(model)
    assert twin["stdp"].linear is twin["cell"].connection.layer
    assert twin["stdp"].cell is twin["cell"]


def test_homeostatic_threshold_moves_towards_target_rate():
    neuron = tsnn.Leaky(beta=0.9, threshold=1.0)
    homeo = tsnn.HomeostaticThreshold(neuron, target_rate=0.1, rate=0.5, features=3)
    buffer = neuron.threshold
    assert buffer.shape == (3,)  # per-neuron from construction, not from the first update
    spikes = torch.zeros(10, 4, 3)
    spikes[:, :, 0] = 1.0  # neuron 0 fires every step: rate 1.0
    spikes[::5, :, 1] = 1.0  # neuron 1: rate 0.2
    new = homeo.update(spikes)  # neuron 2 silent
    assert_close(new, torch.tensor([1.45, 1.05, 0.95]), 1e-6, 1e-6, "threshold")
    assert neuron.threshold is buffer and torch.equal(buffer, new)  # written in place
    # The neuron runs with the per-neuron threshold afterwards.
    assert neuron(torch.full((1, 2, 3), 0.97)).sum(dim=(0, 1)).tolist() == [0.0, 0.0, 2.0]
    # A learnable threshold stays the same Parameter, so an optimizer built before keeps it.
    learn = tsnn.Leaky(beta=0.9, learn_threshold=True)
    homeo = tsnn.HomeostaticThreshold(learn, target_rate=0.0, rate=0.1, min_threshold=0.5, features=4)
    param = learn.threshold
    opt = torch.optim.Adam(learn.parameters(), lr=1e-3)
    assert isinstance(param, nn.Parameter) and param.shape == (4,)
    homeo.update(torch.zeros(2, 2, 4))
    assert learn.threshold is param
    learn(torch.ones(3, 2, 4)).sum().backward()
    opt.step()
    assert opt.state[param]["exp_avg"].shape == (4,)
    # Never below min_threshold.
    low = tsnn.HomeostaticThreshold(learn, target_rate=1.0, rate=10.0, min_threshold=0.5).update(torch.zeros(2, 2, 4))
    assert torch.equal(low, torch.full((4,), 0.5))


def test_homeostatic_checkpoint_loads_into_a_fresh_model():
    def build():
        neuron = tsnn.Leaky(beta=0.9)
        return neuron, tsnn.HomeostaticThreshold(neuron, target_rate=0.2, rate=0.5, features=(2, 3))

    neuron, homeo = build()
    homeo.update((torch.rand(5, 4, 2, 3) > 0.5).float())
    fresh, _ = build()
    fresh.load_state_dict(neuron.state_dict())  # strict: same keys, same shapes
    assert torch.equal(fresh.threshold, neuron.threshold)


def test_bad_homeostasis_arguments():
    neuron = tsnn.Leaky(beta=0.9)
    with pytest.raises(ValueError, match="target_rate"):
        tsnn.HomeostaticThreshold(neuron, target_rate=1.5, rate=0.1)
    with pytest.raises(ValueError, match="rate"):
        tsnn.HomeostaticThreshold(neuron, target_rate=0.1, rate=0.0)
    with pytest.raises(ValueError, match="min_threshold"):
        tsnn.HomeostaticThreshold(neuron, target_rate=0.1, rate=0.1, min_threshold=0.0)
    with pytest.raises(TypeError, match="threshold"):
        tsnn.HomeostaticThreshold(nn.ReLU(), target_rate=0.1, rate=0.1)
    with pytest.raises(ValueError, match="features=N"):
        tsnn.HomeostaticThreshold(neuron, target_rate=0.1, rate=0.1)  # a shared threshold, no features
    with pytest.raises(ValueError, match="features"):
        tsnn.HomeostaticThreshold(tsnn.Leaky(0.9, threshold=torch.ones(3)), target_rate=0.1, rate=0.1, features=4)
    homeo = tsnn.HomeostaticThreshold(neuron, target_rate=0.1, rate=0.1, features=3)
    with pytest.raises(ValueError, match="do not match"):
        homeo.update(torch.zeros(2, 2, 5))


# ----------------------------------------------------------------------------- MSTDPET


def _mstdpet_reference(pre, post, w, reward, a_plus, a_minus, dp, dq, de, rule, z0):
    """Step by step, eligibility built explicitly: z = de*z + zeta; dW += r[t] z (summed over b)."""
    T, B, I = pre.shape
    O = post.shape[2]
    r = reward  # [T, B]
    xp, xq = torch.zeros(B, I), torch.zeros(B, O)
    z = torch.zeros(B, O, I) if z0 is None else z0.clone()
    dw = torch.zeros(O, I)
    for t in range(T):
        xp, xq = dp * xp + pre[t], dq * xq + post[t]
        ltp = torch.einsum("bo,bi->boi", post[t], xp)
        ltd = torch.einsum("bo,bi->boi", xq, pre[t])
        if rule == "additive":
            zeta = a_plus * ltp - a_minus * ltd
        else:
            zeta = a_plus * (1.0 - w) * ltp - a_minus * (w + 0.5) * ltd
        z = de * z + zeta
        dw += (r[t][:, None, None] * z).sum(0)
    return dw, z


@pytest.mark.parametrize("rule", ["additive", "multiplicative"])
@pytest.mark.parametrize("reward_shape", ["T,B", "T", "B", "scalar"])
def test_mstdpet_equals_the_step_by_step_eligibility_rule(rule, reward_shape):
    g = torch.Generator().manual_seed(4)
    T, B, I, O = 11, 3, 5, 4
    pre = (torch.rand(T, B, I, generator=g) < 0.3).float()
    post = (torch.rand(T, B, O, generator=g) < 0.3).float()
    w = torch.rand(O, I, generator=g)
    reward = {
        "T,B": torch.randn(T, B, generator=g),
        "T": torch.randn(T, generator=g),
        "B": torch.randn(B, generator=g),
        "scalar": 0.7,
    }[reward_shape]
    z0 = torch.randn(B, O, I, generator=g)
    bounds = dict(w_min=-0.5, w_max=1.0) if rule == "multiplicative" else {}
    kw = dict(a_plus=0.1, a_minus=0.12, decay_pre=0.8, decay_post=0.7, decay_eligibility=0.9, rule=rule, **bounds)
    dw, (x_pre, x_post, z) = F.mstdpet(pre, post, w, reward, reduction="sum", eligibility0=z0, return_state=True, **kw)
    r = torch.as_tensor(reward, dtype=torch.float32)
    r = r[:, None].expand(T, B) if reward_shape == "T" else torch.broadcast_to(r, (T, B))
    want_dw, want_z = _mstdpet_reference(pre, post, w, r, 0.1, 0.12, 0.8, 0.7, 0.9, rule, z0)
    assert_close(dw, want_dw, 1e-5, 1e-5, "dW")
    assert_close(z, want_z, 1e-5, 1e-5, "final eligibility")
    mean = F.mstdpet(pre, post, w, reward, eligibility0=z0, **kw)
    assert_close(mean, want_dw / B, 1e-5, 1e-5, "mean over the batch")


def _by_effect_reference(pre, post, w, r, a_plus, a_minus, decays, bounds, halves0):
    """Step by step with the eligibility's raw halves: each step's reward, by its sign, picks the
    bounds: ``r >= 0``: ``a+ (w_max - W) z_ltp - a- (W - w_min) z_ltd``; ``r < 0``: swapped."""
    dp, dq, de = decays
    up, down = bounds[1] - w, w - bounds[0]
    T, B, I = pre.shape
    xp, xq = torch.zeros(B, I), torch.zeros(B, post.shape[2])
    zp, zd = (torch.zeros(B, *w.shape), torch.zeros(B, *w.shape)) if halves0 is None else halves0.clone()
    dw = torch.zeros_like(w)
    for t in range(T):
        xp, xq = dp * xp + pre[t], dq * xq + post[t]
        zp = de * zp + torch.einsum("bo,bi->boi", post[t], xp)
        zd = de * zd + torch.einsum("bo,bi->boi", xq, pre[t])
        for b in range(B):
            u, d = (up, down) if r[t, b] >= 0 else (down, up)
            dw += r[t, b] * (a_plus * u * zp[b] - a_minus * d * zd[b])
    return dw, torch.stack([zp, zd])


def test_mstdpet_bound_by_effect_swaps_the_bounds_of_punished_terms():
    """Inferno's soft bounds: a term the (negative) reward turns into depression is bounded by
    ``W - w_min``, so weights at a bound stay there; the result equals the step-by-step rule over
    one call and over two chunks (the eligibility carried as its raw LTP and LTD halves)."""
    g = torch.Generator().manual_seed(7)
    T, B, I, O = 12, 3, 5, 4
    pre = (torch.rand(T, B, I, generator=g) < 0.3).float()
    post = (torch.rand(T, B, O, generator=g) < 0.3).float()
    w, r = torch.rand(O, I, generator=g), torch.randn(T, B, generator=g)
    halves0 = torch.rand(2, B, O, I, generator=g)
    kw = dict(a_plus=0.1, a_minus=0.12, decay_pre=0.8, decay_post=0.7, decay_eligibility=0.9)
    kw |= dict(rule="multiplicative", w_min=-0.5, w_max=1.0, reduction="sum", bound_by_effect=True)
    dw, (_, _, z) = F.mstdpet(pre, post, w, r, eligibility0=halves0, return_state=True, **kw)
    want_dw, want_z = _by_effect_reference(pre, post, w, r, 0.1, 0.12, (0.8, 0.7, 0.9), (-0.5, 1.0), halves0)
    assert_close(dw, want_dw, 1e-5, 1e-5, "dW")
    assert_close(z, want_z, 1e-5, 1e-5, "eligibility halves")
    first, state = F.mstdpet(pre[:5], post[:5], w, r[:5], eligibility0=halves0, return_state=True, **kw)
    second = F.mstdpet(
        pre[5:], post[5:], w, r[5:], pre_trace0=state[0], post_trace0=state[1], eligibility0=state[2], **kw
    )
    assert_close(first + second, want_dw, 1e-5, 1e-5, "two chunks")
    # potentiating pairs only, punished, on weights at w_min: they cannot go lower
    at_min = torch.full((O, I), -0.5)
    ltp_only = dict(kw, a_minus=0.0)
    assert F.mstdpet(pre, post, at_min, -1.0, **ltp_only).abs().max() == 0
    assert F.mstdpet(pre, post, at_min, -1.0, **dict(ltp_only, bound_by_effect=False)).min() < 0
    with pytest.raises(ValueError, match="bound_by_effect needs a weight-dependent rule"):
        F.mstdpet(pre, post, w, r, **dict(kw, rule="additive"))
    with pytest.raises(ValueError, match=r"\[2, B, \*weight.shape\]"):
        F.mstdpet(pre, post, w, r, eligibility0=torch.zeros(B, O, I), **kw)
    module = tsnn.MSTDPET(nn.Linear(I, O), a_plus=0.1, a_minus=0.1, rule="multiplicative", w_min=-1.0, w_max=1.0,
                          bound_by_effect=True, stateful=True)  # fmt: skip
    module(pre, post, r)
    assert module.eligibility.shape == (2, B, O, I)
    with pytest.raises(ValueError, match="bound_by_effect needs a weight-dependent rule"):
        tsnn.MSTDPET(nn.Linear(I, O), a_plus=0.1, a_minus=0.1, bound_by_effect=True)


def test_mstdpet_without_eligibility_memory_is_reward_modulated_stdp():
    g = torch.Generator().manual_seed(5)
    pre = (torch.rand(9, 4, 6, generator=g) < 0.3).float()
    post = (torch.rand(9, 4, 3, generator=g) < 0.3).float()
    w, r = torch.rand(3, 6, generator=g), torch.randn(4, generator=g)
    kw = dict(a_plus=0.1, a_minus=0.05, decay_pre=0.8, decay_post=0.7)
    assert_close(
        F.mstdpet(pre, post, w, r, decay_eligibility=0.0, **kw),
        F.stdp(pre, post, w, reward=r, **kw),
        1e-6,
        1e-6,
        "decay 0",
    )


def test_mstdpet_module_over_chunks_equals_one_call():
    g = torch.Generator().manual_seed(6)
    pre = (torch.rand(20, 3, 6, generator=g) < 0.3).float()
    post = (torch.rand(20, 3, 4, generator=g) < 0.3).float()
    reward = torch.randn(20, 3, generator=g)
    lin = nn.Linear(6, 4)
    whole = tsnn.MSTDPET(lin, a_plus=0.01, a_minus=0.012, tau_eligibility=10.0)(pre, post, reward)
    chunked = tsnn.MSTDPET(lin, a_plus=0.01, a_minus=0.012, tau_eligibility=10.0, stateful=True)
    parts = [chunked(pre[a:b], post[a:b], reward[a:b]) for a, b in ((0, 7), (7, 20))]
    assert_close(parts[0] + parts[1], whole, 1e-5, 1e-6, "chunked")
    assert chunked.eligibility.shape == (3, 4, 6)
    chunked.reset_state()
    assert chunked.eligibility is None and chunked.pre_trace is None
    with pytest.raises(ValueError, match="needs the reward"):
        chunked(pre, post)
    with pytest.raises(ValueError, match=r"reward must be a number, \[B\] = \[3\], \[T\] = \[20\]"):
        chunked(pre, post, torch.zeros(5))
    with pytest.raises(ValueError, match="eligibility0 must have shape"):
        F.mstdpet(
            pre,
            post,
            lin.weight,
            reward,
            a_plus=0.1,
            a_minus=0.1,
            decay_pre=0.5,
            decay_post=0.5,
            decay_eligibility=0.5,
            eligibility0=torch.zeros(2, 4, 6),
        )


def test_mstdpet_example_learns_from_the_reward(capsys):
    import importlib.util
    from pathlib import Path

    path = Path(__file__).resolve().parent.parent / "examples" / "mstdpet_reward.py"
    spec = importlib.util.spec_from_file_location("mstdpet_example", path)
    example = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(example)
    before, after = example.main()
    assert before[0] < 0.6 and after[0] > 0.95  # two patterns: chance is 0.5
    assert capsys.readouterr().out.strip().splitlines()[-1].startswith("after training: accuracy")


# ----------------------------------------------------------------------------- STDP on Conv2d


def _conv_stdp_reference(pre, post, conv, a_plus, a_minus, dp, dq):
    """Position by position: every output (o, y, x) pairs with the input patch its kernel reads."""
    T, B, C, H, W = pre.shape
    O, _, kh, kw = conv.weight.shape
    (sy, sx), (py, px), (dy, dx) = conv.stride, conv.padding, conv.dilation
    xp, xq, dw = torch.zeros(B, C, H, W), torch.zeros(B, *post.shape[2:]), torch.zeros(O, C, kh, kw)
    for t in range(T):
        xp, xq = dp * xp + pre[t], dq * xq + post[t]
        trace_in = nn.functional.pad(xp, (px, px, py, py))
        spikes_in = nn.functional.pad(pre[t], (px, px, py, py))
        for y in range(post.shape[3]):
            for x in range(post.shape[4]):
                rows = slice(y * sy, y * sy + dy * (kh - 1) + 1, dy)
                cols = slice(x * sx, x * sx + dx * (kw - 1) + 1, dx)
                patch, spikes = trace_in[:, :, rows, cols], spikes_in[:, :, rows, cols]
                dw += a_plus * torch.einsum("bo,bchw->ochw", post[t][:, :, y, x], patch)
                dw -= a_minus * torch.einsum("bo,bchw->ochw", xq[:, :, y, x], spikes)
    return dw


@pytest.mark.parametrize("geometry", [dict(), dict(stride=2, padding=1), dict(padding=2, dilation=2)])
def test_conv_stdp_equals_the_position_by_position_rule(geometry):
    g = torch.Generator().manual_seed(7)
    conv = nn.Conv2d(2, 3, 3, **geometry)
    pre = (torch.rand(6, 2, 2, 7, 7, generator=g) < 0.3).float()
    with torch.no_grad():
        out_shape = conv(pre[0]).shape[1:]
    post = (torch.rand(6, 2, *out_shape, generator=g) < 0.3).float()
    kw = dict(a_plus=0.1, a_minus=0.05, decay_pre=0.8, decay_post=0.7)
    rule = tsnn.STDP(tsnn.MultiStep(conv), **kw_from(kw), reduction="sum")
    want = _conv_stdp_reference(pre, post, conv, 0.1, 0.05, 0.8, 0.7)
    assert_close(rule(pre, post), want, 1e-5, 1e-5, "conv STDP")
    got = F.stdp(
        pre, post, conv.weight, reduction="sum", stride=conv.stride, padding=conv.padding, dilation=conv.dilation, **kw
    )
    assert_close(got, want, 1e-5, 1e-5, "functional conv STDP")
    reward = torch.randn(6, 2, generator=g)
    z = F.mstdpet(
        pre,
        post,
        conv.weight,
        reward,
        decay_eligibility=0.0,
        stride=conv.stride,
        padding=conv.padding,
        dilation=conv.dilation,
        **kw,
    )
    assert z.shape == conv.weight.shape


def kw_from(kw):
    """STDP's module arguments for the functional decays (tau = -dt / ln(decay))."""
    return dict(
        a_plus=kw["a_plus"],
        a_minus=kw["a_minus"],
        tau_pre=-1 / math.log(kw["decay_pre"]),
        tau_post=-1 / math.log(kw["decay_post"]),
    )


def test_conv_stdp_refuses_mismatched_shapes():
    conv = nn.Conv2d(2, 3, 3)
    pre, post = torch.zeros(4, 1, 2, 6, 6), torch.zeros(4, 1, 3, 5, 5)  # a 3x3 kernel gives 4x4
    with pytest.raises(ValueError, match="positions are not the convolution's output"):
        F.stdp(pre, post, conv.weight, a_plus=0.1, a_minus=0.1, decay_pre=0.5, decay_post=0.5)
    with pytest.raises(ValueError, match=r"\[T, B, C, H, W\]"):
        F.stdp(pre[:, :, :, 0], post, conv.weight, a_plus=0.1, a_minus=0.1, decay_pre=0.5, decay_post=0.5)


def test_stdp_on_per_synapse_delays_pairs_the_delayed_presynaptic_side():
    """A synapse with delay d sees pre[t - d] and its trace; whole-step delays against a loop, a
    fractional one as the interpolation of its two neighbours."""
    g = torch.Generator().manual_seed(8)
    pre = (torch.rand(10, 2, 3, generator=g) < 0.4).float()
    post = (torch.rand(10, 2, 2, generator=g) < 0.4).float()
    delay = torch.tensor([[0.0, 2.0, 1.0], [3.0, 0.0, 2.0]])
    layer = tsnn.DelayedLinear(3, 2, delay)
    kw = dict(a_plus=0.1, a_minus=0.05, decay_pre=0.8, decay_post=0.7, reduction="sum")
    got = tsnn.STDP(layer, **kw_from(kw), reduction="sum")(pre, post)
    x_pre = F.trace(pre, 0.8)
    x_post = F.trace(post, 0.7)
    want = torch.zeros(2, 3)
    for o in range(2):
        for i in range(3):
            k = int(delay[o, i])
            late_trace = torch.cat([torch.zeros(k, 2), x_pre[: 10 - k, :, i]])
            late_pre = torch.cat([torch.zeros(k, 2), pre[: 10 - k, :, i]])
            want[o, i] = 0.1 * (post[:, :, o] * late_trace).sum() - 0.05 * (x_post[:, :, o] * late_pre).sum()
    assert_close(got, want, 1e-5, 1e-5, "whole-step delays")
    w = layer.weight
    half = F.stdp(pre, post, w, delay=torch.full((2, 3), 1.5), **kw)
    ends = [F.stdp(pre, post, w, delay=torch.full((2, 3), d), **kw) for d in (1.0, 2.0)]
    assert_close(half, 0.5 * (ends[0] + ends[1]), 1e-5, 1e-5, "fractional delay")
    with pytest.raises(ValueError, match="stateful STDP on a tsnn.DelayedLinear"):
        tsnn.STDP(layer, a_plus=0.1, a_minus=0.1, stateful=True)
    with pytest.raises(ValueError, match=r"delay must be \[O, I\]"):
        F.stdp(pre, post, w, delay=torch.zeros(3, 2), **kw)


def test_power_sharp_and_scaled_weight_dependence():
    """Inferno's weight dependences: power (multiplicative at exponent 1), sharp (no change past a
    bound) and the scaled ones."""
    g = torch.Generator().manual_seed(9)
    pre = (torch.rand(8, 2, 4, generator=g) < 0.4).float()
    post = (torch.rand(8, 2, 3, generator=g) < 0.4).float()
    w = torch.tensor([[0.0, 0.5, 1.0, 1.2], [0.2, 0.8, -0.1, 0.6], [0.9, 0.1, 0.4, 1.0]])
    kw = dict(a_plus=0.1, a_minus=0.05, decay_pre=0.8, decay_post=0.7, w_min=0.0, w_max=1.0, reduction="sum")
    ltp = F.stdp(pre, post, w, a_plus=1.0, a_minus=0.0, decay_pre=0.8, decay_post=0.7, reduction="sum")
    ltd = -F.stdp(pre, post, w, a_plus=0.0, a_minus=1.0, decay_pre=0.8, decay_post=0.7, reduction="sum")
    inside = w.clamp(0.0, 1.0)  # out of bounds, power clips the difference at 0 where multiplicative does not
    mult = F.stdp(pre, post, inside, rule="multiplicative", **kw)
    assert_close(F.stdp(pre, post, inside, rule="power", bound_power=1.0, **kw), mult, 1e-6, 1e-6, "power 1")
    want = 0.1 * (1.0 - w).clamp(min=0) ** 2 * ltp - 0.05 * w.clamp(min=0) ** 0.5 * ltd
    got = F.stdp(pre, post, w, rule="power", bound_power=(2.0, 0.5), **kw)
    assert_close(got, want, 1e-6, 1e-6, "power (2, 0.5)")
    want = 0.1 * (w <= 1.0).float() * ltp - 0.05 * (w >= 0.0).float() * ltd
    assert_close(F.stdp(pre, post, w, rule="sharp", **kw), want, 1e-6, 1e-6, "sharp")
    # scaled (Inferno's bound_scaled_*): the differences over the range w_max - w_min = 2 here
    wide = dict(kw, w_min=-0.5, w_max=1.5)
    want = 0.1 * ((1.5 - w) / 2.0) ** 2 * ltp - 0.05 * ((w + 0.5) / 2.0) ** 0.5 * ltd
    got = F.stdp(pre, post, w, rule="scaled_power", bound_power=(2.0, 0.5), **wide)
    assert_close(got, want, 1e-6, 1e-6, "scaled power")
    want = 0.1 * (1.5 - w) / 2.0 * ltp - 0.05 * (w + 0.5) / 2.0 * ltd
    assert_close(F.stdp(pre, post, w, rule="scaled_multiplicative", **wide), want, 1e-6, 1e-6, "scaled multiplicative")
    with pytest.raises(ValueError, match="bound_power must be a number > 0"):
        F.stdp(pre, post, w, rule="power", bound_power=0.0, **kw)
    with pytest.raises(ValueError, match="rule='sharp' .*needs both w_min and w_max"):
        tsnn.STDP(nn.Linear(4, 3), a_plus=0.1, a_minus=0.1, rule="sharp")


def test_normalize_keeps_each_neurons_weight_budget():
    w = torch.tensor([[1.0, 3.0], [0.0, 0.0], [2.0, 2.0]])
    out = tsnn.plasticity.normalize_(w, 2.0)
    assert out is w
    assert torch.equal(w, torch.tensor([[0.5, 1.5], [0.0, 0.0], [1.0, 1.0]]))  # an all-zero row stays zero
    with pytest.raises(ValueError, match="total must be > 0"):
        tsnn.plasticity.normalize_(w, 0.0)


@pytest.mark.parametrize("reduction", ["max", "min", "median"])
def test_batch_reductions_of_per_sample_updates(reduction):
    g = torch.Generator().manual_seed(10)
    pre = (torch.rand(8, 5, 4, generator=g) < 0.4).float()
    post = (torch.rand(8, 5, 3, generator=g) < 0.4).float()
    w = torch.rand(3, 4, generator=g)
    kw = dict(a_plus=0.1, a_minus=0.05, decay_pre=0.8, decay_post=0.7)
    each = torch.stack([F.stdp(pre[:, b : b + 1], post[:, b : b + 1], w, reduction="sum", **kw) for b in range(5)])
    want = {"max": each.amax(0), "min": each.amin(0), "median": each.median(0).values}[reduction]
    assert_close(F.stdp(pre, post, w, reduction=reduction, **kw), want, 1e-6, 1e-6, reduction)
    reward = torch.randn(8, 5, generator=g)
    each = torch.stack(
        [
            F.mstdpet(
                pre[:, b : b + 1],
                post[:, b : b + 1],
                w,
                reward[:, b : b + 1],
                decay_eligibility=0.9,
                reduction="sum",
                **kw,
            )
            for b in range(5)
        ]
    )
    want = {"max": each.amax(0), "min": each.amin(0), "median": each.median(0).values}[reduction]
    got = F.mstdpet(pre, post, w, reward, decay_eligibility=0.9, reduction=reduction, **kw)
    assert_close(got, want, 1e-6, 1e-6, f"mstdpet {reduction}")


def test_triplet_stdp_equals_the_step_by_step_rule():
    g = torch.Generator().manual_seed(11)
    T, B, I, O = 12, 3, 4, 5
    pre = (torch.rand(T, B, I, generator=g) < 0.3).float()
    post = (torch.rand(T, B, O, generator=g) < 0.3).float()
    lin = nn.Linear(I, O)
    rule = tsnn.TripletSTDP(lin, a2_plus=0.1, a3_plus=0.05, a2_minus=0.08, a3_minus=0.02, reduction="sum")
    dp, dm, dx, dy = rule.decay_pre, rule.decay_post, rule.decay_x, rule.decay_y
    r1, r2, o1, o2, want = torch.zeros(B, I), torch.zeros(B, I), torch.zeros(B, O), torch.zeros(B, O), 0
    for t in range(T):  # "before": the trace just before this step's own spike
        r2_before, o2_before = dx * r2, dy * o2
        r1, r2, o1, o2 = dp * r1 + pre[t], r2_before + pre[t], dm * o1 + post[t], o2_before + post[t]
        want = want + torch.einsum("bo,bi->oi", post[t] * (0.1 + 0.05 * o2_before), r1)
        want = want - torch.einsum("bo,bi->oi", o1, pre[t] * (0.08 + 0.02 * r2_before))
    assert_close(rule(pre, post), want, 1e-5, 1e-5, "triplet")
    chunked = tsnn.TripletSTDP(
        lin, a2_plus=0.1, a3_plus=0.05, a2_minus=0.08, a3_minus=0.02, reduction="sum", stateful=True
    )
    assert_close(chunked(pre[:5], post[:5]) + chunked(pre[5:], post[5:]), want, 1e-5, 1e-5, "chunks")
    pair = F.triplet_stdp(
        pre,
        post,
        lin.weight,
        a2_plus=0.1,
        a3_plus=0.0,
        a2_minus=0.08,
        a3_minus=0.0,
        decay_plus=0.8,
        decay_minus=0.7,
        decay_x=0.9,
        decay_y=0.9,
    )
    assert_close(
        pair,
        F.stdp(pre, post, lin.weight, a_plus=0.1, a_minus=0.08, decay_pre=0.8, decay_post=0.7),
        1e-6,
        1e-6,
        "no triplet terms: pair STDP",
    )
    with pytest.raises(ValueError, match="takes no reward"):
        rule(pre, post, reward=1.0)
    with pytest.raises(TypeError, match="TripletSTDP learns an nn.Linear"):
        tsnn.TripletSTDP(nn.Conv2d(1, 1, 3), a2_plus=0.1, a3_plus=0.1, a2_minus=0.1, a3_minus=0.1)


def test_plasticity_rules_take_zero_steps():
    empty = dict(pre=torch.zeros(0, 2, 3), post=torch.zeros(0, 2, 2))
    rules = [
        tsnn.STDP(nn.Linear(3, 2), a_plus=0.1, a_minus=0.1, reduction="median"),
        tsnn.MSTDPET(nn.Linear(3, 2), a_plus=0.1, a_minus=0.1, stateful=True),
        tsnn.TripletSTDP(nn.Linear(3, 2), a2_plus=0.1, a3_plus=0.1, a2_minus=0.1, a3_minus=0.1, stateful=True),
        tsnn.STDP(tsnn.DelayedLinear(3, 2, 1.5), a_plus=0.1, a_minus=0.1),
    ]
    for rule in rules:
        reward = torch.zeros(0, 2) if isinstance(rule, tsnn.MSTDPET) else None
        assert torch.equal(rule(**empty, reward=reward), torch.zeros(2, 3))
    conv = tsnn.STDP(nn.Conv2d(1, 2, 3), a_plus=0.1, a_minus=0.1)
    assert torch.equal(conv(torch.zeros(0, 2, 1, 5, 5), torch.zeros(0, 2, 2, 3, 3)), torch.zeros(2, 1, 3, 3))


@pytest.mark.parametrize("rule", ["additive", "multiplicative"])
@pytest.mark.parametrize("reduction", ["mean", "max"])
def test_one_to_one_weights_learn_the_diagonal_of_the_dense_rule(rule, reduction):
    """A one-to-one connection's weight [N]: stdp, mstdpet (with its eligibility) and triplet_stdp
    give the diagonal of the dense rule on the diagonal weight."""
    g = torch.Generator().manual_seed(4)
    T, B, N = 9, 3, 5
    pre = (torch.rand(T, B, N, generator=g) < 0.3).float()
    post = (torch.rand(T, B, N, generator=g) < 0.3).float()
    w = torch.rand(N, generator=g)
    bounds = dict(w_min=0.0, w_max=1.0) if rule == "multiplicative" else {}
    common = dict(a_plus=0.1, a_minus=0.12, decay_pre=0.8, decay_post=0.7, rule=rule, reduction=reduction, **bounds)
    d1 = F.stdp(pre, post, w, **common)
    dd = F.stdp(pre, post, torch.diag(w), **common)
    assert d1.shape == (N,)
    assert_close(d1, torch.diagonal(dd), 1e-7, 1e-6, "stdp one-to-one")
    reward = torch.randn(T, B, generator=g)
    m1, (_, _, z1) = F.mstdpet(pre, post, w, reward, decay_eligibility=0.9, return_state=True, **common)
    md, (_, _, zd) = F.mstdpet(pre, post, torch.diag(w), reward, decay_eligibility=0.9, return_state=True, **common)
    assert_close(m1, torch.diagonal(md), 1e-7, 1e-6, "mstdpet one-to-one")
    assert z1.shape == (B, N)
    assert_close(z1, torch.diagonal(zd, dim1=1, dim2=2), 1e-7, 1e-6, "eligibility one-to-one")
    triplet = dict(a2_plus=0.1, a2_minus=0.1, a3_plus=0.05, a3_minus=0.02, rule=rule, reduction=reduction, **bounds)
    triplet |= dict(decay_plus=0.8, decay_minus=0.7, decay_x=0.9, decay_y=0.85)
    t1 = F.triplet_stdp(pre, post, w, **triplet)
    td = F.triplet_stdp(pre, post, torch.diag(w), **triplet)
    assert_close(t1, torch.diagonal(td), 1e-7, 1e-6, "triplet one-to-one")


def test_one_to_one_weights_need_matching_layers():
    pre = torch.zeros(4, 2, 5)
    with pytest.raises(ValueError, match="one-to-one weight"):
        F.stdp(pre, torch.zeros(4, 2, 6), torch.zeros(5), a_plus=0.1, a_minus=0.1, decay_pre=0.8, decay_post=0.8)
    with pytest.raises(ValueError, match="one-to-one weight"):
        F.stdp(pre, pre, torch.zeros(4), a_plus=0.1, a_minus=0.1, decay_pre=0.8, decay_post=0.8)


def test_stdp_modules_learn_a_one_to_one_connection():
    """tsnn.OneToOne's weight [N] under tsnn.STDP and tsnn.MSTDPET: the functional rule, applied."""
    g = torch.Generator().manual_seed(5)
    T, B, N = 8, 2, 6
    pre = (torch.rand(T, B, N, generator=g) < 0.4).float()
    post = (torch.rand(T, B, N, generator=g) < 0.4).float()
    layer = tsnn.OneToOne(N, init=0.5)
    assert torch.equal(layer(pre), pre * 0.5)
    rule = tsnn.STDP(layer, a_plus=0.05, a_minus=0.04, tau_pre=5.0, tau_post=5.0, w_min=0.0, w_max=1.0)
    expected = F.stdp(
        pre, post, layer.weight.detach().clone(), a_plus=0.05, a_minus=0.04, decay_pre=math.exp(-1 / 5),
        decay_post=math.exp(-1 / 5), w_min=0.0, w_max=1.0,
    )  # fmt: skip
    before = layer.weight.detach().clone()
    rule.update(pre, post)
    assert_close(layer.weight.detach(), (before + expected).clamp(0, 1), 1e-7, 1e-6, "one-to-one weight")
    mod = tsnn.MSTDPET(layer, a_plus=0.05, a_minus=0.04, tau_pre=5.0, tau_post=5.0, tau_eligibility=10.0)
    assert mod(pre, post, reward=torch.ones(T, B)).shape == (N,)
    with pytest.raises(ValueError, match="OneToOne"):
        layer(torch.zeros(3, N + 1))


def test_lateral_stdp_learns_a_recurrent_layer_from_the_spikes_one_step_earlier():
    """``tsnn.STDP(rleaky)`` learns ``rleaky.recurrent`` (the lateral weight): its presynaptic side is
    the layer's own spikes as the recurrence receives them, ``previous_step``; over two chunks the
    last step of the first starts the second."""
    g = torch.Generator().manual_seed(8)
    T, B, N = 10, 2, 6
    neuron = tsnn.RLeaky(beta=0.9, linear_features=N, return_state=True)
    spk = (torch.rand(T, B, N, generator=g) < 0.3).float()
    stdp = tsnn.STDP(neuron, a_plus=0.1, a_minus=0.05)
    assert stdp.linear is neuron.recurrent
    pre = tsnn.plasticity.previous_step(spk)
    assert torch.equal(pre[0], torch.zeros(B, N)) and torch.equal(pre[1:], spk[:-1])
    kw = dict(a_plus=0.1, a_minus=0.05, decay_pre=stdp.decay_pre, decay_post=stdp.decay_post)
    assert_close(stdp(pre, spk), F.stdp(pre, spk, neuron.recurrent.weight, **kw), 1e-6, 1e-6, "lateral dW")
    split = tsnn.plasticity.previous_step(spk[4:], last=spk[3])
    assert torch.equal(torch.cat([tsnn.plasticity.previous_step(spk[:4]), split]), pre)
    with pytest.raises(ValueError, match="one-to-one"):
        tsnn.STDP(tsnn.RLeaky(beta=0.9, V=0.5, all_to_all=False), a_plus=0.1, a_minus=0.1)
