"""The concerns every neuron variant shares, run over the rows of tests/cases.py.

For each row (and each backend where the kernels matter): the reference's spikes, state
sequences, final refractory counter and gradients (input, initial state, every learnable
parameter) on ordinary and odd shapes, non-contiguous and expanded inputs, states and
parameters, fp16/bf16 inputs; zero-size inputs; the Triton kernels against the PyTorch path;
torch.compile against eager; torch.library.opcheck of the op the row calls; Module single-step
and stateful calls against one multi-step call; snnTorch parity where the row has a counterpart.
Spikes compare exactly, state sequences to 1e-5, gradients to 1e-4 of the largest reference
magnitude (the per-dtype rows of ``checks.TOL`` for fp16/bf16 inputs).
"""

import contextlib

import pytest
import torch
from torch import nn

import tritonsnn as tsnn
from tritonsnn.ops import _contract

from .cases import CASES, POTENTIALS
from .checks import TOL, assert_close, assert_compiles_like_eager, assert_spikes_equal

BACKENDS = ["torch", "triton"]
STATE_TOL = 1e-5  # state sequences: absolute, fp32 whatever the input dtype
GRAD_RTOL = 1e-4  # gradients: relative to the largest reference magnitude (at least 1)

# (T, B, features) per shape kind; rows with a recurrent nn.Conv2d take images [C, H, W], rows with
# a recurrent nn.Linear one feature axis.
SHAPES = {
    "default": (4, 2, (7,)),
    "T1B1N1": (1, 1, (1,)),
    "T1": (1, 4, (3,)),
    "B1N1": (9, 1, (1,)),
    "multidim": (3, 2, (4, 3, 5)),
    "ragged": (2, 3, (400,)),
}  # 1200 elements: two blocks, ragged tail
IMAGE_SHAPES = {
    "default": (4, 2, (2, 2, 3)),
    "T1B1N1": (1, 1, (1, 1, 1)),
    "T1": (1, 4, (2, 1, 3)),
    "B1N1": (9, 1, (1, 1, 1)),
    "multidim": (3, 2, (3, 2, 4)),
    "ragged": (2, 3, (2, 10, 20)),
}


def shape_of(case, kind="default"):
    """``(T, B, features)`` of a shape kind for ``case`` (None: the row cannot take it). The all-to-all
    rows run one kernel launch per step: 4 steps by default (and one per refractory step); refractory
    rows 3 more."""
    if case.flat and kind == "multidim":
        return None
    T, B, features = (IMAGE_SHAPES if case.images else SHAPES)[kind]
    if kind == "default":  # a refractory period needs steps to end and fire again
        T = 4 + case.refractory_steps if case.images or case.flat else T + (3 if case.refractory_steps else 0)
    return T, B, features


def _first_with_bug(concern, backend, reason):
    return next(c for c in CASES if c.bugs.get(f"{concern}-{backend}") == reason)


def marks(case, concern, backend):
    """Known bugs as strict xfails. In the slow tier: a structural concern on the interpreter unless the
    row has ``full_triton``; torch.compile of a single row (the default tier compiles one network of the
    ``full_triton`` rows instead: test_network_compiles_like_eager); a known bug's xfail but on the first
    row of the table that has it (each of its tracebacks costs time)."""
    reason = case.bugs.get(f"{concern}-{backend}")
    if reason:
        first = _first_with_bug(concern, backend, reason) is case
        return [pytest.mark.xfail(strict=True, reason=reason), *([] if first else [pytest.mark.slow])]
    if concern == "compile" or (backend == "triton" and not case.full_triton):
        return [pytest.mark.slow]
    return []


TRITON_CORE = {"shapes": ("T1B1N1", "multidim", "ragged"), "layout": ("strided", "transposed")}


def with_backends(cases, concern, *extra, backends=BACKENDS, variants=(None,)):
    """``pytest.param(case, *extra, [variant,] backend)`` for every row, variant (a shape or layout) and
    backend of a structural concern; on the interpreter a variant outside the core of ``TRITON_CORE`` and
    the row's ``triton_more`` is in the slow tier."""
    out = []
    for case in cases:
        for variant in variants:
            for backend in backends:
                m = marks(case, concern, backend)
                if (
                    variant is not None
                    and backend == "triton"
                    and not any(x.name == "slow" for x in m)
                    and variant not in TRITON_CORE[concern]
                    and variant not in case.triton_more
                ):
                    m = [*m, pytest.mark.slow]
                args = [*extra, *([variant] if variant is not None else []), backend]
                out.append(pytest.param(case, *args, id="-".join([case.name, *map(str, args)]), marks=m))
    return out


