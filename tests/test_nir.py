"""NIR export/import: tritonsnn round trips, snnTorch interchange, NIR's own equations, clear errors."""

import warnings

import numpy as np
import pytest
import torch
from torch import nn

import tritonsnn as tsnn

nir = pytest.importorskip("nir")
from tritonsnn.nir import DEFAULT_DT, export_to_nir, import_from_nir

from .checks import TORCH_TESTING, assert_close


def _mlp(reset_mechanism="subtract", reset_delay=True):
    torch.manual_seed(0)
    return nn.Sequential(
        nn.Linear(7, 6),
        tsnn.Leaky(beta=0.9, threshold=0.8, reset_mechanism=reset_mechanism, reset_delay=reset_delay),
        nn.Linear(6, 5, bias=False),
        tsnn.IF(threshold=0.4, reset_mechanism=reset_mechanism, reset_delay=reset_delay),
        nn.Linear(5, 4),
        tsnn.Leaky(
            beta=torch.rand(4),
            threshold=torch.rand(4) * 0.5 + 0.1,
            reset_mechanism=reset_mechanism,
            reset_delay=reset_delay,
        ),
    )


def _synaptic_mlp():
    """Synaptic layers with snnTorch's default reset (kept by metadata) and NIR's, beside a Leaky."""
    torch.manual_seed(10)
    zero = {"reset_mechanism": "zero", "reset_delay": False}
    return nn.Sequential(
        nn.Linear(7, 6),
        tsnn.Synaptic(alpha=torch.rand(6), beta=0.8, threshold=0.9),
        nn.Linear(6, 5),
        tsnn.Synaptic(alpha=0.6, beta=torch.rand(5), threshold=torch.rand(5) * 0.5 + 0.2, **zero),
        nn.Linear(5, 4, bias=False),
        tsnn.Leaky(beta=0.7, threshold=0.3, **zero),
    )


def _conv():
    torch.manual_seed(1)
    zero = {"reset_mechanism": "zero", "reset_delay": False}
    return nn.Sequential(
        tsnn.MultiStep(nn.Conv2d(2, 3, 3, padding=1)),
        tsnn.Leaky(beta=torch.rand(3, 1, 1), **zero),
        tsnn.MultiStep(nn.AvgPool2d(2)),
        nn.Sequential(tsnn.MultiStep(nn.Conv2d(3, 4, 2, stride=1, bias=False)), tsnn.IF(threshold=0.2, **zero)),
        nn.Flatten(start_dim=2),
        nn.Linear(4 * 2 * 2, 3),
        tsnn.Leaky(beta=0.8, threshold=0.25, **zero),
    )


def _flat(net):
    for layer in net:
        yield from (_flat(layer) if isinstance(layer, nn.Sequential) else [layer])


def _run_with_mem(net, x):
    """Spikes of every neuron layer and the last membrane."""
    spikes = []
    for layer in _flat(net):
        if isinstance(layer, tsnn.SpikingNeuron):
            layer.return_mem = True
            x, mem = layer(x)
            layer.return_mem = False
            spikes.append(x)
        else:
            x = layer(x)
    return spikes, mem


def _one_to_one():
    torch.manual_seed(3)
    return nn.Sequential(
        nn.Linear(7, 5),
        tsnn.Leaky(beta=0.8, threshold=0.3, reset_mechanism="zero", reset_delay=False),
        tsnn.OneToOne(5, init=torch.rand(5) + 0.5),
        tsnn.Leaky(beta=0.7, threshold=0.2, reset_mechanism="zero", reset_delay=False),
    )


@pytest.mark.parametrize(
    "build, shape", [(_mlp, (9, 3, 7)), (_conv, (6, 2, 2, 6, 6)), (_synaptic_mlp, (9, 3, 7)), (_one_to_one, (9, 3, 7))]
)
@pytest.mark.parametrize("via_file", [False, True])
def test_round_trip_gives_identical_outputs(build, shape, via_file, tmp_path):
    net = build()
    torch.manual_seed(2)
    x = torch.rand(shape) * 3
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # subtract resets warn; tested below
        graph = export_to_nir(net, x)
    if via_file:
        nir.write(tmp_path / "net.nir", graph)
        graph = tmp_path / "net.nir"
    back = import_from_nir(graph)
    ref_spikes, ref_mem = _run_with_mem(net, x)
    got_spikes, got_mem = _run_with_mem(back, x)
    assert all(s.sum() > 0 for s in ref_spikes), "the test input must make every layer fire"
    for ref, got in zip(ref_spikes, got_spikes):
        assert torch.equal(ref, got)
    assert_close(got_mem, ref_mem, 1e-6, 0, "got_mem", **TORCH_TESTING)
    for (name, ref), (_, got) in zip(net.named_buffers(), back.named_buffers()):
        assert torch.equal(*torch.broadcast_tensors(ref, got)), name  # NIR stores one value per neuron


