"""Neuron Modules: hold configuration, parameters and state; the dynamics live in
:mod:`tritonsnn.functional`.

Every neuron works as an activation layer in ``nn.Sequential``:

* ``step_mode="multi"`` (default): input ``[T, B, *features]``; starts from zero
  state unless ``stateful=True``, in which case the final state is carried into
  the next call (chunked sequences / truncated BPTT with :func:`tritonsnn.detach`).
* ``step_mode="single"``: input ``[B, *features]``, one step per call, state
  always carried (reset it with :func:`tritonsnn.reset`).

State (membrane, the refractory counter, RLeaky's last spikes) is never part of
``state_dict`` and restarts from zero when the input's batch size changes; input of
other features than the carried state raises (call :func:`tritonsnn.reset` first), and
so does a 2-D tensor given to a multi-step neuron (``[T, B, *features]`` is at least 3-D).
``spike_grad=`` (snnTorch's name) is accepted for ``surrogate=``.
``return_mem=True`` returns ``(spikes, mem)``; ``return_state=True`` returns
``(spikes, state)`` with every state sequence (see ``tsnn.functional``).
"""

from __future__ import annotations

import torch
from torch import nn

from . import _backend
from . import functional as F
from . import surrogate as sg
from ._doc import shared_args
from .contracts import Nonlinearity, Reset, surrogate_fields
from .functional import _reset_mode
from .functional._validate import Common, potentials
from .functional.first_order import _first_order, lapicque_terms
from .functional.nonlinear import DEFAULT_SURROGATE, GLIF2_ADAPTATION, check_constants, lif_constants, run_nonlinear
from .functional.recurrent import run_rleaky, run_rsynaptic
from .functional.second_order import run_alpha, run_synaptic, second_order_params
from .utils import own_storage, register_tensor

__all__ = ["SpikingNeuron", "Leaky", "IF", "PLIF", "Lapicque", "RLeaky", "ALIF"]

_STEP_MODES = ("multi", "single")


_COMMON_OPTIONS = (
    "threshold",
    "reset_mechanism",
    "reset_delay",
    "surrogate",
    "learn_threshold",
    "step_mode",
    "stateful",
    "return_mem",
    "backend",
    "refractory",
    "dt",
    "return_state",
    "spike_grad",
    "fire_at_threshold",
    "v_rest",
    "v_reset",
)


def _common(args: dict, **fixed) -> dict:
    """The base class's options out of a neuron constructor's arguments (its ``locals()``);
    ``fixed`` sets those the neuron does not offer (``reset_delay=True`` where the reset is
    always delayed)."""
    return {name: args[name] for name in _COMMON_OPTIONS if name in args} | fixed


def refuse_inference_state(owner: nn.Module, states, x) -> None:
    """A carried state made under ``torch.inference_mode()`` cannot enter a graph autograd records
    (PyTorch's own error gives no hint of where it came from): say which module and how to fix it."""
    for v in states:
        if v is None or not v.is_inference():
            continue
        if torch.is_inference_mode_enabled() or not torch.is_grad_enabled():
            return
        if x.requires_grad or any(p.requires_grad for p in owner.parameters()):
            raise RuntimeError(
                f"{type(owner).__name__} carries state from a call under torch.inference_mode(), which "
                "autograd cannot use: call tsnn.reset(net) before training (snnTorch code: "
                "snntorch.utils.reset(net) or reset_mem()), or evaluate under torch.no_grad() instead"
            )
        return


