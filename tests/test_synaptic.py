"""Second-order neurons (Synaptic, Alpha, RSynaptic): both backends against snnTorch itself
and against the autograd reference loops in tests/reference.py."""
import pytest
import snntorch as snn
import torch
from torch import nn

import tritonsnn as tsnn
from tritonsnn import functional as F
from tritonsnn import ops
from tritonsnn import surrogate as sg
from tritonsnn.contracts import Dense, SynOptions, SynParams, SynState, surrogate_fields

from . import checks
from .checks import assert_compiles_like_eager, assert_spikes_equal
from .reference import alpha_ref, synaptic_ref

BACKENDS = ["torch", "triton"]
RESETS = ["subtract", "zero", "none"]
T, B, N = 6, 3, 7


def assert_close(actual, expected, tol, what):
    """Error within ``tol`` times the reference's largest magnitude (at least 1)."""
    checks.assert_close(actual, expected, 0.0, tol, what)


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
@pytest.mark.parametrize("reset_delay", [True, False])
def test_synaptic_matches_snntorch(backend, reset, reset_delay, device):
    x = _input(T, B, N)
    alpha, beta, thr = torch.tensor(0.8), torch.linspace(0.5, 0.95, N), torch.tensor(1.1)
    ref = snn.Synaptic(alpha=alpha.clone(), beta=beta.clone(), threshold=thr.clone(), reset_mechanism=reset,
                       reset_delay=reset_delay, learn_alpha=True, learn_beta=True, learn_threshold=True)
    ours = tsnn.Synaptic(alpha, beta, thr, reset_mechanism=reset, reset_delay=reset_delay, learn_alpha=True,
                         learn_beta=True, learn_threshold=True, return_state=True, backend=backend).to(device)
    xr = x.clone().requires_grad_()
    s_ref, syn_ref, mem_ref = _run_snntorch(ref, xr, 3)
    grads_ref = torch.autograd.grad(_loss(s_ref, mem_ref), [xr, *_params(ref, ["alpha", "beta", "threshold"])])
    xo = x.to(device).requires_grad_()
    s, state = ours(xo)
    syn, mem = state["syn"], state["mem"]
    grads = torch.autograd.grad(_loss(s, mem), [xo, *_params(ours, ["alpha", "beta", "threshold"])])
    assert_spikes_equal(s, s_ref)
    assert_close(syn, syn_ref, 1e-5, "syn")
    assert_close(mem, mem_ref, 1e-5, "mem")
    for name, g, g_ref in zip(["x", "alpha", "beta", "threshold"], grads, grads_ref):
        assert_close(g, g_ref, 1e-4, f"d{name}")


def _snn_alpha(alpha, beta, thr, reset):
    """snnTorch's Alpha cannot be built with learn_alpha=True (it assigns a clamped tensor to the
    Parameter); build it with buffers and swap in Parameters to compare parameter gradients."""
    ref = snn.Alpha(alpha=alpha.clone(), beta=beta.clone(), threshold=thr.clone(), reset_mechanism=reset)
    for name in ("alpha", "beta", "threshold"):
        setattr(ref, name, nn.Parameter(getattr(ref, name).detach().clone()))
    return ref


@pytest.mark.parametrize("backend", BACKENDS)
@pytest.mark.parametrize("reset", RESETS)
@pytest.mark.parametrize("return_state", [True, False])
def test_alpha_matches_snntorch(backend, reset, return_state, device):
    """Learnable decays: the currents are kept for their gradients whether or not the state is returned."""
    x = _input(T, B, N, seed=2)
    alpha, beta, thr = torch.linspace(0.85, 0.97, N), torch.tensor(0.6), torch.tensor(0.9)
    ref = _snn_alpha(alpha, beta, thr, reset)
    ours = tsnn.Alpha(alpha, beta, thr, reset_mechanism=reset, learn_alpha=True, learn_beta=True,
                      learn_threshold=True, return_state=return_state, return_mem=True, backend=backend).to(device)
    xr = x.clone().requires_grad_()
    s_ref, exc_ref, inh_ref, mem_ref = _run_snntorch(ref, xr, 4)
    assert s_ref.sum() > 0, "test input should make the neurons spike"
    grads_ref = torch.autograd.grad(_loss(s_ref, mem_ref), [xr, *_params(ref, ["alpha", "beta", "threshold"])])
    xo = x.to(device).requires_grad_()
    s, out = ours(xo)
    mem = out["mem"] if return_state else out
    grads = torch.autograd.grad(_loss(s, mem), [xo, *_params(ours, ["alpha", "beta", "threshold"])])
    assert_spikes_equal(s, s_ref)
    assert_close(mem, mem_ref, 1e-5, "mem")
    if return_state:
        assert_close(out["syn_exc"], exc_ref, 1e-5, "syn_exc")
        assert_close(out["syn_inh"], inh_ref, 1e-5, "syn_inh")
    for name, g, g_ref in zip(["x", "alpha", "beta", "threshold"], grads, grads_ref):
        assert_close(g, g_ref, 1e-4, f"d{name}")


