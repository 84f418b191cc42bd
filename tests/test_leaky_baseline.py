"""Leaky/IF against tests/reference.py ``leaky_ref`` (kept as a guard while the first-order template grows)."""
import pytest
import torch

import tritonsnn as tsnn
from .checks import assert_close, assert_spikes_equal
from .reference import leaky_ref


@pytest.mark.parametrize("backend", ["torch", "triton"])
@pytest.mark.parametrize("reset", ["subtract", "zero", "none"])
@pytest.mark.parametrize("delay", [True, False])
@pytest.mark.parametrize("per_neuron", [False, True])
def test_leaky_matches_reference(backend, reset, delay, per_neuron):
    g = torch.Generator().manual_seed(1)
    T, B, N = 6, 3, 37
    x = (torch.randn(T, B, N, generator=g) + 0.4).requires_grad_()
    v0 = torch.randn(B, N, generator=g).requires_grad_()
    beta = (torch.rand(N, generator=g) if per_neuron else torch.tensor(0.8)).requires_grad_()
    thr = (torch.rand(N, generator=g) + 0.5 if per_neuron else torch.tensor(1.1)).requires_grad_()
    gs, gm = torch.randn(T, B, N, generator=g), torch.randn(T, B, N, generator=g)
    s, m = tsnn.functional.leaky(x, beta, thr, v0=v0, reset_mechanism=reset, reset_delay=delay,
                                 return_mem=True, backend=backend)
    s_ref, m_ref = leaky_ref(x, beta, thr, v0, reset, delay)
    assert_spikes_equal(s, s_ref)
    assert_close(m, m_ref, 1e-5, 0, "mem")
    inputs = [x, v0, beta, thr]
    got = torch.autograd.grad((s * gs).sum() + (m * gm).sum(), inputs)
    ref = torch.autograd.grad((s_ref * gs).sum() + (m_ref * gm).sum(), inputs)
    for a, b, n in zip(got, ref, ["x", "v0", "beta", "thr"]):
        assert_close(a, b, 1e-5, 1e-4, f"grad {n}")


@pytest.mark.parametrize("backend", ["torch", "triton"])
def test_if_is_leaky_with_unit_beta(backend):
    x = torch.randn(5, 2, 9) + 0.3
    s, m = tsnn.functional.if_(x, 0.9, return_mem=True, backend=backend)
    s_ref, m_ref = leaky_ref(x, 1.0, 0.9)
    assert_spikes_equal(s, s_ref)
    assert_close(m, m_ref, 1e-5, 0, "mem")
