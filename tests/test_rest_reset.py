"""Rest and reset potentials (``v_rest``, ``v_reset``) of the snnTorch-form neurons.

The case table (tests/cases.py) sweeps them through the reference on every row that takes them;
here: the membrane starting at rest, low-precision inputs, zero sizes, the carried state of the
Modules, the checks of bad values, NIR, and Inferno's LIF run side by side with Leaky in
physiological units (rest -65, reset -70, threshold -50)."""

import math

import pytest
import torch

import tritonsnn as tsnn
import tritonsnn.functional as F

from .checks import assert_close, assert_compiles_like_eager, assert_spikes_equal
from .reference import first_order_ref, synaptic_ref

BACKENDS = ["torch", "triton"]


def _x(shape=(16, 3, 5), scale=1.5, seed=0, dtype=torch.float32):
    g = torch.Generator().manual_seed(seed)
    return (torch.rand(shape, generator=g) * scale).to(dtype).requires_grad_()


@pytest.mark.parametrize("backend", BACKENDS)
@pytest.mark.parametrize("reset,v_rest,v_reset", [("subtract", 0.4, 0.0), ("zero", -0.3, -0.6), ("none", -0.2, 0.0)])
def test_the_membrane_starts_at_rest(backend, reset, v_rest, v_reset):
    """Without ``v0`` the membrane starts at ``v_rest``; gradients of the input and of a learnable
    beta (the leak towards rest depends on it) and threshold against the reference."""
    x = _x()
    beta = torch.full((5,), 0.8, requires_grad=True)
    thr = torch.full((5,), 0.9, requires_grad=True)
    kw = dict(reset_mechanism=reset, v_rest=v_rest, v_reset=v_reset)
    s, m = F.leaky(x, beta, thr, return_mem=True, backend=backend, **kw)
    x_r, beta_r, thr_r = (t.detach().requires_grad_() for t in (x, beta, thr))
    s_r, m_r, _ = first_order_ref(x_r, beta_r, thr_r, **kw)
    assert_spikes_equal(s, s_r)
    assert 0 < s.sum() < s.numel()
    assert_close(m, m_r, 1e-6, 1e-5, "membrane")
    g = torch.randn(s.shape, generator=torch.Generator().manual_seed(1))
    got = torch.autograd.grad((s * g).sum() + m.sum(), [x, beta, thr])
    want = torch.autograd.grad((s_r * g).sum() + m_r.sum(), [x_r, beta_r, thr_r])
    for a, b, name in zip(got, want, ("dx", "dbeta", "dthreshold")):
        assert_close(a, b, 1e-5, 1e-5, name)


@pytest.mark.parametrize("backend", BACKENDS)
def test_synaptic_starts_at_rest_and_returns_its_current_unshifted(backend):
    x = _x(scale=1.0)
    kw = dict(reset_mechanism="zero", v_rest=0.3, v_reset=-0.2)
    s, st = F.synaptic(x, 0.7, 0.85, 1.0, return_state=True, backend=backend, **kw)
    s_r, syn_r, m_r = synaptic_ref(x.detach(), 0.7, 0.85, 1.0, **kw)
    assert_spikes_equal(s, s_r)
    assert 0 < s.sum() < s.numel()
    assert_close(st["syn"], syn_r, 1e-6, 1e-5, "current")
    assert_close(st["mem"], m_r, 1e-6, 1e-5, "membrane")


def test_a_callable_recurrence_steps_with_the_potentials():
    """Any other recurrence than a Linear or Conv2d runs as an autograd loop of single steps, each
    shifting and unshifting the carried membrane (and current)."""
    x = _x(shape=(12, 3, 5))
    rec = lambda s: 0.3 * s.flip(-1)  # noqa: E731
    kw = dict(reset_mechanism="zero", v_rest=0.3, v_reset=-0.2)
    s, m = F.rleaky(x, 0.8, threshold=0.9, recurrent=rec, return_mem=True, **kw)
    s_r, m_r, _ = first_order_ref(x.detach(), 0.8, 0.9, recurrent=rec, zero_whole=True, **kw)
    assert_spikes_equal(s, s_r)
    assert_close(m, m_r, 1e-6, 1e-6, "RLeaky membrane")
    s, st = F.rsynaptic(x, 0.7, 0.8, threshold=0.9, recurrent=rec, return_state=True, **kw)
    s_r, syn_r, m_r = synaptic_ref(x.detach(), 0.7, 0.8, 0.9, recurrent=rec, **kw)
    assert_spikes_equal(s, s_r)
    assert 0 < s.sum() < s.numel()
    assert_close(st["syn"], syn_r, 1e-6, 1e-6, "RSynaptic current")
    assert_close(st["mem"], m_r, 1e-6, 1e-6, "RSynaptic membrane")