@pytest.mark.parametrize("backend", BACKENDS)
@pytest.mark.parametrize("reset", RESETS)
@pytest.mark.parametrize("per_neuron_v", [False, True])
@pytest.mark.parametrize("learn_threshold", [True, False])   # the torch path builds dL/dmem only for some gradients
def test_rsynaptic_one_to_one_matches_snntorch(backend, reset, per_neuron_v, learn_threshold, device):
    x = _input(T, B, N, seed=3)
    V = torch.linspace(-0.6, 0.8, N) if per_neuron_v else torch.tensor(0.5)
    ref = snn.RSynaptic(alpha=torch.tensor(0.8), beta=torch.tensor(0.7), V=V.clone(), all_to_all=False,
                        reset_mechanism=reset, learn_alpha=True, learn_beta=True, learn_threshold=learn_threshold)
    ours = tsnn.RSynaptic(0.8, 0.7, V=V, all_to_all=False, reset_mechanism=reset, learn_alpha=True,
                          learn_beta=True, learn_threshold=learn_threshold, return_state=True,
                          backend=backend).to(device)
    names = ["alpha", "beta"] + ["threshold"] * learn_threshold + ["V"]
    xr = x.clone().requires_grad_()
    s_ref, syn_ref, mem_ref = _run_snntorch(ref, xr, 3)
    grads_ref = torch.autograd.grad(_loss(s_ref, mem_ref), [xr, *_params(ref, names)])
    xo = x.to(device).requires_grad_()
    s, state = ours(xo)
    syn, mem = state["syn"], state["mem"]
    grads = torch.autograd.grad(_loss(s, mem), [xo, *_params(ours, names)])
    assert_spikes_equal(s, s_ref)
    assert_close(syn, syn_ref, 1e-5, "syn")
    assert_close(mem, mem_ref, 1e-5, "mem")
    for name, g, g_ref in zip(["x"] + names, grads, grads_ref):
        assert_close(g, g_ref, 1e-4, f"d{name}")


@pytest.mark.parametrize("backend", BACKENDS)
@pytest.mark.parametrize("reset", ["subtract", "zero"])
def test_rsynaptic_all_to_all_matches_snntorch(backend, reset, device):
    x = _input(T, B, N, seed=4)
    ref = snn.RSynaptic(alpha=torch.tensor(0.8), beta=torch.tensor(0.7), linear_features=N, reset_mechanism=reset,
                        learn_beta=True)
    ours = tsnn.RSynaptic(0.8, 0.7, linear_features=N, reset_mechanism=reset, learn_beta=True, return_state=True,
                          backend=backend)
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
    assert_close(syn, syn_ref, 1e-5, "syn")
    assert_close(mem, mem_ref, 1e-5, "mem")
    for name, g, g_ref in zip(["x", "beta", "W", "bias"], grads, grads_ref):
        assert_close(g, g_ref, 1e-4, f"d{name}")


