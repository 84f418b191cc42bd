"""Pieces every kernel family shares: autotune configs, grid, parameter loads, the
surrogate gradient and the same-step reset, kernel arguments derived from the records of
``tritonsnn/contracts.py`` and the batch reduction of per-element gradient partials."""

from __future__ import annotations

import inspect
import math

import torch
import triton
import triton.language as tl

from .. import _alloc, _backend
from .. import surrogate as sg

# Compile without FMA contraction: each multiply and add then rounds as PyTorch's
# separate ops do, so spikes match snnTorch and the PyTorch path bit for bit.
LAUNCH = dict(enable_fp_fusion=False)


def configs():
    """Block sizes to autotune over, keyed on the element count M = B*N: small blocks keep
    every SM busy when M is small (latency bound), large ones amortise index math.
    The interpreter gets one small block so that tests stay fast."""
    if _backend.interpreter_enabled():
        return [triton.Config({"BLOCK": 256}, num_warps=1)]
    return [
        triton.Config({"BLOCK": b}, num_warps=w)
        for b, w in [(128, 1), (256, 2), (512, 4), (1024, 4), (1024, 8), (2048, 8)]
    ]


def _elements_per_thread(config) -> int:
    return config.kwargs["BLOCK"] // (32 * config.num_warps)


def _prune_heavy(configs, named_args, **kwargs):
    """Configs for this launch: a backward with the same-step reset or with parameter gradients
    keeps at most 4 elements per thread (at 8 its code needs 157-176 registers and shared-memory
    round trips each step, read from the sm_90 SASS); the others keep every config."""
    args = {**named_args, **kwargs}
    backward = "DELAY" in args and any(k.startswith("NEED_D") for k in args)
    heavy = backward and (not args["DELAY"] or _needs_param_grads(args))
    kept = [c for c in configs if not heavy or _elements_per_thread(c) <= 4]
    return kept or configs


def _needs_param_grads(args) -> bool:
    return any(v for k, v in args.items() if k.startswith("NEED_D") and isinstance(v, bool))


def _constexpr_names(kernel) -> list:
    """The ``tl.constexpr`` arguments of a ``triton.jit`` function, compiled or interpreted."""
    params = inspect.signature(getattr(kernel, "fn", kernel)).parameters.values()
    return [p.name for p in params if p.annotation is tl.constexpr or str(p.annotation).endswith("constexpr")]


def autotune(kernel):
    """``triton.autotune`` over :func:`configs`, keyed on the element count and on every constexpr
    flag (but ``BLOCK``): each variant of a kernel tunes its own config, rather than reusing the
    one a lighter variant picked at the same shape."""
    flags = [name for name in _constexpr_names(kernel) if name != "BLOCK"]
    return triton.autotune(configs(), key=["M", "N", *flags], prune_configs_by={"early_config_prune": _prune_heavy})(
        kernel
    )


def grid(M):
    return lambda meta: (triton.cdiv(M, meta["BLOCK"]),)


@triton.jit
def load_param(ptr, o_n, mask, PER_NEURON: tl.constexpr):
    """A parameter as a block: per-neuron values, or element 0 broadcast to every lane
    (one cached load; a single return type, which the compiler requires)."""
    if PER_NEURON:
        offs = o_n
    else:
        offs = o_n * 0
    return tl.load(ptr + offs, mask=mask, other=1.0).to(tl.float32)


@triton.jit
def load_state(ptr, o, mask, HAS: tl.constexpr, BLOCK: tl.constexpr):
    """An fp32 block at ``ptr + o`` (an initial state, an optional upstream gradient): loaded when
    given, zeros otherwise."""
    if HAS:
        return tl.load(ptr + o, mask=mask, other=0.0).to(tl.float32)
    return tl.zeros([BLOCK], dtype=tl.float32)


@triton.jit
def load_count(ptr, o, mask, HAS: tl.constexpr, BLOCK: tl.constexpr):
    """An initial refractory counter as an int32 block: loaded when given, zeros otherwise."""
    if HAS:
        return tl.load(ptr + o, mask=mask, other=0).to(tl.int32)
    return tl.zeros([BLOCK], dtype=tl.int32)


