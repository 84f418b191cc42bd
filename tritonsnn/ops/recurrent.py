"""Custom ops for all-to-all recurrence: RLeaky and RSynaptic whose previous spikes reach
every neuron through an ``nn.Linear`` or a same-size ``nn.Conv2d``.

Step t needs every spike of step t-1 before it starts, so these ops loop over steps: one
GEMM (or convolution) for the recurrent input and the family's fused single-step update
(T = 1) on the chosen backend. Their backward is written by hand: per step the single-step
backward and one GEMM (or transposed convolution) for the spike gradient; the weight
gradient is one GEMM (or one weight-gradient convolution over all T*B images) at the end
instead of T accumulations.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import Tensor

from .. import _alloc
from ..contracts import (
    Dense,
    DenseLifOutputs,
    DenseSynOutputs,
    LifOptions,
    LifParams,
    LifSaved,
    LifState,
    LifUpstream,
    SecondOrder,
    SynOptions,
    SynParams,
    SynSaved,
    SynState,
    SynUpstream,
    lif_outputs,
    syn_outputs,
)
from . import implementation
from ._contract import Op, Signature, composed_step, precomputed_sgrad, save, saved, tensors
from .lif import lif_bwd
from .synaptic import syn_bwd

F32 = torch.float32


def initial_spikes(spk0, x):
    B, N = x.shape[1:]
    return x.new_zeros(B, N, dtype=F32) if spk0 is None else spk0.to(F32)


class Recurrence:
    """The all-to-all map of the previous step's spikes ``[B, N]``, in fp32: an ``nn.Linear``'s
    (``weight [N, N]``) or, with ``image = (C, H, W)``, a same-size ``nn.Conv2d``'s (``weight
    [C, C, kh, kw]``, odd kernel, stride 1, padding ``k//2``) on the spikes seen as images."""

    def __init__(self, dense: Dense):
        self.weight, self.bias = dense.weight, dense.bias
        self.w = dense.weight.to(F32)
        self.b = None if dense.bias is None else dense.bias.to(F32)
        self.image = tuple(dense.image) if dense.image else None
        if self.image:
            self.padding = (self.w.shape[2] // 2, self.w.shape[3] // 2)
        else:
            self.w_t = self.w.t()

    def _images(self, flat):  # [rows, N] -> [rows, C, H, W]
        return flat.view(flat.shape[0], *self.image)

    def current(self, s_prev):
        """``rec(s[t-1])``, the recurrent current of a step. It enters the family's update through
        its one-to-one term with a weight of exactly 1 (:func:`one_to_one`), after the input:
        ``(beta*mem + x) + rec``, snnTorch's order of additions (``x + rec`` first rounds
        differently, and a spike near the threshold can flip)."""
        if self.image:
            return F.conv2d(self._images(s_prev), self.w, self.b, padding=self.padding).flatten(1)
        if self.b is None:
            return torch.mm(s_prev, self.w_t)
        return torch.addmm(self.b, s_prev, self.w_t)

    def spike_grad(self, g):
        """dL/d s[t-1] from ``g [B, N]`` = dL/d(recurrent input at step t)."""
        if self.image:
            g_img = self._images(g)
            return torch.nn.grad.conv2d_input(g_img.shape, self.w, g_img, padding=self.padding).flatten(1)
        return torch.mm(g, self.w)

    def weight_grads(self, g_in, spikes, spk0, need: Dense):
        """``Dense(dW, db, None)`` from ``g_in [T, B, N]`` = dL/d(recurrent input) and the spikes:
        one GEMM (or convolution) against the spikes each step saw (``spk0`` for the first)."""
        T, B, N = g_in.shape
        g_flat = g_in.reshape(T * B, N)
        dweight = dbias = None
        if need.weight:
            s_prev = torch.cat([initial_spikes(spk0, g_in)[None], spikes[: T - 1].to(F32)])[:T]
            s_prev = s_prev.reshape(T * B, N)
            if self.image:
                dweight = torch.nn.grad.conv2d_weight(
                    self._images(s_prev), self.w.shape, self._images(g_flat), padding=self.padding
                )
            else:
                dweight = torch.mm(g_flat.t(), s_prev)
            dweight = dweight.to(self.weight.dtype)
        if self.bias is not None and need.bias:
            per_out = g_flat.view(T * B, self.image[0], N // self.image[0]).sum(2) if self.image else g_flat
            dbias = per_out.sum(0).to(self.bias.dtype)
        return Dense(dweight, dbias, None)


def one_to_one(params, x):
    """``params`` with the one-to-one recurrent weight ``v`` = 1 that adds :meth:`Recurrence.current`."""
    return params._replace(v=_alloc.constant(1.0, F32, x.device, (1,)))


def counter_before(t, count0, spikes, steps):
    """What a step's backward reads of the refractory counter it started from: only whether
    the step before fired (the counter is then ``steps``), so ``steps * s[t-1]`` stands for it."""
    if steps == 0 or t == 0:
        return count0
    return (spikes[t - 1] * steps).to(torch.int32)


def _accumulate(total, part):
    return part if total is None else (total if part is None else total + part)


# --- RLeaky ----------------------------------------------------------------------------------

RLEAKY = Signature(x=Tensor, state=LifState, dense=Dense, params=LifParams, opts=LifOptions)


def rleaky_dense_fwd(
    x: Tensor, state: LifState, dense: Dense, params: LifParams, opts: LifOptions, step: bool = False
) -> DenseLifOutputs:
    """``x [T, B, N]`` -> :class:`DenseLifOutputs` (``state.adapt0`` unused); ``step`` as in ``ops.lif.lif_fwd``."""
    if step and _composes(opts):
        lif_state = LifState(state.mem0, _step_current(x, state, dense), None, state.count0)
        o = composed_step("lif", "lif", x, lif_state, one_to_one(params, x), _step_lif(opts))
        if o is not None:
            return DenseLifOutputs(o.spikes, o.pre if opts.delay else o.post, None, None, None, None)
    return DenseLifOutputs(
        *(_RLEAKY.step if step else _RLEAKY)(x=x, state=state, dense=dense, params=params, opts=opts)
    )


def _composes(opts):
    """Whether an eager step of a dense recurrent layer may run as autograd-tracked ops: the PyTorch
    path, outside torch.compile, without refractory periods (what ``lif_step``/``syn_step`` take)."""
    return not opts.use_triton and opts.refractory == 0 and not torch.compiler.is_compiling()


def _step_current(x, state, dense):
    """``recurrent(s[t-1])`` of one step ``x [B, N]``, autograd-tracked (the weight learns through it)."""
    s_prev = x.new_zeros(x.shape, dtype=F32) if state.spk0 is None else state.spk0.to(F32)
    return Recurrence(dense).current(s_prev)


def _step_lif(opts):
    """Options of the single-step update: the membrane is always read; the zero reset clears
    the recurrent input too (snnTorch's RLeaky)."""
    return opts._replace(need_mem=True, zero_whole=True)


def _rleaky_fwd(x, state, dense, params, opts):
    impl = implementation("lif", opts.use_triton)
    step = _step_lif(opts)
    out = lif_outputs(x, step, adapt=False)
    mem = out.pre if opts.delay else out.post
    refr = opts.refractory > 0
    s_prev, v, count = initial_spikes(state.spk0, x), state.mem0, state.count0
    rec, one = Recurrence(dense), one_to_one(params, x)
    for t in range(x.shape[0]):
        o = impl.lif_fwd(x[t][None], LifState(v, rec.current(s_prev), None, count), one, step)
        out.spikes[t], out.pre[t] = o.spikes[0], o.pre[0]
        if not opts.delay:
            out.reset_bits[t], mem[t] = o.reset_bits[0], o.post[0]
        if refr:
            out.refr_bits[t] = o.refr_bits[0]
            count = o.final_count
        v = mem[t]
        s_prev = out.spikes[t].to(F32)
    if refr:
        out.final_count.copy_(count if count is not None else torch.zeros_like(out.final_count))
    return tuple(
        DenseLifOutputs(
            out.spikes, mem.clone() if opts.delay else mem, out.pre, out.reset_bits, out.refr_bits, out.final_count
        )
    )


def _rleaky_fake(x, state, dense, params, opts):
    out = lif_outputs(x, _step_lif(opts), adapt=False)
    return tuple(
        DenseLifOutputs(out.spikes, torch.empty_like(out.pre), out.pre, out.reset_bits, out.refr_bits, out.final_count)
    )


def _rleaky_setup(ctx, output, x, state, dense, params, opts):
    out = DenseLifOutputs(*output)
    save(
        ctx,
        state=state,
        dense=dense._replace(image=None),
        params=params,
        out=out._replace(refr_bits=out.refr_bits if opts.refractory > 0 else None, final_count=None),
    )
    ctx.set_materialize_grads(False)
    ctx.opts, ctx.image, ctx.x_dtype = opts, dense.image, x.dtype


def _rleaky_backward(ctx, g_spikes, g_mem, *_):
    rec = saved(ctx)
    state, params, out, opts = rec["state"], rec["params"], rec["out"], ctx.opts
    step = _step_lif(opts)
    need = RLEAKY.needs(ctx, "params")
    T, B, N = out.pre.shape
    recurrence = Recurrence(rec["dense"]._replace(image=ctx.image))
    g_cur = torch.empty_like(out.pre)  # dL/d (x[t] + recurrent(s[t-1]))
    g_v = out.pre.new_zeros(B, N)  # dL/d mem[t] through step t+1
    g_s = out.pre.new_zeros(B, N)  # dL/d s[t] through the recurrence at t+1
    sgrad = precomputed_sgrad(opts, out.pre, params.threshold)
    dbeta = dthr = None
    for t in range(T - 1, -1, -1):
        gs_t = g_s if g_spikes is None else g_spikes[t].to(F32) + g_s
        gm_t = g_v if g_mem is None else g_mem[t].to(F32) + g_v
        now = slice(t, t + 1)
        kept = LifSaved(
            out.pre[now],
            out.reset_bits if opts.delay else out.reset_bits[now],
            None if out.refr_bits is None else out.refr_bits[now],
            None,
            None if sgrad is None else sgrad[now],
        )
        d = lif_bwd(
            LifUpstream(gs_t[None], gm_t[None], None),
            kept,
            LifState(
                state.mem0 if t == 0 else out.mem[t - 1],
                None,
                None,
                counter_before(t, state.count0, out.spikes, opts.refractory),
            ),
            params,
            step,
            need,
            F32,
        )
        g_cur[t], g_v = d.dx[0], d.dmem0
        g_s = recurrence.spike_grad(g_cur[t])
        dbeta, dthr = _accumulate(dbeta, d.dbeta), _accumulate(dthr, d.dthreshold)
    dense = recurrence.weight_grads(g_cur, out.spikes, state.spk0, RLEAKY.needs(ctx, "dense"))
    return RLEAKY.grads(
        ctx, x=g_cur.to(ctx.x_dtype), state=LifState(g_v, g_s, None, None), dense=dense, params=LifParams(dbeta, dthr)
    )


def _rleaky_step_outputs(x, state, dense, params, opts):
    """What a caller reads of one step: spikes, the membrane it sees and the counter."""
    keep = ["spikes", "mem"] + (["final_count"] if opts.refractory > 0 else [])
    return [DenseLifOutputs._fields.index(k) for k in keep]


_RLEAKY = Op(
    "rleaky_dense_fwd",
    RLEAKY,
    tensors(len(DenseLifOutputs._fields)),
    _rleaky_fwd,
    _rleaky_fake,
    _rleaky_backward,
    _rleaky_setup,
    step_outputs=_rleaky_step_outputs,
)


# --- RSynaptic -------------------------------------------------------------------------------

RSYNAPTIC = Signature(x=Tensor, state=SynState, dense=Dense, params=SynParams, opts=SynOptions)


def rsyn_dense_fwd(
    x: Tensor, state: SynState, dense: Dense, params: SynParams, opts: SynOptions, step: bool = False
) -> DenseSynOutputs:
    """``x [T, B, N]`` -> :class:`DenseSynOutputs` (``state.aux0`` unused); ``step`` as in ``ops.lif.lif_fwd``."""
    if step and _composes(opts):
        syn_state = SynState(state.cur0, None, state.mem0, _step_current(x, state, dense), state.count0)
        o = composed_step("synaptic", "syn", x, syn_state, one_to_one(params, x), _step_syn(opts))
        if o is not None:
            return DenseSynOutputs(o.spikes, o.cur, o.mem if opts.delay else o.post, None, None, None, None)
    return DenseSynOutputs(
        *(_RSYNAPTIC.step if step else _RSYNAPTIC)(x=x, state=state, dense=dense, params=params, opts=opts)
    )


def _step_syn(opts):
    return opts._replace(neuron=SecondOrder.SYNAPTIC, store_cur=True, need_mem=True)


def _rsyn_fwd(x, state, dense, params, opts):
    impl = implementation("synaptic", opts.use_triton)
    step = _step_syn(opts)
    out = syn_outputs(x, step)
    refr = opts.refractory > 0
    rec, one = Recurrence(dense), one_to_one(params, x)
    s_prev, cur, mem, count = initial_spikes(state.spk0, x), state.cur0, state.mem0, state.count0
    for t in range(x.shape[0]):
        o = impl.syn_fwd(x[t][None], SynState(cur, None, mem, rec.current(s_prev), count), one, step)
        out.spikes[t], out.cur[t], out.mem[t] = o.spikes[0], o.cur[0], o.mem[0]
        if not opts.delay:
            out.reset_bits[t], out.post[t] = o.reset_bits[0], o.post[0]
        if refr:
            out.refr_bits[t] = o.refr_bits[0]
            count = o.final_count
        cur, mem = out.cur[t], (out.mem[t] if opts.delay else out.post[t])
        s_prev = o.spikes[0].to(F32)
    if refr:
        out.final_count.copy_(count if count is not None else torch.zeros_like(out.final_count))
    return tuple(
        DenseSynOutputs(
            out.spikes,
            out.cur,
            out.mem.clone() if opts.delay else out.post,
            out.mem,
            out.reset_bits,
            out.refr_bits,
            out.final_count,
        )
    )


def _rsyn_fake(x, state, dense, params, opts):
    out = syn_outputs(x, _step_syn(opts))
    return tuple(
        DenseSynOutputs(
            out.spikes, out.cur, torch.empty_like(out.mem), out.mem, out.reset_bits, out.refr_bits, out.final_count
        )
    )


def _rsyn_setup(ctx, output, x, state, dense, params, opts):
    out = DenseSynOutputs(*output)
    save(ctx, state=state, dense=dense._replace(image=None), params=params, out=out._replace(final_count=None))
    ctx.set_materialize_grads(False)
    ctx.opts, ctx.image, ctx.x_dtype = opts, dense.image, x.dtype


def _rsyn_backward(ctx, g_spikes, g_cur, g_mem, *_):
    rec = saved(ctx)
    state, params, out, opts = rec["state"], rec["params"], rec["out"], ctx.opts
    step = _step_syn(opts)
    need = RSYNAPTIC.needs(ctx, "params")._replace(tau=False, v=False)
    T, B, N = out.pre.shape
    recurrence = Recurrence(rec["dense"]._replace(image=ctx.image))
    no_aux = out.pre.new_empty(0)
    g_in = torch.empty_like(out.pre)  # dL/d (x[t] + recurrent(s[t-1]))
    g_c = out.pre.new_zeros(B, N)  # dL/d cur[t] through step t+1
    g_m = out.pre.new_zeros(B, N)  # dL/d mem[t] through step t+1
    g_s = out.pre.new_zeros(B, N)  # dL/d s[t] through the recurrence at t+1
    sgrad = precomputed_sgrad(opts, out.pre, params.threshold)
    dalpha = dbeta = dthr = None
    for t in range(T - 1, -1, -1):
        gs_t = g_s if g_spikes is None else g_spikes[t].to(F32) + g_s
        gc_t = g_c if g_cur is None else g_cur[t] + g_c
        gm_t = g_m if g_mem is None else g_mem[t] + g_m
        now = slice(t, t + 1)
        kept = SynSaved(
            out.cur[now],
            no_aux,
            out.pre[now],
            out.reset_bits if opts.delay else out.reset_bits[now],
            out.refr_bits[now] if out.refr_bits.numel() else out.refr_bits,
            None if sgrad is None else sgrad[now],
        )
        first = t == 0
        d = syn_bwd(
            SynUpstream(gs_t[None], gc_t[None], None, gm_t[None]),
            kept,
            SynState(
                state.cur0 if first else out.cur[t - 1],
                None,
                state.mem0 if first else out.mem[t - 1],
                None,
                counter_before(t, state.count0, out.spikes, opts.refractory),
            ),
            params,
            step,
            need,
            F32,
        )
        g_in[t], g_c, g_m = d.dx[0], d.dcur0, d.dmem0
        g_s = recurrence.spike_grad(d.dx[0])
        dalpha, dbeta, dthr = (
            _accumulate(dalpha, d.dalpha),
            _accumulate(dbeta, d.dbeta),
            _accumulate(dthr, d.dthreshold),
        )
    dense = recurrence.weight_grads(g_in, out.spikes, state.spk0, RSYNAPTIC.needs(ctx, "dense"))
    return RSYNAPTIC.grads(
        ctx,
        x=g_in.to(ctx.x_dtype),
        state=SynState(g_c, None, g_m, g_s, None),
        dense=dense,
        params=SynParams(dalpha, dbeta, None, dthr, None),
    )


def _rsyn_step_outputs(x, state, dense, params, opts):
    """What a caller reads of one step: spikes, the current, the membrane it sees and the counter."""
    keep = ["spikes", "cur", "mem"] + (["final_count"] if opts.refractory > 0 else [])
    return [DenseSynOutputs._fields.index(k) for k in keep]


_RSYNAPTIC = Op(
    "rsyn_dense_fwd",
    RSYNAPTIC,
    tensors(len(DenseSynOutputs._fields)),
    _rsyn_fwd,
    _rsyn_fake,
    _rsyn_backward,
    _rsyn_setup,
    step_outputs=_rsyn_step_outputs,
)
