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
    [(0, ValueError, "num_steps"), (-3, ValueError, "num_steps"), (2.5, TypeError, "num_steps"),
     (True, TypeError, "num_steps")],
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
    (25, dict()),
    (60, dict(tau=5.0)),
    (60, dict(tau=5.0, clip=True)),
    (30, dict(tau=2.0, threshold=0.05, first_spike_time=3)),
    (10, dict(normalize=True)),
    (10, dict(normalize=True, first_spike_time=2, clip=True)),
    (10, dict(method="linear", tau=9.0)),
    (20, dict(method="linear", tau=4.0, first_spike_time=5, clip=True)),
    (8, dict(method="linear", normalize=True)),
    (8, dict(method="linear", normalize=True, first_spike_time=3, threshold=0.2)),
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
        (dict(method="exp"), "method"),
        (dict(threshold=0.0), "threshold"),
        (dict(threshold=1.0), "threshold"),
        (dict(tau=0.0), "tau"),
        (dict(first_spike_time=10), "first_spike_time"),
        (dict(first_spike_time=-1), "first_spike_time"),
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