# ----------------------------------------------------------------------------- drawing a case


def _layer(spec, features, g, device, learn):
    torch.manual_seed(int(torch.randint(0, 2**31 - 1, (1,), generator=g)))
    return spec(features).to(device).requires_grad_(learn)


def draw(
    case,
    T,
    B,
    features,
    *,
    kind="per_neuron",
    layout="contiguous",
    learn=True,
    states=True,
    dtype=torch.float32,
    device="cpu",
    seed=0,
    scale=1.0,
    steps=None,
):
    """``(x, p, st, leaves)`` for ``case``: the input ``[T, B, *features]``, the parameters (``kind``:
    "scalar", "per_neuron" or "per_channel"; learnable if ``learn``), the initial states (all of the
    row's if ``states``; counters up to ``steps``, the row's refractory steps by default) and the
    ``(name, leaf)`` pairs whose gradients are checked.

    Layouts: "strided" (``x[::2, ..., ::2]`` in time and on the last feature axis, parameters ``p[::2]``
    on the first feature axis, states
    transposed), "transposed" (``x`` of a transposed ``[B, T, ...]`` tensor, per-neuron parameters
    and states expanded from size-1 axes), "expanded" (``x`` expanded over the batch)."""
    g = torch.Generator().manual_seed(seed)
    drive, offset = case.drive
    leaves = []

    def leaf(t, name, grad=True):
        t = t.to(device)
        if grad:
            t.requires_grad_()
            leaves.append((name, t))
        return t

    xs = (T, B, *features)
    if layout == "strided":  # every second step and every second neuron: the neurons are not unit-strided
        base = torch.randn(2 * T, B, *features[:-1], 2 * features[-1], generator=g) * drive + offset
        x = leaf(base.to(dtype), "x")[::2, ..., ::2]
    elif layout == "transposed":
        x = leaf((torch.randn(B, T, *features, generator=g) * drive + offset).to(dtype), "x").transpose(0, 1)
    elif layout == "expanded":
        x = leaf((torch.randn(T, 1, *features, generator=g) * drive + offset).to(dtype), "x").expand(xs)
    else:
        x = leaf((torch.randn(xs, generator=g) * scale * drive + offset).to(dtype), "x")

    p = {}
    for name, spec in case.params.items():
        if callable(spec):
            p[name] = _layer(spec, features, g, device, learn)
            if learn:
                leaves += [(f"{name}.{n}", t) for n, t in p[name].named_parameters()]
            continue
        lo, hi = spec
        if kind == "scalar":
            shape = ()
        elif kind == "per_channel":
            shape = (features[0],) + (1,) * (len(features) - 1)
        else:
            shape = features
        if layout == "strided" and kind == "per_neuron":
            base = lo + (hi - lo) * torch.rand((2 * features[0], *features[1:]), generator=g)
            p[name] = leaf(base, name, learn)[::2]
        elif layout == "transposed" and kind == "per_neuron":
            base = lo + (hi - lo) * torch.rand((1,) * len(features), generator=g)
            p[name] = leaf(base, name, learn).expand(features)
        else:
            p[name] = leaf(lo + (hi - lo) * torch.rand(shape, generator=g), name, learn)

    st = {}
    steps = case.refractory_steps if steps is None else steps
    for kw, skind in case.state.items() if states else ():
        shape = (B, *features)
        if skind == "count":
            st[kw] = torch.randint(0, steps + 1, shape, generator=g, dtype=torch.int32).to(device)
            continue
        raw = torch.randn(shape, generator=g)
        value = {"mem": raw, "cur": raw * 0.5, "spikes": (raw > 0).float(), "adapt": raw.abs()}[skind]
        if layout == "strided":  # held transposed: a non-contiguous [B, *features] view of its leaf
            st[kw] = leaf(value.movedim(0, -1).contiguous(), kw).movedim(-1, 0)
        elif layout == "transposed":  # one sample expanded over the batch
            st[kw] = leaf(value[:1], kw).expand(shape)
        else:
            st[kw] = leaf(value, kw)
    return x, p, st, leaves


