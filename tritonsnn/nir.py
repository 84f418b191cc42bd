"""Exchange networks with other SNN tools through NIR, the Neuromorphic Intermediate Representation.

NIR (``pip install nir``, or ``tritonsnn[nir]``) describes a network as a graph of
continuous-time nodes. :func:`export_to_nir` turns an ``nn.Sequential`` of
``Linear``/``Conv2d``/``AvgPool2d``/``Flatten`` layers (bare or wrapped in
:class:`tritonsnn.MultiStep`), :class:`tritonsnn.OneToOne` (``Scale``),
:class:`tritonsnn.Leaky` / :class:`tritonsnn.IF` /
:class:`tritonsnn.Synaptic` neurons, recurrent :class:`tritonsnn.RLeaky` /
:class:`tritonsnn.RSynaptic` layers and the :class:`tritonsnn.ExpSynapse` /
:class:`tritonsnn.DualExpSynapse` integrators into a :class:`nir.NIRGraph`;
:func:`import_from_nir` builds such a ``nn.Sequential`` from a chain of nodes.

A recurrent layer is a subgraph ``input -> LIF|CubaLIF -> output`` with the loop
``LIF -> w_rec -> LIF`` (snnTorch's form; ``w_rec`` the dense layer's ``Affine`` or the
one-to-one ``Linear(diag(V))``), which adds ``w_rec(s[t-1])`` to the neuron's input. Import
also takes the loop written flat in the outer graph (a 2-cycle). ``ExpSynapse(alpha)`` is
``LI(tau = dt / (1 - alpha), r = tau / dt)``: ``v[t] = alpha v[t-1] + x[t]``; and
``DualExpSynapse(alpha1, alpha2)`` is ``CubaLI`` with ``alpha1`` the current's decay and
``alpha2`` the membrane's, both input gains 1 (an integrator with another gain is refused
on import: nothing to fold it into).

Neurons follow snnTorch's NIR conventions, so graphs move between the two
packages with the same parameters. With a time step ``dt`` (``1e-4`` as in
snnTorch), NIR's ``LIF`` ``tau dv/dt = (v_leak - v) + R I`` discretised by Euler is
``v[t] = (1 - dt/tau) v[t-1] + (R dt/tau) I[t]``, so

* ``Leaky(beta, threshold, v_rest, v_reset)`` <-> ``LIF(tau = dt / (1 - beta), r = tau / dt,
  v_leak = v_rest, v_threshold = threshold, v_reset = v_reset)`` (Euler's ``(1 - beta) v_leak``
  is Leaky's leak towards ``v_rest``); beta = 1 (no leak) exports as ``IF``;
* ``IF(threshold)`` <-> ``IF(r = 1 / dt, v_threshold = threshold, v_reset = v_reset)``
  (NIR's ``IF`` is ``dv/dt = R I``, so the input gain per step is ``R dt``);
* ``Synaptic(alpha, beta, threshold)`` <-> ``CubaLIF(tau_syn = dt / (1 - alpha),
  tau_mem = dt / (1 - beta), w_in = tau_syn / dt, r = tau_mem / dt, v_leak = v_rest,
  v_threshold = threshold, v_reset = v_reset)``. NIR's ``tau_syn dI/dt = -I + w_in S``,
  ``tau_mem dv/dt = (v_leak - v) + R I``, Euler-discretised with the current updated
  first (snnTorch's order), is ``I[t] = alpha I[t-1] + (w_in dt / tau_syn) S[t]``,
  ``v[t] = beta v[t-1] + (R dt / tau_mem) I[t]``: both gains are 1 with these ``w_in``
  and ``r``. alpha = 1 or beta = 1 (tau = inf) cannot be exported.

On import, an input gain ``w = R dt / tau`` (``R dt`` for ``IF``, the product
``(w_in dt / tau_syn) (R dt / tau_mem)`` for ``CubaLIF``) other than 1 is folded
into the threshold (``threshold = v_threshold / w``), which gives the same spikes
(the node is linear below the threshold); the membrane tsnn reports is then NIR's
``v / w`` (and a Synaptic's current ``I / (w_in dt / tau_syn)``), and ``v_leak / w`` and
``v_reset / w`` are its ``v_rest`` and ``v_reset``, which must be one number per layer. Gains within 1e-5
of 1 are taken as 1: they are the float32 rounding of ``r = tau / dt``. (snnTorch's
own importer folds ``w_in`` the same way but requires ``r = tau_mem / dt``.)

Reset: NIR's neurons reset to ``v_reset`` as soon as they spike, i.e. tsnn's
``reset_mechanism="zero", reset_delay=False`` (what snnTorch's own importer
builds; a Synaptic's current is not reset, in NIR and snnTorch alike). A tsnn
neuron with another reset (snnTorch's default ``"subtract"``, or ``"none"``) is
exported with ``v_reset = 0`` and a warning; its true reset is kept in the node's
``metadata`` (``tritonsnn.reset_mechanism``, ``tritonsnn.reset_delay``), which
:func:`import_from_nir` honours, so a tritonsnn round trip is exact. snnTorch's
exporter records no reset: to rebuild a network of default ``snntorch.Leaky`` /
``snntorch.Synaptic`` neurons exactly, pass
``reset_mechanism="subtract", reset_delay=True`` to :func:`import_from_nir`.
A neuron with ``fire_at_threshold=True`` (a membrane at the threshold fires; NIR does not say)
records it as ``tritonsnn.fire_at_threshold`` in the metadata, which the importer restores.
"""