@pytest.mark.parametrize("backend", BACKENDS)
@pytest.mark.parametrize("dtype", [torch.bfloat16, torch.float16])
def test_low_precision_input_is_shifted_in_fp32(backend, dtype):
    """The leak towards rest enters as extra input: added to a bf16 input in bf16 it would round
    (to 0.03 at 6.5); it is added in fp32, so the membrane is the fp32 reference's."""
    x = _x(scale=20.0, dtype=dtype)
    kw = dict(reset_mechanism="zero", v_rest=-65.0, v_reset=-70.0)
    s, m = F.leaky(x, 0.9, -50.0, return_mem=True, backend=backend, **kw)
    assert s.dtype == dtype
    s_r, m_r, _ = first_order_ref(x.detach().float(), 0.9, -50.0, **kw)
    assert_spikes_equal(s.float(), s_r)
    assert 0 < s.sum() < s.numel()
    assert_close(m, m_r, 1e-4, 1e-6, "membrane")
    (dx,) = torch.autograd.grad(m.sum(), [x])
    assert dx.dtype == dtype


@pytest.mark.parametrize("backend", BACKENDS)
@pytest.mark.parametrize("shape", [(0, 3, 5), (4, 0, 5), (4, 3, 0)])
def test_zero_size(backend, shape):
    x = torch.zeros(shape, requires_grad=True)
    s, st = F.synaptic(
        x, 0.5, 0.5, return_state=True, backend=backend, v_rest=0.2, v_reset=-0.1, reset_mechanism="zero"
    )
    assert s.shape == st["mem"].shape == st["syn"].shape == shape
    s.sum().backward()
    assert x.grad.shape == shape


@pytest.mark.parametrize(
    "make",
    [
        lambda **kw: tsnn.Leaky(0.8, 0.5, **kw),
        lambda **kw: tsnn.Synaptic(0.6, 0.8, 0.5, **kw),
        lambda **kw: tsnn.RLeaky(0.8, linear_features=5, threshold=0.5, **kw),
    ],
    ids=["leaky", "synaptic", "rleaky-linear"],
)
def test_module_state_carries_the_true_membrane(make):
    """Stateful chunks and single steps equal one call; the carried membrane is the unshifted one,
    and a fresh Module starts at rest."""
    torch.manual_seed(0)
    kw = dict(reset_mechanism="zero", v_rest=-0.3, v_reset=-0.5)
    x = _x(scale=1.2)
    whole = make(return_mem=True, **kw)
    s, m = whole(x)
    assert 0 < s.sum() < s.numel()
    chunked = make(return_mem=True, stateful=True, **kw)
    chunked.load_state_dict(whole.state_dict())
    parts = [chunked(c) for c in x.split([5, 11])]
    assert_spikes_equal(torch.cat([p[0] for p in parts]), s)
    assert_close(torch.cat([p[1] for p in parts]), m, 1e-6, 1e-6, "chunked membrane")
    assert_close(chunked.mem, m[-1], 0, 0, "carried membrane")
    single = make(step_mode="single", **kw)
    single.load_state_dict(whole.state_dict())
    steps = torch.stack([single(x_t) for x_t in x.unbind(0)])
    assert_spikes_equal(steps, s)
    assert_close(single.mem, m[-1], 1e-6, 1e-6, "single-step membrane")
    if isinstance(single, tsnn.RLeaky):
        return  # its recurrent Linear's bias is input even without spikes
    tsnn.reset(single)
    single(torch.zeros(3, 5))  # no input: a fresh neuron rests where it starts
    assert_close(single.mem, torch.full((3, 5), -0.3), 1e-7, 0, "rest")


@pytest.mark.parametrize(
    "neuron",
    [
        lambda: tsnn.Leaky(0.9, -50.0, reset_mechanism="zero", v_rest=-65.0, v_reset=-70.0, learn_beta=True),
        lambda: tsnn.Synaptic(0.8, 0.9, 0.6, v_rest=0.2, learn_alpha=True),
    ],
    ids=["leaky", "synaptic"],
)
def test_compiles_like_eager(neuron):
    """The shift is plain tensor arithmetic around the op: torch.compile traces it without a break."""
    cell = neuron()
    cell.return_mem = True
    x = torch.rand(10, 3, 6, generator=torch.Generator().manual_seed(2)) * (30.0 if cell.v_rest < -1 else 1.5)
    assert_compiles_like_eager(cell, x)