def test_grouped_same_padded_conv_round_trips_in_memory():
    torch.manual_seed(8)
    net = nn.Sequential(
        tsnn.MultiStep(nn.Conv2d(4, 6, 3, padding="same", groups=2)), tsnn.Leaky(beta=0.5, reset_mechanism="zero")
    )
    x = torch.rand(3, 2, 4, 5, 5) * 4
    back = import_from_nir(export_to_nir(net, x))
    assert back[0].layer.groups == 2 and back[0].layer.padding == "same"
    expected = net(x)
    assert expected.sum() > 0
    assert torch.equal(back(x), expected)


def test_export_node_types_and_parameters():
    net = _mlp(reset_mechanism="zero", reset_delay=False)
    graph = export_to_nir(net, torch.zeros(2, 1, 7))
    kinds = {k: type(v).__name__ for k, v in graph.nodes.items()}
    assert kinds == {
        "input": "Input",
        "0": "Affine",
        "1": "LIF",
        "2": "Linear",
        "3": "IF",
        "4": "Affine",
        "5": "LIF",
        "output": "Output",
    }
    assert graph.edges == [("input", "0"), ("0", "1"), ("1", "2"), ("2", "3"), ("3", "4"), ("4", "5"), ("5", "output")]
    lif = graph.nodes["1"]
    assert_close(lif.tau, np.full(6, DEFAULT_DT / (1 - np.float32(0.9))), 0, 1e-7, "lif.tau", elementwise=True)
    assert_close(lif.r, lif.tau / DEFAULT_DT, 0, 1e-7, "lif.r", elementwise=True)
    assert_close(lif.v_threshold, np.full(6, np.float32(0.8)), 0, 1e-7, "lif.v_threshold", elementwise=True)
    assert np.all(lif.v_leak == 0) and np.all(lif.v_reset == 0)
    assert_close(graph.nodes["3"].r, np.full(5, 1 / DEFAULT_DT), 0, 1e-7, "graph.nodes[3].r", elementwise=True)
    np.testing.assert_array_equal(graph.nodes["0"].weight, net[0].weight.detach().numpy())


def test_export_warns_for_resets_nir_cannot_describe():
    with pytest.warns(UserWarning, match="reset_mechanism='subtract'"):
        export_to_nir(_mlp(), torch.zeros(2, 1, 7))
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        export_to_nir(_mlp(reset_mechanism="zero"), torch.zeros(2, 1, 7))


def test_single_step_import_streams_like_multi_step():
    graph = export_to_nir(_conv(), torch.zeros(1, 1, 2, 6, 6))
    multi, single = import_from_nir(graph), import_from_nir(graph, step_mode="single")
    torch.manual_seed(3)
    x = torch.rand(7, 2, 2, 6, 6) * 3
    expected = multi(x)
    tsnn.reset(single)
    streamed = torch.stack([single(x_t) for x_t in x])
    assert expected.sum() > 0
    assert torch.equal(streamed, expected)


def _nir_reference(graph_nodes, x, dt=DEFAULT_DT):
    """NIR's equations, Euler-discretised, for a chain of Affine and LIF/IF/CubaLIF nodes; x: [T, B, N].

    CubaLIF updates its current first and feeds the new current to v (snnTorch's order)."""
    out = x.double()

    def as_array(a):
        return torch.tensor(np.asarray(a, dtype=np.float64))

    for node in graph_nodes:
        if isinstance(node, nir.Affine):
            out = out @ torch.tensor(node.weight).double().T + torch.tensor(node.bias).double()
            continue
        r, thr, v_reset = (as_array(a) for a in (node.r, node.v_threshold, node.v_reset))
        cur_decay, cur_gain = torch.zeros_like(r), torch.ones_like(r)  # LIF/IF: the current is the input
        if isinstance(node, nir.LIF):
            tau = as_array(node.tau)
            decay, gain = 1 - dt / tau, r * dt / tau
        elif isinstance(node, nir.CubaLIF):
            tau_syn, tau_mem = as_array(node.tau_syn), as_array(node.tau_mem)
            cur_decay, cur_gain = 1 - dt / tau_syn, as_array(node.w_in) * dt / tau_syn
            decay, gain = 1 - dt / tau_mem, r * dt / tau_mem
        else:
            decay, gain = torch.ones_like(r), r * dt
        current, v, spikes = torch.zeros_like(out[0]), torch.zeros_like(out[0]), []
        for i_t in out:
            current = cur_decay * current + cur_gain * i_t
            v = decay * v + gain * current
            z = (v > thr).double()
            v = torch.where(z.bool(), v_reset, v)
            spikes.append(z)
        out = torch.stack(spikes)
    return out


