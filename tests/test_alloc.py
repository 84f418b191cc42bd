"""Large CPU buffers are handed to transparent huge pages (tritonsnn/_alloc.py), and what runs in
them is unchanged."""

import pytest
import torch

import tritonsnn as tsnn
from tritonsnn import _alloc

from .checks import assert_close
from .reference import leaky_ref


def test_large_cpu_buffers_get_the_huge_page_hint(monkeypatch):
    calls = []
    monkeypatch.setattr(_alloc, "_MADVISE", lambda start, length, advice: calls.append((start, length, advice)))
    small = _alloc.empty(1024, dtype=torch.float32, device="cpu")
    assert calls == [] and small.shape == (1024,)
    big = _alloc.empty(_alloc.THP_BYTES // 4 + 1000, dtype=torch.float32, device="cpu")
    ((start, length, advice),) = calls
    assert advice == _alloc._MADV_HUGEPAGE
    assert start % (2 << 20) == 0 and length % (2 << 20) == 0 and length > 0
    assert big.data_ptr() <= start and start + length <= big.data_ptr() + big.nbytes


@pytest.mark.skipif(_alloc._MADVISE is None, reason="madvise is Linux-only")
def test_a_neuron_in_huge_page_buffers_gives_the_reference():
    """A ``[T, B, N]`` sequence over THP_BYTES: spikes and membrane as the reference loop, and its
    gradient through the real hint."""
    T, B, N = 260, 32, 1024  # 34 MB per fp32 sequence
    x = (torch.randn(T, B, N, generator=torch.Generator().manual_seed(0)) * 0.5 + 0.2).requires_grad_()
    assert T * B * N * 4 >= _alloc.THP_BYTES
    s, m = tsnn.functional.leaky(x, 0.9, return_mem=True)
    s_ref, m_ref = leaky_ref(x, 0.9, 1.0)
    assert torch.equal(s, s_ref) and torch.equal(m, m_ref)
    (g,) = torch.autograd.grad(s.sum() + m.sum(), x)
    (g_ref,) = torch.autograd.grad(s_ref.sum() + m_ref.sum(), x)
    assert_close(g, g_ref, 0, 1e-4, "input gradient")
