"""Losses and accuracy: snnTorch parity (values and gradients), definitions, bad input."""

import pytest
import torch
import torch.nn.functional as F

from tritonsnn import loss

from .checks import TORCH_TESTING, assert_close

SF = pytest.importorskip("snntorch.functional")

SHAPES = [(6, 5, 4), (1, 3, 4), (5, 4, 1)]  # ordinary, T = 1, C = 1
REDUCTIONS = ["mean", "sum", "none"]

# (our function, our module, snnTorch class, options shared by all three)
CASES = [
    (loss.ce_rate, loss.ce_rate_loss, SF.ce_rate_loss, {}),
    (loss.ce_count, loss.ce_count_loss, SF.ce_count_loss, {}),
    (loss.ce_max_membrane, loss.ce_max_membrane_loss, SF.ce_max_membrane_loss, {}),
    (loss.mse_count, loss.mse_count_loss, SF.mse_count_loss, {}),
    (loss.mse_count, loss.mse_count_loss, SF.mse_count_loss, {"correct_rate": 0.8, "incorrect_rate": 0.2}),
    (loss.mse_count, loss.mse_count_loss, SF.mse_count_loss, {"correct_rate": 0.75, "incorrect_rate": 0.25}),
    (loss.mse_membrane, loss.mse_membrane_loss, SF.mse_membrane_loss, {}),
    (loss.mse_membrane, loss.mse_membrane_loss, SF.mse_membrane_loss, {"on_target": 1.5, "off_target": 0.2}),
    (loss.mse_membrane, loss.mse_membrane_loss, SF.mse_membrane_loss, {"on_target": -0.5, "off_target": 0.5}),
]
CASE_IDS = [f"{c[0].__name__}-{i}" for i, c in enumerate(CASES)]


def _inputs(shape, seed=0):
    g = torch.Generator().manual_seed(seed)
    out = torch.randn(shape, generator=g) * 2  # stands in for surrogate spikes or membrane
    targets = torch.randint(0, shape[-1], (shape[1],), generator=g)
    return out, targets


def _value_and_grad(fn, out, targets):
    x = out.clone().requires_grad_(True)
    value = fn(x, targets)
    value.sum().backward()
    return value.detach(), x.grad


@pytest.mark.parametrize("reduction", REDUCTIONS)
@pytest.mark.parametrize("shape", SHAPES)
@pytest.mark.parametrize("fn, module, ref_cls, opts", CASES, ids=CASE_IDS)
def test_matches_snntorch_value_and_grad(fn, module, ref_cls, opts, shape, reduction):
    out, targets = _inputs(shape)
    ref_val, ref_grad = _value_and_grad(ref_cls(reduction=reduction, **opts), out, targets)
    fn_val, fn_grad = _value_and_grad(lambda x, y: fn(x, y, reduction=reduction, **opts), out, targets)
    mod_val, mod_grad = _value_and_grad(module(reduction=reduction, **opts), out, targets)
    if reduction != "none":
        assert fn_val.dim() == 0  # snnTorch returns shape [1] for some losses
    # fp32 sums reach ~100 with reduction="sum", where one ulp is ~8e-6: allow 1e-6 relative too.
    assert_close(fn_val, ref_val.reshape(fn_val.shape), 1e-6, 1e-6, "fn_val", **TORCH_TESTING)
    assert_close(fn_grad, ref_grad, 1e-6, 1e-6, "fn_grad", **TORCH_TESTING)
    assert_close(mod_val, fn_val, 0, 0, "mod_val", **TORCH_TESTING)
    assert_close(mod_grad, fn_grad, 0, 0, "mod_grad", **TORCH_TESTING)


def test_snntorch_style_positional_construction():
    out, targets = _inputs((4, 3, 5))
    ours = loss.mse_count_loss(0.6, 0.1)(out, targets)
    assert_close(ours, SF.mse_count_loss(0.6, 0.1)(out, targets), 1e-6, 1e-6, "ours", **TORCH_TESTING)


def test_ce_rate_definition():
    out, targets = _inputs((3, 2, 4))
    expected = sum(F.cross_entropy(out[t], targets) for t in range(3)) / 3
    assert_close(loss.ce_rate(out, targets), expected, None, None, "loss.ce_rate", **TORCH_TESTING)