def test_import_follows_nir_equations_with_input_gain():
    """A hand-built graph whose gains R*dt/tau differ from 1 (folded into the threshold) and an IF with r = 1."""
    rng = np.random.default_rng(0)
    n_in, n_hid, n_out = 5, 6, 4
    tau = rng.uniform(2e-4, 2e-3, n_hid)
    nodes = {
        "input": nir.Input(input_type={"input": np.array([n_in])}),
        "fc1": nir.Affine(
            weight=rng.normal(size=(n_hid, n_in)).astype(np.float32), bias=rng.normal(size=n_hid).astype(np.float32)
        ),
        "lif": nir.LIF(
            tau=tau,
            r=rng.uniform(0.5, 3.0, n_hid) * tau / DEFAULT_DT,
            v_leak=np.zeros(n_hid),
            v_threshold=rng.uniform(0.5, 1.5, n_hid),
        ),
        "fc2": nir.Affine(weight=rng.normal(size=(n_out, n_hid)).astype(np.float32), bias=np.zeros(n_out, np.float32)),
        "if": nir.IF(r=np.ones(n_out), v_threshold=np.full(n_out, 1e-4)),  # sinabs-style r = 1
        "output": nir.Output(output_type={"output": np.array([n_out])}),
    }
    edges = [("input", "fc1"), ("fc1", "lif"), ("lif", "fc2"), ("fc2", "if"), ("if", "output")]
    graph = nir.NIRGraph(nodes=nodes, edges=edges)
    net = import_from_nir(graph)
    assert net.lif.reset_mechanism == "zero" and not net.lif.reset_delay
    torch.manual_seed(4)
    x = torch.rand(12, 3, n_in) * 2
    expected = _nir_reference([nodes[k] for k in ("fc1", "lif", "fc2", "if")], x)
    got = net(x)
    assert 0 < got.sum() < got.numel()
    assert torch.equal(got.double(), expected)


def test_import_cubalif_follows_nir_equations_with_input_gains():
    """A hand-built CubaLIF with w_in = 1 (other tools' default) and r != tau_mem/dt: both input gains
    fold into the threshold."""
    rng = np.random.default_rng(1)
    n_in, n_hid = 5, 6
    tau_syn, tau_mem = rng.uniform(1e-4, 1e-3, n_hid), rng.uniform(2e-4, 2e-3, n_hid)
    nodes = {
        "input": nir.Input(input_type={"input": np.array([n_in])}),
        "fc": nir.Affine(
            weight=rng.normal(size=(n_hid, n_in)).astype(np.float32), bias=rng.normal(size=n_hid).astype(np.float32)
        ),
        "cuba": nir.CubaLIF(
            tau_syn=tau_syn,
            tau_mem=tau_mem,
            r=rng.uniform(0.5, 3.0, n_hid) * tau_mem / DEFAULT_DT,
            v_leak=np.zeros(n_hid),
            v_threshold=rng.uniform(0.5, 1.5, n_hid),
            w_in=1.0,
        ),
        "output": nir.Output(output_type={"output": np.array([n_hid])}),
    }
    graph = nir.NIRGraph(nodes=nodes, edges=[("input", "fc"), ("fc", "cuba"), ("cuba", "output")])
    net = import_from_nir(graph)
    assert isinstance(net.cuba, tsnn.Synaptic)
    assert net.cuba.reset_mechanism == "zero" and not net.cuba.reset_delay
    assert_close(
        net.cuba.alpha,
        torch.tensor(1 - DEFAULT_DT / tau_syn, dtype=torch.float32),
        None,
        None,
        "net.cuba.alpha",
        **TORCH_TESTING,
    )
    assert_close(
        net.cuba.beta,
        torch.tensor(1 - DEFAULT_DT / tau_mem, dtype=torch.float32),
        None,
        None,
        "net.cuba.beta",
        **TORCH_TESTING,
    )
    torch.manual_seed(13)
    x = torch.rand(16, 3, n_in) * 2
    expected = _nir_reference([nodes["fc"], nodes["cuba"]], x)
    got = net(x)
    assert 0 < got.sum() < got.numel()
    assert torch.equal(got.double(), expected)


