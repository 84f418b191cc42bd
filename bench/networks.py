"""Whole networks on the CPU: snnTorch's tutorial networks as snnTorch users write them (a Python
loop over steps, explicit state) against the same networks multi-step on tritonsnn, fwd+bwd per batch.

    python bench/networks.py [--net fc conv rleaky --T 25 --B 128 --threads 1 --repeats 7]

* ``fc``: tutorial 5, ``Linear(784, 1000) -> Leaky -> Linear(1000, 10) -> Leaky``;
* ``conv``: tutorial 6, ``Conv2d(1, 12, 5) -> MaxPool2d(2) -> Leaky -> Conv2d(12, 64, 5) -> MaxPool2d(2)
  -> Leaky -> Linear(1024, 10) -> Leaky`` on 28x28 images;
* ``rleaky``: ``Linear(784, 256) -> RLeaky(linear_features=256) -> Linear(256, 10) -> Leaky``.

Both sides share the very same ``nn.Linear`` / ``nn.Conv2d`` objects (the same weights), read the
same static image at every step (as the tutorials do) and must agree on at least 99.9% of the
output spikes before anything is timed (the table prints the agreement and the largest membrane
difference). tritonsnn's side is the multi-step rewrite: stateless layers act on
``[T, B, ...]`` (``tsnn.MultiStep`` for the convolutions), each neuron is one fused call. Providers
take turns call by call (interleaved rounds); the table gives medians of fwd+bwd (the loss is
the sum of the output spikes and membrane).
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
from torch import nn

import tritonsnn as tsnn
from bench.timing import measure_interleaved, steady_allocator, summary

BETA = 0.95
# The layers see [T*B, ...] on one side and [B, ...] per step on the other: the matmul and
# convolution kernels may block those differently, and a last-bit difference in a layer's output
# flips a spike that sits on the threshold. The neurons alone are checked bit-exact elsewhere.
MIN_AGREEMENT = 0.999


def _layers(net: str):
    torch.manual_seed(0)
    if net == "fc":
        return [nn.Linear(784, 1000), nn.Linear(1000, 10)]
    if net == "conv":
        return [nn.Conv2d(1, 12, 5), nn.Conv2d(12, 64, 5), nn.Linear(64 * 4 * 4, 10)]
    if net == "rleaky":
        return [nn.Linear(784, 256), nn.Linear(256, 256), nn.Linear(256, 10)]  # the middle one: RLeaky's recurrence
    raise ValueError(f"net must be fc, conv or rleaky; got {net!r}")


def snntorch_net(net: str, layers, snn):
    """``x [B, ...] -> (spikes [T, B, 10], mem [T, B, 10])`` stepped in Python, as the tutorials do."""
    pool = nn.MaxPool2d(2)
    if net == "fc":
        fc1, fc2 = layers
        lif1, lif2 = snn.Leaky(beta=BETA), snn.Leaky(beta=BETA)

        def step(x, state):
            spk1, state[0] = lif1(fc1(x), state[0])
            spk2, state[1] = lif2(fc2(spk1), state[1])
            return spk2, state[1]

        def init():
            return [lif1.init_leaky(), lif2.init_leaky()]

    elif net == "conv":
        conv1, conv2, fc = layers
        lifs = [snn.Leaky(beta=BETA) for _ in range(3)]

        def step(x, state):
            spk1, state[0] = lifs[0](pool(conv1(x)), state[0])
            spk2, state[1] = lifs[1](pool(conv2(spk1)), state[1])
            spk3, state[2] = lifs[2](fc(spk2.flatten(1)), state[2])
            return spk3, state[2]

        def init():
            return [n.init_leaky() for n in lifs]

    else:
        fc1, rec, fc2 = layers
        rlif = snn.RLeaky(beta=BETA, linear_features=256)
        rlif.recurrent = rec
        lif = snn.Leaky(beta=BETA)

        def step(x, state):
            state[0], state[1] = rlif(fc1(x), state[0], state[1])  # (spk, mem): next step's state
            spk1 = state[0]
            spk2, state[2] = lif(fc2(spk1), state[2])
            return spk2, state[2]

        def init():
            return [*rlif.init_rleaky(), lif.init_leaky()]

    def run(x, T):
        state = init()
        spikes, mems = [], []
        for _ in range(T):
            spk, mem = step(x, state)
            spikes.append(spk)
            mems.append(mem)
        return torch.stack(spikes), torch.stack(mems)

    return run


def tritonsnn_net(net: str, layers):
    """The multi-step rewrite: ``x [T, B, ...] -> (spikes, mem)`` with each neuron fused over T."""
    if net == "fc":
        fc1, fc2 = layers
        model = nn.Sequential(fc1, tsnn.Leaky(beta=BETA), fc2, tsnn.Leaky(beta=BETA, return_mem=True))
    elif net == "conv":
        conv1, conv2, fc = layers
        model = nn.Sequential(
            tsnn.MultiStep(nn.Sequential(conv1, nn.MaxPool2d(2))),
            tsnn.Leaky(beta=BETA),
            tsnn.MultiStep(nn.Sequential(conv2, nn.MaxPool2d(2), nn.Flatten())),
            tsnn.Leaky(beta=BETA),
            fc,
            tsnn.Leaky(beta=BETA, return_mem=True),
        )
    else:
        fc1, rec, fc2 = layers
        rlif = tsnn.RLeaky(beta=BETA, linear_features=256)
        rlif.recurrent = rec
        model = nn.Sequential(fc1, rlif, fc2, tsnn.Leaky(beta=BETA, return_mem=True))
    return lambda x, T: model(x.expand(T, *x.shape))


def _fwd_bwd(fn, x, T):
    spikes, mem = fn(x, T)
    (spikes.sum() + mem.sum()).backward()


def parse_args(argv=None):
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--net", nargs="+", default=["fc", "conv", "rleaky"], choices=("fc", "conv", "rleaky"))
    p.add_argument("--T", type=int, default=25, help="time steps (the tutorials' num_steps)")
    p.add_argument("--B", type=int, default=128, help="batch size (the tutorials')")
    p.add_argument("--threads", type=int, default=1, help="torch.set_num_threads")
    p.add_argument("--repeats", type=int, default=7, help="timed rounds (median reported)")
    return p.parse_args(argv)


def main(argv=None):
    args = parse_args(argv)
    try:
        import snntorch as snn
    except ImportError:
        print("bench/networks.py compares with snnTorch: pip install snntorch", file=sys.stderr)
        return 2
    torch.set_num_threads(args.threads)
    allocator = steady_allocator()
    table = Table(
        title=f"snnTorch tutorial networks on CPU, T={args.T} B={args.B}, {args.threads} thread(s), fwd+bwd, "
        f"median of {args.repeats}",
        caption=allocator,
    )
    for col in ("net", "snnTorch ms", "tritonsnn ms", "tritonsnn speed-up", "spikes agree", "max mem diff"):
        table.add_column(col, justify="left" if col == "net" else "right")
    for net in args.net:
        layers = _layers(net)
        shape = (1, 28, 28) if net == "conv" else (784,)
        x = torch.rand(args.B, *shape, generator=torch.Generator().manual_seed(1))
        fns = {"snntorch": snntorch_net(net, layers, snn), "tritonsnn": tritonsnn_net(net, layers)}
        outs = {name: fn(x, args.T) for name, fn in fns.items()}
        agree = (outs["snntorch"][0] == outs["tritonsnn"][0]).float().mean().item()
        mem_err = (outs["snntorch"][1] - outs["tritonsnn"][1]).abs().max().item()
        if agree < MIN_AGREEMENT:
            print(f"{net}: output spikes agree at only {agree:.4f} of elements; nothing timed", file=sys.stderr)
            return 2
        timed = {name: (lambda fn=fn, x=x: _fwd_bwd(fn, x, args.T)) for name, fn in fns.items()}
        stats = {name: summary(t) for name, t in measure_interleaved(timed, repeats=args.repeats).items()}
        ref, ours = stats["snntorch"]["median_ms"], stats["tritonsnn"]["median_ms"]
        table.add_row(net, f"{ref:.1f}", f"{ours:.1f}", f"{ref / ours:.2f}x", f"{agree:.4f}", f"{mem_err:.1e}")
    Console().print(table)
    return 0


if __name__ == "__main__":
    sys.exit(main())
