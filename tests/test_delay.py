"""Per-channel fractional delays: both backends against the step-by-step reference."""

import math

import pytest
import torch
from torch import nn

import tritonsnn as tsnn
import tritonsnn.functional as F

from .reference_synapses import delay_ref
from .test_synapses import assert_close

BACKENDS = ["torch", "triton"]


def _grads(loss, tensors):
    return torch.autograd.grad(loss, tensors)


@pytest.mark.parametrize("backend", BACKENDS)
@pytest.mark.parametrize("T,B,N", [(1, 1, 1), (6, 3, 7), (8, 2, 5)])
@pytest.mark.parametrize("kind", ["integer", "fractional", "scalar"])
def test_delay_matches_reference(backend, T, B, N, kind, device):
    gen = torch.Generator().manual_seed(T * 31 + N)
    x = torch.randn(T, B, N, generator=gen).to(device).requires_grad_()
    if kind == "scalar":
        d = torch.tensor(min(1.25, T - 0.5), requires_grad=True)
    else:
        d = torch.rand(N, generator=gen) * (T - 0.01)
        d = (d.floor() if kind == "integer" else d).requires_grad_()
    y = F.delay(x, d, backend=backend)
    ref = delay_ref(x, d.expand(N))
    assert y.dtype == x.dtype
    assert_close(y, ref, 1e-6, 1e-6, "delayed sequence")
    w = torch.randn(T, B, N, generator=gen).to(device)
    got = _grads((y * w).sum(), [x, d])
    want = _grads((ref * w).sum(), [x, d])
    assert_close(got[0], want[0], 1e-5, 1e-6, "dx")
    assert_close(got[1], want[1], 1e-4, 1e-5, "ddelay")


@pytest.mark.parametrize("backend", BACKENDS)
def test_integer_delay_is_a_shift_with_zero_padding(backend, device):
    x = torch.arange(1, 6, dtype=torch.float32).reshape(5, 1, 1).expand(5, 2, 3).to(device)
    y = F.delay(x, torch.tensor([0.0, 2.0, 4.0]), backend=backend)
    assert torch.equal(y[:, 0, 0], torch.tensor([1.0, 2, 3, 4, 5]))
    assert torch.equal(y[:, 1, 1], torch.tensor([0.0, 0, 1, 2, 3]))
    assert torch.equal(y[:, 0, 2], torch.tensor([0.0, 0, 0, 0, 1]))


@pytest.mark.parametrize("backend", BACKENDS)
def test_delay_gradient_is_interpolation_slope(backend, device):
    # x is a ramp: any delay's gradient of sum(y) is the slope -1 per step that sees two samples.
    x = torch.arange(6, dtype=torch.float32).reshape(6, 1, 1).to(device) + 1.0
    d = torch.tensor([1.5], requires_grad=True)
    F.delay(x, d, backend=backend).sum().backward()
    # steps t = 2..5 read x[t-1] and x[t-2] (slope -1 each); t = 1 reads x[0] and the zero pad (slope -1).
    assert_close(d.grad, torch.tensor([-5.0]), 1e-6, 1e-6, "ddelay")


@pytest.mark.parametrize("backend", BACKENDS)
@pytest.mark.parametrize("dtype", [torch.float16, torch.bfloat16])
def test_delay_low_precision_and_non_contiguous(backend, dtype, device):
    if backend == "triton" and dtype == torch.bfloat16 and device == "cpu":
        pytest.skip("the Triton interpreter has no bf16 arithmetic")
    gen = torch.Generator().manual_seed(9)
    x = torch.randn(4, 6, 5, generator=gen).to(device, dtype).permute(1, 2, 0)  # [6, 5, 4], strided
    d = torch.tensor([0.0, 0.5, 1.0, 2.75])
    y = F.delay(x, d, backend=backend)
    assert y.dtype == dtype
    ref = delay_ref(x.float(), d)
    assert_close(y, ref, 1e-2, 1e-2, "low precision delay")


def test_delays_in_milliseconds_and_feature_broadcast():
    x = torch.randn(10, 2, 3, 4)
    by_ms = F.delay(x, torch.tensor([1.0, 2.0, 3.0])[:, None], dt=0.5)  # per channel of [3, 4]
    by_steps = F.delay(x, torch.tensor([2.0, 4.0, 6.0])[:, None])
    assert torch.equal(by_ms, by_steps)
    assert torch.equal(by_steps[:, :, 1], torch.cat([torch.zeros(4, 2, 4), x[:6, :, 1]]))


