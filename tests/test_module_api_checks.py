"""Native Module API: ambiguous shapes raise, spike_grad= alias, MultiStep's state-dict keys."""

import pytest
import torch
from torch import nn

import tritonsnn as tsnn

NEURONS = {
    "Leaky": lambda **k: tsnn.Leaky(0.9, **k),
    "IF": lambda **k: tsnn.IF(**k),
    "Lapicque": lambda **k: tsnn.Lapicque(beta=0.9, **k),
    "ALIF": lambda **k: tsnn.ALIF(0.9, **k),
    "Synaptic": lambda **k: tsnn.Synaptic(0.5, 0.9, **k),
    "Alpha": lambda **k: tsnn.Alpha(0.9, 0.8, **k),
    "RLeaky": lambda **k: tsnn.RLeaky(0.9, all_to_all=False, **k),
    "RSynaptic": lambda **k: tsnn.RSynaptic(0.5, 0.9, linear_features=4, **k),
}


@pytest.mark.parametrize("name", list(NEURONS))
def test_multi_step_neuron_rejects_2d_input(name):
    neuron = NEURONS[name]()
    with pytest.raises(
        ValueError,
        match=r"multi-step .* takes a whole sequence \[T, B, \*features\]; got a 2-D "
        r"tensor of shape \(8, 4\).*step_mode='single'.*tritonsnn.snntorch",
    ):
        neuron(torch.randn(8, 4))
    assert neuron(torch.randn(3, 8, 4)).shape == (3, 8, 4)
    assert NEURONS[name](step_mode="single")(torch.randn(8, 4)).shape == (8, 4)


def test_multi_step_sequential_with_linear_stays_3d():
    net = nn.Sequential(nn.Linear(5, 4), tsnn.Leaky(0.9), nn.Linear(4, 2), tsnn.Leaky(0.9))
    assert net(torch.randn(6, 3, 5)).shape == (6, 3, 2)
    with pytest.raises(ValueError, match="2-D tensor"):
        net(torch.randn(3, 5))  # forgot the time axis


@pytest.mark.parametrize("kwargs", [{"step_mode": "single"}, {"stateful": True}])
def test_carried_state_of_other_features_raises(kwargs):
    lif = tsnn.Leaky(0.9, **kwargs)
    x = torch.randn(2, 5) if kwargs.get("step_mode") else torch.randn(3, 2, 5)
    lif(x)
    other = torch.randn(2, 6) if kwargs.get("step_mode") else torch.randn(3, 2, 6)
    with pytest.raises(
        ValueError,
        match=r"carries state of features \(5,\) .* got input features \(6,\).*"
        r"tsnn.reset",
    ):
        lif(other)
    smaller_batch = x[:1]
    assert lif(smaller_batch).shape == smaller_batch.shape  # a new batch size restarts from zero
    tsnn.reset(lif)
    assert lif(other).shape == other.shape


@pytest.mark.parametrize("name", list(NEURONS))
def test_spike_grad_is_an_alias_of_surrogate(name):
    torch.manual_seed(0)
    a = NEURONS[name](spike_grad=tsnn.surrogate.fast_sigmoid(5.0), return_mem=True)
    torch.manual_seed(0)
    b = NEURONS[name](surrogate=tsnn.surrogate.fast_sigmoid(5.0), return_mem=True)
    assert a.surrogate == b.surrogate == tsnn.surrogate.fast_sigmoid(5.0)
    x = (torch.randn(4, 2, 4) + 1).requires_grad_()
    ga = torch.autograd.grad(sum(o.sum() for o in a(x)), x)[0]
    gb = torch.autograd.grad(sum(o.sum() for o in b(x)), x)[0]
    assert torch.equal(ga, gb)
    with pytest.raises(ValueError, match="give the surrogate once"):
        NEURONS[name](spike_grad=tsnn.surrogate.atan(), surrogate=tsnn.surrogate.atan())


def test_spike_grad_rejects_a_plain_function():
    with pytest.raises(TypeError, match="surrogate must be a tritonsnn.surrogate.Surrogate"):
        tsnn.Leaky(0.9, spike_grad=lambda x: x)


