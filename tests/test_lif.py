"""Leaky / IF specifics: every surrogate, a membrane or spike output left out of the loss, the PyTorch path's
time chunks, the CUDA tier's large shape. The concerns every neuron shares (reference values and gradients,
shapes, layouts, dtypes, zero sizes, backends, compile, opcheck, carried state, snnTorch parity) run over
the rows of tests/cases.py in tests/test_conformance.py (rows leaky-*, if)."""

import pytest
import torch

import tritonsnn as tsnn
from tritonsnn.torchimpl import _common as torch_common

from .checks import TOL, assert_close
from .reference import first_order_ref, leaky_ref

SURROGATES = ["atan", "fast_sigmoid", "sigmoid", "triangular", "straight_through"]
RESETS = ["subtract", "zero", "none"]


def make_case(T, B, features, per_neuron, dtype=torch.float32, device="cpu", seed=0, with_v0=True):
    g = torch.Generator().manual_seed(seed)
    shape = (T, B, *features)
    x = (torch.randn(shape, generator=g) * 1.2 + 0.3).to(dtype)
    v0 = torch.randn((B, *features), generator=g) if with_v0 else None
    if per_neuron:
        beta = torch.rand(features, generator=g) * 1.2 - 0.1  # some outside [0, 1]: clamped
        thr = torch.rand(features, generator=g) + 0.5
    else:
        beta, thr = torch.tensor(0.85), torch.tensor(1.1)
    gs = torch.randn(shape, generator=g)
    gm = torch.randn(shape, generator=g)

    def to(t):
        return None if t is None else t.to(device).requires_grad_()

    return to(x), to(v0), to(beta), to(thr), gs.to(device), gm.to(device)


def run_both(backend, x, v0, beta, thr, gs, gm, use_mem=True, **opts):
    """Forward + backward of tsnn and of the reference on the same leaves."""
    leaves = [t for t in (x, v0, beta, thr) if t is not None]
    s, m = tsnn.functional.leaky(x, beta, thr, v0=v0, return_mem=True, backend=backend, **opts)
    loss = (s.float() * gs).sum() + ((m * gm).sum() if use_mem else 0)
    grads = torch.autograd.grad(loss, leaves)
    s_ref, m_ref = leaky_ref(
        x, beta, thr, v0, opts.get("reset_mechanism", "subtract"), opts.get("reset_delay", True), opts.get("surrogate")
    )
    loss_ref = (s_ref * gs).sum() + ((m_ref * gm).sum() if use_mem else 0)
    grads_ref = torch.autograd.grad(loss_ref, leaves)
    return (s, m, grads), (s_ref, m_ref, grads_ref)


def check(got, ref, dtype=torch.float32):
    (s, m, grads), (s_ref, m_ref, grads_ref) = got, ref
    atol, rtol = TOL[dtype]
    assert s.dtype == dtype
    assert torch.equal(s.float(), s_ref.float()), "spikes differ"
    assert_close(m, m_ref, atol, 0, "membrane")
    for g, g_ref, name in zip(grads, grads_ref, ["x", "v0", "beta", "threshold"]):
        assert g.shape == g_ref.shape, name
        # Low-precision spikes also round the incoming spike gradient, hence rtol for all grads.
        assert_close(g, g_ref, 1e-5, rtol, f"grad {name}")


BACKENDS = ["torch", "triton"]


@pytest.mark.parametrize("backend", BACKENDS)
@pytest.mark.parametrize("surrogate", SURROGATES)
@pytest.mark.parametrize("delay", [True, False])
def test_matches_reference_all_surrogates(backend, surrogate, delay, device):
    case = make_case(5, 2, (19,), True, device=device, seed=7)
    got, ref = run_both(backend, *case, surrogate=getattr(tsnn.surrogate, surrogate)(), reset_delay=delay)
    check(got, ref)


@pytest.mark.parametrize("backend", BACKENDS)
def test_without_v0_and_without_membrane_gradient(backend, device):
    x, _, beta, thr, gs, gm = make_case(5, 2, (11,), False, device=device, with_v0=False)
    got, ref = run_both(backend, x, None, beta, thr, gs, gm, use_mem=False)
    check(got, ref)


