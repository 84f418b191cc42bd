"""Functional neuron dynamics over whole sequences ``[T, B, *features]``.

Each function validates its input, shapes parameters, picks the backend and
calls one custom op; no dynamics are computed here.
"""
from __future__ import annotations

import math

import torch

from . import _backend, ops
from . import surrogate as sg
from .ops_common import RESET_MODES, RESET_NONE

__all__ = ["leaky", "if_"]


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


def _state(v, name, x, features):
    """Initial state ``[B, *features]`` (broadcastable) as fp32 ``[B, N]``, or None."""
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
    return v.to(torch.float32).reshape(x.shape[1], math.prod(features))


def _reset_mode(reset_mechanism):
    try:
        return RESET_MODES[reset_mechanism]
    except (KeyError, TypeError):
        raise ValueError(f"reset_mechanism must be one of {sorted(RESET_MODES)}; got {reset_mechanism!r}") from None


def leaky(x, beta, threshold=1.0, *, v0=None, reset_mechanism="subtract", reset_delay=True,
          surrogate=None, return_mem=False, backend="auto"):
    """Leaky integrate-and-fire over a whole sequence (snnTorch ``Leaky`` semantics).

    Args:
        x: input current ``[T, B, *features]`` (fp32, fp16 or bf16; any strides).
        beta: membrane decay, clamped to [0, 1]; number or tensor broadcastable to ``features``.
        threshold: firing threshold (> 0); number or tensor broadcastable to ``features``.
        v0: initial membrane ``[B, *features]``; zeros when None. Receives gradients.
        reset_mechanism: ``"subtract"`` (default), ``"zero"`` or ``"none"``.
        reset_delay: True (snnTorch default) applies the reset of a spike at the next step;
            False applies it in the same step, so the returned membrane is post-reset.
        surrogate: a ``tsnn.surrogate`` choice; atan(alpha=2) by default.
        return_mem: also return the membrane ``[T, B, *features]`` (fp32).
        backend: ``"auto"`` (Triton on CUDA, PyTorch elsewhere), ``"triton"`` or ``"torch"``.

    Returns:
        spikes in x's dtype, or ``(spikes, mem)`` when ``return_mem``. The final state
        for a following chunk is ``mem[-1]``.
    """
    _check_input(x)
    features = tuple(x.shape[2:])
    mode = _reset_mode(reset_mechanism)
    surrogate = sg.from_any(surrogate)
    beta_v = _param(beta, "beta", features, x).clamp(0.0, 1.0)
    thr_v = _param(threshold, "threshold", features, x, positive=True)
    v0_2 = _state(v0, "v0", x, features)
    use_triton = _backend.resolve(backend, x.device) == "triton"
    delay = bool(reset_delay) or mode == RESET_NONE
    T, B = x.shape[:2]
    spikes, pre, _, post = ops.lif.lif_fwd(
        x.reshape(T, B, math.prod(features)), v0_2, beta_v, thr_v, mode, delay, bool(return_mem),
        surrogate.kind, surrogate.param, use_triton)
    spikes = spikes.view(x.shape)
    if return_mem:
        return spikes, (pre if delay else post).view(x.shape)
    return spikes


def if_(x, threshold=1.0, **kwargs):
    """Integrate-and-fire (no leak): :func:`leaky` with ``beta = 1``. Same keyword options."""
    return leaky(x, 1.0, threshold, **kwargs)


# --------------------------------------------------------------------------------------
# Second-order neurons (Synaptic, RSynaptic, Alpha): one custom op, ops.synaptic.syn_fwd.
# --------------------------------------------------------------------------------------
from .ops_common import NEURON_ALPHA, NEURON_SYNAPTIC  # noqa: E402

__all__ += ["synaptic", "rsynaptic", "alpha", "refractory_steps"]


def _syn_call(x, neuron, alpha_v, beta_v, tau_v, thr_v, v_v, states, mode, delay, surrogate, store_cur,
              need_mem, backend, refr_steps=0):
    """Run ``ops.synaptic.syn_fwd`` on ``x [T, B, *features]``; returns the raw outputs as ``[T, B, N]``.
    ``states`` is ``(cur0, aux0, mem0, spk0, cnt0)``, each ``[B, N]`` or None."""
    T, B = x.shape[:2]
    use_triton = _backend.resolve(backend, x.device) == "triton"
    return ops.synaptic.syn_fwd(
        x.reshape(T, B, math.prod(x.shape[2:])), *states,
        alpha_v, beta_v, tau_v, thr_v, v_v, neuron, mode, delay, store_cur, need_mem, refr_steps,
        surrogate.kind, surrogate.param, use_triton)


