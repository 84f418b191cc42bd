"""The batch-shared threshold adaptation of the nonlinear neurons (Inferno's ALIF) against a
step-by-step loop written from Inferno's equations, on both backends; against Inferno itself in
tests/test_inferno_parity.py."""

import math

import pytest
import torch

import tritonsnn as tsnn
import tritonsnn.functional as F
from tritonsnn import surrogate as sg
from tritonsnn.torchimpl import _common as torch_common

from .checks import assert_close
from .reference import _SpikeAtOrAbove

SPEC = F.SharedThreshold(tau=(5.0, 30.0), increment=(0.3, 0.1))


def shared_ref(x, threshold, spec, *, tau, v_reset, v_rest, v0, refractory_steps=0, dt=1.0, theta0=None):
    """LIF (SpikingJelly's form, firing on >=, hard reset) whose threshold is ``threshold + sum_k
    theta_k``; after each step every sample's theta decays (held where it is refractory or fired
    with a refractory period), grows by the increment where it fired, and the batch reduces it."""
    taus = spec.tau if isinstance(spec.tau, tuple) else (spec.tau,)
    incs = spec.increment if isinstance(spec.increment, tuple) else (spec.increment,) * len(taus)
    decay = torch.tensor([math.exp(-dt / t) for t in taus])
    inc = torch.tensor(incs)
    N = x.shape[2]
    theta = torch.zeros(N, len(taus)) if theta0 is None else theta0.clone()
    v, count = v0, torch.zeros(x.shape[1:], dtype=torch.int32)
    spikes, mems = [], []
    for t in range(x.shape[0]):
        th = threshold + theta.sum(-1)
        held = count > 0
        h = torch.where(held, v, v + (x[t] - (v - v_rest)) / tau)
        s = torch.where(held, 0.0, _SpikeAtOrAbove.apply(h - th, sg.sigmoid(4.0)))
        v = s * v_reset + (1.0 - s) * h
        fired = s.detach() > 0
        count = torch.where(fired, refractory_steps, (count - 1).clamp_min(0)).to(torch.int32)
        keep = (held | fired) if refractory_steps else torch.zeros_like(fired)
        per_sample = torch.where(keep[..., None], theta, theta * decay) + inc * fired[..., None]
        theta = {"mean": per_sample.mean(0), "sum": per_sample.sum(0)}.get(spec.reduction)
        if theta is None:
            theta = per_sample.amax(0) if spec.reduction == "max" else per_sample.amin(0)
        spikes.append(s)
        mems.append(v)
    return torch.stack(spikes), torch.stack(mems), theta


@pytest.mark.parametrize("backend", ["torch", "triton", "torch-chunked"])
@pytest.mark.parametrize("refractory", [0.0, 2.0])
@pytest.mark.parametrize("reduction", ["mean", "sum", "max", "min"])
def test_shared_threshold_matches_the_step_by_step_rule(backend, refractory, reduction, monkeypatch):
    if backend == "torch-chunked":  # the reverse loop in chunks of a step or two: per-step thresholds per chunk
        monkeypatch.setattr(torch_common, "CHUNK_ELEMS", 20)
        backend = "torch"
    gen = torch.Generator().manual_seed(7)
    T, B, N = 17, 3, 5
    spec = SPEC._replace(reduction=reduction)
    x = (torch.rand(T, B, N, generator=gen) * 1.6).requires_grad_()
    thr = (0.8 + 0.4 * torch.rand(N, generator=gen)).requires_grad_()
    v0 = (0.3 * torch.rand(B, N, generator=gen)).requires_grad_()
    # a sum over the batch multiplies theta by about B each step (as Inferno's with torch.sum): start it at 0
    theta0 = 0.1 * torch.rand(N, 2, generator=gen) * (reduction != "sum")
    kw = dict(tau=2.0, v_reset=-0.1, v_rest=0.05)
    spikes, state = F.lif(
        x, **kw, threshold=thr, v0=v0, threshold_adaptation=spec, theta0=theta0, refractory=refractory,
        return_state=True, backend=backend,
    )  # fmt: skip
    want_s, want_m, want_theta = shared_ref(x, thr, spec, **kw, v0=v0, refractory_steps=int(refractory), theta0=theta0)
    assert 0 < spikes.sum() < spikes.numel()
    assert torch.equal(spikes, want_s)
    assert_close(state["mem"], want_m, 1e-6, 1e-6, "mem")
    assert_close(state["theta"], want_theta, 1e-6, 1e-6, "theta")
    g = torch.randn(T, B, N, generator=gen)
    got = torch.autograd.grad((spikes * g).sum() + state["mem"].square().sum(), (x, thr, v0))
    want = torch.autograd.grad((want_s * g).sum() + want_m.square().sum(), (x, thr, v0))
    for name, a, b in zip(("x", "threshold", "v0"), got, want):
        assert_close(a, b, 1e-5, 1e-5, f"d{name}")


