"""tritonsnn.snntorch.spikegen against snntorch.spikegen itself: values, shapes, dtypes, RNG draws, errors."""

import warnings

import pytest
import torch

from tritonsnn import encode
from tritonsnn.snntorch import spikegen as fg

snntorch = pytest.importorskip("snntorch")
sg = pytest.importorskip("snntorch.spikegen")


def _same(a, b):
    assert a.shape == b.shape, (a.shape, b.shape)
    assert a.dtype == b.dtype, (a.dtype, b.dtype)
    assert torch.equal(a, b)


def _seeded(fn, seed, *args, **kwargs):
    torch.manual_seed(seed)
    return fn(*args, **kwargs)


def _both_raise(call):
    with pytest.raises(Exception):
        call(sg)
    with pytest.raises((ValueError, TypeError)):
        call(fg)


def test_public_names_cover_snntorch():
    public = {n for n in dir(sg) if not n.startswith("_") and n != "torch"}
    assert public <= set(dir(fg)), public - set(dir(fg))
    assert fg.dtype is sg.dtype


# ----------------------------------------------------------------------------- rate

RATE_CASES = [
    dict(num_steps=7),
    dict(num_steps=5, gain=0.6, offset=0.2),
    dict(num_steps=6, gain=2.0, offset=-0.5),  # saturates on both sides
    dict(num_steps=8, first_spike_time=3),
    dict(num_steps=1),
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
    kwargs = dict(time_var_input=True, first_spike_time=first_spike_time)
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
        dict(),  # no num_steps, not time-varying
        dict(num_steps=-1),
        dict(num_steps=5, first_spike_time=-1),
        dict(num_steps=5, first_spike_time=5),
        dict(num_steps=5, time_var_input=True),
        dict(first_spike_time=2),
    ],
)
def test_rate_bad_arguments_raise_like_snntorch(kwargs):
    data = torch.rand(3, 4)
    _both_raise(lambda m: m.rate(data, **kwargs))


def test_rate_integer_data_is_a_type_error():
    with pytest.raises(TypeError, match="floating"):
        fg.rate(torch.ones(2, 3, dtype=torch.uint8), 4)


# --------------------------------------------------------------------------- native rate


def test_native_rate_time_varying_applies_gain_and_generator():
    data = torch.full((400, 3), 0.25)
    out = encode.rate(data, time_var_input=True, gain=2.0, generator=torch.Generator().manual_seed(0))
    assert out.shape == data.shape
    assert abs(out.mean().item() - 0.5) < 0.06
    again = encode.rate(data, time_var_input=True, gain=2.0, generator=torch.Generator().manual_seed(0))
    assert torch.equal(out, again)


def test_native_rate_first_spike_time_static_and_time_varying():
    data = torch.ones(2, 3)
    static = encode.rate(data, 6, first_spike_time=4)
    assert static.shape == (6, 2, 3)
    assert static[:4].sum() == 0 and torch.all(static[4:] == 1)
    timed = encode.rate(torch.ones(3, 2), time_var_input=True, first_spike_time=2)
    assert timed.shape == (5, 2) and timed.dtype == torch.float32
    assert timed[:2].sum() == 0 and torch.all(timed[2:] == 1)
    half = encode.rate(torch.ones(3, 2, dtype=torch.float16), time_var_input=True, first_spike_time=1)
    assert half.dtype == torch.float16  # the native API keeps the dtype (snnTorch's would promote)


@pytest.mark.parametrize(
    "args, kwargs, match",
    [
        ((), dict(), "num_steps"),
        ((4,), dict(time_var_input=True), "num_steps"),
        ((4,), dict(first_spike_time=4), "first_spike_time"),
        ((4,), dict(first_spike_time=-1), "first_spike_time"),
    ],
)
def test_native_rate_bad_arguments(args, kwargs, match):
    with pytest.raises(ValueError, match=match):
        encode.rate(torch.rand(2, 3), *args, **kwargs)


# -------------------------------------------------------------------------- latency


def _latency_data(dtype=torch.float32):
    g = torch.Generator().manual_seed(0)
    data = torch.rand(4, 10, generator=g)
    data[0, :4] = torch.tensor([0.0, 1.0, 0.005, 0.5])  # zero, one, below threshold, a tie-prone value
    return data.to(dtype)


