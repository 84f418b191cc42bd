"""SpikingJelly's neurons on tritonsnn against SpikingJelly 2.0 itself, on the CPU.

    python bench/spikingjelly_neurons.py [--T 100 --B 32 --N 1024 --threads 1 --repeats 9]
    python bench/spikingjelly_neurons.py --single --T 25   # one step per call, both sides

Each row runs the same multi-step layer both ways, fwd+bwd over ``[T, B, N]`` (per-step inputs
handed over as one sequence, as a previous layer gives them): SpikingJelly's node with
``step_mode="m"`` (what it dispatches to on the CPU), and ``tsnn.<Neuron>`` on the PyTorch
path; with ``--single``, both one step per call (SpikingJelly's ``step_mode="s"``, tritonsnn's
``step_mode="single"``) over ``x.unbind(0)``. Their spikes must be equal (bit for bit: tritonsnn follows SpikingJelly's
order of operations) before anything is timed; the providers take turns call by call
(interleaved rounds) and the table gives medians and the speed-up.
"""

from __future__ import annotations

import sys
from pathlib import Path

if __package__ in (None, ""):  # run as a script: make `bench` importable
    sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

import torch
from rich.console import Console
from rich.table import Table

import tritonsnn as tsnn
from bench.timing import layer_parser, measure_interleaved, steady_allocator, summary

# row -> (tritonsnn Module, SpikingJelly node, keyword arguments both take)
ROWS = {
    "LIF": (tsnn.LIF, "LIFNode", {}),
    "QIF": (tsnn.QIF, "QIFNode", {}),
    "EIF": (tsnn.EIF, "EIFNode", {}),
    "Izhikevich": (tsnn.Izhikevich, "IzhikevichNode", {"a": 0.3, "b": 0.2, "tau_w": 3.0}),
}


def parse_args(argv=None):
    p = layer_parser(__doc__)
    p.add_argument("--single", action="store_true", help="one step per call on both sides")
    return p.parse_args(argv)


def _runner(neuron, x, grad, reset, single):
    def run():
        reset(neuron)
        x.grad = None
        spikes = torch.stack([neuron(x_t) for x_t in x.unbind(0)]) if single else neuron(x)
        (spikes * grad).sum().backward()
        return spikes

    return run


def measure_row(name, args, sj_neuron, sj_functional):
    ours_cls, sj_name, kw = ROWS[name]
    g = torch.Generator().manual_seed(0)
    shape = (args.T, args.B, args.N)
    x = (torch.randn(shape, generator=g) * 0.8 + 0.45).requires_grad_()
    grad = torch.randn(shape, generator=g)
    theirs = getattr(sj_neuron, sj_name)(step_mode="s" if args.single else "m", **kw)  # its CPU dispatch
    ours = ours_cls(backend="torch", step_mode="single" if args.single else "multi", **kw)
    fns = {
        "spikingjelly": _runner(theirs, x, grad, sj_functional.reset_net, args.single),
        "tritonsnn": _runner(ours, x, grad, tsnn.reset, args.single),
    }
    if not torch.equal(fns["spikingjelly"](), fns["tritonsnn"]()):
        raise SystemExit(f"{name}: tritonsnn's spikes differ from SpikingJelly's; no timing reported")
    times = measure_interleaved(fns, repeats=args.repeats, warmup=1)
    return {k: summary(v)["median_ms"] for k, v in times.items()}


def main(argv=None):
    args = parse_args(argv)
    try:
        from spikingjelly.activation_based import functional as sj_functional
        from spikingjelly.activation_based import neuron as sj_neuron
    except ImportError:
        print("SpikingJelly is not installed: pip install --no-deps spikingjelly==2.0.0 loguru tqdm", file=sys.stderr)
        return 2
    torch.set_num_threads(args.threads)
    allocator = steady_allocator()
    table = Table(
        title=f"{'One step per call' if args.single else 'Multi-step'} fwd+bwd, T={args.T}, B={args.B}, N={args.N}, "
        f"{args.threads} thread(s), {allocator}"
    )
    for col in ("neuron", "SpikingJelly ms", "tritonsnn ms", "speed-up"):
        table.add_column(col, justify="right")
    for name in ROWS:
        r = measure_row(name, args, sj_neuron, sj_functional)
        table.add_row(
            name, f"{r['spikingjelly']:.1f}", f"{r['tritonsnn']:.1f}", f"{r['spikingjelly'] / r['tritonsnn']:.2f}x"
        )
    Console(width=120).print(table)
    return 0


if __name__ == "__main__":
    sys.exit(main())