class SpikingNeuron(nn.Module):
    """Base class: configuration, state handling and the single/multi-step protocol.

    Subclasses implement ``_dynamics(x, init, single, **returns)`` with the functional layer's
    runner of their dynamics: it receives the carried state (``{"v0": ..., "count0": ..., ...}``,
    None entries for zero), ``single`` (one step ``[B, *features]`` in, no time axis out) and
    passes ``returns`` (``return_state=True`` or ``return_mem=...``) on, so that state sequences
    are only produced when the caller or the carried state needs them. The options were
    validated at construction: :meth:`_options` only assembles them.
    """

    # Carried state: functional keyword -> (state-dict key, how to take the last value).
    _CARRY = {"v0": "mem", "count0": "count"}

    def __init__(
        self,
        threshold=1.0,
        reset_mechanism="subtract",
        reset_delay=True,
        surrogate=None,
        learn_threshold=False,
        step_mode="multi",
        stateful=False,
        return_mem=False,
        backend="auto",
        refractory=0.0,
        dt=1.0,
        return_state=False,
        spike_grad=None,
        fire_at_threshold=False,
        v_rest=0.0,
        v_reset=0.0,
    ):
        super().__init__()
        _reset_mode(reset_mechanism)
        if step_mode not in _STEP_MODES:
            raise ValueError(f"step_mode must be one of {_STEP_MODES}; got {step_mode!r}")
        self.refractory_steps = F.refractory_steps(refractory, dt)  # validates both
        self.refractory, self.dt = refractory, dt
        self.reset_mechanism = reset_mechanism
        self.reset_delay = bool(reset_delay)
        if spike_grad is not None:  # snnTorch's name for the surrogate
            if surrogate is not None:
                raise ValueError(
                    "give the surrogate once: spike_grad= is snnTorch's name for surrogate=; pass only one of them"
                )
            surrogate = spike_grad
        self.surrogate = sg.from_any(surrogate)
        self.step_mode = step_mode
        self.stateful = bool(stateful)
        self.return_mem = bool(return_mem)
        self.return_state = bool(return_state)
        self.backend = _backend.check_backend_name(backend)
        self.fire_at_threshold = bool(fire_at_threshold)
        rest = potentials(v_rest, v_reset, _reset_mode(reset_mechanism))
        self.v_rest, self.v_reset = rest["v_rest"], rest["v_reset"]
        self._register("threshold", threshold, learn_threshold)
        if not bool((self.threshold.detach() > self.v_reset).all()):
            raise ValueError(f"threshold must be > {'v_reset' if self.v_reset else 0}; got {threshold}")
        self._state = {}  # carried state, a plain attribute so it never enters state_dict
        self._observers = []  # tsnn.Monitor callbacks: (neuron, spikes, state) after every call

    def _register(self, name, value, learn):
        register_tensor(self, name, value, learn)

    def _register_learnable(self, args: dict, *names):
        """Each of ``names`` from a constructor's arguments, a parameter where ``learn_<name>``."""
        for name in names:
            self._register(name, args[name], args[f"learn_{name}"])

    def _options(self) -> Common:
        """The validated options of every call (``functional._validate.Common``)."""
        mode = _reset_mode(self.reset_mechanism)
        return Common(
            mode,
            bool(self.reset_delay) or mode == Reset.NONE,
            self.refractory_steps,
            self.fire_at_threshold,
            **surrogate_fields(self.surrogate),
            backend=self.backend,
            v_rest=self.v_rest,
            v_reset=self.v_reset,
        )

    @property
    def mem(self):
        """The carried membrane ``[B, *features]`` (None before the first carried call)."""
        return self._state.get("mem")

    def forward(self, x):
        single = self.step_mode == "single"
        if not isinstance(x, torch.Tensor) or x.dim() < 1:
            raise ValueError(
                f"{type(self).__name__} expects a tensor of shape "
                f"{'[B, *features]' if single else '[T, B, *features]'}; got {x!r}"
            )
        if not single and x.dim() == 2:
            raise ValueError(
                f"{type(self).__name__} is multi-step (step_mode='multi') and takes a whole sequence "
                f"[T, B, *features]; got a 2-D tensor of shape {tuple(x.shape)}, which would run as T="
                f"{x.shape[0]} steps of one sample each. For one step [B, features] per call use "
                "step_mode='single' (or the snnTorch-style tritonsnn.snntorch neurons); for a sequence "
                "add the time axis, x[:, :, None] for [T, B] with one feature"
            )
        carry = single or self.stateful
        step_shape = x.shape if single else x.shape[1:]  # [B, *features]
        init = {}
        if carry:
            mem = self._state.get("mem")
            if mem is not None and mem.shape[1:] != step_shape[1:]:
                raise ValueError(
                    f"{type(self).__name__} carries state of features {tuple(mem.shape[1:])} from the previous "
                    f"call but got input features {tuple(step_shape[1:])} (input shape {tuple(step_shape)} per "
                    "step): call tsnn.reset(net) before a sequence of another shape, or use a separate "
                    "neuron instance for each layer"
                )
            for kw, key in self._CARRY.items():
                v = self._state.get(key)
                init[kw] = v if v is not None and v.shape == step_shape else None
            refuse_inference_state(self, init.values(), x)
        if carry or self.return_state or self._observers:
            spikes, state = self._dynamics(x, init, single, return_state=True)
        elif self.return_mem:
            spikes, mem = self._dynamics(x, init, single, return_mem=True)
            state = {"mem": mem}
        else:  # spikes only: no state sequence beyond what backward needs is kept
            spikes, state = self._dynamics(x, init, single), {}
        for observe in self._observers:
            observe(self, spikes, state)
        if carry and not single and x.shape[0] == 0:  # an empty chunk: the state carries on unchanged
            return self._returns(spikes, state)
        if carry:

            def last(seq):
                return seq if single else own_storage(seq[-1])

            self._state = {
                "mem": last(state["mem"]),
                "count": state.get("count"),
                "spk": last(spikes) if "s0" in self._CARRY else None,
            }
            for key, seq in state.items():  # other sequences (e.g. adaptation): keep the last step
                if key not in ("mem", "count"):
                    self._state[key] = last(seq)
        return self._returns(spikes, state)

    def _returns(self, spikes, state):
        if self.return_state:
            return spikes, state
        return (spikes, state["mem"]) if self.return_mem else spikes

    def __getstate__(self):
        """For copy.deepcopy and pickling: the carried state goes along detached from its graph
        (a tensor inside an autograd graph cannot be deep-copied)."""
        state = super().__getstate__() if hasattr(super(), "__getstate__") else self.__dict__
        state = dict(state)
        state["_observers"] = []  # a copy is not monitored
        state["_state"] = {k: (v.detach() if isinstance(v, torch.Tensor) else v) for k, v in self._state.items()}
        state["_buffers"] = {
            k: (v.detach() if isinstance(v, torch.Tensor) and v.grad_fn is not None else v)
            for k, v in self._buffers.items()
        }
        return state

    def reset_state(self):
        """Forget the carried state: the next call starts from zero."""
        self._state = {}

    def detach_state(self):
        """Cut the carried state from the autograd graph (truncated BPTT)."""
        self._state = {k: (v.detach() if isinstance(v, torch.Tensor) else v) for k, v in self._state.items()}

    def extra_repr(self):
        r = (
            f"threshold={_short(self.threshold)}, reset_mechanism={self.reset_mechanism!r}, "
            f"reset_delay={self.reset_delay}, surrogate={self.surrogate}, step_mode={self.step_mode!r}"
        )
        r += f", refractory={self.refractory}, dt={self.dt}" if self.refractory_steps else ""
        r += "".join(f", {k}={getattr(self, k)}" for k in ("v_rest", "v_reset") if getattr(self, k))
        return r + (", fire_at_threshold=True" if self.fire_at_threshold else "")


def _short(t):
    return f"{t.item():.4g}" if t.numel() == 1 else f"tensor{tuple(t.shape)}"


_COMMON_DOC = """
        reset_mechanism: ``"subtract"``, ``"zero"`` or ``"none"``.
        surrogate: ``tsnn.surrogate.atan(alpha=2.0)`` by default.
        learn_threshold: make the threshold an ``nn.Parameter``.
        step_mode: ``"multi"`` (``[T, B, ...]``) or ``"single"`` (``[B, ...]``).
        stateful: in multi-step mode, carry the final state into the next call.
        return_mem: return ``(spikes, mem)``.
        return_state: return ``(spikes, state)``, ``state`` a dict of state sequences.
        backend: ``"auto"``, ``"triton"`` or ``"torch"``.
        refractory: refractory period in ms (0 = off): after a spike, ``ceil(refractory/dt)``
            steps without input, leak or firing (the spike's reset applies once).
        dt: ms per step.
        fire_at_threshold: a membrane equal to the threshold fires (``>=``, as Inferno, PySNN and
            SpikingJelly); False (default): only above it (``>``, snnTorch's).
        v_rest: the potential the membrane leaks towards, ``v_rest + beta * (mem - v_rest)``
            (Inferno's ``rest_v``); the membrane starts there. Not on Alpha.
        v_reset: where ``reset_mechanism="zero"`` sets the membrane (SpikingJelly's and
            Inferno's hard reset); the threshold must exceed it. 0 with the other resets.
"""


