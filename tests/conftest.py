"""Test tiers.

* Without a GPU, Triton kernels run through the interpreter (``TRITON_INTERPRET=1``,
  set here before anything imports Triton), on small shapes.
* With a GPU, the same tests run the compiled kernels on CUDA (``device`` fixture)
  and the ``cuda`` marker's tests run too.

Outputs allocated by the package are filled with NaN, so a kernel that leaves
part of an output unwritten fails loudly.
"""
import os

import pytest
import torch

HAS_CUDA = torch.cuda.is_available()
if not HAS_CUDA:
    os.environ.setdefault("TRITON_INTERPRET", "1")

from tritonsnn import _alloc  # noqa: E402

_alloc.FILL_NAN = True

DEVICE = "cuda" if HAS_CUDA else "cpu"


def pytest_collection_modifyitems(config, items):
    if HAS_CUDA:
        return
    skip = pytest.mark.skip(reason="needs a CUDA device")
    for item in items:
        if "cuda" in item.keywords:
            item.add_marker(skip)


@pytest.fixture
def device():
    """Where kernel tests run: CUDA when present, else the CPU (Triton through its interpreter)."""
    return DEVICE
