"""tritonsnn.snntorch.functional against snntorch.functional itself: values, shapes, dtypes, gradients, errors."""

import importlib

import numpy as np
import pytest
import torch
from torch import nn

import tritonsnn.snntorch.functional as FF
from tests.checks import assert_close

snntorch = pytest.importorskip("snntorch")
SF = pytest.importorskip("snntorch.functional")
quant_ref = pytest.importorskip("snntorch.functional.quant")
probe_ref = pytest.importorskip("snntorch.functional.probe")

REDUCTIONS = ["mean", "sum", "none"]
SHAPES = [(6, 5, 4), (1, 3, 4), (5, 4, 1), (3, 1, 6)]  # ordinary, T = 1, C = 1, B = 1


def _inputs(shape, seed=0, binary=False, dtype=torch.float32):
    g = torch.Generator().manual_seed(seed)
    if binary:
        out = torch.bernoulli(torch.full(shape, 0.3), generator=g)
    else:
        out = torch.randn(shape, generator=g) * 2  # stands in for surrogate spikes or membrane
    targets = torch.randint(0, shape[-1], (shape[1],), generator=g)
    return out.to(dtype), targets


def _value_and_grad(loss_fn, x, targets):
    x = x.clone().requires_grad_(True)
    value = loss_fn(x, targets.clone())  # clone: snnTorch's temporal losses edit targets in place
    (grad,) = torch.autograd.grad(value.sum(), x)
    return value.detach(), grad


def _compare(ours, ref, x, targets, rtol=1e-5):
    val, grad = _value_and_grad(ours, x, targets)
    ref_val, ref_grad = _value_and_grad(ref, x, targets)
    assert val.shape == ref_val.shape, (val.shape, ref_val.shape)
    assert val.dtype == ref_val.dtype, (val.dtype, ref_val.dtype)
    assert_close(val, ref_val, 1e-6, rtol, "loss")
    assert_close(grad, ref_grad, 1e-6, rtol, "grad")


def test_public_names_cover_snntorch():
    leaked = {"torch", "nn", "np", "Value", "Any", "Callable"}  # snnTorch's own imports
    public = {n for n in dir(SF) if not n.startswith("_")} - leaked
    assert public <= set(dir(FF)), public - set(dir(FF))
    assert FF.quant.state_quant and FF.acc.accuracy_rate and FF.loss.ce_rate_loss and FF.reg.l1_rate_sparsity
    from tritonsnn.snntorch.functional import quant  # noqa: F401 - the snnTorch spelling works too


# ------------------------------------------------------------------ rate and membrane losses

RATE_CASES = [
    ("ce_rate_loss", {}),
    ("ce_count_loss", {}),
    ("ce_max_membrane_loss", {}),
    ("mse_count_loss", {}),
    ("mse_count_loss", {"correct_rate": 0.8, "incorrect_rate": 0.2}),
    ("mse_count_loss", {"correct_rate": 0.75, "incorrect_rate": 0.25}),
    ("mse_membrane_loss", {}),
    ("mse_membrane_loss", {"on_target": 1.5, "off_target": 0.2}),
    ("mse_membrane_loss", {"on_target": 0.5, "off_target": -0.5}),  # snnTorch: off -> max(0, off)
    ("mse_membrane_loss", {"on_target": -0.5, "off_target": 0.5}),  # on < off: used as given
]


@pytest.mark.parametrize("reduction", REDUCTIONS)
@pytest.mark.parametrize("shape", SHAPES)
@pytest.mark.parametrize("name, kwargs", RATE_CASES, ids=[f"{n}-{i}" for i, (n, _) in enumerate(RATE_CASES)])
def test_rate_losses_match_snntorch(name, kwargs, shape, reduction):
    x, targets = _inputs(shape)
    _compare(
        getattr(FF, name)(reduction=reduction, **kwargs), getattr(SF, name)(reduction=reduction, **kwargs), x, targets
    )


@pytest.mark.parametrize("name, kwargs", RATE_CASES[:7], ids=[n for n, _ in RATE_CASES[:7]])
@pytest.mark.parametrize("dtype", [torch.float64, torch.float16])
def test_rate_losses_dtype_like_snntorch(name, kwargs, dtype):
    x, targets = _inputs((4, 3, 5), dtype=dtype)
    for reduction in REDUCTIONS:
        ours = getattr(FF, name)(reduction=reduction, **kwargs)
        ref = getattr(SF, name)(reduction=reduction, **kwargs)
        _compare(ours, ref, x, targets, rtol=2e-3 if dtype == torch.float16 else 1e-5)