from __future__ import annotations

import warnings
from collections import OrderedDict
from pathlib import Path

import numpy as np
import torch
from torch import nn

from .neurons import IF, Leaky, RLeaky, RSynaptic, SpikingNeuron, Synaptic
from .synapses import DualExpSynapse, ExpSynapse, OneToOne
from .utils import MultiStep

__all__ = ["export_to_nir", "import_from_nir", "DEFAULT_DT"]

DEFAULT_DT = 1e-4
"""Time step (seconds) that maps ``beta`` to ``tau``; snnTorch's value."""

_GAIN_RTOL = 1e-5
_META_RESET = "tritonsnn.reset_mechanism"
_META_DELAY = "tritonsnn.reset_delay"
_META_AT = "tritonsnn.fire_at_threshold"  # recorded only when True: NIR does not say how ties fire
_EXPORTABLE = (
    "nn.Linear",
    "nn.Conv2d",
    "nn.AvgPool2d",
    "nn.Flatten",
    "nn.Identity",
    "nn.Dropout",
    "tsnn.MultiStep(...)",
    "tsnn.Leaky",
    "tsnn.IF",
    "tsnn.Synaptic",
    "tsnn.RLeaky / tsnn.RSynaptic (one-to-one, or all-to-all through linear_features)",
    "tsnn.ExpSynapse",
    "tsnn.DualExpSynapse",
    "nested nn.Sequential",
)
_IMPORTABLE = (
    "Input",
    "Output",
    "Affine",
    "Linear",
    "Conv2d",
    "AvgPool2d",
    "Flatten",
    "LIF",
    "IF",
    "CubaLIF",
    "LI",
    "CubaLI",
    "a LIF/CubaLIF looped through an Affine/Linear (a subgraph as snnTorch exports RLeaky/RSynaptic, or a 2-cycle)",
)


def _nir():
    try:
        import nir
    except ImportError as err:
        raise ImportError(
            "tritonsnn.nir needs the nir package: pip install nir (or pip install tritonsnn[nir])"
        ) from err
    return nir


# ----------------------------------------------------------------------------- export


def _layers(module: nn.Module, prefix: str = ""):
    """``(name, layer)`` pairs of a Sequential, nested Sequentials flattened."""
    if isinstance(module, nn.Sequential):
        for name, child in module.named_children():
            yield from _layers(child, f"{prefix}{name}.")
    else:
        yield prefix.rstrip(".") or "0", module


def _numpy(t: torch.Tensor) -> np.ndarray:
    return t.detach().cpu().to(torch.float32).numpy().copy()


def _per_neuron(value: torch.Tensor, features) -> np.ndarray:
    """A scalar or per-neuron parameter as a float64 array of the per-sample feature shape."""
    return np.broadcast_to(value.detach().cpu().double().numpy(), tuple(features)).copy()


def _neuron_metadata(name, neuron: SpikingNeuron):
    """The node metadata recording ``neuron``'s reset; warns when NIR cannot describe that reset."""
    if neuron.refractory_steps > 0:
        raise ValueError(
            f"export_to_nir: layer {name!r} has a refractory period (refractory={neuron.refractory}), "
            "which NIR's neurons cannot describe; export it with refractory=0"
        )
    if neuron.reset_mechanism != "zero":
        warnings.warn(
            f"export_to_nir: layer {name!r} uses reset_mechanism={neuron.reset_mechanism!r}, which NIR "
            "cannot describe (NIR neurons reset to v_reset); it is exported with v_reset=0 and its reset "
            "kept in the node metadata for tritonsnn.nir.import_from_nir. Other NIR tools will run a "
            "zero reset: use reset_mechanism='zero', reset_delay=False for a network that behaves the "
            "same everywhere.",
            UserWarning,
            stacklevel=5,
        )
    meta = {_META_RESET: neuron.reset_mechanism, _META_DELAY: neuron.reset_delay}
    return meta | ({_META_AT: True} if getattr(neuron, "fire_at_threshold", False) else {})


def _decay(value: torch.Tensor, features) -> np.ndarray:
    """A decay (alpha, beta) per neuron, clipped to [0, 1] as the neurons do."""
    return _per_neuron(value, features).clip(0.0, 1.0)


def _time_constant(name, decay: np.ndarray, symbol: str, kind: str, dt) -> np.ndarray:
    """``tau = dt / (1 - decay)``, snnTorch's map; a decay of 1 (no leak) has no finite tau."""
    if np.any(decay == 1.0):
        raise ValueError(
            f"export_to_nir: layer {name!r} has {symbol} = 1 (no leak, tau = inf) for some neurons; "
            f"NIR's {kind} needs a finite tau for every neuron: use {symbol} < 1 (e.g. clamp to "
            "1 - 1e-6) or split the layer"
        )
    return dt / (1.0 - decay)


