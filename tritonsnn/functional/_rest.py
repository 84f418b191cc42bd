"""Rest and reset potentials (``v_rest``, ``v_reset``) of the snnTorch-form neurons.

Their kernels leak towards 0 and the zero reset sets 0. A neuron whose membrane leaks towards
``v_rest`` and is reset to ``v_reset``::

    mem[t] = v_rest + beta * (mem[t-1] - v_rest) + x[t]      (zero reset: mem[t-1] -> v_reset where reset)

is the same neuron run on ``u = mem - c`` with ``c = v_reset`` under the zero reset and 0 otherwise:
``u`` leaks towards 0 with the extra input ``(1 - beta) * (v_rest - c)``, fires where
``u > threshold - c``, the zero reset sets it to 0, the subtracting reset subtracts the threshold,
and a refractory hold keeps it. So the fused ops run unchanged on a shifted threshold, initial
membrane and (where ``v_rest != c``) input, and the membrane they return is shifted back. Exact up
to rounding; where ``v_rest != c`` the shifted input is one fp32 pass over ``x`` (autograd carries
the decays' gradients through it), and the returned membrane is one pass more.
"""

from __future__ import annotations

from typing import NamedTuple

import torch

from ..contracts import Reset
from ._validate import param, state


class Shift(NamedTuple):
    """The membrane the kernels run on is ``mem - offset``; it rests at ``rest``."""

    offset: float  # c: v_reset under the zero reset, else 0
    rest: float  # v_rest - c, also where the membrane starts


def shift_of(options) -> Shift | None:
    """The shift of a call's ``Common`` options; None where both potentials are 0 (nothing to do)."""
    if options.v_rest == 0.0 and options.v_reset == 0.0:
        return None
    offset = options.v_reset if options.reset == Reset.ZERO else 0.0
    return Shift(offset, options.v_rest - offset)


def threshold(value, shift: Shift | None, features, x):
    """The threshold the kernels compare ``mem - c`` with, checked (> 0, so the threshold > v_reset).
    The check reads ``value`` itself: a Module's threshold then passes once per version, not per call."""
    if shift is None or shift.offset == 0.0:
        return param(value, "threshold", features, x, positive=True)
    return param(value, "threshold - v_reset", features, x, positive=True, above=shift.offset) - shift.offset


def start(v0, shift: Shift | None, x, layout):
    """The initial shifted membrane ``[B, N]``: ``v0 - c``, or (``v0`` None) the rest, ``v_rest - c``;
    None for zeros."""
    v0 = state(v0, "v0", x, layout.features, layout=layout)
    if shift is None:
        return v0
    if v0 is not None:
        return v0 - shift.offset if shift.offset else v0
    return torch.full((layout.B, layout.N), shift.rest, dtype=torch.float32, device=x.device) if shift.rest else None


def leak_input(shift: Shift | None, beta, gain=None):
    """What the leak towards ``v_rest`` adds per step to the shifted membrane (divided by the gain
    that scales the input); None where it adds nothing."""
    if shift is None or shift.rest == 0.0:
        return None
    k = (1 - beta) * shift.rest
    return k if gain is None else k / gain


def add_input(x, k):
    """``x + k`` in fp32 (a low-precision ``x`` would round the shifted input), or ``x`` for None."""
    return x if k is None else x.to(torch.float32) + k


def start_current(syn0, k, x, layout):
    """The initial current ``[B, N]`` of a second-order neuron, plus ``k`` (``syn0`` None: zeros)."""
    syn0 = state(syn0, "syn0", x, layout.features, layout=layout)
    if k is None:
        return syn0
    return (torch.zeros(layout.B, layout.N, dtype=torch.float32, device=x.device) if syn0 is None else syn0) + k


def current_input(x, k, alpha):
    """A second-order neuron's input with the current run as ``syn + k``: ``(1 - alpha) k`` more per step."""
    return add_input(x, None if k is None else (1 - alpha) * k)


def current(cur, k):
    """The current out of the one run as ``syn + k``."""
    return cur if k is None else cur - k


def spikes_like(spikes, x):
    """The spikes in ``x``'s dtype (a shifted input runs in fp32)."""
    return spikes if spikes.dtype == x.dtype else spikes.to(x.dtype)


def membrane(mem, shift: Shift | None):
    """The membrane out of the shifted one."""
    return mem if mem is None or shift is None or shift.offset == 0.0 else mem + shift.offset
