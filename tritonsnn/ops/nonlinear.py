"""Custom ops for nonlinear integrate-and-fire dynamics (QIF, EIF, Izhikevich, AdEx): one op
pair for the family; the options select the drive and the adaptation current. Arguments are
the records of ``tritonsnn/contracts.py``; see kernels/nonlinear.py for the equations."""

from __future__ import annotations

import torch

from ..contracts import (
    NlifAdaptation,
    NlifCurrent,
    NlifGrads,
    NlifOptions,
    NlifOutputs,
    NlifParams,
    NlifSaved,
    NlifState,
    NlifUpstream,
    nlif_outputs,
)
from ..torchimpl.nonlinear import shared_adaptation_step, shared_current_step, step_thresholds
from ._contract import Family, precomputed_sgrad, records


def _fwd_fake(x, state, params, opts):
    return tuple(nlif_outputs(x, opts))


def _bwd_fake(up, saved, state, params, opts, need, x_dtype):
    T, B, N = saved.pre.shape
    new = saved.pre.new_empty
    return tuple(
        NlifGrads(
            dx=new(T, B, N, dtype=x_dtype),
            dmem0=new(B, N),
            dw0=new((B, N) if opts.adapt else (0,)),
            dthreshold=new(params.threshold.shape if need[0] else (0,)),
        )
    )


def _kept(out, x, params, opts):
    return NlifSaved(out.pre, out.refr_bits if opts.refractory > 0 else None)


def _backward(ctx, *grads):
    g = NlifOutputs(*grads)
    rec, opts = FAMILY.saved(ctx), ctx.opts
    kept, params = rec["saved"], rec["params"]
    g_spikes = torch.zeros_like(kept.pre) if g.spikes is None else g.spikes
    kept = kept._replace(sgrad=precomputed_sgrad(opts, kept.pre, lambda: step_thresholds(params)))
    up = NlifUpstream(g_spikes, g.mem if opts.need_mem else None, g.w if opts.need_mem and opts.adapt else None)
    d = nlif_bwd(up, kept, rec["state"], params, opts, FAMILY.FWD.needs(ctx, "params"), ctx.x_dtype)
    return FAMILY.FWD.grads(
        ctx, x=d.dx, state=NlifState(d.dmem0, d.dw0 if opts.adapt else None, None), params=NlifParams(d.dthreshold)
    )


def _step_outputs(x, state, params, opts):
    """What a caller reads of one step: spikes, with ``need_mem`` the membrane and w, the counter."""
    keep = ["spikes"]
    if opts.need_mem:
        keep += ["mem", "w"] if opts.adapt else ["mem"]
    if opts.refractory > 0:
        keep.append("final_count")
    return [NlifOutputs._fields.index(k) for k in keep]


FAMILY = Family(
    "nlif",
    "nonlinear",
    records("Nlif"),
    fwd_fake=_fwd_fake,
    bwd_fake=_bwd_fake,
    kept=_kept,
    backward=_backward,
    step_outputs=_step_outputs,
)
FWD, BWD = FAMILY.FWD, FAMILY.BWD
nlif_fwd, nlif_bwd = FAMILY.forward, FAMILY.backward


