"""No neuron synchronises the GPU, and a training step can be captured in a CUDA graph (GPU tier
only: ``TRITONSNN_TEST_CUDA=1``). tests/test_architecture.py checks the source for host reads on
every machine."""

import pytest
import torch
from torch import nn

import tritonsnn as tsnn

from .checks import assert_close
from .test_conformance import MODULE_CASES, draw, module_of, shape_of

pytestmark = pytest.mark.cuda


def _fwd_bwd(net, x):
    spikes, mem = net(x)
    (spikes.sum() + mem.sum()).backward()


@pytest.mark.parametrize("case", MODULE_CASES, ids=lambda c: c.name)
def test_neuron_step_does_not_synchronise(case):
    """Forward and backward of every neuron Module on the Triton backend, with float parameters and
    learnable ones, under ``torch.cuda.set_sync_debug_mode("error")`` (after a warm-up call, which
    autotunes and may synchronise)."""
    _, B, features = shape_of(case)
    x, p, _, _ = draw(case, 5, B, features, seed=3, learn=False)
    net = module_of(case, p, return_mem=True, backend="triton", **case.opts).cuda()
    x = x.detach().cuda().requires_grad_()
    _fwd_bwd(net, x)
    torch.cuda.synchronize()
    torch.cuda.set_sync_debug_mode("error")
    try:
        _fwd_bwd(net, x)
    finally:
        torch.cuda.set_sync_debug_mode("default")


def _net():
    torch.manual_seed(0)
    return nn.Sequential(
        nn.Linear(16, 32),
        tsnn.Leaky(beta=0.9, learn_beta=True, learn_threshold=True, backend="triton"),
        nn.Linear(32, 8),
        tsnn.Synaptic(0.8, 0.9, backend="triton"),
    ).cuda()


def test_training_step_captures_in_a_cuda_graph():
    """Forward and backward of a Linear -> Leaky -> Linear -> Synaptic network captured once and
    replayed on new data give the gradients of an eager run."""
    net, ref = _net(), _net()
    static_x = torch.randn(10, 4, 16, device="cuda")
    side = torch.cuda.Stream()
    side.wait_stream(torch.cuda.current_stream())
    with torch.cuda.stream(side):  # warm-up (autotuning) outside the capture
        for _ in range(3):
            net.zero_grad(set_to_none=True)
            net(static_x).sum().backward()
    torch.cuda.current_stream().wait_stream(side)
    net.zero_grad(set_to_none=True)
    graph = torch.cuda.CUDAGraph()
    with torch.cuda.graph(graph):
        static_loss = net(static_x).sum()
        static_loss.backward()
    new_x = torch.randn(10, 4, 16, device="cuda")
    static_x.copy_(new_x)
    graph.replay()
    torch.cuda.synchronize()
    loss = ref(new_x).sum()
    loss.backward()
    assert_close(static_loss, loss, 0, 1e-6, "loss")
    for (name, a), b in zip(net.named_parameters(), ref.parameters()):
        assert_close(a.grad, b.grad, 1e-6, 1e-5, name)
