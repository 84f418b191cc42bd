"""Custom ops for second-order dynamics (Synaptic, RSynaptic one-to-one, Alpha).

One op pair serves the whole family: ``opts.neuron`` selects the Synaptic or Alpha
structure and ``params.v`` (None or the one-to-one recurrent weight) the recurrence;
see kernels/synaptic.py for the equations. Arguments are the records of
``tritonsnn/contracts.py``.
"""

from __future__ import annotations

import torch

from ..contracts import SecondOrder, SynGrads, SynOutputs, SynParams, SynSaved, SynState, SynUpstream, syn_outputs
from ._contract import Family, fake_grads, precomputed_sgrad, records


def _fwd_fake(x, state, params, opts):
    return tuple(syn_outputs(x, opts))


def _bwd_fake(up, saved, state, params, opts, need, x_dtype):
    alpha, recurrent = opts.neuron == SecondOrder.ALPHA, params.v is not None
    return fake_grads(SynGrads, saved.mem, params, need, x_dtype, dcur0=True, daux0=alpha, dmem0=True, dspk0=recurrent)


def _kept(out, x, params, opts):
    return SynSaved(out.cur, out.aux, out.mem, out.reset_bits, out.refr_bits)


def _backward(ctx, *grads):
    g = SynOutputs(*grads)
    rec, opts = FAMILY.saved(ctx), ctx.opts
    params = rec["params"]
    kept = rec["saved"]
    kept = kept._replace(sgrad=precomputed_sgrad(opts, kept.mem, params.threshold))
    # The membrane a caller sees is `post` only for Synaptic without delay.
    g_mem = g.mem if opts.delay or opts.neuron == SecondOrder.ALPHA else g.post
    g_spikes = torch.zeros_like(kept.mem) if g.spikes is None else g.spikes
    up = SynUpstream(g_spikes, g.cur if kept.cur.numel() else None, g.aux if kept.aux.numel() else None, g_mem)
    need = FAMILY.FWD.needs(ctx, "params")
    need = need._replace(tau=need.tau and params.tau is not None, v=need.v and params.v is not None)
    d = syn_bwd(up, kept, rec["state"], params, opts, need, ctx.x_dtype)
    return FAMILY.FWD.grads(
        ctx,
        x=d.dx,
        state=SynState(d.dcur0, d.daux0, d.dmem0, d.dspk0, None),
        params=SynParams(d.dalpha, d.dbeta, d.dtau, d.dthreshold, d.dv),
    )


def _step_outputs(x, state, params, opts):
    """What a caller reads of one step: spikes, the currents kept, the membrane it sees, the counter."""
    keep = ["spikes"]
    if opts.store_cur:
        keep += ["cur", "aux"] if opts.neuron == SecondOrder.ALPHA else ["cur"]
    if opts.need_mem:
        keep.append("mem" if opts.delay or opts.neuron == SecondOrder.ALPHA else "post")
    if opts.refractory > 0:
        keep.append("final_count")
    return [SynOutputs._fields.index(k) for k in keep]


FAMILY = Family(
    "syn",
    "synaptic",
    records("Syn"),
    fwd_fake=_fwd_fake,
    bwd_fake=_bwd_fake,
    kept=_kept,
    backward=_backward,
    step_outputs=_step_outputs,
    membrane=("mem", lambda kept, params: params.threshold),
)
FWD, BWD = FAMILY.FWD, FAMILY.BWD
syn_fwd, syn_bwd = FAMILY.forward, FAMILY.backward