def test_ce_max_membrane_routes_gradient_like_snntorch_on_ties():
    mem, targets = _inputs((4, 3, 5))
    mem[2] = mem[1]  # the maximum over time may now be reached at two steps
    mem[1:3] += 10
    ref_val, ref_grad = _value_and_grad(SF.ce_max_membrane_loss(), mem, targets)
    val, grad = _value_and_grad(loss.ce_max_membrane, mem, targets)
    assert_close(val, ref_val.reshape(()), 1e-6, 1e-6, "val", **TORCH_TESTING)
    assert_close(grad, ref_grad, 1e-6, 1e-6, "grad", **TORCH_TESTING)
    assert torch.all((grad[1:3] != 0).sum(0) <= 1)  # one step per neuron gets the gradient


def test_mse_count_truncates_target_count_like_snntorch():
    # T = 10, correct_rate = 0.75 -> target 7 spikes (not 7.5); incorrect_rate = 0.25 -> 2 spikes
    spk = torch.zeros(10, 1, 3)
    targets = torch.tensor([1])
    expected = ((0 - 2) ** 2 + (0 - 7) ** 2 + (0 - 2) ** 2) / 3 / 10
    value = loss.mse_count(spk, targets, correct_rate=0.75, incorrect_rate=0.25)
    assert value.item() == pytest.approx(expected)


def test_mse_membrane_uses_negative_off_target():
    # snnTorch replaces a negative off_target by 0 when on_target > off_target; we do not.
    mem = torch.zeros(4, 2, 3)
    targets = torch.tensor([0, 2])
    value = loss.mse_membrane(mem, targets, on_target=1.0, off_target=-1.0, reduction="none")
    assert torch.equal(value, torch.ones(2, 3))


def test_integer_targets_of_any_width():
    out, targets = _inputs((4, 3, 5))
    assert_close(
        loss.ce_count(out, targets.int()), loss.ce_count(out, targets), None, None, "loss.ce_count", **TORCH_TESTING
    )


@pytest.mark.parametrize("dtype", [torch.float64, torch.bfloat16])
def test_loss_keeps_input_dtype(dtype):
    out, targets = _inputs((4, 3, 5))
    for fn in (loss.ce_rate, loss.mse_count, loss.mse_membrane):
        assert fn(out.to(dtype), targets).dtype == dtype


# ------------------------------------------------------------------------- accuracy


def test_accuracy_rate_by_hand():
    spk = torch.zeros(3, 4, 2)
    spk[:, 0, 0] = 1  # predicts 0
    spk[:2, 1, 1] = 1  # predicts 1
    spk[:1, 2, 0] = spk[:1, 2, 1] = 1  # tie -> lowest index 0
    # sample 3 silent -> tie -> 0
    assert loss.accuracy_rate(spk, torch.tensor([0, 1, 1, 0])) == pytest.approx(0.75)


@pytest.mark.parametrize("shape", [(5, 64, 3), (1, 16, 4), (4, 8, 1)])
def test_accuracy_rate_matches_snntorch_including_ties(shape):
    g = torch.Generator().manual_seed(3)
    spk = torch.bernoulli(torch.full(shape, 0.4), generator=g)  # few steps -> many ties
    targets = torch.randint(0, shape[-1], (shape[1],), generator=g)
    acc = loss.accuracy_rate(spk, targets)
    assert isinstance(acc, float)
    assert acc == pytest.approx(float(SF.accuracy_rate(spk, targets)), abs=1e-12)


# ------------------------------------------------------------------------ bad input


@pytest.mark.parametrize(
    "fn", [loss.ce_rate, loss.ce_count, loss.ce_max_membrane, loss.mse_count, loss.mse_membrane, loss.accuracy_rate]
)
def test_rejects_non_time_first_output(fn):
    with pytest.raises(ValueError, match=r"\[T, B, C\]"):
        fn(torch.rand(3, 4), torch.zeros(3, dtype=torch.long))


def test_rejects_targets_of_wrong_shape():
    with pytest.raises(ValueError, match=r"targets.*\[B\] = \[3\]"):
        loss.ce_rate(torch.rand(2, 3, 4), torch.zeros(4, dtype=torch.long))
    with pytest.raises(ValueError, match="targets"):
        loss.mse_count(torch.rand(2, 3, 4), torch.zeros(3, 4, dtype=torch.long))


def test_rejects_float_targets():
    with pytest.raises(TypeError, match="targets.*integer"):
        loss.ce_count(torch.rand(2, 3, 4), torch.zeros(3))


def test_rejects_out_of_range_target_class():
    with pytest.raises((IndexError, RuntimeError)):
        loss.ce_rate(torch.rand(2, 3, 4), torch.tensor([0, 1, 4]))
    with pytest.raises(RuntimeError, match="num_classes|smaller"):
        loss.mse_membrane(torch.rand(2, 3, 4), torch.tensor([0, 1, 4]))


