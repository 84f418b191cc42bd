"""Timers shared by the benchmark scripts: medians and spread over repeats.

On CUDA each repeat is bracketed by CUDA events, after the L2 cache is flushed
(as ``triton.testing.do_bench`` does); on the CPU by ``time.perf_counter``.
Warm-up calls run first, so compilation and autotuning are never timed.
"""

from __future__ import annotations

import argparse
import ctypes
import statistics
import time

import torch


def _cpu_times(fn, setup, repeats: int, warmup: int, budget_s: float):
    for _ in range(warmup):
        fn(setup())
    times = []
    start = time.perf_counter()
    while len(times) < repeats:
        arg = setup()
        t0 = time.perf_counter()
        fn(arg)
        times.append(time.perf_counter() - t0)
        if len(times) >= 3 and time.perf_counter() - start > budget_s:
            break  # slow providers get fewer repeats, never fewer than three
    return times


def _cuda_times(fn, setup, repeats: int, warmup: int, budget_s: float):
    for _ in range(warmup):
        fn(setup())
    torch.cuda.synchronize()
    flush = torch.empty(256 * 1024 * 1024 // 4, dtype=torch.int32, device="cuda")
    times = []
    start = time.perf_counter()
    while len(times) < repeats:
        arg = setup()
        flush.zero_()  # evict the previous repeat's data from L2
        begin, end = torch.cuda.Event(enable_timing=True), torch.cuda.Event(enable_timing=True)
        begin.record()
        fn(arg)
        end.record()
        end.synchronize()
        times.append(begin.elapsed_time(end) / 1e3)
        if len(times) >= 3 and time.perf_counter() - start > budget_s:
            break
    return times


def _no_setup():
    return None


def measure(fn, device: str, repeats: int = 10, warmup: int = 2, budget_s: float = 10.0, setup=None):
    """Time ``fn()``, or ``fn(setup())`` with ``setup`` run untimed before each call; returns
    seconds per repeat (a list), after ``warmup`` untimed calls.

    Stops early (but after at least three repeats) once ``budget_s`` is spent.
    """
    if setup is None:
        setup, call = _no_setup, (lambda _: fn())
    else:
        call = fn
    if torch.device(device).type == "cuda":
        return _cuda_times(call, setup, repeats, warmup, budget_s)
    return _cpu_times(call, setup, repeats, warmup, budget_s)


def summary(times):
    """Median, 20th/80th percentiles and minimum of ``times`` (seconds), in milliseconds."""
    ms = sorted(t * 1e3 for t in times)
    q = statistics.quantiles(ms, n=5, method="inclusive") if len(ms) > 1 else [ms[0]] * 4
    return {"median_ms": statistics.median(ms), "p20_ms": q[0], "p80_ms": q[3], "min_ms": ms[0], "repeats": len(ms)}


def measure_interleaved(fns: dict, repeats: int = 7, warmup: int = 1):
    """CPU timing of several callables taking turns, one call each per round, so that load
    from other processes on a shared machine falls on all of them alike. Returns name -> seconds."""
    for fn in fns.values():
        for _ in range(warmup):
            fn()
    times = {name: [] for name in fns}
    for _ in range(repeats):
        for name, fn in fns.items():
            t0 = time.perf_counter()
            fn()
            times[name].append(time.perf_counter() - t0)
    return times


def layer_parser(doc: str) -> argparse.ArgumentParser:
    """The options of the CPU layer benches (the first line of ``doc`` describes the script): the
    shape ``[T, B, N]``, the torch threads and the interleaved rounds."""
    p = argparse.ArgumentParser(description=doc.splitlines()[0])
    p.add_argument("--T", type=int, default=100)
    p.add_argument("--B", type=int, default=32)
    p.add_argument("--N", type=int, default=1024)
    p.add_argument("--threads", type=int, default=1)
    p.add_argument("--repeats", type=int, default=9, help="interleaved rounds (median reported)")
    return p


def report_against(title: str, times: dict, theirs: str, ours: str = "tritonsnn") -> None:
    """Print the medians of ``times`` (name -> seconds) and how many times as fast ``ours`` runs as ``theirs``."""
    medians = {k: summary(v)["median_ms"] for k, v in times.items()}
    print(title)
    width = max(map(len, medians))
    for k, ms in medians.items():
        print(f"{k:>{width}}: {ms:7.1f} ms")
    print(f"{ours} is {medians[theirs] / medians[ours]:.2f}x as fast as {theirs}")


def steady_allocator() -> str:
    """Ask glibc to keep freed memory instead of handing it back to the OS; returns what was done.

    By default glibc gives a freed buffer of tens of MB back (unmaps it or trims the heap) or
    keeps it, depending on the heap's layout at that moment, and the next call then page-faults
    its fresh buffer in, or not. On a VM one such 13 MB buffer costs about as much as a whole
    Leaky forward at the CPU table's shape, so timings turn bimodal for reasons outside the code
    timed. Raising the mmap and trim thresholds (``mallopt``) makes every call reuse memory; it
    applies to the whole process, so to every provider alike.
    """
    M_TRIM_THRESHOLD, M_MMAP_THRESHOLD = -1, -3  # glibc's malloc.h
    try:
        libc = ctypes.CDLL("libc.so.6")
        done = libc.mallopt(M_MMAP_THRESHOLD, 32 << 20) == 1 and libc.mallopt(M_TRIM_THRESHOLD, 1 << 30) == 1
    except (OSError, AttributeError):  # not glibc
        done = False
    return (
        "glibc kept freed memory (mallopt: mmap threshold 32 MiB, trim threshold 1 GiB)"
        if done
        else "allocator defaults (glibc mallopt not available)"
    )