def _neuron_node(nir, name, neuron: SpikingNeuron, features, dt):
    threshold = _per_neuron(neuron.threshold, features)
    meta = _neuron_metadata(name, neuron)
    common = dict(v_threshold=threshold, v_reset=np.full_like(threshold, neuron.v_reset), metadata=meta)
    v_leak = np.full_like(threshold, neuron.v_rest)
    if isinstance(neuron, (Synaptic, RSynaptic)):
        tau_syn = _time_constant(name, _decay(neuron.alpha, features), "alpha", "CubaLIF", dt)
        tau_mem = _time_constant(name, _decay(neuron.beta, features), "beta", "CubaLIF", dt)
        # snnTorch's gains w_in = tau_syn/dt, r = tau_mem/dt: each Euler step adds x[t] to the current
        # and the current to v, as Synaptic does.
        return nir.CubaLIF(tau_syn=tau_syn, tau_mem=tau_mem, r=tau_mem / dt, w_in=tau_syn / dt, v_leak=v_leak, **common)
    beta = _decay(neuron.beta, features) if isinstance(neuron, (Leaky, RLeaky)) else None
    if beta is None or (np.all(beta == 1.0) and not isinstance(neuron, RLeaky)):
        return nir.IF(r=np.full(threshold.shape, 1.0 / dt), **common)
    tau = _time_constant(name, beta, "beta", "LIF", dt)
    return nir.LIF(tau=tau, r=tau / dt, v_leak=v_leak, **common)


def _recurrent_node(nir, name, neuron, features, dt):
    """An RLeaky/RSynaptic as snnTorch exports one: a subgraph ``input -> lif -> output`` with the
    loop ``lif -> w_rec -> lif`` (``w_rec`` ``Affine`` for the dense layer, ``Linear(diag(V))``
    one-to-one), which NIR tools read as the neuron's input plus ``w_rec`` of its last spikes."""
    if len(features) != 1:
        raise ValueError(
            f"export_to_nir: layer {name!r} ({type(neuron).__name__}) has features {tuple(features)}; NIR's "
            "recurrent subgraph is over a vector of neurons: flatten before it (a Conv2d recurrence has no "
            "NIR form here)"
        )
    n = features[0]
    if neuron.all_to_all:
        if not isinstance(neuron.recurrent, nn.Linear):
            raise ValueError(
                f"export_to_nir: layer {name!r} has a {type(neuron.recurrent).__name__} recurrence; only the "
                "dense one (linear_features) and the one-to-one V can be exported"
            )
        w_rec = _stateless_node(nir, name, neuron.recurrent, None, 0)
    else:
        w_rec = nir.Linear(weight=np.diag(_per_neuron(neuron.V, features)).astype(np.float32))
    return nir.NIRGraph(
        nodes={
            "input": nir.Input(input_type={"input": np.array([n])}),
            "lif": _neuron_node(nir, name, neuron, features, dt),
            "w_rec": w_rec,
            "output": nir.Output(output_type={"output": np.array([n])}),
        },
        edges=[("input", "lif"), ("lif", "w_rec"), ("w_rec", "lif"), ("lif", "output")],
    )


def _filter_node(nir, name, synapse, features, dt):
    """ExpSynapse <-> ``LI`` and DualExpSynapse <-> ``CubaLI`` (no spikes, input gains 1), as the
    neurons map their decays."""
    if isinstance(synapse, ExpSynapse):
        tau = _time_constant(name, _decay(synapse.alpha, features), "alpha", "LI", dt)
        return nir.LI(tau=tau, r=tau / dt, v_leak=np.zeros_like(tau))
    tau_syn = _time_constant(name, _decay(synapse.alpha1, features), "alpha1", "CubaLI", dt)
    tau_mem = _time_constant(name, _decay(synapse.alpha2, features), "alpha2", "CubaLI", dt)
    return nir.CubaLI(
        tau_syn=tau_syn, tau_mem=tau_mem, r=tau_mem / dt, w_in=tau_syn / dt, v_leak=np.zeros_like(tau_mem)
    )


def _flatten_node(nir, name, flatten: nn.Flatten, x: torch.Tensor, leading: int):
    ndim = x.dim()
    start, end = flatten.start_dim % ndim, flatten.end_dim % ndim
    if start < leading:
        raise ValueError(
            f"export_to_nir: layer {name!r} nn.Flatten(start_dim={flatten.start_dim}) would merge the "
            f"time/batch axes of its {ndim}-d input; in a multi-step network use "
            "tsnn.MultiStep(nn.Flatten()) or nn.Flatten(start_dim=2)"
        )
    end = -1 if end == ndim - 1 else end - leading  # -1 (to the last axis) reads the same in NIR
    return nir.Flatten(input_type={"input": np.array(x.shape[leading:])}, start_dim=start - leading, end_dim=end)


def _stateless_node(nir, name, layer, x, leading):
    """NIR node of a stateless layer that sees ``x`` (with ``leading`` batch-like axes)."""
    if isinstance(layer, OneToOne):
        return nir.Scale(scale=_numpy(layer.weight))
    if isinstance(layer, nn.Linear):
        if layer.bias is None:
            return nir.Linear(weight=_numpy(layer.weight))
        return nir.Affine(weight=_numpy(layer.weight), bias=_numpy(layer.bias))
    if isinstance(layer, nn.Conv2d):
        if layer.padding_mode != "zeros":
            raise ValueError(
                f"export_to_nir: layer {name!r} has padding_mode={layer.padding_mode!r}; "
                "NIR's Conv2d pads with zeros only"
            )
        bias = layer.bias if layer.bias is not None else torch.zeros(layer.out_channels)
        return nir.Conv2d(
            input_shape=tuple(x.shape[-2:]),
            weight=_numpy(layer.weight),
            stride=layer.stride,
            padding=layer.padding,
            dilation=layer.dilation,
            groups=layer.groups,
            bias=_numpy(bias),
        )
    if isinstance(layer, nn.AvgPool2d):
        if layer.ceil_mode or not layer.count_include_pad or layer.divisor_override is not None:
            raise ValueError(
                f"export_to_nir: layer {name!r} AvgPool2d needs ceil_mode=False, "
                "count_include_pad=True and no divisor_override to be exported to NIR"
            )
        pair = nn.modules.utils._pair
        stride = layer.stride if layer.stride is not None else layer.kernel_size
        return nir.AvgPool2d(
            kernel_size=np.array(pair(layer.kernel_size)),
            stride=np.array(pair(stride)),
            padding=np.array(pair(layer.padding)),
        )
    if isinstance(layer, nn.Flatten):
        return _flatten_node(nir, name, layer, x, leading)
    raise TypeError(
        f"export_to_nir: layer {name!r} of type {type(layer).__name__} has no NIR mapping here; "
        f"supported: {', '.join(_EXPORTABLE)}"
    )