def refractory_steps(refractory, dt=1.0) -> int:
    """Steps a neuron stays refractory after a spike: ``ceil(refractory / dt)`` (0 = off).

    Both in milliseconds; a value within 1e-9 of a whole number of steps counts as that
    number, so that ``refractory=1.1, dt=0.1`` gives 11 steps despite float rounding.
    """
    if not isinstance(refractory, (int, float)) or not isinstance(dt, (int, float)):
        raise TypeError(f"refractory and dt must be numbers (milliseconds); got {refractory!r}, {dt!r}")
    if refractory < 0:
        raise ValueError(f"refractory must be >= 0 ms (0 turns it off); got {refractory}")
    if not dt > 0:
        raise ValueError(f"dt must be > 0 ms; got {dt}")
    return max(0, math.ceil(refractory / dt - 1e-9))


def _counter(cnt, x, features):
    """Initial refractory counter ``[B, *features]`` (remaining refractory steps) as int32 ``[B, N]``."""
    if cnt is None:
        return None
    if not isinstance(cnt, torch.Tensor) or cnt.is_floating_point() or cnt.is_complex():
        raise TypeError("refr0 must be an integer tensor of remaining refractory steps [B, *features]")
    c = _state(cnt, "refr0", x, features)
    return c.to(torch.int32)


def _syn_setup(x, alpha, beta, threshold, reset_mechanism, surrogate):
    _check_input(x)
    features = tuple(x.shape[2:])
    mode = _reset_mode(reset_mechanism)
    alpha_v = _param(alpha, "alpha", features, x).clamp(0.0, 1.0)
    beta_v = _param(beta, "beta", features, x).clamp(0.0, 1.0)
    thr_v = _param(threshold, "threshold", features, x, positive=True)
    return features, mode, alpha_v, beta_v, thr_v, sg.from_any(surrogate)


def synaptic(x, alpha, beta, threshold=1.0, *, syn0=None, mem0=None, reset_mechanism="subtract",
             reset_delay=True, surrogate=None, return_mem=False, return_state=False, refractory=0.0, dt=1.0,
             refr0=None, backend="auto"):
    """Second-order LIF with a synaptic current (snnTorch ``Synaptic`` semantics) over a sequence.

    ``syn[t] = alpha * syn[t-1] + x[t]``, ``mem[t] = beta * mem[t-1] + syn[t] - reset``;
    the exact order of operations and reset variants are in ``tritonsnn/kernels/synaptic.py``.

    Args:
        x: input current ``[T, B, *features]`` (fp32, fp16 or bf16; any strides).
        alpha: synaptic current decay, clamped to [0, 1]; number or tensor broadcastable to ``features``.
        beta: membrane decay, clamped to [0, 1]; number or tensor broadcastable to ``features``.
        threshold: firing threshold (> 0); number or tensor broadcastable to ``features``.
        syn0, mem0: initial synaptic current / membrane ``[B, *features]``; zeros when None.
            Both receive gradients.
        reset_mechanism: ``"subtract"`` (default), ``"zero"`` or ``"none"``. As in snnTorch,
            ``"zero"`` zeroes the *new* membrane (input included) and leaves ``syn`` alone.
        reset_delay: True (snnTorch default) applies a spike's reset at the next step.
        surrogate: a ``tsnn.surrogate`` choice; atan(alpha=2) by default.
        return_mem: also return the membrane ``[T, B, *features]`` (fp32).
        return_state: return ``(spikes, syn, mem)`` sequences (fp32), snnTorch's output order.
        refractory: refractory period in ms (0 = off); a neuron that spikes at step t is refractory
            for steps t+1 .. t+ceil(refractory/dt): its membrane neither leaks nor integrates and it
            cannot fire, a pending reset still applies, the synaptic current evolves as usual.
        dt: simulation step in ms.
        refr0: remaining refractory steps per element before the first step (int tensor
            ``[B, *features]``), e.g. the counter a previous chunk returned; zeros when None.
        backend: ``"auto"`` (Triton on CUDA, PyTorch elsewhere), ``"triton"`` or ``"torch"``.

    Returns:
        spikes in x's dtype; ``(spikes, mem)`` when ``return_mem``; ``(spikes, syn, mem)`` when
        ``return_state`` (plus, with ``refractory > 0``, the final refractory counter
        ``[B, *features]`` int32 as a fourth element). The final state for a following chunk
        is ``syn[-1], mem[-1]`` (and the counter).
    """
    features, mode, alpha_v, beta_v, thr_v, surrogate = _syn_setup(x, alpha, beta, threshold, reset_mechanism,
                                                                   surrogate)
    return _synaptic_run(x, features, alpha_v, beta_v, thr_v, None, mode, reset_delay, surrogate,
                         (syn0, mem0, None, refr0), return_mem, return_state, backend, refractory_steps(refractory, dt))