def expected_count(spikes, count0, steps):
    """The final refractory counter from the reference's spikes: ``steps`` after a spike, one less each
    later step; ``count0`` counting down where the neuron never fired."""
    T = spikes.shape[0]
    t = torch.arange(T, device=spikes.device).view(-1, *[1] * (spikes.dim() - 1))
    last = torch.where(spikes.detach() > 0, t, -1).amax(0)
    c0 = torch.zeros(spikes.shape[1:], dtype=torch.int32, device=spikes.device) if count0 is None else count0
    return torch.where(last >= 0, (steps - (T - 1 - last)).clamp_min(0), (c0 - T).clamp_min(0)).to(torch.int32)


def run(case, x, p, st, opts, backend, returns):
    """The row's functional call: ``(spikes, {sequence: tensor})`` with ``returns`` "state", "mem" or "spikes"."""
    kw = dict(opts, backend=backend)
    if returns == "state":
        return case.call(x, p, st, return_state=True, **kw)
    if returns == "mem":
        s, m = case.call(x, p, st, return_mem=True, **kw)
        return s, {"mem": m}
    return case.call(x, p, st, **kw), {}


def check_against_reference(
    case, backend, opts, x, p, st, leaves, returns="state", rtol=GRAD_RTOL, fires=False, seed=1
):
    """Spikes, state sequences, final counter and every gradient of ``case`` against its reference."""
    s, seqs = run(case, x, p, st, opts, backend, returns)
    s_ref, seqs_ref = case.ref(x, p, st, **opts)
    assert s.shape == x.shape and s.dtype == x.dtype, (s.shape, s.dtype)
    assert_spikes_equal(s, s_ref, f"{case.name} spikes")
    count = seqs.pop("count", None)
    steps = tsnn.functional.refractory_steps(opts.get("refractory", 0.0), opts.get("dt", 1.0))
    if fires:
        assert 0 < s_ref.sum() < s_ref.numel(), "the input should make some but not all neurons fire"
        if steps:
            assert (s_ref.sum(0) > 1).any(), "the input should make neurons fire again after a refractory period"
    if returns == "state":
        assert set(seqs) == set(case.seqs), (sorted(seqs), case.seqs)
        assert (count is not None) == (steps > 0)
        if count is not None:
            assert count.dtype == torch.int32 and count.shape == x.shape[1:]
            assert torch.equal(count.cpu(), expected_count(s_ref, st.get("count0"), steps).cpu()), "final count"
    for k, v in seqs.items():
        assert v.dtype == torch.float32 and v.shape == x.shape, (k, v.dtype, v.shape)
        assert_close(v, seqs_ref[k], STATE_TOL, 0, f"{case.name} {k}")
    g = torch.Generator().manual_seed(seed)
    ups = {k: torch.randn(x.shape, generator=g).to(x.device) for k in ("spikes", *seqs)}
    loss = (s.float() * ups["spikes"]).sum() + sum((seqs[k] * ups[k]).sum() for k in seqs)
    loss_ref = (s_ref * ups["spikes"]).sum() + sum((seqs_ref[k] * ups[k]).sum() for k in seqs)
    tensors = [t for _, t in leaves]
    got = torch.autograd.grad(loss, tensors, allow_unused=True)
    want = torch.autograd.grad(loss_ref, tensors, allow_unused=True)
    for (name, t), a, b in zip(leaves, got, want):
        if name == "x":
            assert a is not None and a.dtype == x.dtype, f"input gradient in {x.dtype}"
        a = torch.zeros_like(t) if a is None else a
        b = torch.zeros_like(t) if b is None else b
        assert_close(a, b, 0, rtol, f"{case.name} grad {name}")
    return s, seqs


# ----------------------------------------------------------------------------- reference: every variant


# How a call is drawn and what it returns, per kind: the option variants of a row run "state" and
# "scalar"; its own options all five.
KINDS = {
    "state": ({"kind": "per_neuron"}, "state"),  # per-neuron learnable, every initial state
    "scalar": ({"kind": "scalar"}, "state"),  # scalar learnable, every initial state
    "fixed": ({"kind": "per_neuron", "learn": False}, "mem"),  # parameters that do not learn: (spikes, mem)
    "zero": ({"kind": "scalar", "states": False}, "mem"),  # from zero state: (spikes, mem)
    "spikes": ({"kind": "per_neuron"}, "spikes"),  # spikes only
}
VARIANT_KINDS = ("state", "scalar")


