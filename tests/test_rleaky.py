"""RLeaky specifics: snnTorch's state-dict keys and layers, the all-to-all op against the generic recurrence
loop, which layers take that op, argument errors. The concerns every neuron shares (reference values and
gradients, shapes, layouts, dtypes, zero sizes, backends, compile, opcheck, carried state, snnTorch parity)
run over the rows of tests/cases.py in tests/test_conformance.py (rows rleaky*)."""

import math

import pytest
import torch

import tritonsnn as tsnn

from .checks import assert_chunks_match, assert_close, assert_spikes_equal, grads_match, optional

snn = optional("snntorch")

F = tsnn.functional


def _inputs(T, B, N, seed):
    g = torch.Generator().manual_seed(seed)
    x = (torch.randn(T, B, N, generator=g) * 1.2 + 0.5).requires_grad_()
    return x, g


def test_state_dict_keys_match_snntorch():
    ref = snn.RLeaky(beta=0.9, linear_features=5)
    ours = tsnn.RLeaky(beta=0.9, linear_features=5)
    assert {"recurrent.weight", "recurrent.bias"} <= set(ours.state_dict())
    ours.load_state_dict({k: v for k, v in ref.state_dict().items() if k.startswith("recurrent.")}, strict=False)
    assert torch.equal(ours.recurrent.weight, ref.recurrent.weight)


@pytest.mark.parametrize("backend", ["torch", "triton"])
@pytest.mark.parametrize("reset", ["subtract", "zero"])
def test_conv2d_recurrence_is_snntorchs_layer_and_carries_state(backend, reset):
    """snnTorch's convolutional recurrence: ``recurrent`` is an nn.Conv2d over [B, C, H, W] spikes, padded
    to the input's size; stateful chunks equal one call. (Parity with snnTorch: tests/test_conformance.py,
    row rleaky-conv.)"""
    torch.manual_seed(0)
    x, _ = _inputs(5, 2, 2 * 4 * 5, 13)
    x = x.detach().view(5, 2, 2, 4, 5)
    kw = {"beta": 0.8, "conv2d_channels": 2, "kernel_size": 3, "learn_beta": True, "reset_mechanism": reset}
    ours = tsnn.RLeaky(return_mem=True, backend=backend, **kw)
    assert isinstance(ours.recurrent, torch.nn.Conv2d) and ours.recurrent.padding == (1, 1)
    s, m = ours(x)
    assert 0 < s.sum() < s.numel()
    stateful = tsnn.RLeaky(stateful=True, return_mem=True, backend=backend, **kw)
    stateful.load_state_dict(ours.state_dict())
    assert_chunks_match(stateful, x, 2, s, m)


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
    kw = {
        "v0": v0,
        "s0": s0,
        "reset_mechanism": reset,
        "reset_delay": delay,
        "refractory": 1,
        "return_mem": True,
        "backend": backend,
    }
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
    for other in (
        torch.nn.Conv2d(2, 2, 3, padding=1, padding_mode="circular"),
        torch.nn.Conv2d(2, 2, 3, padding=2, dilation=2),
        torch.nn.Conv2d(2, 2, 1, groups=2),
    ):
        F.rleaky(x, 0.8, recurrent=other)  # the autograd loop: still runs
    assert len(calls) == 1


def test_learn_recurrent_flag():
    one_to_one = tsnn.RLeaky(beta=0.9, V=0.5, all_to_all=False)
    assert [n for n, _ in one_to_one.named_parameters()] == ["V"]  # snnTorch default: learnable
    fixed = tsnn.RLeaky(beta=0.9, V=0.5, all_to_all=False, learn_recurrent=False)
    assert list(fixed.parameters()) == [] and "V" in dict(fixed.named_buffers())
    dense = tsnn.RLeaky(beta=0.9, linear_features=3, learn_recurrent=False)
    assert not any(p.requires_grad for p in dense.recurrent.parameters())