def test_stateful_delay_matches_whole_sequence():
    gen = torch.Generator().manual_seed(2)
    x = torch.randn(12, 2, 4, generator=gen)
    d = torch.tensor([0.0, 1.5, 3.0, 4.25])
    whole = tsnn.Delay(d)(x)
    layer = tsnn.Delay(d, stateful=True)
    chunks = torch.cat([layer(x[i : i + 3]) for i in range(0, 12, 3)])  # chunks shorter than the delays
    assert_close(chunks, whole, 1e-6, 1e-6, "stateful chunks")
    tsnn.reset(layer)
    assert layer.history is None


@pytest.mark.parametrize("backend", BACKENDS)
def test_stateful_learned_delays_keep_the_spikes_in_flight(backend):
    # A learned delay whose integer part grows between chunks reaches back into input the
    # module kept (max_delay of history), so the chunked run equals the whole sequence with
    # the delays of each chunk.
    gen = torch.Generator().manual_seed(3)
    x = torch.randn(16, 2, 3, generator=gen)
    layer = tsnn.Delay(torch.tensor([0.5, 1.0, 1.5]), learn_delay=True, max_delay=6.0, stateful=True, backend=backend)
    outs, delays = [], []
    for i in range(0, 16, 4):
        delays.append(layer.delay.detach().clone())
        outs.append(layer(x[i : i + 4]))
        with torch.no_grad():
            layer.delay.add_(torch.tensor([1.0, 1.75, 2.5]))  # steps of a learning rule
    for k, (i, d) in enumerate(zip(range(0, 16, 4), delays)):
        whole = F.delay(x[: i + 4], d.clamp(max=6.0), backend=backend)[i:]
        assert_close(outs[k], whole, 1e-6, 1e-6, f"chunk {k}, delays {d.tolist()}")
    assert layer.history.shape[0] == 7  # floor(max_delay) + 1 steps


def test_stateful_learned_delays_need_max_delay():
    with pytest.raises(ValueError, match="max_delay="):
        tsnn.Delay(torch.ones(3), learn_delay=True, stateful=True)
    with pytest.raises(ValueError, match="max_delay must be a finite number >= every delay"):
        tsnn.Delay(torch.tensor([1.0, 4.0]), learn_delay=True, max_delay=2.0)
    with pytest.raises(ValueError, match="max_delay"):
        tsnn.Delay(torch.ones(3), max_delay=float("nan"))


def test_learned_delays_are_clamped_to_max_delay():
    layer = tsnn.Delay(torch.tensor([1.0, 2.0]), learn_delay=True, max_delay=3.0, dt=0.5)  # ms
    with torch.no_grad():
        layer.delay.copy_(torch.tensor([-1.0, 9.0]))
    x = torch.randn(12, 1, 2)
    assert torch.equal(layer(x), F.delay(x, torch.tensor([0.0, 3.0]), dt=0.5))


@pytest.mark.parametrize("stateful", [False, True])
def test_delay_compiles_without_graph_breaks(stateful):
    # fullgraph=True raises on any graph break (the host-side delay check used to be one).
    torch._dynamo.reset()
    layer = tsnn.Delay(torch.tensor([0.5, 2.0, 3.25]), learn_delay=True, max_delay=4.0, stateful=stateful)
    x = torch.randn(8, 2, 3)
    compiled = torch.compile(layer, fullgraph=True, backend="aot_eager")
    y_c = compiled(x)
    tsnn.reset(layer)
    y_e = layer(x)
    assert_close(y_c, y_e, 1e-6, 1e-6, "compiled delay")
    (g_c,) = torch.autograd.grad(y_c.sum(), layer.delay)
    (g_e,) = torch.autograd.grad(y_e.sum(), layer.delay)
    assert_close(g_c, g_e, 1e-6, 1e-6, "delay gradient")


def test_learnable_delays_find_the_target_delay():
    # A smooth input makes the loss in the delay smooth: gradient descent on the
    # interpolation slope recovers the delays that produced the target.
    t = torch.arange(40, dtype=torch.float32)
    x = torch.exp(-(((t[:, None, None] - torch.tensor([8.0, 12.0])[None, :, None]) / 4.0) ** 2)).expand(40, 2, 3)
    target_delays = torch.tensor([2.6, 5.3, 0.8])
    target = F.delay(x, target_delays)
    layer = tsnn.Delay(torch.tensor([3.5, 4.0, 2.0]), learn_delay=True)
    opt = torch.optim.Adam(layer.parameters(), lr=0.05)
    for _ in range(300):
        opt.zero_grad()
        ((layer(x) - target) ** 2).sum().backward()
        opt.step()
    assert_close(layer.delay.detach(), target_delays, 0, 0.05, "learned delays")