@pytest.mark.parametrize("backend", BACKENDS)
@pytest.mark.parametrize("reset,reset_delay", [("subtract", True), ("zero", False)])
@pytest.mark.parametrize("layer", ["linear", "conv"])
def test_rsynaptic_all_to_all_state_parameters_and_refractory(backend, reset, reset_delay, layer, device):
    """The all-to-all op (an nn.Linear or a same-size nn.Conv2d) against the reference loop: initial
    state, every parameter, the recurrent layer's gradients, a refractory period and the
    same-step reset."""
    features = (N,) if layer == "linear" else (2, 2, 3)
    x = _input(7, B, *features, seed=50, scale=1.2)
    torch.manual_seed(5)
    make = (lambda: nn.Linear(N, N)) if layer == "linear" else (lambda: nn.Conv2d(2, 2, 3, padding=1))
    linear = make()
    syn0, mem0 = _input(B, *features, seed=51, scale=0.5), _input(B, *features, seed=52)
    s0 = (_input(B, *features, seed=53) > 0).float()
    refr0 = torch.randint(0, 3, (B, *features), generator=torch.Generator().manual_seed(54))
    alpha, beta, thr = torch.tensor(0.8), torch.linspace(0.5, 0.9, features[-1]), torch.tensor(0.9)
    leaves = [t.clone().requires_grad_() for t in (x, syn0, mem0, s0, alpha, beta, thr)]
    s_ref, syn_ref, mem_ref = synaptic_ref(leaves[0], *leaves[4:], leaves[1], leaves[2], reset, reset_delay,
                                           recurrent=linear, spk0=leaves[3], refractory_steps=2, refr0=refr0)
    loss_ref = _loss(s_ref, mem_ref) + syn_ref.sum()
    grads_ref = torch.autograd.grad(loss_ref, leaves + [linear.weight, linear.bias])
    lin = make().to(device)
    lin.load_state_dict(linear.state_dict())
    dev = [t.detach().to(device).requires_grad_() for t in leaves]
    s, state = F.rsynaptic(dev[0], dev[4], dev[5], threshold=dev[6], recurrent=lin, syn0=dev[1], v0=dev[2],
                           s0=dev[3], count0=refr0.to(device), reset_mechanism=reset, reset_delay=reset_delay,
                           refractory=2.0, return_state=True, backend=backend)
    grads = torch.autograd.grad(_loss(s, state["mem"]) + state["syn"].sum(), dev + [lin.weight, lin.bias])
    assert_spikes_equal(s, s_ref)
    assert_close(state["mem"], mem_ref, 1e-5, "mem")
    assert_close(state["syn"], syn_ref, 1e-5, "syn")
    names = ["x", "syn0", "v0", "s0", "alpha", "beta", "threshold", "W", "bias"]
    for name, g, g_ref in zip(names, grads, grads_ref):
        assert_close(g, g_ref, 1e-4, f"d{name}")


def test_rsynaptic_conv2d_matches_snntorch():
    x = _input(4, 2, 2, 3, 3, seed=5)
    ref = snn.RSynaptic(alpha=torch.tensor(0.8), beta=torch.tensor(0.7), conv2d_channels=2, kernel_size=3)
    ours = tsnn.RSynaptic(0.8, 0.7, conv2d_channels=2, kernel_size=3, return_mem=True, backend="torch")
    ours.recurrent.load_state_dict(ref.recurrent.state_dict())
    xr = x.clone().requires_grad_()
    s_ref, _, mem_ref = _run_snntorch(ref, xr, 3)
    g_ref = torch.autograd.grad(_loss(s_ref, mem_ref), [xr, ref.recurrent.weight])
    xo = x.clone().requires_grad_()
    s, mem = ours(xo)
    g = torch.autograd.grad(_loss(s, mem), [xo, ours.recurrent.weight])
    assert_spikes_equal(s, s_ref)
    assert_close(mem, mem_ref, 1e-5, "mem")
    assert_close(g[0], g_ref[0], 1e-4, "dx")
    assert_close(g[1], g_ref[1], 1e-4, "dW")


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
    s, state = F.synaptic(dev[0], dev[3], dev[4], dev[5], syn0=dev[1], v0=dev[2], reset_mechanism=reset,
                          reset_delay=reset_delay, surrogate=surrogate, return_state=True, backend=backend)
    syn, mem = state["syn"], state["mem"]
    grads = torch.autograd.grad(_loss(s, mem) + syn.sum(), dev)
    assert_spikes_equal(s, s_ref)
    assert_close(mem, mem_ref, 1e-5, "mem")
    for name, g, g_ref in zip(["x", "syn0", "mem0", "alpha", "beta", "threshold"], grads, grads_ref):
        assert_close(g, g_ref, 1e-4, f"d{name}")


@pytest.mark.parametrize("backend", BACKENDS)
@pytest.mark.parametrize("reset", RESETS)
def test_rsynaptic_initial_state(backend, reset, device):
    x = _input(T, B, N, seed=9)
    spk0 = (_input(B, N, seed=10) > 0).float().requires_grad_()
    syn0 = _input(B, N, seed=11, scale=0.5).requires_grad_()
    mem0 = _input(B, N, seed=12).requires_grad_()
    V = torch.linspace(-0.5, 0.5, N).requires_grad_()
    leaves = [x.requires_grad_(), spk0, syn0, mem0, V]
    s_ref, syn_ref, mem_ref = synaptic_ref(x, 0.9, 0.8, 1.0, syn0, mem0, reset, True, V=V, spk0=spk0)
    grads_ref = torch.autograd.grad(_loss(s_ref, mem_ref), leaves)
    dev = [t.detach().to(device).requires_grad_() for t in leaves]
    s, mem = F.rsynaptic(dev[0], 0.9, 0.8, dev[4], s0=dev[1], syn0=dev[2], v0=dev[3], reset_mechanism=reset,
                         return_mem=True, backend=backend)
    grads = torch.autograd.grad(_loss(s, mem), dev)
    assert_spikes_equal(s, s_ref)
    assert_close(mem, mem_ref, 1e-5, "mem")
    for name, g, g_ref in zip(["x", "spk0", "syn0", "mem0", "V"], grads, grads_ref):
        assert_close(g, g_ref, 1e-4, f"d{name}")


