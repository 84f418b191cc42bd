"""ALIF specifics: the threshold adapts, its learnable parameters, argument errors. The concerns every neuron
shares (reference values and gradients, shapes, layouts, dtypes, zero sizes, backends, compile, opcheck,
carried state, snnTorch parity) run over the rows of tests/cases.py in tests/test_conformance.py (rows alif,
alif-refractory)."""

import pytest
import torch

import tritonsnn as tsnn

F = tsnn.functional


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
    kw = {
        "beta": 0.8,
        "rho": torch.full((5,), 0.9),
        "b": 0.3,
        "learn_rho": True,
        "learn_b": True,
        "learn_beta": True,
        "learn_threshold": True,
    }
    assert {n for n, _ in tsnn.ALIF(**kw).named_parameters()} == {"threshold", "beta", "rho", "b"}
    assert {n for n, _ in tsnn.ALIF(beta=0.8, learn_b=True).named_parameters()} == {"b"}


def test_bad_arguments():
    with pytest.raises(ValueError, match="rho"):
        F.alif(torch.zeros(2, 1, 3), 0.9, 1.0, None, 0.2)
    with pytest.raises(ValueError, match="b of shape"):
        F.alif(torch.zeros(2, 1, 3), 0.9, 1.0, 0.9, torch.ones(4))
    with pytest.raises(ValueError, match="threshold"):
        tsnn.ALIF(beta=0.9, threshold=-1.0)
