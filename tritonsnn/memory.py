"""Training long sequences in less memory: 1-bit packing of the spikes autograd saves
(:func:`pack_spikes`), a compact saved membrane (:func:`compact_state`) and time-chunked
recomputation (:class:`TimeChunked`).

Backpropagation through time keeps, for every layer, what its backward reads at every step:
a neuron's fp32 membrane and the float spike tensor that the next ``nn.Linear`` or
``nn.Conv2d`` saves as its input. Spikes are 0 or 1, so :func:`pack_spikes` stores the latter
in 1 bit instead of 32 (and unpacks it exactly in backward). :class:`TimeChunked` instead
keeps nothing inside a chunk of ``K`` steps: it runs the network chunk by chunk under
``torch.utils.checkpoint`` (non-reentrant), carrying every neuron's state across chunk
boundaries with its gradient, and recomputes one chunk at a time in backward.
"""

from __future__ import annotations

import contextlib
from dataclasses import dataclass

import torch
from torch import nn
from torch.utils import _pytree
from torch.utils import checkpoint as _checkpoint

from . import _backend, ops
from ._spikes import ACTIVE, SPIKES, is_spikes
from .neurons import SpikingNeuron
from .ops import _compact
from .plasticity import Trace
from .synapses import Cell, Connection, Delay, _Stateful

__all__ = ["TimeChunked", "compact_state", "pack_spikes", "saved_tensor_bytes"]

# ------------------------------------------------------------------------------ pack_spikes


@dataclass(frozen=True)
class _Packed:
    """A saved spike tensor, 1 bit per element."""

    bits: torch.Tensor
    shape: torch.Size
    dtype: torch.dtype
    requires_grad: bool


def _bits_impl(device):
    return ops.implementation("bits", _backend.resolve("auto", device) == "triton")


def _pack(t):
    if not isinstance(t, torch.Tensor) or not is_spikes(t):
        return t
    return _Packed(_bits_impl(t.device).pack_bits(t.detach()), t.shape, t.dtype, t.requires_grad)


def _unpack(p):
    if not isinstance(p, _Packed):
        return p
    flat = _bits_impl(p.bits.device).unpack_bits(p.bits, p.shape.numel(), p.dtype)
    return flat.view(p.shape).requires_grad_(p.requires_grad)


@contextlib.contextmanager
def pack_spikes():
    """Store every spike tensor that autograd saves for backward in 1 bit per element.

    Within the block, the spikes a tritonsnn neuron returns are recorded; when a later op saves
    one of them (or a view of it) for backward (an ``nn.Linear``, ``nn.Conv2d``, pooling, any op),
    it is kept packed, 8 spikes per byte, and unpacked exactly when backward reads it. Only
    tensors the neurons produced are packed, never tensors scanned for 0/1 values; graded spikes
    (``graded_spikes_factor``, a new tensor) and spikes changed in place keep their values.
    Packing runs as a Triton kernel on CUDA and ``numpy.packbits`` on the CPU.

    Example::

        with tsnn.memory.pack_spikes():
            loss = criterion(net(x), y)
        loss.backward()
    """
    ACTIVE[0] += 1
    try:
        with torch.autograd.graph.saved_tensors_hooks(_pack, _unpack):
            yield
    finally:
        ACTIVE[0] -= 1
        if not ACTIVE[0]:
            SPIKES.clear()


@contextlib.contextmanager
def compact_state():
    """Keep the membrane that each neuron's backward reads as bf16 plus one bit per element
    (``membrane > threshold``): 2.125 bytes per neuron element-step instead of 4.

    The forward pass (spikes, membranes, states) is unchanged. Backward gets an fp32 membrane on
    the forward's side of the threshold everywhere, so every reset, refractory step and spike it
    recomputes is the forward's exactly; the surrogate gradient reads the bf16-rounded membrane
    (relative error up to 2^-9 of the membrane), so gradients differ from the fp32 path by about
    that much (``bench/memory.py`` measures it). Applies to the first- and second-order neurons
    (Leaky, IF, Lapicque, ALIF, PLIF, Synaptic, Alpha and the one-to-one RLeaky/RSynaptic) on both
    backends, over sequences: the all-to-all recurrent layers, and a neuron run one step per call
    (whose membrane the next step saves as its initial state), keep fp32. Combines with
    :func:`pack_spikes` and :class:`TimeChunked`.

    Example::

        with tsnn.memory.compact_state(), tsnn.memory.pack_spikes():
            loss = criterion(net(x), y)
        loss.backward()
    """
    _compact.ACTIVE[0] += 1
    try:
        yield
    finally:
        _compact.ACTIVE[0] -= 1