@pytest.mark.parametrize("backend", BACKENDS)
@pytest.mark.parametrize("reset", RESETS)
def test_alpha_initial_state_and_state_grads(backend, reset, device):
    x = _input(T, B, N, seed=13)
    exc0 = _input(B, N, seed=14, scale=0.5).requires_grad_()
    inh0 = _input(B, N, seed=15, scale=0.5).requires_grad_()
    mem0 = _input(B, N, seed=16)
    leaves = [x.requires_grad_(), exc0, inh0]
    s_ref, e_ref, h_ref, mem_ref = alpha_ref(x, 0.9, 0.5, 0.7, exc0, inh0, mem0, reset)
    # Gradients also enter through the returned current sequences.
    loss_ref = _loss(s_ref, mem_ref) + (e_ref * 0.3).sum() - (h_ref * 0.7).sum()
    grads_ref = torch.autograd.grad(loss_ref, leaves)
    dev = [t.detach().to(device).requires_grad_() for t in leaves]
    s, state = F.alpha(dev[0], 0.9, 0.5, 0.7, syn_exc0=dev[1], syn_inh0=dev[2], v0=mem0.to(device),
                       reset_mechanism=reset, return_state=True, backend=backend)
    e, h, mem = state["syn_exc"], state["syn_inh"], state["mem"]
    grads = torch.autograd.grad(_loss(s, mem) + (e * 0.3).sum() - (h * 0.7).sum(), dev)
    assert_spikes_equal(s, s_ref)
    assert_close(mem, mem_ref, 1e-5, "mem")
    for name, g, g_ref in zip(["x", "syn_exc0", "syn_inh0"], grads, grads_ref):
        assert_close(g, g_ref, 1e-4, f"d{name}")


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
    s, mem = F.alpha(dev[0], alpha.to(device), 0.5, 0.6, syn_exc0=dev[1], syn_inh0=dev[2], reset_mechanism=reset,
                     return_mem=True, backend=backend)
    grads = torch.autograd.grad(_loss(s, mem), dev)
    assert s.dtype == dtype and grads[0].dtype == dtype
    assert_spikes_equal(s, s_ref)
    assert_close(mem, mem_ref, 1e-5, "mem")
    for name, g, g_ref in zip(["x", "syn_exc0", "syn_inh0"], grads, grads_ref):
        assert_close(g.float(), g_ref, 1e-4 if dtype == torch.float32 else 1e-2, f"d{name}")


@pytest.mark.parametrize("backend", BACKENDS)
def test_saved_state_per_element(backend):
    """Backward keeps the fp32 membrane (4 B per element); the currents (4 B each) only when a
    decay learns, a refractory period adds its 1 B flags. State sequences a Module does not
    return are not kept."""
    x = _input(20, 4, 64, seed=60).requires_grad_()
    expected = [(tsnn.Synaptic(0.8, 0.9), 4), (tsnn.Synaptic(0.8, 0.9, learn_alpha=True), 8),
                (tsnn.Alpha(0.9, 0.8), 4), (tsnn.Alpha(0.9, 0.8, learn_alpha=True), 12),
                (tsnn.Alpha(0.9, 0.8, refractory=2.0), 5), (tsnn.RSynaptic(0.8, 0.9, all_to_all=False), 4)]
    for neuron, bytes_per_elem in expected:
        neuron.backend = backend
        assert checks.saved_bytes_per_elem(neuron, x) == pytest.approx(bytes_per_elem, abs=0.05), neuron


@pytest.mark.parametrize("backend", BACKENDS)
@pytest.mark.parametrize("shape", [(1, 2, 5), (5, 1, 1), (3, 2, 3, 5), (2, 1, 1030)])
def test_odd_shapes(backend, shape, device):
    x = _input(*shape, seed=17).requires_grad_()
    s_ref, _, mem_ref = synaptic_ref(x, 0.7, 0.8)
    g_ref, = torch.autograd.grad(_loss(s_ref, mem_ref), x)
    xd = x.detach().to(device).requires_grad_()
    s, mem = F.synaptic(xd, 0.7, 0.8, return_mem=True, backend=backend)
    g, = torch.autograd.grad(_loss(s, mem), xd)
    assert s.shape == x.shape
    assert_spikes_equal(s, s_ref)
    assert_close(mem, mem_ref, 1e-5, "mem")
    assert_close(g, g_ref, 1e-4, "dx")
    # Alpha with a refractory period on the same shapes.
    s_ref, _, _, mem_ref = alpha_ref(x, 0.9, 0.6, 0.5, refractory_steps=2)
    g_ref, = torch.autograd.grad(_loss(s_ref, mem_ref), x)
    s, mem = F.alpha(xd, 0.9, 0.6, 0.5, refractory=2.0, return_mem=True, backend=backend)
    g, = torch.autograd.grad(_loss(s, mem), xd)
    assert_spikes_equal(s, s_ref)
    assert_close(mem, mem_ref, 1e-5, "alpha mem")
    assert_close(g, g_ref, 1e-4, "alpha dx")


