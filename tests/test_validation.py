"""The one validation layer (functional/_validate.py, surrogate.py, Lapicque's coefficients): every
bad value is refused with an error that names the argument, for every neuron and both backends."""

import math

import pytest
import torch

import tritonsnn as tsnn
from tritonsnn import functional as F

BACKENDS = ["torch", "triton"]
X = torch.randn(3, 2, 4)

# neuron -> (call(x, **overrides), names of its parameters)
NEURONS = {
    "leaky": (
        lambda x, backend, **kw: F.leaky(x, kw.get("beta", 0.9), kw.get("threshold", 1.0), backend=backend),
        ("beta", "threshold"),
    ),
    "rleaky": (
        lambda x, backend, **kw: F.rleaky(
            x, kw.get("beta", 0.9), kw.get("V", 0.5), kw.get("threshold", 1.0), backend=backend
        ),
        ("beta", "V", "threshold"),
    ),
    "alif": (
        lambda x, backend, **kw: F.alif(
            x, kw.get("beta", 0.9), kw.get("threshold", 1.0), kw.get("rho", 0.9), kw.get("b", 0.2), backend=backend
        ),
        ("beta", "threshold", "rho", "b"),
    ),
    "synaptic": (
        lambda x, backend, **kw: F.synaptic(
            x, kw.get("alpha", 0.8), kw.get("beta", 0.9), kw.get("threshold", 1.0), backend=backend
        ),
        ("alpha", "beta", "threshold"),
    ),
    "rsynaptic": (
        lambda x, backend, **kw: F.rsynaptic(
            x, kw.get("alpha", 0.8), kw.get("beta", 0.9), kw.get("V", 0.5), kw.get("threshold", 1.0), backend=backend
        ),
        ("alpha", "beta", "V", "threshold"),
    ),
    "alpha": (
        lambda x, backend, **kw: F.alpha(
            x, kw.get("alpha", 0.9), kw.get("beta", 0.8), kw.get("threshold", 1.0), backend=backend
        ),
        ("alpha", "beta", "threshold"),
    ),
}
CASES = [(n, p) for n, (_, params) in NEURONS.items() for p in params]


@pytest.mark.parametrize("backend", BACKENDS)
@pytest.mark.parametrize("neuron,name", CASES)
@pytest.mark.parametrize("bad", [math.nan, math.inf, -math.inf])
def test_non_finite_parameters_are_refused(neuron, name, bad, backend):
    call = NEURONS[neuron][0]
    with pytest.raises(ValueError, match=name):
        call(X, backend, **{name: bad})
    per_neuron = torch.tensor([0.5, bad, 0.5, 0.5])  # one bad neuron of four
    with pytest.raises(ValueError, match=name):
        call(X, backend, **{name: per_neuron})


@pytest.mark.parametrize("backend", BACKENDS)
@pytest.mark.parametrize("neuron", list(NEURONS))
@pytest.mark.parametrize("dtype", [torch.float64, torch.float8_e4m3fn])
def test_unsupported_float_dtypes_are_refused(neuron, dtype, backend):
    with pytest.raises(TypeError, match=r"float32, float16 or bfloat16.*\.float\(\)"):
        NEURONS[neuron][0](X.to(dtype), backend)


@pytest.mark.parametrize(
    "cls,kw",
    [
        ("Leaky", dict(beta=0.9)),
        ("Synaptic", dict(alpha=0.8, beta=0.9)),
        ("Alpha", dict(alpha=0.9, beta=0.8)),
        ("ALIF", dict(beta=0.9)),
        ("RLeaky", dict(beta=0.9, all_to_all=False)),
        ("IF", {}),
    ],
)
def test_modules_refuse_float64_in_both_step_modes(cls, kw):
    multi = getattr(tsnn, cls)(**kw)
    single = getattr(tsnn, cls)(**kw, step_mode="single")
    with pytest.raises(TypeError, match="float64"):
        multi(X.double())
    with pytest.raises(TypeError, match="float64"):
        single(X[0].double())


