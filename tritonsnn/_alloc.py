"""Output allocation. Tests set ``FILL_NAN`` so that a kernel which leaves part of
an output unwritten fails loudly instead of passing on leftover memory."""

import torch

FILL_NAN = False


def empty(*shape, dtype, device) -> torch.Tensor:
    out = torch.empty(*shape, dtype=dtype, device=device)
    if FILL_NAN:
        out.fill_(float("nan") if dtype.is_floating_point else -1)
    return out


_CONSTANTS: dict = {}
_MAX_CONSTANTS = 4096  # distinct (value, dtype, device) kept; a schedule of many values starts over


def constant(value, dtype, device, shape=()) -> torch.Tensor:
    """A tensor of ``value`` (a number, or a tuple of numbers for ``shape=(len,)``) on ``device``,
    made once and reused: a fresh one per call costs a small op on the CPU and, on a GPU, a
    synchronous host-to-device copy, which also breaks CUDA graph capture. Never write into it."""
    if torch.compiler.is_compiling():  # a traced graph gets its own constant
        return torch.tensor(value, dtype=dtype, device=device).reshape(shape)
    key = (value, dtype, device, shape)
    t = _CONSTANTS.get(key)
    if t is None:
        if len(_CONSTANTS) >= _MAX_CONSTANTS:
            _CONSTANTS.clear()
        data = torch.tensor(value, dtype=dtype)
        t = _CONSTANTS[key] = data.reshape(shape).to(device)
    return t
