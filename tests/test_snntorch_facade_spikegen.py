"""tritonsnn.snntorch.spikegen against snntorch.spikegen itself: values, shapes, dtypes, RNG draws, errors."""

import warnings

import pytest
import torch

from tritonsnn.snntorch import spikegen as fg

from .checks import assert_spikes_equal

snntorch = pytest.importorskip("snntorch")
sg = pytest.importorskip("snntorch.spikegen")


def _same(a, b):
    """Same dtype, and exactly the same values (``checks.assert_spikes_equal``, which checks the shape)."""
    assert a.dtype == b.dtype, (a.dtype, b.dtype)
    assert_spikes_equal(a, b, "spike train")


def _seeded(fn, seed, *args, **kwargs):
    torch.manual_seed(seed)
    return fn(*args, **kwargs)


def _both_raise(call):
    with pytest.raises(Exception):  # noqa: B017 - snnTorch raises a bare Exception
        call(sg)
    with pytest.raises((ValueError, TypeError)):
        call(fg)


def test_public_names_cover_snntorch():
    public = {n for n in dir(sg) if not n.startswith("_") and n != "torch"}
    assert public <= set(dir(fg)), public - set(dir(fg))
    assert fg.dtype is sg.dtype


# ----------------------------------------------------------------------------- rate

RATE_CASES = [
    {"num_steps": 7},
    {"num_steps": 5, "gain": 0.6, "offset": 0.2},
    {"num_steps": 6, "gain": 2.0, "offset": -0.5},  # saturates on both sides
    {"num_steps": 8, "first_spike_time": 3},
    {"num_steps": 1},
]


@pytest.mark.parametrize("kwargs", RATE_CASES)
@pytest.mark.parametrize("dtype", [torch.float32, torch.float64, torch.float16])
def test_rate_static_same_draws(kwargs, dtype):
    data = torch.rand(3, 2, 5).to(dtype)
    _same(_seeded(fg.rate, 11, data, **kwargs), _seeded(sg.rate, 11, data, **kwargs))


def test_rate_positional_arguments_and_odd_shapes():
    for data in (torch.rand(4), torch.rand(2, 3, 4, 5), torch.rand(5, 4).t(), torch.tensor(0.5)):
        _same(_seeded(fg.rate, 3, data, 6, 0.9, 0.05, 1), _seeded(sg.rate, 3, data, 6, 0.9, 0.05, 1))


@pytest.mark.parametrize("first_spike_time", [0, 2])
@pytest.mark.parametrize("dtype", [torch.float32, torch.float64, torch.float16])
def test_rate_time_varying_same_draws(first_spike_time, dtype):
    data = torch.rand(6, 3, 2).to(dtype)
    kwargs = {"time_var_input": True, "first_spike_time": first_spike_time}
    out = _seeded(fg.rate, 5, data, **kwargs)
    _same(out, _seeded(sg.rate, 5, data, **kwargs))
    assert out.shape == (6 + first_spike_time, 3, 2)
    assert torch.all(out[:first_spike_time] == 0)


def test_rate_time_varying_ignores_gain_like_snntorch_with_a_warning():
    data = torch.rand(5, 4)
    with pytest.warns(UserWarning, match="ignored"):
        out = _seeded(fg.rate, 2, data, gain=3.0, time_var_input=True)
    _same(out, _seeded(sg.rate, 2, data, gain=3.0, time_var_input=True))


def test_rate_conv_same_draws():
    for data in (torch.rand(4, 6) * 1.4 - 0.2, torch.rand(3, 5).double().t(), torch.tensor(0.7)):
        _same(_seeded(fg.rate_conv, 9, data), _seeded(sg.rate_conv, 9, data))


