"""Executable specification: plain autograd time loops, slow on purpose.

Written from snnTorch 1.0's order of operations (``Leaky.forward``,
``mem_reset``, ``fire``); the fused kernels and the PyTorch path must match it.
"""

import torch

from tritonsnn.surrogate import atan


def leaky_ref(x, beta, threshold=1.0, v0=None, reset_mechanism="subtract", reset_delay=True, surrogate=None):
    """Returns ``(spikes, mem)`` over ``x [T, B, *features]``, computed step by step in fp32."""
    spike = surrogate or atan()
    beta = torch.as_tensor(beta, dtype=torch.float32).clamp(0, 1)
    thr = torch.as_tensor(threshold, dtype=torch.float32)
    x = x.float()
    mem = torch.zeros_like(x[0]) if v0 is None else v0.float()
    spikes, mems = [], []
    for t in range(x.shape[0]):
        reset = spike(mem - thr).detach() if reset_mechanism != "none" else torch.zeros_like(mem)
        if reset_mechanism == "zero":
            mem = (1 - reset) * mem
        mem = beta * mem + x[t]
        if reset_mechanism == "subtract":
            mem = mem - reset * thr
        s = spike(mem - thr)
        if not reset_delay and reset_mechanism != "none":
            do_reset = s - reset
            mem = mem - do_reset * thr if reset_mechanism == "subtract" else mem - do_reset * mem
        spikes.append(s)
        mems.append(mem)
    return torch.stack(spikes), torch.stack(mems)


def first_order_ref(
    x,
    beta,
    threshold=1.0,
    v0=None,
    reset_mechanism="subtract",
    reset_delay=True,
    surrogate=None,
    *,
    gain=1.0,
    zero_whole=False,
    V=None,
    s0=None,
    refractory_steps=0,
    c0=None,
    clamp_beta=True,
    rho=None,
    b=None,
    a0=None,
    recurrent=None,
    v_rest=0.0,
    v_reset=0.0,
):
    """The first-order family in one loop: Leaky plus the options Lapicque, RLeaky and
    refractory periods add. Returns ``(spikes, mem, final_count)``.

    Per step ``t`` (``th = threshold``):

    * ``reset = H(mem[t-1] - th)``, detached; ``refr = count[t-1] > 0``. Delayed with a refractory
      period, ``reset`` is the previous step's spike (``count[t-1] == refractory_steps``), so a
      membrane held above threshold is reset once, not at every refractory step.
    * normal step: ``drive = beta*mem' + gain*x[t] + V*s[t-1]`` with ``mem' = (1-reset)*mem``
      for Leaky's zero reset (all-to-all RLeaky: ``recurrent(s[t-1])``, a callable such as an
      ``nn.Linear``, instead of ``V*s[t-1]``); ``zero_whole`` (Lapicque, RLeaky) instead multiplies the
      whole drive by ``(1-reset)``; subtract then removes ``reset*th``.
    * refractory step: no input, no leak: ``mem[t-1]`` with the pending reset only.
    * ``s = H(mem - th)``, forced to 0 on refractory steps; same-step reset if not delayed.
    * ``count = refractory_steps`` after a spike, else ``max(count - 1, 0)``.
    * adaptation (ALIF, when ``rho`` is given): first ``a[t] = rho*a[t-1] + s[t-1]`` and
      ``th[t] = threshold + b*a[t]``; the spike compares with ``th[t]``, while the reset
      flag and the subtracted amount use ``th[t-1]``, the threshold the previous spike crossed.
      Gradients flow through ``s[t-1]`` into ``a[t]``.
    * ``v_rest``: the leak goes towards it, ``v_rest + beta*(mem' - v_rest)``, and the membrane
      starts there; ``v_reset``: where the zero reset sets the membrane.
    Returns ``(spikes, mem, final_count)``, plus the adaptation sequence when ``rho`` is given.
    """
    spike = surrogate or atan()
    beta = torch.as_tensor(beta, dtype=torch.float32)
    beta = beta.clamp(0, 1) if clamp_beta else beta
    thr = torch.as_tensor(threshold, dtype=torch.float32)
    x = x.float()
    mem = torch.full_like(x[0], v_rest) if v0 is None else v0.float()
    spk = torch.zeros_like(x[0]) if s0 is None else s0.float()
    count = torch.zeros(x.shape[1:], dtype=torch.int32, device=x.device) if c0 is None else c0.to(torch.int32)
    adapt = (torch.zeros_like(x[0]) if a0 is None else a0.float()) if rho is not None else None
    th_prev = thr if rho is None else thr + b * adapt
    spikes, mems, adapts = [], [], []
    for t in range(x.shape[0]):
        th = thr
        if rho is not None:
            adapt = rho * adapt + spk
            th = thr + b * adapt
            adapts.append(adapt)
        refr = count > 0
        reset = spike(mem - th_prev).detach() if reset_mechanism != "none" else torch.zeros_like(mem)
        if reset_delay and refractory_steps > 0:
            reset = reset * (count == refractory_steps)  # the previous step's spike
        kept = (1 - reset) * mem + reset * v_reset if reset_mechanism == "zero" else mem
        drive = v_rest + beta * ((mem if zero_whole else kept) - v_rest) + gain * x[t]
        if V is not None:
            drive = drive + V * spk
        elif recurrent is not None:
            drive = drive + recurrent(spk)
        if zero_whole and reset_mechanism == "zero":
            drive = (1 - reset) * drive + reset * v_reset
        hold = kept
        if reset_mechanism == "subtract":
            drive = drive - reset * th_prev
            hold = hold - reset * th_prev
        new = torch.where(refr, hold, drive)
        s = spike(new - th) * (~refr)
        if not reset_delay and reset_mechanism != "none":
            do_reset = s - reset
            new = new - do_reset * thr if reset_mechanism == "subtract" else new - do_reset * (new - v_reset)
        count = torch.where(s > 0, torch.full_like(count, refractory_steps), (count - 1).clamp_min(0))
        mem, spk, th_prev = new, s, th
        spikes.append(s)
        mems.append(mem)
    if rho is not None:
        return torch.stack(spikes), torch.stack(mems), count, torch.stack(adapts)
    return torch.stack(spikes), torch.stack(mems), count