def _pair():
    torch.manual_seed(0)
    multi = nn.Sequential(
        tsnn.MultiStep(nn.Conv2d(1, 2, 3)),
        tsnn.MultiStep(nn.BatchNorm2d(2)),
        tsnn.Leaky(0.9),
        tsnn.MultiStep(nn.Flatten()),
        tsnn.MultiStep(nn.Linear(8, 3)),
    )
    torch.manual_seed(1)
    single = nn.Sequential(
        nn.Conv2d(1, 2, 3), nn.BatchNorm2d(2), tsnn.Leaky(0.9, step_mode="single"), nn.Flatten(), nn.Linear(8, 3)
    )
    return multi, single


def test_multistep_keeps_the_wrapped_layers_state_dict_keys():
    multi, single = _pair()
    assert list(multi.state_dict()) == list(single.state_dict())
    assert "0.weight" in multi.state_dict() and isinstance(multi[0].layer, nn.Conv2d)
    assert list(tsnn.MultiStep(nn.Linear(2, 3)).state_dict()) == ["weight", "bias"]
    assert list(tsnn.MultiStep(tsnn.MultiStep(nn.Linear(2, 3))).state_dict()) == ["weight", "bias"]


def test_multistep_state_dict_loads_both_ways_strict():
    multi, single = _pair()
    x = torch.randn(4, 2, 1, 4, 4)
    multi.train()
    multi(x)  # moves the BatchNorm running statistics
    single.load_state_dict(multi.state_dict(), strict=True)
    for key, value in multi.state_dict().items():
        assert torch.equal(single.state_dict()[key], value), key
    multi.eval()
    single.eval()
    out = multi(x)
    tsnn.reset(single)
    assert torch.equal(torch.stack([single(x[t]) for t in range(4)]), out)
    with torch.no_grad():
        single[0].weight.mul_(2)
    multi.load_state_dict(single.state_dict(), strict=True)
    assert torch.equal(multi[0].layer.weight, single[0].weight)
    inner = tsnn.MultiStep(nn.Linear(2, 3))
    inner.load_state_dict(nn.Linear(2, 3).state_dict(), strict=True)
    with pytest.raises(RuntimeError, match="Missing key"):
        inner.load_state_dict({"weight": torch.zeros(3, 2)}, strict=True)


def _facade(name):
    from tritonsnn import snntorch as snn

    kw = {"Alpha": dict(alpha=0.9, beta=0.8), "Synaptic": dict(alpha=0.5, beta=0.9)}.get(name, dict(beta=0.9))
    if name == "RLeaky":
        kw.update(all_to_all=False, V=0.5)
    if name == "RSynaptic":
        kw.update(alpha=0.5, linear_features=4)
    return getattr(snn, name)(init_hidden=True, **kw)


def _first(out):
    return out[0] if isinstance(out, tuple) else out


@pytest.mark.parametrize("backend", ["torch", "triton"])
@pytest.mark.parametrize(
    "make",
    [
        *[pytest.param(lambda b, n=n: NEURONS[n](step_mode="single", backend=b), id=n) for n in NEURONS],
        pytest.param(lambda b: tsnn.Leaky(0.9, stateful=True, backend=b), id="Leaky-stateful"),
        *[
            pytest.param(lambda b, n=n: _facade(n), id=f"snntorch.{n}")
            for n in ("Leaky", "Lapicque", "Synaptic", "Alpha", "RLeaky", "RSynaptic")
        ],
    ],
)
def test_state_from_inference_mode_then_training_names_the_fix(make, backend):
    neuron = make(backend)
    if getattr(neuron, "backend", backend) != backend and backend == "triton":
        pytest.skip("the snnTorch facade picks its backend itself")
    net = nn.Sequential(nn.Linear(3, 4), neuron)
    shape = (5, 2, 3) if getattr(neuron, "stateful", False) else (2, 3)
    with torch.inference_mode():
        net(torch.rand(shape))
    with pytest.raises(RuntimeError, match=r"inference_mode\(\).*tsnn.reset\(net\)"):
        _first(net(torch.rand(shape))).sum().backward()
    tsnn.reset(net)
    _first(net(torch.rand(shape))).sum().backward()  # trains after the reset
    with torch.inference_mode():
        net(torch.rand(shape))
    with torch.no_grad():
        net(torch.rand(shape))  # evaluation without autograd may carry the state on
