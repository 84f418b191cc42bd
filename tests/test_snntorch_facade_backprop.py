"""tritonsnn.snntorch.backprop and .utils against snnTorch's: same losses and weights."""

import warnings

import pytest
import torch
from torch import nn

import tritonsnn.snntorch as fsnn
from tritonsnn.snntorch import backprop, utils

snn = pytest.importorskip("snntorch")
with warnings.catch_warnings():
    warnings.simplefilter("ignore", DeprecationWarning)
    from snntorch import backprop as snn_backprop
from snntorch import functional as SF
from snntorch import utils as snn_utils

from .checks import assert_close


def make_net(m, last="Leaky"):
    torch.manual_seed(0)
    tail = (
        m.Leaky(0.8, init_hidden=True, output=True)
        if last == "Leaky"
        else m.Synaptic(0.5, 0.8, init_hidden=True, output=True)
    )
    return nn.Sequential(nn.Linear(6, 8), m.Leaky(0.9, init_hidden=True, learn_beta=True), nn.Linear(8, 3), tail)


def batches(time_var, time_first=True, n=2, T=5, B=4):
    g = torch.Generator().manual_seed(1)
    shape = ((T, B, 6) if time_first else (B, T, 6)) if time_var else (B, 6)
    return [(torch.randn(shape, generator=g) * 2 + 0.5, torch.randint(0, 3, (B,), generator=g)) for _ in range(n)]


def train(m, bp, fn, kwargs, last="Leaky", loss=None, reg=None, time_var=True, time_first=True):
    net = make_net(m, last)
    opt = torch.optim.Adam(net.parameters(), lr=1e-2)
    loss = loss or SF.mse_count_loss(correct_rate=0.8, incorrect_rate=0.2)
    data = batches(time_var, time_first)
    avg = getattr(bp, fn)(
        net, data, opt, loss, time_var=time_var, time_first=time_first, regularization=reg or False, **kwargs
    )
    return avg, net


CASES = {
    "bptt-time-varying": ("BPTT", {}, {}),
    "bptt-time-static": ("BPTT", {"num_steps": 5}, {"time_var": False}),
    "bptt-batch-first": ("BPTT", {}, {"time_first": False}),
    "tbptt-static-tail": ("TBPTT", {"num_steps": 5, "K": 2}, {"time_var": False}),
    "tbptt-static-even": ("TBPTT", {"num_steps": 4, "K": 2}, {"time_var": False}),
    "rtrl-static": ("RTRL", {"num_steps": 3}, {"time_var": False}),
    "bptt-regularised": ("BPTT", {}, {"reg": "l1"}),
    "bptt-ce-rate-synaptic": ("BPTT", {}, {"loss": "ce_rate", "last": "Synaptic"}),
    "bptt-membrane-loss": ("BPTT", {}, {"loss": "ce_max_membrane"}),
}


@pytest.mark.parametrize("case", list(CASES))
def test_training_loops_match_snntorch(case):
    fn, kwargs, opts = CASES[case]
    opts = dict(opts)
    extra = {}
    for key in ("time_var", "time_first", "last"):
        if key in opts:
            extra[key] = opts.pop(key)
    loss = {"ce_rate": SF.ce_rate_loss, "ce_max_membrane": SF.ce_max_membrane_loss}.get(opts.get("loss"))
    reg = SF.l1_rate_sparsity() if opts.get("reg") else None
    avg_ref, net_ref = train(snn, snn_backprop, fn, kwargs, loss=loss and loss(), reg=reg, **extra)
    avg, net = train(fsnn, backprop, fn, kwargs, loss=loss and loss(), reg=reg, **extra)
    assert_close(avg, avg_ref, 1e-6, 1e-5, f"{case} loss")
    for (name, p), p_ref in zip(net.named_parameters(), net_ref.parameters()):
        assert_close(p, p_ref, 1e-6, 1e-5, f"{case} {name}")


