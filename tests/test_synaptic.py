"""Second-order neuron specifics (Synaptic, Alpha, RSynaptic): snnTorch parity with a fixed threshold and with
snnTorch's state dict, every surrogate, Alpha without stored currents, saved bytes, Module protocol, errors,
refractory rounding, opcheck of flag sets no row calls. The concerns every neuron shares (reference values
and gradients, shapes, layouts, dtypes, zero sizes, backends, compile, opcheck, carried state, snnTorch
parity) run over the rows of tests/cases.py in tests/test_conformance.py (rows synaptic*, rsynaptic*,
alpha*)."""

import pytest
import torch
from torch import nn

import tritonsnn as tsnn
from tritonsnn import functional as F
from tritonsnn import ops
from tritonsnn import surrogate as sg
from tritonsnn.contracts import Dense, SynOptions, SynParams, SynState, surrogate_fields

from . import checks
from .checks import assert_close, assert_spikes_equal, optional
from .reference import alpha_ref, synaptic_ref

snn = optional("snntorch")

BACKENDS = ["torch", "triton"]
RESETS = ["subtract", "zero", "none"]
T, B, N = 6, 3, 7


def _input(*shape, scale=1.5, seed=0, dtype=torch.float32, device="cpu"):
    g = torch.Generator().manual_seed(seed)
    return (torch.randn(*shape, generator=g) * scale).to(device=device, dtype=dtype)


def _run_snntorch(neuron, x, n_out):
    """Call an snnTorch neuron step by step from zero state; stack each output over time."""
    outs = [neuron(x[t]) for t in range(x.shape[0])]
    return [torch.stack([o[i] for o in outs]) for i in range(n_out)]


def _loss(spikes, mem, seed=1):
    g = torch.Generator().manual_seed(seed)
    ws = torch.randn(spikes.shape, generator=g).to(spikes.device)
    wm = torch.randn(mem.shape, generator=g).to(mem.device)
    return (spikes.float() * ws).sum() + (mem.float() * wm).sum()


def _params(neuron, names):
    return [getattr(neuron, n) for n in names]


# ----------------------------------------------------------------------------- snnTorch parity


@pytest.mark.parametrize("backend", BACKENDS)
@pytest.mark.parametrize("reset", RESETS)
@pytest.mark.parametrize("per_neuron_v", [False, True])
# the torch path builds dL/dmem only for some gradients; every parameter learning: row rsynaptic, test_conformance.py
@pytest.mark.parametrize("learn_threshold", [False])
def test_rsynaptic_one_to_one_matches_snntorch_threshold_fixed(backend, reset, per_neuron_v, learn_threshold, device):
    x = _input(T, B, N, seed=3)
    V = torch.linspace(-0.6, 0.8, N) if per_neuron_v else torch.tensor(0.5)
    ref = snn.RSynaptic(
        alpha=torch.tensor(0.8),
        beta=torch.tensor(0.7),
        V=V.clone(),
        all_to_all=False,
        reset_mechanism=reset,
        learn_alpha=True,
        learn_beta=True,
        learn_threshold=learn_threshold,
    )
    ours = tsnn.RSynaptic(
        0.8,
        0.7,
        V=V,
        all_to_all=False,
        reset_mechanism=reset,
        learn_alpha=True,
        learn_beta=True,
        learn_threshold=learn_threshold,
        return_state=True,
        backend=backend,
    ).to(device)
    names = ["alpha", "beta"] + ["threshold"] * learn_threshold + ["V"]
    xr = x.clone().requires_grad_()
    s_ref, syn_ref, mem_ref = _run_snntorch(ref, xr, 3)
    grads_ref = torch.autograd.grad(_loss(s_ref, mem_ref), [xr, *_params(ref, names)])
    xo = x.to(device).requires_grad_()
    s, state = ours(xo)
    syn, mem = state["syn"], state["mem"]
    grads = torch.autograd.grad(_loss(s, mem), [xo, *_params(ours, names)])
    assert_spikes_equal(s, s_ref)
    assert_close(syn, syn_ref, 0, 1e-5, "syn")
    assert_close(mem, mem_ref, 0, 1e-5, "mem")
    for name, g, g_ref in zip(["x"] + names, grads, grads_ref):
        assert_close(g, g_ref, 0, 1e-4, f"d{name}")


