"""Surrogates the kernels cannot evaluate (a user's function, the stochastic spike operator) come
precomputed into the reverse loop of every op family, on both backends."""

import pytest
import torch
from torch import nn

import tritonsnn as tsnn
from tritonsnn import functional as F
from tritonsnn import surrogate as sg

from .checks import assert_close

BACKENDS = ["torch", "triton"]


def _fast_sigmoid_by_hand(x):
    return 1 / (5 * x.abs() + 1) ** 2


RUNS = {  # name -> f(x, surrogate, backend) returning (spikes, mem)
    "leaky": lambda x, s, b: F.leaky(x, 0.8, 0.9, surrogate=s, return_mem=True, backend=b),
    "leaky_same_step_reset": lambda x, s, b: F.leaky(
        x, 0.8, 0.9, reset_delay=False, refractory=1.0, surrogate=s, return_mem=True, backend=b
    ),
    "alif": lambda x, s, b: F.alif(x, 0.9, 0.8, rho=0.9, b=0.3, surrogate=s, return_mem=True, backend=b),
    "rleaky_one_to_one": lambda x, s, b: F.rleaky(x, 0.8, V=0.4, surrogate=s, return_mem=True, backend=b),
    "synaptic": lambda x, s, b: F.synaptic(x, 0.7, 0.8, reset_delay=False, surrogate=s, return_mem=True, backend=b),
    "alpha": lambda x, s, b: F.alpha(x, 0.9, 0.6, surrogate=s, return_mem=True, backend=b),
}


def _dense(kind):
    torch.manual_seed(1)
    layer = nn.Linear(5, 5)
    if kind == "rleaky_dense":
        return lambda x, s, b: F.rleaky(x, 0.8, recurrent=layer, surrogate=s, return_mem=True, backend=b)
    return lambda x, s, b: F.rsynaptic(x, 0.7, 0.8, recurrent=layer, surrogate=s, return_mem=True, backend=b)


def _grads(run, surrogate, backend, seed=0):
    g = torch.Generator().manual_seed(seed)
    x = (torch.randn(7, 3, 5, generator=g) * 1.5 + 0.3).requires_grad_()
    gs, gm = torch.randn(7, 3, 5, generator=g), torch.randn(7, 3, 5, generator=g)
    s, m = run(x, surrogate, backend)
    (dx,) = torch.autograd.grad((s * gs).sum() + (m * gm).sum(), x)
    return s, dx


@pytest.mark.parametrize("backend", BACKENDS)
@pytest.mark.parametrize("name", list(RUNS) + ["rleaky_dense", "rsynaptic_dense"])
def test_custom_surrogate_equals_the_built_in_one(name, backend):
    run = RUNS.get(name) or _dense(name)
    s1, dx1 = _grads(run, sg.custom(_fast_sigmoid_by_hand), backend)
    s2, dx2 = _grads(run, sg.fast_sigmoid(5.0), backend)
    assert torch.equal(s1, s2)
    assert_close(dx1, dx2, 1e-6, 1e-5, f"{name}: input gradient")


@pytest.mark.parametrize("name", list(RUNS) + ["rleaky_dense"])
def test_stochastic_spike_operator_same_draws_on_both_backends(name):
    run = RUNS.get(name) or _dense(name)
    sso = sg.stochastic_spike_operator(mean=0.1, variance=0.5)
    torch.manual_seed(3)
    _, dx_torch = _grads(run, sso, "torch")
    torch.manual_seed(3)
    _, dx_triton = _grads(run, sso, "triton")
    torch.manual_seed(4)
    _, dx_other = _grads(run, sso, "torch")
    assert_close(dx_triton, dx_torch, 1e-6, 1e-5, f"{name}: input gradient")
    assert not torch.allclose(dx_other, dx_torch), "a new seed must draw new noise"


@pytest.mark.parametrize("backend", BACKENDS)
def test_stochastic_spike_operator_without_variance_is_heaviside(backend):
    _, dx1 = _grads(RUNS["leaky"], sg.stochastic_spike_operator(mean=0.3, variance=0.0), backend)
    _, dx2 = _grads(RUNS["leaky"], sg.heaviside(), backend)
    assert_close(dx1, dx2, 0, 0, "input gradient")


def test_custom_surrogate_checks_its_function():
    with pytest.raises(TypeError, match="function"):
        sg.custom(3.0)
    assert sg.custom(_fast_sigmoid_by_hand) == sg.custom(_fast_sigmoid_by_hand)
    bad = sg.custom(lambda x: x.sum())
    x = torch.randn(3, 2, 4, requires_grad=True)
    with pytest.raises(ValueError, match="shape"):
        F.leaky(x, 0.9, surrogate=bad).sum().backward()


def test_module_takes_a_custom_surrogate():
    lif = tsnn.Leaky(beta=0.9, surrogate=sg.custom(_fast_sigmoid_by_hand))
    assert "custom" in repr(lif)
    x = torch.randn(4, 2, 3, requires_grad=True)
    lif(x).sum().backward()
    assert x.grad is not None