@pytest.mark.parametrize(
    "kwargs",
    [
        {},  # no num_steps, not time-varying
        {"num_steps": -1},
        {"num_steps": 5, "first_spike_time": -1},
        {"num_steps": 5, "first_spike_time": 5},
        {"num_steps": 5, "time_var_input": True},
        {"first_spike_time": 2},
    ],
)
def test_rate_bad_arguments_raise_like_snntorch(kwargs):
    data = torch.rand(3, 4)
    _both_raise(lambda m: m.rate(data, **kwargs))


def test_rate_integer_data_is_a_type_error():
    with pytest.raises(TypeError, match="floating"):
        fg.rate(torch.ones(2, 3, dtype=torch.uint8), 4)


# -------------------------------------------------------------------------- latency


def _latency_data(dtype=torch.float32):
    g = torch.Generator().manual_seed(0)
    data = torch.rand(4, 10, generator=g)
    data[0, :4] = torch.tensor([0.0, 1.0, 0.005, 0.5])  # zero, one, below threshold, a tie-prone value
    return data.to(dtype)


LATENCY_CASES = [
    {"num_steps": 25},
    {"num_steps": 60, "tau": 5},
    {"num_steps": 60, "tau": 5, "clip": True},
    {"num_steps": 30, "tau": 2, "threshold": 0.05, "first_spike_time": 3},
    {"num_steps": 10, "normalize": True},
    {"num_steps": 10, "normalize": True, "first_spike_time": 2, "clip": True},
    {"num_steps": 10, "linear": True, "tau": 9},
    {"num_steps": 20, "linear": True, "tau": 4, "first_spike_time": 5, "clip": True},
    {"num_steps": 8, "linear": True, "normalize": True},
    {"num_steps": 8, "linear": True, "normalize": True, "first_spike_time": 3, "threshold": 0.2},
    {"num_steps": 14, "on_target": 1.5, "off_target": 0.25},
    {"num_steps": 14, "on_target": 0.5, "off_target": 0.75},  # off above on: all off
    {"num_steps": 14, "on_target": -1.0, "off_target": -0.5},
    {"bypass": True},  # num_steps from the latest spike
    {"bypass": True, "tau": 3, "clip": True},
    {"num_steps": 5, "tau": 3, "bypass": True},  # spikes past the end are dropped
    {"num_steps": 6, "tau": 3, "bypass": True, "linear": True},
    {"num_steps": 30, "epsilon": 1e-3},
    {"num_steps": 10, "normalize": True, "interpolate": True},
    {"num_steps": 9, "linear": True, "normalize": True, "interpolate": True, "on_target": 1.2, "off_target": 0.2},
]


@pytest.mark.parametrize("kwargs", LATENCY_CASES, ids=[str(i) for i in range(len(LATENCY_CASES))])
@pytest.mark.parametrize("dtype", [torch.float32, torch.float64])
def test_latency_matches_snntorch(kwargs, dtype):
    data = _latency_data(dtype)
    _same(fg.latency(data, **kwargs), sg.latency(data, **kwargs))


@pytest.mark.parametrize("kwargs", LATENCY_CASES, ids=[str(i) for i in range(len(LATENCY_CASES))])
@pytest.mark.parametrize("dtype", [torch.float16, torch.bfloat16])
def test_latency_half_precision_times_in_the_data_dtype_like_snntorch(kwargs, dtype):
    data = _latency_data().clamp_min(0.1).to(dtype)  # well above threshold: finite half-precision times
    _same(fg.latency(data, **kwargs), sg.latency(data, **kwargs))
    assert not torch.equal(fg.latency_code(data, 25)[0], fg.latency_code(data.float(), 25)[0].to(dtype))


def test_latency_half_precision_overflow_is_not_reproduced():
    data = _latency_data(torch.float16)  # zeros: the fp16 log code's times are infinite
    assert torch.isinf(sg.latency_code(data, 25)[0]).any()
    sg.latency(data, 25)  # snnTorch's result then rests on int64 overflow of inf
    with pytest.raises(ValueError, match="float32"):
        fg.latency(data, 25)
    _same(fg.latency_code(data, 25)[0], sg.latency_code(data, 25)[0])  # the times themselves agree


