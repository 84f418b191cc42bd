"""The named contracts between the layers.

Each family of dynamics has records (NamedTuples) for what goes in and comes out:

* ``*State``: the initial state ``[B, N]`` (None = zeros; the refractory counter is int32),
* ``*Params``: fp32 parameters of shape ``[1]`` or ``[N]``, already clamped and broadcast,
* ``*Options``: the modes, compile-time flags of the kernels,
* ``*Outputs``: what the forward returns (unused outputs are empty tensors),
* ``*Saved``, ``*Upstream``: what the backward reads of the forward and of the gradients,
* ``*Grads``: what the backward returns (None where not needed).

The field order of the records is the schema of the family's ``torch.library`` op
(``ops/``); the launchers (``kernels/``) and the PyTorch implementations (``torchimpl/``)
take and return the records, so everything is passed and read by name. Field names are
one vocabulary across families: ``mem0``, ``spk0``, ``count0``, ``threshold``, ``v`` (the
one-to-one recurrent weight), ``reset_bits``, ``refr_bits``.
"""

from __future__ import annotations

from enum import IntEnum
from typing import NamedTuple

import torch
from torch import Tensor

from . import _alloc
from . import surrogate as sg


class Reset(IntEnum):
    """What a spike does to the membrane (snnTorch's ``reset_mechanism``)."""

    SUBTRACT = 0
    ZERO = 1
    NONE = 2


RESET_MODES = {"subtract": Reset.SUBTRACT, "zero": Reset.ZERO, "none": Reset.NONE}


class SecondOrder(IntEnum):
    """Which structure the second-order kernels compile."""

    SYNAPTIC = 0
    ALPHA = 1


def _surrogate(opts) -> sg.Surrogate:
    """Options records carry the surrogate as plain fields (op schemas take no objects)."""
    return sg.Surrogate(opts.surrogate_kind, opts.surrogate_param, opts.surrogate_param2)


def surrogate_fields(surrogate: sg.Surrogate) -> dict:
    """The surrogate fields of an options record."""
    return dict(surrogate_kind=surrogate.kind, surrogate_param=surrogate.param, surrogate_param2=surrogate.param2)


_empty = _alloc.empty


# --- first order: Leaky, IF, Lapicque, RLeaky one-to-one, ALIF ------------------------------


class LifState(NamedTuple):
    mem0: Tensor | None
    spk0: Tensor | None  # spikes of the step before the first (RECURRENT, ADAPT)
    adapt0: Tensor | None  # ADAPT
    count0: Tensor | None  # refractory steps left (int32)


class LifParams(NamedTuple):
    beta: Tensor
    threshold: Tensor
    gain: Tensor | None = None  # Lapicque: the input is scaled by dt/C
    v: Tensor | None = None  # RLeaky one-to-one: + v * s[t-1]
    rho: Tensor | None = None  # ALIF adaptation decay
    b: Tensor | None = None  # ALIF adaptation strength


class LifOptions(NamedTuple):
    reset: int
    delay: bool  # snnTorch's reset_delay (the reset acts at the next step)
    zero_whole: bool  # the zero reset clears the input too (Lapicque, RLeaky)
    refractory: int  # refractory period in steps (0 = off)
    need_mem: bool  # the caller reads the membrane (post-reset without delay)
    at_threshold: bool  # a membrane equal to the threshold fires (>=; else only above it, snnTorch's >)
    surrogate_kind: int
    surrogate_param: float
    surrogate_param2: float
    use_triton: bool

    @property
    def surrogate(self) -> sg.Surrogate:
        return _surrogate(self)


class LifOutputs(NamedTuple):
    spikes: Tensor  # x's dtype
    pre: Tensor  # membrane before a same-step reset, fp32
    reset_bits: Tensor  # int8, without delay
    post: Tensor  # post-reset membrane, without delay and with need_mem
    refr_bits: Tensor  # int8 refractory flags, with a refractory period
    final_count: Tensor  # refractory counter [B, N] after the last step, int32
    adapt: Tensor  # ALIF adaptation sequence, fp32