def _synaptic_run(x, features, alpha_v, beta_v, thr_v, v_v, mode, reset_delay, surrogate, states, return_mem,
                  return_state, backend, refr_steps):
    syn0, mem0, spk0, refr0 = states
    delay = bool(reset_delay) or mode == RESET_NONE
    need_mem = bool(return_mem or return_state)
    store_cur = bool(return_state) or alpha_v.requires_grad
    spk0_2 = _state(spk0, "spk0", x, features) if v_v is not None else None
    cnt0 = _counter(refr0, x, features) if refr_steps > 0 else None
    spikes, cur, _, pre, _, post, _, cnt = _syn_call(
        x, NEURON_SYNAPTIC, alpha_v, beta_v, None, thr_v, v_v,
        (_state(syn0, "syn0", x, features), None, _state(mem0, "mem0", x, features), spk0_2, cnt0),
        mode, delay, surrogate, store_cur, need_mem, backend, refr_steps)
    spikes = spikes.view(x.shape)
    if not need_mem:
        return spikes
    mem = (pre if delay else post).view(x.shape)
    if not return_state:
        return spikes, mem
    out = (spikes, cur.view(x.shape), mem)
    return out + (cnt.view(x.shape[1:]),) if refr_steps > 0 else out


def rsynaptic(x, alpha, beta, V=1.0, threshold=1.0, *, recurrent=None, spk0=None, syn0=None, mem0=None,
              reset_mechanism="subtract", reset_delay=True, surrogate=None, return_mem=False, return_state=False,
              refractory=0.0, dt=1.0, refr0=None, backend="auto"):
    """Recurrent Synaptic neuron (snnTorch ``RSynaptic``): each step's spikes feed the next step's current.

    ``syn[t] = alpha * syn[t-1] + x[t] + rec(spk[t-1])`` with ``rec(s) = V * s`` (one-to-one,
    fully fused: one kernel for the whole sequence, ``V`` learnable) or ``rec = recurrent``
    (all-to-all, e.g. an ``nn.Linear``/``nn.Conv2d`` applied to the spikes ``[B, *features]``:
    a Python loop over steps around the fused single-step update, so ``recurrent`` runs
    under ordinary autograd).

    Args:
        x, alpha, beta, threshold, syn0, mem0, reset_mechanism, reset_delay, surrogate,
            return_mem, return_state, refractory, dt, refr0, backend: as in :func:`synaptic`.
        V: one-to-one recurrent weight, number or tensor broadcastable to ``features``
            (ignored when ``recurrent`` is given).
        recurrent: callable applied to the previous spikes for all-to-all recurrence, or None.
        spk0: spikes before the first step ``[B, *features]``; zeros when None.

    Returns:
        As :func:`synaptic`: spikes, ``(spikes, mem)`` or ``(spikes, syn, mem)`` (+ the counter).
    """
    features, mode, alpha_v, beta_v, thr_v, surrogate = _syn_setup(x, alpha, beta, threshold, reset_mechanism,
                                                                   surrogate)
    refr_steps = refractory_steps(refractory, dt)
    if recurrent is None:
        v_v = _param(V, "V", features, x)
        return _synaptic_run(x, features, alpha_v, beta_v, thr_v, v_v, mode, reset_delay, surrogate,
                             (syn0, mem0, spk0, refr0), return_mem, return_state, backend, refr_steps)
    if not callable(recurrent):
        raise TypeError(f"recurrent must be a callable such as an nn.Linear, or None; got {type(recurrent).__name__}")
    # All-to-all: the recurrent layer sits between steps, so each step is one fused T=1 update.
    spk = torch.zeros(x.shape[1:], dtype=x.dtype, device=x.device) if spk0 is None else spk0
    syn, mem, cnt = syn0, mem0, refr0
    spikes, syns, mems = [], [], []
    for t in range(x.shape[0]):
        out = _synaptic_run(x[t:t + 1] + recurrent(spk)[None], features, alpha_v, beta_v, thr_v, None,
                            mode, reset_delay, surrogate, (syn, mem, None, cnt), True, True, backend, refr_steps)
        spk, syn, mem = out[0][0], out[1][0], out[2][0]
        cnt = out[3] if refr_steps > 0 else None
        spikes.append(spk)
        syns.append(syn)
        mems.append(mem)
    if spikes:
        spikes, syns, mems = torch.stack(spikes), torch.stack(syns), torch.stack(mems)
    else:  # T == 0
        spikes, syns, mems = x.new_empty(x.shape), x.new_empty(x.shape, dtype=torch.float32), \
            x.new_empty(x.shape, dtype=torch.float32)
    if return_state:
        if refr_steps > 0:
            final = cnt if cnt is not None else torch.zeros(x.shape[1:], dtype=torch.int32, device=x.device)
            return spikes, syns, mems, final
        return spikes, syns, mems
    return (spikes, mems) if return_mem else spikes