def test_latency_positional_arguments_and_docstring_example():
    a = torch.tensor([0.02, 0.5, 1.0])
    args = (5, 0.01, 1, 0, 1, 0, False, True, True)  # num_steps ... normalize, linear
    _same(fg.latency(a, *args), sg.latency(a, *args))
    expected = torch.tensor([[0, 0, 1], [0, 0, 0], [0, 1, 0], [0, 0, 0], [1, 0, 0]], dtype=torch.float32)
    assert torch.equal(fg.latency(a, num_steps=5, normalize=True, linear=True), expected)


@pytest.mark.parametrize("shape", [(7,), (2, 3, 4), (1, 1)])
def test_latency_odd_shapes(shape):
    data = torch.rand(shape, generator=torch.Generator().manual_seed(1)) * 0.9 + 0.1
    _same(fg.latency(data, 8, normalize=True), sg.latency(data, 8, normalize=True))
    noncontig = torch.rand(5, 3).t() * 0.9 + 0.1
    _same(fg.latency(noncontig, 8, tau=2), sg.latency(noncontig, 8, tau=2))


@pytest.mark.parametrize("linear", [False, True])
@pytest.mark.parametrize(
    "kwargs",
    [{"num_steps": 9}, {"num_steps": 9, "normalize": True, "first_spike_time": 2}, {"tau": 3, "threshold": 0.2}],
)
def test_latency_code_matches_snntorch(linear, kwargs):
    data = _latency_data(torch.float64)
    t, idx = fg.latency_code(data, linear=linear, **kwargs)
    t_ref, idx_ref = sg.latency_code(data, linear=linear, **kwargs)
    _same(t, t_ref)
    _same(idx, idx_ref)
    one = fg.latency_code_linear if linear else fg.latency_code_log
    ref = sg.latency_code_linear if linear else sg.latency_code_log
    _same(one(data, **kwargs), ref(data, **kwargs))


def test_latency_code_linear_rescales_negative_times_like_snntorch():
    data = torch.tensor([0.2, 1.5, 0.9])  # above 1: negative linear times
    _same(fg.latency_code_linear(data, 6, normalize=True), sg.latency_code_linear(data, 6, normalize=True))


@pytest.mark.parametrize(
    "kwargs",
    [
        {"num_steps": 10, "threshold": 1.5},
        {"num_steps": 10, "threshold": 0.0},
        {"num_steps": 10, "tau": 0},
        {"num_steps": 10, "first_spike_time": 10},
        {"num_steps": 10, "first_spike_time": -1},
        {},  # neither num_steps nor bypass
        {"num_steps": 3, "tau": 5},  # latest spike beyond the end
        {"num_steps": 3, "tau": 5, "clip": True},  # clipped inputs still count, as in snnTorch
        {"normalize": True, "bypass": True},
    ],
)
def test_latency_bad_arguments_raise_like_snntorch(kwargs):
    data = _latency_data()
    _both_raise(lambda m: m.latency(data, **kwargs))


@pytest.mark.parametrize("bad", [-0.1, 1.5])
def test_latency_data_out_of_range(bad):
    data = _latency_data()
    data[1, 1] = bad
    _both_raise(lambda m: m.latency(data, 10, normalize=True))


# ---------------------------------------------------------------------------- delta


@pytest.mark.parametrize("padding", [False, True])
@pytest.mark.parametrize("off_spike", [False, True])
@pytest.mark.parametrize("threshold", [0.2, 0.0, -0.1])
def test_delta_matches_snntorch(padding, off_spike, threshold):
    data = torch.randn(9, 3, 4, generator=torch.Generator().manual_seed(2)).cumsum(0) * 0.3
    data[4] = data[3]  # no change at one step
    _same(fg.delta(data, threshold, padding, off_spike), sg.delta(data, threshold, padding, off_spike))


