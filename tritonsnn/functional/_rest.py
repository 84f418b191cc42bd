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


def threshold(value, shift: Shift | None):
    """The threshold the kernels compare ``mem - c`` with."""
    return value if shift is None or shift.offset == 0.0 else value - shift.offset


def threshold_name(shift: Shift | None) -> str:
    return "threshold" if shift is None or shift.offset == 0.0 else "threshold - v_reset"


def start(v0, shift: Shift | None, shape, x):
    """The initial shifted membrane: ``v0 - c``, or (``v0`` None) the rest, ``v_rest - c``; None for zeros."""
    if shift is None:
        return v0
    if v0 is not None:
        return v0 - shift.offset if shift.offset else v0
    return torch.full(shape, shift.rest, dtype=torch.float32, device=x.device) if shift.rest else None


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


def add_state(s0, k, shape, x):
    """An initial state plus ``k`` (``s0`` None: zeros), or ``s0`` for ``k`` None."""
    if k is None:
        return s0
    return (torch.zeros(shape, dtype=torch.float32, device=x.device) if s0 is None else s0) + k


def membrane(mem, shift: Shift | None):
    """The membrane out of the shifted one."""
    return mem if mem is None or shift is None or shift.offset == 0.0 else mem + shift.offset
