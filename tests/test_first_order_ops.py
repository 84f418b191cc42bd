"""The extended first-order op under torch.library's checks and torch.compile."""
import pytest
import torch
from torch import nn

import tritonsnn as tsnn
from .checks import assert_compiles_like_eager


@pytest.mark.parametrize("opts", [
    dict(refractory=2),
    dict(gain=torch.tensor([0.5]), zero_whole=True, refractory=1),
    dict(rec=torch.tensor([0.3, -0.2, 0.1]).requires_grad_(), s0=torch.zeros(2, 3), zero_whole=True),
    dict(rho=torch.tensor([0.9]).requires_grad_(), b=torch.tensor([0.2]).requires_grad_(),
         a0=torch.rand(2, 3), s0=torch.zeros(2, 3)),
])
@pytest.mark.parametrize("delay", [True, False])
def test_fake_kernels_pass_opcheck(opts, delay):
    if "rho" in opts and not delay:
        pytest.skip("ALIF runs with the delayed reset only")
    x = torch.randn(4, 2, 3, requires_grad=True)
    beta = torch.tensor([0.9]).requires_grad_()
    thr = torch.tensor([1.0])
    names = ["gain", "zero_whole", "rec", "s0", "refractory", "c0", "rho", "b", "a0"]
    defaults = [None, False, None, None, 0, None, None, None, None]
    extra = tuple(opts.get(n, d) for n, d in zip(names, defaults))
    torch.library.opcheck(torch.ops.tritonsnn.lif_fwd.default,
                          (x, None, beta, thr, 0, delay, True, 0, 2.0, False) + extra,
                          test_utils=("test_schema", "test_faketensor", "test_autograd_registration"))


@pytest.mark.parametrize("backend", ["torch", "triton"])
def test_fullgraph_compile_matches_eager(backend):
    torch.manual_seed(0)
    net = nn.Sequential(nn.Linear(6, 5), tsnn.Lapicque(beta=0.9, refractory=1.0, backend=backend),
                        nn.Linear(5, 5), tsnn.RLeaky(beta=0.8, V=0.3, all_to_all=False, backend=backend),
                        nn.Linear(5, 3), tsnn.ALIF(beta=0.9, learn_rho=True, learn_b=True,
                                                   return_mem=True, backend=backend))
    x = torch.randn(8, 2, 6) * 2
    assert_compiles_like_eager(net, x)


@pytest.mark.parametrize("delay,refractory", [(True, 0), (False, 2)])
def test_dense_rleaky_op_passes_opcheck(delay, refractory):
    x = torch.randn(4, 2, 3, requires_grad=True)
    w = torch.randn(3, 3, requires_grad=True)
    bias = torch.randn(3, requires_grad=True)
    beta = torch.tensor([0.9]).requires_grad_()
    thr = torch.tensor([1.0])
    torch.library.opcheck(torch.ops.tritonsnn.rleaky_dense_fwd.default,
                          (x, None, None, w, bias, beta, thr, 0, delay, 0, 2.0, False, refractory, None),
                          test_utils=("test_schema", "test_faketensor", "test_autograd_registration"))
    conv_w = torch.randn(3, 3, 3, 3, requires_grad=True)   # 3 channels of 1x1 images
    torch.library.opcheck(torch.ops.tritonsnn.rleaky_dense_fwd.default,
                          (x, None, None, conv_w, bias, beta, thr, 0, delay, 0, 2.0, False, refractory, None,
                           [3, 1, 1]),
                          test_utils=("test_schema", "test_faketensor", "test_autograd_registration"))
