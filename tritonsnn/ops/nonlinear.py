"""Custom ops for nonlinear integrate-and-fire dynamics (QIF, EIF, Izhikevich, AdEx): one op
pair for the family; the options select the drive and the adaptation current. Arguments are
the records of ``tritonsnn/contracts.py``; see kernels/nonlinear.py for the equations."""

from __future__ import annotations

import torch

from ..contracts import (
    NlifAdaptation,
    NlifGrads,
    NlifOptions,
    NlifOutputs,
    NlifParams,
    NlifSaved,
    NlifState,
    NlifUpstream,
    nlif_outputs,
)
from ..torchimpl.nonlinear import shared_adaptation_step, step_thresholds
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


def nlif_shared_threshold(
    x, state: NlifState, params: NlifParams, opts: NlifOptions, adaptation: NlifAdaptation, step=False
):
    """The ``nlif`` op under a threshold adaptation shared by the batch (``NlifAdaptation``):
    ``(outputs, theta after the last step)``. Each step's threshold is ``threshold + sum_k
    theta_k``; theta follows the spikes of every sample, so the steps are coupled across the
    batch. A first pass, without gradient, runs the op one step at a time to find the
    offsets ``[T, N]``; the second runs the whole sequence under them with autograd, the
    adaptation detached (as Inferno's, which carries no gradient). Frozen (``update=False``):
    one pass, theta added to the threshold."""
    theta = adaptation.theta0
    if step:  # one step [B, N]: its offset is theta now; theta moves after it
        out = nlif_fwd(x, state, params._replace(offset=theta.sum(-1)[None]), opts, step=True)
        if adaptation.update:
            theta = shared_adaptation_step(theta, out.spikes.detach(), _held(state, out.spikes, opts), adaptation)
        return out, theta
    T = x.shape[0]
    if not adaptation.update:  # the same offset every step: part of the threshold (autograd passes its gradient on)
        return nlif_fwd(x, state, params._replace(threshold=params.threshold + theta.sum(-1)), opts), theta
    offsets = theta.new_empty(T, theta.shape[0])
    with torch.no_grad():
        carried, probe = state, opts._replace(need_mem=True)
        for t in range(T):
            offsets[t] = theta.sum(-1)
            out = nlif_fwd(x[t : t + 1], carried, params._replace(offset=offsets[t : t + 1]), probe)
            theta = shared_adaptation_step(theta, out.spikes[0], _held(carried, out.spikes[0], opts), adaptation)
            counts = out.final_count if opts.refractory > 0 else None
            carried = NlifState(out.mem[0], out.w[0] if opts.adapt else None, counts)
    return nlif_fwd(x, state, params._replace(offset=offsets), opts), theta


def _held(state: NlifState, spikes, opts: NlifOptions):
    """Where a step holds the shared adaptation ``[B, N]`` (None: nowhere): with a refractory
    period, on the sample's refractory steps and its spike steps, as Inferno's (which holds it
    while the refractory time left after the step is positive)."""
    if opts.refractory == 0:
        return None
    fired = spikes != 0
    return fired if state.count0 is None else fired | (state.count0 > 0)
