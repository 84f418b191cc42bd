"""What the batch-shared threshold adaptation (Inferno's ALIF) costs over a plain LIF, on the CPU.

    python bench/shared_threshold.py [--T 100 --B 32 --N 1024 --threads 1 --repeats 9]

Three ways of the same ``tsnn.functional.lif`` layer, fwd+bwd over ``[T, B, N]`` on the PyTorch
path, taking turns call by call (interleaved rounds): without adaptation, with
``SharedThreshold(tau=(20, 100), increment=(0.05, 0.01))`` adapting (the first pass runs the op
step by step to find each step's threshold, then the fused pass runs with gradients) and with it
frozen (``update_adaptation=False``: one pass). Medians in ms and the ratio to the plain layer.

Then, forward only under ``torch.no_grad()`` (how a plastic network runs), the adapting layer
against Inferno's own ``ALIF`` (inferno-ai, if installed) stepped over the same input as its
users step it, one call per step; spikes are checked equal first.
"""

from __future__ import annotations

import math
import sys
from pathlib import Path

if __package__ in (None, ""):  # run as a script: make `bench` importable
    sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

import torch

import tritonsnn.functional as F
from bench.timing import layer_parser, measure_interleaved, report_against, steady_allocator, summary


def main(argv=None):
    args = layer_parser(__doc__).parse_args(argv)
    torch.set_num_threads(args.threads)
    allocator = steady_allocator()
    x = (torch.rand(args.T, args.B, args.N, generator=torch.Generator().manual_seed(0)) * 1.5).requires_grad_()
    spec = F.SharedThreshold(tau=(20.0, 100.0), increment=(0.05, 0.01))

    def run(**kw):
        def call():
            F.lif(x, backend="torch", **kw).sum().backward()

        return call

    times = measure_interleaved(
        {
            "plain": run(),
            "adapting": run(threshold_adaptation=spec),
            "frozen": run(threshold_adaptation=spec, update_adaptation=False),
        },
        repeats=args.repeats,
    )
    medians = {k: summary(v)["median_ms"] for k, v in times.items()}
    print(f"LIF fwd+bwd, T={args.T}, B={args.B}, N={args.N}, {args.threads} thread(s), {allocator}")
    for k, ms in medians.items():
        print(f"{k:>9}: {ms:7.1f} ms  {ms / medians['plain']:.2f}x plain")
    against_inferno(x.detach(), spec, args.repeats)


def against_inferno(x, spec, repeats):
    """Forward only, no gradient: tritonsnn's adapting LIF against ``inferno.neural.ALIF``."""
    try:
        from inferno.neural import ALIF
    except ImportError:
        print("inferno-ai not installed: no comparison with Inferno's ALIF")
        return
    T, B, N = x.shape
    tc = 10.0  # Inferno's membrane time constant in ms; tritonsnn's tau in steps is 1 / (1 - e^{-1/tc})
    cell = ALIF(N, 1.0, rest_v=0.0, reset_v=0.0, thresh_eq_v=1.0, refrac_t=0.0, tc_membrane=tc,
                tc_adaptation=spec.tau, spike_increment=spec.increment, batch_size=B)  # fmt: skip

    def inferno_run():
        cell.clear(keep_adaptations=False)
        return torch.stack([cell(x[t]) for t in range(T)]).float()

    def ours():
        return F.lif(x, tau=1 / (1 - math.exp(-1 / tc)), threshold=1.0, v_reset=0.0, v_rest=0.0,
                     v0=torch.zeros(B, N), threshold_adaptation=spec, backend="torch")  # fmt: skip

    with torch.no_grad():
        assert torch.equal(ours(), inferno_run()), "tritonsnn and Inferno spike differently"
        times = measure_interleaved({"inferno ALIF": inferno_run, "tritonsnn": ours}, repeats=repeats)
    report_against("ALIF forward, no gradient (a plastic network's run):", times, "inferno ALIF")


if __name__ == "__main__":
    main()