def test_synaptic_exports_as_snntorch_does():
    """Same Synaptic parameters through snnTorch's exporter and ours: the same CubaLIF node."""
    snn = pytest.importorskip("snntorch")
    torch.manual_seed(12)
    alpha, beta, threshold = torch.rand(6), torch.rand(6), torch.rand(6) + 0.5
    zero = {"reset_mechanism": "zero", "reset_delay": False}
    theirs = _export_from_snntorch(
        nn.Sequential(
            nn.Linear(8, 6), snn.Synaptic(alpha=alpha, beta=beta, threshold=threshold, init_hidden=True, **zero)
        )
    )
    ours = export_to_nir(
        nn.Sequential(nn.Linear(8, 6), tsnn.Synaptic(alpha, beta, threshold, **zero)), torch.zeros(2, 1, 8)
    )
    assert type(ours.nodes["1"]) is type(theirs.nodes["1"]) is nir.CubaLIF
    for field in ("tau_syn", "tau_mem", "r", "w_in", "v_leak", "v_threshold", "v_reset"):
        # snnTorch computes in float32, tritonsnn in float64
        assert_close(
            getattr(ours.nodes["1"], field), getattr(theirs.nodes["1"], field), 0, 1e-6, field, elementwise=True
        )


def _snntorch_synaptic_net(reset_mechanism, reset_delay):
    snn = pytest.importorskip("snntorch")
    torch.manual_seed(11)
    opts = {"init_hidden": True, "reset_mechanism": reset_mechanism, "reset_delay": reset_delay}
    return nn.Sequential(
        nn.Linear(8, 10),
        snn.Synaptic(
            alpha=torch.rand(10) * 0.9, beta=torch.rand(10) * 0.9 + 0.05, threshold=torch.rand(10) + 0.5, **opts
        ),
        nn.Linear(10, 4),
        snn.Leaky(beta=torch.full((4,), 0.85), threshold=torch.full((4,), 0.9), output=True, **opts),
    )


@pytest.mark.parametrize("reset_mechanism, reset_delay", [("zero", False), ("subtract", True)])
def test_snntorch_synaptic_export_imports_with_same_spikes(reset_mechanism, reset_delay):
    """snnTorch Linear+Synaptic+Linear+Leaky -> snnTorch's exporter (CubaLIF, LIF) -> tsnn: same spikes.

    NIR's zero/immediate reset needs no option; snnTorch's default subtract/delayed reset (which its
    exporter does not record) needs the override, and differs without it."""
    net = _snntorch_synaptic_net(reset_mechanism, reset_delay)
    graph = _export_from_snntorch(net)
    assert isinstance(graph.nodes["1"], nir.CubaLIF)
    torch.manual_seed(14)
    x = torch.rand(25, 4, 8) * 2
    expected = _snntorch_steps(net, x)
    assert 0 < expected.sum() < expected.numel()
    imported = import_from_nir(graph, reset_mechanism=reset_mechanism, reset_delay=reset_delay)
    assert isinstance(imported[1], tsnn.Synaptic)
    assert torch.equal(imported(x), expected)
    if reset_mechanism != "zero":
        assert not torch.equal(import_from_nir(graph)(x), expected)


def _snntorch_net(reset_mechanism, reset_delay):
    snn = pytest.importorskip("snntorch")
    torch.manual_seed(5)
    # snnTorch's exporter needs per-neuron beta/threshold to type-check the graph.
    opts = {"init_hidden": True, "reset_mechanism": reset_mechanism, "reset_delay": reset_delay}
    return nn.Sequential(
        nn.Linear(8, 10),
        snn.Leaky(beta=torch.rand(10) * 0.9 + 0.05, threshold=torch.rand(10) + 0.5, **opts),
        nn.Linear(10, 4),
        snn.Leaky(beta=torch.full((4,), 0.85), threshold=torch.full((4,), 0.9), output=True, **opts),
    )


def _snntorch_steps(net, x):
    from snntorch import utils

    utils.reset(net)
    with torch.no_grad():
        return torch.stack([net(x_t)[0] for x_t in x])


def _export_from_snntorch(net):
    pytest.importorskip("nirtorch")
    from snntorch.export_nir import export_to_nir as snntorch_export

    with warnings.catch_warnings():
        warnings.simplefilter("ignore", DeprecationWarning)  # nirtorch 2.x deprecates snnTorch's entry point
        return snntorch_export(net, torch.zeros(8))