def kind_params(with_backend=True):
    out = []
    for case in CASES:
        for vid, opts in case.variants():
            for kind in VARIANT_KINDS if vid else KINDS:
                for backend in BACKENDS if with_backend else [None]:
                    tail = [backend] if with_backend else []
                    # On the interpreter, by default: the ways of calling beyond VARIANT_KINDS only where the
                    # row's triton_more names them; scalar parameters in option variants only for rows without
                    # an snnTorch counterpart (test_matches_snntorch runs scalar ones over every variant there).
                    slow = backend == "triton" and (
                        (kind not in VARIANT_KINDS and kind not in case.triton_more)
                        or (kind == "scalar" and vid and case.snntorch is not None)
                    )
                    out.append(
                        pytest.param(
                            case,
                            opts,
                            kind,
                            *tail,
                            marks=[pytest.mark.slow] if slow else [],
                            id="-".join([f"{case.name}[{vid or 'row'}]", kind, *tail]),
                        )
                    )
    return out


def draw_kind(case, opts, kind, T, B, features, **kw):
    steps = tsnn.functional.refractory_steps(opts.get("refractory", 0.0), opts.get("dt", 1.0))
    return draw(case, T, B, features, steps=steps, **KINDS[kind][0], **kw)


@pytest.mark.parametrize("case,opts,kind,backend", kind_params())
def test_matches_reference(case, opts, kind, backend, device):
    """Spikes, every returned state sequence, the final counter and the gradients of the input, every
    initial state and every learnable parameter against the reference, for each option variant of the
    row and each way of calling it (``KINDS``)."""
    T, B, features = shape_of(case)
    x, p, st, leaves = draw_kind(case, opts, kind, T, B, features, device=device, seed=sum(map(ord, case.name)))
    check_against_reference(case, backend, opts, x, p, st, leaves, KINDS[kind][1], fires=True)


# ----------------------------------------------------------------------------- shapes, layouts, dtypes


@pytest.mark.parametrize(
    "case,shape,backend", with_backends(CASES, "shapes", variants=["T1B1N1", "T1", "B1N1", "multidim", "ragged"])
)
def test_odd_shapes(case, backend, shape, device):
    """T = 1, B = 1, N = 1, several feature axes (parameters per channel, broadcast over the rest),
    N*B not a multiple of the kernel block."""
    dims = shape_of(case, shape)
    if dims is None:
        pytest.skip("a recurrent nn.Linear maps one feature axis")
    T, B, features = dims
    kind = "per_channel" if len(features) > 1 else "per_neuron"
    x, p, st, leaves = draw(case, T, B, features, kind=kind, device=device, seed=len(shape))
    check_against_reference(case, backend, case.opts, x, p, st, leaves)


@pytest.mark.parametrize(
    "case,layout,backend", with_backends(CASES, "layout", variants=["strided", "transposed", "expanded"])
)
def test_non_contiguous(case, backend, layout, device):
    """Strided (``x[::2, ..., ::2]``, ``thr[::2]``, transposed states), transposed input with expanded
    per-neuron parameters and states, input expanded over the batch: the values and gradients of
    contiguous ones."""
    T, B, features = shape_of(case)
    x, p, st, leaves = draw(case, T, B, features, layout=layout, device=device, seed=7)
    assert not x.is_contiguous()
    if layout != "expanded":
        views = [v for v in (*p.values(), *st.values()) if isinstance(v, torch.Tensor) and v.is_floating_point()]
        assert views and not any(v.is_contiguous() for v in views if v.numel() > 1)
    check_against_reference(case, backend, case.opts, x, p, st, leaves)