def test_tritonsnn_losses_are_recognised():
    """tritonsnn.loss's snnTorch-named loss classes work as criteria (same result as snnTorch's)."""
    import tritonsnn.loss as tloss

    avg_ref, net_ref = train(snn, snn_backprop, "TBPTT", {"num_steps": 5, "K": 2}, time_var=False)
    avg, net = train(
        fsnn,
        backprop,
        "TBPTT",
        {"num_steps": 5, "K": 2},
        time_var=False,
        loss=tloss.mse_count_loss(correct_rate=0.8, incorrect_rate=0.2),
    )
    assert_close(avg, avg_ref, 1e-6, 1e-5, "loss")
    assert_close(net[0].weight, net_ref[0].weight, 1e-6, 1e-5, "weights")


def test_tbptt_time_varying_with_k_runs():
    """snnTorch 1.0 raises UnboundLocalError here; the facade truncates every K steps."""
    data = batches(True)
    with pytest.raises(UnboundLocalError):
        net = make_net(snn)
        snn_backprop.TBPTT(net, data, torch.optim.SGD(net.parameters(), lr=0.1), SF.mse_count_loss(), K=2)
    net = make_net(fsnn)
    avg = backprop.TBPTT(net, data, torch.optim.SGD(net.parameters(), lr=0.1), SF.mse_count_loss(), K=2)
    assert torch.isfinite(avg)


def test_tbptt_detaches_every_neuron_class():
    """A mixed network (Leaky and Synaptic): snnTorch 1.0 detaches one class only and fails."""
    data = batches(False)
    for m, bp, fails in ((snn, snn_backprop, True), (fsnn, backprop, False)):
        net = make_net(m, last="Synaptic")
        opt = torch.optim.SGD(net.parameters(), lr=0.1)
        if fails:
            with pytest.raises(RuntimeError, match="backward through the graph a second time"):
                bp.TBPTT(net, data, opt, SF.mse_count_loss(), num_steps=4, time_var=False, K=2)
        else:
            assert torch.isfinite(bp.TBPTT(net, data, opt, SF.mse_count_loss(), num_steps=4, time_var=False, K=2))


def test_backprop_errors():
    net = make_net(fsnn)
    opt = torch.optim.SGD(net.parameters(), lr=0.1)
    data = batches(True)
    with pytest.raises(TypeError, match="criterion must be one of the losses"):
        backprop.BPTT(net, data, opt, nn.CrossEntropyLoss())
    with pytest.raises(TypeError, match="regularization must be one of"):
        backprop.BPTT(net, data, opt, SF.mse_count_loss(), regularization=SF.mse_count_loss())
    with pytest.raises(TypeError, match="last layer of net must be a tritonsnn.snntorch neuron"):
        backprop.BPTT(nn.Sequential(nn.Linear(6, 3)), data, opt, SF.mse_count_loss())
    with pytest.raises(ValueError, match="num_steps should not be given"):
        backprop.BPTT(net, data, opt, SF.mse_count_loss(), num_steps=3)
    with pytest.raises(ValueError, match="num_steps must be given"):
        backprop.BPTT(net, data, opt, SF.mse_count_loss(), time_var=False)
    with pytest.raises(ValueError, match="K must be less than or equal to num_steps"):
        backprop.TBPTT(net, data, opt, SF.mse_count_loss(), num_steps=3, time_var=False, K=4)


class _Data:
    def __init__(self, n):
        self.data = torch.arange(n * 2).reshape(n, 2)
        self.targets = torch.arange(n)

    def __len__(self):
        return len(self.data)


@pytest.mark.parametrize("split,seed", [(0.1, 0), (0.25, 3), (0.0, 1)])
def test_valid_split_matches_snntorch(split, seed):
    a_train, a_val = snn_utils.valid_split(_Data(40), _Data(40), split, seed)
    b_train, b_val = utils.valid_split(_Data(40), _Data(40), split, seed)
    for a, b in ((a_train, b_train), (a_val, b_val)):
        assert torch.equal(a.data, b.data) and torch.equal(a.targets, b.targets)


@pytest.mark.parametrize("subset,idx", [(1, 0), (4, 0), (4, 3), (3, 1)])
def test_data_subset_matches_snntorch(subset, idx):
    a = snn_utils.data_subset(_Data(30), subset, idx)
    b = utils.data_subset(_Data(30), subset, idx)
    assert torch.equal(a.data, b.data) and torch.equal(a.targets, b.targets)
