"""Custom ops for first-order integrate-and-fire dynamics (Leaky, IF, Lapicque, RLeaky
one-to-one, ALIF; refractory periods). One op pair for the whole family: the options
select code paths (constexpr flags in the kernel). Arguments are the records of
``tritonsnn/contracts.py``; see kernels/lif.py for the equations."""

from __future__ import annotations

import torch

from ..contracts import LifGrads, LifOutputs, LifParams, LifSaved, LifState, LifUpstream, lif_outputs
from ._contract import Family, fake_grads, precomputed_sgrad, records


def _fwd_fake(x, state, params, opts):
    return tuple(lif_outputs(x, opts, adapt=params.rho is not None))


def _bwd_fake(up, saved, state, params, opts, need, x_dtype):
    spiking_state = params.v is not None or params.rho is not None
    return fake_grads(
        LifGrads, saved.pre, params, need, x_dtype, dmem0=True, dspk0=spiking_state, dadapt0=params.rho is not None
    )


def _kept(out, x, params, opts):
    adapt = params.rho is not None
    return LifSaved(
        out.pre, out.reset_bits, out.refr_bits if opts.refractory > 0 else None, out.adapt if adapt else None
    )


def _threshold(kept, params):
    """The threshold each saved membrane element was compared with (adaptive with ALIF)."""
    return params.threshold if params.rho is None else params.threshold + params.b * kept.adapt


def _backward(ctx, *grads):
    g = LifOutputs(*grads)
    rec, opts = FAMILY.saved(ctx), ctx.opts
    # The membrane output is `pre` with delay, else `post`; it is only exposed with need_mem.
    g_mem = (g.pre if opts.delay else g.post) if opts.need_mem else None
    kept, params = rec["saved"], rec["params"]
    g_spikes = torch.zeros_like(kept.pre) if g.spikes is None else g.spikes
    kept = kept._replace(sgrad=precomputed_sgrad(opts, kept.pre, lambda: _threshold(kept, params)))
    d = lif_bwd(
        LifUpstream(g_spikes, g_mem, g.adapt),
        kept,
        rec["state"],
        params,
        opts,
        FAMILY.FWD.needs(ctx, "params"),
        ctx.x_dtype,
    )
    return FAMILY.FWD.grads(
        ctx,
        x=d.dx,
        state=LifState(d.dmem0, d.dspk0, d.dadapt0, None),
        params=LifParams(d.dbeta, d.dthreshold, None, d.dv, d.drho, d.db),
    )


def _step_outputs(x, state, params, opts):
    """What a caller reads of one step: spikes, the membrane it sees, the counter, the adaptation."""
    keep = ["spikes"]
    if opts.need_mem:
        keep.append("pre" if opts.delay else "post")
    if opts.refractory > 0:
        keep.append("final_count")
    if params.rho is not None:
        keep.append("adapt")
    return [LifOutputs._fields.index(k) for k in keep]


FAMILY = Family(
    "lif",
    "lif",
    records("Lif"),
    fwd_fake=_fwd_fake,
    bwd_fake=_bwd_fake,
    kept=_kept,
    backward=_backward,
    step_outputs=_step_outputs,
    membrane=("pre", _threshold),
)
FWD, BWD = FAMILY.FWD, FAMILY.BWD
lif_fwd, lif_bwd = FAMILY.forward, FAMILY.backward