def synaptic_ref(
    x,
    alpha,
    beta,
    threshold=1.0,
    syn0=None,
    mem0=None,
    reset_mechanism="subtract",
    reset_delay=True,
    surrogate=None,
    V=None,
    recurrent=None,
    spk0=None,
    refractory_steps=0,
    refr0=None,
    v_rest=0.0,
    v_reset=0.0,
):
    """snnTorch ``Synaptic`` (and ``RSynaptic`` with ``V`` one-to-one or a ``recurrent`` callable)
    step by step. Returns ``(spikes, syn, mem)`` over ``x [T, B, *features]`` in fp32.

    With ``refractory_steps = R > 0`` a neuron that spikes at step t is refractory for steps
    t+1 .. t+R: its membrane is held (no leak, no input), it cannot fire, the pending reset
    still applies and the synaptic current evolves as usual; delayed, the reset is the previous
    step's spike (one threshold per spike). ``refr0`` is the remaining refractory steps before
    the first step. ``v_rest``: the membrane leaks towards it and starts there; ``v_reset``: where
    the zero reset sets it."""
    spike = surrogate or atan()
    alpha = torch.as_tensor(alpha, dtype=torch.float32).clamp(0, 1)
    beta = torch.as_tensor(beta, dtype=torch.float32).clamp(0, 1)
    thr = torch.as_tensor(threshold, dtype=torch.float32)
    x = x.float()
    syn = torch.zeros_like(x[0]) if syn0 is None else syn0.float()
    mem = torch.full_like(x[0], v_rest) if mem0 is None else mem0.float()
    spk = torch.zeros_like(x[0]) if spk0 is None else spk0.float()
    count = torch.zeros(x.shape[1:], dtype=torch.long, device=x.device) if refr0 is None else refr0.long()
    spikes, syns, mems = [], [], []
    for t in range(x.shape[0]):
        reset = spike(mem - thr).detach() if reset_mechanism != "none" else torch.zeros_like(mem)
        if reset_delay and refractory_steps > 0:
            reset = reset * (count == refractory_steps)  # the previous step's spike
        syn = alpha * syn + x[t]
        if V is not None:
            syn = syn + V * spk
        elif recurrent is not None:
            syn = syn + recurrent(spk)
        held = count > 0
        mem = torch.where(held, mem, v_rest + beta * (mem - v_rest) + syn)
        if reset_mechanism == "subtract":
            mem = mem - reset * thr
        elif reset_mechanism == "zero":
            mem = mem - (mem - v_reset) * reset  # the new membrane, input included
        spk = spike(mem - thr) * (~held)
        if refractory_steps > 0:
            count = torch.where(spk.detach() > 0, refractory_steps, (count - 1).clamp(min=0))
        if not reset_delay and reset_mechanism != "none":
            do_reset = spk - reset
            mem = mem - do_reset * thr if reset_mechanism == "subtract" else mem - do_reset * (mem - v_reset)
        spikes.append(spk)
        syns.append(syn)
        mems.append(mem)
    return torch.stack(spikes), torch.stack(syns), torch.stack(mems)


