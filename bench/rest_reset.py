"""What rest and reset potentials (``v_rest``, ``v_reset``) cost a Leaky layer, on the CPU.

    python bench/rest_reset.py [--T 100 --B 32 --N 1024 --threads 1 --repeats 9]

``tsnn.functional.leaky`` with the zero reset, fwd+bwd over ``[T, B, N]`` on the PyTorch path,
three ways taking turns call by call (interleaved rounds): without potentials (threshold 20),
the same dynamics in physiological units with ``v_rest = v_reset = -70`` (threshold -50: only
the threshold and the initial membrane are shifted), and with ``v_rest = -65 != v_reset = -70``
(the leak towards rest is one more fp32 pass over the input). Medians in ms and the ratio to the
layer without potentials.

Then, forward only under ``torch.no_grad()``, Leaky with Inferno's LIF mapped onto it (rest -65,
reset -70, threshold -50, same-step reset, firing on ``>=``) against Inferno's own ``LIF``
(inferno-ai, if installed) stepped over the same input as its users step it, one call per step;
spikes are checked equal first (but for rounding ties, counted).
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

TAU = 10.0  # Inferno's membrane time constant in ms, dt = 1 ms
BETA = math.exp(-1.0 / TAU)


def main(argv=None):
    args = layer_parser(__doc__).parse_args(argv)
    torch.set_num_threads(args.threads)
    allocator = steady_allocator()
    current = torch.rand(args.T, args.B, args.N, generator=torch.Generator().manual_seed(0)) * 30.0
    x = ((1 - BETA) * current).requires_grad_()

    def run(threshold, **kw):
        def call():
            F.leaky(x, BETA, threshold, reset_mechanism="zero", backend="torch", **kw).sum().backward()

        return call

    times = measure_interleaved(
        {
            "none": run(20.0),
            "v_rest = v_reset": run(-50.0, v_rest=-70.0, v_reset=-70.0),
            "v_rest != v_reset": run(-50.0, v_rest=-65.0, v_reset=-70.0),
        },
        repeats=args.repeats,
    )
    medians = {k: summary(v)["median_ms"] for k, v in times.items()}
    print(f"Leaky fwd+bwd, zero reset, T={args.T}, B={args.B}, N={args.N}, {args.threads} thread(s), {allocator}")
    for k, ms in medians.items():
        print(f"{k:>17}: {ms:7.1f} ms  {ms / medians['none']:.2f}x without potentials")
    against_inferno(current, x.detach(), args.repeats)


def against_inferno(current, x, repeats):
    """Forward only, no gradient: Leaky with Inferno's LIF mapped onto it against ``inferno.neural.LIF``."""
    try:
        from inferno.neural import LIF
    except ImportError:
        print("inferno-ai not installed: no comparison with Inferno's LIF")
        return
    T, B, N = current.shape
    cell = LIF(N, 1.0, rest_v=-65.0, reset_v=-70.0, thresh_v=-50.0, refrac_t=0.0, time_constant=TAU, batch_size=B)

    def inferno_run():
        cell.clear()
        return torch.stack([cell(current[t]) for t in range(T)]).float()

    def ours():
        return F.leaky(x, BETA, -50.0, reset_mechanism="zero", reset_delay=False, fire_at_threshold=True,
                       v_rest=-65.0, v_reset=-70.0, backend="torch")  # fmt: skip

    with torch.no_grad():
        # The two order the update's operations differently, so a membrane within a rounding step
        # of the threshold can fire in one and not the other (2 of 3.3M spikes at the defaults).
        differ = int((ours() != inferno_run()).sum())
        assert differ <= 1e-5 * current.numel(), f"tritonsnn and Inferno spike differently at {differ} places"
        print(f"spikes equal to Inferno's but at {differ} of {current.numel()} (rounding ties)")
        times = measure_interleaved({"inferno LIF": inferno_run, "tritonsnn": ours}, repeats=repeats)
    report_against("LIF forward, no gradient (a plastic network's run):", times, "inferno LIF")


if __name__ == "__main__":
    main()