def _step_mode(module: nn.Module) -> str:
    modes = {m.step_mode for m in module.modules() if isinstance(m, SpikingNeuron)}
    if len(modes) > 1:
        raise ValueError(
            "export_to_nir: the network mixes step_mode='multi' and 'single' neurons; build it with one step mode"
        )
    return modes.pop() if modes else "multi"


def export_to_nir(module: nn.Module, sample_data: torch.Tensor, *, dt: float = DEFAULT_DT):
    """Describe a feed-forward tritonsnn network as a NIR graph.

    The layers are visited in order; ``sample_data`` is passed through the
    stateless ones to learn every node's input shape (neurons are not run, so
    their state is left untouched).

    Args:
        module: an ``nn.Sequential`` (nested ones are flattened) or a single
            supported layer: ``nn.Linear``, ``nn.Conv2d``, ``nn.AvgPool2d``,
            ``nn.Flatten`` (bare or in ``tsnn.MultiStep``), ``tsnn.Leaky``,
            ``tsnn.IF``, ``tsnn.Synaptic``; ``nn.Identity`` and ``nn.Dropout`` are skipped.
        sample_data: an input the network accepts: ``[T, B, *features]`` for
            multi-step networks, ``[B, *features]`` for ``step_mode="single"``.
        dt: time step in seconds mapping ``beta`` to ``tau = dt / (1 - beta)`` (and ``alpha``
            to ``tau_syn`` alike).

    Returns:
        A ``nir.NIRGraph`` with nodes ``"input"``, one per layer (named by its
        position, e.g. ``"0"``, ``"2.1"``) and ``"output"``, chained by edges.
        A graph with a grouped convolution (``groups > 1``) is built without
        NIR's type check, which miscounts its input channels; nir 1.0's
        ``nir.read`` refuses such a file for the same reason.

    Raises:
        TypeError: a layer has no NIR mapping (the message names it).
        ValueError: ``sample_data`` has the wrong rank, or a layer cannot be
            described exactly (mixed beta = 1, a Synaptic's alpha or beta = 1, a
            refractory period, non-zero padding mode, ...).
    """
    nir = _nir()
    if not isinstance(module, nn.Module):
        raise TypeError(f"export_to_nir: module must be an nn.Module; got {type(module).__name__}")
    if not isinstance(sample_data, torch.Tensor):
        raise TypeError(f"export_to_nir: sample_data must be a tensor; got {type(sample_data).__name__}")
    if not dt > 0:
        raise ValueError(f"export_to_nir: dt must be > 0; got {dt}")
    leading = 2 if _step_mode(module) == "multi" else 1
    if sample_data.dim() <= leading:
        layout = "[T, B, *features]" if leading == 2 else "[B, *features]"
        raise ValueError(
            f"export_to_nir: sample_data must have shape {layout} for this network; got {tuple(sample_data.shape)}"
        )
    with torch.no_grad():
        return _export(nir, module, sample_data, leading, dt)


def _export(nir, module, sample_data, leading, dt):
    device = next((p.device for p in module.parameters()), sample_data.device)
    x = sample_data.to(device)
    nodes = OrderedDict(input=nir.Input(input_type={"input": np.array(x.shape[leading:])}))
    for name, layer in _layers(module):
        if isinstance(layer, (nn.Identity, nn.Dropout)):
            continue
        if isinstance(layer, SpikingNeuron):
            if isinstance(layer, (RLeaky, RSynaptic)):
                nodes[name] = _recurrent_node(nir, name, layer, x.shape[leading:], dt)
            elif isinstance(layer, (Leaky, IF, Synaptic)):
                nodes[name] = _neuron_node(nir, name, layer, x.shape[leading:], dt)
            else:
                raise TypeError(
                    f"export_to_nir: layer {name!r} of type {type(layer).__name__} has no NIR "
                    f"mapping here; supported: {', '.join(_EXPORTABLE)}"
                )
            continue  # neurons keep the shape; not running them leaves their state alone
        if isinstance(layer, (ExpSynapse, DualExpSynapse)):
            nodes[name] = _filter_node(nir, name, layer, x.shape[leading:], dt)
            continue
        if isinstance(layer, MultiStep):
            if leading != 2:
                raise ValueError(
                    f"export_to_nir: layer {name!r} is a tsnn.MultiStep in a single-step "
                    "network; use the bare layer with step_mode='single'"
                )
            nodes[name] = _stateless_node(nir, name, layer.layer, x.flatten(0, 1), 1)
        else:
            nodes[name] = _stateless_node(nir, name, layer, x, leading)
        x = layer(x)
    nodes["output"] = nir.Output(output_type={"output": np.array(x.shape[leading:])})
    names = list(nodes)
    # NIR's type inference takes a Conv2d's input channels from weight.shape[1], wrong when groups > 1.
    grouped = any(isinstance(n, nir.Conv2d) and n.groups > 1 for n in nodes.values())
    return nir.NIRGraph(nodes=dict(nodes), edges=list(zip(names[:-1], names[1:])), type_check=not grouped)


