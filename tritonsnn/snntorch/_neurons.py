"""snnTorch 1.0's neuron classes as tritonsnn neurons.

Each class here subclasses tritonsnn's own neuron (``tsnn.Leaky``, ``tsnn.Synaptic``, ...)
in single-step mode and keeps snnTorch's calling conventions on top of it:

* one time step per call, on ``[B, *features]`` (any shape: the state takes the input's);
* the state lives in the module under snnTorch's names (``mem``, ``syn``, ``spk``,
  ``syn_exc``, ``syn_inh``; non-persistent buffers) and may be passed explicitly,
  ``spk, mem = lif(x, mem)``, in snnTorch's argument and return order;
* ``init_hidden=True`` returns the spikes only (with ``output=True`` the state too);
* snnTorch's buffers (``threshold``, ``beta``, ``graded_spikes_factor``,
  ``reset_mechanism_val``, ...) under its names, so state dicts load both ways.

Every step is one call of tritonsnn's fused neuron op with ``T = 1``; the facade adds no
dynamics of its own except where snnTorch's options act between the membrane update and
the spike (``state_quant``, ``inhibition``): then the op gives the membrane and the spike
is taken from it with tritonsnn's surrogate spike function, in snnTorch's order.
"""

from __future__ import annotations

import inspect
import warnings
from typing import ClassVar

import torch
from torch import nn

from .. import neurons as _native
from .. import surrogate as _sg

__all__ = ["LIF", "Alpha", "Lapicque", "Leaky", "RLeaky", "RSynaptic", "SpikingNeuron", "Synaptic"]

_RESET_DICT = {"subtract": 0, "zero": 1, "none": 2}
_SNN_OPTIONS = ("surrogate_disable", "init_hidden", "inhibition", "state_quant", "output")


def _surrogate(spike_grad):
    """``spike_grad`` as the native neurons take it (a tritonsnn ``Surrogate`` or None)."""
    if spike_grad is None or isinstance(spike_grad, _sg.Surrogate):
        return spike_grad
    raise TypeError(
        f"spike_grad must be a tritonsnn surrogate, e.g. tritonsnn.snntorch.surrogate.atan(alpha=2.0) "
        f"(import it with `from tritonsnn.snntorch import surrogate`); got {spike_grad!r}. The fused "
        "kernels evaluate the surrogate gradient themselves: wrap a function of your own in "
        "tritonsnn.snntorch.surrogate.custom_surrogate(f) (snnTorch's signature f(input_, grad_input, spikes))"
    )


def _one_step(t, shape):
    """One step's output ``t`` as ``shape``: a tensor of its own for autograd, not a view, so that
    snnTorch's in-place ``state.detach_()`` works on the state."""
    if t.shape == shape and not t._is_view():
        return t
    return torch.ops.aten._unsafe_view(t.contiguous(), shape)


def _given(value):
    """snnTorch's truthiness of Lapicque's beta/R/C (False/None/0 mean "not given"); a tensor
    of several values counts as given."""
    if value is None or value is False:
        return False
    if isinstance(value, torch.Tensor):
        return value.numel() > 1 or (value.numel() == 1 and bool(value))
    return bool(value)


def _configured(name, doc):
    """A property for an snnTorch option read at every step: setting it re-plans the step."""

    def get(self):
        try:
            return self.__dict__[name]
        except KeyError:  # an nn.Module quantiser is a submodule, as in snnTorch
            return self._modules[name]

    def set_(self, value):
        self.__dict__[name] = value
        self._configure()

    return property(get, set_, doc=doc)


