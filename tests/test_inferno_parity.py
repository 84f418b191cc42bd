"""Parity with Inferno (inferno-ai 0.0.5, run step by step): its LIF, ALIF, GLIF2, QIF and EIF
against tritonsnn's with the parameters mapped. Inferno's membrane updates order the same
operations differently (``(V - V_rest - RI) e^{-dt/tau} + V_rest + RI`` for the linear neurons,
``dt/tau * (f(V) + RI)`` for QIF and EIF, where tritonsnn divides by ``tau`` in steps), so the
membranes agree to rounding; spikes, refractory periods and threshold adaptations agree exactly."""

import math

import pytest
import torch

import tritonsnn.functional as F

from .checks import assert_close

inferno = pytest.importorskip("inferno.neural")

T, B, N, DT = 60, 4, 6, 1.0


def _run(cell, current):
    """Inferno's spikes and membrane over ``current [T, B, N]``, one step per call."""
    spikes, voltages = [], []
    for t in range(current.shape[0]):
        spikes.append(cell(current[t]).float())
        voltages.append(cell.voltage.clone())
    return torch.stack(spikes), torch.stack(voltages)


def _check(ours, theirs, state, cell=None):
    spikes, voltages = theirs
    assert 20 < spikes.sum() < spikes.numel() / 2
    assert torch.equal(ours, spikes)
    assert_close(state["mem"], voltages, 1e-5, 1e-5, "membrane")
    if cell is not None:
        assert_close(state["theta"], cell.threshold_adaptation, 1e-6, 1e-6, "threshold adaptation")


def _lif_tau(tc):
    """tsnn.LIF's tau in steps for Inferno's exponential decay over ``DT`` with time constant ``tc``."""
    return 1 / (1 - math.exp(-DT / tc))


@pytest.mark.parametrize("refrac_t", [0.0, 2.5, 3.0])
def test_lif(refrac_t):
    torch.manual_seed(1)
    current = torch.rand(T, B, N) * 2.5
    cell = inferno.LIF(
        N, DT, rest_v=0.0, reset_v=-0.1, thresh_v=1.0, refrac_t=refrac_t, time_constant=10.0, batch_size=B
    )
    spikes, state = F.lif(
        current, tau=_lif_tau(10.0), threshold=1.0, v_reset=-0.1, v_rest=0.0, v0=torch.zeros(B, N),
        refractory=F.refractory_from_spike_step(refrac_t, DT), dt=DT, return_state=True,
    )  # fmt: skip
    _check(spikes, _run(cell, current), state)


@pytest.mark.parametrize("refrac_t", [0.0, 2.5, 3.0])
@pytest.mark.parametrize("reduction", [None, torch.amax])
def test_alif(refrac_t, reduction):
    torch.manual_seed(0)
    current = torch.rand(T, B, N) * 3
    cell = inferno.ALIF(
        N, DT, rest_v=0.0, reset_v=-0.1, thresh_eq_v=1.0, refrac_t=refrac_t, tc_membrane=10.0,
        tc_adaptation=(5.0, 30.0), spike_increment=(0.3, 0.1), batch_size=B, batch_reduction=reduction,
    )  # fmt: skip
    spec = F.SharedThreshold(tau=(5.0, 30.0), increment=(0.3, 0.1), reduction="max" if reduction else "mean")
    spikes, state = F.lif(
        current, tau=_lif_tau(10.0), threshold=1.0, v_reset=-0.1, v_rest=0.0, v0=torch.zeros(B, N),
        refractory=F.refractory_from_spike_step(refrac_t, DT), dt=DT, threshold_adaptation=spec, return_state=True,
    )  # fmt: skip
    _check(spikes, _run(cell, current), state, cell)


