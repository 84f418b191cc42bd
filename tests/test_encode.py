"""Encoders: shapes, definitions, snnTorch parity, statistics and bad input."""

import itertools

import pytest
import torch

from tritonsnn import encode

spikegen = pytest.importorskip("snntorch.spikegen")


# ----------------------------------------------------------------------------- rate


@pytest.mark.parametrize("dtype", [torch.float32, torch.float64, torch.float16])
def test_rate_shape_dtype_and_binary(dtype):
    data = torch.rand(3, 2, 5).to(dtype)
    out = encode.rate(data, 7)
    assert out.shape == (7, 3, 2, 5)
    assert out.dtype == dtype
    assert set(out.unique().tolist()) <= {0.0, 1.0}


def test_rate_matches_snntorch_under_same_seed():
    data = torch.rand(4, 6)
    torch.manual_seed(123)
    ref = spikegen.rate(data, num_steps=9, gain=0.7, offset=0.1)
    torch.manual_seed(123)
    out = encode.rate(data, 9, gain=0.7, offset=0.1)
    assert torch.equal(out, ref)


def test_rate_generator_is_reproducible_and_independent_of_global_rng():
    data = torch.rand(5, 8)
    a = encode.rate(data, 20, generator=torch.Generator().manual_seed(7))
    torch.rand(100)  # moving the global RNG must not matter
    b = encode.rate(data, 20, generator=torch.Generator().manual_seed(7))
    c = encode.rate(data, 20, generator=torch.Generator().manual_seed(8))
    assert torch.equal(a, b)
    assert not torch.equal(a, c)


def test_rate_statistics_match_probability():
    p = torch.linspace(0, 1, 11)
    num_steps = 4000
    out = encode.rate(p, num_steps, generator=torch.Generator().manual_seed(0))
    observed = out.mean(0)
    # 5 standard errors of a Bernoulli mean; exact at p = 0 and p = 1.
    tol = 5 * torch.sqrt(p * (1 - p) / num_steps) + 1e-12
    assert torch.all((observed - p).abs() <= tol), (observed, p)
    assert observed[0] == 0 and observed[-1] == 1


def test_rate_gain_and_offset_are_clamped_silently():
    data = torch.full((2, 3), 0.6)
    assert torch.all(encode.rate(data, 5, gain=2.0) == 1)  # p = 1.2 -> 1
    assert torch.all(encode.rate(data, 5, offset=-1.0) == 0)  # p = -0.4 -> 0


@pytest.mark.parametrize(
    "num_steps, exc, match",
    [
        (0, ValueError, "num_steps"),
        (-3, ValueError, "num_steps"),
        (2.5, TypeError, "num_steps"),
        (True, TypeError, "num_steps"),
    ],
)
def test_rate_bad_num_steps(num_steps, exc, match):
    with pytest.raises(exc, match=match):
        encode.rate(torch.rand(2, 2), num_steps)


def test_encoders_reject_integer_data():
    with pytest.raises(TypeError, match="data.*floating"):
        encode.rate(torch.randint(0, 255, (2, 3), dtype=torch.uint8), 4)
    with pytest.raises(TypeError, match="data.*floating"):
        encode.latency(torch.ones(2, 3, dtype=torch.int64), 4)
    with pytest.raises(TypeError, match="data.*floating"):
        encode.delta(torch.ones(4, 3, dtype=torch.int32))


# -------------------------------------------------------------------------- latency


def _latency_data():
    torch.manual_seed(0)
    data = torch.rand(4, 10)
    data[0, :3] = torch.tensor([0.0, 1.0, 0.005])  # zero, one, below threshold
    return data


_LATENCY_CASES = [
    # (num_steps, options); num_steps is large enough that snnTorch does not raise.
    (25, {}),
    (60, {"tau": 5.0}),
    (60, {"tau": 5.0, "clip": True}),
    (30, {"tau": 2.0, "threshold": 0.05, "first_spike_time": 3}),
    (10, {"normalize": True}),
    (10, {"normalize": True, "first_spike_time": 2, "clip": True}),
    (10, {"method": "linear", "tau": 9.0}),
    (20, {"method": "linear", "tau": 4.0, "first_spike_time": 5, "clip": True}),
    (8, {"method": "linear", "normalize": True}),
    (8, {"method": "linear", "normalize": True, "first_spike_time": 3, "threshold": 0.2}),
]


@pytest.mark.parametrize("num_steps, opts", _LATENCY_CASES)
@pytest.mark.parametrize("dtype", [torch.float32, torch.float64])
def test_latency_matches_snntorch(num_steps, opts, dtype):
    data = _latency_data().to(dtype)
    ref_opts = dict(opts)
    ref_opts["linear"] = ref_opts.pop("method", "log") == "linear"
    ref = spikegen.latency(data, num_steps=num_steps, **ref_opts)
    out = encode.latency(data, num_steps, **opts)
    assert out.shape == (num_steps, *data.shape)
    assert out.dtype == dtype
    assert torch.equal(out, ref.to(dtype))
    spikes_per_element = out.sum(0)
    if opts.get("clip"):
        assert torch.equal(spikes_per_element, (data >= opts.get("threshold", 0.01)).to(dtype))
    else:
        assert torch.all(spikes_per_element == 1)