@pytest.mark.parametrize("reduction", REDUCTIONS)
@pytest.mark.parametrize("name", ["ce_rate_loss", "ce_count_loss", "ce_max_membrane_loss"])
def test_cross_entropy_weight_matches_snntorch(name, reduction):
    x, targets = _inputs((5, 6, 4), seed=1)
    weight = torch.tensor([0.2, 1.0, 3.0, 0.7])
    _compare(
        getattr(FF, name)(reduction=reduction, weight=weight),
        getattr(SF, name)(reduction=reduction, weight=weight),
        x,
        targets,
    )


@pytest.mark.parametrize("reduction", REDUCTIONS)
@pytest.mark.parametrize(
    "name, kwargs",
    [("mse_count_loss", {"correct_rate": 0.7, "incorrect_rate": 0.1}), ("mse_membrane_loss", {"on_target": 1.2})],
)
def test_mse_weight_matches_snntorch_for_one_sample(name, kwargs, reduction):
    x, targets = _inputs((5, 1, 4), seed=2)
    weight = torch.tensor([0.2, 1.0, 3.0, 0.7])
    _compare(
        getattr(FF, name)(reduction=reduction, weight=weight, **kwargs),
        getattr(SF, name)(reduction=reduction, weight=weight, **kwargs),
        x,
        targets,
    )


@pytest.mark.parametrize("name", ["mse_count_loss", "mse_membrane_loss", "mse_temporal_loss"])
def test_mse_weight_for_a_batch_is_not_reproduced(name):
    x, targets = _inputs((5, 4, 4), seed=2, binary=True)  # B == C: snnTorch weights the class axis
    weight = torch.tensor([0.2, 1.0, 3.0, 0.7])
    getattr(SF, name)(weight=weight)(x, targets.clone())
    with pytest.raises(NotImplementedError, match=r"tritonsnn\.loss\.mse_"):
        getattr(FF, name)(weight=weight)(x, targets)


@pytest.mark.parametrize("reduction", REDUCTIONS)
@pytest.mark.parametrize("num_classes", [2, 3, 6])
@pytest.mark.parametrize(
    "name, kwargs",
    [("ce_count_loss", {}), ("mse_count_loss", {}), ("mse_count_loss", {"correct_rate": 0.6, "incorrect_rate": 0.3})],
)
def test_population_code_matches_snntorch(name, kwargs, num_classes, reduction):
    x, _ = _inputs((5, 4, 6), seed=3)
    targets = torch.tensor([0, num_classes - 1, 1 % num_classes, 0])
    opts = {"population_code": True, "num_classes": num_classes, "reduction": reduction, **kwargs}
    _compare(getattr(FF, name)(**opts), getattr(SF, name)(**opts), x, targets)


def test_population_code_with_weight_matches_snntorch():
    x, _ = _inputs((5, 4, 6), seed=4)
    targets = torch.tensor([0, 2, 1, 0])
    weight = torch.tensor([0.5, 2.0, 1.0])
    for reduction in REDUCTIONS:
        opts = {"population_code": True, "num_classes": 3, "reduction": reduction, "weight": weight}
        _compare(FF.ce_count_loss(**opts), SF.ce_count_loss(**opts), x, targets)


@pytest.mark.parametrize("name", ["ce_count_loss", "mse_count_loss"])
def test_population_code_errors_like_snntorch(name):
    x, _ = _inputs((3, 2, 6))
    targets = torch.tensor([0, 1])
    for opts in ({"population_code": True}, {"population_code": True, "num_classes": 4}):
        with pytest.raises(Exception):  # noqa: B017 - snnTorch raises a bare Exception
            getattr(SF, name)(**opts)(x, targets)
        with pytest.raises(ValueError, match="num_classes"):
            getattr(FF, name)(**opts)(x, targets)


def test_ce_rate_population_code_is_not_reproduced():
    x, targets = _inputs((3, 2, 6))
    with pytest.raises(TypeError):  # snnTorch 1.0 without a weight
        SF.ce_rate_loss(population_code=True, num_classes=3)(x, targets)
    with pytest.raises(NotImplementedError, match=r"tritonsnn\.loss\.ce_rate\(.*num_classes"):
        FF.ce_rate_loss(population_code=True, num_classes=3)


def test_mse_membrane_time_var_targets_is_not_reproduced():
    with pytest.raises(NotImplementedError, match="time_var_targets"):
        FF.mse_membrane_loss(time_var_targets=True)


