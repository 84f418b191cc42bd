"""Train a recurrent spiking network on the Spiking Heidelberg Digits (SHD).

    python examples/shd.py --data DIR          # DIR holds shd_train.h5 and shd_test.h5 (zenkelab.org/datasets)
    python examples/shd.py --synthetic DIR     # first write a small synthetic pair in SHD's format, train on it

SHD is 700 input channels of spikes (a cochlea model on spoken digits, 20 classes). Each sample
is binned into ``--bins`` steps of equal length over its first 1.4 s (``tsnn.data.SHD``); the
network is ``Linear(700, H) -> ALIF (adaptive threshold) -> Linear(H, 20) -> Leaky`` without
reset, and the loss is cross-entropy on each output's largest membrane over time
(``tsnn.loss.ce_max_membrane``); the prediction is the output with the largest membrane.

``--synthetic`` files have SHD's layout (``spikes/times``, ``spikes/units``, ``labels``) and a
learnable structure (each class fires its own band of units in a class-specific time window),
so the command runs anywhere in seconds; the accuracy it prints says nothing about SHD itself.

Needs ``pip install tritonsnn[data]`` (h5py).
"""

from __future__ import annotations

import argparse
import time
from pathlib import Path

import numpy as np
import torch
from torch import nn

import tritonsnn as tsnn


def parse_args(argv=None):
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    source = p.add_mutually_exclusive_group(required=True)
    source.add_argument("--data", type=Path, help="directory with shd_train.h5 and shd_test.h5")
    source.add_argument("--synthetic", type=Path, help="write synthetic files in SHD's format here and train on them")
    p.add_argument("--epochs", type=int, default=20)
    p.add_argument("--bins", type=int, default=100, help="time steps per sample (over 1.4 s)")
    p.add_argument("--hidden", type=int, default=128)
    p.add_argument("--batch-size", type=int, default=64)
    p.add_argument("--lr", type=float, default=2e-3)
    p.add_argument("--limit", type=int, default=None, help="use only the first LIMIT samples of each split")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--device", default="cuda" if torch.cuda.is_available() else "cpu")
    return p.parse_args(argv)


def write_synthetic(directory: Path, n_train: int = 1000, n_test: int = 300, seed: int = 0):
    """``shd_train.h5`` and ``shd_test.h5`` in SHD's layout: class ``c`` fires units ``35c..35c+34``
    at times around ``0.05 + 0.06 c`` s, on top of background events on every unit."""
    import h5py  # noqa: PLC0415 - optional dependency

    directory.mkdir(parents=True, exist_ok=True)
    rng = np.random.default_rng(seed)
    for name, n in (("shd_train.h5", n_train), ("shd_test.h5", n_test)):
        labels = rng.integers(0, tsnn.data.SHD.n_classes, n)
        times, units = [], []
        for c in labels:
            k_signal, k_noise = 150, 100
            t = np.concatenate([rng.normal(0.05 + 0.06 * c, 0.03, k_signal).clip(0, 1.3), rng.uniform(0, 1.3, k_noise)])
            u = np.concatenate([rng.integers(35 * c, 35 * c + 35, k_signal), rng.integers(0, 700, k_noise)])
            order = np.argsort(t)
            times.append(t[order].astype(np.float32))
            units.append(u[order].astype(np.uint16))
        with h5py.File(directory / name, "w") as f:
            for key, rows, dtype in (("spikes/times", times, np.float32), ("spikes/units", units, np.uint16)):
                column = f.create_dataset(key, (n,), dtype=h5py.vlen_dtype(dtype))
                for i, row in enumerate(rows):
                    column[i] = row
            f.create_dataset("labels", data=labels.astype(np.uint8))


def build_net(hidden: int) -> nn.Sequential:
    return nn.Sequential(
        nn.Linear(tsnn.data.SHD.n_units, hidden),
        tsnn.ALIF(beta=0.95),
        nn.Linear(hidden, tsnn.data.SHD.n_classes),
        tsnn.Leaky(beta=0.95, reset_mechanism="none", return_mem=True),
    )


def loader(dataset, batch_size, shuffle, seed):
    g = torch.Generator().manual_seed(seed)
    return torch.utils.data.DataLoader(
        dataset, batch_size=batch_size, shuffle=shuffle, generator=g, collate_fn=tsnn.data.collate
    )


def train(net, data, *, epochs, lr, device):
    optimizer = torch.optim.Adam(net.parameters(), lr=lr)
    scheduler = torch.optim.lr_scheduler.CosineAnnealingLR(optimizer, T_max=max(epochs, 1))
    for epoch in range(epochs):
        net.train()
        total, correct, seen = 0.0, 0, 0
        for x, y in data:
            x, y = x.to(device), y.to(device)
            _, mem = net(x)
            loss = tsnn.loss.ce_max_membrane(mem, y)
            optimizer.zero_grad(set_to_none=True)
            loss.backward()
            optimizer.step()
            total += loss.item() * len(y)
            correct += (mem.max(0).values.argmax(-1) == y).sum().item()
            seen += len(y)
        scheduler.step()
        print(f"epoch {epoch + 1}/{epochs}: loss {total / seen:.3f}, train accuracy {correct / seen:.3f}")


@torch.no_grad()
def evaluate(net, data, device):
    net.eval()
    correct = seen = 0
    for x, y in data:
        _, mem = net(x.to(device))
        correct += (mem.max(0).values.argmax(-1).cpu() == y).sum().item()
        seen += len(y)
    return correct / seen


def main(argv=None):
    args = parse_args(argv)
    directory = args.data or args.synthetic
    if args.synthetic:
        write_synthetic(directory, seed=args.seed)
    torch.manual_seed(args.seed)
    splits = {
        s: tsnn.data.SHD(directory / f"shd_{s}.h5", n_bins=args.bins, limit=args.limit) for s in ("train", "test")
    }
    print(
        f"{len(splits['train'])} training and {len(splits['test'])} test samples, {args.bins} steps of "
        f"{1400 / args.bins:.0f} ms; events after 1.4 s left out: {splits['train'].dropped_events} (train), "
        f"{splits['test'].dropped_events} (test)"
    )
    net = build_net(args.hidden).to(args.device)
    start = time.perf_counter()
    train(
        net,
        loader(splits["train"], args.batch_size, True, args.seed),
        epochs=args.epochs,
        lr=args.lr,
        device=args.device,
    )
    print(f"train time: {time.perf_counter() - start:.1f} s")
    accuracy = evaluate(net, loader(splits["test"], 256, False, args.seed), args.device)
    print(f"test accuracy: {accuracy:.4f}")
    return accuracy


if __name__ == "__main__":
    main()