def test_snntorch_export_imports_with_same_spikes():
    """snnTorch Leaky with NIR's reset (zero, immediate) -> snnTorch's exporter -> tsnn: same spikes."""
    net = _snntorch_net("zero", False)
    graph = _export_from_snntorch(net)
    imported = import_from_nir(graph)
    torch.manual_seed(6)
    x = torch.rand(25, 4, 8) * 2
    expected = _snntorch_steps(net, x)
    assert expected.sum() > 0
    assert torch.equal(imported(x), expected)


def test_snntorch_default_leaky_needs_the_subtract_override():
    """snnTorch exports its default subtract-reset Leaky as a zero-reset LIF; the override restores it."""
    net = _snntorch_net("subtract", True)
    graph = _export_from_snntorch(net)
    torch.manual_seed(7)
    x = torch.rand(25, 4, 8) * 2
    expected = _snntorch_steps(net, x)
    as_snntorch = import_from_nir(graph, reset_mechanism="subtract", reset_delay=True)
    assert torch.equal(as_snntorch(x), expected)
    as_nir_says = import_from_nir(graph)
    assert not torch.equal(as_nir_says(x), expected)


def _graph_with(node, name="odd"):
    return nir.NIRGraph(
        nodes={
            "input": nir.Input(input_type={"input": np.array([3])}),
            name: node,
            "output": nir.Output(output_type={"output": np.array([3])}),
        },
        edges=[("input", name), (name, "output")],
        type_check=False,
    )


@pytest.mark.parametrize(
    "node, kind", [(nir.Threshold(threshold=np.ones(3)), "Threshold"), (nir.Delay(delay=np.ones(3)), "Delay")]
)
def test_unsupported_node_names_its_type(node, kind):
    with pytest.raises(ValueError, match=rf"node 'odd' of NIR type {kind}\b"):
        import_from_nir(_graph_with(node))


def test_subgraph_node_other_than_a_recurrent_neuron_is_refused():
    inner = _graph_with(nir.Scale(scale=np.ones(3)))
    with pytest.raises(ValueError, match="subgraph 'rnn': only a recurrent neuron subgraph"):
        import_from_nir(_graph_with(inner, "rnn"))


@pytest.mark.parametrize(
    "node",
    [
        nir.LI(tau=np.full(3, 1e-3), r=np.ones(3), v_leak=np.zeros(3)),
        nir.CubaLI(tau_syn=np.full(3, 1e-3), tau_mem=np.full(3, 1e-3), r=np.full(3, 10.0), v_leak=np.zeros(3)),
    ],
)
def test_leaky_integrators_with_an_input_gain_are_refused(node):
    with pytest.raises(ValueError, match="input gain other than 1.*scale the weights"):
        import_from_nir(_graph_with(node))


# ----------------------------------------------------------------------------- recurrent layers, integrators


def _recurrent_net(kind, recurrence, reset_mechanism="zero", reset_delay=False):
    torch.manual_seed(21)
    decays = {"beta": torch.rand(6) * 0.5 + 0.4} if kind == "RLeaky" else {"alpha": 0.7, "beta": torch.rand(6) * 0.9}
    loop = dict(linear_features=6) if recurrence == "dense" else dict(all_to_all=False, V=torch.rand(6) - 0.3)
    neuron = getattr(tsnn, kind)(
        **decays, threshold=0.6, reset_mechanism=reset_mechanism, reset_delay=reset_delay, **loop
    )
    return nn.Sequential(
        nn.Linear(5, 6), neuron, nn.Linear(6, 4), tsnn.ExpSynapse(0.8), nn.Linear(4, 3), tsnn.DualExpSynapse(0.7, 0.5)
    )


@pytest.mark.parametrize("kind", ["RLeaky", "RSynaptic"])
@pytest.mark.parametrize("recurrence", ["dense", "one-to-one"])
@pytest.mark.parametrize("via_file", [False, True])
def test_recurrent_layers_and_integrators_round_trip(kind, recurrence, via_file, tmp_path):
    net = _recurrent_net(kind, recurrence)
    x = torch.rand(15, 3, 5) * 3
    graph = export_to_nir(net, x)
    assert isinstance(graph.nodes["1"], nir.NIRGraph)
    assert isinstance(graph.nodes["3"], nir.LI) and isinstance(graph.nodes["5"], nir.CubaLI)
    if via_file:
        nir.write(str(tmp_path / "rnn.nir"), graph)
        graph = str(tmp_path / "rnn.nir")
    back = import_from_nir(graph)
    assert isinstance(back[1], getattr(tsnn, kind)) and back[1].all_to_all == (recurrence == "dense")
    with torch.no_grad():
        hidden_spikes = net[:2](x)
        assert 0 < hidden_spikes.sum() < hidden_spikes.numel()
        assert torch.equal(back[:2](x), hidden_spikes)
        assert_close(back(x), net(x), 1e-6, 1e-6, "readout")