class LifSaved(NamedTuple):
    pre: Tensor
    reset_bits: Tensor | None
    refr_bits: Tensor | None
    adapt: Tensor | None
    sgrad: Tensor | None = None  # precomputed surrogate gradient (see tritonsnn/surrogate.py)


class LifUpstream(NamedTuple):
    g_spikes: Tensor
    g_mem: Tensor | None  # of the returned membrane (pre with delay, post without)
    g_adapt: Tensor | None


class LifGrads(NamedTuple):
    dx: Tensor
    dmem0: Tensor
    dspk0: Tensor | None
    dadapt0: Tensor | None
    dbeta: Tensor | None
    dthreshold: Tensor | None
    dv: Tensor | None
    drho: Tensor | None
    db: Tensor | None


def lif_outputs(x: Tensor, opts: LifOptions, adapt: bool) -> LifOutputs:
    """Allocate the outputs of the first-order forward for ``x [T, B, N]``; unused ones are empty."""
    T, B, N = x.shape
    dev, seq, none = x.device, (T, B, N), (0,)
    refr = opts.refractory > 0
    return LifOutputs(
        spikes=_empty(*seq, dtype=x.dtype, device=dev),
        pre=_empty(*seq, dtype=torch.float32, device=dev),
        reset_bits=_empty(*(none if opts.delay else seq), dtype=torch.int8, device=dev),
        post=_empty(*(seq if not opts.delay and opts.need_mem else none), dtype=torch.float32, device=dev),
        refr_bits=_empty(*(seq if refr else none), dtype=torch.int8, device=dev),
        final_count=_empty(*((B, N) if refr else none), dtype=torch.int32, device=dev),
        adapt=_empty(*(seq if adapt else none), dtype=torch.float32, device=dev),
    )


# --- second order: Synaptic, RSynaptic one-to-one, Alpha -------------------------------------


class SynState(NamedTuple):
    cur0: Tensor | None  # synaptic current (Alpha: excitatory)
    aux0: Tensor | None  # Alpha: inhibitory current
    mem0: Tensor | None
    spk0: Tensor | None  # RECURRENT
    count0: Tensor | None


class SynParams(NamedTuple):
    alpha: Tensor
    beta: Tensor
    tau: Tensor | None  # Alpha
    threshold: Tensor
    v: Tensor | None  # RSynaptic one-to-one


class SynOptions(NamedTuple):
    neuron: int  # SecondOrder
    reset: int
    delay: bool
    store_cur: bool  # keep the current sequences (returned, or read by a decay's gradient)
    need_mem: bool
    refractory: int
    at_threshold: bool  # a membrane equal to the threshold fires (>=; else snnTorch's >)
    surrogate_kind: int
    surrogate_param: float
    surrogate_param2: float
    use_triton: bool

    @property
    def surrogate(self) -> sg.Surrogate:
        return _surrogate(self)


class SynOutputs(NamedTuple):
    spikes: Tensor
    cur: Tensor  # with store_cur
    aux: Tensor  # Alpha with store_cur
    mem: Tensor  # pre-reset membrane (Alpha: its membrane)
    reset_bits: Tensor  # Synaptic without delay
    post: Tensor  # Synaptic without delay, with need_mem
    refr_bits: Tensor
    final_count: Tensor


class SynSaved(NamedTuple):
    cur: Tensor
    aux: Tensor
    mem: Tensor
    reset_bits: Tensor
    refr_bits: Tensor
    sgrad: Tensor | None = None


class SynUpstream(NamedTuple):
    g_spikes: Tensor
    g_cur: Tensor | None
    g_aux: Tensor | None
    g_mem: Tensor | None  # of the returned membrane


class SynGrads(NamedTuple):
    dx: Tensor
    dcur0: Tensor
    daux0: Tensor | None
    dmem0: Tensor
    dspk0: Tensor | None
    dalpha: Tensor | None
    dbeta: Tensor | None
    dtau: Tensor | None
    dthreshold: Tensor | None
    dv: Tensor | None


