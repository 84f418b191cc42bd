"""Shared helpers for the neuron tests: comparisons that say where tensors disagree."""

import importlib

import pytest
import torch

# Per-dtype (membrane atol, gradient rtol): state is fp32 whatever the input dtype;
# the input gradient comes back in the input dtype.
TOL = {torch.float32: (1e-5, 1e-4), torch.float16: (1e-5, 2e-3), torch.bfloat16: (1e-5, 1.6e-2)}


# torch.testing.assert_close's default (atol, rtol) per dtype: what atol=rtol=None stands for.
DEFAULT_TOL = {
    torch.float16: (1e-5, 1e-3),
    torch.bfloat16: (1e-5, 1.6e-2),
    torch.float32: (1e-5, 1.3e-6),
    torch.float64: (1e-7, 1e-7),
}


# torch.testing.assert_close's rule: assert_close(actual, expected, None, None, what, **TORCH_TESTING).
TORCH_TESTING = {"elementwise": True, "exact_dtype": True}


def assert_close(actual, expected, atol, rtol, what, *, elementwise=False, exact_dtype=False):
    """``|actual - expected| <= atol + rtol * s`` everywhere, else an error naming the first bad index;
    ``s`` is the largest expected magnitude (at least 1), or each element's own magnitude with
    ``elementwise=True`` (``torch.isclose``'s rule). Tensors or arrays; compared in float64 when either
    is float64, else in float32. ``exact_dtype``: the dtypes (and devices) must be equal, as in
    ``torch.testing.assert_close``; ``atol`` / ``rtol`` None: its defaults for ``actual``'s dtype."""
    assert actual is not None, f"{what}: got no gradient"
    actual, expected = torch.as_tensor(actual), torch.as_tensor(expected)
    if exact_dtype:
        assert actual.dtype == expected.dtype, f"{what}: dtype {actual.dtype} != {expected.dtype}"
        assert actual.device == expected.device, f"{what}: device {actual.device} != {expected.device}"
    default = DEFAULT_TOL.get(actual.dtype, (0.0, 0.0))
    atol, rtol = default[0] if atol is None else atol, default[1] if rtol is None else rtol
    wide = torch.float64 if torch.float64 in (actual.dtype, expected.dtype) else torch.float32
    actual, expected = actual.detach().to(wide).cpu(), expected.detach().to(wide).cpu()
    assert actual.shape == expected.shape, f"{what}: shape {tuple(actual.shape)} != {tuple(expected.shape)}"
    if torch.isnan(actual).any():
        idx = torch.nonzero(torch.isnan(actual))[0].tolist()
        raise AssertionError(f"{what}: NaN at index {idx} (output left unwritten?)")
    if elementwise:
        scale = expected.abs()
    else:
        scale = expected.abs().max().clamp_min(1.0) if expected.numel() else 1.0
    err = (actual - expected).abs()
    bad = ~(err <= atol + rtol * scale)  # a NaN expected value is never close
    if bad.any():
        idx = torch.nonzero(bad)[0].tolist()
        raise AssertionError(
            f"{what}: {int(bad.sum())} of {bad.numel()} elements differ; first at {idx}: "
            f"got {actual[tuple(idx)].item():.6g}, expected {expected[tuple(idx)].item():.6g}"
        )


def assert_spikes_equal(actual, expected, what="spikes"):
    """The one exact comparison: equal shapes and values (spikes of any dtype against fp32 ones)."""
    assert actual.shape == expected.shape, f"{what}: shape {tuple(actual.shape)} != {tuple(expected.shape)}"
    if actual.dtype != expected.dtype:
        actual, expected = actual.float(), expected.float()
    actual, expected = actual.detach().cpu(), expected.detach().cpu()
    if not torch.equal(actual, expected):
        bad = torch.nonzero(actual != expected)
        raise AssertionError(f"{what}: {len(bad)} differ; first at {bad[0].tolist()}")


def snntorch_run(neuron, x):
    """Step an snnTorch neuron over ``x [T, ...]`` from zero state; returns stacked (spikes, mem)."""
    spikes, mems = [], []
    for t in range(x.shape[0]):
        out = neuron(x[t])
        spikes.append(out[0])
        mems.append(out[-1])
    return torch.stack(spikes), torch.stack(mems)


def grads_match(out, ref, inputs_a, inputs_b, names, gs, gm):
    """Same upstream gradients into both (spikes, mem) pairs; compare d/d inputs pairwise."""
    (s, m), (s_ref, m_ref) = out, ref
    ga = torch.autograd.grad((s.float() * gs).sum() + (m * gm).sum(), inputs_a, allow_unused=True)
    gb = torch.autograd.grad((s_ref * gs).sum() + (m_ref * gm).sum(), inputs_b, allow_unused=True)
    for a, b, n, ref_input in zip(ga, gb, names, inputs_b):
        assert_close(a, torch.zeros_like(ref_input) if b is None else b, 1e-5, 1e-4, f"grad {n}")