class SpikingNeuron(_native.SpikingNeuron):
    """Base of the snnTorch-style neurons: snnTorch's options, buffers and state protocol.

    ``SpikingNeuron.instances`` lists every neuron built (snnTorch's registry, which the
    class methods ``reset_hidden()`` and ``detach_hidden()`` walk); ``SpikingNeuron.init()``
    empties it.

    Args:
        threshold: firing threshold (> 0), number or tensor (per neuron).
        spike_grad: a surrogate from ``tritonsnn.snntorch.surrogate`` (atan by default).
        surrogate_disable: spikes carry no gradient (the membrane still does).
        init_hidden: keep the state in the module and return only the spikes.
        inhibition: only the neuron with the largest membrane of each sample may spike
            (dense ``[B, N]`` layers, as in snnTorch); the reset still follows every
            membrane that crossed the threshold.
        learn_threshold: make the threshold an ``nn.Parameter``.
        reset_mechanism: ``"subtract"``, ``"zero"`` or ``"none"``.
        state_quant: a function applied to the new state each step (e.g.
            ``snntorch.functional.quant.state_quant(...)``), and to the membrane again
            before firing, as snnTorch does.
        output: with ``init_hidden=True``, also return the state.
        graded_spikes_factor: spikes are scaled by it (buffer or, with
            ``learn_graded_spikes_factor=True``, parameter).
        backend: tritonsnn's ``"auto"``, ``"triton"`` or ``"torch"`` (keyword only).
    """

    instances: ClassVar[list] = []
    reset_dict: ClassVar[dict] = dict(_RESET_DICT)

    _STATE = ()  # snnTorch's state names, in the order its init_*() / reset_mem() return them
    _OP_ARGS = ()  # (state name, keyword of the native op) for the carried state
    _QUANT = ()  # the states state_quant applies to, in snnTorch's order
    _SAME_STEP = True  # whether reset_delay=False acts (snnTorch's RSynaptic ignores it)
    _HAS_DELAY = True  # snnTorch's class has reset_delay (Alpha and Lapicque have not)

    def __init__(
        self,
        threshold=1.0,
        spike_grad=None,
        surrogate_disable=False,
        init_hidden=False,
        inhibition=False,
        learn_threshold=False,
        reset_mechanism="subtract",
        state_quant=False,
        output=False,
        graded_spikes_factor=1.0,
        learn_graded_spikes_factor=False,
        *,
        backend="auto",
    ):
        self._native_init(_native.SpikingNeuron, locals())
        self._snn_setup(locals())

    # ------------------------------------------------------------------ construction
    def _native_init(self, native, args: dict, **fixed):
        """``native.__init__`` (the tritonsnn class this one extends) with the arguments of a
        constructor (its ``locals()``) that it takes too, in single-step mode, ``spike_grad`` as
        its surrogate; ``fixed`` overrides."""
        takes = inspect.signature(native.__init__).parameters
        shared = {k: v for k, v in args.items() if k in takes and k not in ("self", "spike_grad")}
        native.__init__(self, **shared | fixed, surrogate=_surrogate(args["spike_grad"]), step_mode="single")

    def _snn_setup(self, args: dict):
        """snnTorch's options and buffers on top of the native neuron (built before), out of a
        constructor's arguments (its ``locals()``)."""
        surrogate_disable, init_hidden, inhibition, state_quant, output = (args[k] for k in _SNN_OPTIONS)
        graded_spikes_factor = args.get("graded_spikes_factor", 1.0)
        learn_graded_spikes_factor = args.get("learn_graded_spikes_factor", False)
        if state_quant is not False and state_quant is not None and not callable(state_quant):
            raise TypeError(
                f"state_quant must be a function of the state (e.g. snntorch.functional.quant."
                f"state_quant(num_bits=8)) or False; got {state_quant!r}"
            )
        SpikingNeuron.instances.append(self)
        self.init_hidden = init_hidden
        self.inhibition = inhibition
        self.output = output
        self.surrogate_disable = surrogate_disable
        self._bypass = bool(surrogate_disable)  # spikes without gradient until spike_grad is set
        self.state_quant = state_quant
        if inhibition:
            warnings.warn(
                "inhibition=True follows snnTorch's unstable feature: only the largest membrane of "
                "each sample spikes; snnTorch tested it on dense layers only",
                UserWarning,
                stacklevel=3,
            )
        gsf = (
            graded_spikes_factor
            if isinstance(graded_spikes_factor, torch.Tensor)
            else torch.as_tensor(graded_spikes_factor)
        )
        if learn_graded_spikes_factor:
            self.graded_spikes_factor = nn.Parameter(gsf)
        else:
            self.register_buffer("graded_spikes_factor", gsf)
        self.register_buffer("reset_mechanism_val", torch.as_tensor(_RESET_DICT[self._reset_mechanism]))
        for name in self._STATE:
            self.register_buffer(name, torch.zeros(0), persistent=False)
        self._snn_ready = True
        self._configure()
        self._outputs = tuple(n for n in self._STATE if n != "spk")
        self._recurrent_spk = "spk" in self._STATE
        self.register_load_state_dict_post_hook(_check_loaded_reset)

    def _configure(self):
        """How a step runs, from the options that snnTorch reads at every step (so changing them
        after construction acts as in snnTorch)."""
        d = self.__dict__
        if "_snn_ready" not in d:  # still inside the native constructor
            return
        composed = bool(self.inhibition) or bool(self.state_quant)
        delayed = d["_reset_delay"] or not self._HAS_DELAY
        # Options that act between the membrane update and the spike run the op for the membrane
        # (reset delayed) and take the spike, and a same-step reset, from it here.
        self._composed = composed
        self._same_step = composed and not delayed and self._SAME_STEP
        self._force_delay = not delayed and (composed or not self._SAME_STEP)

    inhibition = _configured("inhibition", "Only the largest membrane of each sample spikes.")
    state_quant = _configured("state_quant", "The state quantiser (a function), or False.")

    @property
    def reset_delay(self):
        """snnTorch's flag: True delays a spike's reset to the next step."""
        return self.__dict__["_reset_delay"]

    @reset_delay.setter
    def reset_delay(self, value):
        self.__dict__["_reset_delay"] = bool(value)
        self._configure()

    def _options(self):
        opts = super()._options()
        return opts._replace(delay=True) if self._force_delay else opts

    @property
    def spike_grad(self):
        """The spike function: the tritonsnn surrogate (callable on ``mem - threshold``), or with
        ``surrogate_disable=True`` a Heaviside step without gradient. Assigning a surrogate from
        ``tritonsnn.snntorch.surrogate`` switches the neuron to it, as in snnTorch."""
        return self._surrogate_bypass if self._bypass else self.surrogate

    @spike_grad.setter
    def spike_grad(self, fn):
        self.surrogate = _sg.from_any(_surrogate(fn))
        self._bypass = False

    @property
    def reset_mechanism(self):
        """``"subtract"``, ``"zero"`` or ``"none"``; fixed at construction."""
        return self._reset_mechanism

    @reset_mechanism.setter
    def reset_mechanism(self, value):
        current = self.__dict__.get("_reset_mechanism")
        if current is not None and value != current:
            raise AttributeError(
                f"changing reset_mechanism after construction ({current!r} -> {value!r}) is not supported: "
                "snnTorch 1.0 then keeps the old mechanism in its state update and uses the new one only "
                "in the same-step reset; build a new neuron with reset_mechanism=" + repr(value)
            )
        self._reset_mechanism = value

    # ------------------------------------------------------------------ one step
    def _set_given(self, names, values, what):
        """Explicit state arguments (snnTorch's ``lif(x, mem)``) into the module's state."""
        given = False
        for name, value in zip(names, values):
            if value is not None:
                if not isinstance(value, torch.Tensor):
                    raise TypeError(
                        f"{name} must be a tensor (the state of the previous step); got {type(value).__name__}"
                    )
                given = True
                self._buffers[name] = value  # the state buffers (nn.Module.__setattr__ costs a small op)
        if given and self.init_hidden:
            raise TypeError(f"{what} should not be passed as an argument while `init_hidden=True`")

    def _step(self, input_):
        shape = input_.shape
        buffers = self._buffers
        init = {}
        for name, kw in self._OP_ARGS:  # state of another shape restarts from zero, as in snnTorch
            value = buffers[name]
            init[kw] = value if value.shape == shape else None
        _native.refuse_inference_state(self, init.values(), input_)
        reset = 0
        if self._same_step and init["v0"] is not None:
            reset = self.mem_reset(init["v0"])
        x = input_ if input_.dim() else input_.reshape(1)
        spikes, state = self._dynamics(x, init, True, return_state=True)
        for name in self._outputs:
            buffers[name] = _one_step(state[name], shape)
        if self._composed:
            spk = self._fire_composed(reset)
        else:
            spk = _one_step(spikes, shape)
            if self._bypass:
                spk = spk.detach()
            gsf = self.graded_spikes_factor
            # x * 1 is x: skip the op (and its autograd node) for the plain factor; on a GPU the test
            # would synchronise, so the multiplication stays.
            if gsf.requires_grad or gsf.is_cuda or float(gsf) != 1.0:
                spk = spk * gsf
        for observe in self._observers:  # the state as the caller sees it (after any same-step reset)
            observe(self, spk, {n: buffers[n] for n in self._outputs})
        if self._recurrent_spk:
            buffers["spk"] = spk
        if self.output or not self.init_hidden:
            return (spk, *(buffers[n] for n in self._outputs))
        return spk

    def _fire_composed(self, reset):
        """snnTorch's order after the membrane update: quantise the state, fire from the
        membrane (one winner per sample under inhibition), then the same-step reset."""
        buffers = self._buffers
        if self.state_quant:
            for name in self._QUANT:
                buffers[name] = self.state_quant(buffers[name])
        mem = buffers["mem"]
        spk = self.fire_inhibition(mem.size(0), mem) if self.inhibition else self.fire(mem)
        if self._same_step:
            do_reset = spk / self.graded_spikes_factor - reset  # the delayed reset is already in mem
            if self._reset_mechanism == "subtract":
                buffers["mem"] = mem - do_reset * self.threshold
            elif self._reset_mechanism == "zero":
                buffers["mem"] = mem - do_reset * mem
        return spk

    # ------------------------------------------------------------------ snnTorch's helpers
    def fire(self, mem):
        """Spikes ``H(mem - threshold)`` (with the surrogate gradient), times ``graded_spikes_factor``;
        the membrane is quantised first when ``state_quant`` is set."""
        if self.state_quant:
            mem = self.state_quant(mem)
        return self.spike_grad(mem - self.threshold) * self.graded_spikes_factor

    def fire_inhibition(self, batch_size, mem):
        """Spikes of the neuron with the largest ``mem - threshold`` of each sample only (others 0)."""
        if mem.dim() != 2:
            raise ValueError(
                f"inhibition=True needs a dense layer's state [B, N] (snnTorch's inhibition picks "
                f"one neuron along dim 1 per sample); got shape {tuple(mem.shape)}"
            )
        shifted = mem - self.threshold
        winner = torch.argmax(shifted, dim=1)
        spk = self.spike_grad(shifted)
        keep = torch.zeros_like(spk).scatter_(1, winner[:, None], 1.0)
        return spk * keep

    def mem_reset(self, mem):
        """The reset flag ``H(mem - threshold)``, detached."""
        return self.spike_grad(mem - self.threshold).detach()

    @staticmethod
    def _surrogate_bypass(input_):
        return (input_ > 0).float()

    def reset_mem(self):
        """Zero the state (keeping its shape) and return it, in snnTorch's order."""
        for name in self._STATE:
            self._buffers[name] = torch.zeros_like(self._buffers[name])
        out = tuple(self._buffers[n] for n in self._STATE)
        return out[0] if len(out) == 1 else out

    def _detach_in_place(self):
        for name in self._STATE:
            value = self._buffers[name]
            if value._is_view():  # a state the caller assigned; ours never is
                self._buffers[name] = value.detach()
            else:
                value.detach_()

    # tsnn.reset / tsnn.detach
    def reset_state(self):
        """Zero the carried state (as ``reset_mem``); also detaches it from the graph."""
        self.reset_mem()

    def detach_state(self):
        """Detach the carried state from the graph, in place (snnTorch's ``detach_hidden``)."""
        self._detach_in_place()

    @classmethod
    def init(cls):
        """Empty ``cls.instances``."""
        cls.instances = []

    @classmethod
    def detach_hidden(cls):
        """Detach the state of every ``cls`` instance in ``instances`` in place (truncated BPTT)."""
        for layer in cls.instances:
            if isinstance(layer, cls):
                layer._detach_in_place()

    @classmethod
    def reset_hidden(cls):
        """Zero the state of every ``cls`` instance in ``instances``."""
        for layer in cls.instances:
            if isinstance(layer, cls):
                layer.reset_mem()

    @staticmethod
    def detach(*args):
        """Detach each given state tensor from the graph, in place."""
        for state in args:
            state.detach_()

    @staticmethod
    def zeros(*args):
        """snnTorch 1.0's ``zeros``: it rebinds a local name and leaves its arguments unchanged; so
        does this (use ``reset_mem()`` or ``tritonsnn.snntorch.utils.reset(net)`` to zero a state)."""


