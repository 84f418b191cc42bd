"""Train a feed-forward spiking network on scikit-learn's 8x8 digits.

    python examples/digits.py                   # ~97% test accuracy in well under a minute on a laptop CPU
    python examples/digits.py --epochs 1 --limit 200   # a quick smoke run

The 1,797 images ship with scikit-learn (no download). Each pixel becomes a
Bernoulli spike train (``tsnn.encode.rate``), the network is
``Linear -> Leaky -> Linear -> Leaky`` run over ``[T, B, ...]`` in one call per
layer, and the loss is cross-entropy on output spike counts
(``tsnn.loss.ce_count_loss``). Prediction = the output neuron with most spikes.
A spike raster and the output membrane of one test digit are saved as PNG.

Needs ``pip install tritonsnn[examples]`` (scikit-learn, matplotlib, rich).
"""

from __future__ import annotations

import argparse
import time
from pathlib import Path

import torch
from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn
from torch import nn

import tritonsnn as tsnn

NUM_STEPS = 16
NUM_CLASSES = 10
DEFAULT_OUT = Path(__file__).resolve().parent / "out"


def parse_args(argv=None, description=__doc__, epochs=30):
    """Command-line options shared by the digits examples."""
    parser = argparse.ArgumentParser(description=description.splitlines()[0])
    parser.add_argument("--epochs", type=int, default=epochs, help="training epochs")
    parser.add_argument(
        "--limit", type=int, default=None, help="use only the first LIMIT training and LIMIT test images (smoke runs)"
    )
    parser.add_argument(
        "--device",
        default="cuda" if torch.cuda.is_available() else "cpu",
        help="cuda (Triton kernels) or cpu (PyTorch path); default: cuda when present",
    )
    parser.add_argument("--out", type=Path, default=DEFAULT_OUT, help="directory for the PNG plots")
    parser.add_argument("--seed", type=int, default=0, help="seed for the split, weights and spike draws")
    return parser.parse_args(argv)


def load_data(seed: int, limit: int | None = None, device="cpu", images=False):
    """The digits as float tensors in [0, 1]: ``(x_train, y_train, x_test, y_test)``.

    Args:
        seed: seed of the stratified 75/25 split.
        limit: keep at most this many training and test samples.
        device: where the tensors go.
        images: ``[N, 1, 8, 8]`` images instead of ``[N, 64]`` vectors.
    """
    from sklearn.datasets import load_digits
    from sklearn.model_selection import train_test_split

    digits = load_digits()
    x = torch.tensor(digits.data, dtype=torch.float32) / 16.0  # pixel values are 0..16
    y = torch.tensor(digits.target, dtype=torch.long)
    if images:
        x = x.view(-1, 1, 8, 8)
    x_tr, x_te, y_tr, y_te = train_test_split(x, y, test_size=0.25, random_state=seed, stratify=y)
    if limit is not None:
        x_tr, y_tr, x_te, y_te = x_tr[:limit], y_tr[:limit], x_te[:limit], y_te[:limit]
    return tuple(t.to(device) for t in (x_tr, y_tr, x_te, y_te))


def build_net(hidden: int = 128, beta: float = 0.9, step_mode: str = "multi") -> nn.Sequential:
    """``Linear(64, hidden) -> Leaky -> Linear(hidden, 10) -> Leaky``.

    With ``step_mode="multi"`` it maps ``[T, B, 64]`` to ``[T, B, 10]`` spikes; with
    ``"single"`` it maps one step ``[B, 64]`` to ``[B, 10]`` and keeps its state
    (``tsnn.reset`` between samples). Both share the same ``state_dict``.
    """
    return nn.Sequential(
        nn.Linear(64, hidden),
        tsnn.Leaky(beta=beta, step_mode=step_mode),
        nn.Linear(hidden, NUM_CLASSES),
        tsnn.Leaky(beta=beta, step_mode=step_mode),
    )


def encode(x: torch.Tensor, generator: torch.Generator) -> torch.Tensor:
    """Rate code ``[B, ...]`` intensities into ``[NUM_STEPS, B, ...]`` spikes."""
    return tsnn.encode.rate(x, NUM_STEPS, generator=generator)


def progress_bar(disable: bool = False) -> Progress:
    """A rich progress bar on stderr, so stdout carries only the results (``disable``: draw nothing)."""
    return Progress(
        TextColumn("[bold]{task.description}"),
        BarColumn(),
        MofNCompleteColumn(),
        TextColumn("{task.fields[status]}"),
        TimeElapsedColumn(),
        console=Console(stderr=True),
        transient=False,
        disable=disable,
    )