def test_bad_delays():
    x = torch.zeros(5, 2, 3)
    with pytest.raises(ValueError, match=">= 0"):
        F.delay(x, torch.tensor([0.0, -1.0, 2.0]))
    with pytest.raises(ValueError, match="shorter than the sequence"):
        F.delay(x, torch.tensor([0.0, 5.0, 2.0]))
    with pytest.raises(ValueError, match="shorter than the sequence"):
        F.delay(x, 3.0, dt=0.5)  # 6 steps
    with pytest.raises(ValueError, match="dt"):
        F.delay(x, 1.0, dt=-1)
    with pytest.raises(ValueError, match="broadcastable"):
        F.delay(x, torch.zeros(4))
    with pytest.raises(ValueError, match=">= 0"):
        tsnn.Delay(torch.tensor([1.0, -0.5]))
    with pytest.raises(ValueError, match="dt"):
        tsnn.Delay(1.0, dt=0)


# ----------------------------------------------------------------------------- per-synapse delays


def _delayed_linear_reference(x, weight, bias, delay):
    """y[t, b, o] = bias[o] + sum_i W[o, i] ((1 - f) x[t - k, b, i] + f x[t - k - 1, b, i]), d = k + f."""
    T, B, _ = x.shape
    padded = torch.cat([torch.zeros(int(delay.max()) + 2, *x.shape[1:], dtype=x.dtype), x])
    start = int(delay.max()) + 2
    y = torch.zeros(T, B, weight.shape[0], dtype=x.dtype) + bias
    for o in range(weight.shape[0]):
        for i in range(weight.shape[1]):
            k, f = int(delay[o, i]), float(delay[o, i] - int(delay[o, i]))
            t = torch.arange(T) + start
            y[:, :, o] += weight[o, i] * ((1 - f) * padded[t - k, :, i] + f * padded[t - k - 1, :, i])
    return y


def test_delayed_linear_gives_every_synapse_its_own_delay():
    g = torch.Generator().manual_seed(3)
    delay = torch.tensor([[0.0, 1.0, 2.0, 3.0], [0.5, 1.5, 2.25, 0.0], [4.0, 0.0, 1.0, 2.7]])
    layer = tsnn.DelayedLinear(4, 3, delay)
    x = torch.randn(9, 2, 4, generator=g)
    with torch.no_grad():
        want = _delayed_linear_reference(x, layer.weight, layer.bias, delay)
    assert_close(layer(x), want, 1e-6, 1e-6, "delayed linear")
    plain = nn.Linear(4, 3)
    same = tsnn.DelayedLinear(4, 3, 0.0)
    same.load_state_dict(plain.state_dict(), strict=False)
    assert_close(same(x), plain(x), 1e-6, 1e-6, "zero delays are nn.Linear")
    assert set(layer.state_dict()) == {"weight", "bias", "delay"}
    in_ms = tsnn.DelayedLinear(4, 3, delay * 2.0, dt=2.0)
    in_ms.load_state_dict({**layer.state_dict(), "delay": delay * 2.0})
    assert_close(in_ms(x), want, 1e-6, 1e-6, "delays in ms")


def test_delayed_linear_chunks_and_gradients():
    g = torch.Generator().manual_seed(4)
    delay = torch.rand(3, 5, generator=g) * 4
    x = torch.randn(12, 2, 5, generator=g)
    whole = tsnn.DelayedLinear(5, 3, delay)
    chunked = tsnn.DelayedLinear(5, 3, delay, stateful=True)
    chunked.load_state_dict(whole.state_dict())
    assert_close(torch.cat([chunked(x[:5]), chunked(x[5:])]), whole(x), 1e-6, 1e-6, "chunks")
    learn = tsnn.DelayedLinear(5, 3, delay, learn_delay=True, max_delay=5.0).double()
    xd = x.double().requires_grad_()
    assert torch.autograd.gradcheck(lambda x_: learn(x_), (xd,))
    delays = learn.delay.detach().clone().requires_grad_()  # fractional: away from the kernel's kinks
    assert torch.autograd.gradcheck(lambda d: torch.func.functional_call(learn, {"delay": d}, (xd,)), (delays,))
    with pytest.raises(ValueError, match="learn_delay=True needs max_delay"):
        tsnn.DelayedLinear(5, 3, delay, learn_delay=True)
    with pytest.raises(ValueError, match=r"must broadcast to \[out_features, in_features\] = \[3, 5\]"):
        tsnn.DelayedLinear(5, 3, torch.zeros(5, 3))
    with pytest.raises(ValueError, match="finite and >= 0"):
        tsnn.DelayedLinear(5, 3, -1.0)
    with pytest.raises(ValueError, match=r"expects \[T, B, 5\]"):
        whole(torch.zeros(4, 3))