def _state_property(name):
    def get(self):
        try:
            return self._buffers[name]
        except KeyError:
            raise AttributeError(name) from None

    return property(get, doc=f"The carried ``{name}`` (a non-persistent buffer, snnTorch's name).")


# The native base exposes ``mem`` as a read-only property; here it is a buffer.
SpikingNeuron.mem = _state_property("mem")


def _check_loaded_reset(module, incompatible_keys):
    """A loaded ``reset_mechanism_val`` must name the mechanism the neuron was built with."""
    loaded = int(module.reset_mechanism_val)
    if loaded != _RESET_DICT[module._reset_mechanism]:
        module.reset_mechanism_val.fill_(_RESET_DICT[module._reset_mechanism])
        names = list(_RESET_DICT)
        raise RuntimeError(
            f"the state dict's reset_mechanism_val={loaded} ({names[loaded] if 0 <= loaded < 3 else '?'!r}) "
            f"differs from this {type(module).__name__}'s reset_mechanism={module._reset_mechanism!r}; snnTorch "
            "1.0 would then mix the two mechanisms: build the neuron with the checkpoint's reset_mechanism"
        )


class LIF(SpikingNeuron):
    """Base of the leaky integrate-and-fire neurons: :class:`SpikingNeuron` plus ``beta``
    (buffer, or parameter with ``learn_beta=True``)."""

    def __init__(
        self,
        beta,
        threshold=1.0,
        spike_grad=None,
        surrogate_disable=False,
        init_hidden=False,
        inhibition=False,
        learn_beta=False,
        learn_threshold=False,
        reset_mechanism="subtract",
        state_quant=False,
        output=False,
        graded_spikes_factor=1.0,
        learn_graded_spikes_factor=False,
        *,
        backend="auto",
    ):
        super().__init__(
            threshold,
            spike_grad,
            surrogate_disable,
            init_hidden,
            inhibition,
            learn_threshold,
            reset_mechanism,
            state_quant,
            output=output,
            graded_spikes_factor=graded_spikes_factor,
            learn_graded_spikes_factor=learn_graded_spikes_factor,
            backend=backend,
        )
        self._register("beta", beta, learn_beta)


