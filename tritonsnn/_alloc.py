"""Output allocation. Tests set ``FILL_NAN`` so that a kernel which leaves part of
an output unwritten fails loudly instead of passing on leftover memory.

Large CPU buffers are marked for transparent huge pages: glibc maps every allocation over
32 MiB afresh (its largest mmap threshold), and touching it page by page costs one fault per
4 KiB (about 1.6 us each on the VM measured); with 2 MiB pages a ``[400, 32, 1024]`` fp32 sequence
is written 3.5x faster on first touch (``bench/cpu.py --T 400``). Linux only, a hint the kernel
may ignore (THP ``never``); ``THP_BYTES`` is the size from which it is given."""

import ctypes
import sys

import torch

FILL_NAN = False
THP_BYTES = 32 << 20  # glibc mmaps from here on: fresh, untouched pages
_HUGE_PAGE = 2 << 20
_MADV_HUGEPAGE = 14


def _madvise():
    if not sys.platform.startswith("linux"):
        return None
    try:
        fn = ctypes.CDLL(None, use_errno=True).madvise
    except (OSError, AttributeError):
        return None
    fn.argtypes, fn.restype = [ctypes.c_void_p, ctypes.c_size_t, ctypes.c_int], ctypes.c_int
    return fn


_MADVISE = _madvise()


def empty(*shape, dtype, device) -> torch.Tensor:
    out = torch.empty(*shape, dtype=dtype, device=device)
    # type() is Tensor: not a fake tensor of a trace (no memory behind it, maybe symbolic sizes)
    if type(out) is torch.Tensor and out.device.type == "cpu" and out.nbytes >= THP_BYTES:
        huge_pages(out)
    if FILL_NAN:
        out.fill_(float("nan") if dtype.is_floating_point else -1)
    return out


def empty_like(t: torch.Tensor, dtype=None) -> torch.Tensor:
    return empty(*t.shape, dtype=dtype or t.dtype, device=t.device)


def huge_pages(t: torch.Tensor) -> None:
    """Ask the kernel to back the whole 2 MiB pages of ``t``'s (fresh, untouched) memory with huge
    pages, before anything writes it."""
    if _MADVISE is None:
        return
    start = (t.data_ptr() + _HUGE_PAGE - 1) & ~(_HUGE_PAGE - 1)
    end = (t.data_ptr() + t.nbytes) & ~(_HUGE_PAGE - 1)
    if end > start:
        _MADVISE(start, end - start, _MADV_HUGEPAGE)  # a hint: its result is not needed


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