@contextlib.contextmanager
def saved_tensor_bytes():
    """Count the bytes autograd saves for backward within the block, as stored: packed spikes at
    their packed size (use it inside :func:`pack_spikes`), other tensors once per storage. Yields
    a dict whose ``"bytes"`` grows as tensors are saved (parameters saved by a layer count too)."""
    ledger = {"bytes": 0}
    seen = set()

    def count(t):
        stored = _pack(t) if ACTIVE[0] else t
        if isinstance(stored, _Packed):
            ledger["bytes"] += stored.bits.numel()
        elif isinstance(stored, torch.Tensor) and stored.layout == torch.strided:
            key = stored.untyped_storage().data_ptr()
            if key not in seen:
                seen.add(key)
                ledger["bytes"] += stored.untyped_storage().nbytes()
        return stored

    with torch.autograd.graph.saved_tensors_hooks(count, _unpack):
        yield ledger


# ------------------------------------------------------------------------------ TimeChunked


def _get_state(unit):
    """The state a multi-step unit carries into its next call (a pytree of tensors)."""
    if isinstance(unit, SpikingNeuron):
        return {k: v for k, v in unit._state.items() if v is not None}
    if isinstance(unit, _Stateful):
        return unit.state
    return unit.history  # Delay


def _set_state(unit, state):
    if isinstance(unit, SpikingNeuron):
        unit._state = dict(state or {})
    elif isinstance(unit, Delay):
        unit.history = state
    else:
        unit.state = state


def _units(module):
    """The modules of ``module`` that carry state across calls, checked for TimeChunked."""
    units = []
    for name, m in module.named_modules():
        if isinstance(m, (Connection, Cell)) and m.record:
            raise ValueError(
                f"TimeChunked: {name or type(m).__name__} records its spikes (record=True), which would keep only "
                "the last chunk's; run plasticity rules on the whole network, without TimeChunked"
            )
        if isinstance(m, Trace):
            raise ValueError(
                f"TimeChunked: {name} (Trace) carries its trace detached from the graph across calls, so chunks "
                "would cut its gradient; traces belong to plasticity rules, run them without TimeChunked"
            )
        if hasattr(m, "init_hidden"):
            raise ValueError(
                f"TimeChunked: {name} ({type(m).__name__}) is a single-step snnTorch-style neuron; use the "
                "multi-step tritonsnn neurons (tsnn.Leaky, ...) inside TimeChunked"
            )
        if isinstance(m, (SpikingNeuron, _Stateful, Delay)):
            if getattr(m, "step_mode", "multi") != "multi":
                raise ValueError(
                    f"TimeChunked runs multi-step networks ([T, B, ...] per call); {name} ({type(m).__name__}) is "
                    "single-step (step_mode='single'): build it with step_mode='multi'"
                )
            units.append(m)
    return units


@dataclass
class _ChunkContext:
    """What a chunk's forward ran under: ``compact_state`` or not; ``ran`` once it has run (the
    next call is backward's recomputation)."""

    compact: bool
    ran: bool = False


def _stitch(result, out, t0, steps):
    """Chunk outputs written into one ``[steps, ...]`` tensor (or tuple) as they come: no chunk
    output outlives its copy, so the outputs never take twice their size (as ``torch.cat`` would)."""
    if result is None:
        result = _pytree.tree_map(lambda o: o.new_empty((steps, *o.shape[1:])), out)
    for dst, src in zip(_pytree.tree_leaves(result), _pytree.tree_leaves(out)):
        dst[t0 : t0 + src.shape[0]] = src
    return result