def test_a_flat_recurrent_loop_imports_as_its_subgraph():
    net = _recurrent_net("RLeaky", "dense")
    x = torch.rand(15, 3, 5) * 3
    graph = export_to_nir(net, x)
    sub = graph.nodes.pop("1")
    graph.nodes.update({"1": sub.nodes["lif"], "1_rec": sub.nodes["w_rec"]})
    graph.edges = [*graph.edges, ("1", "1_rec"), ("1_rec", "1")]
    with torch.no_grad():
        assert torch.equal(import_from_nir(graph)[:2](x), net[:2](x))


def test_recurrent_export_refuses_what_the_subgraph_cannot_hold():
    conv = nn.Sequential(tsnn.RLeaky(0.9, conv2d_channels=2, kernel_size=3))
    with pytest.raises(ValueError, match="over a vector of neurons"):
        export_to_nir(conv, torch.zeros(2, 1, 2, 4, 4))


def _snntorch_recurrent_net(kind, recurrence, reset_mechanism, reset_delay):
    snn = pytest.importorskip("snntorch")
    torch.manual_seed(23)
    decays = {"beta": torch.rand(6) * 0.5 + 0.4} if kind == "RLeaky" else {"alpha": 0.7, "beta": 0.8}
    loop = dict(linear_features=6) if recurrence == "dense" else dict(all_to_all=False, V=torch.rand(6) - 0.3)
    opts = {"init_hidden": True, "reset_mechanism": reset_mechanism, "reset_delay": reset_delay}
    return nn.Sequential(
        nn.Linear(8, 6),
        getattr(snn, kind)(**decays, threshold=0.7, **loop, **opts),
        nn.Linear(6, 4),
        snn.Leaky(beta=torch.full((4,), 0.85), threshold=torch.full((4,), 0.5), output=True, **opts),
    )


@pytest.mark.parametrize(
    "kind, reset_mechanism, reset_delay",
    # snnTorch 1.0 cannot export an RSynaptic with reset_delay=False (its tracer finds no graph)
    [
        ("RLeaky", "zero", False),
        ("RLeaky", "subtract", True),
        ("RSynaptic", "zero", True),
        ("RSynaptic", "subtract", True),
    ],
)
@pytest.mark.parametrize("recurrence", ["dense", "one-to-one"])
def test_snntorch_recurrent_export_imports_with_same_spikes(kind, recurrence, reset_mechanism, reset_delay):
    net = _snntorch_recurrent_net(kind, recurrence, reset_mechanism, reset_delay)
    graph = _export_from_snntorch(net)  # nirtorch 2 writes the loop flat: 1.lif <-> 1.w_rec
    assert ("1.lif", "1.w_rec") in graph.edges and ("1.w_rec", "1.lif") in graph.edges
    torch.manual_seed(24)
    x = torch.rand(25, 4, 8) * 2
    expected = _snntorch_steps(net, x)
    assert 0 < expected.sum() < expected.numel()
    imported = import_from_nir(graph, reset_mechanism=reset_mechanism, reset_delay=reset_delay)
    assert torch.equal(imported(x), expected)


@pytest.mark.parametrize("kind", ["RLeaky", "RSynaptic"])
@pytest.mark.parametrize("recurrence", ["dense", "one-to-one"])
def test_recurrent_export_imports_into_snntorch_with_same_spikes(kind, recurrence):
    pytest.importorskip("snntorch")
    pytest.importorskip("nirtorch")
    from snntorch.import_nir import import_from_nir as snntorch_import

    torch.manual_seed(25)
    decays = {"beta": 0.8} if kind == "RLeaky" else {"alpha": 0.7, "beta": 0.8}
    loop = dict(linear_features=6) if recurrence == "dense" else dict(all_to_all=False, V=torch.rand(6) - 0.3)
    net = nn.Sequential(
        nn.Linear(8, 6),
        getattr(tsnn, kind)(**decays, threshold=0.7, reset_mechanism="zero", reset_delay=False, **loop),
        nn.Linear(6, 4),
        tsnn.Leaky(beta=0.85, threshold=0.5, reset_mechanism="zero", reset_delay=False),
    )
    if recurrence == "dense":
        # tritonsnn and snnTorch add recurrent(s[-1] = 0), the bias, at step 0; the NIR interpreter that
        # snnTorch's importer builds (nirtorch) adds nothing before the loop has run once.
        with torch.no_grad():
            net[1].recurrent.bias.zero_()
    x = torch.rand(25, 4, 8) * 4
    graph = export_to_nir(net, x)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        theirs = snntorch_import(graph)
    state, got = None, []
    with torch.no_grad():
        for x_t in x:  # nirtorch's graph module carries its state explicitly
            out, state = theirs(x_t, state)
            got.append(out[0] if isinstance(out, tuple) else out)
        expected = net(x)
    assert 0 < expected.sum() < expected.numel()
    assert torch.equal(torch.stack(got), expected)


