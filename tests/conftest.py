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

Where Triton's interpreter cannot run a kernel whose loop bound is a runtime scalar (Triton 3.6
with numpy >= 2.4: ``int()`` of its 1-element array handles raises), a test that fails on that
error is reported as skipped, with the reason, rather than failed; every other test runs. The
header names the stack and says so. Compiled kernels are unaffected (the GPU tier runs them).
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


def _interpreter_loop_error():
    """None when the interpreter runs a kernel with a runtime-bounded ``for`` loop (all of
    ours), else the error it gives; None too where nothing interprets (GPU tier, no triton)."""
    if CUDA_TIER:
        return None
    try:
        import triton
        import triton.language as tl
    except ImportError:
        return None

    @triton.jit
    def add_t_times(p, T, BLOCK: tl.constexpr):
        o = tl.arange(0, BLOCK)
        acc = tl.zeros([BLOCK], dtype=tl.float32)
        for _ in range(T):
            acc += tl.load(p + o)
        tl.store(p + o, acc)

    x = torch.ones(2)
    try:
        add_t_times[(1,)](x, 3, BLOCK=2)
    except Exception as e:  # the interpreter wraps the numpy error in its own type
        return e
    return None


INTERPRETER_LOOP_ERROR = _interpreter_loop_error()


def pytest_report_header(config):
    if INTERPRETER_LOOP_ERROR is not None:
        import numpy
        import triton

        return (
            f"Triton {triton.__version__}'s interpreter cannot run runtime-bounded loops with numpy "
            f"{numpy.__version__} ({INTERPRETER_LOOP_ERROR!r}): tests that run Triton kernels on the CPU "
            "are skipped; the GPU tier (TRITONSNN_TEST_CUDA=1) runs the compiled kernels"
        )
    return None


@pytest.hookimpl(hookwrapper=True)  # the old-style wrapper: every pytest and pluggy version has it
def pytest_runtest_makereport(item, call):
    outcome = yield
    report = outcome.get_result()
    if INTERPRETER_LOOP_ERROR is None or report.when != "call" or not report.failed or call.excinfo is None:
        return
    if _is_loop_error(call.excinfo.value):
        report.outcome = "skipped"
        reason = f"Skipped: Triton's interpreter on this stack: {INTERPRETER_LOOP_ERROR!r} (see the test header)"
        report.longrepr = (str(item.path), item.location[1] or 0, reason)


def _is_loop_error(e):
    """``e`` (or what it was raised from) is the interpreter's loop-bound error."""
    while e is not None:
        if type(e) is type(INTERPRETER_LOOP_ERROR) and str(e) == str(INTERPRETER_LOOP_ERROR):
            return True
        e = e.__cause__ or e.__context__
    return False


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