@pytest.mark.parametrize("dtype", [torch.float16, torch.bfloat16], ids=["fp16", "bf16"])
@pytest.mark.parametrize("case,backend", with_backends(CASES, "dtype"))
def test_low_precision_input(case, backend, dtype, device):
    """Spikes in the input dtype, state in fp32 (as the reference on the rounded input), the input
    gradient in the input dtype; gradients within that dtype's row of ``checks.TOL``."""
    if backend == "triton" and dtype == torch.bfloat16 and device == "cpu":
        pytest.skip("the Triton interpreter has no bf16 arithmetic")
    T, B, features = shape_of(case)
    x, p, st, leaves = draw(case, T, B, features, dtype=dtype, device=device, seed=3)
    check_against_reference(case, backend, case.opts, x, p, st, leaves, rtol=TOL[dtype][1])


# ----------------------------------------------------------------------------- zero sizes


@pytest.mark.parametrize(
    "case,dim,states,backend",
    with_backends(CASES, "zero_T", "T0", True)
    + with_backends(CASES, "zero_T", "T0", False)
    + with_backends(CASES, "zero_B", "B0", True),
)
def test_zero_size(case, dim, states, backend, device):
    """T = 0 or B = 0, with and without initial states: outputs of the right shapes and dtypes, still in
    the autograd graph; when no step ran the final counter is the initial one (zeros without one);
    zero (or no) gradients for every leaf."""
    _, _, features = shape_of(case)
    T, B = (0, 2) if dim == "T0" else (3, 0)
    x, p, st, leaves = draw(case, T, B, features, device=device, seed=5, states=states)
    s, seqs = run(case, x, p, st, case.opts, backend, "state")
    assert s.shape == x.shape and s.dtype == x.dtype
    count = seqs.pop("count", None)
    assert set(seqs) == set(case.seqs)
    for k, v in seqs.items():
        assert v.shape == x.shape and v.dtype == torch.float32, k
    assert (count is not None) == bool(case.refractory_steps)
    if count is not None:
        assert count.shape == x.shape[1:] and count.dtype == torch.int32
        if T == 0:
            assert torch.equal(count, st["count0"] if states else torch.zeros_like(count))
    loss = s.float().sum() + sum(v.sum() for v in seqs.values())
    assert loss.requires_grad, "the outputs should be part of the autograd graph"
    grads = torch.autograd.grad(loss, [t for _, t in leaves], allow_unused=True)
    for (name, t), gr in zip(leaves, grads):
        assert gr is None or (gr.shape == t.shape and not gr.any()), f"grad {name}"


# ----------------------------------------------------------------------------- backends


@pytest.mark.parametrize("case", CASES, ids=lambda c: c.name)
def test_triton_matches_torch_path(case, device):
    """The Triton kernels and the PyTorch path on a larger, strongly driven input: identical spikes
    (no FMA contraction in the kernels), equal state sequences and final counter. (Their gradients
    meet the reference's in every other test.)"""
    T, B, features = 6, 4, ((2, 3, 5) if case.images else (30,))
    x, p, st, _ = draw(case, T, B, features, device=device, seed=11, scale=1.7, learn=False)
    with torch.no_grad():
        (s1, seqs1), (s2, seqs2) = (run(case, x, p, st, case.opts, backend, "state") for backend in BACKENDS)
    assert 0 < s2.sum() < s2.numel()
    assert_spikes_equal(s1, s2, "triton vs torch spikes")
    assert set(seqs1) == set(seqs2)
    for k in seqs2:
        if k == "count":
            assert torch.equal(seqs1[k], seqs2[k])
        else:  # strong drives reach large magnitudes: a relative term too
            assert_close(seqs1[k], seqs2[k], STATE_TOL, 1e-6, k)


# ----------------------------------------------------------------------------- torch.compile, opcheck


MODULE_CASES = [c for c in CASES if c.module is not None]


def module_of(case, p, **kw):
    return case.module({k: v.detach() if isinstance(v, torch.Tensor) else v for k, v in p.items()}, **kw)


@pytest.mark.parametrize("case,backend", with_backends(MODULE_CASES, "compile"))
def test_compiles_like_eager(case, backend, device):
    """``torch.compile(fullgraph=True)`` of an input layer and the row's Module gives the eager spikes,
    membrane and gradients of every parameter (the recurrent layer's included); on CUDA in the GPU tier."""
    _, B, features = shape_of(case)
    x, p, _, _ = draw(case, 3, B, features, seed=13, learn=False)
    front = nn.Linear(features[-1], features[-1])
    with torch.no_grad():
        front.weight.copy_(torch.eye(features[-1]))
        front.bias.zero_()
    neuron = module_of(case, p, return_mem=True, backend=backend, **case.opts)
    net = nn.Sequential(front, neuron).to(device)
    assert len(list(neuron.parameters())) >= len(case.params)
    assert_compiles_like_eager(net, x.detach().to(device))


