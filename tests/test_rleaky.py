"""RLeaky: one-to-one (fused) and all-to-all (nn.Linear) against snntorch.RLeaky, both backends."""
import math

import pytest
import snntorch as snn
import torch

import tritonsnn as tsnn
from .checks import (assert_chunks_match, assert_close, assert_matches_ref_with_input_grad, assert_matches_snntorch,
                    assert_single_step_matches, assert_spikes_equal, grads_match)
from .reference import first_order_ref

F = tsnn.functional


def _inputs(T, B, N, seed):
    g = torch.Generator().manual_seed(seed)
    x = (torch.randn(T, B, N, generator=g) * 1.2 + 0.5).requires_grad_()
    return x, g


@pytest.mark.parametrize("backend", ["torch", "triton"])
@pytest.mark.parametrize("reset", ["subtract", "zero", "none"])
@pytest.mark.parametrize("delay", [True, False])
@pytest.mark.parametrize("per_neuron", [False, True])
def test_one_to_one_matches_snntorch(backend, reset, delay, per_neuron):
    T, B, N = 8, 3, 21
    x, g = _inputs(T, B, N, 11)
    beta0 = torch.rand(N, generator=g) * 0.6 + 0.4 if per_neuron else torch.tensor(0.8)
    V0 = torch.randn(N, generator=g) * 0.5 if per_neuron else torch.tensor(-0.4)
    thr0 = torch.rand(N, generator=g) + 0.5 if per_neuron else torch.tensor(1.1)
    kw = dict(all_to_all=False, learn_beta=True, learn_threshold=True, learn_recurrent=True,
              reset_mechanism=reset, reset_delay=delay)
    ref = snn.RLeaky(beta=beta0.clone(), V=V0.clone(), threshold=thr0.clone(), **kw)
    ours = tsnn.RLeaky(beta=beta0, V=V0, threshold=thr0, return_mem=True, backend=backend, **kw)
    assert_matches_snntorch(ours, ref, x, [ours.beta, ours.V, ours.threshold], [ref.beta, ref.V, ref.threshold],
                            ["beta", "V", "thr"], g)


@pytest.mark.parametrize("backend", ["torch", "triton"])
@pytest.mark.parametrize("reset", ["subtract", "zero"])
def test_one_to_one_initial_state_and_refractory(backend, reset):
    T, B, N = 7, 2, 13
    x, g = _inputs(T, B, N, 12)
    v0 = torch.randn(B, N, generator=g).requires_grad_()
    s0 = (torch.rand(B, N, generator=g) > 0.5).float().requires_grad_()
    V = (torch.randn(N, generator=g) * 0.5).requires_grad_()
    beta = torch.tensor(0.7, requires_grad=True)
    s, m = F.rleaky(x, beta, V, 0.8, v0=v0, s0=s0, refractory=2, reset_mechanism=reset,
                    return_mem=True, backend=backend)
    s_ref, m_ref, _ = first_order_ref(x, beta, 0.8, v0, reset, V=V, s0=s0, zero_whole=True,
                                      refractory_steps=2)
    assert_spikes_equal(s, s_ref)
    assert_close(m, m_ref, 1e-5, 0, "mem")
    gs, gm = torch.randn(T, B, N, generator=g), torch.randn(T, B, N, generator=g)
    grads_match((s, m), (s_ref, m_ref), [x, v0, s0, V, beta], [x, v0, s0, V, beta],
                ["x", "v0", "s0", "V", "beta"], gs, gm)


@pytest.mark.parametrize("backend", ["torch", "triton"])
@pytest.mark.parametrize("reset", ["subtract", "zero"])
@pytest.mark.parametrize("delay", [True, False])
def test_all_to_all_matches_snntorch_with_its_weights(backend, reset, delay):
    T, B, N = 6, 3, 10
    x, g = _inputs(T, B, N, 13)
    torch.manual_seed(0)
    ref = snn.RLeaky(beta=0.85, linear_features=N, learn_beta=True, learn_threshold=True,
                     reset_mechanism=reset, reset_delay=delay)
    ours = tsnn.RLeaky(beta=0.85, linear_features=N, learn_beta=True, learn_threshold=True,
                       reset_mechanism=reset, reset_delay=delay, return_mem=True, backend=backend)
    # Weights from an snnTorch model load as they are.
    ours.recurrent.load_state_dict(ref.recurrent.state_dict())
    assert_matches_snntorch(ours, ref, x, [ours.beta, ours.threshold, ours.recurrent.weight, ours.recurrent.bias],
                            [ref.beta, ref.threshold, ref.recurrent.weight, ref.recurrent.bias],
                            ["beta", "thr", "W", "b"], g)


