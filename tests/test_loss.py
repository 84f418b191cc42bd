"""Losses and accuracy: snnTorch parity (values and gradients), definitions, bad input."""

import pytest
import torch
import torch.nn.functional as F

from tritonsnn import loss

SF = pytest.importorskip("snntorch.functional")

SHAPES = [(6, 5, 4), (1, 3, 4), (5, 4, 1)]  # ordinary, T = 1, C = 1
REDUCTIONS = ["mean", "sum", "none"]

# (our function, our module, snnTorch class, options shared by all three)
CASES = [
    (loss.ce_rate, loss.ce_rate_loss, SF.ce_rate_loss, {}),
    (loss.ce_count, loss.ce_count_loss, SF.ce_count_loss, {}),
    (loss.ce_max_membrane, loss.ce_max_membrane_loss, SF.ce_max_membrane_loss, {}),
    (loss.mse_count, loss.mse_count_loss, SF.mse_count_loss, {}),
    (loss.mse_count, loss.mse_count_loss, SF.mse_count_loss, dict(correct_rate=0.8, incorrect_rate=0.2)),
    (loss.mse_count, loss.mse_count_loss, SF.mse_count_loss, dict(correct_rate=0.75, incorrect_rate=0.25)),
    (loss.mse_membrane, loss.mse_membrane_loss, SF.mse_membrane_loss, {}),
    (loss.mse_membrane, loss.mse_membrane_loss, SF.mse_membrane_loss, dict(on_target=1.5, off_target=0.2)),
    (loss.mse_membrane, loss.mse_membrane_loss, SF.mse_membrane_loss, dict(on_target=-0.5, off_target=0.5)),
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
    torch.testing.assert_close(fn_val, ref_val.reshape(fn_val.shape), rtol=1e-6, atol=1e-6)
    torch.testing.assert_close(fn_grad, ref_grad, rtol=1e-6, atol=1e-6)
    torch.testing.assert_close(mod_val, fn_val, rtol=0, atol=0)
    torch.testing.assert_close(mod_grad, fn_grad, rtol=0, atol=0)


def test_snntorch_style_positional_construction():
    out, targets = _inputs((4, 3, 5))
    ours = loss.mse_count_loss(0.6, 0.1)(out, targets)
    torch.testing.assert_close(ours, SF.mse_count_loss(0.6, 0.1)(out, targets), rtol=1e-6, atol=1e-6)


def test_ce_rate_definition():
    out, targets = _inputs((3, 2, 4))
    expected = sum(F.cross_entropy(out[t], targets) for t in range(3)) / 3
    torch.testing.assert_close(loss.ce_rate(out, targets), expected)


def test_ce_max_membrane_routes_gradient_like_snntorch_on_ties():
    mem, targets = _inputs((4, 3, 5))
    mem[2] = mem[1]  # the maximum over time may now be reached at two steps
    mem[1:3] += 10
    ref_val, ref_grad = _value_and_grad(SF.ce_max_membrane_loss(), mem, targets)
    val, grad = _value_and_grad(loss.ce_max_membrane, mem, targets)
    torch.testing.assert_close(val, ref_val.reshape(()), rtol=1e-6, atol=1e-6)
    torch.testing.assert_close(grad, ref_grad, rtol=1e-6, atol=1e-6)
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
    torch.testing.assert_close(loss.ce_count(out, targets.int()), loss.ce_count(out, targets))


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


@pytest.mark.parametrize("fn", [loss.ce_rate, loss.ce_count, loss.ce_max_membrane, loss.mse_count,
                                loss.mse_membrane, loss.accuracy_rate])
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


@pytest.mark.parametrize("kwargs, name", [(dict(correct_rate=1.5), "correct_rate"),
                                          (dict(incorrect_rate=-0.1), "incorrect_rate")])
def test_mse_count_rejects_bad_rates(kwargs, name):
    with pytest.raises(ValueError, match=name):
        loss.mse_count(torch.rand(2, 3, 4), torch.zeros(3, dtype=torch.long), **kwargs)


def test_accuracy_rate_rejects_empty_batch():
    with pytest.raises(ValueError, match="empty"):
        loss.accuracy_rate(torch.rand(2, 0, 4), torch.zeros(0, dtype=torch.long))
