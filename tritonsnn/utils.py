"""Network-level helpers: time-distributed layers and state management."""

from __future__ import annotations

import torch
from torch import nn

__all__ = ["MultiStep", "reset", "detach", "one_dim_parameters", "dynamic_time_and_batch"]


class MultiStep(nn.Module):
    """Apply a stateless layer (``Conv2d``, ``BatchNorm2d``, ``Flatten``, ...) to every step of ``[T, B, ...]``.

    The time and batch axes are merged for one call of ``layer``, so the layer sees
    ``[T*B, ...]`` and runs as one batched op.

    The wrapper is transparent to ``state_dict``: ``MultiStep(nn.Conv2d(...))`` saves and
    loads the keys of the bare ``nn.Conv2d`` (``weight``, ``bias``; not ``layer.weight``),
    so weights move between a multi-step network and its single-step twin with
    ``strict=True``. The wrapped layer stays reachable as ``.layer``.

    Convolutions run on the CPU in calls of about ``FOLD_SAMPLES`` (256) samples, several steps
    per call: one call on all ``T*B`` images is up to 1.7x slower there than 256 at a time
    (``bench/networks.py``, the conv tutorial net), as the convolution's working buffers outgrow
    the cache. That applies only to layers made of per-sample ops (convolutions with pooling,
    activations, ``Flatten``, ``Dropout``); a layer with batch statistics (``BatchNorm2d``) always
    sees all ``T*B`` samples at once. ``steps_per_call`` overrides the choice (``None``: automatic;
    ``0``: all steps in one call).
    """

    FOLD_SAMPLES = 256

    def __init__(self, layer: nn.Module, steps_per_call: int | None = None):
        super().__init__()
        if steps_per_call is not None and (not isinstance(steps_per_call, int) or steps_per_call < 0):
            raise ValueError(
                f"steps_per_call must be None (automatic), 0 (all steps) or a positive int; got {steps_per_call!r}"
            )
        self.layer = layer
        self.steps_per_call = steps_per_call
        self.register_state_dict_post_hook(_unwrap_state_dict)
        self.register_load_state_dict_pre_hook(_wrap_state_dict)

    def forward(self, x):
        if x.dim() < 2:
            raise ValueError(f"MultiStep expects [T, B, ...]; got shape {tuple(x.shape)}")
        steps = self._steps_per_call(x)
        if steps >= x.shape[0]:
            return self.layer(x.flatten(0, 1)).unflatten(0, x.shape[:2])
        return torch.cat([self.layer(c.flatten(0, 1)).unflatten(0, c.shape[:2]) for c in x.split(steps)])

    def _steps_per_call(self, x) -> int:
        T, B = x.shape[:2]
        if self.steps_per_call is not None:
            return self.steps_per_call or T
        if x.is_cuda or torch.compiler.is_compiling() or not _per_sample_convolution(self.layer):
            return T
        return max(1, self.FOLD_SAMPLES // max(B, 1))


# Layers whose output for one sample depends on that sample alone: safe to run on part of a batch.
_PER_SAMPLE = (
    nn.modules.conv._ConvNd,
    nn.modules.pooling._MaxPoolNd,
    nn.modules.pooling._AvgPoolNd,
    nn.modules.pooling._AdaptiveAvgPoolNd,
    nn.modules.pooling._AdaptiveMaxPoolNd,
    nn.Flatten,
    nn.Identity,
    nn.Dropout,
    nn.ReLU,
    nn.LeakyReLU,
    nn.Hardtanh,
    nn.Sigmoid,
    nn.Tanh,
)


def _per_sample_convolution(layer: nn.Module) -> bool:
    """``layer`` holds a convolution and nothing but per-sample layers (it may be split along the batch)."""
    parts = list(layer) if isinstance(layer, nn.Sequential) else [layer]
    return all(isinstance(p, _PER_SAMPLE) for p in parts) and any(isinstance(p, nn.modules.conv._ConvNd) for p in parts)


def _unwrap_state_dict(module, state_dict, prefix, local_metadata):
    """``state_dict`` hook of MultiStep: ``<prefix>layer.<key>`` -> ``<prefix><key>`` (in order)."""
    inner = prefix + "layer."
    items = list(state_dict.items())
    for key, _ in items:
        del state_dict[key]
    for key, value in items:
        state_dict[prefix + key[len(inner) :] if key.startswith(inner) else key] = value
    meta = getattr(state_dict, "_metadata", None)
    if meta is not None:  # the layer's version record serves the unwrapped keys
        for key in [k for k in meta if k == inner[:-1] or k.startswith(inner)]:
            meta[prefix + key[len(inner) :] if key != inner[:-1] else prefix[:-1]] = meta.pop(key)


def _wrap_state_dict(module, state_dict, prefix, local_metadata, strict, missing_keys, unexpected_keys, error_msgs):
    """Load pre-hook of MultiStep: the bare layer's ``<prefix><key>`` -> ``<prefix>layer.<key>``."""
    for key in [k for k in state_dict if k.startswith(prefix)]:
        state_dict[prefix + "layer." + key[len(prefix) :]] = state_dict.pop(key)


def own_storage(t):
    """``t``, or a copy of it when it views a larger tensor: a carried state (the last step of a
    sequence) must not keep the whole ``[T, B, ...]`` sequence alive until the next call."""
    if not isinstance(t, torch.Tensor):
        return t
    if torch.compiler.is_compiling():  # views cannot be inspected in a trace; a [B, ...] copy is cheap
        return t.clone()
    return t.clone() if t._base is not None and t._base.numel() > t.numel() else t


def register_tensor(module: nn.Module, name: str, value, learn: bool):
    """``value`` (number or tensor) as fp32 ``module.<name>``: an ``nn.Parameter`` where ``learn``,
    else a buffer (saved in ``state_dict`` either way)."""
    if isinstance(value, torch.Tensor):
        t = value.detach().clone().float()
    elif isinstance(value, (int, float)) and not isinstance(value, bool):
        t = torch.tensor(float(value))
    elif isinstance(value, (list, tuple)):
        t = torch.tensor(value, dtype=torch.float32)
    else:
        raise TypeError(f"{name} must be a number, a list of numbers or a tensor; got {type(value).__name__}")
    if learn:
        setattr(module, name, nn.Parameter(t))
    else:
        module.register_buffer(name, t)


def as_sequence(x, single: bool):
    """``x`` as ``[T, B, ...]``: in single-step mode the one step ``[B, ...]`` gains a time axis."""
    if not single:
        return x
    if not isinstance(x, torch.Tensor) or x.dim() < 1:
        raise ValueError("step_mode='single' expects one step of shape [B, *features]")
    return x.unsqueeze(0)


def _each_neuron(net: nn.Module):
    for m in net.modules():
        if hasattr(m, "reset_state") and hasattr(m, "detach_state"):
            yield m


def reset(net: nn.Module) -> nn.Module:
    """Zero the carried state of every neuron in ``net`` (call between sequences)."""
    for m in _each_neuron(net):
        m.reset_state()
    return net


def detach(net: nn.Module) -> nn.Module:
    """Detach the carried state of every neuron in ``net`` from the graph (truncated BPTT)."""
    for m in _each_neuron(net):
        m.detach_state()
    return net


def one_dim_parameters(net: nn.Module) -> nn.Module:
    """Make every scalar (0-d) parameter of ``net`` a ``[1]`` one, in place; returns ``net``.

    FSDP2's ``fully_shard`` refuses scalar parameters, and a learnable ``beta`` or ``threshold``
    is one. Call it before ``fully_shard`` (and before building the optimiser); the neurons
    treat a ``[1]`` parameter exactly as the scalar. A ``state_dict`` saved afterwards holds
    ``[1]`` tensors: load it into a model converted the same way.
    """
    for module in net.modules():
        for name, p in list(module._parameters.items()):
            if p is not None and p.dim() == 0:
                module._parameters[name] = nn.Parameter(p.detach().reshape(1), requires_grad=p.requires_grad)
    return net


def dynamic_time_and_batch(x: torch.Tensor) -> torch.Tensor:
    """Mark the time and batch axes of ``x [T, B, ...]`` dynamic for ``torch.compile`` (and leave
    the per-sample axes static): one compiled graph serves every sequence length and batch size.

    Use it instead of ``torch.compile(..., dynamic=True)`` for networks with ``MultiStep(nn.Conv2d)``:
    with every axis symbolic, inductor fails on a convolution over the merged ``T*B`` axis
    ("cannot determine truth value of Relational", PyTorch 2.11-2.13); image sizes rarely change.
    Returns ``x``.
    """
    if x.dim() < 2:
        raise ValueError(f"dynamic_time_and_batch expects [T, B, ...]; got shape {tuple(x.shape)}")
    torch._dynamo.mark_dynamic(x, 0)
    torch._dynamo.mark_dynamic(x, 1)
    return x
