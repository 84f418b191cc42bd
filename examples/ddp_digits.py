"""The digits network of ``digits.py`` trained data-parallel with DistributedDataParallel.

    torchrun --standalone --nproc-per-node 2 examples/ddp_digits.py
    torchrun --standalone --nproc-per-node 2 examples/ddp_digits.py --epochs 1 --limit 200   # smoke run

Every process holds a replica of ``Linear -> Leaky -> Linear -> Leaky`` and takes its share of
each minibatch (the global batch is the same as ``digits.py``'s); DDP averages the gradients,
so the replicas stay identical. Neuron state is per sample and so per process: it is never
broadcast (it is not a buffer). gloo on CPU, NCCL on GPU (one GPU per process). Rank 0 shows
the progress and prints the results, ``test accuracy: X`` last. Run alone (``python
examples/ddp_digits.py``) it trains in one process, as a world of one.
"""

from __future__ import annotations

import os
import sys
from pathlib import Path

import torch
import torch.distributed as dist
from torch.nn.parallel import DistributedDataParallel

sys.path.insert(0, str(Path(__file__).resolve().parent))  # digits.py, a sibling

import digits  # noqa: E402

BATCH = 64  # the global minibatch, as digits.py's; each process takes BATCH / world of it


def setup(device_arg):
    """Join the process group torchrun describes (or a world of one); returns (rank, world, device)."""
    if "RANK" not in os.environ:
        os.environ.update(RANK="0", WORLD_SIZE="1", MASTER_ADDR="127.0.0.1", MASTER_PORT="29511")
    cuda = device_arg.startswith("cuda")
    dist.init_process_group("nccl" if cuda else "gloo")
    rank, world = dist.get_rank(), dist.get_world_size()
    device = torch.device(f"cuda:{int(os.environ.get('LOCAL_RANK', 0))}") if cuda else torch.device("cpu")
    if cuda:
        torch.cuda.set_device(device)
    else:
        torch.set_num_threads(max(1, (os.cpu_count() or 1) // world))  # processes share the cores
    return rank, world, device


def main(argv=None) -> float:
    args = digits.parse_args(argv, description=__doc__)
    rank, world, device = setup(args.device)
    try:
        torch.manual_seed(args.seed)  # the same initial weights on every rank (DDP also broadcasts them)
        x_tr, y_tr, x_te, y_te = digits.load_data(args.seed, args.limit, device)
        model = DistributedDataParallel(digits.build_net().to(device))  # averages the gradients in backward
        seconds = digits.train(
            model, x_tr, y_tr, epochs=args.epochs, seed=args.seed, batch_size=BATCH, rank=rank, world=world
        )
        step_s = seconds / (args.epochs * -(-len(x_tr) // BATCH))
        accuracy = digits.evaluate(model.module, x_te, y_te, seed=args.seed)
        if rank == 0:
            print(f"tritonsnn DDP digits: {world} process(es), {device}, {len(x_tr)} train / {len(x_te)} test images")
            print(f"time per training step: {step_s * 1e3:.1f} ms (global batch {BATCH})")
            print(f"test accuracy: {accuracy:.4f}")
        return accuracy
    finally:
        dist.destroy_process_group()


if __name__ == "__main__":
    main()
