"""First-order neurons (Leaky, IF, Lapicque, ALIF; RLeaky one-to-one in ``recurrent.py``) over
whole sequences: one call of the ``lif`` op each (``tritonsnn/ops/lif.py``)."""

from __future__ import annotations

import torch

from .. import ops
from .._doc import shared_args
from ..contracts import LifOptions, LifParams, LifState
from . import _rest
from ._validate import Common, Layout, check_input, common, count, is_set, param, result, state

__all__ = ["leaky", "if_", "lapicque", "lapicque_coefficients", "alif"]


def _first_order(
    x,
    beta,
    threshold,
    options: Common,
    *,
    v0=None,
    s0=None,
    a0=None,
    count0=None,
    gain=None,
    V=None,
    rho=None,
    b=None,
    zero_whole=False,
    clamp_beta=True,
    return_mem=False,
    return_state=False,
    single=False,
):
    """Shape everything, run the one ``lif`` op, unflatten the outputs. ``single``: ``x`` is one
    step ``[B, *features]`` (the Modules' single-step mode) and so are the outputs."""
    check_input(x, single=single)
    layout = Layout(x, single)
    features = layout.features
    beta_v = param(beta, "beta", features, x)
    adapt = rho is not None
    shift = _rest.shift_of(options)
    params = LifParams(
        beta=beta_v.clamp(0.0, 1.0) if clamp_beta else beta_v,
        threshold=_rest.threshold(threshold, shift, features, x),
        gain=None if gain is None else param(gain, "gain", features, x),
        v=None if V is None else param(V, "V", features, x),
        rho=param(rho, "rho", features, x) if adapt else None,
        b=param(b, "b", features, x) if adapt else None,
    )
    init = LifState(
        mem0=_rest.start(v0, shift, x, layout),
        spk0=state(s0, "s0", x, features, layout=layout) if V is not None or adapt else None,
        adapt0=state(a0, "a0", x, features, layout=layout) if adapt else None,
        count0=count(count0, x, features, options.refractory, layout),
    )
    opts = options.record(LifOptions, x, zero_whole=bool(zero_whole), need_mem=bool(return_mem or return_state))
    leak = _rest.leak_input(shift, params.beta, params.gain)
    out = ops.lif.lif_fwd(_rest.add_input(layout.flat(x), leak), init, params, opts, step=single)
    seqs = {"mem": _rest.membrane(out.pre if opts.delay else out.post, shift)} if opts.need_mem else {}
    if adapt:
        seqs["adapt"] = out.adapt
    spikes = _rest.spikes_like(out.spikes, x)
    return result(layout, spikes, seqs, out.final_count if opts.refractory > 0 else None, return_mem, return_state)


_COMMON_ARGS = """
        reset_mechanism: ``"subtract"`` (default), ``"zero"`` or ``"none"``.
        surrogate: a ``tsnn.surrogate`` choice; atan(alpha=2) by default.
        return_mem: also return the membrane ``[T, B, *features]`` (fp32).
        return_state: return ``(spikes, state)`` instead, ``state`` a dict of the state
            sequences: ``"mem"`` ``[T, B, *features]`` and, with a refractory period,
            ``"count"``, the final refractory counter ``[B, *features]`` (int32).
        backend: ``"auto"`` (Triton on CUDA, PyTorch elsewhere), ``"triton"`` or ``"torch"``.
        refractory: refractory period in milliseconds (default 0 = off); a neuron that
            spikes at step t is refractory for the next ``ceil(refractory/dt)`` steps: no
            input, no leak, no firing; the spike's reset applies once (one threshold per spike).
        dt: milliseconds per step (default 1.0).
        count0: initial refractory counter ``[B, *features]`` (steps left), zeros when None.
        fire_at_threshold: a membrane equal to the threshold fires (``>=``, as Inferno, PySNN and
            SpikingJelly); False (default): only above it (``>``, snnTorch's).
        v_rest: the potential the membrane leaks towards, ``mem[t] = v_rest + beta * (mem[t-1] -
            v_rest) + x[t]`` (as Inferno's ``rest_v``); the membrane starts there when ``v0`` is None.
        v_reset: where ``reset_mechanism="zero"`` sets the membrane (SpikingJelly's and Inferno's
            hard reset); then the threshold must exceed it. 0 with the other resets.
"""


