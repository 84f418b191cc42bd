"""Constants and output layouts shared by the functional layer, the ops and both backends."""
import torch

from . import _alloc

RESET_SUBTRACT, RESET_ZERO, RESET_NONE = 0, 1, 2
RESET_MODES = {"subtract": RESET_SUBTRACT, "zero": RESET_ZERO, "none": RESET_NONE}


def lif_outputs(x, delay: bool, need_post: bool, refractory: int = 0, adapt: bool = False):
    """Allocate ``(spikes, pre, reset_bits, post, refr_bits, count, adapt)`` for ``x [T, B, N]``:
    spikes in x's dtype, fp32 pre-reset membrane, and, without ``delay``, int8 reset bits and
    (if asked) fp32 post-reset membrane; with a refractory period int8 refractory flags and
    the final int32 counter ``[B, N]``; with adaptation the fp32 adaptation sequence.
    Unused outputs are empty."""
    T, B, N = x.shape
    f32, dev = torch.float32, x.device
    refr = refractory > 0
    spikes = _alloc.empty(T, B, N, dtype=x.dtype, device=dev)
    pre = _alloc.empty(T, B, N, dtype=f32, device=dev)
    bits = _alloc.empty(*((0,) if delay else (T, B, N)), dtype=torch.int8, device=dev)
    post = _alloc.empty(*((T, B, N) if not delay and need_post else (0,)), dtype=f32, device=dev)
    qbits = _alloc.empty(*((T, B, N) if refr else (0,)), dtype=torch.int8, device=dev)
    count = _alloc.empty(*((B, N) if refr else (0,)), dtype=torch.int32, device=dev)
    aseq = _alloc.empty(*((T, B, N) if adapt else (0,)), dtype=f32, device=dev)
    return spikes, pre, bits, post, qbits, count, aseq


# Second-order family (kernels/synaptic.py): which readout/reset structure a kernel compiles.
NEURON_SYNAPTIC, NEURON_ALPHA = 0, 1


def syn_outputs(x, neuron: int, delay: bool, store_cur: bool, need_post: bool, refractory: bool = False):
    """Allocate ``(spikes, cur, aux, mem, reset_bits, post, refr_flags, refr_count)`` for
    ``x [T, B, N]`` (the ``syn_fwd`` op): spikes in x's dtype, fp32 state sequences. ``cur``
    (and for Alpha ``aux``) exist when ``store_cur``, bits/post as in
    :func:`lif_outputs`; with ``refractory``, int8 flags per step and the final int32 counter.
    Unused outputs are empty (each its own tensor: custom-op outputs may not alias)."""
    T, B, N = x.shape
    f32, seq, none = torch.float32, (T, B, N), (0,)
    is_alpha = neuron == NEURON_ALPHA

    def alloc(shape, dtype=f32):
        return _alloc.empty(*shape, dtype=dtype, device=x.device)
    return (alloc(seq, x.dtype), alloc(seq if store_cur else none), alloc(seq if store_cur and is_alpha else none),
            alloc(seq), alloc(none if delay else seq, torch.int8), alloc(seq if not delay and need_post else none),
            alloc(seq if refractory else none, torch.int8), alloc((B, N) if refractory else none, torch.int32))
