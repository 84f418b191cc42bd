"""Custom ops for linear scans (synaptic filters, spike traces) and per-channel delays."""
from __future__ import annotations

from typing import Optional

import torch
from torch import Tensor

from ..contracts import ScanGrads, ScanOptions, ScanOutputs, ScanParams, ScanSaved, ScanState, ScanUpstream
from . import LIB as _LIB, implementation
from ._contract import Op, Signature, empty_for_none, save, saved


SCAN = Signature(x=Tensor, state=ScanState, params=ScanParams, opts=ScanOptions)
SCAN_BWD = Signature(up=ScanUpstream, saved=ScanSaved, state=ScanState, params=ScanParams, opts=ScanOptions,
                     need=list[bool], x_dtype=torch.dtype)


def scan_fwd(x: Tensor, state: ScanState, params: ScanParams, opts: ScanOptions) -> ScanOutputs:
    """``x [T, B, N]`` -> ``(h, y)`` fp32; ``y`` is empty unless ``opts.second``. See kernels/scan.py."""
    return ScanOutputs(*_SCAN(x=x, state=state, params=params, opts=opts))


def scan_bwd(up: ScanUpstream, saved: ScanSaved, state: ScanState, params: ScanParams, opts: ScanOptions,
             need: ScanParams, x_dtype: torch.dtype) -> ScanGrads:
    """Reverse scan; what is not computed comes back empty."""
    return ScanGrads(*_SCAN_BWD(up=up, saved=saved, state=state, params=params, opts=opts, need=list(need),
                                x_dtype=x_dtype))


def _scan(x, state, params, opts):
    return tuple(implementation("scan", opts.use_triton).scan_fwd(x, state, params, opts))


def _scan_bwd_records(up, saved, state, params, opts, need, x_dtype):
    return implementation("scan", opts.use_triton).scan_bwd(up, saved, state, params, opts, ScanParams(*need), x_dtype)


def _scan_bwd(**parts):
    return empty_for_none(_scan_bwd_records(**parts), parts["saved"].h)


def _scan_fake(x, state, params, opts):
    f32 = torch.float32
    return x.new_empty(x.shape, dtype=f32), x.new_empty(x.shape if opts.second else (0,), dtype=f32)


def _scan_bwd_fake(up, saved, state, params, opts, need, x_dtype):
    T, B, N = saved.h.shape
    need = ScanParams(*need)
    new = saved.h.new_empty
    return (new(T, B, N, dtype=x_dtype), new(B, N), new((B, N) if opts.second else (0,)),
            new(params.a.shape if need.a else (0,)), new(params.b.shape if need.b and params.b is not None else (0,)))


def _scan_setup_context(ctx, output, x, state, params, opts):
    h, y = output
    # x is only read back for the nearest-trace mask; otherwise keep no reference to it.
    save(ctx, saved=ScanSaved(x if opts.nearest else None, h, y), state=state, params=params)
    ctx.set_materialize_grads(False)
    ctx.opts, ctx.x_dtype = opts, x.dtype


def _scan_backward(ctx, g_h, g_y):
    rec, opts = saved(ctx), ctx.opts
    kept = rec["saved"]
    # The user-facing output is y (second order) or h; h of a second-order scan is the
    # first-stage state sequence, which gets a gradient only through its final step.
    g_out, g_first = (g_y, g_h) if opts.second else (g_h, None)
    if g_out is None:
        g_out = torch.zeros_like(kept.h)
    need = SCAN.needs(ctx, "params")
    need = need._replace(b=need.b and opts.second)
    d = scan_bwd(ScanUpstream(g_out, g_first), kept, rec["state"], rec["params"], opts, need, ctx.x_dtype)
    return SCAN.grads(ctx, x=d.dx, state=ScanState(d.dh0, d.dy0 if opts.second else None),
                      params=ScanParams(d.da, d.db if opts.second else None))


_SCAN = Op("scan_fwd", SCAN, tuple[Tensor, Tensor], _scan, _scan_fake, _scan_backward, _scan_setup_context)
_SCAN_BWD = Op("scan_bwd", SCAN_BWD, tuple[(Tensor,) * len(ScanGrads._fields)], _scan_bwd, _scan_bwd_fake,
               eager_impl=_scan_bwd_records)


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
