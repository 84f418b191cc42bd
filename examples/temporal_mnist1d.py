"""Classify MNIST-1D sequences with a recurrent spiking network: a temporal task with no download.

    python examples/temporal_mnist1d.py                  # 4,000 training / 1,000 test sequences, generated locally
    python examples/temporal_mnist1d.py --epochs 2 --limit 500   # a quick smoke run

MNIST-1D (Greydanus 2020; ``pip install mnist1d``) draws its 10 classes of 1-D signals of length
40 from templates, with shifts, scaling, shear and noise; the data is generated on the spot.
Here the signal is read as time: step ``t`` feeds the value ``x[t]`` (and its change since the
last step) to ``Linear(2, H) -> RLeaky (all-to-all recurrence) -> Linear(H, 10) -> Leaky``
without reset, trained with cross-entropy on each output's largest membrane over time
(``tsnn.loss.ce_max_membrane``). The network sees one value per step, so it has to remember.
"""

from __future__ import annotations

import argparse
import time

import torch
from torch import nn

import tritonsnn as tsnn


def parse_args(argv=None):
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--epochs", type=int, default=30)
    p.add_argument("--hidden", type=int, default=128)
    p.add_argument("--batch-size", type=int, default=100)
    p.add_argument("--lr", type=float, default=3e-3)
    p.add_argument("--limit", type=int, default=None, help="use only the first LIMIT training and test sequences")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--device", default="cuda" if torch.cuda.is_available() else "cpu")
    return p.parse_args(argv)


INPUT_GAIN = 4.0  # the data has unit variance; x4 makes the first layer fire from the first epoch


def load_data(limit=None, device="cpu"):
    """MNIST-1D's default dataset (seed 42) as ``[T=40, N, 2]`` inputs (value, change, times
    ``INPUT_GAIN``) and labels."""
    from mnist1d.data import get_dataset_args, make_dataset  # noqa: PLC0415 - optional dependency

    data = make_dataset(get_dataset_args())

    def sequences(x):
        x = torch.as_tensor(x, dtype=torch.float32).T[:, :limit]  # [T, N]: time first
        change = torch.diff(x, dim=0, prepend=torch.zeros_like(x[:1]))
        return (INPUT_GAIN * torch.stack([x, change], dim=-1)).to(device)

    labels = [torch.as_tensor(y[:limit], dtype=torch.long, device=device) for y in (data["y"], data["y_test"])]
    return sequences(data["x"]), labels[0], sequences(data["x_test"]), labels[1]


def build_net(hidden: int) -> nn.Sequential:
    return nn.Sequential(
        nn.Linear(2, hidden),
        tsnn.RLeaky(beta=0.9, linear_features=hidden),
        nn.Linear(hidden, 10),
        tsnn.Leaky(beta=0.9, reset_mechanism="none", return_mem=True),
    )


def train(net, x, y, *, epochs, batch_size, lr, seed):
    optimizer = torch.optim.Adam(net.parameters(), lr=lr)
    scheduler = torch.optim.lr_scheduler.CosineAnnealingLR(optimizer, T_max=max(epochs, 1))
    order_gen = torch.Generator().manual_seed(seed)
    for epoch in range(epochs):
        net.train()
        total = correct = 0.0
        for idx in torch.randperm(x.shape[1], generator=order_gen).split(batch_size):
            _, mem = net(x[:, idx])
            loss = tsnn.loss.ce_max_membrane(mem, y[idx])
            optimizer.zero_grad(set_to_none=True)
            loss.backward()
            optimizer.step()
            total += loss.item() * len(idx)
            correct += (mem.max(0).values.argmax(-1) == y[idx]).sum().item()
        scheduler.step()
        if (epoch + 1) % 5 == 0 or epoch + 1 == epochs:
            n = x.shape[1]
            print(f"epoch {epoch + 1}/{epochs}: loss {total / n:.3f}, train accuracy {correct / n:.3f}")


@torch.no_grad()
def evaluate(net, x, y):
    net.eval()
    _, mem = net(x)
    return (mem.max(0).values.argmax(-1) == y).float().mean().item()


def main(argv=None):
    args = parse_args(argv)
    x_tr, y_tr, x_te, y_te = load_data(args.limit, args.device)
    print(f"MNIST-1D: {x_tr.shape[1]} training and {x_te.shape[1]} test sequences of {x_tr.shape[0]} steps")
    torch.manual_seed(args.seed)
    net = build_net(args.hidden).to(args.device)
    start = time.perf_counter()
    train(net, x_tr, y_tr, epochs=args.epochs, batch_size=args.batch_size, lr=args.lr, seed=args.seed)
    seconds = time.perf_counter() - start
    accuracy = evaluate(net, x_te, y_te)
    print(f"train time: {seconds:.1f} s")
    print(f"test accuracy: {accuracy:.4f}")
    return accuracy


if __name__ == "__main__":
    main()