@pytest.mark.parametrize("v_reset", [-0.1, None])
def test_nonlinear_drive_under_the_adaptation_agrees_across_backends_and_chunks(v_reset, device, monkeypatch):
    """QIF (its slope reads the previous membrane, rebuilt with the previous step's threshold) and
    the subtracting reset (its gradient reads each step's threshold): the Triton kernels (on the
    test device) and the PyTorch reverse loop in chunks of one step give the same gradients."""
    gen = torch.Generator().manual_seed(12)
    x = torch.rand(15, 3, 4, generator=gen) * 1.5
    g = torch.randn(15, 3, 4, generator=gen)
    results = {}
    for name, backend, dev, chunk in (
        ("triton", "triton", device, None),
        ("chunked", "torch", "cpu", 12),
        ("whole", "torch", "cpu", None),
    ):
        if chunk:
            monkeypatch.setattr(torch_common, "CHUNK_ELEMS", chunk)
        xd = x.to(dev).requires_grad_()
        thr = torch.full((4,), 0.9, device=dev, requires_grad=True)
        spikes, state = F.qif(xd, threshold=thr, v_reset=v_reset, threshold_adaptation=SPEC, return_state=True,
                              backend=backend)  # fmt: skip
        loss = (spikes * g.to(dev)).sum() + state["mem"].square().sum()
        results[name] = [t.cpu() for t in (spikes, state["theta"], *torch.autograd.grad(loss, (xd, thr)))]
        monkeypatch.undo()
    assert 0 < results["whole"][0].sum() < results["whole"][0].numel()
    for name in ("triton", "chunked"):
        assert torch.equal(results[name][0], results["whole"][0])
        assert_close(results[name][1], results["whole"][1], 1e-6, 1e-6, f"{name} theta")
        assert_close(results[name][2], results["whole"][2], 1e-5, 1e-5, f"{name} dx")
        assert_close(results[name][3], results["whole"][3], 1e-5, 1e-5, f"{name} dthreshold")


def test_frozen_adaptation_keeps_theta_and_adds_it_to_the_threshold():
    gen = torch.Generator().manual_seed(8)
    x = torch.rand(9, 2, 4, generator=gen) * 2
    theta0 = 0.2 * torch.rand(4, 2, generator=gen)
    spikes, state = F.lif(x, threshold_adaptation=SPEC, theta0=theta0, update_adaptation=False, return_state=True)
    assert torch.equal(state["theta"], theta0)
    assert torch.equal(spikes, F.lif(x, threshold=1.0 + theta0.sum(-1)))