@shared_args(_COMMON_ARGS)
def leaky(
    x,
    beta,
    threshold=1.0,
    *,
    v0=None,
    reset_mechanism="subtract",
    reset_delay=True,
    surrogate=None,
    return_mem=False,
    return_state=False,
    backend="auto",
    refractory=0.0,
    dt=1.0,
    count0=None,
    fire_at_threshold=False,
    v_rest=0.0,
    v_reset=0.0,
):
    """Leaky integrate-and-fire over a whole sequence (snnTorch ``Leaky`` semantics).

    Args:
        x: input current ``[T, B, *features]`` (fp32, fp16 or bf16; any strides).
        beta: membrane decay, clamped to [0, 1]; number or tensor broadcastable to ``features``.
        threshold: firing threshold (> 0); number or tensor broadcastable to ``features``.
        v0: initial membrane ``[B, *features]``; ``v_rest`` (0) when None. Receives gradients.
        reset_delay: True (snnTorch default) applies the reset of a spike at the next step;
            False applies it in the same step, so the returned membrane is post-reset.

    Returns:
        spikes in x's dtype, or ``(spikes, mem)`` when ``return_mem``. The final state
        for a following chunk is ``mem[-1]``.
    """
    options = common(locals())
    return _first_order(
        x, beta, threshold, options, v0=v0, count0=count0, return_mem=return_mem, return_state=return_state
    )


def if_(x, threshold=1.0, **kwargs):
    """Integrate-and-fire (no leak): :func:`leaky` with ``beta = 1``. Same keyword options."""
    return leaky(x, 1.0, threshold, **kwargs)


def lapicque_coefficients(beta=None, R=None, C=None, time_step=1.0):
    """snnTorch ``Lapicque``'s R and C from any two of beta, R, C (its ``_lapicque_cases``).

    Returns:
        ``(R, C)`` as fp32 tensors. The membrane update is then
        ``mem = x*R*(1/(R*C))*time_step + (1 - time_step/(R*C))*mem``: a forward-Euler
        step, so ``beta`` only fixes ``R*C = time_step/ln(1/beta)`` and the decay used is
        ``1 + ln(beta)``, not ``beta`` (snnTorch 1.0 behaves so).

    Raises:
        ValueError: neither beta nor both R and C are given.
    """
    R_t, C_t = _lapicque_rc(beta, R, C, time_step)
    _check_lapicque(beta, R_t, C_t, time_step)
    return R_t, C_t


def _lapicque_rc(beta, R, C, time_step):
    dt = torch.as_tensor(time_step, dtype=torch.float32)
    has_beta, has_R, has_C = is_set(beta), is_set(R), is_set(C)

    def as_t(v):
        return torch.as_tensor(v, dtype=torch.float32)

    if has_R and has_C and not has_beta:
        return as_t(R), as_t(C)
    if not has_beta:
        given = [n for n, v in (("R", R), ("C", C)) if v is not None and v is not False]
        raise ValueError(
            "Lapicque needs beta, or both R and C (in any combination of two of beta, R and C), each not "
            f"zero; got {' and '.join(f'{n}={v!r}' for n, v in zip(given, (R, C))) if given else 'none'}"
        )
    beta_t = as_t(beta)
    if not has_R and not has_C:
        R_t = torch.as_tensor(1.0)
        return R_t, dt / (R_t * torch.log(1 / beta_t))
    if has_R and not has_C:
        R_t = as_t(R)
        return R_t, dt / (R_t * torch.log(1 / beta_t))
    if has_C and not has_R:
        C_t = as_t(C)
        return dt / (C_t * torch.log(1 / beta_t)), C_t
    return as_t(R), as_t(C)  # all three given: snnTorch keeps R and C as passed


def _check_lapicque(beta, R, C, time_step):
    """The RC step must be a decay in [0, 1): ``0 < beta < 1``, ``R, C > 0`` and ``R*C >= time_step``
    (beyond that the Euler step overshoots and the membrane oscillates or explodes)."""
    if any(isinstance(v, torch.Tensor) and (v.is_cuda or torch.compiler.is_compiling()) for v in (beta, R, C)):
        return  # a value check would synchronise the GPU or break the trace
    if is_set(beta):
        b = torch.as_tensor(beta, dtype=torch.float32)
        if not bool(((b > 0) & (b < 1)).all()):
            raise ValueError(f"Lapicque's beta must lie in (0, 1) (exclusive); got {beta}")
    if not (bool((R > 0).all()) and bool((C > 0).all()) and bool(torch.isfinite(R * C).all())):
        raise ValueError(f"Lapicque's R and C must be finite and > 0; got R={R.tolist()}, C={C.tolist()}")
    if not bool((R * C >= time_step).all()):
        raise ValueError(
            f"Lapicque's R*C must be >= time_step ({time_step}): the decay 1 - time_step/(R*C) would be negative; "
            f"got R*C={(R * C).tolist()}"
        )