@triton.jit
def surrogate_grad(x, SURROGATE: tl.constexpr, a, b):
    """dH/dx at ``x`` (membrane minus threshold); ids, parameters and formulas are those of
    tritonsnn/surrogate.py."""
    if SURROGATE == sg.ATAN:
        h = 1.5707963267948966 * a * x
        return (a * 0.5) / (1.0 + h * h)
    elif SURROGATE == sg.FAST_SIGMOID:
        d = a * tl.abs(x) + 1.0
        return 1.0 / (d * d)
    elif SURROGATE == sg.SIGMOID:
        sig = tl.sigmoid(a * x)
        return a * sig * (1.0 - sig)
    elif SURROGATE == sg.TRIANGULAR:  # snnTorch's, sign flip above threshold included
        return tl.where(x < 0, a, -a)
    elif SURROGATE == sg.HEAVISIDE:
        return (x > 0).to(tl.float32)
    elif SURROGATE == sg.SPIKE_RATE_ESCAPE:
        return a * tl.exp(-b * tl.abs(x - 1.0))
    elif SURROGATE == sg.SPARSE_FAST_SIGMOID:
        d = a * tl.abs(x) + 1.0
        return tl.where(x > b, 1.0 / (d * d), 0.0)
    elif SURROGATE == sg.LEAKY_SPIKE_OPERATOR:
        return tl.where(x > 0, 1.0, a)
    else:  # straight-through
        return tl.full(x.shape, 1.0, tl.float32)


@triton.jit
def surrogate_at(p_sgrad, x, mask, SURROGATE: tl.constexpr, a, b):
    """The surrogate gradient of one step: loaded where it comes precomputed (``sg.GIVEN``),
    else evaluated at ``x``."""
    if SURROGATE == sg.GIVEN:
        return tl.load(p_sgrad, mask=mask, other=0.0).to(tl.float32)
    return surrogate_grad(x, SURROGATE, a, b)


def surrogate_args(saved, opts) -> dict:
    """The surrogate arguments of a backward kernel: its id (``sg.GIVEN`` where it comes
    precomputed) and parameters."""
    return dict(
        sg_param=opts.surrogate_param,
        sg_param2=opts.surrogate_param2,
        SURROGATE=sg.GIVEN if saved.sgrad is not None else opts.surrogate_kind,
    )


@triton.jit
def post_reset(pre, s, r, thr, RESET: tl.constexpr):
    """Membrane after the same-step reset (``reset_delay=False``): subtract or zero."""
    if RESET == 0:
        return pre - (s - r) * thr
    return pre - (s - r) * pre


@triton.jit
def fires(mem, thr, AT_THRESHOLD: tl.constexpr):
    """Where ``mem`` fires against ``thr``: above it (snnTorch's ``>``), or from it on
    (``AT_THRESHOLD``, ``>=``: Inferno's, PySNN's, SpikingJelly's), as fp32 0/1."""
    if AT_THRESHOLD:
        out = (mem >= thr).to(tl.float32)
    else:
        out = (mem > thr).to(tl.float32)
    return out


@triton.jit
def through_same_step_reset(g_spike, g_post, pre, s, r, thr, sgrad, RESET: tl.constexpr):
    """Backward through the same-step reset (``reset_delay=False``) as in snnTorch, the surrogate
    flowing through it: ``(dL/d pre[t], the step's term of dL/d threshold)`` from ``g_spike``
    (dL/d s[t] times the surrogate) and ``g_post`` (dL/d post[t]); ``s`` the step's spikes (0 on
    refractory steps)."""
    d = s - r
    if RESET == 0:
        return g_spike + (1.0 - thr * sgrad) * g_post, g_post * (thr * sgrad - d)
    return g_spike + ((1.0 - d) - pre * sgrad) * g_post, g_post * (pre * sgrad)


@triton.jit
def refractory_count(count, fire, REFR_STEPS):
    """The refractory counter after a step: ``REFR_STEPS`` where the neuron fired, else one less (>= 0)."""
    return tl.where(fire, REFR_STEPS, tl.maximum(count - 1, 0))


def pointers(record, fallback, drop=()) -> dict:
    """Kernel arguments ``p_<field>`` for the tensors of ``record``; a field that is None or empty
    points at ``fallback`` (its flag leaves it unread): never an empty tensor's null pointer."""
    return {
        f"p_{k}": or_buffer(v, fallback)
        for k, v in record._asdict().items()
        if k not in drop and (v is None or isinstance(v, torch.Tensor))
    }


def has_flags(state, drop=()) -> dict:
    """``HAS_<FIELD>`` constexpr flags: which initial states are given."""
    return {f"HAS_{k.upper()}": v is not None for k, v in state._asdict().items() if k not in drop}


def per_neuron_flags(params) -> dict:
    """``<FIELD>_PER_NEURON`` constexpr flags: which parameters are ``[N]`` rather than ``[1]``."""
    return {f"{k.upper()}_PER_NEURON": v is not None and v.numel() > 1 for k, v in params._asdict().items()}


def upstream_args(up) -> dict:
    """Kernel arguments of the upstream gradients ``up`` (the first field always given) as
    ``[T, B*N]``: ``p_<field>`` and ``stride_<field>``, the first standing in for an absent
    one, and ``HAS_<FIELD>`` flags for the others."""
    fields = up._asdict()
    g0 = flat_time_major(up[0])
    args = {f"HAS_{k.upper()}": v is not None for k, v in list(fields.items())[1:]}
    for i, (k, v) in enumerate(fields.items()):
        g = g0 if i == 0 or v is None else flat_time_major(v)
        args |= {f"p_{k}": g, f"stride_{k}": g.stride(0)}
    return args