def assert_matches_snntorch(ours, ref, x, ours_inputs, ref_inputs, names, g):
    """``ours`` (``return_mem=True``) on ``x`` against the snnTorch neuron ``ref`` stepped from zero
    state: identical spikes, membrane to 1e-5, some but not all neurons firing, and equal gradients
    of ``x`` and of ``ours_inputs`` / ``ref_inputs`` (named ``names``) under random upstream
    gradients drawn from the generator ``g``."""
    x_ref = x.detach().clone().requires_grad_()
    s_ref, m_ref = snntorch_run(ref, x_ref)
    s, m = ours(x)
    assert_spikes_equal(s, s_ref)
    assert_close(m, m_ref, 1e-5, 0, "mem")
    assert 0 < s_ref.sum() < s_ref.numel()
    gs, gm = torch.randn(x.shape, generator=g), torch.randn(x.shape, generator=g)
    grads_match((s, m), (s_ref, m_ref), [x, *ours_inputs], [x_ref, *ref_inputs], ["x", *names], gs, gm)


def saved_bytes_per_elem(fn, x):
    """Bytes per element of ``x`` that autograd keeps for backward while running ``fn(x)``:
    distinct storages of the saved tensors, ``x``'s own excluded."""
    storages = {}

    def pack(t):
        st = t.untyped_storage()
        if st.data_ptr() != x.untyped_storage().data_ptr():
            storages[st.data_ptr()] = st.nbytes()
        return t

    with torch.autograd.graph.saved_tensors_hooks(pack, lambda t: t):
        fn(x)
    return sum(storages.values()) / x.numel()


def odd_inputs(seed=0):
    """(name, x) pairs: T=1/N=1, multi-dimensional features, a non-contiguous view, fp16."""
    g = torch.Generator().manual_seed(seed)
    base = torch.randn(6, 3, 2, 5, generator=g) + 0.7
    return [
        ("T1N1", torch.randn(1, 1, 1, generator=g) + 2.0),
        ("features3d", torch.randn(4, 2, 3, 2, 2, generator=g) + 0.7),
        ("noncontig", base.transpose(2, 3)),
        ("fp16", (torch.randn(5, 2, 11, generator=g) + 0.7).half()),
    ]


def assert_compiles_like_eager(net, x):
    """``torch.compile(net, fullgraph=True)`` (which raises on any graph break) gives the
    eager spikes, membrane and parameter gradients; ``net`` returns ``(spikes, mem)``."""
    torch._dynamo.reset()
    compiled = torch.compile(net, fullgraph=True, backend="aot_eager")
    s_c, m_c = compiled(x)
    s_e, m_e = net(x)
    assert torch.equal(s_c, s_e)
    assert_close(m_c, m_e, 1e-6, 0, "membrane")
    params = list(net.parameters())
    grads_c = torch.autograd.grad(s_c.sum() + m_c.sum(), params)
    grads_e = torch.autograd.grad(s_e.sum() + m_e.sum(), params)
    for a, b in zip(grads_c, grads_e):
        assert_close(a, b, 0, 1e-5, "parameter grad")


def assert_chunks_match(stateful, x, split, spikes, mem):
    """A ``stateful=True`` module fed ``x[:split]`` then ``x[split:]`` reproduces one pass."""
    s1, _ = stateful(x[:split])
    s2, m2 = stateful(x[split:])
    assert_spikes_equal(torch.cat([s1, s2]), spikes)
    assert_close(m2, mem[split:], 1e-6, 0, "mem")


def assert_matches_ref_with_input_grad(s, m, s_ref, m_ref, x, name, params=()):
    """Spikes, membrane and the gradients of the input and of ``params`` (``(name, tensor)``
    pairs shared by both runs) of ``(s, m)`` against the reference's, for ``x`` of any dtype
    (fp16 input gradients are compared at fp16 precision)."""
    assert s.dtype == x.dtype and s.shape == x.shape
    assert_spikes_equal(s, s_ref, name)
    assert_close(m, m_ref, 1e-5, 0, name)
    g = torch.randn(x.shape)
    inputs = [x, *(p for _, p in params)]
    gx, *gp = torch.autograd.grad((s.float() * g).sum() + m.sum(), inputs)
    gr, *gp_ref = torch.autograd.grad((s_ref * g).sum() + m_ref.sum(), inputs)
    assert_close(gx, gr, 1e-5, 2e-3 if x.dtype == torch.float16 else 1e-4, name)
    for (p_name, _), a, b in zip(params, gp, gp_ref):
        assert_close(a, b, 1e-5, 1e-4, f"{name} {p_name}")


class _Missing:
    """Stands in for an optional package that is not installed: a test that uses it is skipped."""

    def __init__(self, name):
        self._name = name

    def __getattr__(self, attr):
        if attr.startswith("__"):  # pytest's and Python's own probes while collecting
            raise AttributeError(attr)
        pytest.skip(f"needs {self._name} (pip install {self._name}); the tests that do not use it run")


def optional(name):
    """``import name``, or a stand-in whose first use skips the test (tests of the same file that do
    not use the package still run, and collection never fails for its absence)."""
    try:
        return importlib.import_module(name)
    except ImportError:
        return _Missing(name)