def test_state_dict_keys_match_snntorch():
    ref = snn.RLeaky(beta=0.9, linear_features=5)
    ours = tsnn.RLeaky(beta=0.9, linear_features=5)
    assert {"recurrent.weight", "recurrent.bias"} <= set(ours.state_dict())
    ours.load_state_dict({k: v for k, v in ref.state_dict().items() if k.startswith("recurrent.")},
                         strict=False)
    assert torch.equal(ours.recurrent.weight, ref.recurrent.weight)


@pytest.mark.parametrize("backend", ["torch", "triton"])
@pytest.mark.parametrize("reset", ["subtract", "zero"])
def test_conv2d_recurrence_matches_snntorch(backend, reset):
    """snnTorch's convolutional recurrence: ``recurrent`` is an nn.Conv2d over [B, C, H, W] spikes."""
    torch.manual_seed(0)
    x, g = _inputs(5, 2, 2 * 4 * 5, 13)
    x = x.detach().view(5, 2, 2, 4, 5).requires_grad_()
    kw = dict(beta=0.8, conv2d_channels=2, kernel_size=3, learn_beta=True, reset_mechanism=reset)
    ref = snn.RLeaky(**kw)
    ours = tsnn.RLeaky(return_mem=True, backend=backend, **kw)
    assert isinstance(ours.recurrent, torch.nn.Conv2d) and ours.recurrent.padding == (1, 1)
    ours.recurrent.load_state_dict(ref.recurrent.state_dict())
    assert_matches_snntorch(ours, ref, x, [ours.beta, ours.recurrent.weight, ours.recurrent.bias],
                            [ref.beta, ref.recurrent.weight, ref.recurrent.bias], ["beta", "W", "bias"], g)
    s, m = ours(x.detach())
    stateful = tsnn.RLeaky(stateful=True, return_mem=True, backend=backend, **kw)
    stateful.load_state_dict(ours.state_dict())
    assert_chunks_match(stateful, x.detach(), 2, s, m)


@pytest.mark.parametrize("all_to_all", [False, True])
def test_single_step_and_stateful_match_multi_step(all_to_all):
    torch.manual_seed(1)
    x = torch.rand(6, 2, 5) * 2
    kw = dict(beta=0.8, all_to_all=all_to_all, return_mem=True)
    kw.update(linear_features=5) if all_to_all else kw.update(V=0.5)
    multi = tsnn.RLeaky(**kw)
    single = tsnn.RLeaky(step_mode="single", **kw)
    stateful = tsnn.RLeaky(stateful=True, **kw)
    if all_to_all:
        single.recurrent.load_state_dict(multi.recurrent.state_dict())
        stateful.recurrent.load_state_dict(multi.recurrent.state_dict())
    s, m = multi(x)
    assert_single_step_matches(single, x, s, m)
    assert_chunks_match(stateful, x, 2, s, m)
    assert s.sum() > 0


def test_bad_arguments():
    with pytest.raises(ValueError, match="linear_features"):
        tsnn.RLeaky(beta=0.9)
    with pytest.raises(ValueError, match="linear_features"):
        tsnn.RLeaky(beta=0.9, all_to_all=False, linear_features=4)
    with pytest.raises(ValueError, match="not both"):
        tsnn.RLeaky(beta=0.9, linear_features=4, conv2d_channels=3, kernel_size=3)
    with pytest.raises(ValueError, match="kernel_size"):
        tsnn.RLeaky(beta=0.9, conv2d_channels=3)
    with pytest.raises(ValueError, match="V"):
        F.rleaky(torch.zeros(2, 1, 3), 0.9, torch.ones(4))


@pytest.mark.parametrize("backend", ["torch", "triton"])
@pytest.mark.parametrize("case", range(4))
def test_odd_inputs(backend, case):
    from tests.checks import odd_inputs
    name, x = odd_inputs(2)[case]
    x = x.requires_grad_()
    V = torch.tensor(-0.3, requires_grad=True)
    s, m = F.rleaky(x, 0.8, V, 0.9, refractory=1, return_mem=True, backend=backend)
    s_ref, m_ref, _ = first_order_ref(x, 0.8, 0.9, V=V, zero_whole=True, refractory_steps=1)
    assert_matches_ref_with_input_grad(s, m, s_ref, m_ref, x, name, [("V", V)])