def test_positional_construction_and_attributes():
    x, targets = _inputs((4, 3, 5))
    _compare(FF.mse_count_loss(0.6, 0.1), SF.mse_count_loss(0.6, 0.1), x, targets)
    _compare(FF.mse_membrane_loss(False, 1.3, 0.1, "sum"), SF.mse_membrane_loss(False, 1.3, 0.1, "sum"), x, targets)
    _compare(FF.ce_count_loss(False, False, "none"), SF.ce_count_loss(False, False, "none"), x, targets)
    for name in (
        "ce_rate_loss",
        "ce_count_loss",
        "ce_max_membrane_loss",
        "mse_count_loss",
        "mse_membrane_loss",
        "mse_temporal_loss",
        "ce_temporal_loss",
    ):
        assert getattr(FF, name)().__name__ == getattr(SF, name)().__name__ == name
    assert isinstance(FF.ce_rate_loss(), FF.LossFunctions)


def test_bad_targets_and_reduction_raise():
    x, _ = _inputs((3, 2, 4))
    with pytest.raises(ValueError, match="reduction"):
        FF.ce_count_loss(reduction="avg")(x, torch.tensor([0, 1]))
    with pytest.raises(TypeError, match="integer"):
        FF.ce_rate_loss()(x, torch.tensor([0.0, 1.0]))
    with pytest.raises(ValueError, match=r"\[T, B, C\]"):
        FF.mse_count_loss()(x[0], torch.tensor([0, 1]))


# ------------------------------------------------------------------------ temporal losses

TEMPORAL_CASES = [
    ("mse_temporal_loss", {}),  # snnTorch's label targets: every neuron at step 0
    ("mse_temporal_loss", {"on_target": 1, "off_target": 4}),
    ("mse_temporal_loss", {"on_target": 3, "off_target": -2}),
    ("mse_temporal_loss", {"on_target": 1, "off_target": 4, "tolerance": 2}),
    ("ce_temporal_loss", {}),
    ("ce_temporal_loss", {"inverse": "reciprocal"}),
]


@pytest.mark.parametrize("reduction", REDUCTIONS)
@pytest.mark.parametrize("shape", [(6, 5, 4), (1, 3, 2), (8, 2, 1), (5, 1, 3)])
@pytest.mark.parametrize("name, kwargs", TEMPORAL_CASES, ids=[f"{n}-{i}" for i, (n, _) in enumerate(TEMPORAL_CASES)])
def test_temporal_losses_match_snntorch(name, kwargs, shape, reduction):
    x, targets = _inputs(shape, seed=5, binary=True)
    x[:, 0] = 0  # a silent sample: its neurons count as firing at the last step
    _compare(
        getattr(FF, name)(reduction=reduction, **kwargs), getattr(SF, name)(reduction=reduction, **kwargs), x, targets
    )


@pytest.mark.parametrize("tolerance", [0, 1, 3])
@pytest.mark.parametrize("reduction", REDUCTIONS)
def test_mse_temporal_target_is_time_matches_snntorch(tolerance, reduction):
    x, _ = _inputs((7, 3, 4), seed=6, binary=True)
    times = torch.tensor([[0, 3, 6, -1], [2, 2, 5, 1], [-3, 0, 4, -9]])  # -9: still negative after + T, once
    for target in (times, times.float()):
        opts = {"target_is_time": True, "tolerance": tolerance, "reduction": reduction}
        _compare(FF.mse_temporal_loss(**opts), SF.mse_temporal_loss(**opts), x, target)
    kept = times.clone()
    FF.mse_temporal_loss(target_is_time=True)(x, kept)
    assert torch.equal(kept, times)  # unlike snnTorch, the targets are left as they were


def test_ce_temporal_weight_matches_snntorch():
    x, targets = _inputs((6, 5, 3), seed=7, binary=True)
    weight = torch.tensor([0.3, 2.0, 1.0])
    for reduction in REDUCTIONS:
        _compare(
            FF.ce_temporal_loss(reduction=reduction, weight=weight),
            SF.ce_temporal_loss(reduction=reduction, weight=weight),
            x,
            targets,
        )


