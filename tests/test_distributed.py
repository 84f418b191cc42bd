"""torch.distributed on the CPU: two gloo processes, spawned by the test and bounded in time.

DDP gives the single-process gradients of the concatenated batch (neurons with learnable
parameters, synapses, delays, recurrent layers; multi-step, single-step, stateful TBPTT and
TimeChunked); FSDP2 (``fully_shard``) one optimiser step equals the unsharded one; STDP and
homeostasis move the shared parameters by the global batch's statistics, alike on every rank.
"""

import os
import socket
import tempfile

import pytest
import torch
import torch.distributed as dist
import torch.multiprocessing as mp
from torch import nn

import tritonsnn as tsnn

from .checks import assert_close

WORLD = 2
B_LOCAL = 3
TIMEOUT_S = 240


def _free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _net(step_mode="multi", stateful=False):
    torch.manual_seed(0)
    kw = dict(step_mode=step_mode) if step_mode == "single" else dict(stateful=stateful)
    return nn.Sequential(
        nn.Linear(4, 6),
        tsnn.Leaky(0.9, learn_beta=True, learn_threshold=True, **kw),
        nn.Linear(6, 6),
        tsnn.Synaptic(0.5, 0.9, learn_alpha=True, learn_beta=True, **kw),
        tsnn.RLeaky(0.9, linear_features=6, **kw),
        nn.Linear(6, 3),
        tsnn.Leaky(0.8, **kw),
    )


def _delay_net():
    torch.manual_seed(0)
    conn = tsnn.Connection(
        nn.Linear(4, 5),
        synapse=tsnn.ExpSynapse(0.7, learn_alpha=True),
        delay=tsnn.Delay(torch.tensor([0.5, 1.0, 2.5, 3.0]), learn_delay=True),
    )
    return nn.Sequential(tsnn.Cell(conn, tsnn.Leaky(0.9)), nn.Linear(5, 3), tsnn.Leaky(0.8))


def _data(T=10):
    g = torch.Generator().manual_seed(3)
    return torch.rand(T, WORLD * B_LOCAL, 4, generator=g) * 2.5


def _loss(spikes):
    # A mean over the batch (dim 1), as DDP's gradient averaging expects.
    w = torch.linspace(-1, 1, spikes.shape[-1])
    return (spikes * w).sum((0, 2)).mean()


def _grads(model):
    return {n: p.grad.detach().clone() for n, p in model.named_parameters() if p.grad is not None}


def _single_step(net, x):
    tsnn.reset(net)
    return torch.stack([net(x_t) for x_t in x.unbind(0)])


def _tbptt(net, x):
    tsnn.reset(net)
    for part in (x[:5], x[5:]):
        _loss(net(part)).backward()
        tsnn.detach(net)


def _runs():
    """Name -> (model builder, step(model, x) that leaves gradients in the parameters)."""
    return {
        "multi": (_net, lambda m, x: _loss(m(x)).backward()),
        "single": (lambda: _net("single"), lambda m, x: _loss(_single_step(m, x)).backward()),
        "tbptt": (lambda: _net(stateful=True), _tbptt),
        "chunked": (lambda: tsnn.memory.TimeChunked(_net(), chunk=4), lambda m, x: _loss(m(x)).backward()),
        "delays": (_delay_net, lambda m, x: _loss(m(x)).backward()),
    }


def _shard(x, rank):
    return x[:, rank * B_LOCAL : (rank + 1) * B_LOCAL]


def _ddp_worker(rank, port, out_dir):
    dist.init_process_group("gloo", init_method=f"tcp://127.0.0.1:{port}", rank=rank, world_size=WORLD)
    torch.set_num_threads(1)
    try:
        results = {}
        for name, (build, step) in _runs().items():
            model = nn.parallel.DistributedDataParallel(build())
            step(model, _shard(_data(), rank))
            results[name] = _grads(model.module)
        results["fsdp"] = _fsdp_step(rank)
        results["plasticity"] = _plasticity(rank)
        torch.save(results, os.path.join(out_dir, f"rank{rank}.pt"))
    finally:
        dist.destroy_process_group()


def _fsdp_step(rank):
    from torch.distributed.device_mesh import init_device_mesh
    from torch.distributed.fsdp import fully_shard

    mesh = init_device_mesh("cpu", (WORLD,))
    model = tsnn.utils.one_dim_parameters(_net())  # fully_shard refuses 0-d parameters
    for layer in model:
        if isinstance(layer, nn.Linear):
            fully_shard(layer, mesh=mesh)
    fully_shard(model, mesh=mesh)
    opt = torch.optim.SGD(model.parameters(), lr=0.1)
    _loss(model(_shard(_data(), rank))).backward()
    opt.step()
    return {
        n: (p.full_tensor() if hasattr(p, "full_tensor") else p).detach().clone() for n, p in model.named_parameters()
    }