@pytest.mark.parametrize("backend", ["torch", "triton"])
@pytest.mark.parametrize("reset,delay", [("subtract", True), ("zero", False), ("none", True)])
@pytest.mark.parametrize("layer", ["linear", "conv"])
def test_dense_op_matches_generic_recurrence_loop(backend, reset, delay, layer):
    # nn.Linear and a same-size nn.Conv2d take the all-to-all op (hand-written backward); any
    # other callable the autograd per-step loop. Same numbers, initial state and refractory
    # period included.
    T, B = 6, 2
    features = (7,) if layer == "linear" else (2, 3, 4)
    x, g = _inputs(T, B, math.prod(features), 14)
    x = x.detach().view(T, B, *features).requires_grad_()
    torch.manual_seed(14)
    rec = torch.nn.Linear(7, 7) if layer == "linear" else torch.nn.Conv2d(2, 2, (3, 1), padding=(1, 0))
    v0 = torch.randn(B, *features, generator=g).requires_grad_()
    s0 = (torch.rand(B, *features, generator=g) > 0.5).float().requires_grad_()
    beta = torch.tensor(0.8, requires_grad=True)
    thr = (torch.rand(features, generator=g) + 0.5).requires_grad_()
    kw = dict(v0=v0, s0=s0, reset_mechanism=reset, reset_delay=delay, refractory=1,
              return_mem=True, backend=backend)
    s, m = F.rleaky(x, beta, threshold=thr, recurrent=rec, **kw)
    s_ref, m_ref = F.rleaky(x, beta, threshold=thr, recurrent=lambda s: rec(s), **kw)
    assert_spikes_equal(s, s_ref)
    assert_close(m, m_ref, 1e-6, 0, "mem")
    gs, gm = torch.randn(x.shape, generator=g), torch.randn(x.shape, generator=g)
    inputs = [x, v0, s0, beta, thr, rec.weight, rec.bias]
    grads_match((s, m), (s_ref, m_ref), inputs, inputs, ["x", "v0", "s0", "beta", "thr", "W", "b"], gs, gm)


def test_only_same_size_convolutions_take_the_all_to_all_op(monkeypatch):
    calls = []
    op = F.ops.recurrent.rleaky_dense_fwd
    monkeypatch.setattr(F.ops.recurrent, "rleaky_dense_fwd", lambda *a, **kw: calls.append(a[2].image) or op(*a, **kw))
    x = torch.rand(3, 2, 2, 4, 4)
    F.rleaky(x, 0.8, recurrent=torch.nn.Conv2d(2, 2, 3, padding=1))
    assert calls == [[2, 4, 4]]
    for other in (torch.nn.Conv2d(2, 2, 3, padding=1, padding_mode="circular"),
                  torch.nn.Conv2d(2, 2, 3, padding=2, dilation=2), torch.nn.Conv2d(2, 2, 1, groups=2)):
        F.rleaky(x, 0.8, recurrent=other)    # the autograd loop: still runs
    assert len(calls) == 1


def test_dense_op_half_input():
    x = (torch.randn(5, 2, 6) + 0.5).half().requires_grad_()
    lin = torch.nn.Linear(6, 6)
    s = F.rleaky(x, 0.8, recurrent=lin, backend="torch")
    s_ref = F.rleaky(x.float(), 0.8, recurrent=lambda s: lin(s), backend="torch")
    assert s.dtype == torch.float16
    assert_spikes_equal(s, s_ref)
    (gx,) = torch.autograd.grad(s.float().sum(), x)
    assert gx.dtype == torch.float16


def test_learn_recurrent_flag():
    one_to_one = tsnn.RLeaky(beta=0.9, V=0.5, all_to_all=False)
    assert [n for n, _ in one_to_one.named_parameters()] == ["V"]          # snnTorch default: learnable
    fixed = tsnn.RLeaky(beta=0.9, V=0.5, all_to_all=False, learn_recurrent=False)
    assert list(fixed.parameters()) == [] and "V" in dict(fixed.named_buffers())
    dense = tsnn.RLeaky(beta=0.9, linear_features=3, learn_recurrent=False)
    assert not any(p.requires_grad for p in dense.recurrent.parameters())