@pytest.mark.parametrize("refractory,dt", [(math.nan, 1.0), (math.inf, 1.0), (1.0, math.nan), (1.0, math.inf)])
def test_non_finite_refractory_period_or_step_is_refused(refractory, dt):
    with pytest.raises(ValueError, match="refractory" if not math.isfinite(refractory) else "dt"):
        tsnn.Leaky(beta=0.9, refractory=refractory, dt=dt)
    with pytest.raises(ValueError, match="refractory" if not math.isfinite(refractory) else "dt"):
        F.leaky(X, 0.9, refractory=refractory, dt=dt)


@pytest.mark.parametrize(
    "make",
    [
        lambda: tsnn.surrogate.atan(0.0),
        lambda: tsnn.surrogate.atan(-1.0),
        lambda: tsnn.surrogate.sigmoid(0.0),
        lambda: tsnn.surrogate.fast_sigmoid(math.nan),
        lambda: tsnn.surrogate.stochastic_spike_operator(variance=-1.0),
        lambda: tsnn.surrogate.Surrogate(42),
    ],
)
def test_bad_surrogates_are_refused_at_construction(make):
    with pytest.raises(ValueError, match="surrogate"):
        make()


@pytest.mark.parametrize(
    "kw,match",
    [
        (dict(R=-1.0, C=1.0), "R and C"),
        (dict(beta=-0.5), "beta"),
        (dict(beta=1.5), "beta"),
        (dict(R=0.5, C=1.0), "R\\*C"),
        (dict(R=0, C=1.0), "R=0"),
    ],
)
def test_lapicque_coefficients_are_checked(kw, match):
    with pytest.raises(ValueError, match=match):
        tsnn.Lapicque(**kw)
    with pytest.raises(ValueError, match=match):
        F.lapicque(X, **kw)


def test_parameters_given_as_lists():
    lif = tsnn.Leaky(beta=[0.9, 0.8, 0.7, 0.6], threshold=(1.0, 1.1, 1.2, 1.3))
    assert lif.beta.shape == (4,) and lif.threshold.dtype == torch.float32
    assert lif(X).shape == X.shape
    with pytest.raises(TypeError, match="beta"):
        tsnn.Leaky(beta="0.9")


MODULES = [
    ("Leaky", dict(beta=0.9)),
    ("IF", {}),
    ("Lapicque", dict(beta=0.9)),
    ("Synaptic", dict(alpha=0.8, beta=0.9)),
    ("Alpha", dict(alpha=0.9, beta=0.8)),
    ("ALIF", dict(beta=0.9)),
    ("RLeaky", dict(beta=0.9, all_to_all=False)),
    ("RLeaky", dict(beta=0.9, linear_features=4)),
    ("RSynaptic", dict(alpha=0.8, beta=0.9, all_to_all=False)),
]


@pytest.mark.parametrize("backend", BACKENDS)
@pytest.mark.parametrize("neuron", list(NEURONS))
@pytest.mark.parametrize("shape", [(0, 2, 4), (3, 0, 4), (3, 2, 0)])
def test_zero_size_inputs_give_empty_outputs_and_gradients(neuron, shape, backend):
    if neuron in ("rleaky", "rsynaptic", "alif") and shape[2] == 0:
        shape = shape[:2] + (4,)  # per-neuron defaults need the feature size; covered by the others
    x = torch.zeros(shape, requires_grad=True)
    out = NEURONS[neuron][0](x, backend)
    assert out.shape == x.shape
    out.sum().backward()
    assert x.grad is not None and x.grad.shape == x.shape


@pytest.mark.parametrize("cls,kw", MODULES)
def test_a_stateful_neuron_carries_its_state_over_an_empty_chunk(cls, kw):
    neuron = getattr(tsnn, cls)(**kw, stateful=True, return_mem=True)
    neuron(torch.randn(3, 2, 4))
    before = neuron.mem.clone()
    spikes, mem = neuron(torch.zeros(0, 2, 4))
    assert spikes.shape == mem.shape == (0, 2, 4)
    assert torch.equal(neuron.mem, before)


@pytest.mark.parametrize("cls,kw", MODULES)
def test_deepcopy_after_a_forward_pass_copies_the_state_detached(cls, kw):
    import copy

    neuron = getattr(tsnn, cls)(**kw, step_mode="single")
    x = torch.randn(2, 4, requires_grad=True)
    neuron(x)
    twin = copy.deepcopy(neuron)
    assert twin.mem is not None and twin.mem.grad_fn is None and torch.equal(twin.mem, neuron.mem.detach())
    assert neuron.mem.grad_fn is not None  # the original keeps its graph
    assert torch.equal(twin(x.detach()), neuron(x.detach()))


