"""torch.compile traces networks of tritonsnn ops without graph breaks."""
import pytest
import torch
from torch import nn

import tritonsnn as tsnn
from tritonsnn import ops
from tritonsnn.contracts import LifOptions, LifParams, LifState, surrogate_fields

from .checks import assert_compiles_like_eager


@pytest.mark.parametrize("backend", ["torch", "triton"])
@pytest.mark.parametrize("delay", [True, False])
def test_fullgraph_compile_matches_eager(backend, delay):
    torch.manual_seed(0)
    net = nn.Sequential(nn.Linear(6, 5),
                        tsnn.Leaky(beta=torch.full((5,), 0.8), learn_beta=True, reset_delay=delay, backend=backend),
                        nn.Linear(5, 3), tsnn.Leaky(beta=0.9, learn_threshold=True, return_mem=True, backend=backend))
    x = torch.randn(8, 2, 6) * 2
    assert_compiles_like_eager(net, x)


def test_fake_kernels_pass_opcheck():
    """torch.library's own consistency checks of schema, fake kernel and autograd registration."""
    x = torch.randn(4, 2, 3, requires_grad=True)
    beta = torch.tensor([0.9]).requires_grad_()
    thr = torch.tensor([1.0])
    for delay, need_mem in [(True, True), (False, True), (False, False)]:
        opts = LifOptions(0, delay, False, 0, need_mem, **surrogate_fields(tsnn.surrogate.atan(2.0)),
                          use_triton=False)
        torch.library.opcheck(torch.ops.tritonsnn.lif_fwd.default,
                              ops.lif.FWD.flatten(x=x, state=LifState(None, None, None, None),
                                                  params=LifParams(beta, thr), opts=opts),
                              test_utils=("test_schema", "test_faketensor", "test_autograd_registration"))
