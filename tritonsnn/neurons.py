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