@pytest.mark.parametrize("backend,dtype", [("torch", torch.float16), ("torch", torch.bfloat16),
                                           ("triton", torch.float16)])
def test_low_precision_inputs(backend, dtype, device):
    x = _input(T, B, N, seed=18, dtype=dtype)
    s_ref, _, mem_ref = synaptic_ref(x.float(), 0.8, 0.6)
    xd = x.to(device).requires_grad_()
    s, mem = F.synaptic(xd, 0.8, 0.6, return_mem=True, backend=backend)
    assert s.dtype == dtype and mem.dtype == torch.float32
    assert_spikes_equal(s, s_ref)
    assert_close(mem, mem_ref, 1e-5, "mem")
    g, = torch.autograd.grad(s.float().sum() + mem.sum(), xd)
    assert g.dtype == dtype and torch.isfinite(g.float()).all()


@pytest.mark.parametrize("backend", BACKENDS)
def test_non_contiguous_input(backend, device):
    base = _input(N, B, T, seed=19)
    x = base.permute(2, 1, 0)  # [T, B, N] with non-unit inner stride
    assert not x.is_contiguous()
    s_ref, _, mem_ref = synaptic_ref(x.contiguous(), 0.8, 0.7)
    s, mem = F.rsynaptic(x.to(device), 0.8, 0.7, V=0.0, return_mem=True, backend=backend)
    assert_spikes_equal(s, s_ref)
    assert_close(mem, mem_ref, 1e-5, "mem")
    e_ref = alpha_ref(x.contiguous(), 0.9, 0.3)
    s, mem = F.alpha(x.to(device), 0.9, 0.3, return_mem=True, backend=backend)
    assert_spikes_equal(s, e_ref[0])
    assert_close(mem, e_ref[3], 1e-5, "alpha mem")


# ----------------------------------------------------------------------------- Module protocol


@pytest.mark.parametrize("make", [
    lambda: tsnn.Synaptic(0.8, 0.7, backend="torch"),
    lambda: tsnn.Alpha(0.9, 0.5, threshold=0.5, backend="torch"),
    lambda: tsnn.RSynaptic(0.8, 0.7, V=0.4, all_to_all=False, backend="torch"),
    lambda: tsnn.RSynaptic(0.8, 0.7, linear_features=N, backend="torch"),
], ids=["synaptic", "alpha", "rsynaptic_1to1", "rsynaptic_linear"])
def test_single_step_and_stateful_chunks_equal_one_call(make):
    torch.manual_seed(0)
    full = make()
    x = _input(T, B, N, seed=20)
    full.return_state = True

    def flat(out):  # (spikes, state) -> [spikes, *state sequences] in a fixed order
        spikes, state = out
        return [spikes] + [state[k] for k in sorted(state)]
    expected = flat(full(x))
    single = make()
    single.load_state_dict(full.state_dict())
    single.step_mode, single.return_state = "single", True
    steps = [flat(single(x[t])) for t in range(T)]
    for i, seq in enumerate(expected):
        assert_close(torch.stack([s[i] for s in steps]), seq, 1e-6, f"single-step output {i}")
    chunked = make()
    chunked.load_state_dict(full.state_dict())
    chunked.stateful, chunked.return_state = True, True
    parts = [flat(chunked(x[:2])), flat(chunked(x[2:]))]
    for i, seq in enumerate(expected):
        assert_close(torch.cat([p[i] for p in parts]), seq, 1e-6, f"stateful output {i}")
    tsnn.reset(chunked)
    assert chunked.mem is None
    again = flat(chunked(x))
    assert_close(again[-1], expected[-1], 1e-6, "after reset")


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
    n = tsnn.RSynaptic(0.8, 0.7, all_to_all=False, learn_alpha=True, learn_beta=True, learn_threshold=True,
                       stateful=True)
    assert {k for k, _ in n.named_parameters()} == {"alpha", "beta", "threshold", "V"}
    assert "mem" not in n.state_dict() and "syn" not in n.state_dict()
    x = _input(T, B, N, seed=22).requires_grad_()
    n(x[:3])
    s = n(x[3:])
    s.sum().backward()   # gradients flow through the carried state into the first chunk
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