def test_branching_graph_is_refused():
    a, b = (nir.Linear(weight=np.eye(3, dtype=np.float32)) for _ in range(2))
    graph = nir.NIRGraph(
        nodes={
            "input": nir.Input(input_type={"input": np.array([3])}),
            "a": a,
            "b": b,
            "output": nir.Output(output_type={"output": np.array([3])}),
        },
        edges=[("input", "a"), ("input", "b"), ("a", "output"), ("b", "output")],
    )
    with pytest.raises(ValueError, match="more than one successor"):
        import_from_nir(graph)


def _lif_params():
    return nir.LIF, {
        "tau": np.full(3, 1e-3),
        "r": np.full(3, 10.0),
        "v_leak": np.zeros(3),
        "v_threshold": np.ones(3),
        "v_reset": np.zeros(3),
    }


def _cubalif_params():
    return nir.CubaLIF, {
        "tau_syn": np.full(3, 5e-4),
        "tau_mem": np.full(3, 1e-3),
        "r": np.full(3, 10.0),
        "w_in": np.full(3, 5.0),
        "v_leak": np.zeros(3),
        "v_threshold": np.ones(3),
        "v_reset": np.zeros(3),
    }


_COMMON_REFUSALS = [  # tritonsnn's v_rest and v_reset are one number per layer
    ("v_leak", [0.5, 0.2, 0.5], "v_leak differing between neurons"),
    ("v_reset", [0.5, 0.2, 0.5], "v_reset differing between neurons"),
    ("r", -1.0, "an input gain .* <= 0"),
]


@pytest.mark.parametrize(
    "params, field, value, message",
    [
        *[(_lif_params, *case) for case in _COMMON_REFUSALS],
        (_lif_params, "tau", 5e-5, "tau = 5e-05 < dt"),
        *[(_cubalif_params, *case) for case in _COMMON_REFUSALS],
        (_cubalif_params, "w_in", -1.0, "an input gain"),
        (_cubalif_params, "tau_syn", 5e-5, "tau_syn = 5e-05 < dt"),
        (_cubalif_params, "tau_mem", 5e-5, "tau_mem = 5e-05 < dt"),
    ],
)
def test_parameters_tsnn_cannot_represent_are_refused(params, field, value, message):
    kind, fields = params()
    fields[field] = np.full(3, value)
    with pytest.raises(ValueError, match=rf"node 'odd' \({kind.__name__}\) has {message}"):
        import_from_nir(_graph_with(kind(**fields)))


@pytest.mark.parametrize("params", [_lif_params, _cubalif_params])
@pytest.mark.parametrize("value", [np.nan, np.inf])
def test_non_finite_neuron_parameters_are_refused(params, value):
    kind, fields = params()
    field = "tau" if kind is nir.LIF else "tau_mem"
    fields[field] = np.array([1e-3, value, 1e-3])
    with pytest.raises(ValueError, match=rf"node 'odd' \({kind.__name__}\) has a non-finite {field}"):
        import_from_nir(_graph_with(kind(**fields)))


def _affine_then_lif(bias, lif_size):
    kind, fields = _lif_params()
    fields = {k: np.resize(v, lif_size) for k, v in fields.items()}
    return nir.NIRGraph(
        nodes={
            "input": nir.Input(input_type={"input": np.array([4])}),
            "fc": nir.Affine(weight=np.ones((6, 4), dtype=np.float32), bias=bias),
            "lif": kind(**fields),
            "output": nir.Output(output_type={"output": np.array([lif_size])}),
        },
        edges=[("input", "fc"), ("fc", "lif"), ("lif", "output")],
        type_check=False,
    )


def test_affine_bias_of_the_wrong_size_is_refused():
    with pytest.raises(ValueError, match=r"node 'fc' \(Affine\) has a bias of shape \(5,\)"):
        import_from_nir(_affine_then_lif(np.zeros(5, dtype=np.float32), 6))


def test_consecutive_node_sizes_must_agree():
    with pytest.raises(ValueError, match=r"node 'lif' \(LIF\) has 5 neurons but the layer before it gives 6"):
        import_from_nir(_affine_then_lif(np.zeros(6, dtype=np.float32), 5))
    net = import_from_nir(_affine_then_lif(np.zeros(6, dtype=np.float32), 6))  # sizes agree: imports
    assert net(torch.rand(3, 2, 4)).shape == (3, 2, 6)


