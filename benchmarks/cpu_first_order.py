"""CPU path (backend="torch") of the first-order family vs the equivalent snnTorch per-step loop.

Forward + backward of ``(spikes * g).sum()`` over ``x [T, B, N]``, one thread, median of
``--reps`` runs, both measured in the same process. snnTorch has no ALIF and no
refractory period: ALIF is compared with a per-step autograd loop written the way
snnTorch's neurons are (``alif_loop`` below, snnTorch's atan surrogate), and Leaky with a
refractory period with snnTorch's plain Leaky loop (what it costs to add the option).
The machine may be shared: the minimum of the runs is reported.

    PYTHONPATH=$PWD python benchmarks/cpu_first_order.py [--T 100 --B 32 --N 1024]
"""
import argparse
import os
import sys
import time

import torch

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
import snntorch as snn  # noqa: E402

import tritonsnn as tsnn  # noqa: E402

F = tsnn.functional


def snn_loop(neuron):
    def run(x):
        spikes = []
        for t in range(x.shape[0]):
            spikes.append(neuron(x[t])[0])
        return torch.stack(spikes)
    return run


def fresh(factory):
    """snnTorch neurons keep state between calls: build a new one per run."""
    return lambda x: snn_loop(factory())(x)


def alif_loop(beta, thr, rho, b):
    """ALIF as one would write it with snnTorch's building blocks, stepped in Python."""
    spike = snn.surrogate.atan()

    def run(x):
        mem = torch.zeros_like(x[0])
        s = torch.zeros_like(x[0])
        a = torch.zeros_like(x[0])
        th_prev = thr + b * a
        out = []
        for t in range(x.shape[0]):
            a = rho * a + s
            th = thr + b * a
            reset = spike(mem - th_prev).detach()
            mem = beta * mem + x[t] - reset * th_prev
            s = spike(mem - th)
            th_prev = th
            out.append(s)
        return torch.stack(out)
    return run


def timed(fn, x, g, reps):
    times = []
    for _ in range(reps + 1):
        xi = x.detach().clone().requires_grad_()
        t0 = time.perf_counter()
        s = fn(xi)
        (s * g).sum().backward()
        times.append(time.perf_counter() - t0)
    return min(times[1:])   # first run warms up


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--T", type=int, default=100)
    ap.add_argument("--B", type=int, default=32)
    ap.add_argument("--N", type=int, default=1024)
    ap.add_argument("--reps", type=int, default=5)
    a = ap.parse_args()
    torch.set_num_threads(1)
    torch.manual_seed(0)
    x = torch.randn(a.T, a.B, a.N) * 0.8 + 0.3
    g = torch.randn(a.T, a.B, a.N)
    lin = torch.nn.Linear(a.N, a.N)
    with torch.no_grad():
        lin.weight.mul_(0.1)
    ours_rl = tsnn.RLeaky(beta=0.9, linear_features=a.N, backend="torch")
    ours_rl.recurrent.load_state_dict(lin.state_dict())

    def snn_rleaky_dense():
        n = snn.RLeaky(beta=0.9, linear_features=a.N)
        n.recurrent.load_state_dict(lin.state_dict())
        return n

    cases = [
        ("Leaky", lambda x: F.leaky(x, 0.9, backend="torch"), fresh(lambda: snn.Leaky(beta=0.9))),
        ("Leaky learn beta+thr", None, None),
        ("Lapicque", lambda x: F.lapicque(x, 0.9, backend="torch"), fresh(lambda: snn.Lapicque(beta=0.9))),
        ("RLeaky one-to-one", lambda x: F.rleaky(x, 0.9, 0.5, backend="torch"),
         fresh(lambda: snn.RLeaky(beta=0.9, V=0.5, all_to_all=False))),
        ("RLeaky all-to-all", lambda x: ours_rl(x), fresh(snn_rleaky_dense)),
        ("ALIF (vs autograd loop)", lambda x: F.alif(x, 0.9, 1.0, 0.95, 0.2, backend="torch"),
         alif_loop(0.9, 1.0, 0.95, 0.2)),
        ("Leaky refractory=2 (vs snn.Leaky)", lambda x: F.leaky(x, 0.9, refractory=2, backend="torch"),
         fresh(lambda: snn.Leaky(beta=0.9))),
    ]
    beta_p = torch.nn.Parameter(torch.full((a.N,), 0.9))
    thr_p = torch.nn.Parameter(torch.ones(a.N))
    cases[1] = ("Leaky learn beta+thr", lambda x: F.leaky(x, beta_p, thr_p, backend="torch"),
                fresh(lambda: snn.Leaky(beta=torch.full((a.N,), 0.9), threshold=torch.ones(a.N),
                                        learn_beta=True, learn_threshold=True)))
    print(f"T={a.T} B={a.B} N={a.N}, 1 thread, fwd+bwd, best of {a.reps}")
    print(f"{'neuron':36s} {'tritonsnn ms':>13s} {'snnTorch ms':>12s} {'speed-up':>9s}")
    for name, ours, theirs in cases:
        t_ours = timed(ours, x, g, a.reps)
        t_ref = timed(theirs, x, g, a.reps)
        print(f"{name:36s} {t_ours * 1e3:13.1f} {t_ref * 1e3:12.1f} {t_ref / t_ours:8.1f}x", flush=True)


if __name__ == "__main__":
    main()