def grad_partials(cls, seq, x_dtype, need, **states):
    """The gradient record ``cls`` of a backward kernel: ``dx`` like ``seq`` ``[T, B, N]`` in the
    input's dtype; per-element ``[B, N]`` fp32 partials (summed over time in the kernel) for the
    initial states flagged in ``states`` and the parameters flagged in ``need``; None elsewhere."""
    T, B, N = seq.shape
    dev = seq.device
    wanted = states | {f"d{k}": on for k, on in need._asdict().items() if f"d{k}" in cls._fields}
    partials = {k: _alloc.empty(B, N, dtype=torch.float32, device=dev) if on else None for k, on in wanted.items()}
    return cls(dx=_alloc.empty(T, B, N, dtype=x_dtype, device=dev), **partials)


def neuron_fwd(kernel, x, state, params, out, opts, *, seq, **args):
    """Launch a neuron family's forward ``kernel`` over ``x [T, B, N]`` into its allocated outputs
    ``out``; ``seq`` (an fp32 ``[T, B, N]`` output) stands in for absent tensors, ``args`` are the
    family's own. With nothing to run, the refractory counter stays the initial one."""
    T, B, N = x.shape
    M = B * N
    if M == 0 or T == 0:
        if opts.refractory > 0:
            out.final_count.copy_(state.count0 if state.count0 is not None else torch.zeros_like(out.final_count))
        return out
    x2 = flat_time_major(x)
    kernel[grid(M)](
        p_x=x2,
        **pointers(state, seq),
        **pointers(params, params[0]),  # the first parameter is always given
        **pointers(out, seq),
        T=T,
        M=M,
        N=N,
        stride_xt=x2.stride(0),
        REFR_STEPS=int(opts.refractory),
        STORE_POST=not opts.delay and opts.need_mem,
        **args,
        **LAUNCH,
    )
    return out


def neuron_bwd(kernel, up, saved, state, params, opts, need, *, grads, seq, **args):
    """Launch a neuron family's backward ``kernel`` into the partials ``grads`` (see
    :func:`grad_partials`) and finish them; ``seq`` (a saved fp32 ``[T, B, N]`` tensor) stands
    in for absent tensors, ``args`` are the family's own."""
    T, B, N = seq.shape
    M = B * N
    if M > 0 and T > 0:
        kernel[grid(M)](
            **upstream_args(up),
            **pointers(saved, seq),
            **pointers(state, seq),
            **pointers(params, params[0]),
            **pointers(grads, grads[1]),  # the initial membrane's (or current's) gradient, always given
            T=T,
            M=M,
            N=N,
            REFR_STEPS=int(opts.refractory),
            **surrogate_args(saved, opts),
            **need_flags(need, grads),
            **args,
            **LAUNCH,
        )
    return finish_grads(grads, params, launched=M > 0 and T > 0)


def need_flags(need, grads) -> dict:
    """``NEED_D<FIELD>`` constexpr flags: which parameter gradients (fields of ``grads``) are wanted."""
    return {f"NEED_D{k.upper()}": v for k, v in need._asdict().items() if f"d{k}" in grads._fields}


def finish_grads(grads, params, launched: bool):
    """The gradients of a backward launch: partials the kernel did not write (nothing to run)
    zeroed, and those of the parameters summed over the batch into each parameter's shape."""
    if not launched:
        for g in grads[1:]:
            if g is not None:
                g.zero_()
    reduced = {f"d{k}": p for k, p in params._asdict().items() if f"d{k}" in grads._fields}
    return grads._replace(**{k: reduce_partials(getattr(grads, k), p) for k, p in reduced.items()})


def flat_time_major(x):
    """View ``[T, B, N]`` as ``[T, B*N]`` with unit inner stride, copying only if needed."""
    x2 = x.reshape(x.shape[0], math.prod(x.shape[1:]))  # not -1: T may be 0
    return x2 if x2.stride(-1) == 1 else x2.contiguous()


def or_buffer(t, fallback):
    """``t`` as a contiguous kernel argument, or ``fallback`` (a pointer the flags leave
    unread) where it is absent or empty: never an empty tensor's null pointer."""
    return fallback if t is None or t.numel() == 0 else t.contiguous()


def reduce_partials(partial, param):
    """Per-element ``[B, N]`` gradient partials summed over the batch into ``param``'s shape
    (None stays None)."""
    if partial is None:
        return None
    g = partial.sum(0)
    return g.sum().reshape(1) if param.numel() == 1 else g
