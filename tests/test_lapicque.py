"""Lapicque: snnTorch's ways of giving the RC coefficients, both backends. (Reference, shapes, layouts,
dtypes, carried state, compile, opcheck and parity for beta alone: rows lapicque and lapicque-refractory
of tests/test_conformance.py.)"""

import pytest
import torch

import tritonsnn as tsnn

from .checks import assert_close, assert_matches_snntorch, optional

snn = optional("snntorch")

F = tsnn.functional


@pytest.mark.parametrize("backend", ["torch", "triton"])
@pytest.mark.parametrize("reset", ["subtract", "zero", "none"])
@pytest.mark.parametrize(
    "coeffs",
    [
        {"R": 2.0, "C": 3.0},
        {"beta": 0.8, "R": 2.0},  # beta alone: test_conformance.py
        {"beta": 0.85, "C": 0.7, "time_step": 0.5},
    ],
)
def test_matches_snntorch_for_every_way_to_give_the_coefficients(backend, reset, coeffs):
    g = torch.Generator().manual_seed(2)
    T, B, N = 8, 3, 19
    x = (torch.randn(T, B, N, generator=g) * 1.5 + 0.8).requires_grad_()
    thr0 = torch.rand(N, generator=g) + 0.5
    ref = snn.Lapicque(threshold=thr0.clone(), learn_threshold=True, reset_mechanism=reset, **coeffs)
    ours = tsnn.Lapicque(
        threshold=thr0.clone(), learn_threshold=True, reset_mechanism=reset, return_mem=True, backend=backend, **coeffs
    )
    assert_matches_snntorch(ours, ref, x, [ours.threshold], [ref.threshold], ["thr"], g)


@pytest.mark.parametrize(
    "coeffs", [{"beta": 0.9}, {"R": 2.0, "C": 3.0}, {"beta": 0.8, "R": 2.0}, {"beta": 0.85, "C": 0.7, "time_step": 0.5}]
)
def test_coefficient_buffers_match_snntorch(coeffs):
    ref = snn.Lapicque(**coeffs)
    ours = tsnn.Lapicque(**coeffs)
    for name in ("R", "C", "beta"):
        theirs = getattr(ref, name).float().reshape(getattr(ours, name).shape)
        assert_close(getattr(ours, name), theirs, 1e-6, 1e-6, name)


def test_bad_arguments():
    with pytest.raises(ValueError, match="beta, or both R and C"):
        tsnn.Lapicque(R=2.0)
    with pytest.raises(ValueError, match="learn_beta"):
        tsnn.Lapicque(beta=0.9, learn_beta=True)
    with pytest.raises(ValueError, match="threshold"):
        tsnn.Lapicque(beta=0.9, threshold=0.0)