# ----------------------------------------------------------------------------- import


def _dense_types(nir):
    """The NIR nodes of a dense layer (a recurrent loop's weight)."""
    return (nir.Affine, nir.Linear)


def _collapse_loops(nir, graph):
    """``graph`` with every 2-cycle ``LIF|CubaLIF <-> Affine|Linear`` (a recurrent layer written flat,
    the loop's weight connected to nothing else) replaced by the subgraph snnTorch exports for it."""
    edges = list(dict.fromkeys(tuple(e) for e in graph.edges))
    nodes = dict(graph.nodes)
    for a, b in list(edges):
        loop = {(a, b), (b, a)}
        if not (loop <= set(edges) and isinstance(nodes.get(a), (nir.LIF, nir.CubaLIF))):
            continue
        if not isinstance(nodes.get(b), _dense_types(nir)) or any(b in e for e in edges if e not in loop):
            continue
        n = np.array([np.asarray(nodes[b].weight).shape[0]])
        nodes[a] = nir.NIRGraph(
            nodes={
                "input": nir.Input({"input": n}),
                "lif": nodes[a],
                "w_rec": nodes.pop(b),
                "output": nir.Output({"output": n}),
            },
            edges=[("input", "lif"), ("lif", "w_rec"), ("w_rec", "lif"), ("lif", "output")],
            type_check=False,
        )
        edges = [e for e in edges if e not in loop]
    return nir.NIRGraph(nodes=nodes, edges=edges, type_check=False)


def _chain(nir, graph):
    """The graph's nodes from input to output as ``(name, node)``; raises unless it is one chain."""
    inputs = [k for k, n in graph.nodes.items() if isinstance(n, nir.Input)]
    if len(inputs) != 1:
        raise ValueError(f"import_from_nir: the graph needs exactly one Input node; found {len(inputs)} ({inputs})")
    successors, predecessors = {}, {}
    for src, dst in graph.edges:
        for table, role, key, value in ((successors, "successor", src, dst), (predecessors, "predecessor", dst, src)):
            if key in table and table[key] != value:
                raise ValueError(
                    f"import_from_nir: node {key!r} has more than one {role} ({table[key]!r}, {value!r}); only "
                    "feed-forward chains (an nn.Sequential) can be imported, not branches, skip connections "
                    "or recurrence"
                )
            table[key] = value
    order, name = [], inputs[0]
    while True:
        if name not in graph.nodes:
            raise ValueError(f"import_from_nir: an edge refers to {name!r}, which is not a node of the graph")
        if name in (n for n, _ in order):
            raise ValueError(
                f"import_from_nir: the graph has a cycle through {name!r} (recurrence); only "
                "feed-forward chains can be imported"
            )
        order.append((name, graph.nodes[name]))
        if name not in successors:
            break
        name = successors[name]
    if not isinstance(order[-1][1], nir.Output):
        raise ValueError(f"import_from_nir: the chain from the Input ends at {order[-1][0]!r}, not at an Output node")
    missing = set(graph.nodes) - {n for n, _ in order}
    if missing:
        raise ValueError(
            f"import_from_nir: nodes {sorted(missing)} are not on the path from Input to Output; "
            "only single-chain graphs can be imported"
        )
    return order


def _parameter(values: np.ndarray):
    """A float for a uniform parameter, else a float32 tensor of the feature shape."""
    values = np.asarray(values, dtype=np.float64)
    flat = values.reshape(-1)
    if flat.size and np.all(flat == flat[0]):
        return float(flat[0])
    return torch.tensor(values, dtype=torch.float32)


def _gain(raw: np.ndarray) -> np.ndarray:
    return np.where(np.abs(raw - 1.0) <= _GAIN_RTOL, 1.0, raw)


def _reset_options(name, node, reset_mechanism, reset_delay):
    meta = getattr(node, "metadata", None) or {}
    mechanism = reset_mechanism or str(meta.get(_META_RESET, "zero"))
    delay = reset_delay if reset_delay is not None else bool(meta.get(_META_DELAY, False))
    return mechanism, delay


def _potential(name, node, field, gain) -> float:
    """A NIR potential (``v_leak``, ``v_reset``) in the imported neuron's units (divided by the input
    gain folded into the threshold): one number, as tritonsnn's ``v_rest`` and ``v_reset`` are."""
    values = np.broadcast_to(np.asarray(getattr(node, field), dtype=np.float64) / gain, np.shape(gain)).reshape(-1)
    if values.size and not np.allclose(values, values[0], rtol=1e-6, atol=1e-7):
        raise ValueError(
            f"import_from_nir: node {name!r} ({type(node).__name__}) has {field} differing between neurons "
            f"(in units of the folded input gain: {values[:4]}); tritonsnn's v_rest and v_reset are one number "
            "per layer: split the layer or make them uniform"
        )
    return float(values[0]) if values.size else 0.0


