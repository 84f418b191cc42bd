"""ALIF (adaptive threshold): both backends against ``first_order_ref`` with adaptation."""
import pytest
import torch

import tritonsnn as tsnn
from .checks import TOL, assert_close, assert_matches_ref_with_input_grad, assert_spikes_equal, grads_match
from .reference import first_order_ref

F = tsnn.functional


def _case(T, B, N, per_neuron, seed):
    g = torch.Generator().manual_seed(seed)
    x = (torch.randn(T, B, N, generator=g) * 1.2 + 0.7).requires_grad_()
    v0 = torch.randn(B, N, generator=g).requires_grad_()
    s0 = (torch.rand(B, N, generator=g) > 0.6).float().requires_grad_()
    a0 = torch.rand(B, N, generator=g).requires_grad_()
    if per_neuron:
        beta = torch.rand(N, generator=g) * 0.5 + 0.5
        thr = torch.rand(N, generator=g) * 0.5 + 0.5
        rho = torch.rand(N, generator=g) * 0.3 + 0.6
        b = torch.rand(N, generator=g) * 0.4
    else:
        beta, thr, rho, b = torch.tensor(0.85), torch.tensor(0.8), torch.tensor(0.9), torch.tensor(0.3)
    params = [t.requires_grad_() for t in (beta, thr, rho, b)]
    return g, x, v0, s0, a0, params


@pytest.mark.parametrize("backend", ["torch", "triton"])
@pytest.mark.parametrize("reset", ["subtract", "zero", "none"])
@pytest.mark.parametrize("per_neuron", [False, True])
@pytest.mark.parametrize("refractory", [0, 2])
def test_matches_reference(backend, reset, per_neuron, refractory):
    T, B, N = 8, 3, 23
    g, x, v0, s0, a0, (beta, thr, rho, b) = _case(T, B, N, per_neuron, seed=21)
    s, st = F.alif(x, beta, thr, rho, b, v0=v0, s0=s0, a0=a0, reset_mechanism=reset,
                   refractory=refractory, return_state=True, backend=backend)
    out = first_order_ref(x, beta, thr, v0, reset, s0=s0, rho=rho, b=b, a0=a0,
                          refractory_steps=refractory)
    s_ref, m_ref, a_ref = out[0], out[1], out[3]
    assert_spikes_equal(s, s_ref)
    assert_close(st["mem"], m_ref, 1e-5, 0, "mem")
    assert_close(st["adapt"], a_ref, 1e-5, 0, "adapt")
    assert 0 < s_ref.sum() < s_ref.numel()
    gs, gm = torch.randn(T, B, N, generator=g), torch.randn(T, B, N, generator=g)
    ga = torch.randn(T, B, N, generator=g)
    inputs = [x, v0, s0, a0, beta, thr, rho, b]
    names = ["x", "v0", "s0", "a0", "beta", "thr", "rho", "b"]
    loss = (s * gs).sum() + (st["mem"] * gm).sum() + (st["adapt"] * ga).sum()
    loss_ref = (s_ref * gs).sum() + (m_ref * gm).sum() + (a_ref * ga).sum()
    got = torch.autograd.grad(loss, inputs)
    ref = torch.autograd.grad(loss_ref, inputs)
    for a, r, n in zip(got, ref, names):
        assert_close(a, r, 1e-5, 1e-4, f"grad {n}")


@pytest.mark.parametrize("backend", ["torch", "triton"])
def test_spike_only_loss_and_odd_shapes(backend):
    for T, B, N in [(1, 1, 1), (5, 2, 7)]:
        g, x, v0, s0, a0, (beta, thr, rho, b) = _case(T, B, N, False, seed=T)
        s = F.alif(x, beta, thr, rho, b, backend=backend)
        s_ref, m_ref, _, _ = first_order_ref(x, beta, thr, rho=rho, b=b)
        assert_spikes_equal(s, s_ref)
        gs = torch.randn(T, B, N, generator=g)
        grads_match((s, torch.zeros_like(s)), (s_ref, torch.zeros_like(m_ref)),
                    [x, thr, rho, b], [x, thr, rho, b], ["x", "thr", "rho", "b"], gs, gs)


