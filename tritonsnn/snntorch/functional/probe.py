"""snnTorch-compatible monitors (``snntorch.functional.probe``): record what layers see and emit.

A monitor registers hooks on every submodule of ``net`` that is an instance
of ``instance`` (a class or tuple of classes; by default ``type(net)``) and
appends what it records to ``monitor.records``; ``monitor[i]`` is the
``i``-th record and ``monitor[name]`` the list of records of the submodule
called ``name``. ``enable()`` / ``disable()`` switch recording,
``clear_recorded_data()`` empties the records and ``remove_hooks()`` detaches
the monitor. One-element tuples are unpacked before recording.

Two differences from snnTorch 1.0, where its code fails:
``AttributeMonitor(..., pre_forward=True)`` works (snnTorch's pre-forward
hook has the wrong signature), and attributes are read with ``getattr``, so
plain attributes are found as well as buffers and parameters.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from torch import nn

__all__ = [
    "AttributeMonitor",
    "BaseMonitor",
    "GradInputMonitor",
    "GradOutputMonitor",
    "InputMonitor",
    "OutputMonitor",
    "unpack_len1_tuple",
]


def unpack_len1_tuple(x):
    """``x[0]`` for a one-element tuple, else ``x``."""
    return x[0] if isinstance(x, tuple) and len(x) == 1 else x


def _identity(x):
    return x


class BaseMonitor:
    """Records, per-module record indices, hooks and the on/off switch shared by the monitors."""

    def __init__(self):
        self.hooks = []
        self.monitored_layers = []
        self.records = []
        self.name_records_index = {}
        self._enable = True

    def _attach(self, net: nn.Module, instance, register: Callable[[nn.Module, str], Any]) -> None:
        if instance is None:
            instance = type(net)
        for name, module in net.named_modules():
            if isinstance(module, instance):
                self.monitored_layers.append(name)
                self.name_records_index[name] = []
                self.hooks.append(register(module, name))

    def _record(self, name: str, value) -> None:
        if self._enable:
            self.name_records_index[name].append(len(self.records))
            self.records.append(value)

    def __getitem__(self, i):
        if isinstance(i, int):
            return self.records[i]
        if isinstance(i, str):
            return [self.records[index] for index in self.name_records_index[i]]
        raise ValueError(i)

    def clear_recorded_data(self):
        self.records.clear()
        for indices in self.name_records_index.values():
            indices.clear()

    def enable(self):
        self._enable = True

    def disable(self):
        self._enable = False

    def is_enable(self):
        return self._enable

    def remove_hooks(self):
        for hook in self.hooks:
            hook.remove()

    def __del__(self):
        self.remove_hooks()


class _ArgumentMonitor(BaseMonitor):
    """A monitor of one argument of a module hook: the hook ``_REGISTER`` names (an ``nn.Module``
    method) records argument ``_ARG`` after the module, through the function in attribute ``_FUNCTION``
    (read at every call, so that setting it afterwards acts)."""

    _REGISTER: str
    _ARG: int
    _FUNCTION: str

    def __init__(self, net: nn.Module, instance, function: Callable):
        super().__init__()
        setattr(self, self._FUNCTION, function)
        self._attach(net, instance, lambda m, name: getattr(m, self._REGISTER)(self.create_hook(name)))

    def create_hook(self, name):
        def hook(module, *args):
            self._record(name, getattr(self, self._FUNCTION)(unpack_len1_tuple(args[self._ARG])))

        return hook


class OutputMonitor(_ArgumentMonitor):
    """Records ``function_on_output(output)`` of each monitored module after its forward pass."""

    _REGISTER, _ARG, _FUNCTION = "register_forward_hook", 1, "function_on_output"

    def __init__(self, net: nn.Module, instance=None, function_on_output: Callable = _identity):
        super().__init__(net, instance, function_on_output)


class InputMonitor(_ArgumentMonitor):
    """Records ``function_on_input(input)`` of each monitored module at its forward pass."""

    _REGISTER, _ARG, _FUNCTION = "register_forward_hook", 0, "function_on_input"

    def __init__(self, net: nn.Module, instance=None, function_on_input: Callable = _identity):
        super().__init__(net, instance, function_on_input)


class AttributeMonitor(BaseMonitor):
    """Records ``function_on_attribute(module.<attribute_name>)`` before or after each forward pass."""

    def __init__(
        self,
        attribute_name: str,
        pre_forward: bool,
        net: nn.Module,
        instance=None,
        function_on_attribute: Callable = _identity,
    ):
        super().__init__()
        self.attribute_name = attribute_name
        self.function_on_attribute = function_on_attribute
        if pre_forward:
            self._attach(net, instance, lambda m, name: m.register_forward_pre_hook(self.create_hook(name)))
        else:
            self._attach(net, instance, lambda m, name: m.register_forward_hook(self.create_hook(name)))

    def create_hook(self, name):
        def hook(module, *args):
            self._record(name, self.function_on_attribute(getattr(module, self.attribute_name)))

        return hook


class GradInputMonitor(_ArgumentMonitor):
    """Records ``function_on_grad_input(grad_input)`` of each monitored module in the backward pass."""

    _REGISTER, _ARG, _FUNCTION = "register_full_backward_hook", 0, "function_on_grad_input"

    def __init__(self, net: nn.Module, instance=None, function_on_grad_input: Callable = _identity):
        super().__init__(net, instance, function_on_grad_input)


class GradOutputMonitor(_ArgumentMonitor):
    """Records ``function_on_grad_output(grad_output)`` of each monitored module in the backward pass."""

    _REGISTER, _ARG, _FUNCTION = "register_full_backward_hook", 1, "function_on_grad_output"

    def __init__(self, net: nn.Module, instance=None, function_on_grad_output: Callable = _identity):
        super().__init__(net, instance, function_on_grad_output)
