"""Update rules outside autograd (STDP, homeostasis) under torch.distributed: each rank sees its
shard of the batch, so the statistics a rule takes from the batch are summed over the process
group before the shared parameter moves; every replica then applies the same update."""

from __future__ import annotations

import torch
import torch.distributed as dist


def group_for(distributed: bool, process_group):
    """The group to reduce over: ``process_group`` (the default group when None) while
    torch.distributed is initialised and ``distributed`` is on; None (this rank alone) otherwise."""
    if not distributed or not (dist.is_available() and dist.is_initialized()):
        return None
    return process_group if process_group is not None else dist.group.WORLD


def global_sum(total: torch.Tensor, count: int, group) -> tuple[torch.Tensor, int]:
    """``total`` (in place) and ``count`` summed over ``group`` (unchanged when it is None)."""
    if group is None:
        return total, count
    n = torch.tensor([float(count)], dtype=torch.float64, device=total.device)
    dist.all_reduce(total, op=dist.ReduceOp.SUM, group=group)
    dist.all_reduce(n, op=dist.ReduceOp.SUM, group=group)
    return total, int(n.item())
