"""``fire_at_threshold=True``: the snnTorch-form neurons fire where the membrane reaches the
threshold (``>=``, Inferno's, PySNN's and SpikingJelly's convention) instead of only above it.

Inputs and decays are dyadic (multiples of 1/8, decays 1/2; Alpha's tau is 2), so every membrane is exact in fp32
and many land exactly on the threshold: the two conventions then give different spikes, and
each backend's must be the reference loop's (written with ``>=``), gradients included."""

import pytest
import torch

import tritonsnn as tsnn
import tritonsnn.functional as F
from tritonsnn import surrogate as sg

from .checks import assert_close
from .reference import alpha_ref, first_order_ref, synaptic_ref


class AtOrAbove:
    """Heaviside ``x >= 0`` with ``surrogate``'s gradient: the surrogate's spike plus the ties."""

    def __init__(self, surrogate):
        self.surrogate = surrogate

    def __call__(self, x):
        return self.surrogate(x) + (x == 0).to(x.dtype)


SPIKE = AtOrAbove(sg.atan())


def _dyadic(T, B, N, seed):
    gen = torch.Generator().manual_seed(seed)
    return torch.randint(0, 9, (T, B, N), generator=gen).float() / 8  # 0, 1/8, ..., 1


def _reference(kind, x, reset, delay, refractory):
    common = dict(reset_mechanism=reset, surrogate=SPIKE)
    if kind in ("leaky", "if", "rleaky", "alif"):
        extra = dict(V=torch.tensor(0.5), s0=None) if kind == "rleaky" else {}
        if kind == "alif":
            extra = dict(rho=torch.tensor(0.5), b=torch.tensor(0.25))
        beta = 1.0 if kind == "if" else 0.5
        out = first_order_ref(
            x, beta, 1.0, reset_delay=delay, refractory_steps=refractory, zero_whole=kind == "rleaky", **common, **extra
        )
        return out[0], out[1]
    if kind == "synaptic":
        s, _, m = synaptic_ref(x, 0.5, 0.5, 1.0, reset_delay=delay, refractory_steps=refractory, **common)
        return s, m
    s, _, _, m = alpha_ref(x, 0.5, 0.25, 1.0, refractory_steps=refractory, **common)
    return s, m


def _module(kind, reset, delay, refractory, **kw):
    kw = dict(reset_mechanism=reset, refractory=float(refractory), fire_at_threshold=True, **kw)
    if kind == "alpha":
        return tsnn.Alpha(0.5, 0.25, 1.0, **kw)
    kw["reset_delay"] = delay
    if kind == "synaptic":
        return tsnn.Synaptic(0.5, 0.5, 1.0, **kw)
    if kind == "if":
        return tsnn.IF(1.0, **kw)
    if kind == "rleaky":
        return tsnn.RLeaky(0.5, V=0.5, all_to_all=False, **kw)
    if kind == "alif":
        kw.pop("reset_delay")
        return tsnn.ALIF(0.5, 1.0, rho=0.5, b=0.25, **kw)
    return tsnn.Leaky(0.5, 1.0, **kw)


VARIANTS = [
    ("leaky", "subtract", True, 0),
    ("leaky", "zero", False, 0),
    ("leaky", "subtract", True, 2),
    ("if", "subtract", False, 0),
    ("rleaky", "zero", True, 0),
    ("alif", "subtract", True, 0),
    ("synaptic", "subtract", True, 0),
    ("synaptic", "zero", False, 2),
    ("alpha", "subtract", True, 0),
]


@pytest.mark.parametrize("backend", ["torch", "triton"])
@pytest.mark.parametrize("kind, reset, delay, refractory", VARIANTS)
def test_spikes_and_gradients_fire_at_the_threshold(kind, reset, delay, refractory, backend, device):
    x = _dyadic(12, 3, 5, seed=len(kind) + refractory) * (2 if kind == "alpha" else 1)  # Alpha's tau is 2
    want_s, want_m = _reference(kind, x.clone().requires_grad_(), reset, delay, refractory)
    neuron = _module(kind, reset, delay, refractory, return_mem=True, backend=backend).to(device)
    xd = x.to(device).requires_grad_()
    spikes, mem = neuron(xd)
    assert torch.equal(spikes.cpu(), want_s.detach())
    assert_close(mem.cpu(), want_m.detach(), 1e-6, 1e-6, "membrane")
    strict = _module(kind, reset, delay, refractory, backend=backend).to(device)
    strict.fire_at_threshold = False
    assert not torch.equal(strict(x.to(device)).cpu(), spikes.cpu()), "the input should put membranes on the threshold"
    g = torch.randn(x.shape, generator=torch.Generator().manual_seed(1))
    (got,) = torch.autograd.grad((spikes * g.to(device)).sum() + mem.square().sum(), xd)
    xr = x.clone().requires_grad_()
    ref_s, ref_m = _reference(kind, xr, reset, delay, refractory)
    (want,) = torch.autograd.grad((ref_s * g).sum() + ref_m.square().sum(), xr)
    assert_close(got.cpu(), want, 1e-5, 1e-5, "dx")


@pytest.mark.parametrize("kind", ["leaky", "synaptic", "rleaky"])
def test_single_steps_fire_at_the_threshold_like_one_call(kind):
    x = _dyadic(10, 2, 4, seed=3)
    whole = _module(kind, "subtract", True, 0)
    single = _module(kind, "subtract", True, 0, step_mode="single")
    assert torch.equal(torch.stack([single(xt) for xt in x]), whole(x))


def test_functional_option_and_compact_state():
    """The compact saved membrane keeps the comparison as the forward made it: with the zero reset
    a tie read back as "not fired" would keep the membrane a wrong reset later, and dx with it."""
    x = _dyadic(16, 2, 6, seed=5).requires_grad_()
    kw = dict(reset_mechanism="zero", fire_at_threshold=True, return_mem=True)
    spikes, mem = F.leaky(x, 0.5, 1.0, **kw)
    want_s, _ = _reference("leaky", x, "zero", True, 0)
    assert torch.equal(spikes, want_s.detach())
    (plain,) = torch.autograd.grad((spikes + mem).sum(), x)
    with tsnn.memory.compact_state():
        s2, m2 = F.leaky(x, 0.5, 1.0, **kw)
        (compact,) = torch.autograd.grad((s2 + m2).sum(), x)
    assert torch.equal(s2, spikes)
    assert_close(compact, plain, 2e-2, 1e-2, "dx from the compact membrane (bf16 surrogate)")
    assert "fire_at_threshold=True" in repr(tsnn.Leaky(0.5, fire_at_threshold=True))