@pytest.mark.parametrize("backend", BACKENDS)
@pytest.mark.parametrize("reset", ["subtract", "zero"])
def test_rsynaptic_all_to_all_matches_snntorch(backend, reset, device):
    x = _input(T, B, N, seed=4)
    ref = snn.RSynaptic(
        alpha=torch.tensor(0.8), beta=torch.tensor(0.7), linear_features=N, reset_mechanism=reset, learn_beta=True
    )
    ours = tsnn.RSynaptic(
        0.8, 0.7, linear_features=N, reset_mechanism=reset, learn_beta=True, return_state=True, backend=backend
    )
    # snnTorch weights load as they are: same parameter names and shapes.
    missing, unexpected = ours.load_state_dict(ref.state_dict(), strict=False)
    assert not missing and set(unexpected) <= {"graded_spikes_factor", "reset_mechanism_val"}
    ours = ours.to(device)
    xr = x.clone().requires_grad_()
    s_ref, syn_ref, mem_ref = _run_snntorch(ref, xr, 3)
    params_ref = [xr, ref.beta, ref.recurrent.weight, ref.recurrent.bias]
    grads_ref = torch.autograd.grad(_loss(s_ref, mem_ref), params_ref)
    xo = x.to(device).requires_grad_()
    s, state = ours(xo)
    syn, mem = state["syn"], state["mem"]
    grads = torch.autograd.grad(_loss(s, mem), [xo, ours.beta, ours.recurrent.weight, ours.recurrent.bias])
    assert_spikes_equal(s, s_ref)
    assert_close(syn, syn_ref, 0, 1e-5, "syn")
    assert_close(mem, mem_ref, 0, 1e-5, "mem")
    for name, g, g_ref in zip(["x", "beta", "W", "bias"], grads, grads_ref):
        assert_close(g, g_ref, 0, 1e-4, f"d{name}")


# ----------------------------------------------------------------------------- reference loops


SURROGATES = [sg.atan(2.0), sg.fast_sigmoid(10.0), sg.sigmoid(5.0), sg.triangular(1.0), sg.straight_through()]


@pytest.mark.parametrize("backend", BACKENDS)
@pytest.mark.parametrize("surrogate", SURROGATES, ids=lambda s: s.name)
@pytest.mark.parametrize("reset,reset_delay", [("subtract", True), ("zero", False), ("subtract", False)])
def test_synaptic_initial_state_and_surrogates(backend, surrogate, reset, reset_delay, device):
    x = _input(T, B, N, seed=6)
    syn0 = _input(B, N, seed=7, scale=0.5).requires_grad_()
    mem0 = _input(B, N, seed=8, scale=1.0).requires_grad_()
    alpha = torch.linspace(0.3, 0.9, N).requires_grad_()
    beta = torch.tensor(0.75).requires_grad_()
    thr = torch.linspace(0.8, 1.2, N).requires_grad_()
    leaves = [x.requires_grad_(), syn0, mem0, alpha, beta, thr]
    s_ref, syn_ref, mem_ref = synaptic_ref(x, alpha, beta, thr, syn0, mem0, reset, reset_delay, surrogate)
    grads_ref = torch.autograd.grad(_loss(s_ref, mem_ref) + syn_ref.sum(), leaves)
    dev = [t.detach().to(device).requires_grad_() for t in leaves]
    s, state = F.synaptic(
        dev[0],
        dev[3],
        dev[4],
        dev[5],
        syn0=dev[1],
        v0=dev[2],
        reset_mechanism=reset,
        reset_delay=reset_delay,
        surrogate=surrogate,
        return_state=True,
        backend=backend,
    )
    syn, mem = state["syn"], state["mem"]
    grads = torch.autograd.grad(_loss(s, mem) + syn.sum(), dev)
    assert_spikes_equal(s, s_ref)
    assert_close(mem, mem_ref, 0, 1e-5, "mem")
    for name, g, g_ref in zip(["x", "syn0", "mem0", "alpha", "beta", "threshold"], grads, grads_ref):
        assert_close(g, g_ref, 0, 1e-4, f"d{name}")