def _init_alias(name):
    def init_state(self):
        return self.reset_mem()

    init_state.__name__ = name
    init_state.__doc__ = "Deprecated in snnTorch: the same as ``reset_mem()``."
    return init_state


class Leaky(LIF, _native.Leaky):
    """snnTorch's ``Leaky``: first-order LIF, one step per call (``tsnn.Leaky`` in single-step mode).

    ``spk, mem = lif(x, mem)``; with ``init_hidden=True`` ``spk = lif(x)`` (``output=True``:
    ``spk, mem``). Options and buffers as ``snntorch.Leaky``; see :class:`SpikingNeuron`.
    ``reset_delay=False`` resets in the step that fired.
    """

    _STATE = ("mem",)
    _OP_ARGS = (("mem", "v0"),)
    _QUANT = ("mem",)

    def __init__(
        self,
        beta,
        threshold=1.0,
        spike_grad=None,
        surrogate_disable=False,
        init_hidden=False,
        inhibition=False,
        learn_beta=False,
        learn_threshold=False,
        reset_mechanism="subtract",
        state_quant=False,
        output=False,
        graded_spikes_factor=1.0,
        learn_graded_spikes_factor=False,
        reset_delay=True,
        *,
        backend="auto",
    ):
        self._native_init(_native.Leaky, locals())
        self._snn_setup(locals())

    def forward(self, input_, mem=None):
        if mem is not None:
            self._set_given(("mem",), (mem,), "`mem`")
        return self._step(input_)

    init_leaky = _init_alias("init_leaky")


