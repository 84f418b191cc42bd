"""Synapse filters (exponential, double exponential), traces, Connection and Cell.

Both backends (Triton through the interpreter on CPU, and the PyTorch path) are
compared with the step-by-step autograd loops in reference_synapses.py.
"""

import math

import pytest
import torch
from torch import nn

import tritonsnn as tsnn
import tritonsnn.functional as F
from tritonsnn.contracts import ScanOptions, ScanParams, ScanState

from .checks import assert_close
from .reference_synapses import dual_exp_synapse_ref, exp_synapse_ref, trace_ref

BACKENDS = ["torch", "triton"]
SHAPES = [(1, 1, (1,)), (5, 3, (7,)), (4, 2, (3, 5))]  # T, B, features; N never a block multiple


def _params(kind, features, lo, hi, gen):
    if kind == "scalar":
        return torch.tensor(lo + (hi - lo) * torch.rand((), generator=gen).item(), requires_grad=True)
    return (lo + (hi - lo) * torch.rand(features, generator=gen)).requires_grad_()


def _grads(loss, tensors):
    return torch.autograd.grad(loss, tensors, allow_unused=True)


@pytest.mark.parametrize("backend", BACKENDS)
@pytest.mark.parametrize("T,B,features", SHAPES)
@pytest.mark.parametrize("param_kind", ["scalar", "per_channel"])
@pytest.mark.parametrize("with_state", [False, True])
def test_exp_synapse_matches_reference(backend, T, B, features, param_kind, with_state, device):
    gen = torch.Generator().manual_seed(T * 100 + B)
    x = torch.randn(T, B, *features, generator=gen).to(device).requires_grad_()
    alpha = _params(param_kind, features, 0.3, 0.95, gen)
    i0 = torch.randn(B, *features, generator=gen).to(device).requires_grad_() if with_state else None
    y, final = F.exp_synapse(x, alpha, i0=i0, return_state=True, backend=backend)
    ref = exp_synapse_ref(x, alpha, i0)
    assert_close(y, ref, 1e-5, 1e-5, "current", elementwise=True)
    assert_close(final, ref[-1], 1e-5, 1e-5, "final current", elementwise=True)
    w = torch.randn(y.shape, generator=gen).to(device)
    ins = [x, alpha] + ([i0] if with_state else [])
    got = _grads((y * w).sum() + 0.5 * final.sum(), ins)
    want = _grads((ref * w).sum() + 0.5 * ref[-1].sum(), ins)
    for g, r, name in zip(got, want, ["dx", "dalpha", "di0"]):
        assert_close(g, r, 1e-5, 1e-4, name, elementwise=True)


@pytest.mark.parametrize("backend", BACKENDS)
@pytest.mark.parametrize("T,B,features", SHAPES)
@pytest.mark.parametrize("param_kind", ["scalar", "per_channel"])
@pytest.mark.parametrize("with_state", [False, True])
def test_dual_exp_synapse_matches_reference(backend, T, B, features, param_kind, with_state, device):
    gen = torch.Generator().manual_seed(T * 10 + B + 7)
    x = torch.randn(T, B, *features, generator=gen).to(device).requires_grad_()
    a1 = _params(param_kind, features, 0.2, 0.9, gen)
    a2 = _params("per_channel" if param_kind == "scalar" else "scalar", features, 0.5, 0.97, gen)
    if with_state:
        h0 = torch.randn(B, *features, generator=gen).to(device).requires_grad_()
        i0 = torch.randn(B, *features, generator=gen).to(device).requires_grad_()
    else:
        h0 = i0 = None
    y, (h_fin, y_fin) = F.dual_exp_synapse(x, a1, a2, state0=(h0, i0), return_state=True, backend=backend)
    ref, ref_h = dual_exp_synapse_ref(x, a1, a2, h0, i0)
    assert_close(y, ref, 1e-5, 1e-5, "current", elementwise=True)
    assert_close(h_fin, ref_h[-1], 1e-5, 1e-5, "final first stage", elementwise=True)
    assert_close(y_fin, ref[-1], 1e-5, 1e-5, "final current", elementwise=True)
    w = torch.randn(y.shape, generator=gen).to(device)
    ins = [x, a1, a2] + ([h0, i0] if with_state else [])
    # The loss also uses the final first-stage state, as a following chunk would.
    got = _grads((y * w).sum() + 0.7 * h_fin.sum() - 0.3 * y_fin.sum(), ins)
    want = _grads((ref * w).sum() + 0.7 * ref_h[-1].sum() - 0.3 * ref[-1].sum(), ins)
    for g, r, name in zip(got, want, ["dx", "dalpha1", "dalpha2", "dh0", "di0"]):
        assert_close(g, r, 1e-5, 1e-4, name, elementwise=True)