@pytest.mark.parametrize("backend", BACKENDS)
@pytest.mark.parametrize("reset,reset_delay", [("subtract", True), ("zero", True), ("none", True),
                                               ("subtract", False), ("zero", False)])
@pytest.mark.parametrize("steps", [1, 3])
def test_refractory_matches_reference(backend, reset, reset_delay, steps, device):
    x = _input(8, B, N, seed=30, scale=2.0)
    syn0 = _input(B, N, seed=31, scale=0.5).requires_grad_()
    mem0 = _input(B, N, seed=32).requires_grad_()
    refr0 = torch.randint(0, steps + 1, (B, N), generator=torch.Generator().manual_seed(33))
    alpha = torch.tensor(0.7).requires_grad_()
    beta = torch.linspace(0.5, 0.9, N).requires_grad_()
    thr = torch.tensor(0.9).requires_grad_()
    leaves = [x.requires_grad_(), syn0, mem0, alpha, beta, thr]
    s_ref, syn_ref, mem_ref = synaptic_ref(x, alpha, beta, thr, syn0, mem0, reset, reset_delay,
                                           refractory_steps=steps, refr0=refr0)
    assert s_ref.sum() > 0
    grads_ref = torch.autograd.grad(_loss(s_ref, mem_ref) + syn_ref.sum(), leaves)
    dev = [t.detach().to(device).requires_grad_() for t in leaves]
    s, state = F.synaptic(dev[0], dev[3], dev[4], dev[5], syn0=dev[1], v0=dev[2], count0=refr0.to(device),
                                    reset_mechanism=reset, reset_delay=reset_delay, refractory=float(steps),
                          return_state=True, backend=backend)
    syn, mem, count = state["syn"], state["mem"], state["count"]
    grads = torch.autograd.grad(_loss(s, mem) + syn.sum(), dev)
    assert_spikes_equal(s, s_ref)
    assert_close(mem, mem_ref, 1e-5, "mem")
    assert count.dtype == torch.int32 and count.shape == (B, N)
    for name, g, g_ref in zip(["x", "syn0", "mem0", "alpha", "beta", "threshold"], grads, grads_ref):
        assert_close(g, g_ref, 1e-4, f"d{name}")


@pytest.mark.parametrize("backend", BACKENDS)
@pytest.mark.parametrize("reset", RESETS)
@pytest.mark.parametrize("steps", [1, 3])
def test_refractory_alpha_matches_reference(backend, reset, steps, device):
    x = _input(9, B, N, seed=40, scale=2.0)
    exc0 = _input(B, N, seed=41, scale=0.5).requires_grad_()
    inh0 = _input(B, N, seed=42, scale=0.5).requires_grad_()
    mem0 = _input(B, N, seed=43).requires_grad_()     # held at step 0 where the counter starts > 0
    refr0 = torch.randint(0, steps + 1, (B, N), generator=torch.Generator().manual_seed(44))
    alpha = torch.linspace(0.8, 0.95, N).requires_grad_()
    beta = torch.tensor(0.5).requires_grad_()
    thr = torch.tensor(0.8).requires_grad_()
    leaves = [x.requires_grad_(), exc0, inh0, mem0, alpha, beta, thr]
    s_ref, e_ref, h_ref, mem_ref = alpha_ref(x, alpha, beta, thr, exc0, inh0, mem0, reset,
                                             refractory_steps=steps, refr0=refr0)
    assert s_ref.sum() > 0 and (s_ref.sum(0) > 1).any(), "the input should make neurons fire repeatedly"
    grads_ref = torch.autograd.grad(_loss(s_ref, mem_ref) + (e_ref * 0.3).sum() - (h_ref * 0.7).sum(), leaves,
                                    retain_graph=True)
    dev = [t.detach().to(device).requires_grad_() for t in leaves]
    s, state = F.alpha(dev[0], dev[4], dev[5], dev[6], syn_exc0=dev[1], syn_inh0=dev[2], v0=dev[3],
                       count0=refr0.to(device), reset_mechanism=reset, refractory=float(steps),
                       return_state=True, backend=backend)
    e, h, mem, count = state["syn_exc"], state["syn_inh"], state["mem"], state["count"]
    grads = torch.autograd.grad(_loss(s, mem) + (e * 0.3).sum() - (h * 0.7).sum(), dev)
    assert_spikes_equal(s, s_ref)
    assert_close(mem, mem_ref, 1e-5, "mem")
    assert count.dtype == torch.int32 and count.shape == (B, N)
    for name, g, g_ref in zip(["x", "syn_exc0", "syn_inh0", "v0", "alpha", "beta", "threshold"], grads, grads_ref):
        assert_close(g, g_ref, 1e-4, f"d{name}")
    # Without the state sequences (fixed decays, spikes and membrane only) the same gradients.
    s2, mem2 = F.alpha(dev[0], alpha.detach().to(device), 0.5, 0.8, syn_exc0=dev[1], syn_inh0=dev[2], v0=dev[3],
                       count0=refr0.to(device), reset_mechanism=reset, refractory=float(steps),
                       return_mem=True, backend=backend)
    assert_spikes_equal(s2, s_ref)
    g2 = torch.autograd.grad(_loss(s2, mem2), dev[:4])
    g2_ref = torch.autograd.grad(_loss(s_ref, mem_ref), leaves[:4])
    for name, g, g_ref in zip(["x", "syn_exc0", "syn_inh0", "v0"], g2, g2_ref):
        assert_close(g, g_ref, 1e-4, f"d{name} (no stored currents)")


