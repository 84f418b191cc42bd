"""The one validation and normalisation layer of the functional API: inputs, parameters and
states are checked here and shaped into what the ops take (fp32 ``[1]``/``[N]`` parameters,
``[B, N]`` states), with errors that name the argument and the fix."""

from __future__ import annotations

import math
import weakref
from typing import NamedTuple

import torch

from .. import _backend
from .. import surrogate as sg
from .._alloc import constant
from .._spikes import mark_spikes
from ..contracts import RESET_MODES, Reset, surrogate_fields


def check_input(x, name="x", single=False):
    """``x`` must be a floating tensor ``[T, B, *features]`` (``single``: one step ``[B, *features]``)."""
    if not isinstance(x, torch.Tensor):
        raise TypeError(f"{name} must be a torch.Tensor of shape [T, B, *features]; got {type(x).__name__}")
    if not x.is_floating_point():
        raise TypeError(
            f"{name} must be a floating tensor (float32/float16/bfloat16); got {x.dtype}: "
            f"convert it with {name}.float()"
        )
    if x.dtype not in (torch.float32, torch.float16, torch.bfloat16):
        raise TypeError(
            f"{name} must be float32, float16 or bfloat16; got {x.dtype}. The neurons carry their state in "
            f"float32 on both backends, so other precisions would not be computed as asked: convert with "
            f"{name}.float() (a float64 gradcheck can run against the autograd reference loops instead)"
        )
    if x.dim() < (1 if single else 2):
        raise ValueError(
            f"{name} must have shape [T, B, *features] (time first); got shape {tuple(x.shape)}. "
            "For a single step use step_mode='single' or add a time axis with x[None]"
        )


class Layout:
    """How ``x`` maps onto the ops' ``[T, B, N]`` (``single``: one step ``[B, N]``, no time axis):
    its feature shape, and the flattening of inputs and states and unflattening of outputs,
    each a no-op (no autograd node) where the shapes already agree."""

    def __init__(self, x, single=False):
        self.single = single
        self.step_shape = tuple(x.shape) if single else tuple(x.shape[1:])  # [B, *features]
        self.B = self.step_shape[0] if self.step_shape else 1
        self.features = self.step_shape[1:]
        self.N = math.prod(self.features)
        self.shape = tuple(x.shape)

    def flat(self, x):
        """``x`` as ``[T, B, N]`` (single: ``[B, N]``)."""
        lead = () if self.single else (x.shape[0],)
        target = (*lead, self.B, self.N)
        return x if tuple(x.shape) == target else x.reshape(target)

    def unflat(self, t):
        """An output sequence (single: step) as ``x``'s shape."""
        return t if tuple(t.shape) == self.shape else t.view(self.shape)

    def unflat_state(self, t):
        """A ``[B, N]`` output state as ``[B, *features]``."""
        return t if tuple(t.shape) == self.step_shape else t.view(self.step_shape)


def flat(x):
    """``x [T, B, *features]`` as ``[T, B, N]``."""
    return Layout(x).flat(x)


def param(value, name, features, x, positive=False, above=0.0):
    """``value`` (number or tensor broadcastable to ``features``) as fp32 ``[1]`` or ``[N]`` on x's device;
    ``positive``: ``value - above`` (named ``name``) must be > 0."""
    if isinstance(value, torch.Tensor):
        if value.device != x.device:
            if value.numel() != 1:
                raise ValueError(
                    f"{name} is on {value.device} but x is on {x.device}: move it with {name}.to(x.device)"
                )
            value = value.to(x.device)
        t = value if value.dtype == torch.float32 else value.to(torch.float32)
        # A value check needs the data on the host: skipped on GPU (it would sync) and while
        # torch.compile traces; Modules check at construction.
        if t.numel() and not t.is_cuda and not torch.compiler.is_compiling():
            _check_tensor(t, name, value, above if positive else None)
    elif isinstance(value, (int, float)):
        v = float(value)
        _check_number(v, name, value, above if positive else None)
        # made once per value and device: no host-to-device copy (a GPU sync) per call
        t = constant(v, torch.float32, x.device, (1,))
    else:
        raise TypeError(f"{name} must be a number or a tensor; got {type(value).__name__}")
    if t.numel() == 1:
        return t if t.shape == (1,) else t.reshape(1)
    try:
        t = torch.broadcast_to(t, features)
    except RuntimeError:
        raise ValueError(
            f"{name} of shape {tuple(t.shape)} must be a scalar or broadcastable to the "
            f"feature shape {tuple(features)} (input shape [T, B, *features])"
        ) from None
    return t.reshape(-1)


