"""Watch what the neurons of a network do while it runs, without plumbing ``return_state``
through the model: :class:`Monitor` records, or reduces as it goes, the spikes or any state
(``mem``, ``syn``, ``adapt``, ...) of every spiking layer, by layer name. A network without a
monitor pays nothing: each neuron checks an empty list."""

from __future__ import annotations

import torch
from torch import nn

from .neurons import SpikingNeuron

__all__ = ["Monitor"]

REDUCTIONS = (None, "sum", "mean", "ema")


class Monitor:
    """Record or reduce one state of a network's spiking layers on every forward call.

    Args:
        net: the network (any ``nn.Module``); every :class:`tritonsnn.SpikingNeuron` inside it is
            watched (the snnTorch facade's neurons too), or those ``layers`` selects.
        state: ``"spikes"`` (a layer's output) or a key of its state: ``"mem"`` (every neuron),
            ``"syn"`` (Synaptic, RSynaptic), ``"syn_exc"``/``"syn_inh"`` (Alpha), ``"adapt"``
            (ALIF), ``"count"`` (refractory counter). Watching a state makes the layer keep that
            sequence for the call.
        reduce: ``None`` keeps every call's values (detached) in a list per layer; ``"sum"`` adds
            them up over time and batch (spike counts per neuron, ``[*features]``); ``"mean"`` is
            the running mean over every step and sample seen (firing rates); ``"ema"`` smooths the
            per-call mean: ``m = decay * m + (1 - decay) * mean`` (the first call sets ``m``).
        layers: names (as in ``net.named_modules()``) or classes of the layers to watch; all
            spiking layers when None.
        decay: of ``"ema"``.
        device: where recorded values go (e.g. ``"cpu"`` to keep GPU memory free); default: where
            they are.

    Use it as a context manager (removed on exit) or call :meth:`remove`. ``values`` maps layer
    names to the record (list of tensors) or the reduction (a tensor, None before the first call)::

        with tsnn.Monitor(net, "spikes", reduce="mean") as rates:
            net(x)
        print(rates.values)  # {"1": tensor of firing rates [hidden], "3": ...}
    """

    def __init__(self, net: nn.Module, state="spikes", reduce=None, *, layers=None, decay=0.9, device=None):
        if reduce not in REDUCTIONS:
            raise ValueError(f"reduce must be one of {REDUCTIONS}; got {reduce!r}")
        if not 0.0 <= decay < 1.0:
            raise ValueError(f"decay must be in [0, 1); got {decay}")
        if not isinstance(state, str):
            raise TypeError(f"state must be 'spikes' or a state key such as 'mem'; got {type(state).__name__}")
        self.state, self.reduce, self.decay, self.device = state, reduce, decay, device
        self._layers = self._select(net, layers)
        self.values: dict = {}
        self._seen: dict = {}  # elements averaged so far, per layer ("mean")
        self._hooks = []
        self.reset()
        for name, neuron in self._layers.items():
            hook = self._observer(name)
            neuron._observers.append(hook)
            self._hooks.append((neuron, hook))

    @staticmethod
    def _select(net, layers):
        neurons = {name or type(m).__name__: m for name, m in net.named_modules() if isinstance(m, SpikingNeuron)}
        if layers is not None:
            wanted = [layers] if isinstance(layers, (str, type)) else list(layers)
            unknown = [w for w in wanted if isinstance(w, str) and w not in neurons]
            if unknown:
                raise ValueError(f"layers {unknown} are not spiking layers of the network; it has {list(neurons)}")

            def chosen(name, module):
                return any(name == w if isinstance(w, str) else isinstance(module, w) for w in wanted)

            neurons = {n: m for n, m in neurons.items() if chosen(n, m)}
        if not neurons:
            raise ValueError("the network has no spiking layers to monitor (tsnn.SpikingNeuron modules)")
        return neurons

    def _observer(self, name):
        def observe(neuron, spikes, state):
            if self.state == "spikes":
                value = spikes
            elif self.state in state:
                value = state[self.state]
            else:
                raise ValueError(
                    f"Monitor: layer {name!r} ({type(neuron).__name__}) has no state {self.state!r}; "
                    f"it has 'spikes' and {sorted(state)}"
                )
            with torch.no_grad():
                self._add(name, value.detach(), 1 if neuron.step_mode == "single" else 2)

        return observe

    def _add(self, name, value, leading):
        if self.device is not None:
            value = value.to(self.device)
        if self.reduce is None:
            self.values[name].append(value)
            return
        dims = tuple(range(leading))
        n = value.shape[:leading].numel()
        if n == 0:
            return
        value = value.float()
        if self.reduce == "sum":
            total = value.sum(dims)
            self.values[name] = total if self.values[name] is None else self.values[name] + total
        elif self.reduce == "mean":
            seen = self._seen[name]
            mean = value.mean(dims)
            old = self.values[name]
            self.values[name] = mean if old is None else old + (mean - old) * (n / (seen + n))
            self._seen[name] = seen + n
        else:
            mean = value.mean(dims)
            old = self.values[name]
            self.values[name] = mean if old is None else self.decay * old + (1.0 - self.decay) * mean

    def reset(self):
        """Forget what was recorded."""
        self.values = {name: ([] if self.reduce is None else None) for name in self._layers}
        self._seen = {name: 0 for name in self._layers}

    def remove(self):
        """Stop watching (the values stay)."""
        for neuron, hook in self._hooks:
            if hook in neuron._observers:
                neuron._observers.remove(hook)
        self._hooks = []

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.remove()
        return False

    def __repr__(self):
        return f"Monitor(state={self.state!r}, reduce={self.reduce!r}, layers={list(self._layers)})"
