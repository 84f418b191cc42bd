"""Leaky on the CPU: tritonsnn's PyTorch path against snnTorch's per-step loop, as a ratio.

    python bench/cpu.py [--T 100 --B 32 --N 1024 --threads 1 --repeats 9 --min-ratio 4]
    python bench/cpu.py --neuron IF --plain      # another neuron of bench/cases.py, plus the plain loop
    python bench/cpu.py --allocator default      # leave glibc's malloc as it is (see steady_allocator)
    python bench/cpu.py --reset-mechanism zero --no-reset-delay   # another reset mode on both sides (Leaky, Synaptic)
    python bench/cpu.py --providers tritonsnn,snntorch,plain,compile-step,compile-loop
    python bench/cpu.py --no-reset-delay --providers tritonsnn,snntorch,spikingjelly

Both run in the same process on the same input, taking turns (one call each per
round) so that load from other processes falls on both; the ratio is of medians (the ratio of
minimums, less sensitive to a busy machine, is printed too).
Exits with status 1 when ``--min-ratio`` is given and the fwd+bwd ratio is below it.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

if __package__ in (None, ""):  # run as a script: make `bench` importable
    sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

import torch
from rich.console import Console
from rich.table import Table

from bench import cases
from bench.timing import measure_interleaved, steady_allocator, summary


def parse_args(argv=None):
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--T", type=int, default=100, help="time steps")
    p.add_argument("--B", type=int, default=32, help="batch size")
    p.add_argument("--N", type=int, default=1024, help="neurons per sample")
    p.add_argument("--threads", type=int, default=1, help="torch.set_num_threads")
    p.add_argument("--repeats", type=int, default=9, help="timed rounds (median reported)")
    p.add_argument(
        "--min-ratio",
        type=float,
        default=None,
        help="exit 1 if tritonsnn fwd+bwd is fewer than this many times faster than snnTorch",
    )
    p.add_argument(
        "--neuron",
        default="Leaky",
        choices=[c.label for c in cases.CASES],
        help="which entry of bench/cases.py (default Leaky)",
    )
    p.add_argument("--plain", action="store_true", help="also time the plain autograd loop")
    p.add_argument(
        "--providers",
        default="tritonsnn,snntorch",
        help=f"comma-separated, of {','.join(cases.PROVIDERS)} (bench/cases.py); tritonsnn always runs",
    )
    p.add_argument(
        "--reset-mechanism",
        default=None,
        choices=("subtract", "zero", "none"),
        help="both packages' reset (default: each row's)",
    )
    p.add_argument("--no-reset-delay", action="store_true", help="reset_delay=False on both sides")
    p.add_argument(
        "--allocator",
        choices=("steady", "default"),
        default="steady",
        help="steady: glibc keeps freed memory, so no call pays page faults on its fresh "
        "buffers (bench/timing.py:steady_allocator); default: leave malloc as it is",
    )
    return p.parse_args(argv)


def main(argv=None):
    args = parse_args(argv)
    torch.set_num_threads(args.threads)
    allocator = steady_allocator() if args.allocator == "steady" else "allocator defaults"
    case = next(c for c in cases.CASES if c.label == args.neuron)
    options = {"reset_mechanism": args.reset_mechanism} if args.reset_mechanism else {}
    if args.no_reset_delay:
        options["reset_delay"] = False
    fns = {}
    providers = ["tritonsnn", *(p for p in args.providers.split(",") if p and p != "tritonsnn")]
    if args.plain and "plain" not in providers:
        providers.append("plain")
    for provider in providers:
        fn, reason = cases.build(case, provider, args.N, options=options)
        if fn is None:
            print(f"cannot run {provider}: {reason}", file=sys.stderr)
            return 2
        fns[provider] = fn

    x = cases.make_input(case, args.T, args.B, args.N).requires_grad_()
    grad = torch.randn_like(x)
    spikes = {name: fn(x) for name, fn in fns.items()}
    for name, s in spikes.items():
        mismatch = (s != spikes["tritonsnn"]).sum().item()
        if name not in cases.EXACT:
            print(f"{name} spikes agree with tritonsnn at {1 - mismatch / max(x.numel(), 1):.4f} of elements")
        elif mismatch:  # a speed ratio between different computations would mean nothing
            print(f"{name} spikes differ from tritonsnn at {mismatch} of {x.numel()} elements", file=sys.stderr)
            return 2

    timed = {}
    for name, fn in fns.items():
        timed[(name, "fwd")] = lambda fn=fn: fn(x)
        timed[(name, "fwd+bwd")] = lambda fn=fn: torch.autograd.grad(fn(x), x, grad)
    stats = {key: summary(t) for key, t in measure_interleaved(timed, repeats=args.repeats).items()}

    table = Table(
        title=f"{case.label} {options or ''} on CPU, T={args.T} B={args.B} N={args.N}, {args.threads} thread(s), "
        f"median of {args.repeats}; spike rate {spikes['tritonsnn'].float().mean().item():.3f}",
        caption=allocator,
    )
    for col in ("mode", "provider", "median ms", "p20-p80 ms", "min ms", "tritonsnn speed-up"):
        table.add_column(col, justify="right" if "ms" in col or "speed" in col else "left")
    ratios, min_ratios = {}, {}
    for mode in ("fwd", "fwd+bwd"):
        ref = stats[("tritonsnn", mode)]
        for name in fns:
            s = stats[(name, mode)]
            ratio = s["median_ms"] / ref["median_ms"]
            if name == "snntorch":
                ratios[mode], min_ratios[mode] = ratio, s["min_ms"] / ref["min_ms"]
            table.add_row(
                mode,
                name,
                f"{s['median_ms']:.2f}",
                f"{s['p20_ms']:.2f}-{s['p80_ms']:.2f}",
                f"{s['min_ms']:.2f}",
                f"{ratio:.2f}x",
            )
    Console().print(table)
    if "fwd+bwd" not in ratios:
        return 0
    print(
        f"ratio fwd+bwd snnTorch/tritonsnn = {ratios['fwd+bwd']:.2f} of medians, {min_ratios['fwd+bwd']:.2f} "
        f"of minimums  (fwd: {ratios['fwd']:.2f}, {min_ratios['fwd']:.2f}; {args.allocator} allocator)"
    )
    if args.min_ratio is not None and ratios["fwd+bwd"] < args.min_ratio:
        print(f"FAIL: fwd+bwd ratio {ratios['fwd+bwd']:.2f} < --min-ratio {args.min_ratio}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
