"""Refractory periods of the first-order family: silent steps, the counter carried by hand, rounding, errors,
saved flags, odd inputs with the same-step reset. The concerns every neuron shares (reference values and
gradients, shapes, layouts, dtypes, zero sizes, backends, compile, opcheck, carried state, snnTorch parity)
run over the rows of tests/cases.py in tests/test_conformance.py (rows *-refractory)."""

import math

import pytest
import torch

import tritonsnn as tsnn
from tritonsnn.contracts import LifOptions, LifParams, LifState, surrogate_fields

from .checks import assert_close, assert_matches_ref_with_input_grad, assert_spikes_equal, odd_inputs
from .reference import alpha_ref, first_order_ref

F = tsnn.functional


def _case(T, B, N, per_neuron, seed=0, drive=1.0):
    g = torch.Generator().manual_seed(seed)
    x = (torch.randn(T, B, N, generator=g) * drive + 0.6).requires_grad_()
    v0 = torch.randn(B, N, generator=g).requires_grad_()
    beta = (torch.rand(N, generator=g) * 0.5 + 0.5 if per_neuron else torch.tensor(0.85)).requires_grad_()
    thr = (torch.rand(N, generator=g) + 0.5 if per_neuron else torch.tensor(0.9)).requires_grad_()
    gs, gm = torch.randn(T, B, N, generator=g), torch.randn(T, B, N, generator=g)
    return x, v0, beta, thr, gs, gm


@pytest.mark.parametrize("backend", ["torch", "triton"])
def test_no_input_no_firing_while_refractory(backend):
    # A strong constant drive fires every step without refractoriness; with R steps it
    # fires every R+1 steps, and the input gradient vanishes on the silent steps.
    x = torch.full((9, 1, 4), 5.0, requires_grad=True)
    s = F.leaky(x, 0.5, 1.0, refractory=2.0, backend=backend)
    assert s[:, 0, 0].tolist() == [1, 0, 0, 1, 0, 0, 1, 0, 0]
    (gx,) = torch.autograd.grad(s.sum(), x)
    refr_steps = torch.tensor([0, 1, 1, 0, 1, 1, 0, 1, 1], dtype=torch.bool)
    assert bool((gx[refr_steps] == 0).all())
    assert bool((gx[~refr_steps] != 0).any())


@pytest.mark.parametrize("backend", ["torch", "triton"])
def test_counter_carries_across_calls(backend):
    x, _v0, beta, thr, _, _ = _case(8, 2, 11, True, seed=7)
    x = x.detach()
    s_all, st_all = F.leaky(x, beta, thr, refractory=3, return_state=True, backend=backend)
    s1, st1 = F.leaky(x[:3], beta, thr, refractory=3, return_state=True, backend=backend)
    s2, st2 = F.leaky(
        x[3:], beta, thr, v0=st1["mem"][-1], count0=st1["count"], refractory=3, return_state=True, backend=backend
    )
    assert_spikes_equal(torch.cat([s1, s2]), s_all)
    assert_close(torch.cat([st1["mem"], st2["mem"]]), st_all["mem"], 1e-6, 0, "mem")
    assert torch.equal(st2["count"], st_all["count"])


@pytest.mark.parametrize(
    "refractory,dt,steps", [(0, 1.0, 0), (1.0, 1.0, 1), (2.5, 1.0, 3), (1.0, 0.25, 4), (0.1, 1.0, 1), (3.0, 0.1, 30)]
)
def test_refractory_steps_round_up(refractory, dt, steps):
    assert F.refractory_steps(refractory, dt) == steps == math.ceil(refractory / dt - 1e-9)


def test_negative_refractory_is_rejected():
    with pytest.raises(ValueError, match="refractory"):
        F.leaky(torch.zeros(2, 1, 3), 0.9, refractory=-1.0)
    with pytest.raises(ValueError, match="refractory"):
        tsnn.Leaky(beta=0.9, refractory=-0.5)
    with pytest.raises(ValueError, match="dt"):
        tsnn.IF(refractory=1.0, dt=0.0)