def syn_outputs(x: Tensor, opts: SynOptions) -> SynOutputs:
    """Allocate the outputs of the second-order forward for ``x [T, B, N]``; unused ones are
    empty (each its own tensor: outputs of a custom op may not alias)."""
    T, B, N = x.shape
    dev, seq, none = x.device, (T, B, N), (0,)
    alpha = opts.neuron == SecondOrder.ALPHA
    refr = opts.refractory > 0
    return SynOutputs(
        spikes=_empty(*seq, dtype=x.dtype, device=dev),
        cur=_empty(*(seq if opts.store_cur else none), dtype=torch.float32, device=dev),
        aux=_empty(*(seq if opts.store_cur and alpha else none), dtype=torch.float32, device=dev),
        mem=_empty(*seq, dtype=torch.float32, device=dev),
        reset_bits=_empty(*(none if opts.delay else seq), dtype=torch.int8, device=dev),
        post=_empty(*(seq if not opts.delay and opts.need_mem else none), dtype=torch.float32, device=dev),
        refr_bits=_empty(*(seq if refr else none), dtype=torch.int8, device=dev),
        final_count=_empty(*((B, N) if refr else none), dtype=torch.int32, device=dev),
    )


# --- all-to-all recurrence (RLeaky, RSynaptic with an nn.Linear or a same-size nn.Conv2d) -----


class Dense(NamedTuple):
    weight: Tensor
    bias: Tensor | None
    image: list[int] | None  # [C, H, W] for a convolution, None for a Linear


class DenseLifOutputs(NamedTuple):
    spikes: Tensor
    mem: Tensor  # the membrane a user sees (pre with delay, post without)
    pre: Tensor
    reset_bits: Tensor
    refr_bits: Tensor
    final_count: Tensor


class DenseSynOutputs(NamedTuple):
    spikes: Tensor
    cur: Tensor
    mem: Tensor
    pre: Tensor
    reset_bits: Tensor
    refr_bits: Tensor
    final_count: Tensor


# --- nonlinear integrate-and-fire: QIF, EIF, Izhikevich, AdEx (SpikingJelly's conventions) --


class Nonlinearity(IntEnum):
    """The membrane's own drive ``f(v)`` in ``h = v + (x + f(v) - w) / tau``."""

    QUADRATIC = 0  # a0 (v - v_rest)(v - v_c): QIF, Izhikevich
    EXPONENTIAL = 1  # v_rest - v + delta_t exp((v - theta_rh) / delta_t): EIF, AdEx
    LINEAR = 2  # -(v - v_rest): LIF (SpikingJelly's LIFNode)


class NlifState(NamedTuple):
    mem0: Tensor | None  # membrane after the previous step's reset
    w0: Tensor | None  # adaptation current (ADAPT)
    count0: Tensor | None  # refractory steps left (int32)


class NlifParams(NamedTuple):
    threshold: Tensor
    offset: Tensor | None = None  # [T, N] added to the threshold at each step, no gradient (shared adaptation)


class NlifAdaptation(NamedTuple):
    """A threshold adaptation shared by the batch (Inferno's ALIF): ``K`` components per neuron,
    added to the threshold; each decays by ``decay[k]`` per step (held on a sample's refractory
    steps), grows by ``increment[k]`` per spike, and is reduced over the batch after every step."""

    theta0: Tensor  # [N, K] fp32, the components before the first step
    decay: Tensor  # [K] exp(-dt / tau_k)
    increment: Tensor  # [K]
    reduction: str  # over the batch: "mean", "sum", "max" or "min"
    update: bool  # False: frozen (evaluation), the offsets are the sum of theta0


class NlifCurrent(NamedTuple):
    """An adaptation current shared by the batch (Inferno's Izhikevich and AdEx): ``K`` components
    per neuron, subtracted from the input; each follows the membrane after the reset by an Euler
    step ``w += rate (coupling (v - v_rest) - w)`` (held on a sample's refractory and spike steps),
    grows by ``increment`` per spike, and is reduced over the batch after every step."""

    w0: Tensor  # [N, K] fp32, before the first step
    rate: Tensor  # [K] dt / tau_k
    coupling: Tensor  # [K]
    increment: Tensor  # [K]
    reduction: str  # "mean", "sum", "max" or "min"
    update: bool  # False: frozen, the same current every step