@shared_args(_COMMON_DOC)
class Leaky(SpikingNeuron):
    """First-order leaky integrate-and-fire neuron, as ``snntorch.Leaky``.

    ``mem[t] = beta * mem[t-1] + x[t] - reset * threshold`` (subtract), with
    ``beta`` clamped to [0, 1]; spikes ``H(mem[t] - threshold)``.

    Args:
        beta: decay, number or tensor broadcastable to the feature shape (per-neuron).
        threshold: firing threshold (> 0), number or tensor.
        reset_delay: snnTorch's flag; True delays the reset to the next step.
        learn_beta: make beta an ``nn.Parameter``.
    """

    def __init__(
        self,
        beta,
        threshold=1.0,
        reset_mechanism="subtract",
        reset_delay=True,
        surrogate=None,
        learn_beta=False,
        learn_threshold=False,
        step_mode="multi",
        stateful=False,
        return_mem=False,
        backend="auto",
        refractory=0.0,
        dt=1.0,
        return_state=False,
        spike_grad=None,
        fire_at_threshold=False,
        v_rest=0.0,
        v_reset=0.0,
    ):
        super().__init__(**_common(locals()))
        self._register_learnable(locals(), "beta")

    def _dynamics(self, x, init, single=False, **returns):
        return _first_order(x, self.beta, self.threshold, self._options(), **init, single=single, **returns)

    def extra_repr(self):
        return f"beta={_short(self.beta)}, " + super().extra_repr()


class IF(SpikingNeuron):
    """Integrate-and-fire neuron (no leak): ``Leaky`` with ``beta = 1``. Same options, no beta."""

    def _dynamics(self, x, init, single=False, **returns):
        return _first_order(x, 1.0, self.threshold, self._options(), **init, single=single, **returns)


@shared_args(_COMMON_DOC)
class PLIF(SpikingNeuron):
    """SpikingJelly's parametric LIF (``ParametricLIFNode``, Fang et al. 2021): the time
    constant is learned through a sigmoid.

    ``k = sigmoid(w)`` (= 1/tau) and ``mem[t] = (1 - k) * mem[t-1] + k * x[t]`` (with
    ``decay_input=False``: ``+ x[t]``); spikes ``H(mem[t] - threshold)``; the reset acts at
    the same step, to zero (SpikingJelly's hard reset, ``v_reset=0.0``), and the surrogate
    gradient flows through it (SpikingJelly's ``detach_reset=False``). As SpikingJelly's but
    firing on ``>`` rather than ``>=`` and rounding ``(1 - k)*mem + k*x`` rather than
    ``mem + k*(x - mem)`` (spikes differ only where the membrane lands on the threshold
    within a rounding step). The Leaky dynamics run fused; the input scaling and the decay
    are torch ops on ``w``, so autograd carries its gradient.

    Args:
        init_tau: initial time constant in steps (> 1), a number (SpikingJelly's one shared
            ``w``) or a tensor broadcastable to the features (one per neuron): ``w = -ln(init_tau - 1)``.
        decay_input: scale the input by ``k`` (SpikingJelly's default) or add it as it is.
        threshold: firing threshold (> v_reset).
        v_reset: the hard reset's potential, also the one the membrane leaks towards and starts
            at, as SpikingJelly's (its soft reset, ``None``, decides the spike from the membrane
            before the previous reset is taken off, which tritonsnn's subtracting reset,
            snnTorch's, does not: refused).
    """

    def __init__(
        self,
        init_tau=2.0,
        decay_input=True,
        threshold=1.0,
        v_reset=0.0,
        surrogate=None,
        learn_threshold=False,
        step_mode="multi",
        stateful=False,
        return_mem=False,
        backend="auto",
        refractory=0.0,
        dt=1.0,
        return_state=False,
        spike_grad=None,
        fire_at_threshold=False,
    ):
        tau = torch.as_tensor(init_tau, dtype=torch.float32).detach()
        if tau.numel() == 0 or not bool((torch.isfinite(tau) & (tau > 1)).all()):
            raise ValueError(f"init_tau must be a time constant > 1 (steps); got {init_tau!r}")
        if v_reset is None:
            raise ValueError(
                "v_reset must be a number (SpikingJelly's hard reset); SpikingJelly's soft reset (None) is not "
                "implemented: tritonsnn's subtracting reset is snnTorch's, whose spikes differ when the membrane "
                "stays above threshold after a reset"
            )
        # SpikingJelly's membrane leaks towards v_reset and starts there
        super().__init__(**_common(locals(), reset_mechanism="zero", reset_delay=False, v_rest=v_reset))
        self.decay_input = bool(decay_input)
        self.w = nn.Parameter(-torch.log(tau - 1))

    def _dynamics(self, x, init, single=False, **returns):
        k = torch.sigmoid(self.w)
        drive = x * k.to(x.dtype) if self.decay_input else x
        return _first_order(drive, 1 - k, self.threshold, self._options(), **init, single=single, **returns)

    def extra_repr(self):
        tau = 1 / torch.sigmoid(self.w.detach())
        return f"tau={_short(tau)}, decay_input={self.decay_input}, " + super().extra_repr()