def test_rejects_bad_reduction():
    with pytest.raises(ValueError, match="reduction"):
        loss.ce_rate_loss(reduction="avg")(torch.rand(2, 3, 4), torch.zeros(3, dtype=torch.long))


@pytest.mark.parametrize(
    "kwargs, name", [({"correct_rate": 1.5}, "correct_rate"), ({"incorrect_rate": -0.1}, "incorrect_rate")]
)
def test_mse_count_rejects_bad_rates(kwargs, name):
    with pytest.raises(ValueError, match=name):
        loss.mse_count(torch.rand(2, 3, 4), torch.zeros(3, dtype=torch.long), **kwargs)


def test_accuracy_rate_rejects_empty_batch():
    with pytest.raises(ValueError, match="empty"):
        loss.accuracy_rate(torch.rand(2, 0, 4), torch.zeros(0, dtype=torch.long))


# ------------------------------------------------------------- population code and class weights


def _pop_inputs(seed=0):
    g = torch.Generator().manual_seed(seed)
    return torch.randn(5, 4, 6, generator=g), torch.tensor([0, 2, 1, 2])


def test_population_code_sums_groups_of_consecutive_outputs():
    out, targets = _pop_inputs()
    grouped = out.view(5, 4, 3, 2).sum(-1)
    assert_close(
        loss.ce_count(out, targets, num_classes=3),
        loss.ce_count(grouped, targets),
        None,
        None,
        "loss.ce_count",
        **TORCH_TESTING,
    )
    assert_close(
        loss.ce_rate(out, targets, num_classes=3),
        loss.ce_rate(grouped, targets),
        None,
        None,
        "loss.ce_rate",
        **TORCH_TESTING,
    )
    assert loss.accuracy_rate(out, targets, num_classes=3) == loss.accuracy_rate(grouped, targets)
    # count targets scale with the group size: 2 neurons per class, T = 5, rate 0.5 -> int(5 * 0.5 * 2) = 5
    expected = loss.mse_count(grouped, targets, correct_rate=1.0)  # int(5 * 1.0) = 5 as well
    assert_close(
        loss.mse_count(out, targets, correct_rate=0.5, num_classes=3),
        expected,
        None,
        None,
        "loss.mse_count",
        **TORCH_TESTING,
    )
    assert_close(
        loss.ce_count(out, targets, num_classes=6),
        loss.ce_count(out, targets),
        None,
        None,
        "loss.ce_count",
        **TORCH_TESTING,
    )


@pytest.mark.parametrize("reduction", REDUCTIONS)
def test_population_code_matches_snntorch(reduction):
    out, targets = _pop_inputs(1)
    for ours, ref in (
        (loss.ce_count_loss(reduction, num_classes=3), SF.ce_count_loss(True, 3, reduction)),
        (loss.mse_count_loss(0.6, 0.2, reduction, num_classes=3), SF.mse_count_loss(0.6, 0.2, True, 3, reduction)),
    ):
        ours_val, ours_grad = _value_and_grad(ours, out, targets)
        ref_val, ref_grad = _value_and_grad(ref, out, targets)
        assert_close(ours_val, ref_val, 1e-6, 1e-6, "ours_val", **TORCH_TESTING)
        assert_close(ours_grad, ref_grad, 1e-6, 1e-6, "ours_grad", **TORCH_TESTING)


def test_population_code_needs_equal_groups():
    out, targets = _pop_inputs()
    with pytest.raises(ValueError, match="multiple of `num_classes`"):
        loss.ce_count(out, targets, num_classes=4)
    with pytest.raises(ValueError, match="num_classes"):
        loss.ce_rate(out, targets, num_classes=0)


def test_class_weights_follow_torch_cross_entropy():
    out, targets = _inputs((4, 6, 3), seed=2)
    weight = torch.tensor([0.2, 1.5, 3.0])
    counts = out.sum(0)
    for reduction in REDUCTIONS:
        assert_close(
            loss.ce_count(out, targets, weight=weight, reduction=reduction),
            F.cross_entropy(counts, targets, weight=weight, reduction=reduction),
            None,
            None,
            "loss.ce_count",
            **TORCH_TESTING,
        )
    assert_close(
        loss.ce_max_membrane(out, targets, weight=weight),
        F.cross_entropy(out.max(0).values, targets, weight=weight),
        None,
        None,
        "loss.ce_max_membrane",
        **TORCH_TESTING,
    )
    per_step = torch.stack([F.cross_entropy(out[t], targets, weight=weight, reduction="none") for t in range(4)])
    assert_close(
        loss.ce_rate(out, targets, weight=weight, reduction="none"),
        per_step.mean(0),
        None,
        None,
        "loss.ce_rate",
        **TORCH_TESTING,
    )


