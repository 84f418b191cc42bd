"""Activation memory of BPTT: a deep Linear+Leaky network, plain against tsnn.memory's options.

    python bench/memory.py [--T 512 --B 32 --N 1024 --layers 4 --chunk 32 --repeats 3]
    python bench/memory.py --T 2048 --repeats 1 --providers plain,chunked+packed

Memory: each provider runs in a fresh subprocess whose glibc malloc maps every buffer of 128 KiB
or more on its own and unmaps it when freed (``MALLOC_MMAP_THRESHOLD_``/``MALLOC_TRIM_THRESHOLD_``),
so the resident set follows the live tensors instead of the allocator's history. After one
warm-up step, the peak resident set (``VmHWM``, reset through ``/proc/self/clear_refs``) of one
forward pass, graph kept for backward, minus the resident set before it, is the forward peak;
it includes the network's output ``[T, B, N]`` (fp32: 4 B per element-step of the last layer),
which any provider must hand back; "activations" is the peak less that output, and
``B/elem-step`` divides the activations by layers * T * B * N.
On CUDA (``--device cuda``) the same is ``torch.cuda.max_memory_allocated``.

Time: fwd+bwd of every provider in one process, taking turns (one call each per round), median.
Before timing, every provider's output spikes must equal the plain network's.

Providers: ``plain`` (tritonsnn, one call per layer on [T, B, N]), ``packed``
(``tsnn.memory.pack_spikes``), ``chunked`` (``tsnn.memory.TimeChunked(chunk=K)``),
``chunked+packed``, ``loop`` (a plain PyTorch loop over steps, as its users write it: per-step
``nn.Linear`` and an ATan-surrogate LIF in snnTorch's order) and, when installed, SpikingJelly
2.0 (``sj``: multi-step ``LIFNode`` with ``nn.Linear`` in ``SeqToANNContainer``, its soft reset;
``sj-memopt``: the same after ``memopt.optimize_memory(level=1)``, every Linear+LIF block
checkpointed and its binary input compressed; levels 2-4 search on CUDA only).
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import subprocess
import sys
from pathlib import Path

if __package__ in (None, ""):  # run as a script: make `bench` importable
    sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

import torch
from rich.console import Console
from rich.table import Table
from torch import nn

import tritonsnn as tsnn
from bench import cases
from bench.timing import measure_interleaved, steady_allocator, summary

BETA, THRESHOLD = 0.9, 1.0
PROVIDERS = (
    "plain",
    "packed",
    "compact",
    "compact+packed",
    "chunked",
    "chunked+packed",
    "chunked+packed+compact",
    "loop",
    "sj",
    "sj-memopt",
)


def parse_args(argv=None):
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--T", type=int, default=512, help="time steps")
    p.add_argument("--B", type=int, default=32, help="batch size")
    p.add_argument("--N", type=int, default=1024, help="neurons per layer (and input features)")
    p.add_argument("--layers", type=int, default=4, help="Linear(N, N) + Leaky layers")
    p.add_argument("--chunk", type=int, default=32, help="TimeChunked's steps per chunk")
    p.add_argument("--repeats", type=int, default=3, help="timed rounds (median reported)")
    p.add_argument("--threads", type=int, default=2, help="torch.set_num_threads")
    p.add_argument("--device", default="cpu")
    p.add_argument("--providers", default=",".join(PROVIDERS), help="comma-separated subset of " + ", ".join(PROVIDERS))
    p.add_argument("--no-time", action="store_true", help="memory only")
    p.add_argument("--child", default=None, help=argparse.SUPPRESS)  # internal: measure one provider's memory
    return p.parse_args(argv)


# ------------------------------------------------------------------------------ networks


def _linears(args):
    torch.manual_seed(0)
    return [nn.Linear(args.N, args.N) for _ in range(args.layers)]


def tritonsnn_net(args):
    layers = []
    for lin in _linears(args):
        layers += [lin, tsnn.Leaky(BETA, THRESHOLD, backend="auto")]
    return nn.Sequential(*layers)


class LoopNet(nn.Module):
    """Per step and layer: ``cur = W s + b``, then the plain loop's snnTorch Leaky step
    (``bench/cases.py:leaky_step``: subtract reset, reset_delay, ATan surrogate)."""

    def __init__(self, args):
        super().__init__()
        self.linears = nn.ModuleList(_linears(args))

    def forward(self, x):
        outs = []
        mems = [torch.zeros(x.shape[1], lin.out_features, device=x.device) for lin in self.linears]
        for x_t in x.unbind(0):
            s = x_t
            for i, lin in enumerate(self.linears):
                s, mems[i] = cases.leaky_step(lin(s), mems[i], BETA, THRESHOLD)
            outs.append(s)
        return torch.stack(outs)


class SJBlock(nn.Sequential):
    """One SpikingJelly layer, Linear then LIF: the unit its memopt checkpoints (and whose spike
    input it compresses)."""


def sj_net(args):
    from spikingjelly.activation_based import layer, neuron, surrogate  # noqa: PLC0415

    mods = []
    for lin in _linears(args):
        mods += [
            SJBlock(
                layer.SeqToANNContainer(lin),
                neuron.LIFNode(
                    tau=1 / (1 - BETA),
                    decay_input=False,
                    v_threshold=THRESHOLD,
                    v_reset=None,
                    surrogate_function=surrogate.ATan(),
                    detach_reset=True,
                    step_mode="m",
                ),
            )
        ]
    return nn.Sequential(*mods)


def build(provider, args):
    """``run(x) -> spikes [T, B, N]`` of one provider, or a reason it cannot run."""
    if provider == "loop":
        return LoopNet(args).to(args.device), None
    if provider.startswith("sj"):
        try:
            net = sj_net(args).to(args.device)
            from spikingjelly.activation_based import functional as sjf  # noqa: PLC0415
            from spikingjelly.activation_based import memopt  # noqa: PLC0415
        except ImportError as err:
            return None, f"SpikingJelly is not installed ({err})"

        def run(x, net=net):
            sjf.reset_net(net)
            return net(x)

        if provider == "sj-memopt":  # level 1: checkpoint every block, compress binary inputs
            memopt.optimize_memory(net, (SJBlock,), lambda m: run(make_input(args)[:8], m), level=1)
        return run, None
    options = set(provider.split("+"))  # plain, or some of chunked / packed / compact
    net = tritonsnn_net(args).to(args.device)
    if "chunked" in options:
        net = tsnn.memory.TimeChunked(net, args.chunk)
    contexts = [c for name, c in CONTEXTS.items() if name in options]
    if not contexts:
        return net, None

    def run(x, net=net):
        with contextlib.ExitStack() as stack:
            for context in contexts:
                stack.enter_context(context())
            return net(x)

    run.net = net
    return run, None


CONTEXTS = {"packed": tsnn.memory.pack_spikes, "compact": tsnn.memory.compact_state}


def make_input(args):
    g = torch.Generator().manual_seed(1)
    return (torch.rand(args.T, args.B, args.N, generator=g) * 0.08).to(args.device)


# ------------------------------------------------------------------------------ memory


def _rss_kib(field):
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith(field + ":"):
            return int(line.split()[1])
    raise RuntimeError(f"no {field} in /proc/self/status")


def child(args):
    """One provider's forward peak, printed as JSON (run in a fresh process by :func:`memory_of`)."""
    torch.set_num_threads(args.threads)
    run, reason = build(args.child, args)
    if run is None:
        print(json.dumps({"error": reason}))
        return 0
    x = make_input(args)
    small = x[: min(args.chunk, args.T)]
    run(small).sum().backward()  # warm-up: lazy initialisation, first-call caches
    cuda = args.device == "cuda"
    if cuda:
        torch.cuda.synchronize()
        torch.cuda.reset_peak_memory_stats()
        before = torch.cuda.memory_allocated()
    else:
        Path("/proc/self/clear_refs").write_text("5")  # reset VmHWM to the current resident set
        before = _rss_kib("VmRSS") * 1024
    out = run(x)
    peak = torch.cuda.max_memory_allocated() if cuda else _rss_kib("VmHWM") * 1024
    out.sum().backward()  # the graph was kept to here
    print(json.dumps({"forward_peak": peak - before, "output": out.numel() * out.element_size()}))
    return 0