@shared_args(_COMMON_DOC)
class Lapicque(SpikingNeuron):
    """Lapicque's RC neuron, as ``snntorch.Lapicque``.

    ``mem[t] = (1 - time_step/(R*C)) * mem[t-1] + x[t] * time_step/C``; any two of
    ``beta``, ``R``, ``C`` fix the third exactly as snnTorch derives them (``R = 1`` when
    only beta is given; ``R*C = time_step/ln(1/beta)``). As in snnTorch the decay actually
    used is ``1 - time_step/(R*C)`` (``1 + ln(beta)`` from beta), the reset is always
    delayed, and the zero reset clears the whole new state, input included.

    Args:
        beta: decay used to derive R or C (snnTorch's argument); buffer ``beta``.
        R: membrane resistance; a buffer (derived when not given).
        C: membrane capacitance; a buffer (derived when not given).
        time_step: Euler step of the RC equation.
        threshold: firing threshold (> 0).
        learn_beta: not supported: snnTorch's Lapicque never reads beta in its forward pass,
            so a learnable beta would get no gradient; raises ValueError.
    """

    def __init__(
        self,
        beta=False,
        R=False,
        C=False,
        time_step=1,
        threshold=1.0,
        surrogate=None,
        learn_beta=False,
        learn_threshold=False,
        reset_mechanism="subtract",
        step_mode="multi",
        stateful=False,
        return_mem=False,
        backend="auto",
        refractory=0.0,
        dt=1.0,
        return_state=False,
        spike_grad=None,
        fire_at_threshold=False,
        v_rest=0.0,
        v_reset=0.0,
    ):
        if learn_beta:
            raise ValueError(
                "learn_beta=True is not supported by Lapicque: its update uses R and C, "
                "not beta (snnTorch's Lapicque ignores beta in forward too); use "
                "tsnn.Leaky(beta, learn_beta=True) to learn a decay"
            )
        super().__init__(**_common(locals(), reset_delay=True))
        R_t, C_t = F.lapicque_coefficients(beta, R, C, time_step)
        self.register_buffer("time_step", torch.as_tensor(time_step, dtype=torch.float32))
        self.register_buffer("R", R_t)
        self.register_buffer("C", C_t)
        self.register_buffer(
            "beta",
            torch.as_tensor(beta if F._is_set(beta) else torch.exp(-self.time_step / (R_t * C_t)), dtype=torch.float32),
        )

    def _dynamics(self, x, init, single=False, **returns):
        decay, gain = lapicque_terms(self.R, self.C, self.time_step)
        return _first_order(
            x,
            decay,
            self.threshold,
            self._options(),
            **init,
            gain=gain,
            zero_whole=True,
            clamp_beta=False,
            single=single,
            **returns,
        )

    def extra_repr(self):
        return f"R={_short(self.R)}, C={_short(self.C)}, " + super().extra_repr()