def train(net, x_train, y_train, *, epochs, seed, batch_size=64, lr=2e-3, description="training", rank=0, world=1):
    """Adam on ``ce_count_loss`` with freshly drawn spike trains every epoch; returns the seconds spent.

    Data-parallel (``ddp_digits.py``): process ``rank`` of ``world`` takes every ``world``-th sample
    of each minibatch (the same order on every process) and draws its own spikes; only rank 0 shows
    the progress."""
    device = x_train.device
    loss_fn = tsnn.loss.ce_count_loss()
    optimizer = torch.optim.Adam(net.parameters(), lr=lr)
    scheduler = torch.optim.lr_scheduler.CosineAnnealingLR(optimizer, T_max=max(epochs, 1))
    order_gen = torch.Generator().manual_seed(seed)
    spike_gen = torch.Generator(device=device).manual_seed(seed + 1000 * rank)
    batches = -(-len(x_train) // batch_size)
    start = time.perf_counter()
    with progress_bar(disable=rank != 0) as progress:
        task = progress.add_task(description, total=epochs * batches, status="")
        for epoch in range(epochs):
            net.train()
            order = torch.randperm(len(x_train), generator=order_gen).to(device)
            total, correct, seen = 0.0, 0, 0
            for i in range(0, len(x_train), batch_size):
                idx = order[i : i + batch_size][rank::world]
                spikes = net(encode(x_train[idx], spike_gen))
                loss = loss_fn(spikes, y_train[idx])
                optimizer.zero_grad(set_to_none=True)
                loss.backward()
                optimizer.step()
                total += loss.item() * len(idx)
                correct += (spikes.sum(0).argmax(-1) == y_train[idx]).sum().item()
                seen += len(idx)
                progress.update(
                    task,
                    advance=1,
                    status=f"epoch {epoch + 1}/{epochs} loss {total / seen:.3f} train acc {correct / seen:.3f}",
                )
            scheduler.step()
    return time.perf_counter() - start


@torch.no_grad()
def evaluate(net, x, y, *, seed, batch_size=256):
    """Test accuracy (most output spikes wins; ties go to the lower class index)."""
    net.eval()
    spike_gen = torch.Generator(device=x.device).manual_seed(seed + 1)
    correct = 0
    for i in range(0, len(x), batch_size):
        spikes = net(encode(x[i : i + batch_size], spike_gen))
        correct += (spikes.sum(0).argmax(-1) == y[i : i + batch_size]).sum().item()
    return correct / len(x)


@torch.no_grad()
def record(net: nn.Sequential, x_seq: torch.Tensor):
    """Run ``net`` layer by layer; return the spikes of every neuron layer and the last membrane."""
    spikes, mem = [], None
    for layer in net:
        if isinstance(layer, tsnn.SpikingNeuron):
            layer.return_mem = True
            try:
                x_seq, mem = layer(x_seq)
            finally:
                layer.return_mem = False
            spikes.append(x_seq)
        else:
            x_seq = layer(x_seq)
    return spikes, mem


def save_plots(net, x_test, y_test, out: Path, seed: int, prefix="digits"):
    """Spike raster (input, hidden, output) and output membrane of the first test digit."""
    import matplotlib

    matplotlib.use("Agg")  # files only; no display needed
    import matplotlib.pyplot as plt

    out.mkdir(parents=True, exist_ok=True)
    gen = torch.Generator(device=x_test.device).manual_seed(seed + 2)
    x_seq = encode(x_test[:1], gen)
    layer_spikes, mem = record(net, x_seq)
    label = y_test[0].item()

    fig, axes = plt.subplots(1, 1 + len(layer_spikes), figsize=(4 * (1 + len(layer_spikes)), 3.5))
    titles = ["input"] + [f"layer {i + 1}" for i in range(len(layer_spikes) - 1)] + ["output"]
    for ax, spikes, title in zip(axes, [x_seq] + layer_spikes, titles):
        tsnn.plot.raster(spikes, ax, s=12)
        ax.set_title(title)
    fig.suptitle(f"test digit {label}: spike raster")
    fig.tight_layout()
    raster_path = tsnn.plot.save(fig, out / f"{prefix}_raster.png", dpi=100)
    plt.close(fig)

    fig, ax = plt.subplots(figsize=(7, 4))
    tsnn.plot.traces(mem, ax, threshold=float(net[-1].threshold.mean()))
    ax.set_title(f"test digit {label}: output membrane (predicted {layer_spikes[-1][:, 0].sum(0).argmax().item()})")
    ax.legend(fontsize=7, ncol=2, loc="upper left")
    fig.tight_layout()
    trace_path = tsnn.plot.save(fig, out / f"{prefix}_membrane.png", dpi=100)
    plt.close(fig)
    return raster_path, trace_path


def main(argv=None) -> float:
    args = parse_args(argv)
    torch.manual_seed(args.seed)
    device = torch.device(args.device)
    x_tr, y_tr, x_te, y_te = load_data(args.seed, args.limit, device)
    net = build_net().to(device)
    print(
        f"tritonsnn digits: {len(x_tr)} train / {len(x_te)} test images, T={NUM_STEPS}, "
        f"device={device}, {sum(p.numel() for p in net.parameters())} parameters"
    )
    seconds = train(net, x_tr, y_tr, epochs=args.epochs, seed=args.seed)
    accuracy = evaluate(net, x_te, y_te, seed=args.seed)
    raster_path, trace_path = save_plots(net, x_te, y_te, args.out, args.seed)
    print(f"train time: {seconds:.1f} s for {args.epochs} epochs")
    print(f"plots: {raster_path}, {trace_path}")
    print(f"test accuracy: {accuracy:.4f}")
    return accuracy


if __name__ == "__main__":
    main()
