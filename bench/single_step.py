"""snnTorch code on tritonsnn: one step per call, as snnTorch users write it, against snnTorch itself.

    python bench/single_step.py [--neuron Leaky --T 25 --B 32 --N 1024 --threads 1 --repeats 15]
    python bench/single_step.py --neuron all          # every class of the facade, one table
                                                      # (RLeaky/RSynaptic 1:1 and -dense: snnTorch's nn.Linear)

Each provider runs the same loop over ``T`` steps with per-step inputs (``x.unbind(0)`` of a
leaf that requires grad, as a previous layer hands them over) and explicit state, then one
backward through the whole loop:

* ``snntorch``: ``import snntorch as snn``; ``spk, mem = lif(x_t, mem)``;
* ``tritonsnn.snntorch``: the same code after ``import tritonsnn.snntorch as snn``;
* ``tritonsnn multi-step``: the few-line rewrite to ``tsnn.<Neuron>`` on the whole ``[T, B, N]``
  sequence (the fused time loop), for the migration guide.

The providers take turns call by call (interleaved rounds) so that load from other processes
falls on all of them; spikes must agree exactly before anything is timed. The table gives the
median per step (fwd+bwd) and the speed-up over snnTorch; ``--min-ratio R`` exits 1 when the
facade is fewer than R times faster than snnTorch for any neuron timed.
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

import tritonsnn as tsnn
import tritonsnn.snntorch as fsnn
from bench.timing import measure_interleaved, steady_allocator, summary

try:
    import snntorch
except ImportError:
    snntorch = None

# neuron -> (constructor arguments, names of the explicit state, native multi-step twin)
NEURONS = {
    "Leaky": (dict(beta=0.9), ("mem",), lambda: tsnn.Leaky(beta=0.9, backend="torch")),
    "Synaptic": (dict(alpha=0.8, beta=0.9), ("syn", "mem"), lambda: tsnn.Synaptic(0.8, 0.9, backend="torch")),
    "Alpha": (dict(alpha=0.9, beta=0.8), ("syn_exc", "syn_inh", "mem"), lambda: tsnn.Alpha(0.9, 0.8, backend="torch")),
    "Lapicque": (dict(beta=0.9), ("mem",), lambda: tsnn.Lapicque(beta=0.9, backend="torch")),
    "RLeaky": (
        dict(beta=0.9, all_to_all=False, V=0.5),
        ("spk", "mem"),
        lambda: tsnn.RLeaky(beta=0.9, V=0.5, all_to_all=False, backend="torch"),
    ),
    "RSynaptic": (
        dict(alpha=0.8, beta=0.9, all_to_all=False, V=0.5),
        ("spk", "syn", "mem"),
        lambda: tsnn.RSynaptic(0.8, 0.9, V=0.5, all_to_all=False, backend="torch"),
    ),
    # snnTorch's default recurrence: an nn.Linear(N, N) (linear_features is filled in from --N)
    "RLeaky-dense": (
        dict(beta=0.9),
        ("spk", "mem"),
        lambda n: tsnn.RLeaky(beta=0.9, linear_features=n, backend="torch"),
    ),
    "RSynaptic-dense": (
        dict(alpha=0.8, beta=0.9),
        ("spk", "syn", "mem"),
        lambda n: tsnn.RSynaptic(0.8, 0.9, linear_features=n, backend="torch"),
    ),
}


def parse_args(argv=None):
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--neuron", default="Leaky", choices=[*NEURONS, "all"])
    p.add_argument("--T", type=int, default=25, help="steps per loop")
    p.add_argument("--B", type=int, default=32)
    p.add_argument("--N", type=int, default=1024)
    p.add_argument("--threads", type=int, default=1)
    p.add_argument("--repeats", type=int, default=15, help="interleaved rounds (median reported)")
    p.add_argument("--min-ratio", type=float, default=None)
    p.add_argument(
        "--allocator",
        choices=("steady", "default"),
        default="steady",
        help="as in bench/cpu.py: steady keeps glibc from handing freed buffers back to the OS",
    )
    return p.parse_args(argv)


def per_step_loop(package, name, x, grad, recurrent=None):
    """The snnTorch user's loop: explicit state, one call per step, one backward at the end;
    ``recurrent``, the dense rows' nn.Linear, shared by every provider."""
    kwargs, state_names, _ = NEURONS[name]
    if recurrent is not None:
        kwargs = dict(kwargs, linear_features=x.shape[2])
    neuron = getattr(package, name.removesuffix("-dense"))(**kwargs)
    if recurrent is not None:
        neuron.recurrent.load_state_dict(recurrent.state_dict())

    def run():
        state = [torch.zeros(x.shape[1:]) for _ in state_names]
        spikes = []
        for x_t in x.unbind(0):
            out = neuron(x_t, *state)
            spikes.append(out[0])
            state = list(out) if state_names[0] == "spk" else list(out[1:])
        spk = torch.stack(spikes)
        (spk * grad).sum().backward()
        return spk

    return run