def test_export_refuses_what_nir_neurons_cannot_describe():
    zero = {"reset_mechanism": "zero", "reset_delay": False}
    for neuron, message in [
        (tsnn.Synaptic(alpha=1.0, beta=0.9, **zero), "alpha = 1"),
        (tsnn.Synaptic(alpha=0.5, beta=torch.tensor([0.9, 1.0, 0.5]), **zero), "beta = 1"),
        (tsnn.Leaky(beta=torch.tensor([0.9, 1.0, 0.5]), **zero), "beta = 1"),
        (tsnn.Synaptic(alpha=0.5, beta=0.9, refractory=2.0, **zero), "refractory"),
    ]:
        with pytest.raises(ValueError, match=rf"layer '1' .*{message}"):
            export_to_nir(nn.Sequential(nn.Linear(3, 3), neuron), torch.zeros(2, 1, 3))


def test_export_refuses_unknown_layers_and_time_merging_flatten():
    with pytest.raises(TypeError, match="ReLU"):
        export_to_nir(nn.Sequential(nn.Linear(3, 3), nn.ReLU()), torch.zeros(2, 1, 3))
    net = nn.Sequential(tsnn.MultiStep(nn.Conv2d(1, 2, 3)), tsnn.Leaky(beta=0.9, reset_mechanism="zero"), nn.Flatten())
    with pytest.raises(ValueError, match="MultiStep\\(nn.Flatten\\(\\)\\)"):
        export_to_nir(net, torch.zeros(2, 1, 1, 5, 5))
    with pytest.raises(ValueError, match="sample_data must have shape \\[T, B"):
        export_to_nir(_mlp(reset_mechanism="zero"), torch.zeros(1, 7))


@pytest.mark.parametrize("hidden", ["Leaky", "Synaptic"])
def test_agrees_with_snntorchs_own_importer(hidden):
    """Same graph (LIF or CubaLIF hidden layer) through snnTorch's importer (uniform thresholds: it refuses
    per-neuron ones) and ours."""
    snn = pytest.importorskip("snntorch")
    from snntorch import utils
    from snntorch.import_nir import import_from_nir as snntorch_import

    torch.manual_seed(9)
    decays = {"beta": torch.rand(10)} if hidden == "Leaky" else {"alpha": torch.rand(10), "beta": torch.rand(10)}
    net = nn.Sequential(
        nn.Linear(8, 10),
        getattr(snn, hidden)(**decays, threshold=torch.full((10,), 0.5), init_hidden=True),
        nn.Linear(10, 4),
        snn.Leaky(beta=torch.full((4,), 0.85), threshold=torch.full((4,), 0.3), init_hidden=True, output=True),
    )
    graph = _export_from_snntorch(net)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        theirs = snntorch_import(graph)
    x = torch.rand(25, 4, 8) * 3
    utils.reset(theirs)
    with torch.no_grad():
        steps = [theirs(x_t) for x_t in x]
    expected = torch.stack([s[0] if isinstance(s, tuple) else s for s in steps])
    assert expected.sum() > 0
    assert torch.equal(import_from_nir(graph)(x), expected)


@pytest.mark.parametrize("via_file", [False, True])
def test_firing_at_the_threshold_survives_a_round_trip(via_file, tmp_path):
    """NIR does not say whether a membrane at the threshold fires: tritonsnn records
    ``fire_at_threshold`` in the node metadata and restores it, so ties fire after the trip too."""
    net = nn.Sequential(
        nn.Identity(), tsnn.IF(threshold=1.0, reset_mechanism="zero", reset_delay=False, fire_at_threshold=True)
    )
    x = torch.tensor([[[1.0, 0.5]], [[1.0, 0.5]], [[0.0, 0.5]]])  # the first neuron sits on the threshold
    graph = export_to_nir(net, x)
    if via_file:
        nir.write(tmp_path / "net.nir", graph)
        graph = tmp_path / "net.nir"
    back = import_from_nir(graph)
    assert torch.equal(back(x), net(x))
    assert net(x)[:, 0, 0].tolist() == [1.0, 1.0, 0.0]
    strict = export_to_nir(nn.Sequential(nn.Identity(), tsnn.IF(reset_mechanism="zero", reset_delay=False)), x)
    assert not any(getattr(n, "metadata", {}).get("tritonsnn.fire_at_threshold") for n in strict.nodes.values())