@pytest.mark.parametrize("backend", BACKENDS)
@pytest.mark.parametrize("reset", RESETS)
@pytest.mark.parametrize("dtype", [torch.float32, torch.float16])
def test_alpha_with_fixed_decays_keeps_no_currents(backend, reset, dtype, device):
    """Fixed decays and no state requested: the currents are not stored, the gradients of the
    input and of the initial currents are still exact."""
    x = _input(T + 5, B, N, seed=31).to(dtype)
    exc0, inh0 = _input(B, N, seed=32, scale=0.5), _input(B, N, seed=33, scale=0.5)
    alpha = torch.linspace(0.8, 0.95, N)
    leaves = [x.float().requires_grad_(), exc0.requires_grad_(), inh0.requires_grad_()]
    s_ref, _, _, mem_ref = alpha_ref(leaves[0], alpha, 0.5, 0.6, leaves[1], leaves[2], None, reset)
    grads_ref = torch.autograd.grad(_loss(s_ref, mem_ref), leaves)
    dev = [t.detach().to(device).requires_grad_() for t in (x, exc0, inh0)]
    s, mem = F.alpha(
        dev[0],
        alpha.to(device),
        0.5,
        0.6,
        syn_exc0=dev[1],
        syn_inh0=dev[2],
        reset_mechanism=reset,
        return_mem=True,
        backend=backend,
    )
    grads = torch.autograd.grad(_loss(s, mem), dev)
    assert s.dtype == dtype and grads[0].dtype == dtype
    assert_spikes_equal(s, s_ref)
    assert_close(mem, mem_ref, 0, 1e-5, "mem")
    for name, g, g_ref in zip(["x", "syn_exc0", "syn_inh0"], grads, grads_ref):
        assert_close(g.float(), g_ref, 0, 1e-4 if dtype == torch.float32 else 1e-2, f"d{name}")


@pytest.mark.parametrize("backend", BACKENDS)
def test_saved_state_per_element(backend):
    """Backward keeps the fp32 membrane (4 B per element); the currents (4 B each) only when a
    decay learns, a refractory period adds its 1 B flags. State sequences a Module does not
    return are not kept."""
    x = _input(20, 4, 64, seed=60).requires_grad_()
    expected = [
        (tsnn.Synaptic(0.8, 0.9), 4),
        (tsnn.Synaptic(0.8, 0.9, learn_alpha=True), 8),
        (tsnn.Alpha(0.9, 0.8), 4),
        (tsnn.Alpha(0.9, 0.8, learn_alpha=True), 12),
        (tsnn.Alpha(0.9, 0.8, refractory=2.0), 5),
        (tsnn.RSynaptic(0.8, 0.9, all_to_all=False), 4),
    ]
    for neuron, bytes_per_elem in expected:
        neuron.backend = backend
        assert checks.saved_bytes_per_elem(neuron, x) == pytest.approx(bytes_per_elem, abs=0.05), neuron


# ----------------------------------------------------------------------------- Module protocol


def test_return_options_and_sequential():
    x = _input(T, B, 4, seed=21)
    net = nn.Sequential(nn.Linear(4, 5), tsnn.Synaptic(0.8, 0.7), nn.Linear(5, 3), tsnn.Alpha(0.9, 0.8))
    out = net(x)
    assert out.shape == (T, B, 3)
    s, mem = tsnn.Synaptic(0.8, 0.7, return_mem=True)(x)
    s2, state = tsnn.Synaptic(0.8, 0.7, return_state=True)(x)
    syn, mem2 = state["syn"], state["mem"]
    assert torch.equal(s, s2) and torch.equal(mem, mem2) and syn.shape == x.shape
    _, state = tsnn.Alpha(0.9, 0.8, return_state=True)(x)
    assert set(state) == {"syn_exc", "syn_inh", "mem"}
    _, state = tsnn.RSynaptic(0.9, 0.8, all_to_all=False, return_state=True)(x)
    assert set(state) == {"syn", "mem"}


def test_learnable_parameters_and_stateful_gradients():
    n = tsnn.RSynaptic(
        0.8, 0.7, all_to_all=False, learn_alpha=True, learn_beta=True, learn_threshold=True, stateful=True
    )
    assert {k for k, _ in n.named_parameters()} == {"alpha", "beta", "threshold", "V"}
    assert "mem" not in n.state_dict() and "syn" not in n.state_dict()
    x = _input(T, B, N, seed=22).requires_grad_()
    n(x[:3])
    s = n(x[3:])
    s.sum().backward()  # gradients flow through the carried state into the first chunk
    assert x.grad[:3].abs().sum() > 0 and n.V.grad is not None
    tsnn.detach(n)
    assert not n.mem.requires_grad
    frozen = tsnn.RSynaptic(0.8, 0.7, linear_features=4, learn_recurrent=False)
    assert not any(p.requires_grad for p in frozen.recurrent.parameters())