@pytest.mark.parametrize("backend", BACKENDS)
def test_only_final_state_used_gives_gradients(backend, device):
    x = torch.randn(4, 2, 3, device=device, requires_grad=True)
    alpha = torch.tensor(0.8, requires_grad=True)
    _, final = F.exp_synapse(x, alpha, return_state=True, backend=backend)
    final.sum().backward()
    expected = 0.8 ** torch.arange(3, -1, -1, dtype=torch.float32)
    assert_close(x.grad[:, 0, 0], expected, 1e-6, 1e-5, "dx from the final state", elementwise=True)
    assert alpha.grad is not None and alpha.grad.abs() > 0


@pytest.mark.parametrize("backend", BACKENDS)
@pytest.mark.parametrize("dtype", [torch.float16, torch.bfloat16])
def test_low_precision_inputs(backend, dtype, device):
    if backend == "triton" and dtype == torch.bfloat16 and device == "cpu":
        pytest.skip("the Triton interpreter has no bf16 arithmetic")
    gen = torch.Generator().manual_seed(3)
    x = torch.randn(6, 3, 5, generator=gen).to(device, dtype).requires_grad_()
    alpha = torch.full((5,), 0.85, requires_grad=True)
    y = F.dual_exp_synapse(x, alpha, 0.6, backend=backend)
    assert y.dtype == torch.float32
    ref, _ = dual_exp_synapse_ref(x.float(), alpha, 0.6)
    assert_close(y, ref, 1e-5, 1e-5, "current from low-precision input", elementwise=True)
    w = torch.randn(y.shape, generator=gen).to(device)
    dx, da = _grads((y * w).sum(), [x, alpha])
    rdx, rda = _grads((ref * w).sum(), [x, alpha])
    assert dx.dtype == dtype
    assert_close(dx, rdx, 1e-2, 1e-2, "dx (low precision)", elementwise=True)
    assert_close(da, rda, 1e-4, 1e-4, "dalpha", elementwise=True)


@pytest.mark.parametrize("backend", BACKENDS)
def test_non_contiguous_input(backend, device):
    gen = torch.Generator().manual_seed(4)
    base = torch.randn(3, 5, 4, generator=gen).to(device)
    x = base.permute(2, 1, 0)  # [4, 5, 3], strided
    assert not x.is_contiguous()
    alpha = torch.tensor([0.5, 0.7, 0.9])
    assert_close(
        F.exp_synapse(x, alpha, backend=backend), exp_synapse_ref(x, alpha), 1e-5, 1e-5, "strided", elementwise=True
    )
    strided_alpha = torch.tensor([0.5, 0.0, 0.7, 0.0, 0.9])[::2]  # a view with stride 2
    assert_close(
        F.exp_synapse(x, strided_alpha, backend=backend),
        exp_synapse_ref(x, alpha),
        1e-5,
        1e-5,
        "strided alpha",
        elementwise=True,
    )
    expanded = torch.randn(4, 1, 3, generator=gen).to(device).expand(4, 5, 3)
    assert_close(
        F.dual_exp_synapse(expanded, 0.6, alpha, backend=backend),
        dual_exp_synapse_ref(expanded, 0.6, alpha)[0],
        1e-5,
        1e-5,
        "expanded",
        elementwise=True,
    )


