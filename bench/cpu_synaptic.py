"""CPU path vs snnTorch: Synaptic / RSynaptic (one-to-one) / Alpha forward+backward, one thread.

Usage: ``PYTHONPATH=. python bench/cpu_synaptic.py [T B N]`` (default 100 32 1024). Prints the
best of a few repetitions of forward + backward for each, and the ratio snnTorch / tritonsnn.
"""
import sys
import time

import snntorch as snn
import torch

import tritonsnn as tsnn


def snntorch_loop(neuron, x, n_out):
    outs = [neuron(x[t]) for t in range(x.shape[0])]
    return torch.stack([o[0] for o in outs]), torch.stack([o[n_out - 1] for o in outs])


def best_time(fn, reps=7):
    fn()  # warm-up
    times = []
    for _ in range(reps):
        t0 = time.perf_counter()
        fn()
        times.append(time.perf_counter() - t0)
    return min(times)   # the least-disturbed run: the machine may be shared


def main():
    torch.set_num_threads(1)
    T, B, N = (int(a) for a in sys.argv[1:4]) if len(sys.argv) >= 4 else (100, 32, 1024)
    x = torch.randn(T, B, N) * 0.6
    cases = [
        ("Leaky (calib.)", lambda: snn.Leaky(beta=0.8), 2,
         lambda: tsnn.Leaky(0.8, return_mem=True, backend="torch")),
        ("Synaptic", lambda: snn.Synaptic(alpha=0.9, beta=0.8), 3,
         lambda: tsnn.Synaptic(0.9, 0.8, return_mem=True, backend="torch")),
        ("RSynaptic 1:1", lambda: snn.RSynaptic(alpha=0.9, beta=0.8, V=0.5, all_to_all=False), 3,
         lambda: tsnn.RSynaptic(0.9, 0.8, V=0.5, all_to_all=False, return_mem=True, backend="torch")),
        ("Alpha", lambda: snn.Alpha(alpha=0.9, beta=0.8), 4,
         lambda: tsnn.Alpha(0.9, 0.8, return_mem=True, backend="torch")),
    ]
    print(f"T={T} B={B} N={N}, torch.set_num_threads(1), forward+backward, best of 7")
    for name, make_ref, n_out, make_ours in cases:
        ours = make_ours()

        def run_ref():
            xr = x.clone().requires_grad_()
            s, m = snntorch_loop(make_ref(), xr, n_out)   # a fresh neuron: zero state, as ours
            (s.sum() + 0.1 * m.sum()).backward()

        def run_ours():
            xo = x.clone().requires_grad_()
            s, m = ours(xo)
            (s.sum() + 0.1 * m.sum()).backward()

        t_ref, t_ours = best_time(run_ref), best_time(run_ours)
        print(f"{name:14s} snnTorch {t_ref * 1e3:8.1f} ms   tritonsnn {t_ours * 1e3:8.1f} ms   "
              f"speed-up {t_ref / t_ours:5.1f}x")


if __name__ == "__main__":
    main()