@pytest.mark.parametrize("refrac_t", [0.0, 2.5])
@pytest.mark.parametrize("backend", ["torch", "triton"])
def test_glif2(refrac_t, backend):
    torch.manual_seed(2)
    current = torch.rand(T, B, N) * 3
    cell = inferno.GLIF2(
        N, DT, rest_v=0.0, reset_v_add=0.1, reset_v_mul=0.4, thresh_eq_v=1.0, refrac_t=refrac_t, tc_membrane=10.0,
        rc_adaptation=(0.2, 1 / 30), spike_increment=(0.3, 0.1), batch_size=B,
    )  # fmt: skip
    spikes, state = F.glif2(
        current, tau=_lif_tau(10.0), threshold=1.0, v_rest=0.0, reset_mul=0.4, reset_add=0.1,
        refractory=F.refractory_from_spike_step(refrac_t, DT), dt=DT,
        threshold_adaptation=F.SharedThreshold(tau=(5.0, 30.0), increment=(0.3, 0.1)), return_state=True,
        backend=backend,
    )  # fmt: skip
    _check(spikes, _run(cell, current), state, cell)


@pytest.mark.parametrize("neuron", ["qif", "eif"])
def test_qif_and_eif(neuron):
    """Inferno's ``tau`` is in ms with ``dt``; tritonsnn's (SpikingJelly's) in steps: ``tau / dt``."""
    torch.manual_seed(3)
    current = torch.rand(T, B, N) * 1.5
    common = dict(rest_v=0.0, reset_v=-0.1, thresh_v=1.0, refrac_t=2.0, time_constant=4.0, batch_size=B)
    if neuron == "qif":
        cell = inferno.QIF(N, DT, crit_v=0.8, affinity=1.0, **common)
        spikes, state = F.qif(
            current, tau=4.0 / DT, v_c=0.8, a0=1.0, threshold=1.0, v_rest=0.0, v_reset=-0.1, v0=torch.zeros(B, N),
            refractory=F.refractory_from_spike_step(2.0, DT), dt=DT, return_state=True,
        )  # fmt: skip
    else:
        cell = inferno.EIF(N, DT, rheobase_v=0.8, sharpness=1.0, **common)
        spikes, state = F.eif(
            current, tau=4.0 / DT, delta_t=1.0, theta_rh=0.8, threshold=1.0, v_rest=0.0, v_reset=-0.1,
            v0=torch.zeros(B, N), refractory=F.refractory_from_spike_step(2.0, DT), dt=DT, return_state=True,
        )  # fmt: skip
    _check(spikes, _run(cell, current), state)


@pytest.mark.parametrize("neuron", ["izhikevich", "adex"])
@pytest.mark.parametrize("refrac_t", [0.0, 2.0])
@pytest.mark.parametrize("backend", ["torch", "triton"])
def test_izhikevich_and_adex_with_the_batch_shared_current(neuron, refrac_t, backend):
    """Inferno's Izhikevich and AdEx are QIF and EIF whose input loses an adaptation current shared
    by the batch: ``tsnn.QIF`` / ``tsnn.EIF`` with ``current_adaptation=SharedCurrent(...)``."""
    torch.manual_seed(4)
    current = torch.rand(T, B, N) * 1.5
    common = dict(rest_v=0.0, reset_v=-0.1, thresh_v=1.0, refrac_t=refrac_t, tc_membrane=4.0, batch_size=B)
    adaptation = dict(tc_adaptation=(5.0, 30.0), voltage_coupling=(0.2, 0.05), spike_increment=(0.3, 0.1))
    ours = dict(
        tau=4.0 / DT, threshold=1.0, v_rest=0.0, v_reset=-0.1, v0=torch.zeros(B, N), dt=DT, return_state=True,
        refractory=F.refractory_from_spike_step(refrac_t, DT), backend=backend,
        current_adaptation=F.SharedCurrent(tau=(5.0, 30.0), coupling=(0.2, 0.05), increment=(0.3, 0.1)),
    )  # fmt: skip
    if neuron == "izhikevich":
        cell = inferno.Izhikevich(N, DT, crit_v=0.8, affinity=1.0, **common, **adaptation)
        spikes, state = F.qif(current, v_c=0.8, a0=1.0, **ours)
    else:
        cell = inferno.AdEx(N, DT, rheobase_v=0.8, sharpness=1.0, **common, **adaptation)
        spikes, state = F.eif(current, delta_t=1.0, theta_rh=0.8, **ours)
    _check(spikes, _run(cell, current), state)
    assert_close(state["current"], cell.current_adaptation, 1e-6, 1e-6, "adaptation current")
