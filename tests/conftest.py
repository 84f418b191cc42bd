"""Test tiers.

* Default (every machine, CI): Triton kernels run through the interpreter
  (``TRITON_INTERPRET=1``, set here before anything imports Triton) on CPU tensors,
  on small shapes; tests marked ``cuda`` are skipped.
* GPU tier, ``TRITONSNN_TEST_CUDA=1 python -m pytest`` on a machine with CUDA: no
  interpreter; the tests that take the ``device`` fixture run the compiled kernels
  on CUDA tensors, and the ``cuda`` tests run too. Tests written for CPU tensors
  only are deselected there (they ran in the default tier).
* Slow tier, ``TRITONSNN_TEST_SLOW=1 python -m pytest``: also the tests marked ``slow``
  (skipped otherwise), such as the structural concerns of tests/test_conformance.py on the
  Triton interpreter for the rows that do not run them by default. The GPU tier runs them.

Outputs allocated by the package are filled with NaN, so a kernel that leaves
part of an output unwritten fails loudly.
"""

import os

import pytest
import torch

CUDA_TIER = os.environ.get("TRITONSNN_TEST_CUDA") == "1"
SLOW_TIER = CUDA_TIER or os.environ.get("TRITONSNN_TEST_SLOW") == "1"
if CUDA_TIER and not torch.cuda.is_available():
    raise RuntimeError("TRITONSNN_TEST_CUDA=1 needs a CUDA device; run plain `python -m pytest` instead")
if not CUDA_TIER:
    os.environ.setdefault("TRITON_INTERPRET", "1")

from tritonsnn import _alloc

_alloc.FILL_NAN = True

DEVICE = "cuda" if CUDA_TIER else "cpu"


def pytest_collection_modifyitems(config, items):
    if CUDA_TIER:
        keep = [i for i in items if "cuda" in i.keywords or "device" in getattr(i, "fixturenames", ())]
        config.hook.pytest_deselected(items=[i for i in items if i not in keep])
        items[:] = keep
        return
    skip = pytest.mark.skip(reason="GPU tier: TRITONSNN_TEST_CUDA=1 on a machine with CUDA")
    skip_slow = pytest.mark.skip(reason="slow tier: TRITONSNN_TEST_SLOW=1")
    for item in items:
        if "cuda" in item.keywords:
            item.add_marker(skip)
        elif "slow" in item.keywords and not SLOW_TIER:
            item.add_marker(skip_slow)


@pytest.fixture
def device():
    """Where kernel tests run: CUDA in the GPU tier, else the CPU (Triton through its interpreter)."""
    return DEVICE