class NlifOptions(NamedTuple):
    nonlinearity: int
    adapt: bool  # an adaptation current w (Izhikevich, AdEx)
    hard_reset: bool  # a spike sets the membrane to v_reset; else it subtracts the threshold
    linear_reset: bool  # with hard_reset: to v_rest + reset_mul (h - v_rest) - reset_add instead (GLIF2)
    detach_reset: bool  # no gradient through the reset (SpikingJelly's detach_reset)
    decay_input: bool  # LINEAR: the input is divided by tau too (else added as it is)
    tau: float
    v_rest: float
    v_c: float  # QUADRATIC
    a0: float  # QUADRATIC
    theta_rh: float  # EXPONENTIAL
    delta_t: float  # EXPONENTIAL
    v_reset: float  # hard_reset
    reset_mul: float  # linear_reset
    reset_add: float  # linear_reset
    a: float  # ADAPT: subthreshold coupling
    b: float  # ADAPT: spike-triggered increment
    tau_w: float  # ADAPT
    need_mem: bool  # the caller reads the membrane (and w) sequences
    refractory: int  # refractory period in steps (0 = off)
    surrogate_kind: int
    surrogate_param: float
    surrogate_param2: float
    use_triton: bool

    @property
    def surrogate(self) -> sg.Surrogate:
        return _surrogate(self)


class NlifOutputs(NamedTuple):
    spikes: Tensor  # x's dtype
    pre: Tensor  # membrane before the reset, fp32 (a refractory step: the held membrane)
    mem: Tensor  # after the reset, with need_mem
    w: Tensor  # adaptation current after each step, ADAPT with need_mem
    refr_bits: Tensor  # int8, 1 on refractory steps
    final_count: Tensor  # int32 counter after the last step


class NlifSaved(NamedTuple):
    pre: Tensor
    refr_bits: Tensor | None
    sgrad: Tensor | None = None


class NlifUpstream(NamedTuple):
    g_spikes: Tensor
    g_mem: Tensor | None
    g_w: Tensor | None


class NlifGrads(NamedTuple):
    dx: Tensor
    dmem0: Tensor
    dw0: Tensor | None
    dthreshold: Tensor | None


def nlif_outputs(x: Tensor, opts: NlifOptions) -> NlifOutputs:
    """Allocate the outputs of the nonlinear forward for ``x [T, B, N]``; unused ones are empty."""
    dev, seq, none = x.device, tuple(x.shape), (0,)
    f32, refr = torch.float32, opts.refractory > 0
    return NlifOutputs(
        spikes=_empty(*seq, dtype=x.dtype, device=dev),
        pre=_empty(*seq, dtype=f32, device=dev),
        mem=_empty(*(seq if opts.need_mem else none), dtype=f32, device=dev),
        w=_empty(*(seq if opts.need_mem and opts.adapt else none), dtype=f32, device=dev),
        refr_bits=_empty(*(seq if refr else none), dtype=torch.int8, device=dev),
        final_count=_empty(*(seq[1:] if refr else none), dtype=torch.int32, device=dev),
    )


# --- linear scans: synapse filters and traces -------------------------------------------------


class ScanState(NamedTuple):
    h0: Tensor | None  # first stage
    y0: Tensor | None  # second stage (SECOND)


class ScanParams(NamedTuple):
    a: Tensor  # decay of the first stage
    b: Tensor | None  # decay of the second stage (SECOND)


class ScanOptions(NamedTuple):
    second: bool  # a cascade of two exponential stages; the output is the second
    nearest: bool  # a nonzero input replaces the state (nearest-spike traces)
    use_triton: bool


class ScanOutputs(NamedTuple):
    h: Tensor  # fp32 first-stage sequence
    y: Tensor  # fp32 second-stage sequence (empty unless SECOND)


class ScanSaved(NamedTuple):
    x: Tensor | None  # the input, read back for the nearest-trace mask only
    h: Tensor
    y: Tensor


class ScanUpstream(NamedTuple):
    g_out: Tensor  # of the output (y with SECOND, else h)
    g_h: Tensor | None  # of the first stage, SECOND only


class ScanGrads(NamedTuple):
    dx: Tensor
    dh0: Tensor
    dy0: Tensor | None
    da: Tensor | None
    db: Tensor | None