def nlif_shared(
    x, state: NlifState, params: NlifParams, opts: NlifOptions, threshold: NlifAdaptation | None,
    current: NlifCurrent | None, step=False,
):  # fmt: skip
    """The ``nlif`` op under adaptations shared by the batch (Inferno's): a threshold adaptation
    (``threshold + sum_k theta_k`` at each step) and an adaptation current (``x - sum_k w_k``), each
    None if absent; returns ``(outputs, theta, w)`` after the last step. Both follow the spikes
    and membranes of every sample, so the steps are coupled across the batch. A first pass,
    without gradient, runs the op one step at a time to find each step's offsets; the second
    runs the whole sequence under them with autograd, the adaptations detached (as Inferno's,
    which carry no gradient); with nothing to differentiate the first pass's steps are the
    outputs. Frozen (``update=False``): one pass, the offsets constant."""
    theta = None if threshold is None else threshold.theta0
    w = None if current is None else current.w0
    update = (threshold is not None and threshold.update) or (current is not None and current.update)
    if step:  # one step [B, N]: the offsets are the adaptations now; they move after it
        out = nlif_fwd(_drive(x, w), state, _with_offset(params, theta), opts._replace(need_mem=True), step=True)
        if update:
            theta, w = _adapt(theta, w, threshold, current, state, out.spikes.detach(), out.mem.detach(), opts)
        return _as_input(out, x), theta, w
    T = x.shape[0]
    if not update:  # the same offsets every step: theta folds into the threshold, w into the input
        thr = params.threshold if theta is None else params.threshold + theta.sum(-1)
        return _as_input(nlif_fwd(_drive(x, w), state, params._replace(threshold=thr), opts), x), theta, w
    thr_offsets = None if theta is None else theta.new_empty(T, theta.shape[0])
    currents = None if w is None else w.new_empty(T, w.shape[0])
    graph = torch.is_grad_enabled() and any(t is not None and t.requires_grad for t in (x, *state, *params))
    steps = []
    with torch.no_grad():
        carried, probe = state, opts._replace(need_mem=True)
        for t in range(T):
            if thr_offsets is not None:
                thr_offsets[t] = theta.sum(-1)
            if currents is not None:
                currents[t] = w.sum(-1)
            offset = None if thr_offsets is None else thr_offsets[t : t + 1]
            xt = x[t : t + 1] if currents is None else x[t : t + 1] - currents[t]
            out = nlif_fwd(xt, carried, params._replace(offset=offset), probe)
            steps.append(out)
            theta, w = _adapt(theta, w, threshold, current, carried, out.spikes[0], out.mem[0], opts)
            counts = out.final_count if opts.refractory > 0 else None
            carried = NlifState(out.mem[0], out.w[0] if opts.adapt else None, counts)
    if not graph and T > 0:  # nothing to differentiate: the first pass's steps are the outputs
        return _joined(steps, x, opts), theta, w
    xs = x if currents is None else x - currents[:, None, :]
    return _as_input(nlif_fwd(xs, state, params._replace(offset=thr_offsets), opts), x), theta, w


def _joined(steps, x, opts: NlifOptions) -> NlifOutputs:
    """The outputs of a sequence from those of its one-step calls (the fields ``opts`` asks for)."""
    full = nlif_outputs(x, opts)
    for name in ("spikes", "pre", "mem", "w", "refr_bits"):
        target = getattr(full, name)
        if target.numel():
            target.copy_(torch.cat([getattr(o, name) for o in steps]))
    if full.final_count.numel():
        full.final_count.copy_(steps[-1].final_count)
    return full


def _drive(x, w):
    """The input less the adaptation current (constant over the call), or the input."""
    return x if w is None else x - w.sum(-1)


def _with_offset(params: NlifParams, theta):
    """``params`` with theta's sum as the one step's threshold offset."""
    return params if theta is None else params._replace(offset=theta.sum(-1)[None])


def _as_input(out: NlifOutputs, x):
    """Spikes in the input's dtype (the current, fp32, promotes a half-precision input)."""
    return out if out.spikes.dtype == x.dtype else out._replace(spikes=out.spikes.to(x.dtype))


def _adapt(theta, w, threshold, current, state: NlifState, spikes, mem, opts: NlifOptions):
    """Both adaptations after one step whose spikes and post-reset membrane are ``[B, N]``."""
    held = _held(state, spikes, opts)
    if threshold is not None and threshold.update:
        theta = shared_adaptation_step(theta, spikes, held, threshold)
    if current is not None and current.update:
        w = shared_current_step(w, spikes, mem, held, current, opts.v_rest)
    return theta, w


def _held(state: NlifState, spikes, opts: NlifOptions):
    """Where a step holds the shared adaptation ``[B, N]`` (None: nowhere): with a refractory
    period, on the sample's refractory steps and its spike steps, as Inferno's (which holds it
    while the refractory time left after the step is positive)."""
    if opts.refractory == 0:
        return None
    fired = spikes != 0
    return fired if state.count0 is None else fired | (state.count0 > 0)