@pytest.mark.parametrize("backend", BACKENDS)
def test_refractory_rsynaptic_one_to_one_matches_reference(backend, device):
    x = _input(8, B, N, seed=34, scale=2.0)
    V = torch.linspace(-0.5, 0.8, N).requires_grad_()
    leaves = [x.requires_grad_(), V]
    s_ref, _, mem_ref = synaptic_ref(x, 0.8, 0.7, 1.0, V=V, refractory_steps=2)
    grads_ref = torch.autograd.grad(_loss(s_ref, mem_ref), leaves)
    dev = [t.detach().to(device).requires_grad_() for t in leaves]
    s, mem = F.rsynaptic(dev[0], 0.8, 0.7, dev[1], refractory=2.0, return_mem=True, backend=backend)
    grads = torch.autograd.grad(_loss(s, mem), dev)
    assert_spikes_equal(s, s_ref)
    assert_close(mem, mem_ref, 1e-5, "mem")
    for name, g, g_ref in zip(["x", "V"], grads, grads_ref):
        assert_close(g, g_ref, 1e-4, f"d{name}")


def test_refractory_all_to_all_and_carried_counter():
    torch.manual_seed(0)
    x = _input(8, B, N, seed=35, scale=2.0).requires_grad_()
    n = tsnn.RSynaptic(0.8, 0.7, linear_features=N, refractory=2.0, return_mem=True, backend="torch")
    s_ref, _, mem_ref = synaptic_ref(x, 0.8, 0.7, 1.0, recurrent=n.recurrent, refractory_steps=2)
    g_ref = torch.autograd.grad(_loss(s_ref, mem_ref), [x, n.recurrent.weight])
    s, mem = n(x)
    g = torch.autograd.grad(_loss(s, mem), [x, n.recurrent.weight])
    assert_spikes_equal(s, s_ref)
    assert_close(mem, mem_ref, 1e-5, "mem")
    assert_close(g[0], g_ref[0], 1e-4, "dx")
    assert_close(g[1], g_ref[1], 1e-4, "dW")
    # The counter is state: stateful chunks and single steps equal one call.
    chunked = tsnn.Synaptic(0.8, 0.7, refractory=3.0, stateful=True, return_mem=True, backend="torch")
    whole = F.synaptic(x.detach(), 0.8, 0.7, refractory=3.0, return_mem=True, backend="torch")
    parts = [chunked(x.detach()[:3]), chunked(x.detach()[3:])]
    assert chunked._state["count"].shape == (B, N)
    assert_spikes_equal(torch.cat([p[0] for p in parts]), whole[0])
    single = tsnn.Synaptic(0.8, 0.7, refractory=3.0, step_mode="single", backend="torch")
    assert_spikes_equal(torch.stack([single(x.detach()[t]) for t in range(8)]), whole[0])
    # Alpha carries the counter the same way.
    s, mem = F.alpha(x.detach(), 0.9, 0.5, 0.5, refractory=2.0, return_mem=True, backend="torch")
    assert s.sum() > 0
    checks.assert_chunks_match(tsnn.Alpha(0.9, 0.5, 0.5, refractory=2.0, stateful=True, return_mem=True,
                                          backend="torch"), x.detach(), 3, s, mem)
    checks.assert_single_step_matches(tsnn.Alpha(0.9, 0.5, 0.5, refractory=2.0, step_mode="single",
                                                 return_mem=True, backend="torch"), x.detach(), s, mem)


# ----------------------------------------------------------------------------- torch.compile / opcheck