class Synaptic(LIF, _native.Synaptic):
    """snnTorch's ``Synaptic``: LIF with a synaptic current, one step per call.

    ``spk, syn, mem = neuron(x, syn, mem)``; with ``init_hidden=True`` ``spk = neuron(x)``
    (``output=True``: ``spk, syn, mem``).
    """

    _STATE = ("syn", "mem")
    _OP_ARGS = (("syn", "syn0"), ("mem", "v0"))
    _QUANT = ("mem", "syn")

    def __init__(
        self,
        alpha,
        beta,
        threshold=1.0,
        spike_grad=None,
        surrogate_disable=False,
        init_hidden=False,
        inhibition=False,
        learn_alpha=False,
        learn_beta=False,
        learn_threshold=False,
        reset_mechanism="subtract",
        state_quant=False,
        output=False,
        reset_delay=True,
        *,
        backend="auto",
    ):
        self._native_init(_native.Synaptic, locals())
        self._snn_setup(locals())

    def forward(self, input_, syn=None, mem=None):
        if syn is not None or mem is not None:
            self._set_given(("syn", "mem"), (syn, mem), "`mem` or `syn`")
        return self._step(input_)

    init_synaptic = _init_alias("init_synaptic")


class Alpha(LIF, _native.Alpha):
    """snnTorch's ``Alpha``: excitatory and inhibitory currents, one step per call.

    ``spk, syn_exc, syn_inh, mem = neuron(x, syn_exc, syn_inh, mem)``; with ``init_hidden=True``
    ``spk = neuron(x)``. Needs ``alpha > beta``; the ``alpha`` buffer holds alpha clamped to
    [0, 1], as snnTorch stores it. ``learn_alpha=True`` (which fails in snnTorch 1.0) makes it
    a parameter.
    """

    _HAS_DELAY = False
    _STATE = ("syn_exc", "syn_inh", "mem")
    _OP_ARGS = (("syn_exc", "syn_exc0"), ("syn_inh", "syn_inh0"), ("mem", "v0"))
    _QUANT = ("syn_exc", "syn_inh", "mem")

    def __init__(
        self,
        alpha,
        beta,
        threshold=1.0,
        spike_grad=None,
        surrogate_disable=False,
        init_hidden=False,
        inhibition=False,
        learn_alpha=False,
        learn_beta=False,
        learn_threshold=False,
        reset_mechanism="zero",
        state_quant=False,
        output=False,
        *,
        backend="auto",
    ):
        self._native_init(_native.Alpha, locals())
        if not learn_alpha:
            self.alpha = self.alpha.clamp(0, 1)
        self._snn_setup(locals())

    def forward(self, input_, syn_exc=None, syn_inh=None, mem=None):
        if syn_exc is not None or syn_inh is not None or mem is not None:
            self._set_given(("syn_exc", "syn_inh", "mem"), (syn_exc, syn_inh, mem), "`syn_exc`, `syn_inh` or `mem`")
        return self._step(input_)

    init_alpha = _init_alias("init_alpha")