def _chain(backend):
    return [c for c in MODULE_CASES if c.full_triton and not c.images and f"compile-{backend}" not in c.bugs]


class _Fan(nn.Module):
    """Each neuron after its own nn.Linear, all on the same input: ``(spikes, mem)`` stacked over neurons."""

    def __init__(self, fronts, neurons):
        super().__init__()
        self.fronts, self.neurons = nn.ModuleList(fronts), nn.ModuleList(neurons)

    def forward(self, x):
        outs = [neuron(front(x)) for front, neuron in zip(self.fronts, self.neurons)]
        return torch.stack([o[0] for o in outs]), torch.stack([o[1] for o in outs])


@pytest.mark.parametrize("backend", BACKENDS)
def test_network_compiles_like_eager(backend):
    """One network of every ``full_triton`` row's Module, each after an nn.Linear (initialised to the row's
    input drive), under ``torch.compile(fullgraph=True)``: the eager spikes, membranes and gradients of
    every parameter. (Each row alone: test_compiles_like_eager, slow tier.)"""
    rows = _chain(backend)
    assert len(rows) >= 8, [c.name for c in rows]
    N, fronts, neurons = 7, [], []
    for i, case in enumerate(rows):
        _, p, _, _ = draw(case, 1, 1, (N,), seed=31 + i, learn=False)
        front = nn.Linear(N, N)
        with torch.no_grad():
            front.weight.copy_(case.drive[0] * torch.eye(N))
            front.bias.fill_(case.drive[1])
        fronts.append(front)
        neurons.append(module_of(case, p, backend=backend, return_mem=True, **case.opts))
    net = _Fan(fronts, neurons)
    x = torch.randn(3, 2, N, generator=torch.Generator().manual_seed(32))
    s, _ = net(x)
    for case, spikes in zip(rows, s):
        assert 0 < spikes.sum() < spikes.numel(), f"{case.name} should fire, but not everywhere"
    assert_compiles_like_eager(net, x)


@contextlib.contextmanager
def recorded_ops():
    """The custom ops the block calls, with their flat arguments."""
    calls, original = [], _contract.Op.__call__

    def spy(self, **parts):
        calls.append((self.op, self.signature.flatten(**parts)))
        return original(self, **parts)

    _contract.Op.__call__ = spy
    try:
        yield calls
    finally:
        _contract.Op.__call__ = original


@pytest.mark.parametrize("case,opts,kind", kind_params(with_backend=False))
def test_op_passes_opcheck(case, opts, kind):
    """torch.library's checks of schema, fake kernel and autograd registration for the op the row calls,
    for each option variant and each way of calling it (``KINDS``: which states, learnable parameters
    and outputs there are select the op's flags)."""
    T, B, features = 4, 2, ((2, 1, 3) if case.images else (3,))
    x, p, st, _ = draw_kind(case, opts, kind, T, B, features, seed=17)
    with recorded_ops() as calls:
        run(case, x, p, st, opts, "torch", KINDS[kind][1])
    assert len(calls) == 1, [str(op) for op, _ in calls]
    op, args = calls[0]
    args = tuple(a.detach().requires_grad_(a.requires_grad) if isinstance(a, torch.Tensor) else a for a in args)
    torch.library.opcheck(op, args, test_utils=("test_schema", "test_faketensor", "test_autograd_registration"))


# ----------------------------------------------------------------------------- carried state