def test_class_weights_of_mse_losses_weight_each_sample():
    out, targets = _inputs((4, 6, 3), seed=3)
    weight = torch.tensor([0.2, 1.5, 3.0])
    w = weight[targets][:, None]
    for fn in (loss.mse_count, loss.mse_membrane):
        plain = fn(out, targets, reduction="none")
        assert_close(fn(out, targets, weight=weight, reduction="none"), plain * w, None, None, "fn", **TORCH_TESTING)
        assert_close(
            fn(out, targets, weight=weight, reduction="sum"), (plain * w).sum(), None, None, "fn", **TORCH_TESTING
        )
        assert_close(
            fn(out, targets, weight=weight), (plain * w).sum() / (w.sum() * 3), None, None, "fn", **TORCH_TESTING
        )
        assert_close(
            fn(out, targets, weight=torch.full((3,), 4.0)), fn(out, targets), None, None, "fn", **TORCH_TESTING
        )


def test_class_weight_shape_is_checked():
    out, targets = _inputs((4, 6, 3))
    with pytest.raises(ValueError, match=r"weight.*\[3\]"):
        loss.ce_count(out, targets, weight=torch.ones(4))
    with pytest.raises(ValueError, match=r"weight.*\[2\]"):
        loss.ce_count(torch.rand(4, 6, 4), targets % 2, num_classes=2, weight=torch.ones(4))


def test_module_forms_take_the_new_options():
    out, targets = _pop_inputs(4)
    weight = torch.tensor([1.0, 2.0, 0.5])
    assert_close(
        loss.ce_rate_loss(num_classes=3, weight=weight)(out, targets),
        loss.ce_rate(out, targets, num_classes=3, weight=weight),
        None,
        None,
        "loss.ce_rate_loss",
        **TORCH_TESTING,
    )
    assert_close(
        loss.mse_membrane_loss(weight=torch.ones(6))(out, targets),
        loss.mse_membrane(out, targets),
        None,
        None,
        "loss.mse_membrane_loss",
        **TORCH_TESTING,
    )


# ------------------------------------------------------------------------------- spike times


def _spike_train():
    spk = torch.zeros(6, 2, 3)
    spk[[1, 4], 0, 0] = 1  # neuron (0, 0): spikes at 1 and 4
    spk[5, 0, 1] = 1  # (0, 1): only at the last step
    spk[[0, 2, 3], 1, 2] = 1  # (1, 2): at 0, 2, 3; the others never fire
    return spk


def test_spike_times_values_and_missing_spikes():
    spk = _spike_train()
    assert loss.spike_times(spk).tolist() == [[1, 5, 5], [5, 5, 0]]
    assert loss.spike_times(spk, 2).tolist() == [[[1, 5, 5], [5, 5, 0]], [[4, 5, 5], [5, 5, 2]]]
    assert loss.spike_times(spk).dtype == spk.dtype
    assert loss.spike_times(spk[:, :, :1].squeeze(-1)).tolist() == [1, 5]  # any feature shape


def test_spike_times_sign_estimator_gradient():
    spk = _spike_train().requires_grad_()
    g = torch.arange(1.0, 7.0).view(2, 3)
    (grad,) = torch.autograd.grad((loss.spike_times(spk) * g).sum(), spk)
    expected = torch.zeros(6, 2, 3)
    index = torch.tensor([[1, 5, 5], [5, 5, 0]])
    expected.scatter_(0, index[None], -g[None])
    assert torch.equal(grad, expected)
    (grad2,) = torch.autograd.grad(loss.spike_times(spk, 2).sum(), spk)
    assert grad2[5, 1, 0] == -2  # both missing spikes of a silent neuron read the last step
    assert grad2[1, 0, 0] == -1 and grad2[4, 0, 0] == -1


def test_spike_times_bad_arguments():
    with pytest.raises(ValueError, match="num_spikes"):
        loss.spike_times(torch.zeros(3, 2), 0)
    with pytest.raises(ValueError, match=r"\[T, \.\.\.\]"):
        loss.spike_times(torch.tensor(1.0))


# ---------------------------------------------------------------------------- temporal losses


