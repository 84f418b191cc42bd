"""tsnn.Monitor: records and reductions of spikes and states equal what the layers return, in
multi-step, single-step and snnTorch-facade networks; layer selection, removal, clear errors."""

import copy

import pytest
import torch
from torch import nn

import tritonsnn as tsnn
import tritonsnn.snntorch as snn

from .checks import assert_close


def _net():
    torch.manual_seed(0)
    return nn.Sequential(
        nn.Linear(4, 5), tsnn.Leaky(0.9), nn.Linear(5, 3), tsnn.Synaptic(0.5, 0.9), nn.Linear(3, 2), tsnn.ALIF(0.8)
    )


def _x(T=7, seed=1):
    return torch.rand(T, 3, 4, generator=torch.Generator().manual_seed(seed)) * 3


def _returned(net, x):
    """Spikes and state sequences of every neuron layer, run layer by layer with return_state."""
    out = {}
    for name, layer in net.named_children():
        if isinstance(layer, tsnn.SpikingNeuron):
            layer.return_state = True
            x, state = layer(x)
            layer.return_state = False
            out[name] = dict(state, spikes=x)
        else:
            x = layer(x)
    return out


@pytest.mark.parametrize("state", ["spikes", "mem"])
def test_record_keeps_every_calls_values(state):
    net = _net()
    want = [_returned(net, _x(seed=s)) for s in (1, 2)]
    with tsnn.Monitor(net, state) as mon:
        outputs = [net(_x(seed=s)) for s in (1, 2)]
    assert torch.equal(outputs[0], want[0]["5"]["spikes"])  # the network's result is unchanged
    assert list(mon.values) == ["1", "3", "5"]
    for name, recorded in mon.values.items():
        assert len(recorded) == 2
        for got, calls in zip(recorded, want):
            assert torch.equal(got, calls[name][state]) and not got.requires_grad


def test_layer_specific_states_and_reductions():
    net = _net()
    want = [_returned(net, _x(T, seed=s)) for s, T in ((1, 7), (2, 4))]
    for state, layers in (("syn", ["3"]), ("adapt", tsnn.ALIF), ("mem", None)):
        for reduce in ("sum", "mean", "ema"):
            mon = tsnn.Monitor(net, state, reduce=reduce, layers=layers, decay=0.75)
            for s, T in ((1, 7), (2, 4)):
                net(_x(T, seed=s))
            mon.remove()
            for name, got in mon.values.items():
                seqs = [calls[name][state] for calls in want]
                if reduce == "sum":
                    expected = sum(q.sum((0, 1)) for q in seqs)
                elif reduce == "mean":
                    expected = torch.cat([q.flatten(0, 1) for q in seqs]).mean(0)
                else:
                    expected = 0.75 * seqs[0].mean((0, 1)) + 0.25 * seqs[1].mean((0, 1))
                assert_close(got, expected, 1e-6, 1e-6, f"{state} {reduce} {name}")
    assert list(tsnn.Monitor(net, "syn", layers=["3"]).values) == ["3"]


def test_single_step_and_facade_neurons_are_watched_step_by_step():
    torch.manual_seed(3)
    single = nn.Sequential(nn.Linear(4, 5), tsnn.Leaky(0.9, step_mode="single"))
    multi = nn.Sequential(single[0], tsnn.Leaky(0.9))
    x = _x()
    with tsnn.Monitor(single, "mem") as mon:
        for x_t in x:
            single(x_t)
    _, mem = tsnn.Leaky(0.9, return_mem=True)(multi[0](x))
    assert torch.equal(torch.stack(mon.values["1"]), mem)

    lif = snn.Leaky(beta=0.9, reset_mechanism="zero", reset_delay=False)
    with tsnn.Monitor(lif, "mem", reduce="sum") as total:
        mem, mems = None, []
        for x_t in x:
            _, mem = lif(x_t, mem)
            mems.append(mem)
    assert list(total.values) == ["Leaky"]
    assert_close(total.values["Leaky"], torch.stack(mems).sum((0, 1)), 1e-6, 1e-6, "facade mem")


def test_removal_copies_and_errors():
    net = _net()
    mon = tsnn.Monitor(net, "spikes", reduce="sum")
    copied = copy.deepcopy(net)  # a copy is not monitored
    copied(_x())
    assert all(v is None for v in mon.values.values())
    net(_x())
    counts = {k: v.clone() for k, v in mon.values.items()}
    mon.remove()
    net(_x())
    assert all(torch.equal(mon.values[k], counts[k]) for k in counts)
    mon.reset()
    assert all(v is None for v in mon.values.values())
    with pytest.raises(ValueError, match="layer '1' \\(Leaky\\) has no state 'syn'"):
        with tsnn.Monitor(net, "syn"):
            net(_x())
    with pytest.raises(ValueError, match="reduce must be one of"):
        tsnn.Monitor(net, reduce="max")
    with pytest.raises(ValueError, match=r"layers \['9'\] are not spiking layers"):
        tsnn.Monitor(net, layers=["9"])
    with pytest.raises(ValueError, match="no spiking layers"):
        tsnn.Monitor(nn.Linear(2, 2))


def test_recording_to_the_cpu_and_gradients_untouched():
    net = _net()
    x = _x().requires_grad_()
    plain = torch.autograd.grad(net(x).sum(), x)[0]
    with tsnn.Monitor(net, "mem", device="cpu") as mon:
        monitored = torch.autograd.grad(net(x).sum(), x)[0]
    assert torch.equal(plain, monitored)
    assert all(v[0].device.type == "cpu" for v in mon.values.values())


def test_time_chunked_recomputation_is_not_seen_twice():
    net = _net()
    x = _x(T=11)
    with tsnn.Monitor(net, "spikes", reduce="sum") as plain:
        net(x).sum().backward()
    chunked = tsnn.memory.TimeChunked(net, 4)
    with tsnn.Monitor(net, "spikes", reduce="sum") as watched:
        chunked(x).sum().backward()  # backward recomputes every chunk
    for name, counts in plain.values.items():
        assert torch.equal(watched.values[name], counts)