class Lapicque(LIF, _native.Lapicque):
    """snnTorch's ``Lapicque``: the RC neuron, one step per call (``spk, mem = neuron(x, mem)``).

    Any two of ``beta``, ``R``, ``C`` fix the third; the buffers ``beta``, ``R``, ``C`` and
    ``time_step`` take the values, shapes and dtypes snnTorch gives them. ``learn_beta=True``
    raises: snnTorch's Lapicque never reads beta after construction.
    """

    _HAS_DELAY = False
    _STATE = ("mem",)
    _OP_ARGS = (("mem", "v0"),)
    _QUANT = ("mem",)

    def __init__(
        self,
        beta=False,
        R=False,
        C=False,
        time_step=1,
        threshold=1.0,
        spike_grad=None,
        surrogate_disable=False,
        init_hidden=False,
        inhibition=False,
        learn_beta=False,
        learn_threshold=False,
        reset_mechanism="subtract",
        state_quant=False,
        output=False,
        *,
        backend="auto",
    ):
        if _given(beta) and _given(R) and _given(C):
            raise ValueError(
                "snnTorch 1.0's Lapicque fails (at its first step) when beta, R and C are all given; "
                "give two of them: beta and R, beta and C, or R and C (or beta alone)"
            )
        self._native_init(_native.Lapicque, locals())
        self._snntorch_rc(beta, R, C, time_step)
        self._snn_setup(locals())

    def _snntorch_rc(self, beta, R, C, time_step):
        """The buffers as snnTorch derives them (its dtypes: an int R or time_step stays int64)."""
        ts = time_step if isinstance(time_step, torch.Tensor) else torch.as_tensor(time_step)

        def as_t(v):
            return v if isinstance(v, torch.Tensor) else torch.as_tensor(v)

        if not _given(beta):  # R and C given
            b = torch.exp(torch.ones(1) * (-ts / (R * C)))
            R_t, C_t = as_t(R), as_t(C)
        else:
            b = as_t(beta)
            if _given(C):
                C_t = as_t(C)
                R_t = ts / (C * torch.log(1 / b))
            else:
                R_t = as_t(R) if _given(R) else torch.as_tensor(1)
                C_t = ts / (R_t * torch.log(1 / b))
        self.time_step, self.R, self.C, self.beta = ts, R_t, C_t, b

    def forward(self, input_, mem=None):
        if mem is not None:
            self._set_given(("mem",), (mem,), "`mem`")
        return self._step(input_)

    init_lapicque = _init_alias("init_lapicque")