@pytest.mark.parametrize(
    "cls,args",
    [("Leaky", (0.9,)), ("Synaptic", (0.8, 0.9)), ("Alpha", (0.9, 0.8)), ("RLeaky", (0.9,)), ("RSynaptic", (0.8, 0.9))],
)
def test_deepcopy_of_snntorch_style_neurons(cls, args):
    import copy

    import tritonsnn.snntorch as snn

    extra = dict(linear_features=4) if cls.startswith("R") else {}
    neuron = getattr(snn, cls)(*args, init_hidden=True, **extra)
    neuron(torch.randn(2, 4, requires_grad=True))
    twin = copy.deepcopy(neuron)
    assert all(getattr(twin, n).grad_fn is None for n in neuron._STATE)


@pytest.mark.parametrize("step_mode", ["multi", "single"])
def test_a_parameter_that_turns_bad_after_passing_is_refused(step_mode):
    """The value check of an unchanged parameter is skipped (a one-step-per-call loop would pay it
    every step); any versioned change (an optimiser step, an in-place write under no_grad) brings
    it back."""
    lif = tsnn.Leaky(beta=0.9, learn_threshold=True, step_mode=step_mode)
    x = X if step_mode == "multi" else X[0]
    lif(x)
    tsnn.reset(lif)
    with torch.no_grad():
        lif.threshold.fill_(-1.0)
    with pytest.raises(ValueError, match="threshold must be > 0"):
        lif(x)
    with torch.no_grad():
        lif.threshold.fill_(1.0)
    lif(x)
    tsnn.reset(lif)
    opt = torch.optim.SGD(lif.parameters(), lr=1.0)
    lif.threshold.grad = torch.full_like(lif.threshold, math.nan)
    opt.step()
    with pytest.raises(ValueError, match="threshold must be finite"):
        lif(x)


def test_a_threshold_above_v_reset_is_checked_once_per_version(monkeypatch):
    """With ``v_reset`` the check reads the Module's threshold itself (``threshold - v_reset > 0``),
    so it passes once per version as above; a threshold that drifts below ``v_reset`` is refused,
    and a pass above a lower floor does not vouch for a higher one."""
    from tritonsnn.functional import _validate

    lif = tsnn.Leaky(beta=0.9, threshold=0.5, reset_mechanism="zero", v_reset=-0.5, learn_threshold=True)
    lif(X)
    checked = []
    real = _validate._check_number
    monkeypatch.setattr(_validate, "_check_number", lambda v, name, *a: checked.append(name) or real(v, name, *a))
    lif(X)
    assert "threshold - v_reset" not in checked
    with torch.no_grad():
        lif.threshold.fill_(-0.6)
    with pytest.raises(ValueError, match="threshold - v_reset must be > 0"):
        lif(X)
    with torch.no_grad():
        lif.threshold.fill_(0.2)
    lif(X)  # passes above -0.5 ...
    with pytest.raises(ValueError, match="threshold - v_reset must be > 0"):
        tsnn.functional.leaky(X, 0.9, lif.threshold, reset_mechanism="zero", v_reset=0.3)  # ... not above 0.3


def test_number_parameters_become_one_tensor_per_value_and_device():
    """A Python number as a parameter is made into a device tensor once and reused (a fresh one per
    call is a host-to-device copy, which synchronises a GPU and breaks CUDA graph capture); the
    shared tensor is never written into."""
    from tritonsnn.functional._validate import param

    x = torch.randn(3, 2, 4)
    a, b = param(0.9, "beta", (4,), x), param(0.9, "beta", (4,), x)
    assert a.data_ptr() == b.data_ptr() and a.shape == (1,) and float(a) == pytest.approx(0.9)
    assert param(0.8, "beta", (4,), x).data_ptr() != a.data_ptr()
    x.requires_grad_()
    for _ in range(2):
        tsnn.functional.leaky(x, 0.9, return_mem=True)[1].sum().backward()
    assert float(param(0.9, "beta", (4,), x)) == pytest.approx(0.9)