def _check_number(v, name, value, floor=None):
    """NaN, infinite or (``floor`` given) parameter values not above ``floor`` are refused: they would
    give a NaN or exploding membrane and no spikes, without an error. ``name`` is of ``value - floor``."""
    if not math.isfinite(v):
        raise ValueError(f"{name} must be finite; got {value}")
    if floor is not None and v <= floor:
        raise ValueError(f"{name} must be > 0; got {value if floor == 0 else f'{v - floor:g}'}")


# id(tensor) -> (weak reference, version, storage, floor) of the tensors whose values passed: a
# Module's parameter is checked again only after it changed (an optimiser step bumps its version),
# so a one-step-per-call loop does not pay four reductions and host reads per parameter per step.
# A change made through ``.data`` is not versioned and is seen at the next versioned change.
_CHECKED: dict = {}


def _check_tensor(t, name, value, floor=None):
    versioned = not t.is_inference()  # an inference-mode tensor has no version counter: always checked
    if versioned:
        key, version, storage = id(t), t._version, t.data_ptr()
        seen = _CHECKED.get(key)
        # a pass above a floor is a pass above any lower one
        covered = floor is None or (seen is not None and seen[3] is not None and seen[3] >= floor)
        if seen is not None and seen[0]() is t and seen[1:3] == (version, storage) and covered:
            return
    detached = t.detach()
    _check_number(float(detached.min()), name, value, floor)
    _check_number(float(detached.max()), name, value)
    if versioned:
        _CHECKED[key] = (weakref.ref(t, lambda _, key=key: _CHECKED.pop(key, None)), version, storage, floor)


def decay(value, name, features, x):
    """A decay factor: a parameter clamped to [0, 1]."""
    return param(value, name, features, x).clamp(0.0, 1.0)


def state(v, name, x, features, dtype=torch.float32, layout=None):
    """Initial state ``[B, *features]`` (broadcastable) as ``dtype`` ``[B, N]``, or None."""
    if v is None:
        return None
    if not isinstance(v, torch.Tensor):
        raise TypeError(f"{name} must be a tensor of shape [B, *features] or None; got {type(v).__name__}")
    if v.device != x.device:
        raise ValueError(f"{name} is on {v.device} but x is on {x.device}: move it with {name}.to(x.device)")
    layout = layout or Layout(x)
    if v.dtype == dtype and tuple(v.shape) == layout.step_shape == (layout.B, layout.N):
        return v
    shape = layout.step_shape
    try:
        v = torch.broadcast_to(v, shape)
    except RuntimeError:
        raise ValueError(
            f"{name} of shape {tuple(v.shape)} must match (or broadcast to) [B, *features] = {shape}"
        ) from None
    return v.to(dtype).reshape(layout.B, layout.N)


def count(count0, x, features, steps, layout=None):
    """The initial refractory counter as int32 ``[B, N]`` when a refractory period is on, else None."""
    return state(count0, "count0", x, features, torch.int32, layout) if steps > 0 else None


def reset_mode(reset_mechanism):
    try:
        return RESET_MODES[reset_mechanism]
    except (KeyError, TypeError):
        raise ValueError(f"reset_mechanism must be one of {sorted(RESET_MODES)}; got {reset_mechanism!r}") from None


def refractory_from_spike_step(period, dt=1.0):
    """tritonsnn's ``refractory`` for a period counted from the spike step itself (Inferno's and
    SpikingJelly-style ``refrac_t``: ``refrac_t=2.5, dt=1`` fires at most every 3 steps).

    tritonsnn counts the period after the spike step (``ceil(refractory / dt)`` refractory steps,
    PySNN's convention: every 4 steps for 2.5 ms); a period that includes the spike step leaves
    ``ceil(period / dt) - 1`` steps after it, which is ``refractory = max(period - dt, 0)``.

    Raises:
        ValueError: ``period`` < 0 or ``dt`` <= 0.
    """
    refractory_steps(period, dt)  # validates both
    return max(float(period) - float(dt), 0.0)


def refractory_steps(refractory, dt=1.0):
    """Refractory period in whole steps: ``ceil(refractory / dt)`` (0 = off).

    Raises:
        ValueError: ``refractory`` < 0 or ``dt`` <= 0.
    """
    if not isinstance(refractory, (int, float)) or isinstance(refractory, bool):
        raise TypeError(f"refractory must be a number of milliseconds; got {type(refractory).__name__}")
    if not isinstance(dt, (int, float)) or isinstance(dt, bool):
        raise TypeError(f"dt must be a number of milliseconds; got {type(dt).__name__}")
    if not (math.isfinite(refractory) and refractory >= 0):
        raise ValueError(f"refractory must be a finite number >= 0 (milliseconds; 0 turns it off); got {refractory}")
    if not (math.isfinite(dt) and dt > 0):
        raise ValueError(f"dt must be a finite number > 0 (milliseconds per step); got {dt}")
    # Guard against 2.0000000001 steps from float division rounding up to 3.
    return int(math.ceil(refractory / dt - 1e-9))