@pytest.mark.parametrize("backend", BACKENDS)
def test_fullgraph_compile_matches_eager(backend):
    torch.manual_seed(0)
    net = nn.Sequential(nn.Linear(6, 5),
                        tsnn.Synaptic(0.8, torch.full((5,), 0.7), learn_beta=True, learn_alpha=True, backend=backend),
                        nn.Linear(5, 4), tsnn.RSynaptic(0.8, 0.7, V=0.3, all_to_all=False, refractory=1.0,
                                                        backend=backend),
                        nn.Linear(4, 3), tsnn.Alpha(0.9, 0.6, return_mem=True, backend=backend))
    x = torch.randn(6, 2, 6) * 2
    assert_compiles_like_eager(net, x)


def test_fake_kernels_pass_opcheck():
    """torch.library's own consistency checks of schema, fake kernel and autograd registration."""
    x = torch.randn(4, 2, 3, requires_grad=True)
    p = torch.tensor([0.8]).requires_grad_()
    thr = torch.tensor([1.0])
    state = torch.randn(2, 3)
    cnt0 = torch.ones(2, 3, dtype=torch.int32)
    cases = [  # cur0, aux0, mem0, spk0, cnt0, tau, v, neuron, reset, delay, store_cur, need_mem, refr_steps
        (state, None, state, None, None, None, None, 0, 0, True, True, True, 0),
        (None, None, None, state, cnt0, None, p, 0, 1, False, False, True, 2),
        (None, None, None, None, None, None, None, 0, 0, False, False, False, 0),
        (state, state, state, None, None, torch.tensor([1.5]), None, 1, 0, True, True, True, 0),
        (None, None, state, None, cnt0, torch.tensor([1.5]), None, 1, 1, True, False, True, 2),
    ]
    surrogate = surrogate_fields(tsnn.surrogate.atan(2.0))
    for cur0, aux0, mem0, spk0, c0, tau, v, neuron, reset, delay, store_cur, need_mem, refr_steps in cases:
        opts = SynOptions(neuron, reset, delay, store_cur, need_mem, refr_steps, **surrogate, use_triton=False)
        torch.library.opcheck(
            torch.ops.tritonsnn.syn_fwd.default,
            ops.synaptic.FWD.flatten(x=x, state=SynState(cur0, aux0, mem0, spk0, c0),
                                     params=SynParams(p, p, tau, thr, v), opts=opts),
            test_utils=("test_schema", "test_faketensor", "test_autograd_registration"))
    bias = torch.randn(3, requires_grad=True)
    linear_w, conv_w = torch.randn(3, 3, requires_grad=True), torch.randn(3, 3, 3, 3, requires_grad=True)
    for syn0, s0, c0, delay, refr_steps, w, image in [(None, None, None, True, 0, linear_w, None),
                                                      (state, state, cnt0, False, 2, linear_w, None),
                                                      (state, state, cnt0, True, 2, conv_w, [3, 1, 1])]:
        opts = SynOptions(0, 0, delay, True, True, refr_steps, **surrogate, use_triton=False)
        torch.library.opcheck(
            torch.ops.tritonsnn.rsyn_dense_fwd.default,
            ops.recurrent.RSYNAPTIC.flatten(x=x, state=SynState(syn0, None, state, s0, c0),
                                            dense=Dense(w, bias, image), params=SynParams(p, p, None, thr, None),
                                            opts=opts),
            test_utils=("test_schema", "test_faketensor", "test_autograd_registration"))


@pytest.mark.parametrize("backend", BACKENDS)
def test_empty_sequence(backend, device):
    """T = 0: empty outputs of the right shapes, zero gradients into the initial state."""
    x = torch.randn(0, 2, 3, device=device, requires_grad=True)
    syn0 = torch.randn(2, 3, device=device, requires_grad=True)
    outs = [F.synaptic(x, 0.8, 0.7, syn0=syn0, return_state=True, backend=backend),
            F.alpha(x, 0.9, 0.5, return_state=True, backend=backend),
            F.rsynaptic(x, 0.8, 0.7, V=0.5, refractory=2.0, return_state=True, backend=backend),
            F.rsynaptic(x, 0.8, 0.7, recurrent=nn.Linear(3, 3).to(device), return_state=True, backend=backend)]
    seqs = [[s, *(v for k, v in state.items() if k != "count")] for s, state in outs]
    assert all(o.shape == x.shape for seq in seqs for o in seq)
    assert outs[2][1]["count"].shape == (2, 3) and not outs[2][1]["count"].any()
    g, = torch.autograd.grad(sum(o.float().sum() for seq in seqs for o in seq), syn0, allow_unused=True)
    assert g is None or not g.any()