def memory_of(provider, args):
    env = dict(os.environ, MALLOC_MMAP_THRESHOLD_="131072", MALLOC_TRIM_THRESHOLD_="131072")
    env["PYTHONPATH"] = str(Path(__file__).resolve().parent.parent) + os.pathsep + env.get("PYTHONPATH", "")
    cmd = [sys.executable, str(Path(__file__).resolve()), "--child", provider]
    for key in ("T", "B", "N", "layers", "chunk", "threads", "device"):
        cmd += [f"--{key}", str(getattr(args, key))]
    done = subprocess.run(cmd, capture_output=True, text=True, env=env, check=False)
    if done.returncode:
        return {"error": done.stderr.strip().splitlines()[-1] if done.stderr.strip() else "failed"}
    return json.loads(done.stdout.strip().splitlines()[-1])


# ------------------------------------------------------------------------------ main


def _parameter_grads(run, x):
    params = list(getattr(run, "net", run).parameters())
    for p in params:
        p.grad = None
    run(x).sum().backward()
    return torch.cat([p.grad.reshape(-1) for p in params])


def _gradient_errors(runs, x, skipped):
    """Relative error (2-norm over every parameter gradient) of each tritonsnn provider against the
    plain network's (all start from the same seeded weights); 0 where they are equal bit for bit."""
    if "plain" not in runs:
        return {}
    want = _parameter_grads(runs["plain"], x)
    errors = {}
    for p, run in runs.items():
        if p in skipped or p == "loop" or p.startswith("sj"):
            continue
        got = _parameter_grads(run, x)
        errors[p] = float((got - want).norm() / want.norm())
    return errors