def alpha_ref(
    x,
    alpha,
    beta,
    threshold=1.0,
    syn_exc0=None,
    syn_inh0=None,
    mem0=None,
    reset_mechanism="zero",
    surrogate=None,
    refractory_steps=0,
    refr0=None,
):
    """snnTorch ``Alpha`` step by step. Returns ``(spikes, syn_exc, syn_inh, mem)`` in fp32.

    With ``refractory_steps = R > 0`` a neuron that spikes at step t is refractory for steps
    t+1 .. t+R: its membrane keeps the previous value instead of ``tau * (exc + inh)``, it
    cannot fire, the pending reset (the previous step's spike) still applies and the currents
    evolve as usual."""
    spike = surrogate or atan()
    alpha = torch.as_tensor(alpha, dtype=torch.float32).clamp(0, 1)
    beta = torch.as_tensor(beta, dtype=torch.float32).clamp(0, 1)
    thr = torch.as_tensor(threshold, dtype=torch.float32)
    tau = torch.log(alpha) / (torch.log(beta) - torch.log(alpha)) + 1
    x = x.float()
    exc = torch.zeros_like(x[0]) if syn_exc0 is None else syn_exc0.float()
    inh = torch.zeros_like(x[0]) if syn_inh0 is None else syn_inh0.float()
    mem = torch.zeros_like(x[0]) if mem0 is None else mem0.float()
    count = torch.zeros(x.shape[1:], dtype=torch.long, device=x.device) if refr0 is None else refr0.long()
    out = [], [], [], []
    for t in range(x.shape[0]):
        reset = spike(mem - thr).detach() if reset_mechanism != "none" else torch.zeros_like(mem)
        if refractory_steps > 0:
            reset = reset * (count == refractory_steps)  # the previous step's spike
        exc_new = alpha * exc + x[t]
        inh_new = beta * inh - x[t]
        held = count > 0
        mem = torch.where(held, mem, tau * (exc_new + inh_new))
        if reset_mechanism == "subtract":
            mem = mem + reset * inh  # snnTorch: mem -= (-syn_inh_old) * reset
            exc_new = exc_new - reset * thr
            inh_new = inh_new - inh_new * reset
        elif reset_mechanism == "zero":
            exc_new, inh_new, mem = (v - v * reset for v in (exc_new, inh_new, mem))
        exc, inh = exc_new, inh_new
        spk = spike(mem - thr) * (~held)
        count = torch.where(spk.detach() > 0, refractory_steps, (count - 1).clamp(min=0))
        for seq, val in zip(out, (spk, exc, inh, mem)):
            seq.append(val)
    return tuple(torch.stack(seq) for seq in out)


