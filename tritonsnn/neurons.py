"""Neuron Modules: hold configuration, parameters and state; the dynamics live in
:mod:`tritonsnn.functional`.

Every neuron works as an activation layer in ``nn.Sequential``:

* ``step_mode="multi"`` (default): input ``[T, B, *features]``; starts from zero
  state unless ``stateful=True``, in which case the final state is carried into
  the next call (chunked sequences / truncated BPTT with :func:`tritonsnn.detach`).
* ``step_mode="single"``: input ``[B, *features]``, one step per call, state
  always carried (reset it with :func:`tritonsnn.reset`).

State is never part of ``state_dict`` and restarts from zero when the input's
batch or feature shape changes.
"""
from __future__ import annotations

import torch
from torch import nn

from . import _backend, functional as F
from . import surrogate as sg
from .functional import _reset_mode

__all__ = ["Leaky", "IF"]

_STEP_MODES = ("multi", "single")


class SpikingNeuron(nn.Module):
    """Base class: configuration, state handling and the single/multi-step protocol.

    Subclasses implement ``_dynamics(x, v0, return_mem)`` with a functional op.
    """

    def __init__(self, threshold=1.0, reset_mechanism="subtract", reset_delay=True, surrogate=None,
                 learn_threshold=False, step_mode="multi", stateful=False, return_mem=False,
                 backend="auto"):
        super().__init__()
        _reset_mode(reset_mechanism)
        if step_mode not in _STEP_MODES:
            raise ValueError(f"step_mode must be one of {_STEP_MODES}; got {step_mode!r}")
        self.reset_mechanism = reset_mechanism
        self.reset_delay = bool(reset_delay)
        self.surrogate = sg.from_any(surrogate)
        self.step_mode = step_mode
        self.stateful = bool(stateful)
        self.return_mem = bool(return_mem)
        self.backend = _backend.check_backend_name(backend)
        self._register("threshold", threshold, learn_threshold)
        if not bool((self.threshold.detach() > 0).all()):
            raise ValueError(f"threshold must be > 0; got {threshold}")
        self.mem = None  # carried membrane, a plain attribute so it never enters state_dict

    def _register(self, name, value, learn):
        t = value.detach().clone().float() if isinstance(value, torch.Tensor) else torch.tensor(float(value))
        if learn:
            setattr(self, name, nn.Parameter(t))
        else:
            self.register_buffer(name, t)

    def _options(self):
        return dict(reset_mechanism=self.reset_mechanism, reset_delay=self.reset_delay,
                    surrogate=self.surrogate, backend=self.backend)

    def forward(self, x):
        single = self.step_mode == "single"
        if single:
            if not isinstance(x, torch.Tensor) or x.dim() < 1:
                raise ValueError("step_mode='single' expects one step of shape [B, *features]")
            x = x.unsqueeze(0)
        carry = single or self.stateful
        v0 = self.mem if carry and self.mem is not None and self.mem.shape == x.shape[1:] else None
        if carry or self.return_mem:
            spikes, mem = self._dynamics(x, v0, True)
        else:
            spikes, mem = self._dynamics(x, v0, False), None
        if carry:
            self.mem = mem[-1]
        if single:
            spikes, mem = spikes[0], (mem[0] if mem is not None else None)
        return (spikes, mem) if self.return_mem else spikes

    def reset_state(self):
        """Forget the carried state: the next call starts from zero."""
        self.mem = None

    def detach_state(self):
        """Cut the carried state from the autograd graph (truncated BPTT)."""
        if self.mem is not None:
            self.mem = self.mem.detach()

    def extra_repr(self):
        return (f"threshold={_short(self.threshold)}, reset_mechanism={self.reset_mechanism!r}, "
                f"reset_delay={self.reset_delay}, surrogate={self.surrogate}, step_mode={self.step_mode!r}")


def _short(t):
    return f"{t.item():.4g}" if t.numel() == 1 else f"tensor{tuple(t.shape)}"


