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


def test_threshold_adapts():
    # A constant drive fires less and less often as the threshold rises.
    x = torch.full((40, 1, 1), 0.6)
    s, st = F.alif(x, 0.9, 1.0, rho=0.97, b=0.5, return_state=True)
    s_plain = F.leaky(x, 0.9, 1.0)
    assert s.sum() < s_plain.sum()
    assert st["adapt"].max() > 0.5


def test_module_learnable_parameters():
    """learn_* make exactly those Parameters (single-step and stateful calls, with their gradients through
    the carried adaptation: tests/test_conformance.py, rows alif and alif-refractory)."""
    kw = dict(beta=0.8, rho=torch.full((5,), 0.9), b=0.3, learn_rho=True, learn_b=True,
              learn_beta=True, learn_threshold=True)
    assert {n for n, _ in tsnn.ALIF(**kw).named_parameters()} == {"threshold", "beta", "rho", "b"}
    assert {n for n, _ in tsnn.ALIF(beta=0.8, learn_b=True).named_parameters()} == {"b"}


def test_bad_arguments():
    with pytest.raises(ValueError, match="rho"):
        F.alif(torch.zeros(2, 1, 3), 0.9, 1.0, None, 0.2)
    with pytest.raises(ValueError, match="b of shape"):
        F.alif(torch.zeros(2, 1, 3), 0.9, 1.0, 0.9, torch.ones(4))
    with pytest.raises(ValueError, match="threshold"):
        tsnn.ALIF(beta=0.9, threshold=-1.0)