def _decay_of(name, node, field: str, dt) -> np.ndarray:
    """``1 - dt / tau`` of the node's time constant ``field``; refuses tau < dt (a negative decay)."""
    tau = np.asarray(getattr(node, field), dtype=np.float64)
    if np.any(tau < dt):
        raise ValueError(
            f"import_from_nir: node {name!r} ({type(node).__name__}) has {field} = {tau.min():g} < "
            f"dt = {dt:g}, which would give a decay < 0; pass a smaller dt"
        )
    return 1.0 - dt / tau


_NEURON_FIELDS = ("tau", "tau_syn", "tau_mem", "r", "w_in", "v_leak", "v_threshold", "v_reset")


def _neuron_size(name, node, width):
    """The neuron count of a NIR neuron node (1 when every parameter is a scalar); refuses
    non-finite parameters and a size that differs from ``width``, the previous layer's output."""
    kind = type(node).__name__
    sizes = set()
    for field in _NEURON_FIELDS:
        if not hasattr(node, field):
            continue
        values = np.asarray(getattr(node, field), dtype=np.float64)
        if not np.all(np.isfinite(values)):
            raise ValueError(
                f"import_from_nir: node {name!r} ({kind}) has a non-finite {field} ({values.reshape(-1)[:4]}); "
                "NIR parameters must be finite numbers"
            )
        if values.size > 1:
            sizes.add(values.size)
    if len(sizes) > 1:
        raise ValueError(f"import_from_nir: node {name!r} ({kind}) has parameters of different sizes {sorted(sizes)}")
    size = sizes.pop() if sizes else 1
    if width is not None and size not in (1, width):
        raise ValueError(
            f"import_from_nir: node {name!r} ({kind}) has {size} neurons but the layer before it gives "
            f"{width} features; the sizes of consecutive nodes must agree"
        )
    return size


def _neuron(name, node, dt, options):
    """The tritonsnn neuron of a NIR ``IF``/``LIF``/``CubaLIF`` node, its input gain folded into the threshold."""
    cls, kwargs = _neuron_args(name, node, dt, options)
    return cls(**kwargs)


def _neuron_args(name, node, dt, options):
    """:func:`_neuron`'s class and constructor arguments."""
    nir = _nir()
    kind = type(node).__name__
    mechanism, delay = _reset_options(name, node, options.pop("reset_mechanism"), options.pop("reset_delay"))
    r = np.asarray(node.r, dtype=np.float64)
    if isinstance(node, nir.IF):
        cls, decays, gain_formula = IF, {}, "r*dt"
        gain = _gain(r * dt)
    elif isinstance(node, nir.LIF):
        cls, decays, gain_formula = Leaky, {"beta": _decay_of(name, node, "tau", dt)}, "r*dt/tau"
        gain = _gain(r * dt / np.asarray(node.tau, dtype=np.float64))
    else:
        cls, gain_formula = Synaptic, "(w_in*dt/tau_syn)*(r*dt/tau_mem)"
        decays = {"alpha": _decay_of(name, node, "tau_syn", dt), "beta": _decay_of(name, node, "tau_mem", dt)}
        # Below the threshold the node is linear, so the current's gain times the membrane's scales v.
        gain = _gain(np.asarray(node.w_in, dtype=np.float64) * dt / np.asarray(node.tau_syn, dtype=np.float64)) * _gain(
            r * dt / np.asarray(node.tau_mem, dtype=np.float64)
        )
    if np.any(gain <= 0):
        raise ValueError(
            f"import_from_nir: node {name!r} ({kind}) has an input gain {gain_formula} <= 0; "
            "tritonsnn neurons need a positive gain"
        )
    threshold = _parameter(np.asarray(node.v_threshold, dtype=np.float64) / gain)
    decays = {k: _parameter(v) for k, v in decays.items()}
    gain = np.broadcast_to(gain, np.broadcast_shapes(np.shape(gain), np.shape(node.v_threshold)))
    for field, kw in (("v_leak", "v_rest"), ("v_reset", "v_reset")):
        if hasattr(node, field):  # NIR's IF has no leak
            decays[kw] = _potential(name, node, field, gain)
    at = {"fire_at_threshold": True} if (getattr(node, "metadata", None) or {}).get(_META_AT) else {}
    return cls, dict(decays, threshold=threshold, reset_mechanism=mechanism, reset_delay=delay, **at, **options)


