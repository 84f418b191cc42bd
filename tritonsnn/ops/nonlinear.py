"""Custom ops for nonlinear integrate-and-fire dynamics (QIF, EIF, Izhikevich, AdEx): one op
pair for the family; the options select the drive and the adaptation current. Arguments are
the records of ``tritonsnn/contracts.py``; see kernels/nonlinear.py for the equations."""

from __future__ import annotations

import torch

from ..contracts import NlifGrads, NlifOutputs, NlifParams, NlifSaved, NlifState, NlifUpstream, nlif_outputs
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
    kept = kept._replace(sgrad=precomputed_sgrad(opts, kept.pre, params.threshold))
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