def test_module_adapts_in_training_and_freezes_in_eval():
    gen = torch.Generator().manual_seed(9)
    x = torch.rand(20, 4, 6, generator=gen) * 1.5
    neuron = tsnn.LIF(threshold=0.8, threshold_adaptation=SPEC)
    neuron(x)
    theta = neuron.theta.clone()
    assert theta.shape == (6, 2) and (theta > 0).any()
    neuron.eval()
    frozen = neuron(x)
    assert torch.equal(neuron.theta, theta)
    assert torch.equal(frozen, F.lif(x, threshold=0.8 + theta.sum(-1)))
    fresh = tsnn.LIF(threshold=0.8, threshold_adaptation=SPEC)
    fresh.load_state_dict(neuron.state_dict())
    assert torch.equal(fresh.theta, theta)
    neuron.reset_adaptation()
    assert neuron.theta is None


def test_single_steps_and_chunks_equal_one_call():
    gen = torch.Generator().manual_seed(10)
    x = torch.rand(24, 3, 5, generator=gen) * 1.5
    kw = dict(threshold=0.8, threshold_adaptation=SPEC, refractory=2.0)
    whole = tsnn.LIF(**kw)
    want = whole(x)
    single = tsnn.LIF(**kw, step_mode="single")
    assert torch.equal(torch.stack([single(xt) for xt in x]), want)
    assert torch.equal(single.theta, whole.theta)
    chunked = tsnn.LIF(**kw, stateful=True)
    assert torch.equal(torch.cat([chunked(x[a : a + 7]) for a in range(0, 24, 7)]), want)
    assert torch.equal(chunked.theta, whole.theta)


@pytest.mark.parametrize("neuron", ["qif", "izhikevich"])
def test_every_nonlinear_neuron_takes_the_adaptation(neuron):
    gen = torch.Generator().manual_seed(11)
    x = torch.rand(12, 2, 3, generator=gen) * 2
    fn = getattr(F, neuron)
    _, adapted = fn(x, threshold_adaptation=SPEC, return_state=True)
    frozen = fn(x, threshold_adaptation=SPEC, update_adaptation=False)
    assert (adapted["theta"] > 0).any() and torch.equal(frozen, fn(x))


def test_shared_threshold_takes_zero_sizes():
    s, state = F.lif(torch.zeros(0, 2, 3), threshold_adaptation=SPEC, return_state=True)
    assert s.shape == (0, 2, 3) and torch.equal(state["theta"], torch.zeros(3, 2))
    s, state = F.lif(torch.ones(4, 0, 3), threshold_adaptation=SPEC, return_state=True)
    assert s.shape == (4, 0, 3) and torch.equal(state["theta"], torch.zeros(3, 2))


def test_bad_shared_threshold_arguments():
    x = torch.rand(3, 2, 4)
    with pytest.raises(TypeError, match="threshold_adaptation must be a tsnn.functional.SharedThreshold"):
        F.lif(x, threshold_adaptation=(5.0, 0.1))
    with pytest.raises(TypeError, match="current_adaptation must be a tsnn.functional.SharedCurrent"):
        F.lif(x, current_adaptation=SPEC)
    with pytest.raises(ValueError, match="one value or one per tau"):
        F.lif(x, threshold_adaptation=F.SharedThreshold(tau=(5.0, 6.0), increment=(0.1, 0.2, 0.3)))
    with pytest.raises(ValueError, match="tau must be > 0"):
        F.lif(x, threshold_adaptation=F.SharedThreshold(tau=0.0))
    with pytest.raises(ValueError, match="reduction must be one of"):
        F.lif(x, threshold_adaptation=F.SharedThreshold(reduction="median"))
    with pytest.raises(ValueError, match=r"theta0 must be \[\*features, K\]"):
        F.lif(x, threshold_adaptation=SPEC, theta0=torch.zeros(4))
    with pytest.raises(TypeError, match="threshold_adaptation must be"):
        tsnn.LIF(threshold_adaptation={"tau": 5.0})


# ------------------------------------------------------------------ the batch-shared adaptation current

CURRENT = F.SharedCurrent(tau=(5.0, 30.0), coupling=(0.2, 0.05), increment=(0.3, 0.1))


