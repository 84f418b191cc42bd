"""The PyTorch reverse loops work in time chunks of ``CHUNK_ELEMS`` elements; chunk boundaries
must not change results. Leaky is covered in test_lif.py; this covers the recurrent weight's
gradient (RLeaky, RSynaptic one-to-one), Alpha and the nlif family (QIF, Izhikevich), whose
per-chunk terms carry across boundaries. The single-chunk results are checked against snnTorch
(SpikingJelly) in their own test files."""

import pytest
import torch

import tritonsnn as tsnn
from tritonsnn.torchimpl import _common as torch_common

from .checks import assert_close, assert_spikes_equal

T, B, N = 7, 2, 10

MAKERS = {
    "RLeaky": lambda reset, delay: tsnn.RLeaky(
        beta=torch.linspace(0.5, 0.9, N),
        V=-0.4,
        threshold=0.9,
        all_to_all=False,
        learn_beta=True,
        learn_threshold=True,
        learn_recurrent=True,
        reset_mechanism=reset,
        reset_delay=delay,
        return_mem=True,
        backend="torch",
    ),
    "RSynaptic": lambda reset, delay: tsnn.RSynaptic(
        alpha=0.8,
        beta=0.7,
        V=torch.linspace(-0.5, 0.5, N),
        threshold=0.9,
        all_to_all=False,
        learn_alpha=True,
        learn_beta=True,
        learn_threshold=True,
        learn_recurrent=True,
        reset_mechanism=reset,
        reset_delay=delay,
        return_mem=True,
        backend="torch",
    ),
    "Alpha": lambda reset, delay: tsnn.Alpha(
        alpha=torch.linspace(0.85, 0.95, N),
        beta=0.6,
        threshold=0.9,
        learn_alpha=True,
        learn_beta=True,
        learn_threshold=True,
        reset_mechanism=reset,
        return_mem=True,
        backend="torch",
    ),
    # Fixed decays (no stored currents) and a refractory period (its own dL/dmem carry).
    "Alpha-refractory": lambda reset, delay: tsnn.Alpha(
        alpha=torch.linspace(0.85, 0.95, N),
        beta=0.6,
        threshold=0.9,
        learn_threshold=True,
        refractory=2.0,
        reset_mechanism=reset,
        return_mem=True,
        backend="torch",
    ),
    # The nlif family (its reset: subtract, to 0, or to a negative v_reset): spikes, surrogate and
    # slopes per chunk, the previous step's membrane from the step before the chunk.
    "QIF": lambda reset, delay: tsnn.QIF(
        threshold=torch.linspace(0.8, 1.0, N),
        v_reset={"subtract": None, "zero": 0.0, "none": -0.1}[reset],
        learn_threshold=True,
        return_mem=True,
        backend="torch",
    ),
    "Izhikevich-refractory": lambda reset, delay: tsnn.Izhikevich(
        a=0.3,
        b=0.2,
        tau_w=3.0,
        threshold=0.9,
        v_reset={"subtract": None, "zero": 0.0, "none": -0.1}[reset],
        refractory=2.0,
        learn_threshold=True,
        return_mem=True,
        backend="torch",
    ),
}
ALWAYS_DELAYED = ("Alpha", "QIF", "Izhikevich")  # no same-step reset option: one row each


def _run(make, reset, delay, chunk_elems, monkeypatch):
    monkeypatch.setattr(torch_common, "CHUNK_ELEMS", chunk_elems)
    g = torch.Generator().manual_seed(3)
    x = (torch.randn(T, B, N, generator=g) * 1.2 + 0.6).requires_grad_()
    neuron = make(reset, delay)
    s, m = neuron(x)
    gs, gm = torch.randn(T, B, N, generator=g), torch.randn(T, B, N, generator=g)
    params = [p for p in neuron.parameters() if p.requires_grad]
    grads = torch.autograd.grad((s * gs).sum() + (m * gm).sum(), [x, *params])
    return s, m, grads


@pytest.mark.parametrize("chunk_elems", [1, 40])
@pytest.mark.parametrize("reset", ["subtract", "zero", "none"])
@pytest.mark.parametrize(
    "name,delay",
    [
        (name, delay)
        for name in sorted(MAKERS)
        for delay in (True, False)
        if delay or not name.startswith(ALWAYS_DELAYED)
    ],
)
def test_chunk_boundaries_do_not_change_results(name, delay, reset, chunk_elems, monkeypatch):
    make = MAKERS[name]
    s_ref, m_ref, grads_ref = _run(make, reset, delay, 1 << 16, monkeypatch)  # one chunk
    assert 0 < s_ref.sum() < s_ref.numel(), "the input should make some neurons spike"
    s, m, grads = _run(make, reset, delay, chunk_elems, monkeypatch)
    assert_spikes_equal(s, s_ref)
    assert_close(m, m_ref, 1e-5, 0, "mem")
    assert len(grads) == len(grads_ref) >= 2
    for i, (a, b) in enumerate(zip(grads, grads_ref)):
        assert_close(a, b, 1e-5, 1e-4, f"grad {i}")