class _RecurrentOneToOne(nn.Module):
    """snnTorch's one-to-one recurrence module ``recurrent`` (``x * V``), kept so that a learnable
    ``V`` also appears as ``recurrent.V`` in the state dict, as in snnTorch. The neuron's fused
    op reads ``V`` itself; this module only serves the state dict and direct calls."""

    def __init__(self, V):
        super().__init__()
        self.V = V

    def forward(self, x):
        return x * self.V


def _check_recurrence(name, all_to_all, linear_features, conv2d_channels, kernel_size) -> dict:
    """snnTorch's checks of the RLeaky/RSynaptic recurrence arguments (TypeError, as snnTorch raises);
    returns them as the native neuron takes them (None where not given)."""
    conv, kernel = bool(conv2d_channels), bool(kernel_size)
    if all_to_all:
        if not linear_features:
            if not (conv or kernel):
                raise TypeError(
                    f"all_to_all=True: {name} needs linear_features=N (features of its spikes) or both "
                    "conv2d_channels and kernel_size; for one weight per neuron use all_to_all=False"
                )
            if conv != kernel:
                raise TypeError(f"{name}: conv2d_channels and kernel_size must be given together")
        elif conv or kernel:
            raise TypeError(f"{name}: give linear_features or (conv2d_channels and kernel_size), not both")
    elif linear_features or conv or kernel:
        raise TypeError(
            f"all_to_all=False: {name} uses the one-to-one weight V; do not give linear_features, "
            "conv2d_channels or kernel_size"
        )
    return dict(
        linear_features=linear_features or None,
        conv2d_channels=conv2d_channels or None,
        kernel_size=kernel_size or None,
    )


