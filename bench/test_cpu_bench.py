"""CPU tier: every neuron in bench/cases.py, tritonsnn vs snnTorch vs a plain autograd loop.

Not collected by the default ``pytest`` run (``testpaths = ["tests"]``). Run with::

    python -m pytest bench/test_cpu_bench.py --benchmark-only

One thread (``torch.set_num_threads(1)``); shape from ``TSNN_BENCH_SHAPE="T,B,N"``
(default ``100,32,1024``). Each group (neuron, mode) lists the three providers;
the speed-ups of tritonsnn over the others are printed at the end of the run.
Before timing, every provider's spikes are checked against the others': a speed
ratio between different computations would mean nothing.
"""

import os

import pytest
import torch

from bench import cases
from bench.conftest import RESULTS

torch.set_num_threads(1)
T, B, N = (int(v) for v in os.environ.get("TSNN_BENCH_SHAPE", "100,32,1024").split(","))
ROUNDS = int(os.environ.get("TSNN_BENCH_ROUNDS", "5"))
MODES = ("fwd", "fwd+bwd")

_reference_spikes = {}


def _check_same_spikes(case, provider, spikes):
    """The first provider to run a case sets the reference; every other must match it exactly."""
    ref_provider, ref = _reference_spikes.setdefault(case.label, (provider, spikes.detach()))
    mismatch = (spikes.detach() != ref).sum().item()
    assert mismatch == 0, (
        f"{case.label}: {provider} spikes differ from {ref_provider} at {mismatch} of {ref.numel()} "
        f"elements; fix the entry in bench/cases.py so both compute the same neuron"
    )


@pytest.mark.parametrize("mode", MODES)
@pytest.mark.parametrize("provider", cases.PROVIDERS)
@pytest.mark.parametrize("case", cases.CASES, ids=lambda c: c.label)
def test_cpu(benchmark, case, provider, mode):
    if not hasattr(cases.tsnn, case.name):
        pytest.skip(f"tritonsnn has no {case.name} yet: nothing to compare")
    fn, reason = cases.build(case, provider, N)
    if fn is None:
        pytest.skip(reason)
    x = cases.make_input(case, T, B, N).requires_grad_()
    grad = torch.randn(x.shape, generator=torch.Generator().manual_seed(1))
    _check_same_spikes(case, provider, fn(x))

    if mode == "fwd":

        def run():
            return fn(x)
    else:

        def run():
            return torch.autograd.grad(fn(x), x, grad)

    benchmark.group = f"{case.label} {mode} T={T} B={B} N={N}"
    benchmark.extra_info.update(neuron=case.label, provider=provider, mode=mode, T=T, B=B, N=N, threads=1)
    benchmark.pedantic(run, rounds=ROUNDS, warmup_rounds=1, iterations=1)
    stats = getattr(benchmark.stats, "stats", None)  # absent with --benchmark-disable
    if stats is not None:
        RESULTS[(case.label, mode, provider)] = (stats.median, stats.min)