def shared_current_ref(x, threshold, spec, *, v0, refractory_steps=0, dt=1.0):
    """QIF (tau=2, v_c=0.8, a0=1, v_rest=0, v_reset=-0.1) whose input loses ``sum_k w_k``; after each
    step every sample's ``w`` takes the Euler step towards its post-reset membrane (held where it is
    refractory or fired with a refractory period), grows by the increment where it fired, and the
    batch mean makes it one again (Inferno's ``adaptive_currents_linear``)."""
    rate = dt / torch.tensor(spec.tau, dtype=torch.float32)
    coupling, inc = torch.tensor(spec.coupling), torch.tensor(spec.increment)
    w = torch.zeros(x.shape[2], len(spec.tau))
    v, count = v0, torch.zeros(x.shape[1:], dtype=torch.int32)
    spikes, mems = [], []
    for t in range(x.shape[0]):
        held = count > 0
        drive = x[t] - w.sum(-1)
        h = torch.where(held, v, v + (drive + (v - 0.0) * (v - 0.8)) / 2.0)
        s = torch.where(held, 0.0, _SpikeAtOrAbove.apply(h - threshold, sg.sigmoid(4.0)))
        v = s * -0.1 + (1.0 - s) * h
        fired = s.detach() > 0
        count = torch.where(fired, refractory_steps, (count - 1).clamp_min(0)).to(torch.int32)
        keep = (held | fired) if refractory_steps else torch.zeros_like(fired)
        moved = w + rate * (coupling * (v.detach() - 0.0)[..., None] - w)
        w = (torch.where(keep[..., None], w, moved) + inc * fired[..., None]).mean(0)
        spikes.append(s)
        mems.append(v)
    return torch.stack(spikes), torch.stack(mems), w


@pytest.mark.parametrize("backend", ["torch", "triton"])
@pytest.mark.parametrize("refractory", [0.0, 2.0])
def test_shared_current_matches_the_step_by_step_rule(backend, refractory):
    gen = torch.Generator().manual_seed(13)
    x = (torch.rand(17, 3, 5, generator=gen) * 1.2).requires_grad_()
    thr = torch.full((5,), 1.0, requires_grad=True)
    v0 = torch.zeros(3, 5)
    spikes, state = F.qif(
        x, threshold=thr, v0=v0, current_adaptation=CURRENT, refractory=refractory, return_state=True, backend=backend
    )
    want_s, want_m, want_w = shared_current_ref(x, thr, CURRENT, v0=v0, refractory_steps=int(refractory))
    assert 0 < spikes.sum() < spikes.numel()
    assert torch.equal(spikes, want_s)
    assert_close(state["mem"], want_m, 1e-6, 1e-6, "mem")
    assert_close(state["current"], want_w, 1e-6, 1e-6, "current")
    g = torch.randn(x.shape, generator=gen)
    got = torch.autograd.grad((spikes * g).sum() + state["mem"].square().sum(), (x, thr))
    want = torch.autograd.grad((want_s * g).sum() + want_m.square().sum(), (x, thr))
    for name, a, b in zip(("x", "threshold"), got, want):
        assert_close(a, b, 1e-5, 1e-5, f"d{name}")