def test_refractory_flags_saved_only_when_on():
    x = torch.randn(4, 2, 5)
    state, params = LifState(None, None, None, None), LifParams(torch.tensor([0.9]), torch.tensor([1.0]))
    opts = LifOptions(0, True, False, 0, False, False, **surrogate_fields(tsnn.surrogate.atan(2.0)), use_triton=False)
    out_off = tsnn.ops.lif.lif_fwd(x, state, params, opts)
    out_on = tsnn.ops.lif.lif_fwd(x, state, params, opts._replace(refractory=2))
    assert out_off.refr_bits.numel() == 0 and out_off.final_count.numel() == 0
    assert out_on.refr_bits.dtype == torch.int8 and out_on.refr_bits.shape == x.shape


@pytest.mark.parametrize("backend", ["torch", "triton"])
@pytest.mark.parametrize("case", range(4))
@pytest.mark.parametrize("delay", [False])  # the delayed reset: row leaky-refractory of test_conformance.py
def test_odd_inputs_same_step_reset(backend, case, delay):
    name, x = odd_inputs(4)[case]
    x = x.requires_grad_()
    s, m = F.leaky(x, 0.8, 0.9, refractory=1.5, reset_delay=delay, return_mem=True, backend=backend)
    s_ref, m_ref, _ = first_order_ref(x, 0.8, 0.9, reset_delay=delay, refractory_steps=2)
    assert_matches_ref_with_input_grad(s, m, s_ref, m_ref, x, name)


# A neuron without leak (beta = 1) charged once with 5 thresholds, delayed subtract reset,
# refractory period 3: each spike removes one threshold, at the first refractory step, and
# the membrane held above threshold through the period is not reset again; so the neuron
# fires four times (steps 0, 4, 8, 12) and keeps 5 - 4 = 1.
def _no_leak(name, recurrent=None):
    return {
        "leaky": lambda x, **k: F.leaky(x, 1.0, 1.0, **k),
        "if": lambda x, **k: F.if_(x, 1.0, **k),
        "alif": lambda x, **k: F.alif(x, 1.0, 1.0, rho=0.9, b=0.0, **k),
        "rleaky": lambda x, **k: F.rleaky(x, 1.0, 0.0, 1.0, **k),
        "rleaky-dense": lambda x, **k: F.rleaky(x, 1.0, 1.0, recurrent=recurrent, **k),
        "synaptic": lambda x, **k: F.synaptic(x, 0.0, 1.0, 1.0, **k),
        "rsynaptic": lambda x, **k: F.rsynaptic(x, 0.0, 1.0, 0.0, 1.0, **k),
        "rsynaptic-dense": lambda x, **k: F.rsynaptic(x, 0.0, 1.0, 1.0, recurrent=recurrent, **k),
    }[name]


@pytest.mark.parametrize("backend", ["torch", "triton"])
@pytest.mark.parametrize(
    "name", ["leaky", "if", "alif", "rleaky", "rleaky-dense", "synaptic", "rsynaptic", "rsynaptic-dense"]
)
def test_one_spike_removes_one_threshold(backend, name):
    silent = torch.nn.Linear(3, 3, bias=False)
    torch.nn.init.zeros_(silent.weight)
    x = torch.zeros(18, 2, 3)
    x[0] = 5.0
    s, mem = _no_leak(name, silent)(x, refractory=3, return_mem=True, backend=backend)
    assert s[:, 0, 0].nonzero().flatten().tolist() == [0, 4, 8, 12]
    assert mem[:, 0, 0].tolist() == [5, 4, 4, 4, 4, 3, 3, 3, 3, 2, 2, 2, 2, 1, 1, 1, 1, 1]