def test_mse_temporal_weight_for_one_sample_matches_snntorch():
    x, targets = _inputs((6, 1, 3), seed=8, binary=True)
    weight = torch.tensor([0.3, 2.0, 1.0])
    for reduction in REDUCTIONS:
        opts = {"reduction": reduction, "weight": weight, "on_target": 1, "off_target": 5}
        _compare(FF.mse_temporal_loss(**opts), SF.mse_temporal_loss(**opts), x, targets)
    with pytest.raises(NotImplementedError, match="target_is_time"):
        FF.mse_temporal_loss(target_is_time=True, weight=weight)


def test_spike_time_module_matches_snntorch():
    x, targets = _inputs((6, 4, 3), seed=9, binary=True)
    for opts in ({}, {"on_target": 2, "off_target": 5, "tolerance": 2}):
        times, target = FF.SpikeTime(**opts)(x, targets)
        ref_times, ref_target = SF.SpikeTime(**opts)(x, targets.clone())
        assert torch.equal(times, ref_times) and torch.equal(target, ref_target)


def test_multi_spike_is_not_reproduced():
    spk = torch.zeros(8, 1, 2)
    spk[[1, 3, 5], 0, 0] = 1
    spk[[3, 6], 0, 1] = 1
    ref = SF.SpikeTime(on_target=torch.tensor([1, 4]), off_target=torch.tensor([2, 5]), multi_spike=True)
    ref_times, _ = ref(spk, torch.tensor([0]))
    assert ref_times[1, 0, 0] == 5  # snnTorch 1.0: neuron 0's second spike (step 3) is lost to neuron 1's first
    with pytest.raises(NotImplementedError, match="mse_temporal"):
        FF.mse_temporal_loss(multi_spike=True, on_target=[1, 4], off_target=[2, 5])


def test_temporal_losses_need_binary_spikes():
    x, targets = _inputs((4, 3, 2), seed=10)
    for fn in (FF.mse_temporal_loss(), FF.ce_temporal_loss()):
        with pytest.raises(ValueError, match="binary"):
            fn(x, targets)
    with pytest.raises(ValueError, match="inverse"):
        FF.ce_temporal_loss(inverse="log")


# -------------------------------------------------------------------------------- accuracy


@pytest.mark.parametrize("shape", [(5, 64, 3), (1, 7, 4), (4, 6, 1), (3, 3, 5)])
def test_accuracy_matches_snntorch_as_numpy_float(shape):
    spk, targets = _inputs(shape, seed=11, binary=True)  # few steps: many ties
    for ours, ref in (
        (FF.accuracy_rate(spk, targets), SF.accuracy_rate(spk, targets)),
        (FF.accuracy_temporal(spk, targets), SF.accuracy_temporal(spk, targets)),
    ):
        assert type(ours) is type(ref) is np.float64
        assert ours == ref
        assert ours.item() == ref.item()


@pytest.mark.parametrize("num_classes", [2, 3])
def test_accuracy_population_code_matches_snntorch(num_classes):
    spk, _ = _inputs((6, 9, 6), seed=12, binary=True)
    targets = torch.arange(9) % num_classes
    ours = FF.accuracy_rate(spk, targets, population_code=True, num_classes=num_classes)
    assert ours == SF.accuracy_rate(spk, targets, population_code=True, num_classes=num_classes)
    with pytest.raises(ValueError, match="num_classes"):
        FF.accuracy_rate(spk, targets, population_code=True)


def test_accuracy_accepts_integral_float_targets_like_snntorch():
    spk, targets = _inputs((5, 6, 3), seed=13, binary=True)
    assert FF.accuracy_rate(spk, targets.float()) == SF.accuracy_rate(spk, targets.float())
    with pytest.raises(ValueError, match="class indices"):
        FF.accuracy_rate(spk, targets.float() + 0.5)


# ------------------------------------------------------------------------------ regularisers


def test_l1_rate_sparsity_matches_snntorch():
    spk, _ = _inputs((4, 3, 5), seed=14)
    for reg, ref in (
        (FF.l1_rate_sparsity(), SF.l1_rate_sparsity()),
        (FF.l1_rate_sparsity(Lambda=0.3), SF.l1_rate_sparsity(Lambda=0.3)),
    ):
        assert reg.__name__ == ref.__name__ == "l1_rate_sparsity"
        x, y = spk.clone().requires_grad_(), spk.clone().requires_grad_()
        a, b = reg(x), ref(y)
        assert_close(a, b, 1e-7, 1e-6, "l1")
        a.backward()
        b.backward()
        assert torch.equal(x.grad, y.grad)


# ---------------------------------------------------------------------------- quantisation