@pytest.mark.parametrize("case", MODULE_CASES, ids=lambda c: c.name)
def test_single_step_and_stateful_chunks_match_one_call(case):
    """The Module stepped one step per call, and ``stateful=True`` fed two chunks (state carried, not
    detached), reproduce one multi-step call: spikes, every state sequence, the final counter, and the
    gradients of the input and of every parameter; after ``tsnn.reset`` it starts from zero again."""
    T, B, features = shape_of(case)
    x, p, _, _ = draw(case, T, B, features, seed=19, learn=False)
    x = x.detach().requires_grad_()
    kw = dict(return_state=True, backend="torch", **case.opts)
    whole, single, chunked = (
        module_of(case, p, **kw),
        module_of(case, p, step_mode="single", **kw),
        module_of(case, p, stateful=True, **kw),
    )
    s, st = whole(x)
    assert 0 < s.sum() < s.numel()
    steps = [single(x[t].detach()) for t in range(T)]
    assert_spikes_equal(torch.stack([o[0] for o in steps]), s, "single-step spikes")
    for k in case.seqs:
        assert_close(torch.stack([o[1][k] for o in steps]), st[k], 1e-6, 0, f"single-step {k}")
    if case.refractory_steps:
        assert torch.equal(steps[-1][1]["count"], st["count"])
    split = T // 2
    s1, st1 = chunked(x[:split])
    s2, st2 = chunked(x[split:])
    assert_spikes_equal(torch.cat([s1, s2]), s, "stateful spikes")
    for k in case.seqs:
        assert_close(torch.cat([st1[k], st2[k]]), st[k], 1e-6, 0, f"stateful {k}")
    if case.refractory_steps:
        assert torch.equal(st2["count"], st["count"])
    g = torch.Generator().manual_seed(20)
    ups = [torch.randn(x.shape, generator=g) for _ in range(1 + len(case.seqs))]

    def loss(spikes, state):
        return (spikes * ups[0]).sum() + sum((state[k] * u).sum() for k, u in zip(case.seqs, ups[1:]))

    params_w, params_c = list(whole.parameters()), list(chunked.parameters())
    assert len(params_w) == len(params_c) > 0
    grads_w = torch.autograd.grad(loss(s, st), [x, *params_w])
    grads_c = torch.autograd.grad(
        loss(torch.cat([s1, s2]), {k: torch.cat([st1[k], st2[k]]) for k in case.seqs}), [x, *params_c]
    )
    for i, (a, b) in enumerate(zip(grads_c, grads_w)):
        assert_close(a, b, 1e-6, 1e-5, f"grad {i} through the carried state")
    tsnn.reset(chunked)
    assert chunked.mem is None
    s_again, _ = chunked(x.detach())
    assert_spikes_equal(s_again, s, "after reset")


@pytest.mark.parametrize(
    "case,opts,dtype,layout",
    [
        pytest.param(c, opts, torch.float32, "contiguous", id=f"{c.name}[{vid or 'row'}]")
        for c in MODULE_CASES
        for vid, opts in c.variants()
    ]
    + [
        pytest.param(c, c.opts, dtype, "strided", id=f"{c.name}-{str(dtype)[6:]}-strided")
        for c in MODULE_CASES
        for dtype in (torch.float16, torch.bfloat16)
        if not c.images
    ],
)
def test_single_steps_backpropagate_like_one_call(case, opts, dtype, layout):
    """One step per call with the state kept in the graph, as snnTorch users train (BPTT through the
    steps): spikes, every state sequence and the gradients of the input and of every parameter equal
    one multi-step call's fused reverse loop. On the PyTorch backend a step runs as autograd-tracked
    ops (``torchimpl.lif_step``/``syn_step``) where its options allow, else the fused op for one step:
    this checks both against the fused loop, on half-precision, non-contiguous inputs too."""
    T, B, features = shape_of(case)
    x, p, _, _ = draw(case, T, B, features, seed=23, learn=False, dtype=dtype, layout=layout)
    x = x.detach().requires_grad_()
    kw = dict(return_state=True, backend="torch", **opts)
    whole, single = module_of(case, p, **kw), module_of(case, p, step_mode="single", **kw)
    s, st = whole(x)
    assert 0 < s.sum() < s.numel()
    steps = [single(x_t) for x_t in x.unbind(0)]
    s_single = torch.stack([o[0] for o in steps])
    st_single = {k: torch.stack([o[1][k] for o in steps]) for k in case.seqs}
    assert_spikes_equal(s_single, s, "single-step spikes")
    for k in case.seqs:
        assert_close(st_single[k], st[k], 1e-6, 0, f"single-step {k}")
    g = torch.Generator().manual_seed(24)
    ups = [torch.randn(x.shape, generator=g) for _ in range(1 + len(case.seqs))]

    def loss(spikes, state):
        return (spikes.float() * ups[0]).sum() + sum((state[k] * u).sum() for k, u in zip(case.seqs, ups[1:]))

    grads_w = torch.autograd.grad(loss(s, st), [x, *whole.parameters()])
    grads_s = torch.autograd.grad(loss(s_single, st_single), [x, *single.parameters()])
    for i, (a, b) in enumerate(zip(grads_s, grads_w)):
        tol = 1e-5 if dtype == torch.float32 else 1e-2  # a half-precision dx rounds once more or less
        assert_close(a.float(), b.float(), tol, tol, f"grad {i} through single steps")


