"""Custom ops for linear scans (synaptic filters, spike traces) and per-channel delays."""

from __future__ import annotations

import torch
from torch import Tensor

from ..contracts import ScanGrads, ScanParams, ScanSaved, ScanState, ScanUpstream
from . import LIB as _LIB
from . import implementation
from ._contract import Family, fake_grads, records, saved


def _scan_fake(x, state, params, opts):
    f32 = torch.float32
    return x.new_empty(x.shape, dtype=f32), x.new_empty(x.shape if opts.second else (0,), dtype=f32)


def _scan_bwd_fake(up, saved, state, params, opts, need, x_dtype):
    return fake_grads(ScanGrads, saved.h, params, need, x_dtype, dh0=True, dy0=opts.second)


def _scan_kept(out, x, params, opts):
    # x is only read back for the nearest-trace mask; otherwise keep no reference to it.
    return ScanSaved(x if opts.nearest else None, out.h, out.y)


def _scan_backward(ctx, g_h, g_y):
    rec, opts = saved(ctx), ctx.opts
    kept = rec["saved"]
    # The user-facing output is y (second order) or h; h of a second-order scan is the
    # first-stage state sequence, which gets a gradient only through its final step.
    g_out, g_first = (g_y, g_h) if opts.second else (g_h, None)
    if g_out is None:
        g_out = torch.zeros_like(kept.h)
    need = FAMILY.FWD.needs(ctx, "params")
    need = need._replace(b=need.b and opts.second)
    d = scan_bwd(ScanUpstream(g_out, g_first), kept, rec["state"], rec["params"], opts, need, ctx.x_dtype)
    return FAMILY.FWD.grads(
        ctx,
        x=d.dx,
        state=ScanState(d.dh0, d.dy0 if opts.second else None),
        params=ScanParams(d.da, d.db if opts.second else None),
    )


FAMILY = Family(
    "scan",
    "scan",
    records("Scan"),
    fwd_fake=_scan_fake,
    bwd_fake=_scan_bwd_fake,
    kept=_scan_kept,
    backward=_scan_backward,
)
SCAN, SCAN_BWD = FAMILY.FWD, FAMILY.BWD
scan_fwd, scan_bwd = FAMILY.forward, FAMILY.backward


@torch.library.custom_op(f"{_LIB}::delay_fwd", mutates_args=())
def delay_fwd(x: Tensor, delay: Tensor, use_triton: bool) -> Tensor:
    """``x [T, B, N]`` delayed per channel by ``delay`` steps (fractional: interpolated)."""
    return implementation("delay", use_triton).delay_fwd(x, delay)


@delay_fwd.register_fake
def _(x, delay, use_triton):
    return torch.empty_like(x)


@torch.library.custom_op(f"{_LIB}::delay_bwd", mutates_args=())
def delay_bwd(
    grad_y: Tensor, x: Tensor, delay: Tensor, x_dtype: torch.dtype, need_ddelay: bool, use_triton: bool
) -> tuple[Tensor, Tensor]:
    """Mirror gather: ``(dx, ddelay)``; ``ddelay`` is empty when not needed."""
    dx, dd = implementation("delay", use_triton).delay_bwd(grad_y, x, delay, x_dtype, need_ddelay)
    return dx, (x.new_empty(0, dtype=torch.float32) if dd is None else dd)


@delay_bwd.register_fake
def _(grad_y, x, delay, x_dtype, need_ddelay, use_triton):
    return (x.new_empty(x.shape, dtype=x_dtype), x.new_empty(delay.shape if need_ddelay else (0,), dtype=torch.float32))


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