def test_delta_integer_and_docstring_examples():
    ints = torch.tensor([0, 2, 1, 1, 5])
    _same(fg.delta(ints, 1, off_spike=True), sg.delta(ints, 1, off_spike=True))
    b = torch.tensor([1, 2, 0, 2, 2.9])
    assert fg.delta(b, threshold=1, padding=True, off_spike=True).tolist() == [0, 1, -1, 1, 0]


def test_delta_rejects_non_tensors_and_scalars():
    with pytest.raises(TypeError):
        fg.delta([1.0, 2.0])
    with pytest.raises(ValueError, match=r"\[T"):
        fg.delta(torch.tensor(1.0))


# -------------------------------------------------------------------------- targets


def test_one_hot_helpers_match_snntorch():
    targets = torch.tensor([3, 0, 2, 2])
    _same(fg.to_one_hot(targets, 5), sg.to_one_hot(targets, 5))
    _same(fg.to_one_hot(targets.float(), 4), sg.to_one_hot(targets.float(), 4))
    one_hot = sg.to_one_hot(targets, 5)
    _same(fg.to_one_hot_inverse(one_hot), sg.to_one_hot_inverse(one_hot))
    mixed = torch.tensor([[0.0, 2.0, -1.0], [1.0, 0.0, 0.5]])
    _same(fg.to_one_hot_inverse(mixed), sg.to_one_hot_inverse(mixed))
    for x in (torch.eye(4), one_hot, torch.tensor([0.0, 1.0, 1.0])):
        _same(fg.from_one_hot(x), sg.from_one_hot(x))


def test_to_one_hot_errors():
    _both_raise(lambda m: m.to_one_hot(torch.tensor([0, 4]), 4))
    with pytest.raises(ValueError, match="out of bounds"):
        fg.to_one_hot(torch.tensor([0, -1]), 4)
    with pytest.raises(ValueError, match=r"\[B\]"):
        fg.to_one_hot(torch.zeros(2, 2, dtype=torch.long), 4)


@pytest.mark.parametrize("pattern", ["regular", "Uniform", "poisson"])
@pytest.mark.parametrize("num_steps, first, rate", [(10, 0, 1), (10, 2, 0.3), (7, 7, 0.5), (9, 1, 0.25), (5, 0, 0)])
def test_target_rate_code_same_draws(pattern, num_steps, first, rate):
    ours = _seeded(fg.target_rate_code, 4, num_steps, first, rate, pattern)
    ref = _seeded(sg.target_rate_code, 4, num_steps, first, rate, pattern)
    for a, b in zip(ours, ref):
        _same(a, b)


def test_target_rate_code_errors():
    _both_raise(lambda m: m.target_rate_code(5, rate=1.5))
    _both_raise(lambda m: m.target_rate_code(5, first_spike_time=6))
    with pytest.raises(ValueError, match="firing_pattern"):
        fg.target_rate_code(5, rate=0.5, firing_pattern="burst")  # snnTorch returns None


@pytest.mark.parametrize(
    "times, num_steps, on, off",
    [
        ([0, 4], 5, 1, 0),
        ([0, 4], 5, 1.25, 0.25),
        ([1, 2, 6], 9, 1, 0),
        ([3], 8, 2.0, 0.5),
        ([2.0, 5.0], 6, 1, 0),
        ([], 4, 1, 0.3),
        ([7], 5, 1, 0),  # beyond the end
    ],
)
def test_rate_interpolate_matches_snntorch(times, num_steps, on, off):
    spike_time = torch.tensor(
        times, dtype=torch.long if all(isinstance(t, int) for t in times) and times else torch.float32
    )
    _same(fg.rate_interpolate(spike_time, num_steps, on, off), sg.rate_interpolate(spike_time, num_steps, on, off))