QUANT_CASES = [
    {},
    {"num_bits": 4},
    {"num_bits": 2, "threshold": 5, "lower_limit": 0.1, "upper_limit": 0.3},
    {"uniform": False},
    {"uniform": False, "num_bits": 1},
    {"uniform": False, "num_bits": 3, "threshold": 2.5},
    {"uniform": False, "num_bits": 5, "thr_centered": False},
    {"uniform": False, "num_bits": 6, "multiplier": 0.8, "lower_limit": 0.5},
    {"uniform": False, "num_bits": 7, "thr_centered": False, "upper_limit": 1.0},
]


@pytest.mark.parametrize("kwargs", QUANT_CASES)
def test_state_quant_matches_snntorch(kwargs):
    g = torch.Generator().manual_seed(15)
    threshold = kwargs.get("threshold", 1)
    x = (torch.rand(3, 50, generator=g) * 3 - 1.5) * threshold
    q, q_ref = FF.quant.state_quant(**kwargs), quant_ref.state_quant(**kwargs)
    a, b = x.clone().requires_grad_(), x.clone().requires_grad_()
    out, ref = q(a), q_ref(b)
    assert out.shape == ref.shape and out.dtype == ref.dtype
    assert torch.equal(out, ref)
    out.backward(torch.arange(150.0).view(3, 50))
    assert torch.equal(a.grad, torch.arange(150.0).view(3, 50))  # straight through
    levels = torch.unique(ref)
    assert len(levels) > 1
    assert torch.equal(q(levels), q_ref(levels))  # every level maps to itself


def test_state_quant_dtype_and_large_input():
    q, q_ref = FF.quant.state_quant(num_bits=8), quant_ref.state_quant(num_bits=8)
    x = torch.randn(70000, dtype=torch.float64)  # more than one search chunk
    out = q(x)
    assert out.dtype == torch.float32
    assert torch.equal(out, q_ref(x))


# -------------------------------------------------------------------------------- monitors


def _net():
    torch.manual_seed(16)
    return nn.Sequential(nn.Linear(4, 3), nn.Tanh(), nn.Linear(3, 2), nn.Tanh())


@pytest.mark.parametrize(
    "name, args",
    [
        ("OutputMonitor", ()),
        ("InputMonitor", ()),
        ("GradInputMonitor", ()),
        ("GradOutputMonitor", ()),
        ("AttributeMonitor", ("weight", False)),
    ],
)
def test_monitors_match_snntorch(name, args):
    net = _net()
    ours = getattr(FF, name)(*args, net, instance=nn.Linear)
    ref = getattr(probe_ref, name)(*args, net, instance=nn.Linear)
    x = torch.rand(5, 4, requires_grad=True)
    net(x).sum().backward()
    ours.disable()
    ref.disable()
    net(x).sum().backward()  # not recorded
    assert ours.monitored_layers == ref.monitored_layers == ["0", "2"]
    assert len(ours.records) == len(ref.records) == 2
    for a, b in zip(ours.records, ref.records):
        assert torch.equal(a, b)
    assert torch.equal(ours["2"][0], ref["2"][0]) and torch.equal(ours[0], ref[0])
    ours.clear_recorded_data()
    assert ours.records == [] and ours["0"] == []
    ours.remove_hooks()
    ours.enable()
    net(x)
    assert ours.records == []


def test_monitor_defaults_and_pre_forward_attribute():
    net = _net()
    out = FF.OutputMonitor(net, function_on_output=lambda y: y.shape)  # instance defaults to type(net)
    net(torch.rand(2, 4))
    assert out.monitored_layers == [""] and out.records == [torch.Size([2, 2])]
    pre = FF.AttributeMonitor("weight", True, net, instance=nn.Linear, function_on_attribute=lambda w: w.sum())
    net(torch.rand(2, 4))
    assert len(pre.records) == 2
    with pytest.raises(ValueError):
        pre[1.5]


# ------------------------------------------------------------------------- stdp_learner


def test_stdp_learner_points_to_tritonsnn_stdp():
    with pytest.raises(AttributeError, match=r"tritonsnn\.STDP"):
        FF.stdp_learner  # noqa: B018
    with pytest.raises(ImportError, match=r"tritonsnn\.STDP"):
        from tritonsnn.snntorch.functional import stdp_learner  # noqa: F401
    with pytest.raises(ImportError, match=r"tritonsnn\.STDP"):
        importlib.import_module("tritonsnn.snntorch.functional.stdp_learner")
    with pytest.raises(AttributeError, match="no attribute"):
        FF.not_a_name  # noqa: B018