def test_bad_arguments_raise():
    x = _input(T, B, N)
    with pytest.raises(ValueError, match="alpha must be greater than beta"):
        tsnn.Alpha(0.5, 0.9)
    with pytest.raises(ValueError, match="alpha must be greater than beta"):
        F.alpha(x, 0.5, 0.9)
    with pytest.raises(ValueError, match="beta must be < 1"):
        F.alpha(x, 1.5, 1.0)
    with pytest.raises(ValueError, match="linear_features"):
        tsnn.RSynaptic(0.8, 0.7)
    with pytest.raises(ValueError, match="V"):
        tsnn.RSynaptic(0.8, 0.7, all_to_all=False, linear_features=4)
    with pytest.raises(ValueError, match="threshold"):
        tsnn.Synaptic(0.8, 0.7, threshold=0.0)
    with pytest.raises(ValueError, match="reset_mechanism"):
        F.synaptic(x, 0.8, 0.7, reset_mechanism="hard")
    with pytest.raises(ValueError, match="alpha"):
        F.synaptic(x, torch.ones(N + 1), 0.7)
    with pytest.raises(ValueError, match="syn0"):
        F.synaptic(x, 0.8, 0.7, syn0=torch.zeros(B + 1, N))
    with pytest.raises(TypeError, match="recurrent"):
        F.rsynaptic(x, 0.8, 0.7, recurrent=3)


# ----------------------------------------------------------------------------- refractory periods


def test_refractory_steps_rounding_and_errors():
    assert F.refractory_steps(0) == 0
    assert F.refractory_steps(2.5, 1.0) == 3
    assert F.refractory_steps(1.1, 0.1) == 11
    assert F.refractory_steps(3, 1.5) == 2
    with pytest.raises(ValueError, match="refractory"):
        F.refractory_steps(-1.0)
    with pytest.raises(ValueError, match="dt"):
        tsnn.Synaptic(0.8, 0.7, refractory=2.0, dt=0.0)


def test_refractory_holds_the_neuron_silent_for_r_steps():
    # A strong constant drive fires at every free step: the spike train has period R + 1.
    x = torch.full((12, 1, 1), 5.0)
    s = F.synaptic(x, 0.5, 0.5, refractory=3.0, dt=1.0, backend="torch")
    assert s.flatten().tolist() == [1, 0, 0, 0] * 3
    s_off = F.synaptic(x, 0.5, 0.5, backend="torch")
    assert s_off.sum() == 12
    # Alpha's membrane starts at 0 (exc and inh cancel at the first step), then fires at every free step.
    s = F.alpha(x, 0.9, 0.5, refractory=3.0, dt=1.0, reset_mechanism="none", backend="torch")
    assert s.flatten().tolist() == [0] + [1, 0, 0, 0] * 2 + [1, 0, 0]
    assert F.alpha(x, 0.9, 0.5, reset_mechanism="none", backend="torch")[1:].all()


# ----------------------------------------------------------------------------- torch.compile / opcheck


def test_fake_kernels_pass_opcheck():
    """torch.library's own consistency checks of schema, fake kernel and autograd registration."""
    x = torch.randn(4, 2, 3, requires_grad=True)
    p = torch.tensor([0.8]).requires_grad_()
    thr = torch.tensor([1.0])
    state = torch.randn(2, 3)
    cnt0 = torch.ones(2, 3, dtype=torch.int32)
    # Flag sets no row of tests/cases.py calls (the rows' own: test_conformance.py::test_op_passes_opcheck).
    cases = [  # cur0, aux0, mem0, spk0, cnt0, tau, v, neuron, reset, delay, store_cur, need_mem, refr_steps
        (None, None, None, state, cnt0, None, p, 0, 1, False, False, True, 2)
    ]
    surrogate = surrogate_fields(tsnn.surrogate.atan(2.0))
    for cur0, aux0, mem0, spk0, c0, tau, v, neuron, reset, delay, store_cur, need_mem, refr_steps in cases:
        opts = SynOptions(neuron, reset, delay, store_cur, need_mem, refr_steps, False, **surrogate, use_triton=False)
        torch.library.opcheck(
            torch.ops.tritonsnn.syn_fwd.default,
            ops.synaptic.FWD.flatten(
                x=x, state=SynState(cur0, aux0, mem0, spk0, c0), params=SynParams(p, p, tau, thr, v), opts=opts
            ),
            test_utils=("test_schema", "test_faketensor", "test_autograd_registration"),
        )
    bias = torch.randn(3, requires_grad=True)
    linear_w, _conv_w = torch.randn(3, 3, requires_grad=True), torch.randn(3, 3, 3, 3, requires_grad=True)
    for syn0, s0, c0, delay, refr_steps, w, image in [(state, state, cnt0, False, 2, linear_w, None)]:
        opts = SynOptions(0, 0, delay, True, True, refr_steps, False, **surrogate, use_triton=False)
        torch.library.opcheck(
            torch.ops.tritonsnn.rsyn_dense_fwd.default,
            ops.recurrent.RSYNAPTIC.flatten(
                x=x,
                state=SynState(syn0, None, state, s0, c0),
                dense=Dense(w, bias, image),
                params=SynParams(p, p, None, thr, None),
                opts=opts,
            ),
            test_utils=("test_schema", "test_faketensor", "test_autograd_registration"),
        )