def _recurrent(name, graph, dt, options):
    """RLeaky/RSynaptic of a recurrent subgraph ``input -> LIF|CubaLIF -> output`` with the loop
    ``LIF -> Affine|Linear -> LIF`` (snnTorch's export of its recurrent neurons): one-to-one ``V``
    when the loop's weight is diagonal without bias, else the dense ``recurrent`` layer."""
    nir = _nir()
    parts = {
        "Input": nir.Input,
        "Output": nir.Output,
        "neuron": (nir.LIF, nir.CubaLIF, nir.IF),
        "w_rec": _dense_types(nir),
    }
    by_type = {}
    for key, node in graph.nodes.items():
        kind = next((k for k, types in parts.items() if isinstance(node, types)), None)
        if kind is None or kind in by_type:
            by_type = None
            break
        by_type[kind] = key
    want = None
    if by_type is not None and len(by_type) == 4:
        i, o, lif, w = (by_type[k] for k in ("Input", "Output", "neuron", "w_rec"))
        want = {(i, lif), (lif, w), (w, lif), (lif, o)}
    if want is None or set(map(tuple, graph.edges)) != want:
        raise ValueError(
            f"import_from_nir: cannot import the subgraph {name!r}: only a recurrent neuron subgraph (Input -> "
            "LIF|CubaLIF -> Output, with LIF|CubaLIF -> Affine|Linear -> LIF|CubaLIF) maps to a tritonsnn layer"
        )
    neuron, loop = graph.nodes[lif], graph.nodes[w]
    if isinstance(neuron, nir.IF):
        raise ValueError(f"import_from_nir: subgraph {name!r} loops an IF node; RLeaky/RSynaptic need LIF/CubaLIF")
    cls, kwargs = _neuron_args(f"{name}.{lif}", neuron, dt, options)
    weight = np.asarray(loop.weight, dtype=np.float32)
    n = weight.shape[0]
    if weight.shape != (n, n) or _neuron_size(f"{name}.{lif}", neuron, n) not in (1, n):
        raise ValueError(
            f"import_from_nir: subgraph {name!r} has a recurrent weight of shape {weight.shape}, which does not "
            "map the neurons onto themselves"
        )
    bias = np.asarray(loop.bias, dtype=np.float32) if isinstance(loop, nir.Affine) else np.zeros(n, np.float32)
    one_to_one = np.array_equal(weight, np.diag(np.diag(weight))) and not bias.any()
    cls = RLeaky if cls is Leaky else RSynaptic
    if one_to_one:
        return cls(**kwargs, all_to_all=False, V=_parameter(np.diag(weight)))
    layer = cls(**kwargs, all_to_all=True, linear_features=n)
    with torch.no_grad():
        layer.recurrent.weight.copy_(torch.from_numpy(weight))
        layer.recurrent.bias.copy_(torch.from_numpy(bias))
    return layer


def _filter(name, node, dt, options):
    """ExpSynapse of an ``LI`` node, DualExpSynapse of a ``CubaLI`` (input gains must be 1)."""
    nir = _nir()
    kind = type(node).__name__
    if not np.allclose(node.v_leak, 0.0):
        raise ValueError(f"import_from_nir: node {name!r} ({kind}) has v_leak != 0, which tritonsnn does not model")
    r = np.asarray(node.r, dtype=np.float64)
    if isinstance(node, nir.LI):
        gains = [r * dt / np.asarray(node.tau, dtype=np.float64)]
        layer = lambda: ExpSynapse(_parameter(_decay_of(name, node, "tau", dt)), **options)  # noqa: E731
    else:
        gains = [
            np.asarray(node.w_in, dtype=np.float64) * dt / np.asarray(node.tau_syn, dtype=np.float64),
            r * dt / np.asarray(node.tau_mem, dtype=np.float64),
        ]
        alpha1, alpha2 = (_parameter(_decay_of(name, node, f, dt)) for f in ("tau_syn", "tau_mem"))
        layer = lambda: DualExpSynapse(alpha1, alpha2, **options)  # noqa: E731
    if any(np.any(_gain(g) != 1.0) for g in gains):
        raise ValueError(
            f"import_from_nir: node {name!r} ({kind}) has an input gain other than 1 (r*dt/tau, w_in*dt/tau_syn); "
            "tritonsnn's filters have none: scale the weights of the layer before it by the gain instead"
        )
    return layer()


def _stateless(name, node, multi):
    nir = _nir()
    each_step = MultiStep if multi else (lambda layer: layer)
    if isinstance(node, (nir.Affine, nir.Linear)):
        weight = torch.as_tensor(np.asarray(node.weight), dtype=torch.float32)
        if weight.dim() != 2:
            raise ValueError(
                f"import_from_nir: node {name!r} ({type(node).__name__}) has a weight of shape "
                f"{tuple(weight.shape)}; expected [out, in]"
            )
        has_bias = isinstance(node, nir.Affine)
        layer = nn.Linear(weight.shape[1], weight.shape[0], bias=has_bias)
        layer.weight.data.copy_(weight)
        if has_bias:
            bias = torch.as_tensor(np.asarray(node.bias), dtype=torch.float32)
            if bias.shape != (weight.shape[0],):
                raise ValueError(
                    f"import_from_nir: node {name!r} (Affine) has a bias of shape {tuple(bias.shape)} for a weight "
                    f"of shape {tuple(weight.shape)}; expected one bias per output, shape ({weight.shape[0]},)"
                )
            layer.bias.data.copy_(bias)
        return layer  # nn.Linear already acts on the last axis of [T, B, N]
    if isinstance(node, nir.Scale):  # elementwise over the last axis, as tsnn.OneToOne
        scale = torch.as_tensor(np.asarray(node.scale), dtype=torch.float32).reshape(-1)
        return OneToOne(scale.numel(), init=scale)
    if isinstance(node, nir.Conv2d):
        weight = torch.as_tensor(np.asarray(node.weight), dtype=torch.float32)
        padding = node.padding
        if not isinstance(padding, str):
            padding = tuple(int(p) for p in np.atleast_1d(padding))
        layer = nn.Conv2d(
            weight.shape[1] * int(node.groups),
            weight.shape[0],
            tuple(weight.shape[2:]),
            stride=tuple(int(s) for s in np.atleast_1d(node.stride)),
            padding=padding,
            dilation=tuple(int(d) for d in np.atleast_1d(node.dilation)),
            groups=int(node.groups),
        )
        layer.weight.data.copy_(weight)
        layer.bias.data.copy_(torch.as_tensor(np.asarray(node.bias), dtype=torch.float32))
        return each_step(layer)
    if isinstance(node, nir.AvgPool2d):
        pair = lambda v: tuple(int(i) for i in np.broadcast_to(np.asarray(v), (2,)))  # noqa: E731
        return each_step(nn.AvgPool2d(pair(node.kernel_size), stride=pair(node.stride), padding=pair(node.padding)))
    if isinstance(node, nir.Flatten):
        # NIR counts dims per sample; the torch layer also sees the batch axis (time is folded in by MultiStep).
        shift = lambda d: d + 1 if d >= 0 else d  # noqa: E731
        return each_step(nn.Flatten(shift(int(node.start_dim)), shift(int(node.end_dim))))
    return None