def _setup_recurrence(neuron, all_to_all, linear_features, conv2d_channels, kernel_size, learn_recurrent):
    neuron.learn_recurrent = learn_recurrent
    neuron.linear_features = linear_features
    neuron.conv2d_channels = conv2d_channels
    neuron.kernel_size = kernel_size
    if all_to_all and not linear_features:
        k = kernel_size
        neuron.padding = (k // 2, k // 2) if isinstance(k, int) else (k[0] // 2, k[1] // 2)
    if not all_to_all:
        neuron.recurrent = _RecurrentOneToOne(neuron.V)


def _recurrence_of_module(neuron) -> dict:
    """As snnTorch, the one-to-one recurrence reads ``recurrent.V`` (bound to ``V`` at construction)."""
    return dict(recurrent=neuron.recurrent) if neuron.all_to_all else dict(V=neuron.recurrent.V)


class RLeaky(LIF, _native.RLeaky):
    """snnTorch's ``RLeaky``: LIF whose previous spikes feed back, one step per call.

    ``spk, mem = neuron(x, spk, mem)``; with ``init_hidden=True`` ``spk = neuron(x)``. The
    recurrence is ``recurrent`` (``nn.Linear(linear_features, linear_features)`` or
    ``nn.Conv2d(conv2d_channels, conv2d_channels, kernel_size)``, padding ``k//2``) or, with
    ``all_to_all=False``, the one-to-one weight ``V`` (learnable with ``learn_recurrent``).
    As in snnTorch, the one-to-one recurrence reads ``recurrent.V``, bound to ``V`` at
    construction: assigning a new tensor to ``neuron.V`` afterwards leaves the dynamics as they
    were (snnTorch 1.0 does the same); change the values in place, ``neuron.V.data.copy_(v)``, or
    pass ``V=`` when building the neuron.
    """

    _STATE = ("spk", "mem")
    _OP_ARGS = (("spk", "s0"), ("mem", "v0"))
    _QUANT = ("mem",)

    def __init__(
        self,
        beta,
        V=1.0,
        all_to_all=True,
        linear_features=None,
        conv2d_channels=None,
        kernel_size=None,
        threshold=1.0,
        spike_grad=None,
        surrogate_disable=False,
        init_hidden=False,
        inhibition=False,
        learn_beta=False,
        learn_threshold=False,
        learn_recurrent=True,
        reset_mechanism="subtract",
        state_quant=False,
        output=False,
        reset_delay=True,
        *,
        backend="auto",
    ):
        recurrence = _check_recurrence("RLeaky", all_to_all, linear_features, conv2d_channels, kernel_size)
        self._native_init(_native.RLeaky, locals(), **recurrence)
        _setup_recurrence(self, all_to_all, linear_features, conv2d_channels, kernel_size, learn_recurrent)
        self._snn_setup(locals())

    _recurrence = _recurrence_of_module

    def forward(self, input_, spk=None, mem=None):
        if spk is not None or mem is not None:
            self._set_given(("spk", "mem"), (spk, mem), "`spk` or `mem`")
        return self._step(input_)

    init_rleaky = _init_alias("init_rleaky")


class RSynaptic(LIF, _native.RSynaptic):
    """snnTorch's ``RSynaptic``: Synaptic whose previous spikes feed the current, one step per call.

    ``spk, syn, mem = neuron(x, spk, syn, mem)``; with ``init_hidden=True`` ``spk = neuron(x)``.
    Recurrence as :class:`RLeaky` (``recurrent.V`` included). ``reset_delay=False`` behaves as in snnTorch 1.0, whose
    RSynaptic computes the same-step reset into a local variable and drops it: the reset stays
    delayed, and a call without ``spk`` and ``mem`` (``init_hidden=True`` included) raises
    TypeError. ``tritonsnn.RSynaptic(reset_delay=False)`` applies the same-step reset.
    ``reset_hidden()`` / ``detach_hidden()`` also zero / detach ``spk`` (snnTorch 1.0 leaves it,
    so that its next batch backpropagates into the previous graph and fails).
    """

    _STATE = ("spk", "syn", "mem")
    _OP_ARGS = (("spk", "s0"), ("syn", "syn0"), ("mem", "v0"))
    _QUANT = ("syn", "mem")
    _SAME_STEP = False

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
        spike_grad=None,
        surrogate_disable=False,
        init_hidden=False,
        inhibition=False,
        learn_alpha=False,
        learn_beta=False,
        learn_threshold=False,
        learn_recurrent=True,
        reset_mechanism="subtract",
        state_quant=False,
        output=False,
        reset_delay=True,
        *,
        backend="auto",
    ):
        recurrence = _check_recurrence("RSynaptic", all_to_all, linear_features, conv2d_channels, kernel_size)
        self._native_init(_native.RSynaptic, locals(), **recurrence)
        _setup_recurrence(self, all_to_all, linear_features, conv2d_channels, kernel_size, learn_recurrent)
        self._snn_setup(locals())
        if not reset_delay:
            warnings.warn(
                "RSynaptic(reset_delay=False): snnTorch 1.0 drops its same-step reset, so the reset stays "
                "delayed here too; tritonsnn.RSynaptic(reset_delay=False) applies it",
                UserWarning,
                stacklevel=2,
            )

    _recurrence = _recurrence_of_module

    def forward(self, input_, spk=None, syn=None, mem=None):
        if not self.reset_delay and (spk is None or mem is None):
            raise TypeError(
                "RSynaptic(reset_delay=False) needs spk and mem passed on every call: snnTorch 1.0 "
                "fails without them (init_hidden=True included); use reset_delay=True, or "
                "tritonsnn.RSynaptic(reset_delay=False, step_mode='single') for a same-step reset"
            )
        if spk is not None or syn is not None or mem is not None:
            self._set_given(("spk", "syn", "mem"), (spk, syn, mem), "`spk`, `syn` or `mem`")
        return self._step(input_)

    init_rsynaptic = _init_alias("init_rsynaptic")