def test_both_shared_adaptations_in_a_module():
    """Threshold and current together, in a Module: single steps and chunks equal one call, eval
    freezes both, a checkpoint restores both, half-precision input keeps its dtype."""
    gen = torch.Generator().manual_seed(14)
    x = torch.rand(20, 3, 4, generator=gen) * 1.5
    kw = dict(threshold_adaptation=SPEC, current_adaptation=CURRENT, refractory=2.0)
    whole = tsnn.QIF(**kw)
    want = whole(x)
    single = tsnn.QIF(**kw, step_mode="single")
    assert torch.equal(torch.stack([single(xt) for xt in x]), want)
    chunked = tsnn.QIF(**kw, stateful=True)
    assert torch.equal(torch.cat([chunked(x[:7]), chunked(x[7:])]), want)
    for other in (single, chunked):
        assert torch.equal(other.theta, whole.theta) and torch.equal(other.current, whole.current)
    fresh = tsnn.QIF(**kw)
    fresh.load_state_dict(whole.state_dict())
    assert torch.equal(fresh.current, whole.current) and torch.equal(fresh.theta, whole.theta)
    whole.eval()
    theta, current = whole.theta.clone(), whole.current.clone()
    frozen = whole(x)
    assert torch.equal(whole.theta, theta) and torch.equal(whole.current, current)
    assert torch.equal(frozen, F.qif(x - current.sum(-1), threshold=1.0 + theta.sum(-1), refractory=2.0))
    assert tsnn.QIF(current_adaptation=CURRENT)(x.half()).dtype == torch.float16
    whole.reset_adaptation()
    assert whole.theta is None and whole.current is None
    assert "current_adaptation=SharedCurrent" in repr(tsnn.QIF(current_adaptation=CURRENT))
    with pytest.raises(TypeError, match="current_adaptation must be a tsnn.functional.SharedCurrent"):
        tsnn.QIF(current_adaptation=SPEC)


@pytest.mark.parametrize("backend", ["torch", "triton"])
def test_without_gradients_the_first_pass_is_the_result(backend):
    """Under no_grad (plastic networks, inference) the step-by-step pass's outputs are returned
    as they are: the same spikes, states and adaptations as the two-pass run with autograd."""
    gen = torch.Generator().manual_seed(15)
    x = torch.rand(11, 3, 4, generator=gen) * 1.5
    kw = dict(threshold_adaptation=SPEC, current_adaptation=CURRENT, refractory=2.0, return_state=True, backend=backend)
    spikes, state = F.izhikevich(x.clone().requires_grad_(), **kw)
    with torch.no_grad():
        fast_spikes, fast_state = F.izhikevich(x, **kw)
    assert torch.equal(fast_spikes, spikes) and fast_spikes.dtype == spikes.dtype
    assert set(fast_state) == set(state)
    for key in state:
        assert torch.equal(fast_state[key], state[key].detach()), key
    assert torch.equal(F.izhikevich(x, **kw)[0], spikes)  # nothing requires grad: the same fast path


@pytest.mark.parametrize("backend", ["torch", "triton"])
@pytest.mark.parametrize("dtype", [torch.float16, torch.bfloat16])
def test_shared_adaptations_take_low_precision_strided_inputs_and_odd_shapes(backend, dtype):
    """A half-precision input seen through a transpose (non-contiguous), features [3, 5], a batch of
    one: the same spikes, states and gradients as the contiguous fp32 copy of the same values."""
    gen = torch.Generator().manual_seed(16)
    base = (torch.rand(5, 3, 9, 1, generator=gen) * 1.5).to(dtype)  # [*features, T, B]
    strided = base.permute(2, 3, 0, 1)  # [T=9, B=1, 5, 3] as a view: not contiguous
    assert not strided.is_contiguous()
    kw = dict(threshold_adaptation=SPEC, current_adaptation=CURRENT, refractory=1.0, return_state=True, backend=backend)
    results = []
    for x in (strided, strided.float().contiguous()):
        x = x.detach().requires_grad_()
        spikes, state = F.qif(x, **kw)
        (dx,) = torch.autograd.grad((spikes.float() * torch.arange(15.0).view(5, 3)).sum() + state["mem"].sum(), x)
        results.append((spikes, state, dx))
    (s, st, dx), (s32, st32, dx32) = results
    assert s.dtype == dtype and dx.dtype == dtype and 0 < s32.sum() < s32.numel()
    assert torch.equal(s.float(), s32)
    for key in ("mem", "theta", "current"):
        assert torch.equal(st[key], st32[key]), key
    assert_close(dx.float(), dx32, 1e-2, 1e-2, "dx (rounded to the input's dtype)")
    assert st["theta"].shape == (5, 3, 2) and st["current"].shape == (5, 3, 2)