class TimeChunked(nn.Module):
    """Run a multi-step network over ``[T, B, ...]`` in chunks of ``chunk`` steps, recomputing
    each chunk in backward instead of keeping its activations.

    Forward keeps only every neuron's state at the chunk boundaries (and the inputs and outputs);
    backward recomputes one chunk at a time (``torch.utils.checkpoint``, non-reentrant), the state
    gradients flowing from each chunk into the one before. Outputs and gradients are those of the
    plain network: spikes and states bit for bit; parameter gradients up to the order in which
    floating-point sums over time are taken (per chunk, then across chunks).

    The wrapped module must take ``[T, B, ...]`` and return a time-major tensor (or a tuple of
    them), as an ``nn.Sequential`` of tritonsnn neurons, synapses, delays and stateless layers
    (wrapped in ``tsnn.MultiStep`` where they need ``[B, ...]``) does. Stateful units
    (``stateful=True``) carry their state across calls as without chunking (TBPTT with
    ``tsnn.detach``); the others start every call from zero.

    Args:
        module: the multi-step network.
        chunk: steps per chunk (>= 1). Peak memory is about ``T / chunk`` boundary states plus one
            chunk's activations; time grows by one extra forward pass. A chunk of 16-64 steps
            keeps the per-step work large enough on both CPU and GPU.
    """

    def __init__(self, module: nn.Module, chunk: int):
        super().__init__()
        if not isinstance(module, nn.Module):
            raise TypeError(f"TimeChunked wraps an nn.Module; got {type(module).__name__}")
        if isinstance(chunk, bool) or not isinstance(chunk, int) or chunk < 1:
            raise ValueError(f"chunk must be a whole number of steps >= 1; got {chunk!r}")
        _units(module)  # refuse what cannot run chunked now, not at the first call
        self.module = module
        self.chunk = chunk

    def forward(self, x):
        if not isinstance(x, torch.Tensor) or x.dim() < 2:
            raise ValueError(f"TimeChunked expects a sequence [T, B, ...]; got {getattr(x, 'shape', x)!r}")
        units = _units(self.module)
        carried = [u.stateful for u in units]
        states = [_get_state(u) if keep else None for u, keep in zip(units, carried)]
        result = None
        for t0 in range(0, x.shape[0], self.chunk):
            leaves, spec = _pytree.tree_flatten(states)
            context = _ChunkContext(compact=bool(_compact.ACTIVE[0]))
            out, *leaves = _checkpoint.checkpoint(
                self._chunk, x[t0 : t0 + self.chunk], spec, context, *leaves, use_reentrant=False
            )
            states = _pytree.tree_unflatten(leaves, self._spec_out)
            result = _stitch(result, out, t0, x.shape[0])
        for u, keep, state in zip(units, carried, states):
            if keep:  # as after a plain call: the final state, in the graph (tsnn.detach for TBPTT)
                _set_state(u, state)
        return self.module(x) if result is None else result  # T = 0: one call shapes the empty outputs

    def _chunk(self, x, spec, context, *leaves):
        """One chunk from the given states; the units' own state is left as it was, so that the
        recomputation in backward does not disturb what forward left. ``context``: how the
        forward ran (the recomputation saves the same tensors, and monitors see each step once)."""
        units = _units(self.module)
        before = [(u.stateful, _get_state(u)) for u in units]
        recomputing, context.ran = context.ran, True
        observers = [(u, u._observers) for u in units if isinstance(u, SpikingNeuron)]
        try:
            for u, state in zip(units, _pytree.tree_unflatten(list(leaves), spec)):
                u.stateful = True
                _set_state(u, state)
            if recomputing:  # a tsnn.Monitor has seen this chunk in forward already
                for u, _ in observers:
                    u._observers = []
            with compact_state() if context.compact else contextlib.nullcontext():
                out = self.module(x)
            after, self._spec_out = _pytree.tree_flatten([_get_state(u) for u in units])
        finally:
            for u, (stateful, state) in zip(units, before):
                u.stateful = stateful
                _set_state(u, state)
            for u, watched in observers:
                u._observers = watched
        return (out, *after)

    def extra_repr(self):
        return f"chunk={self.chunk}"