class Leaky(SpikingNeuron):
    """First-order leaky integrate-and-fire neuron, as ``snntorch.Leaky``.

    ``mem[t] = beta * mem[t-1] + x[t] - reset * threshold`` (subtract), with
    ``beta`` clamped to [0, 1]; spikes ``H(mem[t] - threshold)``.

    Args:
        beta: decay, number or tensor broadcastable to the feature shape (per-neuron).
        threshold: firing threshold (> 0), number or tensor.
        reset_mechanism: ``"subtract"``, ``"zero"`` or ``"none"``.
        reset_delay: snnTorch's flag; True delays the reset to the next step.
        surrogate: ``tsnn.surrogate.atan(alpha=2.0)`` by default.
        learn_beta, learn_threshold: make them ``nn.Parameter``s.
        step_mode: ``"multi"`` (``[T, B, ...]``) or ``"single"`` (``[B, ...]``).
        stateful: in multi-step mode, carry the final state into the next call.
        return_mem: return ``(spikes, mem)``.
        backend: ``"auto"``, ``"triton"`` or ``"torch"``.
    """

    def __init__(self, beta, threshold=1.0, reset_mechanism="subtract", reset_delay=True,
                 surrogate=None, learn_beta=False, learn_threshold=False, step_mode="multi",
                 stateful=False, return_mem=False, backend="auto"):
        super().__init__(threshold, reset_mechanism, reset_delay, surrogate, learn_threshold,
                         step_mode, stateful, return_mem, backend)
        self._register("beta", beta, learn_beta)

    def _dynamics(self, x, v0, return_mem):
        return F.leaky(x, self.beta, self.threshold, v0=v0, return_mem=return_mem, **self._options())

    def extra_repr(self):
        return f"beta={_short(self.beta)}, " + super().extra_repr()


class IF(SpikingNeuron):
    """Integrate-and-fire neuron (no leak): ``Leaky`` with ``beta = 1``. Same options, no beta."""

    def _dynamics(self, x, v0, return_mem):
        return F.if_(x, self.threshold, v0=v0, return_mem=return_mem, **self._options())


# --------------------------------------------------------------------------------------
# Second-order neurons: Synaptic, Alpha, RSynaptic (dynamics in functional.synaptic/alpha/rsynaptic).
# --------------------------------------------------------------------------------------
__all__ += ["Synaptic", "Alpha", "RSynaptic"]


class _MultiStateNeuron(SpikingNeuron):
    """A neuron whose carried state is several tensors, named in ``STATE_NAMES`` (snnTorch's
    output order; the last is always ``mem``). Each is a plain attribute (``self.syn``,
    ``self.mem``, ...), never part of ``state_dict``.

    Subclasses implement ``_dynamics(x, init)`` (``init``: dict of initial states or None
    entries) returning ``(spikes, *state_sequences)`` in ``STATE_NAMES`` order, followed by
    the final refractory counter when ``refractory > 0`` (carried as ``self.refr``).
    """

    STATE_NAMES: tuple = ()

    def __init__(self, *args, return_state=False, refractory=0.0, dt=1.0, **kwargs):
        super().__init__(*args, **kwargs)
        self.return_state = bool(return_state)
        self.refr_steps = F.refractory_steps(refractory, dt)
        self.refractory, self.dt = refractory, dt
        self.reset_state()

    def _options(self):
        return dict(super()._options(), refractory=self.refractory, dt=self.dt)

    def forward(self, x):
        single = self.step_mode == "single"
        if single:
            if not isinstance(x, torch.Tensor) or x.dim() < 1:
                raise ValueError("step_mode='single' expects one step of shape [B, *features]")
            x = x.unsqueeze(0)
        carry = single or self.stateful
        names = self.STATE_NAMES + (("refr",) if self.refr_steps > 0 else ())
        carried = [getattr(self, n) for n in names]
        usable = carry and all(s is not None and s.shape == x.shape[1:] for s in carried)
        init = {n: (s if usable else None) for n, s in zip(names, carried)}
        init.setdefault("refr", None)
        spikes, *seqs = self._dynamics(x, init)
        if self.refr_steps > 0:
            *seqs, counter = seqs
            if carry:
                self.refr = counter
        if carry:
            for n, seq in zip(self.STATE_NAMES, seqs):
                setattr(self, n, seq[-1])
        if single:
            spikes, seqs = spikes[0], [s[0] for s in seqs]
        if self.return_state:
            return (spikes, *seqs)
        return (spikes, seqs[-1]) if self.return_mem else spikes

    def reset_state(self):
        """Forget the carried state: the next call starts from zero."""
        for n in self.STATE_NAMES + ("refr",):
            setattr(self, n, None)

    def detach_state(self):
        """Cut the carried state from the autograd graph (truncated BPTT)."""
        for n in self.STATE_NAMES:
            s = getattr(self, n)
            if s is not None:
                setattr(self, n, s.detach())


_SECOND_ORDER_ARGS = """
        alpha: synaptic current decay, clamped to [0, 1]; number or tensor broadcastable to the
            feature shape (per-neuron).
        beta: membrane decay, clamped to [0, 1]; number or tensor.
        threshold: firing threshold (> 0), number or tensor.
        surrogate: ``tsnn.surrogate.atan(alpha=2.0)`` by default.
        learn_alpha, learn_beta, learn_threshold: make them ``nn.Parameter``s.
        step_mode: ``"multi"`` (``[T, B, ...]``) or ``"single"`` (``[B, ...]``).
        stateful: in multi-step mode, carry the final state into the next call.
        return_mem: return ``(spikes, mem)``.
        return_state: return all state sequences after the spikes, in snnTorch's output order.
        refractory: refractory period in ms (0 = off): after a spike the membrane is held (no leak,
            no input, no firing; a pending reset still applies) for ``ceil(refractory/dt)`` steps
            while the synaptic current evolves; the counter is carried as state (``self.refr``).
        dt: simulation step in ms."""