def main(argv=None):
    args = parse_args(argv)
    if args.child:
        return child(args)
    torch.set_num_threads(args.threads)
    providers = [p for p in args.providers.split(",") if p]
    unknown = set(providers) - set(PROVIDERS)
    if unknown:
        print(f"unknown providers {sorted(unknown)}; choose from {PROVIDERS}", file=sys.stderr)
        return 2
    runs, skipped = {}, {}
    for p in providers:
        run, reason = build(p, args)
        if run is None:
            skipped[p] = reason
        else:
            runs[p] = run
    memory = {p: memory_of(p, args) for p in runs}

    times, grad_error = {}, {}
    if not args.no_time:
        allocator = steady_allocator()
        x = make_input(args)
        outs = {p: run(x).detach() for p, run in runs.items()}
        for p, out in outs.items():
            # SpikingJelly's soft reset decays the subtracted threshold (snnTorch's does not): its
            # providers are checked against each other only.
            ref = next(q for q in outs if q.startswith("sj") == p.startswith("sj"))
            mismatch = int((out != outs[ref]).sum())
            if mismatch:  # a ratio between different computations would mean nothing
                skipped[p] = f"spikes differ from {ref} at {mismatch} elements"
        grad_error = _gradient_errors(runs, x, skipped)
        timed = {p: (lambda run=run: run(x).sum().backward()) for p, run in runs.items() if p not in skipped}
        times = {p: summary(t) for p, t in measure_interleaved(timed, repeats=args.repeats, warmup=0).items()}
    else:
        allocator = "not timed"

    elems = args.layers * args.T * args.B * args.N
    base_mem = memory.get("plain", {}).get("forward_peak")
    base_time = times.get("plain", {}).get("median_ms")
    table = Table(
        title=f"{args.layers} x (Linear({args.N}) + Leaky), T={args.T} B={args.B}, fp32, {args.device}, "
        f"{args.threads} thread(s), chunk {args.chunk}",
        caption=f"memory: fresh process per provider, malloc mmap/trim thresholds 128 KiB; time: {allocator}, "
        f"median of {args.repeats}",
    )
    base_act = base_mem - memory["plain"]["output"] if base_mem else None
    columns = ("provider", "forward peak MiB", "less than plain", "activations MiB", "B/elem-step", "less than plain ")
    for col in (*columns, "fwd+bwd s", "time vs plain", "grad rel. error"):
        table.add_column(col, justify="left" if col == "provider" else "right")
    results = {}
    for p in runs:
        peak = memory[p].get("forward_peak")
        act = peak - memory[p]["output"] if peak else None
        t = times.get(p, {}).get("median_ms")
        results[p] = {"forward_peak_bytes": peak, "activation_bytes": act, "fwd_bwd_ms": t}
        results[p]["error"] = memory[p].get("error")
        results[p]["grad_rel_error"] = grad_error.get(p)
        table.add_row(
            p,
            f"{peak / 2**20:.0f}" if peak else memory[p].get("error", "-"),
            f"{base_mem / peak:.1f}x" if peak and base_mem else "-",
            f"{act / 2**20:.0f}" if peak else "-",
            f"{act / elems:.2f}" if peak else "-",
            f"{base_act / act:.1f}x" if peak and base_act else "-",
            f"{t / 1e3:.2f}" if t else skipped.get(p, "-"),
            f"{t / base_time:.2f}x" if t and base_time else "-",
            f"{grad_error[p]:.1e}" if p in grad_error else "-",
        )
    for p, reason in skipped.items():
        if p not in runs:
            table.add_row(p, reason, *[""] * 8)
    Console(width=160).print(table)
    print(json.dumps({"shape": [args.T, args.B, args.N], "layers": args.layers, "results": results}))
    return 0


if __name__ == "__main__":
    sys.exit(main())