def test_bad_potentials_are_refused():
    x = torch.rand(4, 2, 3)
    with pytest.raises(ValueError, match="reset_mechanism='zero'"):
        F.leaky(x, 0.9, v_reset=-0.5)
    with pytest.raises(ValueError, match="reset_mechanism='zero'"):
        tsnn.Synaptic(0.5, 0.9, reset_mechanism="none", v_reset=0.2)
    with pytest.raises(ValueError, match="threshold - v_reset must be > 0"):
        F.leaky(x, 0.9, -0.6, reset_mechanism="zero", v_reset=-0.5)
    with pytest.raises(ValueError, match="threshold - v_reset must be > 0"):
        F.rsynaptic(x, 0.5, 0.9, threshold=torch.tensor([1.0, 2.0, 0.2]), reset_mechanism="zero", v_reset=0.5)
    with pytest.raises(ValueError, match="threshold must be > v_reset"):
        tsnn.Leaky(0.9, 0.4, reset_mechanism="zero", v_reset=0.5)
    with pytest.raises(ValueError, match="threshold must be > 0"):
        F.leaky(x, 0.9, -0.6, v_rest=-1.0)  # the subtracting reset subtracts the threshold itself
    with pytest.raises(ValueError, match="v_rest must be finite"):
        tsnn.Leaky(0.9, v_rest=float("nan"))
    with pytest.raises(TypeError, match="v_rest must be a number"):
        F.synaptic(x, 0.5, 0.9, v_rest=torch.tensor(0.1))
    # the negative threshold of physiological units is fine where the reset is below it
    assert F.leaky(x, 0.9, -50.0, reset_mechanism="zero", v_rest=-65.0, v_reset=-70.0).shape == x.shape


def test_nir_round_trip_keeps_the_potentials():
    nir = pytest.importorskip("nir")
    from tritonsnn.nir import export_to_nir, import_from_nir

    torch.manual_seed(0)
    net = torch.nn.Sequential(
        torch.nn.Linear(4, 5), tsnn.Leaky(0.8, 0.7, reset_mechanism="zero", v_rest=0.2, v_reset=-0.3)
    )
    graph = export_to_nir(net, torch.zeros(1, 1, 4))
    lif = next(n for n in graph.nodes.values() if isinstance(n, nir.LIF))
    assert_close(torch.as_tensor(lif.v_leak), torch.full((5,), 0.2), 1e-7, 0, "v_leak")
    assert_close(torch.as_tensor(lif.v_reset), torch.full((5,), -0.3), 1e-7, 0, "v_reset")
    back = import_from_nir(graph)
    x = torch.rand(12, 2, 4) * 2
    assert_spikes_equal(back(x), net(x))
    # an input gain of 2 is folded into the threshold: the potentials scale with it
    lif.r = lif.r * 2
    neuron = import_from_nir(graph)[1]
    assert (neuron.v_rest, neuron.v_reset) == pytest.approx((0.1, -0.15))


@pytest.mark.parametrize("backend", BACKENDS)
@pytest.mark.parametrize("refrac_t", [0.0, 2.5])
def test_leaky_matches_inferno_lif(backend, refrac_t):
    """Inferno's LIF (``V <- (V - V_rest - RI) e^{-dt/tau} + V_rest + RI``, firing on ``>=``, reset
    to ``reset_v`` at once, held while refractory) is Leaky with ``beta = e^{-dt/tau}``, input
    ``(1 - beta) R I``, the zero reset at the same step, ``v_rest``/``v_reset`` and
    ``fire_at_threshold``: the same spikes step by step, the membrane to rounding."""
    inferno = pytest.importorskip("inferno.neural")
    T, B, N, dt, tau = 60, 4, 6, 1.0, 10.0
    current = torch.rand(T, B, N, generator=torch.Generator().manual_seed(5)) * 30.0
    cell = inferno.LIF(
        N, dt, rest_v=-65.0, reset_v=-70.0, thresh_v=-50.0, refrac_t=refrac_t, time_constant=tau, batch_size=B
    )
    theirs = []
    for t in range(T):
        theirs.append((cell(current[t]).float(), cell.voltage.clone()))
    beta = math.exp(-dt / tau)
    spikes, mem = F.leaky(
        (1 - beta) * current,
        beta,
        -50.0,
        reset_mechanism="zero",
        reset_delay=False,
        fire_at_threshold=True,
        v_rest=-65.0,
        v_reset=-70.0,
        refractory=F.refractory_from_spike_step(refrac_t, dt),
        dt=dt,
        return_mem=True,
        backend=backend,
    )
    s_inf = torch.stack([s for s, _ in theirs])
    assert 20 < s_inf.sum() < s_inf.numel() / 2
    assert_spikes_equal(spikes, s_inf)
    assert_close(mem, torch.stack([v for _, v in theirs]), 1e-4, 1e-6, "membrane")