@pytest.mark.parametrize("alpha1,alpha2", [(0.6, 0.9), (0.8, 0.8)])
def test_dual_exp_impulse_response_closed_form(alpha1, alpha2):
    T = 12
    x = torch.zeros(T, 1, 1)
    x[0] = 1
    y = F.dual_exp_synapse(x, alpha1, alpha2)[:, 0, 0]
    k = torch.arange(T, dtype=torch.float64)
    if alpha1 == alpha2:
        want = (k + 1) * alpha1**k
    else:
        want = (alpha1 ** (k + 1) - alpha2 ** (k + 1)) / (alpha1 - alpha2)
    assert_close(y, want.float(), 1e-6, 1e-5, "impulse response", elementwise=True)


@pytest.mark.parametrize("backend", BACKENDS)
@pytest.mark.parametrize("mode", ["cumulative", "nearest"])
def test_trace_matches_reference(backend, mode, device):
    gen = torch.Generator().manual_seed(5)
    s = (torch.rand(7, 3, 11, generator=gen) < 0.3).float().to(device)
    decay = torch.rand(11, generator=gen) * 0.9
    tr0 = torch.rand(3, 11, generator=gen).to(device)
    tr, fin = F.trace(s, decay, mode=mode, amplitude=0.5, trace0=tr0, return_state=True, backend=backend)
    ref = trace_ref(s, decay, mode, 0.5, tr0)
    assert_close(tr, ref, 1e-6, 1e-6, f"{mode} trace", elementwise=True)
    assert_close(fin, ref[-1], 1e-6, 1e-6, "final trace", elementwise=True)


@pytest.mark.parametrize("backend", BACKENDS)
def test_nearest_trace_gradient_matches_reference(backend, device):
    # The nearest-trace scan is differentiable too: keep[t] = (x[t] == 0) is a constant mask.
    gen = torch.Generator().manual_seed(6)
    x = (torch.rand(5, 2, 3, generator=gen) < 0.4).float().to(device).requires_grad_()
    decay = torch.tensor([0.2, 0.5, 0.9], requires_grad=True)
    tr = F.trace(x, decay, mode="nearest", backend=backend)
    ref = trace_ref(x, decay, "nearest")
    w = torch.randn(tr.shape, generator=gen)
    got = _grads((tr * w).sum(), [decay])
    want = _grads((ref * w).sum(), [decay])
    assert_close(got[0], want[0], 1e-6, 1e-4, "ddecay (nearest)", elementwise=True)


def test_empty_sequence_and_batch():
    y, fin = F.exp_synapse(torch.zeros(0, 2, 3), 0.5, return_state=True)
    assert y.shape == (0, 2, 3) and torch.equal(fin, torch.zeros(2, 3))
    assert F.dual_exp_synapse(torch.zeros(3, 0, 4), 0.5, 0.6).shape == (3, 0, 4)


def test_tau_and_alpha_are_equivalent():
    x = torch.randn(6, 2, 4)
    by_tau = tsnn.ExpSynapse(tau=5.0, dt=0.5)
    assert math.isclose(by_tau.alpha.item(), math.exp(-0.1), rel_tol=1e-6)
    assert_close(by_tau(x), tsnn.ExpSynapse(alpha=math.exp(-0.1))(x), 1e-6, 1e-6, "tau vs alpha", elementwise=True)
    dual = tsnn.DualExpSynapse(tau1=torch.tensor([2.0, 4.0, 6.0, 8.0]), tau2=10.0, dt=1.0)
    assert dual.alpha1.shape == (4,)


@pytest.mark.parametrize(
    "cls,kwargs", [(tsnn.ExpSynapse, {"alpha": 0.8}), (tsnn.DualExpSynapse, {"alpha1": 0.6, "alpha2": 0.9})]
)
def test_module_stateful_chunks_and_single_step_match_whole_sequence(cls, kwargs):
    x = torch.randn(9, 2, 5)
    whole = cls(**kwargs)(x)
    chunked = cls(stateful=True, **kwargs)
    parts = torch.cat([chunked(x[:4]), chunked(x[4:])])
    assert_close(parts, whole, 1e-6, 1e-6, "stateful chunks", elementwise=True)
    single = cls(step_mode="single", **kwargs)
    steps = torch.stack([single(x[t]) for t in range(9)])
    assert_close(steps, whole, 1e-6, 1e-6, "single-step", elementwise=True)
    tsnn.reset(single)
    assert single.state is None