def test_latency_docstring_example_of_snntorch():
    out = encode.latency(torch.tensor([0.02, 0.5, 1.0]), 5, normalize=True, method="linear")
    expected = torch.tensor([[0, 0, 1], [0, 0, 0], [0, 1, 0], [0, 0, 0], [1, 0, 0]], dtype=torch.float32)
    assert torch.equal(out, expected)


def test_latency_log_formula_by_hand():
    # t = tau * log(x / (x - thr)) = 2 * log(0.5 / 0.4) = 0.446 -> step 0; x = 0.11 -> 2*log(11) = 4.80 -> 5
    out = encode.latency(torch.tensor([0.5, 0.11]), 8, tau=2.0, threshold=0.1)
    assert out[:, 0].nonzero().item() == 0
    assert out[:, 1].nonzero().item() == 5


def test_latency_half_precision_computes_times_in_fp32():
    data = _latency_data()
    out = encode.latency(data.half(), 25)
    assert out.dtype == torch.float16
    assert torch.equal(out.float(), encode.latency(data.half().float(), 25))


def test_latency_clipped_inputs_do_not_trigger_range_error():
    data = torch.tensor([[0.0, 0.3, 1.0]])
    # the zero would spike at step 11 (> 9): snnTorch raises even with clip=True
    with pytest.raises(ValueError, match="num_steps"):
        encode.latency(data, 10)
    out = encode.latency(data, 10, clip=True)
    assert out[:, 0, 0].sum() == 0
    assert out[:, 0, 1:].sum(0).tolist() == [1.0, 1.0]


@pytest.mark.parametrize(
    "kwargs, match",
    [
        ({"method": "exp"}, "method"),
        ({"threshold": 0.0}, "threshold"),
        ({"threshold": 1.0}, "threshold"),
        ({"tau": 0.0}, "tau"),
        ({"first_spike_time": 10}, "first_spike_time"),
        ({"first_spike_time": -1}, "first_spike_time"),
    ],
)
def test_latency_bad_arguments(kwargs, match):
    with pytest.raises(ValueError, match=match):
        encode.latency(torch.rand(2, 3), 10, **{"normalize": True, **kwargs})


@pytest.mark.parametrize("bad", [-0.1, 1.5])
def test_latency_data_out_of_range(bad):
    data = torch.rand(2, 3)
    data[1, 1] = bad
    with pytest.raises(ValueError, match=r"data.*\[0, 1\]"):
        encode.latency(data, 10, normalize=True)


def test_latency_bad_num_steps():
    with pytest.raises(ValueError, match="num_steps"):
        encode.latency(torch.rand(2), 0)


# ---------------------------------------------------------------------------- delta


@pytest.mark.parametrize("padding, off_spike", list(itertools.product([False, True], repeat=2)))
def test_delta_matches_snntorch(padding, off_spike):
    torch.manual_seed(1)
    data = torch.randn(12, 3, 4).cumsum(0) * 0.3
    ref = spikegen.delta(data, threshold=0.2, padding=padding, off_spike=off_spike)
    out = encode.delta(data, 0.2, padding=padding, off_spike=off_spike)
    assert out.shape == data.shape and out.dtype == data.dtype
    assert torch.equal(out, ref)


def test_delta_docstring_examples_of_snntorch():
    a = torch.tensor([1, 2, 2.9, 3, 3.9])
    assert encode.delta(a, 1).tolist() == [1, 1, 0, 0, 0]
    assert encode.delta(a, 1, padding=True).tolist() == [0, 1, 0, 0, 0]
    b = torch.tensor([1, 2, 0, 2, 2.9])
    assert encode.delta(b, 1, off_spike=True).tolist() == [1, 1, -1, 1, 0]
    assert encode.delta(b, 1, padding=True, off_spike=True).tolist() == [0, 1, -1, 1, 0]


def test_delta_threshold_is_inclusive():
    data = torch.tensor([0.0, 0.5, 0.0], dtype=torch.float64)
    assert encode.delta(data, 0.5, off_spike=True).tolist() == [0, 1, -1]


@pytest.mark.parametrize("threshold", [0.0, -0.1])
def test_delta_bad_threshold(threshold):
    with pytest.raises(ValueError, match="threshold"):
        encode.delta(torch.rand(5, 2), threshold)


def test_delta_needs_time_dimension():
    with pytest.raises(ValueError, match=r"\[T, \.\.\.\]"):
        encode.delta(torch.tensor(1.0))


# ------------------------------------------------------- rate: time-varying data, first_spike_time


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
        ((), {}, "num_steps"),
        ((4,), {"time_var_input": True}, "num_steps"),
        ((4,), {"first_spike_time": 4}, "first_spike_time"),
        ((4,), {"first_spike_time": -1}, "first_spike_time"),
    ],
)
def test_native_rate_bad_arguments(args, kwargs, match):
    with pytest.raises(ValueError, match=match):
        encode.rate(torch.rand(2, 3), *args, **kwargs)


# ------------------------------------------- latency: times, late spikes, epsilon, time dtype


def test_native_latency_times_are_the_unrounded_steps():
    data = _latency_data()
    t = encode.latency_times(data, 30, tau=2.0)
    spikes = encode.latency(data, 30, tau=2.0)
    assert torch.equal(spikes.argmax(0), torch.round(t).long())
    assert torch.equal(encode.latency_times(data, tau=2.0), t)  # num_steps only matters for normalize


def test_native_latency_drops_late_spikes_on_request():
    data = torch.tensor([0.0, 0.3, 1.0])  # the zero would spike at step round(log(0.0100001 / 1e-7)) = 12
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
