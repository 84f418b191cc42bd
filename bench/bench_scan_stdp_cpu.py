"""CPU speed of the fused scan (PyTorch path) and the whole-sequence STDP update,
each against a plain PyTorch per-step loop of the same rule, on one thread.

    PYTHONPATH=. python bench/bench_scan_stdp_cpu.py [--T 100 --B 32 --N 1024]

Prints the median time of each and the ratio (loop time / tritonsnn time).
"""

import argparse
import math
import time

import torch

import tritonsnn.functional as F


def median_time(fn, repeat=15, warmup=3):
    for _ in range(warmup):
        fn()
    times = []
    for _ in range(repeat):
        t0 = time.perf_counter()
        fn()
        times.append(time.perf_counter() - t0)
    times.sort()
    return times[len(times) // 2]


def loop_scan(x, alpha):
    """What one writes by hand: i = alpha * i + x[t] over the per-step inputs, collected and stacked."""
    i = torch.zeros_like(x[0])
    out = []
    for x_t in x.unbind(0):
        i = alpha * i + x_t
        out.append(i)
    return torch.stack(out)


def loop_stdp(pre, post, weight, a_plus, a_minus, decay_pre, decay_post, w_min, w_max):
    """The same multiplicative STDP rule, traces and outer products step by step."""
    B = pre.shape[1]
    xp = torch.zeros_like(pre[0])
    xq = torch.zeros_like(post[0])
    ltp = torch.zeros_like(weight)
    ltd = torch.zeros_like(weight)
    for t in range(pre.shape[0]):
        xp = decay_pre * xp + pre[t]
        xq = decay_post * xq + post[t]
        ltp += torch.einsum("bo,bi->oi", post[t], xp)
        ltd += torch.einsum("bo,bi->oi", xq, pre[t])
    return (a_plus * (w_max - weight) * ltp - a_minus * (weight - w_min) * ltd) / B


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--T", type=int, default=100)
    parser.add_argument("--B", type=int, default=32)
    parser.add_argument("--N", type=int, default=1024)
    parser.add_argument("--threads", type=int, default=1)
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    T, B, N = args.T, args.B, args.N
    gen = torch.Generator().manual_seed(0)
    print(f"T={T} B={B} N={N}, {torch.get_num_threads()} thread(s), torch {torch.__version__}")

    x = torch.randn(T, B, N, generator=gen)
    alpha = torch.rand(N, generator=gen) * 0.5 + 0.45
    torch.testing.assert_close(F.exp_synapse(x, alpha, backend="torch"), loop_scan(x, alpha))
    t_loop = median_time(lambda: loop_scan(x, alpha))
    t_fused = median_time(lambda: F.exp_synapse(x, alpha, backend="torch"))
    print(
        f"{'exp synapse scan, forward':40s} loop {t_loop * 1e3:7.2f} ms  tritonsnn {t_fused * 1e3:7.2f} ms"
        f"  ratio {t_loop / t_fused:5.2f}x"
    )

    xg = x.clone().requires_grad_()
    ag = alpha.clone().requires_grad_()
    w = torch.randn(T, B, N, generator=gen)

    def fb_loop():
        (loop_scan(xg, ag) * w).sum().backward()

    def fb_fused():
        (F.exp_synapse(xg, ag, backend="torch") * w).sum().backward()

    t_loop = median_time(fb_loop, repeat=9)
    t_fused = median_time(fb_fused, repeat=9)
    print(
        f"{'exp synapse scan, fwd+bwd (dx, dalpha)':40s} loop {t_loop * 1e3:7.2f} ms  tritonsnn {t_fused * 1e3:7.2f} ms"
        f"  ratio {t_loop / t_fused:5.2f}x"
    )

    pre = (torch.rand(T, B, N, generator=gen) < 0.05).float()
    post = (torch.rand(T, B, N, generator=gen) < 0.05).float()
    weight = torch.rand(N, N, generator=gen)
    kw = dict(
        a_plus=0.01, a_minus=0.012, decay_pre=math.exp(-1 / 20), decay_post=math.exp(-1 / 20), w_min=0.0, w_max=1.0
    )
    fused = lambda: F.stdp(pre, post, weight, rule="multiplicative", backend="torch", **kw)  # noqa: E731
    torch.testing.assert_close(fused(), loop_stdp(pre, post, weight, **kw), rtol=1e-4, atol=1e-6)
    t_loop = median_time(lambda: loop_stdp(pre, post, weight, **kw), repeat=5, warmup=1)
    t_fused = median_time(fused, repeat=5, warmup=1)
    print(
        f"{f'STDP update [{N}x{N}] per sequence':40s} loop {t_loop * 1e3:7.2f} ms  tritonsnn {t_fused * 1e3:7.2f} ms"
        f"  ratio {t_loop / t_fused:5.2f}x"
    )


if __name__ == "__main__":
    main()
