"""Module API: nn.Sequential use, step modes, carried state, parameters, helpers."""

import pytest
import torch
from torch import nn

import tritonsnn as tsnn

from .checks import assert_close
from .reference import leaky_ref

BACKENDS = ["torch", "triton"]


@pytest.mark.parametrize("backend", BACKENDS)
def test_sequential_multistep(backend):
    torch.manual_seed(0)
    net = nn.Sequential(
        nn.Linear(12, 8), tsnn.Leaky(beta=0.9, backend=backend), nn.Linear(8, 3), tsnn.Leaky(beta=0.9, backend=backend)
    )
    x = torch.randn(7, 4, 12)
    out = net(x)
    assert out.shape == (7, 4, 3)
    out.sum().backward()
    assert net[0].weight.grad is not None and net[0].weight.grad.abs().sum() > 0


@pytest.mark.parametrize("backend", BACKENDS)
@pytest.mark.parametrize("delay", [True, False])
def test_single_step_equals_multi_step(backend, delay):
    x = torch.randn(9, 3, 6) * 1.5
    multi = tsnn.Leaky(beta=0.8, reset_delay=delay, return_mem=True, backend=backend)
    single = tsnn.Leaky(beta=0.8, reset_delay=delay, return_mem=True, step_mode="single", backend=backend)
    s_all, m_all = multi(x)
    steps = [single(x[t]) for t in range(x.shape[0])]
    assert torch.equal(torch.stack([s for s, _ in steps]), s_all)
    assert_close(torch.stack([m for _, m in steps]), m_all, 1e-6, 0, "membrane")


@pytest.mark.parametrize("backend", BACKENDS)
def test_stateful_chunks_equal_whole_sequence_with_gradients(backend):
    """Two chunks with the state carried (not detached) = one pass, values and gradients."""
    x = (torch.randn(10, 2, 5) * 1.5).requires_grad_()
    whole = tsnn.Leaky(beta=0.9, learn_beta=True, backend=backend)
    (whole(x) ** 2).sum().backward()
    grad_whole, beta_grad_whole = x.grad.clone(), whole.beta.grad.clone()
    x.grad = None
    chunked = tsnn.Leaky(beta=0.9, learn_beta=True, stateful=True, backend=backend)
    out = torch.cat([chunked(x[:4]), chunked(x[4:])])
    (out**2).sum().backward()
    assert_close(x.grad, grad_whole, 1e-6, 1e-5, "input grad through carried state")
    assert_close(chunked.beta.grad, beta_grad_whole, 1e-6, 1e-5, "beta grad")


def test_detach_cuts_the_graph_and_reset_zeroes():
    lif = tsnn.Leaky(beta=0.9, stateful=True)
    net = nn.Sequential(nn.Linear(3, 4), lif)
    x = torch.randn(5, 2, 3)
    net(x)
    assert lif.mem.requires_grad
    tsnn.detach(net)
    assert not lif.mem.requires_grad and lif.mem is not None
    tsnn.reset(net)
    assert lif.mem is None
    fresh = tsnn.Leaky(beta=0.9)
    assert torch.equal(net(x), fresh(net[0](x)))


def test_multi_step_default_starts_from_zero_every_call():
    lif = tsnn.Leaky(beta=0.9)
    x = torch.randn(4, 2, 3) * 2
    assert torch.equal(lif(x), lif(x))
    assert lif.mem is None


def test_return_mem_and_learnable_parameters():
    lif = tsnn.Leaky(beta=torch.full((6,), 0.7), threshold=0.8, learn_beta=True, learn_threshold=True, return_mem=True)
    names = {n for n, _ in lif.named_parameters()}
    assert names == {"beta", "threshold"}
    x = torch.randn(3, 2, 6)
    s, m = lif(x)
    s_ref, m_ref = leaky_ref(x, 0.7, 0.8)
    assert torch.equal(s, s_ref)
    assert_close(m, m_ref, 1e-6, 0, "membrane")
    assert s.shape == m.shape == (3, 2, 6) and m.dtype == torch.float32
    frozen = tsnn.Leaky(beta=0.7)
    assert list(frozen.parameters()) == [] and set(frozen.state_dict()) == {"threshold", "beta"}


def test_state_never_in_state_dict_and_batch_size_change():
    lif = tsnn.Leaky(beta=0.9, step_mode="single")
    lif(torch.randn(4, 3))
    assert "mem" not in lif.state_dict()
    out = lif(torch.randn(7, 3))  # new batch size: restarts from zero instead of failing
    assert out.shape == (7, 3)
    restored = tsnn.Leaky(beta=0.9, step_mode="single")
    restored.load_state_dict(lif.state_dict())


def test_if_neuron_module():
    x = torch.randn(6, 2, 4)
    s, m = tsnn.IF(threshold=0.7, return_mem=True)(x)
    s_ref, m_ref = leaky_ref(x, 1.0, 0.7)
    assert torch.equal(s, s_ref)
    assert_close(m, m_ref, 1e-6, 0, "membrane")
    assert "beta" not in dict(tsnn.IF().named_buffers())