def import_from_nir(
    graph,
    *,
    dt: float = DEFAULT_DT,
    step_mode: str = "multi",
    reset_mechanism: str | None = None,
    reset_delay: bool | None = None,
    backend: str = "auto",
    **neuron_options,
) -> nn.Sequential:
    """Build a tritonsnn ``nn.Sequential`` from a feed-forward NIR graph.

    Args:
        graph: a ``nir.NIRGraph``, or the path of a ``.nir`` file (read with ``nir.read``).
        dt: time step in seconds mapping ``tau`` to ``beta = 1 - dt / tau`` (``tau_syn`` to
            ``alpha`` alike; snnTorch's 1e-4 by default). ``LIF`` becomes ``tsnn.Leaky``,
            ``IF`` ``tsnn.IF`` and ``CubaLIF`` ``tsnn.Synaptic``.
        step_mode: ``"multi"`` (the network takes ``[T, B, *features]``; Conv2d, AvgPool2d and
            Flatten are wrapped in ``tsnn.MultiStep``) or ``"single"`` (``[B, *features]`` per call).
        reset_mechanism: override the reset of every neuron. By default it is
            NIR's (``"zero"``), or the one tritonsnn recorded in the node metadata.
            ``"subtract"`` (with ``reset_delay=True``) reproduces a network of
            default ``snntorch.Leaky`` / ``snntorch.Synaptic`` neurons exported by snnTorch.
        reset_delay: override the reset timing (default: False, NIR's, or the recorded one).
        backend: ``backend`` of the neurons (``"auto"``, ``"triton"``, ``"torch"``).
        **neuron_options: further neuron options (``surrogate``, ``learn_beta``, ...).

    Returns:
        ``nn.Sequential`` whose children are named after the graph's nodes
        (dots replaced by underscores).

    Raises:
        ValueError: the graph is not a single feed-forward chain, or a node has
            no tritonsnn equivalent (the message names the node and its NIR type)
            or parameters tritonsnn cannot represent (v_leak or v_reset differing
            between the neurons of a layer, tau < dt, an input gain <= 0).
    """
    nir = _nir()
    if isinstance(graph, (str, Path)):
        graph = nir.read(str(graph))
    if not isinstance(graph, nir.NIRGraph):
        raise TypeError(f"import_from_nir: graph must be a nir.NIRGraph or a path; got {type(graph).__name__}")
    if step_mode not in ("multi", "single"):
        raise ValueError(f"import_from_nir: step_mode must be 'multi' or 'single'; got {step_mode!r}")
    if not dt > 0:
        raise ValueError(f"import_from_nir: dt must be > 0; got {dt}")
    layers = OrderedDict()
    width = None  # features out of the last fully connected layer, where known
    for name, node in _chain(nir, _collapse_loops(nir, graph)):
        if isinstance(node, (nir.Input, nir.Output)):
            continue
        options = dict(
            neuron_options,
            reset_mechanism=reset_mechanism,
            reset_delay=reset_delay,
            step_mode=step_mode,
            backend=backend,
        )
        if isinstance(node, (nir.LIF, nir.IF, nir.CubaLIF)):
            size = _neuron_size(name, node, width)
            width = size if size > 1 else width
            layer = _neuron(name, node, dt, options)
        elif isinstance(node, nir.NIRGraph):
            layer = _recurrent(name, node, dt, options)
            width = layer.recurrent.in_features if layer.all_to_all else width
        elif isinstance(node, (nir.LI, nir.CubaLI)):
            layer = _filter(name, node, dt, dict(step_mode=step_mode, backend=backend))
        else:
            layer = _stateless(name, node, step_mode == "multi")
            if isinstance(layer, nn.Linear):
                if width is not None and layer.in_features != width:
                    raise ValueError(
                        f"import_from_nir: node {name!r} ({type(node).__name__}) takes {layer.in_features} "
                        f"inputs but the layer before it gives {width}; the sizes of consecutive nodes must agree"
                    )
                width = layer.out_features
            elif layer is not None:
                width = None  # convolutions, pooling, flatten: sizes follow the image
        if layer is None:
            raise ValueError(
                f"import_from_nir: cannot import node {name!r} of NIR type {type(node).__name__}: "
                f"tritonsnn has no equivalent layer; importable node types: {', '.join(_IMPORTABLE)}"
            )
        layers[name.replace(".", "_")] = layer
    return nn.Sequential(layers)
