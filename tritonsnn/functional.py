"""Functional neuron dynamics over whole sequences ``[T, B, *features]``.

Each function validates its input, shapes parameters, picks the backend and
calls one custom op; no dynamics are computed here.
"""
from __future__ import annotations

import math

import torch

from . import _backend, ops
from ._doc import shared_args
from . import surrogate as sg
from .contracts import (RESET_MODES, Dense, LifOptions, LifParams, LifState, Reset, SecondOrder, SynOptions,
                        SynParams, SynState, surrogate_fields)

RESET_NONE = Reset.NONE

__all__ = ["leaky", "if_", "lapicque", "lapicque_coefficients", "rleaky", "alif", "refractory_steps"]


def _check_input(x, name="x"):
    if not isinstance(x, torch.Tensor):
        raise TypeError(f"{name} must be a torch.Tensor of shape [T, B, *features]; got {type(x).__name__}")
    if not x.is_floating_point():
        raise TypeError(f"{name} must be a floating tensor (float32/float16/bfloat16); got {x.dtype}: "
                        f"convert it with {name}.float()")
    if x.dim() < 2:
        raise ValueError(f"{name} must have shape [T, B, *features] (time first); got shape {tuple(x.shape)}. "
                         "For a single step use step_mode='single' or add a time axis with x[None]")


def _param(value, name, features, x, positive=False):
    """``value`` (number or tensor broadcastable to ``features``) as fp32 ``[1]`` or ``[N]`` on x's device."""
    if isinstance(value, torch.Tensor):
        if value.device != x.device:
            if value.numel() != 1:
                raise ValueError(f"{name} is on {value.device} but x is on {x.device}: move it with "
                                 f"{name}.to(x.device)")
            value = value.to(x.device)
        t = value.to(torch.float32)
    elif isinstance(value, (int, float)):
        t = torch.tensor(float(value), device=x.device)
    else:
        raise TypeError(f"{name} must be a number or a tensor; got {type(value).__name__}")
    # A value check needs the data on the host: skipped on GPU (it would sync) and while
    # torch.compile traces; Modules check at construction.
    if positive and not t.is_cuda and not torch.compiler.is_compiling() and not bool((t > 0).all()):
        raise ValueError(f"{name} must be > 0; got {value}")
    if t.numel() == 1:
        return t.reshape(1)
    try:
        t = torch.broadcast_to(t, features)
    except RuntimeError:
        raise ValueError(f"{name} of shape {tuple(t.shape)} must be a scalar or broadcastable to the "
                         f"feature shape {tuple(features)} (input shape [T, B, *features])") from None
    return t.reshape(-1)


def _state(v, name, x, features, dtype=torch.float32):
    """Initial state ``[B, *features]`` (broadcastable) as ``dtype`` ``[B, N]``, or None."""
    if v is None:
        return None
    if not isinstance(v, torch.Tensor):
        raise TypeError(f"{name} must be a tensor of shape [B, *features] or None; got {type(v).__name__}")
    if v.device != x.device:
        raise ValueError(f"{name} is on {v.device} but x is on {x.device}: move it with {name}.to(x.device)")
    shape = tuple(x.shape[1:])
    try:
        v = torch.broadcast_to(v, shape)
    except RuntimeError:
        raise ValueError(f"{name} of shape {tuple(v.shape)} must match (or broadcast to) "
                         f"[B, *features] = {shape}") from None
    return v.to(dtype).reshape(x.shape[1], math.prod(features))


def _reset_mode(reset_mechanism):
    try:
        return RESET_MODES[reset_mechanism]
    except (KeyError, TypeError):
        raise ValueError(f"reset_mechanism must be one of {sorted(RESET_MODES)}; got {reset_mechanism!r}") from None


def refractory_steps(refractory, dt=1.0):
    """Refractory period in whole steps: ``ceil(refractory / dt)`` (0 = off).

    Raises:
        ValueError: ``refractory`` < 0 or ``dt`` <= 0.
    """
    if not isinstance(refractory, (int, float)) or isinstance(refractory, bool):
        raise TypeError(f"refractory must be a number of milliseconds; got {type(refractory).__name__}")
    if not isinstance(dt, (int, float)) or isinstance(dt, bool):
        raise TypeError(f"dt must be a number of milliseconds; got {type(dt).__name__}")
    if refractory < 0:
        raise ValueError(f"refractory must be >= 0 (milliseconds; 0 turns it off); got {refractory}")
    if dt <= 0:
        raise ValueError(f"dt must be > 0 (milliseconds per step); got {dt}")
    # Guard against 2.0000000001 steps from float division rounding up to 3.
    return int(math.ceil(refractory / dt - 1e-9))


def _first_order(x, beta, threshold, *, v0, reset_mechanism, reset_delay, surrogate, return_mem,
                 return_state, backend, refractory, dt, count0, gain=None, zero_whole=False,
                 V=None, s0=None, clamp_beta=True, rho=None, b=None, a0=None):
    """Validate and shape everything, run the one ``lif`` op, unflatten the outputs."""
    _check_input(x)
    features = tuple(x.shape[2:])
    mode = _reset_mode(reset_mechanism)
    surrogate = sg.from_any(surrogate)
    n_refr = refractory_steps(refractory, dt)
    beta_v = _param(beta, "beta", features, x)
    if clamp_beta:
        beta_v = beta_v.clamp(0.0, 1.0)
    thr_v = _param(threshold, "threshold", features, x, positive=True)
    gain_v = None if gain is None else _param(gain, "gain", features, x)
    rec_v = None if V is None else _param(V, "V", features, x)
    adapt = rho is not None
    rho_v = _param(rho, "rho", features, x) if adapt else None
    b_v = _param(b, "b", features, x) if adapt else None
    v0_2 = _state(v0, "v0", x, features)
    s0_2 = _state(s0, "s0", x, features) if V is not None or adapt else None
    a0_2 = _state(a0, "a0", x, features) if adapt else None
    c0_2 = _state(count0, "count0", x, features, torch.int32) if n_refr > 0 else None
    use_triton = _backend.resolve(backend, x.device) == "triton"
    delay = bool(reset_delay) or mode == RESET_NONE
    T, B = x.shape[:2]
    need_mem = bool(return_mem or return_state)
    opts = LifOptions(reset=mode, delay=delay, zero_whole=bool(zero_whole), refractory=n_refr, need_mem=need_mem,
                      **surrogate_fields(surrogate), use_triton=use_triton)
    spikes, pre, _, post, _, count, adapt_seq = ops.lif.lif_fwd(
        x.reshape(T, B, math.prod(features)), LifState(v0_2, s0_2, a0_2, c0_2),
        LifParams(beta_v, thr_v, gain_v, rec_v, rho_v, b_v), opts)
    spikes = spikes.view(x.shape)
    mem = (pre if delay else post).view(x.shape) if need_mem else None
    if return_state:
        state = {"mem": mem}
        if n_refr > 0:
            state["count"] = count.view(x.shape[1:])
        if adapt:
            state["adapt"] = adapt_seq.view(x.shape)
        return spikes, state
    return (spikes, mem) if return_mem else spikes


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
            input, no leak, no firing, but a pending reset still applies.
        dt: milliseconds per step (default 1.0).
        count0: initial refractory counter ``[B, *features]`` (steps left), zeros when None.