def test_stateful_delayed_linear_keeps_enough_history_when_delays_grow():
    """The kept history is topped up with zeros to the longest delay's reach: a delay lengthened
    between calls still reads the steps it now needs (the same history code as tsnn.Delay)."""
    torch.manual_seed(0)
    layer = tsnn.DelayedLinear(2, 1, torch.tensor([[0.0, 1.0]]), stateful=True)
    x = torch.randn(6, 1, 2)
    layer(x[:3])
    with torch.no_grad():
        layer.delay.fill_(2.0)
    want = nn.functional.linear(x[1:4], layer.weight) + layer.bias  # y[t] = W x[t - 2]
    assert_close(layer(x[3:]), want, 1e-6, 1e-6, "after lengthening the delays")


def test_exp_decay_interpolation_delays_a_decaying_current_exactly():
    """Inferno's fractional delays of a synaptic current: ``x[t - ceil(d)]`` decayed over the
    ``ceil(d) - d`` steps to the delayed time. A current that only decays after a spike is then
    delayed exactly: ``i(t - d) = exp(-(t - d - t_spike) / tau)`` in continuous time."""
    tau, T = 3.0, 12
    current = torch.exp(-torch.arange(T, dtype=torch.float32) / tau).view(T, 1, 1)  # a spike at t = 0
    delays = torch.tensor([[0.0, 2.3, 4.0]]).T  # [O=3, I=1]
    layer = tsnn.DelayedLinear(1, 3, delays, bias=False, interpolation="exp_decay", tau=tau)
    with torch.no_grad():
        layer.weight.fill_(1.0)
        y = layer(current)[:, 0]  # [T, 3]
    t = torch.arange(T, dtype=torch.float32)[:, None]
    lag = t - delays.T
    want = torch.where(lag >= 0, torch.exp(-lag / tau), 0.0)
    assert_close(y[5:], want[5:], 1e-6, 1e-6, "delayed current")  # from ceil(d) on: inside the history
    assert y[2, 1] == 0 and y[3, 1] > 0  # d = 2.3 reads the current from step ceil(d) = 3 on
    g = torch.Generator().manual_seed(6)
    d = torch.rand(4, 5, generator=g) * 3
    x = torch.randn(10, 2, 5, generator=g)
    exp_layer = tsnn.DelayedLinear(5, 4, d, interpolation="exp_decay", tau=2.0, dt=None)
    k, f = torch.ceil(d), torch.ceil(d) - d
    want = exp_layer.bias.detach().expand(10, 2, 4).clone()
    for o in range(4):
        for i in range(5):
            lagged = torch.cat([torch.zeros(int(k[o, i]), 2), x[: 10 - int(k[o, i]), :, i]])
            want[:, :, o] += exp_layer.weight[o, i].detach() * lagged * torch.exp(-f[o, i] / 2.0)
    with torch.no_grad():
        assert_close(exp_layer(x), want, 1e-5, 1e-5, "synapse by synapse")
    assert "exp_decay" in repr(exp_layer)
    with pytest.raises(ValueError, match="needs tau="):
        tsnn.DelayedLinear(5, 4, d, interpolation="exp_decay")
    with pytest.raises(ValueError, match="interpolation must be"):
        tsnn.DelayedLinear(5, 4, d, interpolation="cubic")


def test_stdp_pairs_through_the_exp_decay_interpolation():
    g = torch.Generator().manual_seed(7)
    pre = (torch.rand(12, 2, 3, generator=g) < 0.4).float()
    post = (torch.rand(12, 2, 2, generator=g) < 0.4).float()
    layer = tsnn.DelayedLinear(
        3, 2, torch.tensor([[0.4, 1.0, 2.6], [1.5, 0.0, 3.2]]), interpolation="exp_decay", tau=4.0
    )
    kw = dict(a_plus=0.1, a_minus=0.05, decay_pre=0.8, decay_post=0.7, reduction="sum")
    got = tsnn.STDP(layer, a_plus=0.1, a_minus=0.05, tau_pre=-1 / math.log(0.8), tau_post=-1 / math.log(0.7),
                    reduction="sum")(pre, post)  # fmt: skip
    w, steps = layer.weight, layer.delay
    whole = [F.stdp(pre, post, w, delay=torch.full((2, 3), float(k)), **kw) for k in range(5)]
    want = sum(F.delay_shares(steps, k, 4.0) * whole[k] for k in range(5))
    assert_close(got, want, 1e-5, 1e-5, "the split over whole-step lags")
    linear = F.stdp(pre, post, w, delay=steps, **kw)
    assert not torch.allclose(got, linear)