class Synaptic(_MultiStateNeuron):
    """Second-order LIF neuron with a synaptic current, as ``snntorch.Synaptic``.

    ``syn[t] = alpha * syn[t-1] + x[t]``; ``mem[t] = beta * mem[t-1] + syn[t] - reset * threshold``
    (subtract). Carried state: ``syn``, ``mem``. ``return_state=True`` returns ``(spikes, syn, mem)``.

    Args:""" + _SECOND_ORDER_ARGS + """
        reset_mechanism: ``"subtract"``, ``"zero"`` (zeroes the new membrane, as snnTorch) or ``"none"``.
        reset_delay: snnTorch's flag; True delays the reset to the next step.
        backend: ``"auto"``, ``"triton"`` or ``"torch"``.
    """

    STATE_NAMES = ("syn", "mem")

    def __init__(self, alpha, beta, threshold=1.0, reset_mechanism="subtract", reset_delay=True, surrogate=None,
                 learn_alpha=False, learn_beta=False, learn_threshold=False, step_mode="multi", stateful=False,
                 return_mem=False, return_state=False, refractory=0.0, dt=1.0, backend="auto"):
        super().__init__(threshold, reset_mechanism, reset_delay, surrogate, learn_threshold, step_mode, stateful,
                         return_mem, backend, return_state=return_state, refractory=refractory, dt=dt)
        self._register("alpha", alpha, learn_alpha)
        self._register("beta", beta, learn_beta)

    def _dynamics(self, x, init):
        return F.synaptic(x, self.alpha, self.beta, self.threshold, syn0=init["syn"], mem0=init["mem"],
                          refr0=init["refr"], return_state=True, **self._options())

    def extra_repr(self):
        return f"alpha={_short(self.alpha)}, beta={_short(self.beta)}, " + super().extra_repr()


class Alpha(_MultiStateNeuron):
    """Alpha neuron, as ``snntorch.Alpha``: excitatory and inhibitory synaptic currents
    (decays ``alpha > beta``) whose sum, times ``tau = log(alpha)/(log(beta)-log(alpha)) + 1``,
    is the membrane. Carried state: ``syn_exc``, ``syn_inh``, ``mem``; ``return_state=True``
    returns ``(spikes, syn_exc, syn_inh, mem)``. The reset always acts at the next step.

    Args:""" + _SECOND_ORDER_ARGS + """
        reset_mechanism: ``"zero"`` (snnTorch's default for Alpha), ``"subtract"`` or ``"none"``.
            (``refractory`` must be 0 for Alpha.)
        backend: ``"auto"``, ``"triton"`` or ``"torch"``.

    Raises:
        ValueError: unless ``alpha > beta`` and ``beta < 1`` (snnTorch's requirement).
    """

    STATE_NAMES = ("syn_exc", "syn_inh", "mem")

    def __init__(self, alpha, beta, threshold=1.0, reset_mechanism="zero", surrogate=None, learn_alpha=False,
                 learn_beta=False, learn_threshold=False, step_mode="multi", stateful=False, return_mem=False,
                 return_state=False, refractory=0.0, dt=1.0, backend="auto"):
        super().__init__(threshold, reset_mechanism, True, surrogate, learn_threshold, step_mode, stateful,
                         return_mem, backend, return_state=return_state, refractory=refractory, dt=dt)
        if self.refr_steps > 0:
            raise ValueError("refractory periods are not implemented for Alpha; use refractory=0 "
                             "(Synaptic and RSynaptic support them)")
        self._register("alpha", alpha, learn_alpha)
        self._register("beta", beta, learn_beta)
        a, b = self.alpha.detach().clamp(0, 1), self.beta.detach().clamp(0, 1)
        if bool((b == 1).any()):
            raise ValueError("beta must be < 1 for Alpha (tau = log(alpha)/(log(beta) - log(alpha)) + 1)")
        if bool((a <= b).any()):
            raise ValueError(f"alpha must be greater than beta for Alpha; got alpha={alpha}, beta={beta}")

    def _options(self):
        opts = super()._options()
        del opts["reset_delay"]
        return opts

    def _dynamics(self, x, init):
        return F.alpha(x, self.alpha, self.beta, self.threshold, syn_exc0=init["syn_exc"],
                       syn_inh0=init["syn_inh"], mem0=init["mem"], return_state=True, **self._options())

    def extra_repr(self):
        return f"alpha={_short(self.alpha)}, beta={_short(self.beta)}, " + super().extra_repr()