@pytest.mark.parametrize("dtype", [torch.float16, torch.bfloat16])
def test_half_inputs_torch_path(dtype):
    g, x, *_ = _case(6, 2, 9, False, seed=3)
    xh = x.detach().to(dtype).requires_grad_()
    s, m = F.alif(xh, 0.9, 0.8, 0.9, 0.3, return_mem=True, backend="torch")
    s_ref, m_ref, _, _ = first_order_ref(xh.float(), 0.9, 0.8, rho=0.9, b=0.3)
    assert s.dtype == dtype
    assert_spikes_equal(s, s_ref)
    assert_close(m, m_ref, TOL[dtype][0], 0, "mem")


def test_threshold_adapts():
    # A constant drive fires less and less often as the threshold rises.
    x = torch.full((40, 1, 1), 0.6)
    s, st = F.alif(x, 0.9, 1.0, rho=0.97, b=0.5, return_state=True)
    s_plain = F.leaky(x, 0.9, 1.0)
    assert s.sum() < s_plain.sum()
    assert st["adapt"].max() > 0.5


def test_module_learnable_and_state_carry():
    torch.manual_seed(0)
    x = torch.rand(8, 2, 5) * 1.5
    kw = dict(beta=0.8, rho=torch.full((5,), 0.9), b=0.3, learn_rho=True, learn_b=True,
              learn_beta=True, learn_threshold=True)
    multi = tsnn.ALIF(return_state=True, **kw)
    single = tsnn.ALIF(step_mode="single", return_state=True, **kw)
    stateful = tsnn.ALIF(stateful=True, return_state=True, **kw)
    assert {n for n, _ in multi.named_parameters()} == {"threshold", "beta", "rho", "b"}
    s, st = multi(x)
    outs = [single(x[t]) for t in range(8)]
    assert_spikes_equal(torch.stack([o[0] for o in outs]), s)
    assert_close(torch.stack([o[1]["adapt"] for o in outs]), st["adapt"], 1e-6, 0, "adapt")
    s1, _ = stateful(x[:3])
    s2, st2 = stateful(x[3:])
    assert_spikes_equal(torch.cat([s1, s2]), s)
    assert_close(st2["mem"], st["mem"][3:], 1e-6, 0, "mem")
    # Gradients cross the chunk boundary through the carried state (membrane, spikes, adaptation).
    (s2.sum() + st2["mem"].sum()).backward()
    full = tsnn.ALIF(return_state=True, **kw)
    s_f, st_f = full(x)
    (s_f[3:].sum() + st_f["mem"][3:].sum()).backward()
    for name in ("rho", "b", "beta", "threshold"):
        assert_close(getattr(stateful, name).grad, getattr(full, name).grad, 1e-5, 1e-4, name)
    assert s.sum() > 0


@pytest.mark.parametrize("backend", ["torch", "triton"])
@pytest.mark.parametrize("case", range(4))
def test_odd_inputs(backend, case):
    from tests.checks import odd_inputs
    name, x = odd_inputs(3)[case]
    x = x.requires_grad_()
    b = torch.tensor(0.3, requires_grad=True)
    s, m = F.alif(x, 0.8, 0.9, 0.9, b, return_mem=True, backend=backend)
    s_ref, m_ref, _, _ = first_order_ref(x, 0.8, 0.9, rho=0.9, b=b)
    assert_matches_ref_with_input_grad(s, m, s_ref, m_ref, x, name, [("b", b)])


def test_bad_arguments():
    with pytest.raises(ValueError, match="rho"):
        F.alif(torch.zeros(2, 1, 3), 0.9, 1.0, None, 0.2)
    with pytest.raises(ValueError, match="b of shape"):
        F.alif(torch.zeros(2, 1, 3), 0.9, 1.0, 0.9, torch.ones(4))
    with pytest.raises(ValueError, match="threshold"):
        tsnn.ALIF(beta=0.9, threshold=-1.0)