def test_learnable_per_channel_alpha_trains():
    syn = tsnn.ExpSynapse(alpha=torch.full((3,), 0.5), learn_alpha=True)
    assert isinstance(syn.alpha, nn.Parameter)
    x = torch.randn(20, 4, 3)
    target = F.exp_synapse(x, torch.tensor([0.2, 0.5, 0.8]))
    opt = torch.optim.Adam(syn.parameters(), lr=0.05)
    for _ in range(150):
        opt.zero_grad()
        ((syn(x) - target) ** 2).mean().backward()
        opt.step()
    assert_close(syn.alpha.detach(), torch.tensor([0.2, 0.5, 0.8]), 2e-2, 0, "learned alpha", elementwise=True)


def test_connection_and_cell_compose_like_manual_code():
    torch.manual_seed(0)
    linear = nn.Linear(6, 4)
    delays = torch.tensor([0.0, 1.0, 2.5, 0.5, 3.0, 1.5])
    conn = tsnn.Connection(linear, synapse=tsnn.ExpSynapse(alpha=0.7), delay=tsnn.Delay(delays))
    neuron = tsnn.Leaky(beta=0.9, threshold=0.5)
    cell = tsnn.Cell(conn, neuron, record=True)
    x = (torch.rand(8, 3, 6) < 0.4).float()
    out = cell(x)
    delayed = F.delay(x, delays)
    manual = F.leaky(F.exp_synapse(linear(delayed), 0.7), 0.9, 0.5)
    assert torch.equal(out, manual)
    assert torch.equal(cell.pre, delayed) and torch.equal(cell.post, out)
    # Without a synapse or delay the connection is the layer over all steps.
    plain = tsnn.Connection(linear)
    assert_close(plain(x), linear(x), 1e-6, 1e-6, "plain connection", elementwise=True)
    # Connections work inside nn.Sequential and with conv layers.
    conv = tsnn.Connection(nn.Conv2d(2, 3, 3), synapse=tsnn.ExpSynapse(alpha=torch.rand(3, 1, 1)))
    net = nn.Sequential(conv, tsnn.Leaky(beta=0.8))
    assert net(torch.rand(4, 2, 2, 6, 6)).shape == (4, 2, 3, 4, 4)
    tsnn.reset(cell)
    assert cell.pre is None


def test_bad_synapse_arguments():
    with pytest.raises(ValueError, match="exactly one"):
        tsnn.ExpSynapse(alpha=0.5, tau=3.0)
    with pytest.raises(ValueError, match="exactly one"):
        tsnn.ExpSynapse()
    with pytest.raises(ValueError, match="tau"):
        tsnn.ExpSynapse(tau=-1.0)
    with pytest.raises(ValueError, match="dt"):
        tsnn.DualExpSynapse(tau1=1.0, tau2=2.0, dt=0)
    with pytest.raises(ValueError, match="alpha"):
        F.exp_synapse(torch.zeros(3, 2, 4), torch.ones(5))
    with pytest.raises(ValueError, match="i0"):
        F.exp_synapse(torch.zeros(3, 2, 4), 0.5, i0=torch.zeros(3, 4))
    with pytest.raises(TypeError, match="state0"):
        F.dual_exp_synapse(torch.zeros(3, 2, 4), 0.5, 0.5, state0=torch.zeros(2, 4))
    with pytest.raises(ValueError, match="decay"):
        F.trace(torch.zeros(3, 2, 4), 1.5)
    with pytest.raises(ValueError, match="mode"):
        F.trace(torch.zeros(3, 2, 4), 0.5, mode="all")
    with pytest.raises(TypeError, match="floating"):
        F.exp_synapse(torch.zeros(3, 2, dtype=torch.int64), 0.5)
    with pytest.raises(ValueError, match="step_mode"):
        tsnn.ExpSynapse(alpha=0.5, step_mode="many")
    with pytest.raises(TypeError, match="nn.Module"):
        tsnn.Connection(lambda x: x)