@pytest.mark.parametrize("chunk_elems", [1, 40, 1 << 16])
@pytest.mark.parametrize("delay", [True, False])
@pytest.mark.parametrize("reset", RESETS)
def test_torch_path_chunking(chunk_elems, delay, reset, monkeypatch):
    """The PyTorch reverse loop works in time chunks; chunk boundaries must not change results."""
    monkeypatch.setattr(torch_common, "CHUNK_ELEMS", chunk_elems)
    case = make_case(7, 2, (10,), True, seed=5)
    got, ref = run_both("torch", *case, reset_mechanism=reset, reset_delay=delay)
    check(got, ref)


@pytest.mark.cuda
@pytest.mark.parametrize("dtype", [torch.float32, torch.bfloat16])
def test_cuda_large_matches_torch_path(dtype):
    """Compiled kernels on a realistic shape against the PyTorch path on the same GPU."""
    x = (torch.randn(100, 16, 4096, device="cuda") * 1.5).to(dtype).requires_grad_()
    beta = torch.rand(4096, device="cuda").requires_grad_()
    outs = {}
    for backend in ("triton", "torch"):
        s, m = tsnn.functional.leaky(x, beta, 1.0, return_mem=True, backend=backend)
        gx, gb = torch.autograd.grad(s.float().sum() + m.sum(), [x, beta])
        outs[backend] = (s, m, gx, gb)
    (s1, m1, gx1, gb1), (s2, m2, gx2, gb2) = outs["triton"], outs["torch"]
    assert torch.equal(s1, s2)  # kernels are built without FMA contraction: same roundings
    assert_close(m1, m2, 1e-5, 0, "membrane")
    assert_close(gx1, gx2, 1e-5, 1e-4, "input grad")
    assert_close(gb1, gb2, 1e-3, 1e-4, "beta grad")


@pytest.mark.parametrize("backend", BACKENDS)
@pytest.mark.parametrize("delay", [True, False])
def test_loss_on_membrane_only(backend, delay, device):
    """Spikes unused: their gradient arrives as None and must count as zero."""
    x, v0, beta, thr, _, gm = make_case(5, 2, (7,), True, device=device, seed=13)
    _, m = tsnn.functional.leaky(x, beta, thr, v0=v0, return_mem=True, reset_delay=delay, backend=backend)
    g = torch.autograd.grad((m * gm).sum(), [x, v0, beta, thr])
    _, m_ref = leaky_ref(x, beta, thr, v0, reset_delay=delay)
    g_ref = torch.autograd.grad((m_ref * gm).sum(), [x, v0, beta, thr])
    for a, b, name in zip(g, g_ref, ["x", "v0", "beta", "thr"]):
        assert_close(a, b, 1e-5, 1e-4, name)


@pytest.mark.parametrize("backend", ["torch", "triton"])
@pytest.mark.parametrize("learn_threshold", [False, True])
def test_zero_reset_with_a_fixed_beta(backend, learn_threshold):
    # The CPU backward's shortcut for the delayed zero reset when beta needs no gradient
    # (K[t] = beta * H(thr - pre[t])): input, initial-membrane and threshold gradients.
    g = torch.Generator().manual_seed(5)
    x = (torch.rand(40, 3, 7, generator=g) * 1.5).requires_grad_()
    v0 = (torch.rand(3, 7, generator=g) * 2).requires_grad_()  # some above threshold: step 0 resets
    thr = torch.tensor(0.9, requires_grad=learn_threshold)
    s, m = tsnn.functional.leaky(x, 0.8, thr, v0=v0, reset_mechanism="zero", return_mem=True, backend=backend)
    s_ref, m_ref, _ = first_order_ref(x, 0.8, thr, v0, reset_mechanism="zero")
    assert torch.equal(s, s_ref)
    w = torch.randn(s.shape, generator=g)
    leaves = [x, v0] + ([thr] if learn_threshold else [])
    got = torch.autograd.grad((s * w).sum() + m.sum(), leaves)
    want = torch.autograd.grad((s_ref * w).sum() + m_ref.sum(), leaves)
    for a, b in zip(got, want):
        assert_close(a, b, 1e-5, 1e-5, "gradient")
