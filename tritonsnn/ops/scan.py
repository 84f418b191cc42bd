"""Custom ops for linear scans (synaptic filters, spike traces) and per-channel delays."""
from __future__ import annotations

from typing import Optional

import torch
from torch import Tensor

from . import LIB as _LIB, implementation


@torch.library.custom_op(f"{_LIB}::scan_fwd", mutates_args=())
def scan_fwd(x: Tensor, h0: Optional[Tensor], y0: Optional[Tensor], a: Tensor, b: Optional[Tensor],
             second: bool, nearest: bool, use_triton: bool) -> tuple[Tensor, Tensor]:
    """``x [T, B, N]`` -> ``(h, y)`` fp32; ``y`` is empty unless ``second``. See kernels/scan.py."""
    return implementation("scan", use_triton).scan_fwd(x, h0, y0, a, b, second, nearest)


@scan_fwd.register_fake
def _(x, h0, y0, a, b, second, nearest, use_triton):
    f32 = torch.float32
    return x.new_empty(x.shape, dtype=f32), x.new_empty(x.shape if second else (0,), dtype=f32)


@torch.library.custom_op(f"{_LIB}::scan_bwd", mutates_args=())
def scan_bwd(grad_out: Tensor, grad_h: Optional[Tensor], x: Tensor, h: Tensor, y: Tensor,
             h0: Optional[Tensor], y0: Optional[Tensor], a: Tensor, b: Optional[Tensor],
             second: bool, nearest: bool, x_dtype: torch.dtype, need_da: bool, need_db: bool,
             use_triton: bool) -> tuple[Tensor, Tensor, Tensor, Tensor, Tensor]:
    """Reverse scan: ``(dx, dh0, dy0, da, db)``; what is not computed comes back empty."""
    dx, dh0, dy0, da, db = implementation("scan", use_triton).scan_bwd(
        grad_out, grad_h, x, h, y, h0, y0, a, b, second, nearest, x_dtype, need_da, need_db)
    def empty():  # distinct tensors: returns of a custom op may not alias each other
        return h.new_empty(0)
    return (dx, dh0, empty() if dy0 is None else dy0, empty() if da is None else da,
            empty() if db is None else db)


@scan_bwd.register_fake
def _(grad_out, grad_h, x, h, y, h0, y0, a, b, second, nearest, x_dtype, need_da, need_db, use_triton):
    T, B, N = h.shape
    return (h.new_empty(T, B, N, dtype=x_dtype), h.new_empty(B, N),
            h.new_empty((B, N) if second else (0,)), h.new_empty(a.shape if need_da else (0,)),
            h.new_empty(b.shape if need_db and b is not None else (0,)))


def _scan_setup_context(ctx, inputs, output):
    x, h0, y0, a, b, second, nearest, use_triton = inputs
    h, y = output
    # x is only read back for the nearest-trace mask; otherwise keep no reference to it.
    ctx.save_for_backward(x if nearest else None, h, y, h0, y0, a, b)
    ctx.set_materialize_grads(False)
    ctx.options = (second, nearest, use_triton, x.dtype)


def _scan_backward(ctx, g_h, g_y):
    x, h, y, h0, y0, a, b = ctx.saved_tensors
    second, nearest, use_triton, x_dtype = ctx.options
    # The user-facing output is y (second order) or h; h of a second-order scan is the
    # first-stage state sequence, which gets a gradient only through its final step.
    grad_out, grad_h = (g_y, g_h) if second else (g_h, None)
    if grad_out is None:
        grad_out = torch.zeros_like(h)
    need_dh0, need_dy0, need_da, need_db = ctx.needs_input_grad[1:5]
    dx, dh0, dy0, da, db = scan_bwd(
        grad_out, grad_h, x if nearest else h, h, y, h0, y0, a, b, second, nearest, x_dtype,
        need_da, bool(need_db and second), use_triton)
    return (dx, dh0 if need_dh0 else None, dy0 if need_dy0 and second else None,
            da if need_da else None, db if need_db and second else None, None, None, None)


torch.library.register_autograd(f"{_LIB}::scan_fwd", _scan_backward, setup_context=_scan_setup_context)


@torch.library.custom_op(f"{_LIB}::delay_fwd", mutates_args=())
def delay_fwd(x: Tensor, delay: Tensor, use_triton: bool) -> Tensor:
    """``x [T, B, N]`` delayed per channel by ``delay`` steps (fractional: interpolated)."""
    return implementation("delay", use_triton).delay_fwd(x, delay)


@delay_fwd.register_fake
def _(x, delay, use_triton):
    return torch.empty_like(x)


@torch.library.custom_op(f"{_LIB}::delay_bwd", mutates_args=())
def delay_bwd(grad_y: Tensor, x: Tensor, delay: Tensor, x_dtype: torch.dtype, need_ddelay: bool,
              use_triton: bool) -> tuple[Tensor, Tensor]:
    """Mirror gather: ``(dx, ddelay)``; ``ddelay`` is empty when not needed."""
    dx, dd = implementation("delay", use_triton).delay_bwd(grad_y, x, delay, x_dtype, need_ddelay)
    return dx, (x.new_empty(0, dtype=torch.float32) if dd is None else dd)


@delay_bwd.register_fake
def _(grad_y, x, delay, x_dtype, need_ddelay, use_triton):
    return (x.new_empty(x.shape, dtype=x_dtype),
            x.new_empty(delay.shape if need_ddelay else (0,), dtype=torch.float32))


def _delay_setup_context(ctx, inputs, output):
    x, delay, use_triton = inputs
    ctx.save_for_backward(x, delay)
    ctx.options = (use_triton, x.dtype)


def _delay_backward(ctx, g_y):
    x, delay = ctx.saved_tensors
    use_triton, x_dtype = ctx.options
    need_ddelay = ctx.needs_input_grad[1]
    dx, dd = delay_bwd(g_y, x, delay, x_dtype, need_ddelay, use_triton)
    return dx, (dd if need_ddelay else None), None


torch.library.register_autograd(f"{_LIB}::delay_fwd", _delay_backward, setup_context=_delay_setup_context)