@pytest.mark.parametrize("on, off", [(1, 0), (1.25, 0.25), (3.0, -1.0)])
def test_latency_interpolate_matches_snntorch(on, off):
    spike_time = torch.tensor([[0.0, 4.0, 2.4, 9.0], [5.0, 1.6, 0.4, 6.0]])
    _same(fg.latency_interpolate(spike_time, 6, on, off), sg.latency_interpolate(spike_time, 6, on, off))
    no_zero = torch.tensor([3.0, 1.0, 12.0])
    _same(fg.latency_interpolate(no_zero, 6), sg.latency_interpolate(no_zero, 6))
    _both_raise(lambda m: m.latency_interpolate(spike_time, 6, on_target=0, off_target=1))


TARGET_RATE_CASES = [
    {},
    {"on_target": 1.5, "off_target": 0.25},
    {"on_target": 0.5, "off_target": -0.5},  # off replaced by 0 (on > off), as in snnTorch
    {"on_target": 0.2, "off_target": 0.7},  # on < off: exact values
    {"num_steps": 6, "first_spike_time": 2},
    {"num_steps": 6, "first_spike_time": 2, "on_target": 1.2, "off_target": 0.5},
    {"num_steps": 5, "first_spike_time": 1, "on_target": 0.5, "off_target": 0.8},
]


@pytest.mark.parametrize("kwargs", TARGET_RATE_CASES)
def test_targets_rate_and_convert_match_snntorch(kwargs):
    targets = torch.tensor([4, 0, 2])
    _same(fg.targets_rate(targets, 5, **kwargs), sg.targets_rate(targets, 5, **kwargs))
    _same(fg.targets_convert(targets, 5, **kwargs), sg.targets_convert(targets, 5, **kwargs))


def test_targets_rate_time_varying_is_not_reproduced():
    targets = torch.tensor([1, 2])
    with pytest.raises(RuntimeError):  # snnTorch 1.0: a broadcasting error
        sg.targets_rate(targets, 4, num_steps=6, correct_rate=0.5)
    for kwargs in ({"correct_rate": 0.5}, {"correct_rate": 0.8, "incorrect_rate": 0.2, "interpolate": True}):
        with pytest.raises(NotImplementedError, match=r"tritonsnn\.loss\.mse_count"):
            fg.targets_rate(targets, 4, num_steps=6, **kwargs)


@pytest.mark.parametrize(
    "kwargs",
    [
        {"correct_rate": 1.2},
        {"correct_rate": 0.5},  # needs num_steps
        {"num_steps": 4, "correct_rate": 0.2, "incorrect_rate": 0.5},
        {"firing_pattern": "burst"},
    ],
)
def test_targets_rate_argument_errors_like_snntorch(kwargs):
    _both_raise(lambda m: m.targets_rate(torch.tensor([0, 1]), 3, **kwargs))


@pytest.mark.parametrize(
    "kwargs",
    [
        {"num_steps": 5, "normalize": True},
        {"num_steps": 5, "normalize": True, "interpolate": True},
        {"num_steps": 20, "tau": 1.5, "clip": True, "on_target": 2.0},
        {"num_steps": 7, "linear": True, "normalize": True, "first_spike_time": 2},
        {"bypass": True},
    ],
)
def test_targets_latency_and_convert_match_snntorch(kwargs):
    targets = torch.tensor([0, 3, 1])
    _same(fg.targets_latency(targets, 4, **kwargs), sg.targets_latency(targets, 4, **kwargs))
    _same(
        fg.targets_convert(targets, 4, code="latency", **kwargs),
        sg.targets_convert(targets, 4, code="latency", **kwargs),
    )


def test_targets_convert_bad_code():
    _both_raise(lambda m: m.targets_convert(torch.tensor([0]), 3, code="phase"))


def test_no_warning_on_ordinary_calls():
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        fg.rate(torch.rand(2, 3), 4)
        fg.latency(torch.rand(2, 3) * 0.9 + 0.1, 10)
        fg.targets_convert(torch.tensor([1]), 3)