class Common(NamedTuple):
    """The options every neuron op takes, validated (:func:`common`; Modules keep theirs)."""

    reset: int
    delay: bool  # a neuron without reset has nothing to delay: True
    refractory: int  # steps
    at_threshold: bool  # fire_at_threshold: a membrane equal to the threshold fires
    surrogate_kind: int
    surrogate_param: float
    surrogate_param2: float
    backend: str
    v_rest: float = 0.0  # the potentials of the snnTorch-form neurons (``functional/_rest.py``)
    v_reset: float = 0.0

    def record(self, kind, x, **fields):
        """The options record ``kind`` (``LifOptions``, ...) of a call on tensors like ``x``: these
        fields, the backend resolved (on every call: it reads the environment) and the family's
        own ``fields``. The record is made once per combination: building it costs as much as a
        small op, which a one-step-per-call loop would pay every step."""
        use_triton = _backend.resolve(self.backend, x.device) == "triton"

        def make():  # only on a miss: the hot path is the lookup
            common = self._asdict()
            for name in ("backend", "v_rest", "v_reset"):  # not the op's: resolved above it
                del common[name]
            return kind(**fields, **common, use_triton=use_triton)

        return cached_record((kind, self, use_triton, *fields.items()), make)


_RECORDS: dict = {}


def cached_record(key, make):
    """The options record of ``key``, made by ``make()`` the first time: an options record costs as
    much as a small op to build, which a one-step-per-call loop would pay every step. Bounded:
    records made from ever new numbers do not pile up."""
    rec = _RECORDS.get(key)
    if rec is None:
        if len(_RECORDS) >= 4096:
            _RECORDS.clear()
        rec = _RECORDS[key] = make()
    return rec


_COMMON_OPTIONS = (
    "reset_mechanism",
    "reset_delay",
    "surrogate",
    "refractory",
    "dt",
    "backend",
    "fire_at_threshold",
    "v_rest",
    "v_reset",
)


def common(args: dict, **fixed) -> Common:
    """Validate the options every neuron takes, out of a neuron function's arguments (its
    ``locals()``); ``fixed`` sets those it does not offer (``reset_delay=True`` where the reset is
    always delayed)."""
    o = {name: args[name] for name in _COMMON_OPTIONS if name in args} | fixed
    mode = reset_mode(o["reset_mechanism"])
    return Common(
        mode,
        bool(o["reset_delay"]) or mode == Reset.NONE,
        refractory_steps(o["refractory"], o["dt"]),
        bool(o.get("fire_at_threshold", False)),
        **surrogate_fields(sg.from_any(o["surrogate"])),
        backend=_backend.check_backend_name(o["backend"]),
        **potentials(o.get("v_rest", 0.0), o.get("v_reset", 0.0), mode),
    )


def potentials(v_rest, v_reset, mode) -> dict:
    """``v_rest`` and ``v_reset`` of an snnTorch-form neuron as floats, checked: finite numbers, and
    ``v_reset`` only where it is used (the zero reset sets the membrane to it)."""
    out = {}
    for name, v in (("v_rest", v_rest), ("v_reset", v_reset)):
        if not isinstance(v, (int, float)) or isinstance(v, bool):
            raise TypeError(f"{name} must be a number (a potential shared by all neurons); got {type(v).__name__}")
        _check_number(float(v), name, v)
        out[name] = float(v)
    if out["v_reset"] != 0.0 and mode != Reset.ZERO:
        raise ValueError(
            f"v_reset={v_reset} is the membrane after a spike of reset_mechanism='zero'; with reset_mechanism="
            f"{_mode_name(mode)!r} it would be ignored: pass reset_mechanism='zero' or leave v_reset at 0"
        )
    return out


def _mode_name(mode):
    return next(name for name, m in RESET_MODES.items() if m == mode)


def result(layout: Layout, spikes, seqs: dict, count, return_mem, return_state):
    """What a neuron function returns: spikes, ``(spikes, mem)`` or ``(spikes, state)``, every
    sequence viewed as the input's shape, the final refractory counter (if any) as ``state["count"]``."""
    spikes = mark_spikes(layout.unflat(spikes))
    if return_state:
        out = {k: layout.unflat(v) for k, v in seqs.items()}
        if count is not None:
            out["count"] = layout.unflat_state(count)
        return spikes, out
    return (spikes, layout.unflat(seqs["mem"])) if return_mem else spikes


def is_set(value):
    """snnTorch's truthiness test for Lapicque's beta/R/C (``False``/``None``/0 mean "not given")."""
    if value is None or value is False:
        return False
    if isinstance(value, torch.Tensor):  # given; no value test (it would sync or break a trace)
        return value.numel() > 0
    return bool(value)