def _stdp_setup():
    torch.manual_seed(0)
    cell = tsnn.Cell(tsnn.Connection(nn.Linear(8, 5, bias=False)), tsnn.Leaky(0.9, threshold=0.5), record=True)
    with torch.no_grad():
        cell.connection.layer.weight.uniform_(0.0, 1.0)
    rule = tsnn.STDP(cell, a_plus=0.05, a_minus=0.04, rule="multiplicative", w_min=0.0, w_max=1.0)
    homeo = tsnn.HomeostaticThreshold(cell.neuron, target_rate=0.1, rate=0.5, features=5)
    g = torch.Generator().manual_seed(9)
    x = (torch.rand(12, WORLD * B_LOCAL, 8, generator=g) < 0.3).float()
    return cell, rule, homeo, x


def _plasticity(rank=None):
    """Two STDP + homeostasis updates; on one rank's shard when ``rank`` is given."""
    cell, rule, homeo, x = _stdp_setup()
    if rank is not None:
        x = _shard(x, rank)
    with torch.no_grad():
        for _ in range(2):
            cell(x)
            rule.update()
            homeo.update(cell.post)
    return {"weight": cell.connection.layer.weight.clone(), "threshold": cell.neuron.threshold.clone()}


@pytest.fixture(scope="module")
def ranks():
    if not dist.is_available() or not dist.is_gloo_available():
        pytest.skip("torch.distributed with gloo is not available")
    with tempfile.TemporaryDirectory() as out_dir:
        ctx = mp.start_processes(
            _ddp_worker, args=(_free_port(), out_dir), nprocs=WORLD, join=False, start_method="spawn"
        )
        for _ in range(TIMEOUT_S):
            if ctx.join(timeout=1):
                break
        else:
            for p in ctx.processes:
                p.kill()
            pytest.fail(f"the {WORLD} gloo processes did not finish within {TIMEOUT_S} s")
        yield [torch.load(os.path.join(out_dir, f"rank{r}.pt")) for r in range(WORLD)]


def _assert_grads(got, want, what):
    assert set(got) == set(want), what
    for n in want:
        assert_close(got[n], want[n], 1e-5, 1e-6 + 1e-5 * float(want[n].abs().max()), f"{what}: {n}")


@pytest.mark.parametrize("name", list(_runs()))
def test_ddp_gradients_are_the_single_process_gradients_of_the_whole_batch(ranks, name):
    build, step = _runs()[name]
    model = build()
    step(model, _data())
    want = _grads(model)
    assert want, "the model has gradients"
    for rank, result in enumerate(ranks):
        _assert_grads(result[name], want, f"{name}, rank {rank}")


def test_fsdp2_step_equals_the_unsharded_step(ranks):
    model = tsnn.utils.one_dim_parameters(_net())
    opt = torch.optim.SGD(model.parameters(), lr=0.1)
    _loss(model(_data())).backward()
    opt.step()
    want = {n: p.detach() for n, p in model.named_parameters()}
    for rank, result in enumerate(ranks):
        _assert_grads(result["fsdp"], want, f"FSDP2 parameters after one step, rank {rank}")


def test_plasticity_uses_the_global_batch_and_replicas_stay_identical(ranks):
    want = _plasticity()
    for rank, result in enumerate(ranks):
        for key in ("weight", "threshold"):
            assert_close(result["plasticity"][key], want[key], 1e-5, 1e-6, f"{key}, rank {rank}")
    for key in ("weight", "threshold"):
        assert torch.equal(ranks[0]["plasticity"][key], ranks[1]["plasticity"][key]), f"{key}: replicas differ"


def test_one_dim_parameters_keep_the_results():
    x = _data()
    plain, converted = _net(), tsnn.utils.one_dim_parameters(_net())
    assert all(p.dim() >= 1 for p in converted.parameters())
    assert torch.equal(plain(x), converted(x))
    _loss(plain(x)).backward()
    _loss(converted(x)).backward()
    for (n, a), b in zip(plain.named_parameters(), converted.parameters()):
        assert torch.equal(a.grad.reshape(b.shape), b.grad), n


def test_plasticity_without_distributed_keeps_each_rank_local():
    cell, rule, homeo, _ = _stdp_setup()
    assert rule.distributed and homeo.distributed
    rule = tsnn.STDP(cell, a_plus=0.05, a_minus=0.04, distributed=False)
    assert not rule.distributed