@pytest.mark.parametrize("second,nearest,with_state", [(False, False, True), (True, False, True), (False, True, False)])
def test_custom_op_registration(second, nearest, with_state):
    # Schema, fake (meta) kernel, autograd registration and AOT tracing, as torch.compile needs them.
    from tritonsnn import ops

    x = torch.randn(4, 2, 3, requires_grad=True)
    a = torch.rand(3, requires_grad=True)
    b = torch.rand(1, requires_grad=True) if second else None
    s0 = torch.randn(2, 3, requires_grad=True) if with_state else None
    args = ops.scan.SCAN.flatten(
        x=x,
        state=ScanState(s0, s0 if second else None),
        params=ScanParams(a, b),
        opts=ScanOptions(second, nearest, False),
    )
    torch.library.opcheck(torch.ops.tritonsnn.scan_fwd.default, args)
    torch.library.opcheck(ops.scan.delay_fwd, (x, torch.tensor([0.5, 1.0, 2.5], requires_grad=True), False))


@pytest.mark.parametrize("backend", BACKENDS)
@pytest.mark.parametrize(
    "reset,delay", [("subtract", True), ("subtract", False), ("zero", False), ("none", True), ("none", False)]
)
def test_exp_synapse_into_leaky_is_snntorch_synaptic(backend, device, reset, delay):
    # snnTorch's Synaptic neuron is syn = alpha*syn + x; mem = beta*mem + syn - reset*thr:
    # exactly an ExpSynapse feeding a Leaky, spikes, membrane and gradients alike. (Not for
    # the zero reset with reset_delay=True: see the test below.)
    snn = pytest.importorskip("snntorch")
    gen = torch.Generator().manual_seed(21)
    T, B, N = 8, 3, 5
    x = (torch.rand(T, B, N, generator=gen) * 0.8).requires_grad_()
    opts = dict(reset_mechanism=reset, reset_delay=delay)
    ref_neuron = snn.Synaptic(alpha=0.8, beta=0.7, learn_alpha=True, learn_beta=True, **opts)
    syn = mem = None
    spikes, mems = [], []
    for t in range(T):
        if syn is None:
            spk, syn, mem = ref_neuron(x[t])
        else:
            spk, syn, mem = ref_neuron(x[t], syn, mem)
        spikes.append(spk)
        mems.append(mem)
    ref_spk, ref_mem = torch.stack(spikes), torch.stack(mems)
    assert ref_spk.sum() > 0
    xt = x.detach().to(device).requires_grad_()
    alpha = torch.tensor(0.8, requires_grad=True)
    beta = torch.tensor(0.7, requires_grad=True)
    current = F.exp_synapse(xt, alpha, backend=backend)
    spk, mem = F.leaky(current, beta, 1.0, return_mem=True, backend=backend, **opts)
    assert torch.equal(spk.cpu(), ref_spk)
    assert_close(mem.cpu(), ref_mem, 1e-5, 1e-5, "membrane", elementwise=True)
    w = torch.randn(T, B, N, generator=gen)
    got = _grads((spk.cpu() * w).sum() + mem.cpu().sum(), [xt, alpha, beta])
    want = _grads((ref_spk * w).sum() + ref_mem.sum(), [x, ref_neuron.alpha, ref_neuron.beta])
    for g, r, name in zip(got, want, ["dx", "dalpha", "dbeta"]):
        assert_close(g.cpu(), r.reshape(g.shape), 1e-5, 1e-4, name, elementwise=True)


def test_exp_synapse_into_leaky_differs_from_snntorch_synaptic_for_the_delayed_zero_reset():
    # The README's scope: snnTorch's Synaptic zeroes the whole new membrane, input included,
    # while Leaky's zero reset keeps the input of the reset step.
    snn = pytest.importorskip("snntorch")
    x = torch.rand(30, 3, 5, generator=torch.Generator().manual_seed(21)) * 0.8
    ref = snn.Synaptic(alpha=0.8, beta=0.7, reset_mechanism="zero")
    syn, mem = ref.init_synaptic()
    ref_spk = []
    for t in range(30):
        spk, syn, mem = ref(x[t], syn, mem)
        ref_spk.append(spk)
    spk = F.leaky(F.exp_synapse(x, 0.8), 0.7, 1.0, reset_mechanism="zero")
    assert not torch.equal(spk, torch.stack(ref_spk))
    assert torch.equal(F.synaptic(x, 0.8, 0.7, 1.0, reset_mechanism="zero"), torch.stack(ref_spk))
