"""PLIF, SpikingJelly's parametric LIF: against a reference loop on both backends (spikes,
membrane, gradients of the input and of the time-constant parameter), against SpikingJelly's
own ParametricLIFNode where it is installed, and its option checks."""

import math

import pytest
import torch

import tritonsnn as tsnn

from .checks import assert_close
from .reference import first_order_ref

BACKENDS = ["torch", "triton"]
CASES = [(True, 0.0), (False, 0.0), (True, -0.25), (False, 0.5)]  # (decay_input, v_reset)


def _input(seed=0, shape=(12, 3, 5)):
    g = torch.Generator().manual_seed(seed)
    return (torch.rand(shape, generator=g) * 3.0).requires_grad_()


@pytest.mark.parametrize("backend", BACKENDS)
@pytest.mark.parametrize("decay_input,v_reset", CASES)
def test_plif_matches_the_reference_loop(backend, decay_input, v_reset):
    x = _input()
    neuron = tsnn.PLIF(init_tau=3.0, decay_input=decay_input, v_reset=v_reset, return_mem=True, backend=backend)
    spikes, mem = neuron(x)
    w = torch.tensor(-math.log(3.0 - 1.0), requires_grad=True)
    k = torch.sigmoid(w)
    x_ref = x.detach().requires_grad_()
    s_ref, m_ref, _ = first_order_ref(
        x_ref * k if decay_input else x_ref,
        1 - k,
        1.0,
        reset_mechanism="zero",
        reset_delay=False,
        v_rest=v_reset,  # SpikingJelly's membrane leaks towards v_reset and starts there
        v_reset=v_reset,
    )
    assert torch.equal(spikes, s_ref) and spikes.sum() > 0
    assert_close(mem, m_ref, 1e-6, 1e-6, "membrane")
    gw = torch.randn(spikes.shape, generator=torch.Generator().manual_seed(1))
    got = torch.autograd.grad((spikes * gw).sum() + mem.sum(), [x, neuron.w])
    want = torch.autograd.grad((s_ref * gw).sum() + m_ref.sum(), [x_ref, w])
    for a, b, name in zip(got, want, ("dx", "dw")):
        assert_close(a, b, 1e-5, 1e-5, name)


@pytest.mark.parametrize("decay_input,v_reset", CASES)
def test_plif_matches_spikingjelly(decay_input, v_reset):
    sj = pytest.importorskip("spikingjelly.activation_based.neuron")
    sj_surrogate = pytest.importorskip("spikingjelly.activation_based.surrogate")
    # tau = 2 (k = 1/2) and inputs on a 1/16 grid keep every sum exact: SpikingJelly computes
    # V + k*(X - V) where tritonsnn computes (1 - k)*V + k*X, which otherwise round apart. The
    # threshold float32(4/3) has mantissa bits no such sum reaches, so no membrane equals it
    # (SpikingJelly fires on >=, tritonsnn on >).
    thr = 4.0 / 3.0
    x = (torch.round(_input(seed=4).detach() * 16) / 16).requires_grad_()
    ref = sj.ParametricLIFNode(
        init_tau=2.0,
        decay_input=decay_input,
        v_threshold=thr,
        v_reset=v_reset,
        surrogate_function=sj_surrogate.Sigmoid(alpha=4.0),
        step_mode="m",
        store_v_seq=True,
    )
    x_ref = x.detach().requires_grad_()
    s_ref = ref(x_ref)
    ours = tsnn.PLIF(
        decay_input=decay_input, threshold=thr, v_reset=v_reset, surrogate=tsnn.surrogate.sigmoid(slope=4.0)
    )
    spikes = ours(x)
    assert torch.equal(spikes, s_ref) and spikes.sum() > 0
    gw = torch.randn(spikes.shape, generator=torch.Generator().manual_seed(2))
    got = torch.autograd.grad((spikes * gw).sum(), [x, ours.w])
    want = torch.autograd.grad((s_ref * gw).sum(), [x_ref, ref.w])
    for a, b, name in zip(got, want, ("dx", "dw")):
        assert_close(a, b.reshape(a.shape), 1e-5, 1e-5, name)


def test_plif_learns_its_time_constant_and_checks_its_options():
    neuron = tsnn.PLIF(init_tau=4.0)
    assert_close(torch.sigmoid(neuron.w.detach()), torch.tensor(0.25), 1e-7, 0, "1/tau")
    assert [n for n, _ in neuron.named_parameters()] == ["w"]
    for bad in (1.0, 0.5, float("nan")):
        with pytest.raises(ValueError, match="init_tau must be a time constant > 1"):
            tsnn.PLIF(init_tau=bad)
    with pytest.raises(ValueError, match="v_reset must be a number"):
        tsnn.PLIF(v_reset=None)
    with pytest.raises(ValueError, match="threshold must be > v_reset"):
        tsnn.PLIF(v_reset=1.0)
    single = tsnn.PLIF(step_mode="single")
    x = _input()
    steps = torch.stack([single(x_t) for x_t in x.detach().unbind(0)])
    assert torch.equal(steps, tsnn.PLIF()(x.detach()))