LATENCY_CASES = [
    dict(num_steps=25),
    dict(num_steps=60, tau=5),
    dict(num_steps=60, tau=5, clip=True),
    dict(num_steps=30, tau=2, threshold=0.05, first_spike_time=3),
    dict(num_steps=10, normalize=True),
    dict(num_steps=10, normalize=True, first_spike_time=2, clip=True),
    dict(num_steps=10, linear=True, tau=9),
    dict(num_steps=20, linear=True, tau=4, first_spike_time=5, clip=True),
    dict(num_steps=8, linear=True, normalize=True),
    dict(num_steps=8, linear=True, normalize=True, first_spike_time=3, threshold=0.2),
    dict(num_steps=14, on_target=1.5, off_target=0.25),
    dict(num_steps=14, on_target=0.5, off_target=0.75),  # off above on: all off
    dict(num_steps=14, on_target=-1.0, off_target=-0.5),
    dict(bypass=True),  # num_steps from the latest spike
    dict(bypass=True, tau=3, clip=True),
    dict(num_steps=5, tau=3, bypass=True),  # spikes past the end are dropped
    dict(num_steps=6, tau=3, bypass=True, linear=True),
    dict(num_steps=30, epsilon=1e-3),
    dict(num_steps=10, normalize=True, interpolate=True),
    dict(num_steps=9, linear=True, normalize=True, interpolate=True, on_target=1.2, off_target=0.2),
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
    [dict(num_steps=9), dict(num_steps=9, normalize=True, first_spike_time=2), dict(tau=3, threshold=0.2)],
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
        dict(num_steps=10, threshold=1.5),
        dict(num_steps=10, threshold=0.0),
        dict(num_steps=10, tau=0),
        dict(num_steps=10, first_spike_time=10),
        dict(num_steps=10, first_spike_time=-1),
        dict(),  # neither num_steps nor bypass
        dict(num_steps=3, tau=5),  # latest spike beyond the end
        dict(num_steps=3, tau=5, clip=True),  # clipped inputs still count, as in snnTorch
        dict(normalize=True, bypass=True),
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


# ------------------------------------------------------------------------ native latency


def test_native_latency_times_are_the_unrounded_steps():
    data = _latency_data()
    t = encode.latency_times(data, 30, tau=2.0)
    spikes = encode.latency(data, 30, tau=2.0)
    assert torch.equal(spikes.argmax(0), torch.round(t).long())
    assert torch.equal(encode.latency_times(data, tau=2.0), t)  # num_steps only matters for normalize


def test_native_latency_drops_late_spikes_on_request():
    data = torch.tensor([0.0, 0.3, 1.0])  # the zero would spike at step 5 (tau=1: log(1/0.01 * ...))
    with pytest.raises(ValueError, match="num_steps"):
        encode.latency(data, 3)
    out = encode.latency(data, 3, late_spikes="drop")
    assert out[:, 0].sum() == 0 and out[:, 1:].sum(0).tolist() == [1.0, 1.0]
    with pytest.raises(ValueError, match="late_spikes"):
        encode.latency(data, 3, late_spikes="clip")


def test_native_latency_epsilon_and_time_dtype():
    data = torch.tensor([0.0, 0.5])
    # x = 0 is clamped to threshold + epsilon = 0.011: t = log(0.011 / 0.001)
    assert encode.latency_times(data, epsilon=1e-3)[0].item() == pytest.approx(torch.log(torch.tensor(11.0)).item())
    half = encode.latency_times(data.half(), time_dtype=torch.float16)
    assert half.dtype == torch.float16
    assert encode.latency_times(data.half()).dtype == torch.float32


def test_native_latency_times_argument_errors():
    with pytest.raises(ValueError, match="normalize"):
        encode.latency_times(torch.rand(3), normalize=True)
    with pytest.raises(ValueError, match="first_spike_time"):
        encode.latency_times(torch.rand(3), 4, first_spike_time=4)
    with pytest.raises(ValueError, match="method"):
        encode.latency_times(torch.rand(3), method="exp")


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
    spike_time = torch.tensor(times, dtype=torch.long if all(isinstance(t, int) for t in times) and times
                              else torch.float32)
    _same(fg.rate_interpolate(spike_time, num_steps, on, off), sg.rate_interpolate(spike_time, num_steps, on, off))


@pytest.mark.parametrize("on, off", [(1, 0), (1.25, 0.25), (3.0, -1.0)])
def test_latency_interpolate_matches_snntorch(on, off):
    spike_time = torch.tensor([[0.0, 4.0, 2.4, 9.0], [5.0, 1.6, 0.4, 6.0]])
    _same(fg.latency_interpolate(spike_time, 6, on, off), sg.latency_interpolate(spike_time, 6, on, off))
    no_zero = torch.tensor([3.0, 1.0, 12.0])
    _same(fg.latency_interpolate(no_zero, 6), sg.latency_interpolate(no_zero, 6))
    _both_raise(lambda m: m.latency_interpolate(spike_time, 6, on_target=0, off_target=1))


TARGET_RATE_CASES = [
    dict(),
    dict(on_target=1.5, off_target=0.25),
    dict(on_target=0.5, off_target=-0.5),  # off replaced by 0 (on > off), as in snnTorch
    dict(on_target=0.2, off_target=0.7),  # on < off: exact values
    dict(num_steps=6, first_spike_time=2),
    dict(num_steps=6, first_spike_time=2, on_target=1.2, off_target=0.5),
    dict(num_steps=5, first_spike_time=1, on_target=0.5, off_target=0.8),
]


@pytest.mark.parametrize("kwargs", TARGET_RATE_CASES)
def test_targets_rate_and_convert_match_snntorch(kwargs):
    targets = torch.tensor([4, 0, 2])
    _same(fg.targets_rate(targets, 5, **kwargs), sg.targets_rate(targets, 5, **kwargs))
    _same(fg.targets_convert(targets, 5, **kwargs), sg.targets_convert(targets, 5, **kwargs))


def test_targets_rate_time_varying_is_not_reproduced():
    targets = torch.tensor([1, 2])
    with pytest.raises(Exception):  # snnTorch 1.0: broadcasting error (or a [T, B, C, B, C] tensor)
        sg.targets_rate(targets, 4, num_steps=6, correct_rate=0.5)
    for kwargs in (dict(correct_rate=0.5), dict(correct_rate=0.8, incorrect_rate=0.2, interpolate=True)):
        with pytest.raises(NotImplementedError, match=r"tritonsnn\.loss\.mse_count"):
            fg.targets_rate(targets, 4, num_steps=6, **kwargs)


@pytest.mark.parametrize(
    "kwargs",
    [
        dict(correct_rate=1.2),
        dict(correct_rate=0.5),  # needs num_steps
        dict(num_steps=4, correct_rate=0.2, incorrect_rate=0.5),
        dict(firing_pattern="burst"),
    ],
)
def test_targets_rate_argument_errors_like_snntorch(kwargs):
    _both_raise(lambda m: m.targets_rate(torch.tensor([0, 1]), 3, **kwargs))


@pytest.mark.parametrize(
    "kwargs",
    [
        dict(num_steps=5, normalize=True),
        dict(num_steps=5, normalize=True, interpolate=True),
        dict(num_steps=20, tau=1.5, clip=True, on_target=2.0),
        dict(num_steps=7, linear=True, normalize=True, first_spike_time=2),
        dict(bypass=True),
    ],
)
def test_targets_latency_and_convert_match_snntorch(kwargs):
    targets = torch.tensor([0, 3, 1])
    _same(fg.targets_latency(targets, 4, **kwargs), sg.targets_latency(targets, 4, **kwargs))
    _same(fg.targets_convert(targets, 4, code="latency", **kwargs),
          sg.targets_convert(targets, 4, code="latency", **kwargs))


def test_targets_convert_bad_code():
    _both_raise(lambda m: m.targets_convert(torch.tensor([0]), 3, code="phase"))


def test_no_warning_on_ordinary_calls():
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        fg.rate(torch.rand(2, 3), 4)
        fg.latency(torch.rand(2, 3) * 0.9 + 0.1, 10)
        fg.targets_convert(torch.tensor([1]), 3)