def test_mse_temporal_definition_tolerance_and_targets():
    spk = _spike_train()
    labels = torch.tensor([0, 2])
    times = loss.spike_times(spk)
    target = torch.tensor([[1.0, 5.0, 5.0], [5.0, 5.0, 1.0]])  # on_target=1, off_target=-1 -> T - 1 = 5
    expected = ((times / 6 - target / 6) ** 2).mean()
    assert_close(
        loss.mse_temporal(spk, labels, on_target=1, off_target=-1),
        expected,
        None,
        None,
        "loss.mse_temporal",
        **TORCH_TESTING,
    )
    assert_close(
        loss.mse_temporal(spk, target, target_is_time=True), expected, None, None, "loss.mse_temporal", **TORCH_TESTING
    )
    assert_close(
        loss.mse_temporal(spk, target - 6, target_is_time=True),
        expected,
        None,
        None,
        "loss.mse_temporal",
        **TORCH_TESTING,
    )  # from the end
    assert loss.mse_temporal(spk, labels, on_target=1, off_target=-1, tolerance=2) == 0  # all within 1 step
    assert loss.mse_temporal_loss(False, 1, -1, 0, "none")(spk, labels).shape == (2, 3)


def test_mse_temporal_several_spikes_per_neuron_are_each_neurons_own():
    spk = torch.zeros(8, 1, 2)
    spk[[1, 3, 5], 0, 0] = 1
    spk[[3, 6], 0, 1] = 1
    # target: each neuron's own first two spikes (snnTorch 1.0's multi_spike would read 5 for neuron 0's second)
    target = torch.tensor([[[1.0, 3.0]], [[3.0, 6.0]]])
    assert loss.mse_temporal(spk, target, target_is_time=True) == 0
    assert loss.mse_temporal(spk, torch.tensor([0]), on_target=[1, 3], off_target=[3, 6]) == 0
    with pytest.raises(ValueError, match="same length"):
        loss.mse_temporal(spk, torch.tensor([0]), on_target=[1, 3], off_target=4)


def test_mse_temporal_gradient_moves_spikes_towards_targets():
    spk = _spike_train().requires_grad_()
    labels = torch.tensor([0, 2])
    (grad,) = torch.autograd.grad(loss.mse_temporal(spk, labels, on_target=0, off_target=-1), spk)
    # neuron (0, 0) fires at 1 but should fire at 0: raising spk at step 1 (earlier spike) lowers the loss
    assert grad[1, 0, 0] < 0
    assert grad[0, 1, 2] == 0  # (1, 2) is on time


def test_ce_temporal_definition():
    spk = _spike_train()
    labels = torch.tensor([0, 2])
    times = loss.spike_times(spk)
    assert_close(
        loss.ce_temporal(spk, labels), F.cross_entropy(-times, labels), None, None, "loss.ce_temporal", **TORCH_TESTING
    )
    assert_close(
        loss.ce_temporal(spk, labels, inverse="reciprocal", reduction="none"),
        F.cross_entropy(1 / (times + 1), labels, reduction="none"),
        None,
        None,
        "loss.ce_temporal",
        **TORCH_TESTING,
    )
    with pytest.raises(ValueError, match="inverse"):
        loss.ce_temporal(spk, labels, inverse="log")
    assert_close(
        loss.ce_temporal_loss("negate", "sum")(spk, labels),
        F.cross_entropy(-times, labels, reduction="sum"),
        None,
        None,
        "loss.ce_temporal_loss",
        **TORCH_TESTING,
    )


def test_mse_temporal_weight_needs_labels():
    spk = _spike_train()
    with pytest.raises(ValueError, match="label"):
        loss.mse_temporal(spk, torch.zeros(2, 3), target_is_time=True, weight=torch.ones(3))
    with pytest.raises(ValueError, match=r"\[B, C\]"):
        loss.mse_temporal(spk, torch.zeros(3, 2), target_is_time=True)


# ------------------------------------------------------------------- accuracy and regulariser


def test_accuracy_temporal_by_hand():
    spk = _spike_train()
    # sample 0: neuron 0 first (step 1); sample 1: neuron 2 first (step 0)
    assert loss.accuracy_temporal(spk, torch.tensor([0, 2])) == 1.0
    assert loss.accuracy_temporal(spk, torch.tensor([1, 2])) == 0.5
    silent = torch.zeros(3, 1, 4)
    assert loss.accuracy_temporal(silent, torch.tensor([0])) == 1.0  # all tie at T - 1: lowest index


def test_accuracy_is_exact_for_any_batch_size():
    spk = torch.zeros(2, 3, 2)
    spk[:, 0, 1] = 1
    assert loss.accuracy_rate(spk, torch.tensor([1, 1, 1])) == 1 / 3  # not float32's 0.3333333432674408


def test_l1_rate():
    spk = torch.rand(3, 2, 4)
    assert_close(loss.l1_rate(spk, scale=0.5), 0.5 * spk.sum(), None, None, "loss.l1_rate", **TORCH_TESTING)
    with pytest.raises(TypeError):
        loss.l1_rate([1.0, 2.0])