def multi_step(name, x, grad, recurrent=None):
    make = NEURONS[name][2]
    neuron = make() if recurrent is None else make(x.shape[2])
    if recurrent is not None:
        neuron.recurrent.load_state_dict(recurrent.state_dict())

    def run():
        spk = neuron(x)
        (spk * grad).sum().backward()
        return spk

    return run


def measure_neuron(name, args):
    torch.manual_seed(0)
    shape = (args.T, args.B, args.N)
    x = (torch.randn(shape) * 1.2 + 0.3).requires_grad_()
    grad = torch.randn(shape)
    recurrent = torch.nn.Linear(args.N, args.N) if name.endswith("-dense") else None
    fns = {
        "snntorch": per_step_loop(snntorch, name, x, grad, recurrent),
        "tritonsnn.snntorch": per_step_loop(fsnn, name, x, grad, recurrent),
        "tritonsnn multi-step": multi_step(name, x, grad, recurrent),
    }
    ref = fns["snntorch"]()
    for provider, fn in fns.items():
        x.grad = None
        if not torch.equal(fn(), ref):
            raise SystemExit(f"{name}: {provider}'s spikes differ from snnTorch's; no timing reported")
    times = measure_interleaved(fns, repeats=args.repeats, warmup=2)
    return {k: summary(v) for k, v in times.items()}


def main(argv=None):
    args = parse_args(argv)
    if snntorch is None:
        print("snnTorch is not installed: pip install snntorch", file=sys.stderr)
        return 2
    torch.set_num_threads(args.threads)
    allocator = steady_allocator() if args.allocator == "steady" else "allocator defaults"
    names = list(NEURONS) if args.neuron == "all" else [args.neuron]
    table = Table(
        title=f"One step per call, fwd+bwd, T={args.T}, B={args.B}, N={args.N}, {args.threads} thread(s), {allocator}"
    )
    for col in (
        "neuron",
        "snnTorch ms/step",
        "tritonsnn.snntorch ms/step",
        "speed-up",
        "multi-step ms/step",
        "speed-up",
    ):
        table.add_column(col, justify="right", min_width=15 if col == "neuron" else None)
    worst = float("inf")
    for name in names:
        r = measure_neuron(name, args)
        per = {k: v["median_ms"] / args.T for k, v in r.items()}
        ratio = per["snntorch"] / per["tritonsnn.snntorch"]
        worst = min(worst, ratio)
        table.add_row(
            name,
            f"{per['snntorch']:.3f}",
            f"{per['tritonsnn.snntorch']:.3f}",
            f"{ratio:.2f}x",
            f"{per['tritonsnn multi-step']:.3f}",
            f"{per['snntorch'] / per['tritonsnn multi-step']:.2f}x",
        )
    Console().print(table)
    if args.min_ratio is not None and worst < args.min_ratio:
        print(f"single-step speed-up {worst:.2f}x is below --min-ratio {args.min_ratio}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