@shared_args(_COMMON_ARGS)
def lapicque(
    x,
    beta=None,
    threshold=1.0,
    *,
    R=None,
    C=None,
    time_step=1.0,
    v0=None,
    reset_mechanism="subtract",
    surrogate=None,
    return_mem=False,
    return_state=False,
    backend="auto",
    refractory=0.0,
    dt=1.0,
    count0=None,
    fire_at_threshold=False,
    v_rest=0.0,
    v_reset=0.0,
):
    """Lapicque's RC neuron, as ``snntorch.Lapicque`` (a forward-Euler RC step).

    ``mem[t] = (1 - dt/(R*C)) * mem[t-1] + x[t] * dt/C``, then the reset: subtract removes
    ``reset*threshold``; zero multiplies the whole new state (input included) by
    ``1 - reset``. The reset is always delayed to the next step, as in snnTorch.

    Args:
        x: input current ``[T, B, *features]``.
        beta: membrane decay per step; of ``beta``, ``R`` and ``C`` any two determine the third
            (see :func:`lapicque_coefficients`).
        R: membrane resistance (see ``beta``).
        C: membrane capacitance (see ``beta``).
        threshold: firing threshold (> 0).
        time_step: the Euler step ``dt`` of the RC equation (snnTorch's ``time_step``).
        v0: initial membrane ``[B, *features]``.

    Returns:
        spikes, or ``(spikes, mem)`` when ``return_mem``.
    """
    decay, gain = lapicque_terms(*lapicque_coefficients(beta, R, C, time_step), time_step)
    options = common(locals(), reset_delay=True)
    return _first_order(
        x,
        decay,
        threshold,
        options,
        v0=v0,
        count0=count0,
        gain=gain,
        zero_whole=True,
        clamp_beta=False,
        return_mem=return_mem,
        return_state=return_state,
    )


def lapicque_terms(R, C, time_step):
    """Lapicque's ``(decay, gain)`` from R and C, in snnTorch's order of operations:
    ``mem = x * R * (1 / (R*C)) * time_step + (1 - time_step / (R*C)) * mem``."""
    dts = torch.as_tensor(time_step, dtype=torch.float32)
    RC = R * C
    return 1 - dts / RC, R * (1 / RC) * dts


@shared_args(_COMMON_ARGS)
def alif(
    x,
    beta,
    threshold=1.0,
    rho=0.95,
    b=0.2,
    *,
    v0=None,
    s0=None,
    a0=None,
    reset_mechanism="subtract",
    surrogate=None,
    return_mem=False,
    return_state=False,
    backend="auto",
    refractory=0.0,
    dt=1.0,
    count0=None,
    fire_at_threshold=False,
    v_rest=0.0,
    v_reset=0.0,
):
    """Adaptive-threshold leaky integrate-and-fire (Bellec et al. 2018, LSNN's ALIF).

    Per step ``t``, in this order::

        a[t]   = rho * a[t-1] + s[t-1]            adaptation (per sample)
        th[t]  = threshold + b * a[t]             adaptive threshold
        r[t]   = H(mem[t-1] - th[t-1])            reset flag (detached): did step t-1 fire
        mem[t] = beta * mem[t-1] + x[t] - r[t] * th[t-1]    subtract: the threshold that was crossed
        s[t]   = H(mem[t] - th[t])

    The zero reset multiplies ``mem[t-1]`` by ``1 - r[t]`` as in Leaky. The reset is
    always delayed to the next step (snnTorch's ``reset_delay=True``). Gradients flow
    through ``s[t-1]`` into ``a[t]`` (full BPTT) and into ``rho``, ``b``, ``threshold``,
    ``beta``, ``v0``, ``s0`` and ``a0``.

    Args:
        x: input current ``[T, B, *features]``.
        beta: membrane decay, clamped to [0, 1].
        threshold: baseline threshold (> 0).
        rho: adaptation decay (LSNN's ``exp(-dt/tau_a)``); scalar or per-neuron.
        b: adaptation strength (LSNN's ``beta``); scalar or per-neuron.
        v0: initial membrane ``[B, *features]``.
        s0: spikes of the step before the first ``[B, *features]``.
        a0: initial adaptation ``[B, *features]``.

    Returns:
        spikes, ``(spikes, mem)`` when ``return_mem``, or ``(spikes, state)`` with
        ``state["adapt"]`` the adaptation sequence ``[T, B, *features]`` when
        ``return_state`` (gradients flow back through it too).
    """
    if rho is None or b is None:
        raise ValueError("alif needs rho and b (numbers or tensors); got None")
    options = common(locals(), reset_delay=True)
    return _first_order(
        x,
        beta,
        threshold,
        options,
        v0=v0,
        s0=s0,
        a0=a0,
        count0=count0,
        rho=rho,
        b=b,
        return_mem=return_mem,
        return_state=return_state,
    )
