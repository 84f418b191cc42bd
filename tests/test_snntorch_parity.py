"""tsnn.Leaky against snntorch.Leaky itself, run step by step from zero state: every surrogate pair, the leaky
spike operator, a two-layer training step. (Every reset and delay, scalar and per-neuron parameters:
tests/test_conformance.py::test_matches_snntorch, rows leaky-*.)"""

import pytest
import torch

import tritonsnn as tsnn

snn = pytest.importorskip("snntorch")
from snntorch import surrogate as snn_surrogate

from .checks import assert_close

SURROGATE_PAIRS = {
    "atan": (lambda: tsnn.surrogate.atan(2.0), lambda: snn_surrogate.atan(alpha=2.0)),
    "fast_sigmoid": (lambda: tsnn.surrogate.fast_sigmoid(25), lambda: snn_surrogate.fast_sigmoid(slope=25)),
    "sigmoid": (lambda: tsnn.surrogate.sigmoid(5), lambda: snn_surrogate.sigmoid(slope=5)),
    "triangular": (lambda: tsnn.surrogate.triangular(), lambda: snn_surrogate.triangular()),
    "straight_through": (lambda: tsnn.surrogate.straight_through(), lambda: snn_surrogate.straight_through_estimator()),
    "heaviside": (lambda: tsnn.surrogate.heaviside(), lambda: snn_surrogate.heaviside()),
    "spike_rate_escape": (
        lambda: tsnn.surrogate.spike_rate_escape(beta=0.7, slope=3.0),
        lambda: snn_surrogate.spike_rate_escape(beta=0.7, slope=3.0),
    ),
    "sparse_fast_sigmoid": (
        lambda: tsnn.surrogate.sparse_fast_sigmoid(slope=5.0, B=-0.3),
        lambda: snn_surrogate.SFS(slope=5.0, B=-0.3),
    ),
}


def run_snntorch(lif, x):
    mem = torch.zeros_like(x[0])
    spk_rec, mem_rec = [], []
    for t in range(x.shape[0]):
        spk, mem = lif(x[t], mem)
        spk_rec.append(spk)
        mem_rec.append(mem)
    return torch.stack(spk_rec), torch.stack(mem_rec)


def compare(backend, reset, delay, surrogate="atan", per_neuron=False, T=12, B=3, N=29, seed=0):
    g = torch.Generator().manual_seed(seed)
    x = torch.randn(T, B, N, generator=g) * 1.3 + 0.2
    beta = torch.rand(N, generator=g) if per_neuron else torch.tensor(0.87)
    thr = torch.rand(N, generator=g) + 0.5 if per_neuron else torch.tensor(0.9)
    ours_sg, theirs_sg = SURROGATE_PAIRS[surrogate]
    ours = tsnn.Leaky(
        beta=beta,
        threshold=thr,
        reset_mechanism=reset,
        reset_delay=delay,
        surrogate=ours_sg(),
        learn_beta=True,
        learn_threshold=True,
        return_mem=True,
        backend=backend,
    )
    theirs = snn.Leaky(
        beta=beta.clone(),
        threshold=thr.clone(),
        reset_mechanism=reset,
        reset_delay=delay,
        spike_grad=theirs_sg(),
        learn_beta=True,
        learn_threshold=True,
    )
    x1, x2 = x.clone().requires_grad_(), x.clone().requires_grad_()
    gs, gm = torch.randn(T, B, N, generator=g), torch.randn(T, B, N, generator=g)
    s1, m1 = ours(x1)
    s2, m2 = run_snntorch(theirs, x2)
    ((s1 * gs).sum() + (m1 * gm).sum()).backward()
    ((s2 * gs).sum() + (m2 * gm).sum()).backward()
    assert torch.equal(s1, s2), "spikes differ from snnTorch"
    assert_close(m1, m2, 1e-5, 0, "membrane")
    assert_close(x1.grad, x2.grad, 1e-6, 1e-4, "input grad")
    assert_close(ours.beta.grad, theirs.beta.grad, 1e-6, 1e-4, "beta grad")
    assert_close(ours.threshold.grad, theirs.threshold.grad, 1e-6, 1e-4, "threshold grad")


@pytest.mark.parametrize("backend", ["torch", "triton"])
@pytest.mark.parametrize("surrogate", list(SURROGATE_PAIRS))
def test_surrogates_match_snntorch(backend, surrogate):
    compare(backend, "subtract", True, surrogate=surrogate, seed=3)


@pytest.mark.parametrize("backend", ["torch", "triton"])
def test_leaky_spike_operator_gradient(backend):
    """snnTorch 1.0's ``LSO()`` cannot run (it hands its slope to the stochastic operator); ours follows
    its documentation: dS/dU = 1 where the neuron fires, ``slope`` elsewhere. From zero state one
    step's input gradient is the surrogate gradient itself."""
    x = (torch.randn(1, 3, 41) * 1.5).requires_grad_()
    s = tsnn.functional.leaky(x, 0.8, 0.9, surrogate=tsnn.surrogate.leaky_spike_operator(0.25), backend=backend)
    (gx,) = torch.autograd.grad(s.sum(), x)
    assert_close(gx, torch.where(x > 0.9, 1.0, 0.25), 0, 0, "LSO gradient")


def test_leaky_matches_snntorch_in_sequential_training_step():
    """A two-layer net with shared weights: same loss and weight gradients as snnTorch."""
    torch.manual_seed(0)
    T, B = 10, 4
    fc1, fc2 = torch.nn.Linear(20, 16), torch.nn.Linear(16, 5)
    ours = torch.nn.Sequential(fc1, tsnn.Leaky(beta=0.9), fc2, tsnn.Leaky(beta=0.8))
    theirs_fc1, theirs_fc2 = torch.nn.Linear(20, 16), torch.nn.Linear(16, 5)
    theirs_fc1.load_state_dict(fc1.state_dict())
    theirs_fc2.load_state_dict(fc2.state_dict())
    lif1, lif2 = snn.Leaky(beta=0.9), snn.Leaky(beta=0.8)
    x = torch.randn(T, B, 20) * 2
    out = ours(x)
    mem1, mem2 = torch.zeros(B, 16), torch.zeros(B, 5)
    rec = []
    for t in range(T):
        s1, mem1 = lif1(theirs_fc1(x[t]), mem1)
        s2, mem2 = lif2(theirs_fc2(s1), mem2)
        rec.append(s2)
    out_ref = torch.stack(rec)
    assert torch.equal(out, out_ref)
    out.sum(0).pow(2).sum().backward()
    out_ref.sum(0).pow(2).sum().backward()
    assert_close(fc1.weight.grad, theirs_fc1.weight.grad, 1e-6, 1e-4, "fc1 weight grad")