class RSynaptic(_MultiStateNeuron):
    """Recurrent Synaptic neuron, as ``snntorch.RSynaptic``: the previous step's spikes are
    added to the synaptic current through ``recurrent``.

    * ``all_to_all=True`` (snnTorch's default): ``self.recurrent`` is ``nn.Linear(linear_features,
      linear_features)`` or ``nn.Conv2d(conv2d_channels, conv2d_channels, kernel_size, padding=k//2)``,
      named and shaped as in snnTorch so its weights load as they are. Runs as a loop over steps
      around the fused single-step update.
    * ``all_to_all=False``: one-to-one weight ``V`` (scalar or per-neuron), fully fused: one
      kernel for the whole sequence, ``V``'s gradient reduced in the kernel.

    Carried state: ``spk``, ``syn``, ``mem``; ``return_state=True`` returns ``(spikes, syn, mem)``.

    Args:""" + _SECOND_ORDER_ARGS + """
        V: one-to-one recurrent weight (``all_to_all=False``), number or tensor.
        all_to_all: dense recurrent layer (True) or one-to-one ``V`` (False).
        linear_features: feature count of the recurrent ``nn.Linear``.
        conv2d_channels, kernel_size: channels and kernel of the recurrent ``nn.Conv2d``.
        learn_recurrent: train ``V`` / the recurrent layer (True, as snnTorch).
        reset_mechanism: ``"subtract"``, ``"zero"`` or ``"none"``.
        reset_delay: True delays the reset to the next step. snnTorch 1.0's ``RSynaptic`` ignores
            ``reset_delay=False`` (or fails), so False follows ``Synaptic``'s same-step reset.
        backend: ``"auto"``, ``"triton"`` or ``"torch"``.
    """

    STATE_NAMES = ("spk", "syn", "mem")

    def __init__(self, alpha, beta, V=1.0, all_to_all=True, linear_features=None, conv2d_channels=None,
                 kernel_size=None, threshold=1.0, reset_mechanism="subtract", reset_delay=True, surrogate=None,
                 learn_alpha=False, learn_beta=False, learn_threshold=False, learn_recurrent=True,
                 step_mode="multi", stateful=False, return_mem=False, return_state=False, refractory=0.0, dt=1.0,
                 backend="auto"):
        super().__init__(threshold, reset_mechanism, reset_delay, surrogate, learn_threshold, step_mode, stateful,
                         return_mem, backend, return_state=return_state, refractory=refractory, dt=dt)
        self._register("alpha", alpha, learn_alpha)
        self._register("beta", beta, learn_beta)
        self.all_to_all = bool(all_to_all)
        conv = conv2d_channels is not None or kernel_size is not None
        if self.all_to_all:
            if linear_features and conv:
                raise ValueError("give either linear_features or (conv2d_channels and kernel_size), not both")
            if linear_features:
                self.recurrent = nn.Linear(linear_features, linear_features)
            elif conv2d_channels and kernel_size:
                k = (kernel_size, kernel_size) if isinstance(kernel_size, int) else tuple(kernel_size)
                self.recurrent = nn.Conv2d(conv2d_channels, conv2d_channels, k, padding=(k[0] // 2, k[1] // 2))
            else:
                raise ValueError("all_to_all=True needs linear_features=N (features of the spikes) or both "
                                 "conv2d_channels and kernel_size; for one weight per neuron use all_to_all=False")
            for p in self.recurrent.parameters():
                p.requires_grad_(bool(learn_recurrent))
        else:
            if linear_features or conv:
                raise ValueError("all_to_all=False uses the weight V; do not give linear_features, "
                                 "conv2d_channels or kernel_size")
            self._register("V", V, learn_recurrent)

    def _dynamics(self, x, init):
        rec = dict(recurrent=self.recurrent) if self.all_to_all else dict(V=self.V)
        spikes, *rest = F.rsynaptic(x, self.alpha, self.beta, threshold=self.threshold, spk0=init["spk"],
                                    syn0=init["syn"], mem0=init["mem"], refr0=init["refr"], return_state=True,
                                    **rec, **self._options())
        return (spikes, spikes, *rest)

    def forward(self, x):
        out = super().forward(x)
        if self.return_state:   # snnTorch's order (spk, syn, mem): the spikes once
            return out[:1] + out[2:]
        return out

    def extra_repr(self):
        return (f"alpha={_short(self.alpha)}, beta={_short(self.beta)}, all_to_all={self.all_to_all}, "
                + super().extra_repr())