def alpha(x, alpha, beta, threshold=1.0, *, syn_exc0=None, syn_inh0=None, mem0=None, reset_mechanism="zero",
          surrogate=None, return_mem=False, return_state=False, refractory=0.0, dt=1.0, backend="auto"):
    """Alpha neuron (snnTorch ``Alpha``): excitatory and inhibitory currents whose difference,
    scaled by ``tau = log(alpha) / (log(beta) - log(alpha)) + 1``, is the membrane.

    Requires ``alpha > beta`` and ``beta < 1`` (after clamping to [0, 1]), as snnTorch does.
    There is no ``reset_delay`` option: the reset always acts at the next step.

    Args:
        x: input current ``[T, B, *features]``.
        alpha, beta: decays of the excitatory / inhibitory current; numbers or tensors.
        threshold: firing threshold (> 0).
        syn_exc0, syn_inh0, mem0: initial state ``[B, *features]``; zeros when None. ``mem0``
            only sets the first reset flag, so it receives no gradient.
        reset_mechanism: ``"zero"`` (snnTorch's default here: zeroes both currents and the
            membrane), ``"subtract"`` or ``"none"``.
        surrogate, return_mem, backend: as in :func:`synaptic`.
        return_state: return ``(spikes, syn_exc, syn_inh, mem)`` sequences, snnTorch's order.
        refractory, dt: accepted for a uniform API; only ``refractory=0`` is supported for Alpha
            (its membrane is a readout of the currents, so "holding" it has no natural meaning).

    Returns:
        spikes, ``(spikes, mem)`` or ``(spikes, syn_exc, syn_inh, mem)``.
    """
    features, mode, alpha_v, beta_v, thr_v, surrogate = _syn_setup(x, alpha, beta, threshold, reset_mechanism,
                                                                   surrogate)
    if refractory_steps(refractory, dt) > 0:
        raise ValueError("refractory periods are not implemented for Alpha; use refractory=0 "
                         "(Synaptic and RSynaptic support them)")
    if not alpha_v.is_cuda and not torch.compiler.is_compiling():  # a host check: would sync on GPU / break graphs
        if bool((beta_v == 1).any()):
            raise ValueError("beta must be < 1 for the Alpha neuron (tau = log(alpha)/(log(beta) - log(alpha)) + 1)")
        if bool((alpha_v <= beta_v).any()):
            raise ValueError(f"alpha must be greater than beta for the Alpha neuron; got alpha={alpha}, beta={beta}")
    tau_v = torch.log(alpha_v) / (torch.log(beta_v) - torch.log(alpha_v)) + 1
    spikes, exc, inh, mem, *_ = _syn_call(
        x, NEURON_ALPHA, alpha_v, beta_v, tau_v, thr_v, None,
        tuple(_state(s, n, x, features) for s, n in ((syn_exc0, "syn_exc0"), (syn_inh0, "syn_inh0"),
                                                      (mem0, "mem0"))) + (None, None),
        mode, True, surrogate, True, True, backend)
    spikes = spikes.view(x.shape)
    if return_state:
        return spikes, exc.view(x.shape), inh.view(x.shape), mem.view(x.shape)
    return (spikes, mem.view(x.shape)) if return_mem else spikes