def test_multistep_conv_layer():
    torch.manual_seed(0)
    conv = nn.Conv2d(2, 3, 3, padding=1)
    net = nn.Sequential(
        tsnn.MultiStep(conv),
        tsnn.Leaky(beta=torch.full((3, 1, 1), 0.9), learn_beta=True),
        tsnn.MultiStep(nn.Flatten()),
        nn.Linear(3 * 5 * 5, 2),
        tsnn.Leaky(beta=0.9),
    )
    x = torch.rand(4, 2, 2, 5, 5) * 3
    out = net(x)
    assert out.shape == (4, 2, 2)
    per_step = torch.stack([conv(x[t]) for t in range(4)])
    assert_close(net[0](x), per_step, 1e-6, 0, "MultiStep conv")
    out.sum().backward()
    assert net[1].beta.grad.shape == (3, 1, 1)


def test_multistep_runs_convolutions_a_few_steps_per_call():
    """On the CPU a convolution stack sees about FOLD_SAMPLES samples per call (several steps); the
    result and the gradients are those of one call on all steps, and a layer with batch statistics
    is never split."""
    torch.manual_seed(0)
    stack = nn.Sequential(nn.Conv2d(2, 3, 3), nn.MaxPool2d(2), nn.ReLU(), nn.Flatten())
    x = torch.rand(7, 96, 2, 6, 6, requires_grad=True)
    auto, whole = tsnn.MultiStep(stack), tsnn.MultiStep(stack, steps_per_call=0)
    assert auto._steps_per_call(x) == 2 and whole._steps_per_call(x) == 7
    calls = []
    hook = stack.register_forward_hook(lambda m, i, o: calls.append(i[0].shape[0]))
    y = auto(x)
    hook.remove()
    assert calls == [192, 192, 192, 96]
    y_ref = whole(x)
    assert_close(y, y_ref, 1e-6, 0, "chunked output")
    g = torch.randn_like(y)
    grads = torch.autograd.grad(y, [x, *stack.parameters()], g)
    grads_ref = torch.autograd.grad(y_ref, [x, *stack.parameters()], g)
    for a, b in zip(grads, grads_ref):
        assert_close(a, b, 1e-6, 1e-5, "chunked gradient")
    for layer in (nn.Sequential(nn.Conv2d(2, 3, 3), nn.BatchNorm2d(3)), nn.Linear(6, 2), nn.Flatten()):
        assert tsnn.MultiStep(layer)._steps_per_call(x) == 7
    assert tsnn.MultiStep(stack, steps_per_call=3)._steps_per_call(x) == 3
    with pytest.raises(ValueError, match="steps_per_call"):
        tsnn.MultiStep(stack, steps_per_call=-1)


def test_surrogate_by_name_and_repr():
    lif = tsnn.Leaky(beta=0.5, surrogate="fast_sigmoid")
    assert lif.surrogate == tsnn.surrogate.fast_sigmoid()
    assert "fast_sigmoid" in repr(lif)


def test_surrogate_callable_gives_heaviside_with_surrogate_gradient():
    x = torch.tensor([-0.5, 0.0, 0.5], requires_grad=True)
    s = tsnn.surrogate.atan(2.0)(x)
    assert s.tolist() == [0.0, 0.0, 1.0]
    s.sum().backward()
    expected = 1.0 / (1 + (torch.pi / 2 * 2.0 * x.detach()) ** 2)
    assert_close(x.grad, expected, 1e-7, 1e-6, "atan surrogate")


def test_conv_net_compiles_for_any_time_and_batch():
    """Inductor, with the time and batch axes dynamic (tsnn.utils.dynamic_time_and_batch): one graph,
    the eager spikes for every (T, B), sizes of 1 included."""
    torch.manual_seed(0)
    net = nn.Sequential(
        tsnn.MultiStep(nn.Conv2d(1, 2, 3, padding=1)),
        tsnn.Leaky(0.9, backend="torch"),
        tsnn.MultiStep(nn.Flatten()),
        nn.Linear(72, 3),
        tsnn.Leaky(0.9, backend="torch"),
    )
    torch._dynamo.reset()
    frames = []

    def count_graphs(gm, example_inputs):
        frames.append(gm)
        from torch._inductor.compile_fx import compile_fx

        return compile_fx(gm, example_inputs)

    compiled = torch.compile(net, backend=count_graphs)
    with torch.no_grad():
        for T, B in ((3, 2), (5, 4), (7, 3), (1, 3), (4, 1)):
            x = tsnn.utils.dynamic_time_and_batch(torch.rand(T, B, 1, 6, 6) * 2)
            assert torch.equal(compiled(x), net(x)), (T, B)
            if (T, B) == (5, 4):
                graphs = len(frames)
            if (T, B) == (7, 3):  # no recompilation for a new length and batch (sizes of 1 are specialised)
                assert len(frames) == graphs
    with pytest.raises(ValueError, match=r"\[T, B, \.\.\.\]"):
        tsnn.utils.dynamic_time_and_batch(torch.zeros(3))
