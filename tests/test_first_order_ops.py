"""opcheck of first-order op flag sets that no neuron row calls (the rows' own ops, and torch.compile of every
neuron: tests/test_conformance.py)."""

import pytest
import torch

import tritonsnn as tsnn
from tritonsnn import ops
from tritonsnn.contracts import Dense, LifOptions, LifParams, LifState, surrogate_fields

ATAN = surrogate_fields(tsnn.surrogate.atan(2.0))


@pytest.mark.parametrize(
    "opts",
    [  # flag sets no neuron row of tests/cases.py calls (its rows: test_conformance.py)
        {"gain": torch.tensor([0.5]), "zero_whole": True, "refractory": 1}
    ],
)
@pytest.mark.parametrize("delay", [True, False])
def test_fake_kernels_pass_opcheck(opts, delay):
    x = torch.randn(4, 2, 3, requires_grad=True)
    beta = torch.tensor([0.9]).requires_grad_()
    thr = torch.tensor([1.0])
    state = LifState(None, opts.get("spk0"), opts.get("adapt0"), None)
    params = LifParams(beta, thr, opts.get("gain"), opts.get("v"), opts.get("rho"), opts.get("b"))
    options = LifOptions(
        0, delay, opts.get("zero_whole", False), opts.get("refractory", 0), True, False, **ATAN, use_triton=False
    )
    torch.library.opcheck(
        torch.ops.tritonsnn.lif_fwd.default,
        ops.lif.FWD.flatten(x=x, state=state, params=params, opts=options),
        test_utils=("test_schema", "test_faketensor", "test_autograd_registration"),
    )


@pytest.mark.parametrize("delay,refractory", [(False, 2)])  # other flags: rows rleaky-*, test_conformance.py
def test_dense_rleaky_op_passes_opcheck(delay, refractory):
    x = torch.randn(4, 2, 3, requires_grad=True)
    w = torch.randn(3, 3, requires_grad=True)
    bias = torch.randn(3, requires_grad=True)
    beta = torch.tensor([0.9]).requires_grad_()
    thr = torch.tensor([1.0])
    opts = LifOptions(0, delay, True, refractory, True, False, **ATAN, use_triton=False)
    conv_w = torch.randn(3, 3, 3, 3, requires_grad=True)  # 3 channels of 1x1 images
    for dense in (Dense(w, bias, None), Dense(conv_w, bias, [3, 1, 1])):
        torch.library.opcheck(
            torch.ops.tritonsnn.rleaky_dense_fwd.default,
            ops.recurrent.RLEAKY.flatten(
                x=x, state=LifState(None, None, None, None), dense=dense, params=LifParams(beta, thr), opts=opts
            ),
            test_utils=("test_schema", "test_faketensor", "test_autograd_registration"),
        )