class _SpikeAtOrAbove(torch.autograd.Function):
    """SpikingJelly's Heaviside ``x >= 0`` with the surrogate's gradient."""

    @staticmethod
    def forward(ctx, x, surrogate):
        ctx.save_for_backward(x)
        ctx.surrogate = surrogate
        return (x >= 0).float()

    @staticmethod
    def backward(ctx, g):
        (x,) = ctx.saved_tensors
        return g * sigmoid_grad(x, ctx.surrogate.param), None


def sigmoid_grad(x, alpha):
    """SpikingJelly's ``Sigmoid`` surrogate gradient, ``alpha * sig(alpha x) * (1 - sig(alpha x))``."""
    sig = torch.sigmoid(alpha * x)
    return alpha * sig * (1 - sig)


def nonlinear_ref(
    x, threshold, consts, *, kind, adapt, v0=None, w0=None, detach_reset=False, refractory_steps=0, count0=None
):
    """QIF / EIF / Izhikevich / AdEx as SpikingJelly's reference writes them
    (``spikingjelly/_ops/{qif,eif,izhikevich}/reference.py``): returns ``(spikes, mem, w)`` over
    ``x [T, B, *features]`` for ``kind`` "linear" (``lif/reference.py``: LIFNode), "quadratic" or
    "exponential"; ``mem`` after each reset, ``w`` None without adaptation. With
    ``refractory_steps`` R, a spike starts R steps that hold the membrane and ``w`` and cannot
    fire (Inferno's refractory lock); ``count0`` the steps left before the first."""
    from tritonsnn.surrogate import sigmoid

    c = consts
    thr = torch.as_tensor(threshold, dtype=torch.float32)
    x = x.float()
    hard = c.get("v_reset", -0.1) is not None
    v_reset = c.get("v_reset", -0.1) if hard else 0.0
    linear_reset = "reset_mul" in c  # GLIF2 (Inferno's voltage_thresholding_linear): starts at v_rest
    start = c["v_rest"] if linear_reset else v_reset
    v = torch.full_like(x[0], start) if v0 is None else v0.float()
    w = (torch.zeros_like(x[0]) if w0 is None else w0.float()) if adapt else None
    count = torch.zeros(x.shape[1:], dtype=torch.int32) if count0 is None else count0.clone()
    spikes, mems, ws = [], [], []
    for t in range(x.shape[0]):
        held = count > 0
        v_held = v
        if kind == "linear":
            rest = c.get("v_rest", v_reset)
            if c.get("decay_input", True):
                charged = v + (x[t] - (v - rest)) / c["tau"]
            else:
                charged = v - (v - rest) / c["tau"] + x[t]
        else:
            if kind == "exponential":
                inner = x[t] + c["v_rest"] - v + c["delta_t"] * torch.exp((v - c["theta_rh"]) / c["delta_t"])
            else:
                inner = x[t] + c["a0"] * (v - c["v_rest"]) * (v - c["v_c"])
            if adapt:
                inner = inner - w
            charged = v + inner / c["tau"]
        h = torch.where(held, v_held, charged)
        s = torch.where(held, 0.0, _SpikeAtOrAbove.apply(h - thr, sigmoid(4.0)))
        s_reset = s.detach() if detach_reset else s
        target = (c["v_rest"] + c["reset_mul"] * (h - c["v_rest"])) - c["reset_add"] if linear_reset else v_reset
        v = s_reset * target + (1.0 - s_reset) * h if hard else h - s_reset * thr
        if adapt:
            w = torch.where(held, w, w + (c["a"] * (h - c["v_rest"]) - w) / c["tau_w"] + c["b"] * s)
            ws.append(w)
        count = torch.where(s.detach() > 0, refractory_steps, (count - 1).clamp_min(0)).to(torch.int32)
        spikes.append(s)
        mems.append(v)
    return torch.stack(spikes), torch.stack(mems), (torch.stack(ws) if adapt else None)