@pytest.mark.parametrize("backend", ["torch", "triton"])
def test_alpha_held_membrane_reset_once(backend):
    # Alpha's subtract reset takes the threshold off the excitatory current once per spike.
    x = torch.zeros(30, 1, 2)
    x[:3] = 4.0
    s, st = F.alpha(x, 0.9, 0.8, 1.0, reset_mechanism="subtract", refractory=3, return_state=True, backend=backend)
    ref_s, ref_exc, _, _ = alpha_ref(x, 0.9, 0.8, 1.0, reset_mechanism="subtract", refractory_steps=3)
    assert_spikes_equal(s, ref_s)
    assert_close(st["syn_exc"], ref_exc, 1e-6, 1e-6, "syn_exc")
    # exc[t] = alpha * exc[t-1] + x[t] - s[t-1] * threshold: one threshold per spike
    exc, spk_prev, expected = torch.zeros(2), torch.zeros(2), []
    for t in range(30):
        exc = 0.9 * exc + x[t, 0] - spk_prev
        expected.append(exc)
        spk_prev = s[t, 0].float()
    assert int(s[:, 0, 0].sum()) >= 3
    assert_close(st["syn_exc"][:, 0], torch.stack(expected), 1e-5, 1e-5, "syn_exc against one threshold per spike")


@pytest.mark.parametrize("backend", ["torch", "triton"])
@pytest.mark.parametrize("name", ["leaky", "synaptic", "alpha"])
@pytest.mark.parametrize("split", [1, 2, 4])
def test_chunks_split_inside_the_refractory_period(backend, name, split):
    # A held step after a chunk boundary must know whether the step before it fired: the
    # carried counter says so (count0 == R), so the chunked run equals the whole one,
    # gradients included.
    g = torch.Generator().manual_seed(split)
    x = (torch.rand(12, 2, 5, generator=g) * 3).requires_grad_()
    run = {
        "leaky": lambda x, **k: F.leaky(x, 0.95, 1.0, **k),
        "synaptic": lambda x, **k: F.synaptic(x, 0.5, 0.95, 1.0, **k),
        "alpha": lambda x, **k: F.alpha(x, 0.9, 0.8, 1.0, reset_mechanism="subtract", **k),
    }[name]
    carried = {"leaky": {"mem": "v0"}, "synaptic": {"mem": "v0", "syn": "syn0"}}.get(
        name, {"mem": "v0", "syn_exc": "syn_exc0", "syn_inh": "syn_inh0"}
    )
    s_all, st_all = run(x, refractory=3, return_state=True, backend=backend)
    s1, st1 = run(x[:split], refractory=3, return_state=True, backend=backend)
    init = {arg: st1[key][-1] for key, arg in carried.items()}
    s2, st2 = run(x[split:], refractory=3, count0=st1["count"], return_state=True, backend=backend, **init)
    assert_spikes_equal(torch.cat([s1, s2]), s_all)
    mem_chunks = torch.cat([st1["mem"], st2["mem"]])
    assert_close(mem_chunks, st_all["mem"], 1e-6, 1e-6, "mem")
    w = torch.randn(mem_chunks.shape, generator=g)
    (g_chunks,) = torch.autograd.grad((mem_chunks * w).sum(), x)
    (g_all,) = torch.autograd.grad((st_all["mem"] * w).sum(), x)
    assert_close(g_chunks, g_all, 1e-5, 1e-5, "dL/dx")


@pytest.mark.parametrize(
    "period, dt, every", [(2.5, 1.0, 3), (3.0, 1.0, 3), (1.0, 1.0, 1), (0.5, 1.0, 1), (5.0, 2.0, 3)]
)
def test_a_period_counted_from_the_spike_step(period, dt, every):
    """Inferno's convention (the spike step is inside the period): refrac_t=2.5, dt=1 fires every 3 steps."""
    refractory = tsnn.functional.refractory_from_spike_step(period, dt)
    assert tsnn.functional.refractory_steps(refractory, dt) == max(math.ceil(period / dt) - 1, 0)
    lif = tsnn.IF(threshold=1.0, reset_mechanism="zero", refractory=refractory, dt=dt)
    spikes = lif(torch.full((12, 1, 1), 5.0))[:, 0, 0]
    assert spikes.nonzero().flatten().tolist() == list(range(0, 12, every))
    with pytest.raises(ValueError, match="refractory must be a finite number >= 0"):
        tsnn.functional.refractory_from_spike_step(-1.0)
