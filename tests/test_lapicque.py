"""Lapicque: parity with snntorch.Lapicque and with the reference loop, both backends."""
import pytest
import snntorch as snn
import torch

import tritonsnn as tsnn
from .checks import (assert_chunks_match, assert_close, assert_matches_ref_with_input_grad,
                    assert_matches_snntorch, assert_single_step_matches, assert_spikes_equal, grads_match)
from .reference import first_order_ref

F = tsnn.functional


@pytest.mark.parametrize("backend", ["torch", "triton"])
@pytest.mark.parametrize("reset", ["subtract", "zero", "none"])
@pytest.mark.parametrize("coeffs", [dict(beta=0.9), dict(R=2.0, C=3.0), dict(beta=0.8, R=2.0),
                                    dict(beta=0.85, C=0.7, time_step=0.5)])
def test_matches_snntorch(backend, reset, coeffs):
    g = torch.Generator().manual_seed(2)
    T, B, N = 8, 3, 19
    x = (torch.randn(T, B, N, generator=g) * 1.5 + 0.8).requires_grad_()
    thr0 = torch.rand(N, generator=g) + 0.5
    ref = snn.Lapicque(threshold=thr0.clone(), learn_threshold=True, reset_mechanism=reset, **coeffs)
    ours = tsnn.Lapicque(threshold=thr0.clone(), learn_threshold=True, reset_mechanism=reset,
                         return_mem=True, backend=backend, **coeffs)
    assert_matches_snntorch(ours, ref, x, [ours.threshold], [ref.threshold], ["thr"], g)
    for name in ("R", "C", "beta"):
        assert_close(getattr(ours, name), getattr(ref, name).float().reshape(getattr(ours, name).shape), 1e-6, 1e-6, name)


@pytest.mark.parametrize("backend", ["torch", "triton"])
def test_matches_reference_with_v0_and_refractory(backend):
    g = torch.Generator().manual_seed(4)
    T, B, N = 7, 2, 13
    x = (torch.randn(T, B, N, generator=g) + 0.8).requires_grad_()
    v0 = torch.randn(B, N, generator=g).requires_grad_()
    thr = (torch.rand(N, generator=g) + 0.5).requires_grad_()
    s, m = F.lapicque(x, 0.9, thr, v0=v0, refractory=2, reset_mechanism="zero", return_mem=True,
                      backend=backend)
    R, C = F.lapicque_coefficients(0.9)
    s_ref, m_ref, _ = first_order_ref(x, 1 - 1 / (R * C), thr, v0, "zero", gain=R * (1 / (R * C)),
                                      zero_whole=True, refractory_steps=2, clamp_beta=False)
    assert_spikes_equal(s, s_ref)
    assert_close(m, m_ref, 1e-5, 0, "mem")
    gs, gm = torch.randn(T, B, N, generator=g), torch.randn(T, B, N, generator=g)
    grads_match((s, m), (s_ref, m_ref), [x, v0, thr], [x, v0, thr], ["x", "v0", "thr"], gs, gm)


def test_single_step_and_stateful_match_multi_step():
    x = torch.rand(6, 2, 5) * 2
    multi = tsnn.Lapicque(R=1.5, C=2.0, return_mem=True)
    single = tsnn.Lapicque(R=1.5, C=2.0, step_mode="single", return_mem=True)
    stateful = tsnn.Lapicque(R=1.5, C=2.0, stateful=True, return_mem=True)
    s, m = multi(x)
    assert_single_step_matches(single, x, s, m)
    assert_chunks_match(stateful, x, 2, s, m)


def test_bad_arguments():
    with pytest.raises(ValueError, match="beta, or both R and C"):
        tsnn.Lapicque(R=2.0)
    with pytest.raises(ValueError, match="learn_beta"):
        tsnn.Lapicque(beta=0.9, learn_beta=True)
    with pytest.raises(ValueError, match="threshold"):
        tsnn.Lapicque(beta=0.9, threshold=0.0)


@pytest.mark.parametrize("backend", ["torch", "triton"])
@pytest.mark.parametrize("case", range(4))
def test_odd_inputs(backend, case):
    from tests.checks import odd_inputs
    name, x = odd_inputs(1)[case]
    x = x.requires_grad_()
    s, m = F.lapicque(x, 0.9, 0.8, refractory=1, return_mem=True, backend=backend)
    R, C = F.lapicque_coefficients(0.9)
    s_ref, m_ref, _ = first_order_ref(x, 1 - 1 / (R * C), 0.8, gain=R * (1 / (R * C)), zero_whole=True,
                                      refractory_steps=1, clamp_beta=False)
    assert_matches_ref_with_input_grad(s, m, s_ref, m_ref, x, name)