def _init_recurrence(neuron, V, linear_features, conv2d_channels, kernel_size, learn):
    """RLeaky/RSynaptic recurrence as snnTorch builds it: ``neuron.recurrent``, an
    ``nn.Linear(linear_features, linear_features)`` or an ``nn.Conv2d(conv2d_channels,
    conv2d_channels, kernel_size, padding=k//2)`` (all-to-all), or the one-to-one weight ``V``."""
    conv = conv2d_channels is not None or kernel_size is not None
    if not neuron.all_to_all:
        if linear_features or conv:
            raise ValueError(
                "all_to_all=False uses the weight V; do not give linear_features, conv2d_channels or kernel_size"
            )
        neuron._register("V", V, learn)
        return
    if linear_features and conv:
        raise ValueError("give either linear_features or (conv2d_channels and kernel_size), not both")
    if linear_features:
        if not isinstance(linear_features, int) or linear_features <= 0:
            raise ValueError(f"linear_features must be a positive int (the number of neurons); got {linear_features!r}")
        neuron.recurrent = nn.Linear(linear_features, linear_features)
    elif conv2d_channels and kernel_size:
        k = (kernel_size, kernel_size) if isinstance(kernel_size, int) else tuple(kernel_size)
        if any(not isinstance(v, int) or v <= 0 or v % 2 == 0 for v in k):
            raise ValueError(
                f"kernel_size must be odd and positive, so that padding k//2 keeps the image size; got {kernel_size!r}"
            )
        neuron.recurrent = nn.Conv2d(conv2d_channels, conv2d_channels, k, padding=(k[0] // 2, k[1] // 2))
    else:
        raise ValueError(
            "all_to_all=True needs linear_features=N (features of the spikes) or both "
            "conv2d_channels and kernel_size; for one weight per neuron use all_to_all=False"
        )
    neuron.recurrent.requires_grad_(bool(learn))


@shared_args(_COMMON_DOC)
class RLeaky(SpikingNeuron):
    """Recurrent leaky integrate-and-fire neuron, as ``snntorch.RLeaky``.

    ``mem[t] = beta*mem[t-1] + x[t] + V(s[t-1]) - reset*threshold``.

    * ``all_to_all=False``: ``V(s) = V*s`` one-to-one (``V`` scalar or per-neuron), fused
      into the kernel over the whole sequence, ``V``'s gradient reduced in the kernel.
    * ``all_to_all=True`` (default, as snnTorch): ``V(s) = self.recurrent(s)``, an
      ``nn.Linear(linear_features, linear_features)`` with bias, named as in snnTorch so
      its weights load unchanged. Runs as a per-step loop of one matmul plus the fused
      single-step neuron op, with a hand-written backward whose weight gradient is one
      matmul over all steps. With ``conv2d_channels`` and ``kernel_size`` instead,
      ``self.recurrent`` is snnTorch's ``nn.Conv2d`` (padding ``k//2``) and the input is
      ``[T, B, C, H, W]``; the same op then convolves per step (odd kernels: the output
      has the input's size) and takes the weight gradient as one convolution over all steps.

    Args:
        beta: decay, clamped to [0, 1].
        V: one-to-one recurrent weight (``all_to_all=False``); number or tensor.
        all_to_all: dense recurrence through ``recurrent`` (needs ``linear_features``).
        linear_features: features of the dense recurrent layer.
        conv2d_channels: channels of the recurrent ``nn.Conv2d``.
        kernel_size: kernel of the recurrent ``nn.Conv2d`` (odd).
        learn_recurrent: train ``V`` / ``recurrent`` (default True, as snnTorch).
        learn_beta: make beta an ``nn.Parameter``.
        reset_delay: snnTorch's flag.
    """

    _CARRY = {"v0": "mem", "count0": "count", "s0": "spk"}

    def __init__(
        self,
        beta,
        V=1.0,
        all_to_all=True,
        linear_features=None,
        conv2d_channels=None,
        kernel_size=None,
        threshold=1.0,
        surrogate=None,
        learn_beta=False,
        learn_threshold=False,
        learn_recurrent=True,
        reset_mechanism="subtract",
        reset_delay=True,
        step_mode="multi",
        stateful=False,
        return_mem=False,
        backend="auto",
        refractory=0.0,
        dt=1.0,
        return_state=False,
        spike_grad=None,
        fire_at_threshold=False,
        v_rest=0.0,
        v_reset=0.0,
    ):
        super().__init__(**_common(locals()))
        self.all_to_all = bool(all_to_all)
        self._register_learnable(locals(), "beta")
        _init_recurrence(self, V, linear_features, conv2d_channels, kernel_size, learn_recurrent)

    def _recurrence(self) -> dict:
        """The recurrence as the runner takes it: the dense layer or the one-to-one weight."""
        return dict(recurrent=self.recurrent) if self.all_to_all else dict(V=self.V)

    def _dynamics(self, x, init, single=False, **returns):
        rec = self._recurrence()
        return run_rleaky(x, self.beta, self.threshold, self._options(), **rec, **init, single=single, **returns)

    def extra_repr(self):
        v = "" if self.all_to_all else f"V={_short(self.V)}, "
        return f"beta={_short(self.beta)}, {v}all_to_all={self.all_to_all}, " + super().extra_repr()


@shared_args(_COMMON_DOC)
class ALIF(SpikingNeuron):
    """Adaptive-threshold LIF (Bellec et al. 2018, LSNN): a leaky neuron whose threshold
    rises with each spike and decays back.

    Per step: ``a[t] = rho*a[t-1] + s[t-1]``, ``th[t] = threshold + b*a[t]``,
    ``mem[t] = beta*mem[t-1] + x[t] - r[t]*th[t-1]`` with ``r[t] = H(mem[t-1] - th[t-1])``
    (the reset removes the threshold the previous spike crossed), ``s[t] = H(mem[t] - th[t])``.
    The reset is always delayed (snnTorch's ``reset_delay=True``). The adaptation ``a`` is
    per-sample state, carried like the membrane; ``return_state=True`` returns its sequence
    as ``state["adapt"]``. See :func:`tritonsnn.functional.alif`.

    Args:
        beta: membrane decay, clamped to [0, 1].
        threshold: baseline threshold (> 0).
        rho: adaptation decay, scalar or per-neuron.
        b: adaptation strength, scalar or per-neuron.
        learn_beta: make ``beta`` an ``nn.Parameter``.
        learn_rho: make ``rho`` an ``nn.Parameter``.
        learn_b: make ``b`` an ``nn.Parameter``.
    """

    _CARRY = {"v0": "mem", "count0": "count", "s0": "spk", "a0": "adapt"}

    def __init__(
        self,
        beta,
        threshold=1.0,
        rho=0.95,
        b=0.2,
        reset_mechanism="subtract",
        surrogate=None,
        learn_beta=False,
        learn_threshold=False,
        learn_rho=False,
        learn_b=False,
        step_mode="multi",
        stateful=False,
        return_mem=False,
        backend="auto",
        refractory=0.0,
        dt=1.0,
        return_state=False,
        spike_grad=None,
        fire_at_threshold=False,
        v_rest=0.0,
        v_reset=0.0,
    ):
        super().__init__(**_common(locals(), reset_delay=True))
        self._register_learnable(locals(), "beta", "rho", "b")

    def _dynamics(self, x, init, single=False, **returns):
        return _first_order(
            x, self.beta, self.threshold, self._options(), **init, rho=self.rho, b=self.b, single=single, **returns
        )

    def extra_repr(self):
        return f"beta={_short(self.beta)}, rho={_short(self.rho)}, b={_short(self.b)}, " + super().extra_repr()


# --------------------------------------------------------------------------------------
# Second-order neurons: Synaptic, Alpha, RSynaptic (dynamics in functional.synaptic/alpha/rsynaptic).
# --------------------------------------------------------------------------------------
__all__ += ["Synaptic", "Alpha", "RSynaptic"]


_SECOND_ORDER_DOC = (
    """
        alpha: synaptic current decay, clamped to [0, 1]; number or tensor broadcastable to the
            feature shape (per-neuron).
        beta: membrane decay, clamped to [0, 1]; number or tensor.
        threshold: firing threshold (> 0), number or tensor.
        learn_alpha, learn_beta: make them ``nn.Parameter``s."""
    + _COMMON_DOC
)


@shared_args(_SECOND_ORDER_DOC)
class Synaptic(SpikingNeuron):
    """Second-order LIF neuron with a synaptic current, as ``snntorch.Synaptic``.

    ``syn[t] = alpha * syn[t-1] + x[t]``; ``mem[t] = beta * mem[t-1] + syn[t] - reset * threshold``
    (subtract). Carried state: ``syn``, ``mem`` (and the refractory counter).
    ``return_state=True`` returns ``(spikes, {"syn": ..., "mem": ...})``. With ``reset_mechanism="zero"``
    the new membrane (input included) is zeroed, as snnTorch does for Synaptic.

    Args:
        reset_delay: snnTorch's flag; True delays the reset to the next step."""

    _CARRY = {"syn0": "syn", "v0": "mem", "count0": "count"}

    def __init__(
        self,
        alpha,
        beta,
        threshold=1.0,
        reset_mechanism="subtract",
        reset_delay=True,
        surrogate=None,
        learn_alpha=False,
        learn_beta=False,
        learn_threshold=False,
        step_mode="multi",
        stateful=False,
        return_mem=False,
        backend="auto",
        refractory=0.0,
        dt=1.0,
        return_state=False,
        spike_grad=None,
        fire_at_threshold=False,
        v_rest=0.0,
        v_reset=0.0,
    ):
        super().__init__(**_common(locals()))
        self._register_learnable(locals(), "alpha", "beta")

    def _dynamics(self, x, init, single=False, **returns):
        options = self._options()
        layout, params = second_order_params(x, self.alpha, self.beta, self.threshold, single=single, options=options)
        return run_synaptic(x, layout, params, options, **init, **returns)

    def extra_repr(self):
        return f"alpha={_short(self.alpha)}, beta={_short(self.beta)}, " + super().extra_repr()


@shared_args(_SECOND_ORDER_DOC)
class Alpha(SpikingNeuron):
    """Alpha neuron, as ``snntorch.Alpha``: excitatory and inhibitory synaptic currents
    (decays ``alpha > beta``) whose sum, times ``tau = log(alpha)/(log(beta)-log(alpha)) + 1``,
    is the membrane. Carried state: ``syn_exc``, ``syn_inh``, ``mem``; ``return_state=True``
    returns ``(spikes, {"syn_exc", "syn_inh", "mem"})``. The reset always acts at the next step
    and defaults to ``"zero"`` (snnTorch's default for Alpha). During a refractory period the
    membrane is held (the currents keep filtering the input) and the neuron cannot fire.

    Raises:
        ValueError: unless ``alpha > beta`` and ``beta < 1`` (snnTorch's requirement).

    Args:"""

    _CARRY = {"syn_exc0": "syn_exc", "syn_inh0": "syn_inh", "v0": "mem", "count0": "count"}

    def __init__(
        self,
        alpha,
        beta,
        threshold=1.0,
        reset_mechanism="zero",
        surrogate=None,
        learn_alpha=False,
        learn_beta=False,
        learn_threshold=False,
        step_mode="multi",
        stateful=False,
        return_mem=False,
        backend="auto",
        refractory=0.0,
        dt=1.0,
        return_state=False,
        spike_grad=None,
        fire_at_threshold=False,
    ):
        super().__init__(**_common(locals(), reset_delay=True))
        self._register_learnable(locals(), "alpha", "beta")
        a, b = self.alpha.detach().clamp(0, 1), self.beta.detach().clamp(0, 1)
        if bool((b == 1).any()):
            raise ValueError("beta must be < 1 for Alpha (tau = log(alpha)/(log(beta) - log(alpha)) + 1)")
        if bool((a <= b).any()):
            raise ValueError(f"alpha must be greater than beta for Alpha; got alpha={alpha}, beta={beta}")

    def _dynamics(self, x, init, single=False, **returns):
        layout, params = second_order_params(x, self.alpha, self.beta, self.threshold, single=single)
        return run_alpha(x, layout, params, self._options(), **init, **returns)

    def extra_repr(self):
        return f"alpha={_short(self.alpha)}, beta={_short(self.beta)}, " + super().extra_repr()


@shared_args(_SECOND_ORDER_DOC)
class RSynaptic(SpikingNeuron):
    """Recurrent Synaptic neuron, as ``snntorch.RSynaptic``: the previous step's spikes are
    added to the synaptic current through ``recurrent``.

    * ``all_to_all=True`` (snnTorch's default): ``self.recurrent`` is ``nn.Linear(linear_features,
      linear_features)`` or ``nn.Conv2d(conv2d_channels, conv2d_channels, kernel_size, padding=k//2)``,
      named and shaped as in snnTorch so its weights load as they are. Runs as one op: a loop over
      steps of one matmul (or convolution, odd kernels) and the fused single-step update, with a
      hand-written backward.
    * ``all_to_all=False``: one-to-one weight ``V`` (scalar or per-neuron), fully fused: one
      kernel for the whole sequence, ``V``'s gradient reduced in the kernel.

    Carried state: ``syn``, ``mem``, the last spikes (and the refractory counter);
    ``return_state=True`` returns ``(spikes, {"syn": ..., "mem": ...})``.

    Args:
        V: one-to-one recurrent weight (``all_to_all=False``), number or tensor.
        all_to_all: dense recurrent layer (True) or one-to-one ``V`` (False).
        linear_features: feature count of the recurrent ``nn.Linear``.
        conv2d_channels: channels of the recurrent ``nn.Conv2d``.
        kernel_size: kernel of the recurrent ``nn.Conv2d`` (odd).
        learn_recurrent: train ``V`` / the recurrent layer (True, as snnTorch).
        reset_delay: True delays the reset to the next step. snnTorch 1.0's ``RSynaptic`` ignores
            ``reset_delay=False`` (or fails), so False follows ``Synaptic``'s same-step reset."""

    _CARRY = {"syn0": "syn", "v0": "mem", "s0": "spk", "count0": "count"}

    def __init__(
        self,
        alpha,
        beta,
        V=1.0,
        all_to_all=True,
        linear_features=None,
        conv2d_channels=None,
        kernel_size=None,
        threshold=1.0,
        reset_mechanism="subtract",
        reset_delay=True,
        surrogate=None,
        learn_alpha=False,
        learn_beta=False,
        learn_threshold=False,
        learn_recurrent=True,
        step_mode="multi",
        stateful=False,
        return_mem=False,
        backend="auto",
        refractory=0.0,
        dt=1.0,
        return_state=False,
        spike_grad=None,
        fire_at_threshold=False,
        v_rest=0.0,
        v_reset=0.0,
    ):
        super().__init__(**_common(locals()))
        self._register_learnable(locals(), "alpha", "beta")
        self.all_to_all = bool(all_to_all)
        _init_recurrence(self, V, linear_features, conv2d_channels, kernel_size, learn_recurrent)

    _recurrence = RLeaky._recurrence

    def _dynamics(self, x, init, single=False, **returns):
        rec = self._recurrence()
        return run_rsynaptic(
            x, self.alpha, self.beta, self.threshold, self._options(), **rec, **init, single=single, **returns
        )

    def extra_repr(self):
        return (
            f"alpha={_short(self.alpha)}, beta={_short(self.beta)}, all_to_all={self.all_to_all}, "
            + super().extra_repr()
        )


_NONLINEAR_DOC = """
        threshold: firing threshold (> 0), number or tensor; a neuron fires where its
            membrane reaches it (``>=``, as SpikingJelly).
        v_rest: resting potential.
        v_reset: the membrane after a spike (hard reset); None subtracts the threshold.
        options: the Module options every nonlinear neuron takes, by keyword:
            ``surrogate`` (SpikingJelly's ``Sigmoid()``, ``tsnn.surrogate.sigmoid(4.0)``, by
            default), ``detach_reset`` (no gradient through the reset), ``learn_threshold``,
            ``step_mode`` (``"multi"`` ``[T, B, ...]`` or ``"single"`` ``[B, ...]``),
            ``stateful``, ``return_mem``, ``return_state`` (``state`` holds ``"mem"``, the
            membrane after each reset, and ``"w"`` with adaptation), ``backend``, and
            ``refractory`` (ms) with ``dt`` (ms per step): after a spike, ``ceil(refractory/dt)``
            steps that hold the membrane and ``w`` and cannot fire; ``threshold_adaptation`` a
            ``tsnn.functional.SharedThreshold``: Inferno's adaptive threshold shared by the batch,
            kept in the buffer ``theta`` ``[*features, K]`` (adapting in ``train()``, frozen in
            ``eval()``, cleared by :meth:`reset_adaptation`, not by ``reset_state``);
            ``current_adaptation`` a ``tsnn.functional.SharedCurrent``: Inferno's adaptation
            current shared by the batch, in the buffer ``current``, likewise.
"""


class _Nonlinear(SpikingNeuron):
    """The SpikingJelly-style neurons (LIF, QIF, EIF, Izhikevich, AdEx): its conventions (Euler
    steps, ``tau`` in steps, firing on ``>=``, hard reset to ``v_reset``, the membrane starting
    at ``v_reset``), fused by the ``nlif`` op. The constants of the dynamics are numbers, fixed
    at construction; the threshold can learn. ``reset_mechanism`` reads ``"v_reset"`` (hard
    reset) or ``"subtract"``."""

    _NONLINEARITY = Nonlinearity.QUADRATIC
    _ADAPT = False

    def __init__(
        self,
        constants: dict,
        threshold=1.0,
        *,
        surrogate=None,
        detach_reset=False,
        learn_threshold=False,
        step_mode="multi",
        stateful=False,
        return_mem=False,
        backend="auto",
        return_state=False,
        refractory=0.0,
        dt=1.0,
        threshold_adaptation=None,
        current_adaptation=None,
    ):
        super().__init__(
            threshold=threshold,
            surrogate=DEFAULT_SURROGATE if surrogate is None else surrogate,
            learn_threshold=learn_threshold,
            step_mode=step_mode,
            stateful=stateful,
            return_mem=return_mem,
            backend=backend,
            refractory=refractory,
            dt=dt,
            return_state=return_state,
        )
        self.constants = check_constants(self._NONLINEARITY, constants, self._ADAPT)
        self.v_rest, self.v_reset = self.constants.get("v_rest"), self.constants.get("v_reset")
        self.detach_reset = bool(detach_reset)
        linear = "reset_mul" in self.constants
        self.reset_mechanism = "linear" if linear else "subtract" if self.constants["v_reset"] is None else "v_reset"
        self._CARRY = {"v0": "mem", "count0": "count"} | ({"w0": "w"} if self._ADAPT else {})
        for name, spec, kind in (
            ("threshold_adaptation", threshold_adaptation, F.SharedThreshold),
            ("current_adaptation", current_adaptation, F.SharedCurrent),
        ):
            if spec is not None and not isinstance(spec, kind):
                raise TypeError(f"{name} must be a tsnn.functional.{kind.__name__}; got {type(spec).__name__}")
        self.threshold_adaptation, self.current_adaptation = threshold_adaptation, current_adaptation
        # The shared adaptations [*features, K]: buffers (saved with the model, not reset between
        # sequences, as Inferno's), made at the first call, which gives the features.
        self.register_buffer("theta", None)
        self.register_buffer("current", None)

    def _dynamics(self, x, init, single=False, **returns):
        shared = self.threshold_adaptation is not None or self.current_adaptation is not None
        # with an adaptation the state holds the new ones: always ask for it
        extra = {}
        if shared:
            extra = dict(return_state=True, theta0=self.theta, current0=self.current, update_adaptation=self.training)
        out = run_nonlinear(
            x,
            self.threshold,
            self.constants,
            nonlinearity=self._NONLINEARITY,
            adapt=self._ADAPT,
            **init,
            surrogate=self.surrogate,
            detach_reset=self.detach_reset,
            backend=self.backend,
            refractory=self.refractory,
            dt=self.dt,
            threshold_adaptation=self.threshold_adaptation,
            current_adaptation=self.current_adaptation,
            single=single,
            **(returns | extra),
        )
        if not shared:
            return out
        spikes, state = out
        self.theta, self.current = state.pop("theta", None), state.pop("current", None)
        if returns.get("return_state"):
            return spikes, state
        return (spikes, state["mem"]) if returns.get("return_mem") else spikes

    def reset_adaptation(self):
        """Forget the shared adaptations (``theta``, ``current``): the next call starts from zero."""
        self.theta = self.current = None

    def _load_from_state_dict(self, state_dict, prefix, *args, **kwargs):
        for name in ("theta", "current"):  # a fresh model: make the buffers to load into
            saved = state_dict.get(prefix + name)
            if saved is not None and getattr(self, name) is None:
                setattr(self, name, torch.empty_like(saved))
        super()._load_from_state_dict(state_dict, prefix, *args, **kwargs)

    def extra_repr(self):
        constants = ", ".join(f"{k}={v}" for k, v in self.constants.items())
        shared = "".join(
            f", {name}={spec}"
            for name, spec in (
                ("threshold_adaptation", self.threshold_adaptation),
                ("current_adaptation", self.current_adaptation),
            )
            if spec is not None
        )
        return (
            f"{constants}, threshold={_short(self.threshold)}, surrogate={self.surrogate}, "
            f"detach_reset={self.detach_reset}, step_mode={self.step_mode!r}{shared}"
        )


@shared_args(_NONLINEAR_DOC)
class LIF(_Nonlinear):
    """Leaky integrate-and-fire in SpikingJelly's form, as its ``LIFNode`` (its defaults; Inferno's
    linear neuron with Euler steps): ``h[t] = v[t-1] + (x[t] - (v[t-1] - v_rest)) / tau``
    (``decay_input=False``: ``v[t-1] - (v[t-1] - v_rest) / tau + x[t]``), spikes
    ``h[t] >= threshold``, then ``v[t] = v_reset`` where it fired. The leak goes to ``v_rest``:
    ``v_reset`` by default (0 without hard reset), as in SpikingJelly. snnTorch's form (``beta``,
    firing on ``>``, the reset at the next step) is :class:`Leaky`.

    Args:
        tau: membrane time constant in steps (> 1).
        decay_input: divide the input by ``tau`` too (SpikingJelly's default)."""

    _NONLINEARITY = Nonlinearity.LINEAR

    def __init__(self, tau=2.0, decay_input=True, threshold=1.0, v_reset=0.0, v_rest=None, **options):
        super().__init__(lif_constants(tau, v_reset, v_rest), threshold, **options)
        self.decay_input = bool(decay_input)

    def _dynamics(self, x, init, single=False, **returns):
        return super()._dynamics(x, init, single, decay_input=self.decay_input, **returns)


@shared_args(_NONLINEAR_DOC)
class GLIF2(LIF):
    """Generalised leaky integrate-and-fire 2 (GLIF2, Teeter et al. 2018; Inferno's ``GLIF2``):
    :class:`LIF`'s dynamics, a reset that keeps part of the membrane (``v = v_rest + reset_mul
    (h - v_rest) - reset_add`` where it fired) and a spike-driven threshold adaptation shared by
    the batch (``threshold_adaptation``, by default ``SharedThreshold(tau=20.0, increment=0.1)``;
    None: off). See ``tsnn.functional.glif2``.

    Args:
        tau: membrane time constant in steps (> 1).
        reset_mul: the share of ``h - v_rest`` a spike keeps.
        reset_add: what a spike subtracts besides.
        decay_input: divide the input by ``tau`` too."""

    def __init__(
        self,
        tau=2.0,
        threshold=1.0,
        v_rest=0.0,
        reset_mul=0.5,
        reset_add=0.1,
        decay_input=True,
        threshold_adaptation=GLIF2_ADAPTATION,
        **options,
    ):
        constants = dict(tau=tau, v_rest=v_rest, reset_mul=reset_mul, reset_add=reset_add)
        _Nonlinear.__init__(self, constants, threshold, threshold_adaptation=threshold_adaptation, **options)
        self.decay_input = bool(decay_input)


@shared_args(_NONLINEAR_DOC)
class QIF(_Nonlinear):
    """Quadratic integrate-and-fire, as SpikingJelly's ``QIFNode`` (its defaults):
    ``h[t] = v[t-1] + (x[t] + a0 (v[t-1] - v_rest)(v[t-1] - v_c)) / tau``, spikes
    ``h[t] >= threshold``, then ``v[t] = v_reset`` where it fired, else ``h[t]``.

    Args:
        tau: membrane time constant in steps (> 1).
        v_c: critical voltage.
        a0: strength of the quadratic term (> 0)."""

    def __init__(self, tau=2.0, v_c=0.8, a0=1.0, threshold=1.0, v_rest=0.0, v_reset=-0.1, **options):
        super().__init__(dict(tau=tau, v_rest=v_rest, v_c=v_c, a0=a0, v_reset=v_reset), threshold, **options)


@shared_args(_NONLINEAR_DOC)
class EIF(_Nonlinear):
    """Exponential integrate-and-fire, as SpikingJelly's ``EIFNode`` (its defaults):
    ``h[t] = v[t-1] + (x[t] + v_rest - v[t-1] + delta_t exp((v[t-1] - theta_rh) / delta_t)) / tau``.

    Args:
        tau: membrane time constant in steps (> 1).
        delta_t: sharpness of the exponential (> 0).
        theta_rh: rheobase threshold."""

    _NONLINEARITY = Nonlinearity.EXPONENTIAL

    def __init__(self, tau=2.0, delta_t=1.0, theta_rh=0.8, threshold=1.0, v_rest=0.0, v_reset=-0.1, **options):
        constants = dict(tau=tau, v_rest=v_rest, theta_rh=theta_rh, delta_t=delta_t, v_reset=v_reset)
        super().__init__(constants, threshold, **options)


_ADAPT_DOC = """
        a: subthreshold coupling of the adaptation current ``w`` to the membrane.
        b: increment of ``w`` per spike.
        tau_w: time constant of ``w`` in steps (> 0).
"""


@shared_args(_NONLINEAR_DOC + _ADAPT_DOC)
class Izhikevich(_Nonlinear):
    """Izhikevich's quadratic neuron with an adaptation current, as SpikingJelly's
    ``IzhikevichNode`` (its defaults, with which ``a = b = 0`` leave ``w`` at zero):
    ``h[t] = v[t-1] + (x[t] + a0 (v[t-1] - v_rest)(v[t-1] - v_c) - w[t-1]) / tau`` and
    ``w[t] = w[t-1] + (a (h[t] - v_rest) - w[t-1]) / tau_w + b s[t]``.

    Args:
        tau: membrane time constant in steps (> 1).
        v_c: critical voltage.
        a0: strength of the quadratic term (> 0)."""

    _ADAPT = True

    def __init__(
        self, tau=2.0, v_c=0.8, a0=1.0, threshold=1.0, v_rest=-0.1, v_reset=0.0, a=0.0, b=0.0, tau_w=2.0, **options
    ):
        constants = dict(tau=tau, v_rest=v_rest, v_c=v_c, a0=a0, v_reset=v_reset, a=a, b=b, tau_w=tau_w)
        super().__init__(constants, threshold, **options)


@shared_args(_NONLINEAR_DOC + _ADAPT_DOC)
class AdEx(_Nonlinear):
    """Adaptive exponential integrate-and-fire (Brette & Gerstner 2005): EIF's drive with
    Izhikevich's adaptation current (see ``tsnn.functional.adex`` for the defaults).

    Args:
        tau: membrane time constant in steps (> 1).
        delta_t: sharpness of the exponential (> 0).
        theta_rh: rheobase threshold."""

    _NONLINEARITY = Nonlinearity.EXPONENTIAL
    _ADAPT = True

    def __init__(
        self,
        tau=2.0,
        delta_t=1.0,
        theta_rh=0.8,
        threshold=1.0,
        v_rest=0.0,
        v_reset=-0.1,
        a=0.13,
        b=0.1,
        tau_w=30.0,
        **options,
    ):
        constants = dict(tau=tau, v_rest=v_rest, theta_rh=theta_rh, delta_t=delta_t, v_reset=v_reset, a=a, b=b)
        super().__init__(constants | dict(tau_w=tau_w), threshold, **options)