# ----------------------------------------------------------------------------- snnTorch parity


def _snntorch_params():
    out = []
    for case in CASES:
        if case.snntorch is None:
            continue
        for vid, opts in case.variants():
            if any(k in opts for k in POTENTIALS):  # tritonsnn's own options: no snnTorch counterpart
                continue
            for kind in case.snntorch_kinds:
                out += [
                    pytest.param(case, opts, kind, backend, id=f"{case.name}[{vid or 'row'}]-{kind}-{backend}")
                    for backend in BACKENDS
                ]
    return out


@pytest.mark.parametrize("case,opts,kind,backend", _snntorch_params())
def test_matches_snntorch(case, opts, kind, backend):
    """The Module with the row's options against its snnTorch counterpart stepped from zero state:
    identical spikes, every state sequence snnTorch returns to 1e-5, some but not all neurons firing,
    and the gradients of the input and of every learnable parameter under random upstream gradients.
    Per-neuron parameters through ``return_state=True``, scalar ones through ``return_mem=True``."""
    pytest.importorskip("snntorch")
    features = (2, 2, 3) if case.images else (11,)
    x, p, _, _ = draw(case, 5, 3, features, kind=kind, learn=False, seed=23)
    x = x.detach()
    returns = {"return_state": True} if kind == "per_neuron" else {"return_mem": True}
    ours = module_of(case, p, backend=backend, **returns, **opts)
    theirs = case.snntorch({k: v.detach() if isinstance(v, torch.Tensor) else v for k, v in p.items()}, **opts)
    names = [n for n, _ in ours.named_parameters()]
    assert names and {n for n, _ in theirs.named_parameters()} >= set(names), names
    theirs_params = dict(theirs.named_parameters())
    x_ref = x.clone().requires_grad_()
    outs = [theirs(x_ref[t]) for t in range(x.shape[0])]
    s_ref = torch.stack([o[0] for o in outs])
    seqs_ref = {k: torch.stack([o[1 + i] for o in outs]) for i, k in enumerate(case.snntorch_seqs)}
    x = x.requires_grad_()
    s, st = ours(x)
    st = st if kind == "per_neuron" else {"mem": st}
    assert set(st) >= {"mem"}
    assert_spikes_equal(s, s_ref, "spikes vs snnTorch")
    assert 0 < s_ref.sum() < s_ref.numel()
    for k, v in seqs_ref.items():
        if k in st:
            assert_close(st[k], v, STATE_TOL, 0, f"{k} vs snnTorch")
    g = torch.Generator().manual_seed(24)
    gs, gm = torch.randn(x.shape, generator=g), torch.randn(x.shape, generator=g)
    got = torch.autograd.grad((s * gs).sum() + (st["mem"] * gm).sum(), [x, *ours.parameters()])
    want = torch.autograd.grad(
        (s_ref * gs).sum() + (seqs_ref["mem"] * gm).sum(),
        [x_ref, *(theirs_params[n] for n in names)],
        allow_unused=True,
    )
    for name, a, b in zip(["x", *names], got, want):
        assert_close(a, torch.zeros_like(a) if b is None else b.reshape(a.shape), 0, GRAD_RTOL, f"grad {name}")


def test_table_covers_every_neuron_class():
    """Every neuron class of the package has a row (a new class needs one)."""
    classes = {
        c.__name__
        for c in vars(tsnn).values()
        if isinstance(c, type) and issubclass(c, tsnn.SpikingNeuron) and c is not tsnn.SpikingNeuron
    }
    covered = set()
    for case in MODULE_CASES:
        T, B, features = shape_of(case)
        _, p, _, _ = draw(case, T, B, features, learn=False)
        covered.add(type(module_of(case, p)).__name__)
    assert classes <= covered, sorted(classes - covered)