"""


@shared_args(_COMMON_ARGS)
def leaky(x, beta, threshold=1.0, *, v0=None, reset_mechanism="subtract", reset_delay=True,
          surrogate=None, return_mem=False, return_state=False, backend="auto", refractory=0.0,
          dt=1.0, count0=None):
    """Leaky integrate-and-fire over a whole sequence (snnTorch ``Leaky`` semantics).

    Args:
        x: input current ``[T, B, *features]`` (fp32, fp16 or bf16; any strides).
        beta: membrane decay, clamped to [0, 1]; number or tensor broadcastable to ``features``.
        threshold: firing threshold (> 0); number or tensor broadcastable to ``features``.
        v0: initial membrane ``[B, *features]``; zeros when None. Receives gradients.
        reset_delay: True (snnTorch default) applies the reset of a spike at the next step;
            False applies it in the same step, so the returned membrane is post-reset.

    Returns:
        spikes in x's dtype, or ``(spikes, mem)`` when ``return_mem``. The final state
        for a following chunk is ``mem[-1]``.
    """
    return _first_order(x, beta, threshold, v0=v0, reset_mechanism=reset_mechanism,
                        reset_delay=reset_delay, surrogate=surrogate, return_mem=return_mem,
                        return_state=return_state, backend=backend, refractory=refractory, dt=dt,
                        count0=count0)


def if_(x, threshold=1.0, **kwargs):
    """Integrate-and-fire (no leak): :func:`leaky` with ``beta = 1``. Same keyword options."""
    return leaky(x, 1.0, threshold, **kwargs)


def _is_set(value):
    """snnTorch's truthiness test for Lapicque's beta/R/C (``False``/``None``/0 mean "not given")."""
    if value is None or value is False:
        return False
    if isinstance(value, torch.Tensor):   # given; no value test (it would sync or break a trace)
        return value.numel() > 0
    return bool(value)


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
    dt = torch.as_tensor(time_step, dtype=torch.float32)
    has_beta, has_R, has_C = _is_set(beta), _is_set(R), _is_set(C)
    as_t = lambda v: torch.as_tensor(v, dtype=torch.float32)  # noqa: E731
    if has_R and has_C and not has_beta:
        return as_t(R), as_t(C)
    if not has_beta:
        raise ValueError("Lapicque needs beta, or both R and C (in any combination of two of "
                         "beta, R and C); got " + ("only R" if has_R else "only C" if has_C else "none"))
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
    return as_t(R), as_t(C)   # all three given: snnTorch keeps R and C as passed


@shared_args(_COMMON_ARGS)
def lapicque(x, beta=None, threshold=1.0, *, R=None, C=None, time_step=1.0, v0=None,
             reset_mechanism="subtract", surrogate=None, return_mem=False, return_state=False,
             backend="auto", refractory=0.0, dt=1.0, count0=None):
    """Lapicque's RC neuron, as ``snntorch.Lapicque`` (a forward-Euler RC step).

    ``mem[t] = (1 - dt/(R*C)) * mem[t-1] + x[t] * dt/C``, then the reset: subtract removes
    ``reset*threshold``; zero multiplies the whole new state (input included) by
    ``1 - reset``. The reset is always delayed to the next step, as in snnTorch.

    Args:
        x: input current ``[T, B, *features]``.
        beta, R, C: any two determine the third (see :func:`lapicque_coefficients`).
        threshold: firing threshold (> 0).
        time_step: the Euler step ``dt`` of the RC equation (snnTorch's ``time_step``).
        v0: initial membrane ``[B, *features]``.

    Returns:
        spikes, or ``(spikes, mem)`` when ``return_mem``.
    """
    R_t, C_t = lapicque_coefficients(beta, R, C, time_step)
    dts = torch.as_tensor(time_step, dtype=torch.float32)
    RC = R_t * C_t
    decay = 1 - dts / RC
    gain = R_t * (1 / RC) * dts
    return _first_order(x, decay, threshold, v0=v0, reset_mechanism=reset_mechanism,
                        reset_delay=True, surrogate=surrogate, return_mem=return_mem,
                        return_state=return_state, backend=backend, refractory=refractory, dt=dt,
                        count0=count0, gain=gain, zero_whole=True, clamp_beta=False)


@shared_args(_COMMON_ARGS)
def rleaky(x, beta, V=1.0, threshold=1.0, *, recurrent=None, v0=None, s0=None,
           reset_mechanism="subtract", reset_delay=True, surrogate=None, return_mem=False,
           return_state=False, backend="auto", refractory=0.0, dt=1.0, count0=None):
    """Recurrent leaky integrate-and-fire, as ``snntorch.RLeaky``.

    ``mem[t] = beta*mem[t-1] + x[t] + rec(s[t-1]) - reset*threshold``, where ``rec`` is
    the one-to-one weight ``V*s`` (fused: one kernel for the whole sequence) or, when
    ``recurrent`` is given, the ``nn.Linear`` (or same-size ``nn.Conv2d``: odd kernel,
    padding ``k//2``, on ``x [T, B, C, H, W]``) of an all-to-all RLeaky: then a per-step
    loop of one matmul (or convolution) and the fused single-step neuron op, with a
    hand-written backward (one op, ``ops.lif.rleaky_dense_fwd``). Any other callable runs
    as an autograd per-step loop. The zero reset multiplies the whole new state by
    ``1 - reset``, as snnTorch does.

    Args:
        x: input current ``[T, B, *features]``.
        beta: decay, clamped to [0, 1].
        V: one-to-one recurrent weight, scalar or per-neuron; ignored when ``recurrent`` is set.
        threshold: firing threshold (> 0).
        recurrent: a callable ``[B, *features] -> [B, *features]`` for all-to-all recurrence.
        v0: initial membrane ``[B, *features]``.
        s0: initial spikes ``[B, *features]`` (snnTorch's ``spk``), zeros when None.
        reset_delay: as in :func:`leaky`.

    Returns:
        spikes, or ``(spikes, mem)`` when ``return_mem``.
    """
    opts = dict(reset_mechanism=reset_mechanism, reset_delay=reset_delay, surrogate=surrogate,
                backend=backend, refractory=refractory, dt=dt, zero_whole=True)
    if recurrent is None:
        return _first_order(x, beta, threshold, v0=v0, return_mem=return_mem,
                            return_state=return_state, count0=count0, V=V, s0=s0, **opts)
    if not callable(recurrent):
        raise TypeError(f"recurrent must be a callable such as nn.Linear; got {type(recurrent).__name__}")
    _check_input(x)
    features = tuple(x.shape[2:])
    n = math.prod(features)
    image = _conv_image(recurrent, features)
    if image or _square_linear(recurrent, n):
        return _rleaky_dense(x, beta, threshold, recurrent, image, v0=v0, s0=s0, count0=count0,
                             return_mem=return_mem, return_state=return_state, **opts)
    spk = torch.zeros_like(x[0]) if s0 is None else s0.to(x.dtype)
    mem, count = v0, count0
    spikes, mems = [], []
    for t in range(x.shape[0]):
        drive = x[t] + recurrent(spk)
        spk, st = _first_order(drive[None], beta, threshold, v0=mem, return_mem=False,
                               return_state=True, count0=count, **opts)
        spk = spk[0]
        mem, count = st["mem"][0], st.get("count")
        spikes.append(spk)
        mems.append(mem)
    spikes = torch.stack(spikes) if spikes else x.new_empty(x.shape)
    mem_seq = torch.stack(mems) if mems else x.new_empty(x.shape, dtype=torch.float32)
    if return_state:
        state = {"mem": mem_seq}
        if count is not None:
            state["count"] = count
        return spikes, state
    return (spikes, mem_seq) if return_mem else spikes


@shared_args(_COMMON_ARGS)
def alif(x, beta, threshold=1.0, rho=0.95, b=0.2, *, v0=None, s0=None, a0=None,
         reset_mechanism="subtract", surrogate=None, return_mem=False, return_state=False,
         backend="auto", refractory=0.0, dt=1.0, count0=None):
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
        v0, s0, a0: initial membrane, spikes and adaptation ``[B, *features]``.

    Returns:
        spikes, ``(spikes, mem)`` when ``return_mem``, or ``(spikes, state)`` with
        ``state["adapt"]`` the adaptation sequence ``[T, B, *features]`` when
        ``return_state`` (gradients flow back through it too).
    """
    if rho is None or b is None:
        raise ValueError("alif needs rho and b (numbers or tensors); got None")
    return _first_order(x, beta, threshold, v0=v0, reset_mechanism=reset_mechanism,
                        reset_delay=True, surrogate=surrogate, return_mem=return_mem,
                        return_state=return_state, backend=backend, refractory=refractory, dt=dt,
                        count0=count0, s0=s0, rho=rho, b=b, a0=a0)


def _square_linear(layer, n):
    return isinstance(layer, torch.nn.Linear) and layer.in_features == layer.out_features == n


def _conv_image(layer, features):
    """``[C, H, W]`` when ``layer`` is an ``nn.Conv2d`` mapping images ``features = (C, H, W)`` to
    images of the same size (snnTorch's recurrent convolution: odd kernel, padding ``k//2``),
    which the all-to-all ops run; else None."""
    if not (isinstance(layer, torch.nn.Conv2d) and len(features) == 3):
        return None
    kh, kw = layer.kernel_size
    same = (layer.in_channels == layer.out_channels == features[0] and layer.groups == 1
            and layer.stride == (1, 1) and layer.dilation == (1, 1) and layer.padding_mode == "zeros"
            and kh % 2 == 1 and kw % 2 == 1 and layer.padding == (kh // 2, kw // 2))
    return list(features) if same else None


def _rleaky_dense(x, beta, threshold, layer, image, *, v0, s0, count0, reset_mechanism, reset_delay,
                  surrogate, backend, refractory, dt, zero_whole, return_mem, return_state):
    """All-to-all RLeaky through one op: a per-step loop of one GEMM (``nn.Linear``) or
    convolution (``nn.Conv2d`` on ``image``) and the fused single-step neuron, with a
    hand-written backward (one weight-gradient GEMM or convolution)."""
    features = tuple(x.shape[2:])
    mode = _reset_mode(reset_mechanism)
    surrogate = sg.from_any(surrogate)
    n_refr = refractory_steps(refractory, dt)
    beta_v = _param(beta, "beta", features, x).clamp(0.0, 1.0)
    thr_v = _param(threshold, "threshold", features, x, positive=True)
    v0_2 = _state(v0, "v0", x, features)
    s0_2 = _state(s0, "s0", x, features)
    c0_2 = _state(count0, "count0", x, features, torch.int32) if n_refr > 0 else None
    use_triton = _backend.resolve(backend, x.device) == "triton"
    delay = bool(reset_delay) or mode == RESET_NONE
    T, B = x.shape[:2]
    opts = LifOptions(reset=mode, delay=delay, zero_whole=bool(zero_whole), refractory=n_refr, need_mem=True,
                      **surrogate_fields(surrogate), use_triton=use_triton)
    spikes, mem, _, _, _, count = ops.recurrent.rleaky_dense_fwd(
        x.reshape(T, B, math.prod(features)), LifState(v0_2, s0_2, None, c0_2),
        Dense(layer.weight, layer.bias, image), LifParams(beta_v, thr_v), opts)
    spikes, mem = spikes.view(x.shape), mem.view(x.shape)
    if return_state:
        state = {"mem": mem}
        if n_refr > 0:
            state["count"] = count.view(x.shape[1:])
        return spikes, state
    return (spikes, mem) if return_mem else spikes


# ---------------------------------------------------------------------------
# Synapses, delays, traces and plasticity
# ---------------------------------------------------------------------------

__all__ += ["exp_synapse", "dual_exp_synapse", "delay", "trace", "stdp", "homeostatic_threshold"]

_TRACE_MODES = ("cumulative", "nearest")
_STDP_RULES = ("additive", "multiplicative")
_REDUCTIONS = ("mean", "sum")


def _flat3(x, features):
    T, B = x.shape[:2]
    return x.reshape(T, B, math.prod(features))


def _decay_factor(value, name, features, x, clamp):
    """A decay factor (alpha, trace decay): clamped to [0, 1] when learnable, else checked."""
    a = _param(value, name, features, x).contiguous()   # kernels index it as a dense vector
    if clamp:
        return a.clamp(0.0, 1.0)
    if not a.is_cuda and not bool(((a >= 0) & (a <= 1)).all()):
        raise ValueError(f"{name} must lie in [0, 1] (a decay factor exp(-dt/tau)); got {value}")
    return a


def exp_synapse(x, alpha, *, i0=None, return_state=False, backend="auto"):
    """Single-exponential current synapse over a whole sequence.

    ``i[t] = alpha * i[t-1] + x[t]`` (``i[-1] = i0``, zeros by default), fused over time.

    Args:
        x: input (spikes or weighted input) ``[T, B, *features]``, fp32/fp16/bf16, any strides.
        alpha: decay ``exp(-dt/tau)``, clamped to [0, 1]; number or tensor broadcastable to
            ``features`` (per channel). A tensor that requires grad receives its gradient.
        i0: initial current ``[B, *features]``; receives gradients.
        return_state: also return the final current ``[B, *features]`` for the next chunk.
        backend: ``"auto"``, ``"triton"`` or ``"torch"``.

    Returns:
        The current ``[T, B, *features]`` in fp32, or ``(current, final_current)``.
    """
    _check_input(x)
    features = tuple(x.shape[2:])
    a = _decay_factor(alpha, "alpha", features, x, clamp=True)
    h0 = _state(i0, "i0", x, features)
    use_triton = _backend.resolve(backend, x.device) == "triton"
    h, _ = ops.scan.scan_fwd(_flat3(x, features), h0, None, a, None, False, False, use_triton)
    current = h.view(x.shape)
    if return_state:
        return current, (current[-1] if x.shape[0] > 0 else _zero_state(i0, x))
    return current


def _zero_state(v0, x):
    return torch.zeros(x.shape[1:], device=x.device) if v0 is None else v0.float().expand(x.shape[1:])


def dual_exp_synapse(x, alpha1, alpha2, *, state0=None, return_state=False, backend="auto"):
    """Double-exponential synapse: a cascade of two exponential filters, fused over time.

    ``h[t] = alpha1 * h[t-1] + x[t]`` and ``i[t] = alpha2 * i[t-1] + h[t]``; the output is
    ``i``. From zero state the response to a unit impulse at step 0 is
    ``sum_{j<=k} alpha1**j * alpha2**(k-j) = (alpha1**(k+1) - alpha2**(k+1)) / (alpha1 - alpha2)``:
    the difference of two exponentials scaled by ``1 / (alpha1 - alpha2)`` (rise and
    decay set by the two time constants, the order does not matter); with
    ``alpha1 == alpha2`` it is the alpha function ``(k + 1) * alpha**k``. Multiply
    by ``alpha1 - alpha2`` (or normalise the peak) for another convention.

    Args:
        x: input ``[T, B, *features]``.
        alpha1: decay of the first (input-side) stage, clamped to [0, 1]; scalar or per channel.
        alpha2: decay of the second (output) stage, clamped to [0, 1]; scalar or per channel.
        state0: ``(h0, i0)`` initial states ``[B, *features]`` (either may be None); receive gradients.
        return_state: also return the final ``(h, i)`` for the next chunk.
        backend: ``"auto"``, ``"triton"`` or ``"torch"``.

    Returns:
        The current ``i`` ``[T, B, *features]`` in fp32, or ``(current, (h_final, i_final))``.
    """
    _check_input(x)
    features = tuple(x.shape[2:])
    if state0 is None:
        state0 = (None, None)
    if not (isinstance(state0, (tuple, list)) and len(state0) == 2):
        raise TypeError("state0 must be a pair (h0, i0) of [B, *features] tensors (or None)")
    a1 = _decay_factor(alpha1, "alpha1", features, x, clamp=True)
    a2 = _decay_factor(alpha2, "alpha2", features, x, clamp=True)
    h0 = _state(state0[0], "state0[0]", x, features)
    y0 = _state(state0[1], "state0[1]", x, features)
    use_triton = _backend.resolve(backend, x.device) == "triton"
    h, y = ops.scan.scan_fwd(_flat3(x, features), h0, y0, a1, a2, True, False, use_triton)
    current = y.view(x.shape)
    if return_state:
        if x.shape[0] == 0:
            return current, (_zero_state(state0[0], x), _zero_state(state0[1], x))
        return current, (h.view(x.shape)[-1], current[-1])
    return current


def trace(spikes, decay, *, mode="cumulative", amplitude=1.0, trace0=None, return_state=False,
          backend="auto"):
    """Spike trace over a whole sequence (the fused scan of :func:`exp_synapse`).

    * ``mode="cumulative"``: ``tr[t] = decay * tr[t-1] + amplitude * s[t]`` (all pairs).
    * ``mode="nearest"``: ``tr[t] = amplitude * s[t]`` where ``s[t] != 0``, else
      ``decay * tr[t-1]`` (nearest-spike interaction).

    Args:
        spikes: ``[T, B, *features]``.
        decay: ``exp(-dt/tau)`` in [0, 1]; scalar or per channel.
        mode: ``"cumulative"`` or ``"nearest"``.
        amplitude: value added (cumulative) or set (nearest) per spike.
        trace0: initial trace ``[B, *features]`` (carried state of a previous chunk).
        return_state: also return the final trace.
        backend: ``"auto"``, ``"triton"`` or ``"torch"``.

    Returns:
        The trace ``[T, B, *features]`` in fp32, or ``(trace, final_trace)``.
    """
    _check_input(spikes, "spikes")
    if mode not in _TRACE_MODES:
        raise ValueError(f"mode must be one of {_TRACE_MODES}; got {mode!r}")
    features = tuple(spikes.shape[2:])
    a = _decay_factor(decay, "decay", features, spikes, clamp=False)
    h0 = _state(trace0, "trace0", spikes, features)
    x = spikes if amplitude == 1.0 else spikes * amplitude
    use_triton = _backend.resolve(backend, spikes.device) == "triton"
    h, _ = ops.scan.scan_fwd(_flat3(x, features), h0, None, a, None, False, mode == "nearest",
                             use_triton)
    tr = h.view(spikes.shape)
    if return_state:
        return tr, (tr[-1] if spikes.shape[0] > 0 else _zero_state(trace0, spikes))
    return tr


def delay(x, delay, *, dt=None, backend="auto"):
    """Delay every channel of ``x`` by its own (possibly fractional, trainable) delay.

    ``y[t] = (1 - f) * x[t - k] + f * x[t - k - 1]`` with ``k = floor(d)``, ``f = d - k``
    and ``x[s] = 0`` for ``s < 0`` (zero padding at the start). The gradient w.r.t. ``d``
    is the interpolation slope ``x[t - k - 1] - x[t - k]``, so delays learn by gradient
    descent. Fused over time: one gather per element, no Python loop over ``T``.

    Args:
        x: ``[T, B, *features]``.
        delay: delays, number or tensor broadcastable to ``features`` (per channel), in steps,
            or in milliseconds when ``dt`` is given. Must be >= 0 and shorter than the
            sequence (``< T`` steps). A tensor that requires grad receives its gradient.
        dt: step length in milliseconds; None means ``delay`` is in steps.
        backend: ``"auto"``, ``"triton"`` or ``"torch"``.

    Returns:
        The delayed sequence, same shape and dtype as ``x``.
    """
    _check_input(x)
    features = tuple(x.shape[2:])
    if dt is not None and not (isinstance(dt, (int, float)) and dt > 0):
        raise ValueError(f"dt must be a positive step length in milliseconds (or None for steps); got {dt!r}")
    steps = _param(delay, "delay", features, x).contiguous()
    if dt is not None:
        steps = steps / float(dt)
    if not steps.is_cuda:  # checked on the host only: on a GPU the check would sync
        lo, hi = float(steps.detach().min()), float(steps.detach().max())
        unit = "ms" if dt is not None else "steps"
        scale = float(dt) if dt is not None else 1.0
        if lo < 0:
            raise ValueError(f"delay must be >= 0; got a minimum of {lo * scale:g} {unit}. Clamp learned "
                             "delays with delay.data.clamp_(min=0) after each optimiser step")
        if hi >= x.shape[0]:
            raise ValueError(f"delay must be shorter than the sequence: the longest is {hi * scale:g} {unit} "
                             f"= {hi:g} steps but T = {x.shape[0]}; use a longer sequence or shorter "
                             "delays (a stateful tsnn.Delay keeps the history across chunks)")
    use_triton = _backend.resolve(backend, x.device) == "triton"
    return ops.scan.delay_fwd(_flat3(x, features), steps, use_triton).view(x.shape)


def stdp(pre, post, weight, *, a_plus, a_minus, decay_pre, decay_post, rule="additive",
         w_min=None, w_max=None, reduction="mean", reward=None, trace_mode="cumulative",
         pre_trace0=None, post_trace0=None, return_traces=False, backend="auto"):
    """Pair-based STDP weight change of a fully connected layer over a whole sequence.

    With traces ``x_pre = trace(pre, decay_pre)`` and ``x_post = trace(post, decay_post)``
    (see :func:`trace`; each includes the spike of the current step), and the weight
    ``W [O, I]`` held fixed over the sequence::

        LTP[o, i] = sum_{t, b} r[b] * post[t, b, o] * x_pre[t, b, i]     (post fires after pre)
        LTD[o, i] = sum_{t, b} r[b] * x_post[t, b, o] * pre[t, b, i]     (pre fires after post)
        additive:        dW = a_plus * LTP - a_minus * LTD
        multiplicative:  dW = a_plus * (w_max - W) * LTP - a_minus * (W - w_min) * LTD

    ``r[b]`` is the per-sample reward (1 without ``reward``: plain STDP; with it,
    reward-modulated MSTDP). Coincident spikes count in both terms. The sums over time
    and batch are one matrix product each; ``reduction="mean"`` divides by the batch
    size, so the shared weight receives the average of the per-sample updates.
    The result is not applied: see :class:`tritonsnn.STDP` or add it yourself and clamp.

    Args:
        pre: presynaptic spikes ``[T, B, I]``.
        post: postsynaptic spikes ``[T, B, O]``.
        weight: ``[O, I]`` (read for the multiplicative rule's soft bounds and shapes).
        a_plus, a_minus: learning rates (>= 0) of potentiation and depression.
        decay_pre, decay_post: trace decays ``exp(-dt/tau)`` in [0, 1].
        rule: ``"additive"`` or ``"multiplicative"`` (soft bounds; needs w_min and w_max).
        w_min, w_max: weight bounds, ``w_min < w_max``.
        reduction: ``"mean"`` or ``"sum"`` over the batch.
        reward: None, a number, or per-sample ``[B]`` rewards.
        trace_mode: ``"cumulative"`` or ``"nearest"``.
        pre_trace0, post_trace0: traces carried from a previous chunk ``[B, I]`` / ``[B, O]``.
        return_traces: also return the trace sequences ``(x_pre, x_post)``.
        backend: backend of the trace scans.

    Returns:
        ``dW [O, I]`` in fp32, or ``(dW, x_pre, x_post)``.
    """
    _check_input(pre, "pre")
    _check_input(post, "post")
    check_stdp_options(a_plus, a_minus, rule, w_min, w_max, reduction)
    if pre.dim() != 3 or post.dim() != 3 or pre.shape[:2] != post.shape[:2]:
        raise ValueError(f"pre [T, B, I] and post [T, B, O] must share T and B; got {tuple(pre.shape)} "
                         f"and {tuple(post.shape)}")
    if not isinstance(weight, torch.Tensor) or tuple(weight.shape) != (post.shape[2], pre.shape[2]):
        raise ValueError(f"weight must have shape [O, I] = {(post.shape[2], pre.shape[2])} "
                         f"(post features, pre features); got {getattr(weight, 'shape', weight)}")
    T, B = pre.shape[:2]
    f32 = torch.float32
    with torch.no_grad():
        x_pre = trace(pre, decay_pre, mode=trace_mode, trace0=pre_trace0, backend=backend)
        x_post = trace(post, decay_post, mode=trace_mode, trace0=post_trace0, backend=backend)
        s_pre, s_post = pre.to(f32), post.to(f32)
        if reward is not None:
            r = torch.as_tensor(reward, dtype=f32, device=pre.device)
            if r.numel() not in (1, B):
                raise ValueError(f"reward must be a number or one value per sample [B] = [{B}]; "
                                 f"got shape {tuple(r.shape)}")
            r = r.reshape(-1)[None, :, None]
            s_post, x_post_r = s_post * r, x_post * r
        else:
            x_post_r = x_post
        # Sum over time and batch at once: [O, T*B] @ [T*B, I].
        ltp = s_post.reshape(T * B, -1).T @ x_pre.reshape(T * B, -1)
        ltd = x_post_r.reshape(T * B, -1).T @ s_pre.reshape(T * B, -1)
        if rule == "multiplicative":
            w = weight.detach().to(f32)
            delta = a_plus * (w_max - w) * ltp - a_minus * (w - w_min) * ltd
        else:
            delta = a_plus * ltp - a_minus * ltd
        if reduction == "mean" and B > 0:
            delta = delta / B
    if return_traces:
        return delta, x_pre, x_post
    return delta


def check_stdp_options(a_plus, a_minus, rule, w_min, w_max, reduction):
    """Raise a ValueError naming the bad STDP option."""
    for name, v in (("a_plus", a_plus), ("a_minus", a_minus)):
        if not isinstance(v, (int, float)) or not math.isfinite(v) or v < 0:
            raise ValueError(f"{name} must be a finite learning rate >= 0; got {v!r}")
    if rule not in _STDP_RULES:
        raise ValueError(f"rule must be one of {_STDP_RULES}; got {rule!r}")
    if reduction not in _REDUCTIONS:
        raise ValueError(f"reduction must be one of {_REDUCTIONS}; got {reduction!r}")
    if rule == "multiplicative" and (w_min is None or w_max is None):
        raise ValueError("rule='multiplicative' (soft bounds) needs both w_min and w_max")
    if w_min is not None and w_max is not None and not w_min < w_max:
        raise ValueError(f"w_min must be smaller than w_max; got w_min={w_min}, w_max={w_max}")


def homeostatic_threshold(threshold, spikes, *, target_rate, rate, min_threshold=1e-3):
    """Threshold moved towards a target firing rate from a batch of spikes (returns a new tensor).

    ``thr += rate * (mean_{t, b} spikes[t, b] - target_rate)`` per neuron, then clamped
    to ``>= min_threshold``. The firing rate is averaged over time and the whole batch:
    the threshold is a parameter shared by every sample, unlike the per-sample
    adaptation state of an ALIF neuron.

    Args:
        threshold: current threshold, scalar or ``features``-shaped tensor.
        spikes: ``[T, B, *features]``.
        target_rate: desired spikes per step in [0, 1].
        rate: adaptation rate (> 0).
        min_threshold: lower clamp (> 0) so that the threshold stays valid.

    Returns:
        The new threshold, ``features``-shaped, fp32.
    """
    _check_input(spikes, "spikes")
    if not (isinstance(target_rate, (int, float)) and 0.0 <= target_rate <= 1.0):
        raise ValueError(f"target_rate must be a firing probability per step in [0, 1]; got {target_rate!r}")
    if not (isinstance(rate, (int, float)) and rate > 0 and math.isfinite(rate)):
        raise ValueError(f"rate must be a positive adaptation rate; got {rate!r}")
    if not min_threshold > 0:
        raise ValueError(f"min_threshold must be > 0; got {min_threshold!r}")
    with torch.no_grad():
        firing = spikes.to(torch.float32).mean((0, 1))
        thr = torch.as_tensor(threshold, dtype=torch.float32, device=spikes.device).detach()
        return (thr + rate * (firing - target_rate)).clamp_(min=min_threshold)


# --------------------------------------------------------------------------------------
# Second-order neurons (Synaptic, RSynaptic, Alpha): one custom op, ops.synaptic.syn_fwd.
# --------------------------------------------------------------------------------------
NEURON_ALPHA, NEURON_SYNAPTIC = SecondOrder.ALPHA, SecondOrder.SYNAPTIC

__all__ += ["synaptic", "rsynaptic", "alpha"]


def _syn_call(x, neuron, alpha_v, beta_v, tau_v, thr_v, v_v, states, mode, delay, surrogate, store_cur,
              need_mem, backend, refr_steps=0):
    """Run ``ops.synaptic.syn_fwd`` on ``x [T, B, *features]``; returns the raw outputs as ``[T, B, N]``.
    ``states`` is ``(cur0, aux0, mem0, spk0, count0)``, each ``[B, N]`` or None."""
    T, B = x.shape[:2]
    use_triton = _backend.resolve(backend, x.device) == "triton"
    opts = SynOptions(neuron=neuron, reset=mode, delay=delay, store_cur=store_cur, need_mem=need_mem,
                      refractory=refr_steps, **surrogate_fields(surrogate), use_triton=use_triton)
    return ops.synaptic.syn_fwd(x.reshape(T, B, math.prod(x.shape[2:])), SynState(*states),
                                SynParams(alpha_v, beta_v, tau_v, thr_v, v_v), opts)


def _syn_setup(x, alpha, beta, threshold, reset_mechanism, surrogate):
    _check_input(x)
    features = tuple(x.shape[2:])
    mode = _reset_mode(reset_mechanism)
    alpha_v = _param(alpha, "alpha", features, x).clamp(0.0, 1.0)
    beta_v = _param(beta, "beta", features, x).clamp(0.0, 1.0)
    thr_v = _param(threshold, "threshold", features, x, positive=True)
    return features, mode, alpha_v, beta_v, thr_v, sg.from_any(surrogate)


_SECOND_ORDER_ARGS = """
        reset_delay: True (snnTorch default) applies a spike's reset at the next step.
        surrogate: a ``tsnn.surrogate`` choice; atan(alpha=2) by default.
        return_mem: also return the membrane ``[T, B, *features]`` (fp32).
        return_state: return ``(spikes, state)`` instead, ``state`` a dict of the state
            sequences (fp32 ``[T, B, *features]``): ``"syn"`` and ``"mem"``, and with a
            refractory period ``"count"``, the final refractory counter ``[B, *features]`` (int32).
        refractory: refractory period in ms (0 = off); a neuron that spikes at step t is
            refractory for steps t+1 .. t+ceil(refractory/dt): its membrane neither leaks nor
            integrates and it cannot fire, a pending reset still applies, and the synaptic
            current evolves as usual (so the input keeps the gradient that reaches it through
            the current).
        dt: ms per step.
        count0: initial refractory counter ``[B, *features]`` (steps left), zeros when None.
        backend: ``"auto"`` (Triton on CUDA, PyTorch elsewhere), ``"triton"`` or ``"torch"``.
"""


@shared_args(_SECOND_ORDER_ARGS)
def synaptic(x, alpha, beta, threshold=1.0, *, syn0=None, v0=None, reset_mechanism="subtract",
             reset_delay=True, surrogate=None, return_mem=False, return_state=False, backend="auto",
             refractory=0.0, dt=1.0, count0=None):
    """Second-order LIF with a synaptic current (snnTorch ``Synaptic`` semantics) over a sequence.

    ``syn[t] = alpha * syn[t-1] + x[t]``, ``mem[t] = beta * mem[t-1] + syn[t] - reset``;
    the exact order of operations and reset variants are in ``tritonsnn/kernels/synaptic.py``.

    Args:
        x: input current ``[T, B, *features]`` (fp32, fp16 or bf16; any strides).
        alpha: synaptic current decay, clamped to [0, 1]; number or tensor broadcastable to ``features``.
        beta: membrane decay, clamped to [0, 1]; number or tensor broadcastable to ``features``.
        threshold: firing threshold (> 0); number or tensor broadcastable to ``features``.
        syn0, v0: initial synaptic current / membrane ``[B, *features]``; zeros when None.
            Both receive gradients.
        reset_mechanism: ``"subtract"`` (default), ``"zero"`` or ``"none"``. As in snnTorch,
            ``"zero"`` zeroes the *new* membrane (input included) and leaves ``syn`` alone.
    Returns:
        spikes in x's dtype; ``(spikes, mem)`` when ``return_mem``; ``(spikes, state)`` when
        ``return_state``. The state for a following chunk is ``state["syn"][-1]``,
        ``state["mem"][-1]`` (and ``state["count"]``).
    """
    features, mode, alpha_v, beta_v, thr_v, surrogate = _syn_setup(x, alpha, beta, threshold, reset_mechanism,
                                                                   surrogate)
    return _synaptic_run(x, features, alpha_v, beta_v, thr_v, None, mode, reset_delay, surrogate,
                         (syn0, v0, None, count0), return_mem, return_state, backend,
                         refractory_steps(refractory, dt))




def _synaptic_run(x, features, alpha_v, beta_v, thr_v, v_v, mode, reset_delay, surrogate, states, return_mem,
                  return_state, backend, refr_steps):
    syn0, v0, s0, count0 = states
    delay = bool(reset_delay) or mode == RESET_NONE
    need_mem = bool(return_mem or return_state)
    store_cur = bool(return_state) or alpha_v.requires_grad
    s0_2 = _state(s0, "s0", x, features) if v_v is not None else None
    c0_2 = _state(count0, "count0", x, features, torch.int32) if refr_steps > 0 else None
    spikes, cur, _, pre, _, post, _, count = _syn_call(
        x, NEURON_SYNAPTIC, alpha_v, beta_v, None, thr_v, v_v,
        (_state(syn0, "syn0", x, features), None, _state(v0, "v0", x, features), s0_2, c0_2),
        mode, delay, surrogate, store_cur, need_mem, backend, refr_steps)
    spikes = spikes.view(x.shape)
    if not need_mem:
        return spikes
    mem = (pre if delay else post).view(x.shape)
    if not return_state:
        return spikes, mem
    state = {"syn": cur.view(x.shape), "mem": mem}
    if refr_steps > 0:
        state["count"] = count.view(x.shape[1:])
    return spikes, state


def rsynaptic(x, alpha, beta, V=1.0, threshold=1.0, *, recurrent=None, syn0=None, v0=None, s0=None,
              reset_mechanism="subtract", reset_delay=True, surrogate=None, return_mem=False, return_state=False,
              backend="auto", refractory=0.0, dt=1.0, count0=None):
    """Recurrent Synaptic neuron (snnTorch ``RSynaptic``): each step's spikes feed the next step's current.

    ``syn[t] = alpha * syn[t-1] + x[t] + rec(spk[t-1])`` with ``rec(s) = V * s`` (one-to-one,
    fully fused: one kernel for the whole sequence, ``V`` learnable, its gradient reduced in
    the kernel) or ``rec = recurrent`` (all-to-all, applied to the spikes ``[B, *features]``).
    A square ``nn.Linear`` or a same-size ``nn.Conv2d`` (odd kernel, padding ``k//2``, on
    ``x [T, B, C, H, W]``) runs as one op: per step one GEMM or convolution and the fused
    single-step update, with a hand-written backward (``ops.synaptic.rsyn_dense_fwd``). Any
    other callable runs as a Python loop over steps around the fused single-step update,
    under ordinary autograd.

    Args:
        x, alpha, beta, threshold, syn0, v0, reset_mechanism, reset_delay, surrogate, return_mem,
            return_state, backend, refractory, dt, count0: as in :func:`synaptic`.
        V: one-to-one recurrent weight, number or tensor broadcastable to ``features``
            (ignored when ``recurrent`` is given).
        recurrent: callable applied to the previous spikes for all-to-all recurrence, or None.
        s0: spikes before the first step ``[B, *features]``; zeros when None.

    Returns:
        As :func:`synaptic`: spikes, ``(spikes, mem)`` or ``(spikes, state)``.
    """
    features, mode, alpha_v, beta_v, thr_v, surrogate = _syn_setup(x, alpha, beta, threshold, reset_mechanism,
                                                                   surrogate)
    refr_steps = refractory_steps(refractory, dt)
    if recurrent is None:
        v_v = _param(V, "V", features, x)
        return _synaptic_run(x, features, alpha_v, beta_v, thr_v, v_v, mode, reset_delay, surrogate,
                             (syn0, v0, s0, count0), return_mem, return_state, backend, refr_steps)
    if not callable(recurrent):
        raise TypeError(f"recurrent must be a callable such as an nn.Linear, or None; got {type(recurrent).__name__}")
    n = math.prod(features)
    image = _conv_image(recurrent, features)
    if image or _square_linear(recurrent, n):
        return _rsynaptic_dense(x, features, alpha_v, beta_v, thr_v, recurrent, image, mode, reset_delay,
                                surrogate, (syn0, v0, s0, count0), return_mem, return_state, backend, refr_steps)
    # Any other layer: an autograd loop of one fused T=1 update per step.
    spk = torch.zeros(x.shape[1:], dtype=x.dtype, device=x.device) if s0 is None else s0
    syn, mem, count = syn0, v0, count0
    spikes, syns, mems = [], [], []
    for t in range(x.shape[0]):
        spk, state = _synaptic_run(x[t:t + 1] + recurrent(spk)[None], features, alpha_v, beta_v, thr_v, None,
                                   mode, reset_delay, surrogate, (syn, mem, None, count), True, True, backend,
                                   refr_steps)
        spk, syn, mem, count = spk[0], state["syn"][0], state["mem"][0], state.get("count")
        spikes.append(spk)
        syns.append(syn)
        mems.append(mem)
    if spikes:
        spikes, syns, mems = torch.stack(spikes), torch.stack(syns), torch.stack(mems)
    else:  # T == 0
        spikes, syns, mems = x.new_empty(x.shape), x.new_empty(x.shape, dtype=torch.float32), \
            x.new_empty(x.shape, dtype=torch.float32)
    if return_state:
        state = {"syn": syns, "mem": mems}
        if refr_steps > 0:
            state["count"] = count if count is not None else \
                torch.zeros(x.shape[1:], dtype=torch.int32, device=x.device)
        return spikes, state
    return (spikes, mems) if return_mem else spikes


def _rsynaptic_dense(x, features, alpha_v, beta_v, thr_v, layer, image, mode, reset_delay, surrogate, states,
                     return_mem, return_state, backend, refr_steps):
    """All-to-all RSynaptic through one op (``ops.synaptic.rsyn_dense_fwd``): a per-step loop of
    one GEMM or convolution and the fused single-step update, with a hand-written backward."""
    syn0, v0, s0, count0 = states
    T, B = x.shape[:2]
    delay = bool(reset_delay) or mode == RESET_NONE
    use_triton = _backend.resolve(backend, x.device) == "triton"
    c0 = _state(count0, "count0", x, features, torch.int32) if refr_steps > 0 else None
    opts = SynOptions(neuron=NEURON_SYNAPTIC, reset=mode, delay=delay, store_cur=True, need_mem=True,
                      refractory=refr_steps, **surrogate_fields(surrogate), use_triton=use_triton)
    state = SynState(_state(syn0, "syn0", x, features), None, _state(v0, "v0", x, features),
                     _state(s0, "s0", x, features), c0)
    spikes, syn, mem, _, _, _, count = ops.recurrent.rsyn_dense_fwd(
        x.reshape(T, B, math.prod(features)), state, Dense(layer.weight, layer.bias, image),
        SynParams(alpha_v, beta_v, None, thr_v, None), opts)
    spikes, syn, mem = spikes.view(x.shape), syn.view(x.shape), mem.view(x.shape)
    if return_state:
        state = {"syn": syn, "mem": mem}
        if refr_steps > 0:
            state["count"] = count.view(x.shape[1:])
        return spikes, state
    return (spikes, mem) if return_mem else spikes


def alpha(x, alpha, beta, threshold=1.0, *, syn_exc0=None, syn_inh0=None, v0=None, reset_mechanism="zero",
          surrogate=None, return_mem=False, return_state=False, backend="auto", refractory=0.0, dt=1.0,
          count0=None):
    """Alpha neuron (snnTorch ``Alpha``): excitatory and inhibitory currents whose sum,
    scaled by ``tau = log(alpha) / (log(beta) - log(alpha)) + 1``, is the membrane.

    Requires ``alpha > beta`` and ``beta < 1`` (after clamping to [0, 1]), as snnTorch does.
    There is no ``reset_delay`` option: the reset always acts at the next step.

    Args:
        x: input current ``[T, B, *features]``.
        alpha, beta: decays of the excitatory / inhibitory current; numbers or tensors.
        threshold: firing threshold (> 0).
        syn_exc0, syn_inh0, v0: initial state ``[B, *features]``; zeros when None. ``v0``
            sets the first reset flag and, if the first step is refractory, the held membrane.
        reset_mechanism: ``"zero"`` (snnTorch's default here: zeroes both currents and the
            membrane), ``"subtract"`` or ``"none"``.
        surrogate, return_mem, backend: as in :func:`synaptic`.
        return_state: return ``(spikes, state)``, ``state`` the sequences ``"syn_exc"``,
            ``"syn_inh"`` and ``"mem"`` (and, with a refractory period, the final ``"count"``).
        refractory, dt: refractory period in ms and ms per step (``ceil(refractory/dt)`` steps).
            A refractory step holds the membrane at its previous value instead of reading it
            out of the currents, cannot fire, and still applies a pending reset; the currents
            keep filtering the input (as Synaptic's current does).
        count0: initial refractory counter ``[B, *features]`` (steps left), zeros when None.

    Returns:
        spikes, ``(spikes, mem)`` or ``(spikes, state)``.
    """
    features, mode, alpha_v, beta_v, thr_v, surrogate = _syn_setup(x, alpha, beta, threshold, reset_mechanism,
                                                                   surrogate)
    refr_steps = refractory_steps(refractory, dt)
    if not alpha_v.is_cuda and not torch.compiler.is_compiling():  # a host check: would sync on GPU / break graphs
        if bool((beta_v == 1).any()):
            raise ValueError("beta must be < 1 for the Alpha neuron (tau = log(alpha)/(log(beta) - log(alpha)) + 1)")
        if bool((alpha_v <= beta_v).any()):
            raise ValueError(f"alpha must be greater than beta for the Alpha neuron; got alpha={alpha}, beta={beta}")
    tau_v = torch.log(alpha_v) / (torch.log(beta_v) - torch.log(alpha_v)) + 1
    # The current sequences are only read back for the decays' gradients (tau depends on both).
    store_currents = bool(return_state) or tau_v.requires_grad
    c0 = _state(count0, "count0", x, features, torch.int32) if refr_steps > 0 else None
    spikes, exc, inh, mem, _, _, _, count = _syn_call(
        x, NEURON_ALPHA, alpha_v, beta_v, tau_v, thr_v, None,
        tuple(_state(s, n, x, features) for s, n in ((syn_exc0, "syn_exc0"), (syn_inh0, "syn_inh0"),
                                                      (v0, "v0"))) + (None, c0),
        mode, True, surrogate, store_currents, True, backend, refr_steps)
    spikes = spikes.view(x.shape)
    if return_state:
        state = {"syn_exc": exc.view(x.shape), "syn_inh": inh.view(x.shape), "mem": mem.view(x.shape)}
        if refr_steps > 0:
            state["count"] = count.view(x.shape[1:])
        return spikes, state
    return (spikes, mem.view(x.shape)) if return_mem else spikes
