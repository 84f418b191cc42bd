"""GPU tier: Leaky (LIF) layers across SNN packages, and every neuron against snnTorch, timed.

    python -m bench.gpu                  # full sweep on the first CUDA device
    python -m bench.gpu --quick          # a short subset
    python -m bench.gpu --device cpu --quick   # tiny shapes on the CPU: tests the script itself

Two settings:

* ``neuron``: the neuron layer alone on ``x [T, B, N]`` (no Linear in the timed
  region), sweeping T and B*N, fp32 and bf16. Reports achieved GB/s over the
  minimal traffic (:func:`min_bytes_per_elem`) and its fraction of the
  device-to-device copy bandwidth measured in the same run.
* ``linear+lif``: the Open Neuromorphic setting, ``Linear(N, N)`` applied to the
  whole sequence then LIF, T=500, B=16, N in 4096/8192/16384, fp32.
* ``family``: every row of ``bench/cases.py`` (each neuron, and RLeaky/RSynaptic with
  all-to-all recurrence) at the CPU table's shape, T=100, B=32, N=1024, fp32: tritonsnn's
  Triton kernels and PyTorch path against snnTorch's per-step loop, spikes compared.

Each is timed in three modes: ``fwd`` (training forward, graph recorded), ``bwd``
(backward of a recorded graph) and ``fwd+bwd``, after warm-up calls (compilation
and autotuning happen there). Every row also carries the peak memory of one
call and the bytes the provider saves for backward per element. The speed-up
of tritonsnn over a provider is the ratio of medians from the same run.
Results are printed as tables and written to ``bench/results/<device>_<date>.json``.
"""

from __future__ import annotations

import argparse
import datetime as dt
import gc
import importlib.metadata
import json
import platform
import re
import sys
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import torch
from rich.console import Console
from rich.table import Table

import tritonsnn as tsnn
from bench import cases
from bench.timing import measure, summary

SCHEMA = "tritonsnn-bench-gpu/1"
RESULTS_DIR = Path(__file__).resolve().parent / "results"
DTYPES = {"fp32": torch.float32, "bf16": torch.bfloat16}
MODES = ("fwd", "bwd", "fwd+bwd")
BETA, THRESHOLD = 0.9, 1.0
BATCH = 32  # B for the neuron sweep; N = elems // B

SWEEP = dict(
    T=(16, 100, 500, 2000),
    elems=tuple(1 << k for k in range(16, 27, 2)),
    dtypes=("fp32", "bf16"),
    on_T=500,
    on_B=16,
    on_N=(4096, 8192, 16384),
)
QUICK = dict(T=(100, 500), elems=(1 << 18, 1 << 22), dtypes=("fp32",), on_T=500, on_B=16, on_N=(4096,))
CPU_QUICK = dict(
    T=(4, 16),
    elems=(256,),
    dtypes=("fp32",),
    on_T=8,
    on_B=2,
    on_N=(32,),  # tiny: tests the script
    family=(4, 2, 16),
)
FAMILY_SHAPE = (100, 32, 1024)  # T, B, N of the family setting: the CPU table's shape
REFERENCES = ("tritonsnn-triton", "tritonsnn-torch")  # the speed-up is of the first of these that ran


# ----------------------------------------------------------------------------- providers


@dataclass
class Provider:
    """A way to run a Leaky layer. ``make(device, dtype, T)`` returns ``fn: x [T, B, N] -> spikes``
    (stateless across calls) or raises :class:`Skip`."""

    name: str
    make: Callable
    needs_cuda: bool = False
    note: str = ""


class Skip(Exception):
    """A provider or shape that cannot run here; the message says why."""


def _version(dist):
    try:
        return importlib.metadata.version(dist)
    except importlib.metadata.PackageNotFoundError:
        return None


def _tritonsnn(backend):
    def make(device, dtype, T):
        return tsnn.Leaky(beta=BETA, threshold=THRESHOLD, backend=backend).to(device)

    return make


def _snntorch(device, dtype, T):
    if cases.snntorch is None:
        raise Skip("snntorch is not importable (pip install snntorch)")
    return cases.snntorch_loop(cases.snntorch.Leaky(beta=BETA, threshold=THRESHOLD).to(device))


def _spikingjelly(device, dtype, T):
    """SpikingJelly's LIFNode in multi-step mode, soft reset (its nearest match to snnTorch's Leaky:
    ``decay_input=False``, ``tau = 1/(1-beta)``, same-step reset). Older releases take a
    ``backend`` argument: the fastest that runs here is used; 2.x picks its kernels itself."""
    try:
        from spikingjelly.activation_based import neuron, surrogate
    except ImportError as e:
        raise Skip(f"spikingjelly is not importable ({e}); see bench/README.md") from None
    common = dict(
        tau=1.0 / (1.0 - BETA),
        decay_input=False,
        v_threshold=THRESHOLD,
        v_reset=None,
        detach_reset=True,
        surrogate_function=surrogate.ATan(alpha=2.0),
        step_mode="m",
    )
    errors = []
    for backend in ("triton", "cupy", "torch", None):
        try:
            node = neuron.LIFNode(**common, **({} if backend is None else {"backend": backend})).to(device)

            def run(x, node=node):
                node.reset()  # SpikingJelly keeps the membrane between calls
                return node(x)

            probe = torch.zeros(2, 1, 4, device=device, dtype=dtype, requires_grad=True)
            run(probe).sum().backward()
        except Exception as e:  # noqa: BLE001  (any failure means: try the next backend)
            errors.append(f"{backend}: {type(e).__name__}: {str(e)[:80]}")
            continue
        run.label = f"backend={backend or 'auto'}"
        return run
    raise Skip("no SpikingJelly LIFNode backend runs here: " + "; ".join(errors))


def _norse(device, dtype, T):
    """norse's multi-step ``LIF`` with its default parameters (current-based LIF, dt = 1 ms):
    a different neuron model, timed as norse users run it."""
    try:
        import norse.torch as norse_torch
    except ImportError as e:
        raise Skip(f"norse is not importable ({e}); see bench/README.md") from None
    layer = norse_torch.LIF().to(device)
    return lambda x: layer(x)[0]


def _compiled_step(device, dtype, T):
    step = torch.compile(cases.leaky_step, dynamic=False)
    return lambda x: cases.plain_leaky(x, BETA, THRESHOLD, step=step)


def _compiled_loop(max_T):
    def make(device, dtype, T):
        if T > max_T:
            raise Skip(f"torch.compile unrolls the time loop: T={T} > --compile-max-T {max_T}")
        return torch.compile(cases.plain_leaky, dynamic=False)

    return make


def family_providers(case, N):
    """tritonsnn (both backends) and snnTorch for one row of ``bench/cases.py`` at ``N`` features."""

    def make_with(provider, backend="torch"):
        def make(device, dtype, T):
            fn, reason = cases.build(case, provider, N, device=device, backend=backend)
            if fn is None:
                raise Skip(reason)
            return fn

        return make

    return [
        Provider("tritonsnn-triton", make_with("tritonsnn", "triton"), needs_cuda=True, note="fused Triton kernels"),
        Provider("tritonsnn-torch", make_with("tritonsnn"), note="tritonsnn PyTorch path (backend='torch')"),
        Provider("snntorch", make_with("snntorch"), note="the snnTorch neuron, one call per step"),
    ]


def providers(args):
    return [
        Provider("tritonsnn-triton", _tritonsnn("triton"), needs_cuda=True, note="fused Triton kernels"),
        Provider("tritonsnn-torch", _tritonsnn("torch"), note="tritonsnn PyTorch path (backend='torch')"),
        Provider("snntorch", _snntorch, note="snntorch.Leaky, one call per step"),
        Provider("spikingjelly", _spikingjelly, note="LIFNode step_mode='m', soft same-step reset"),
        Provider("norse", _norse, note="norse.torch.LIF (current-based, its own dynamics)"),
        Provider("compile-step", _compiled_step, note="torch.compile of one plain step, Python time loop"),
        Provider(
            "compile-loop", _compiled_loop(args.compile_max_T), note="torch.compile of the whole plain loop (unrolled)"
        ),
    ]


# ----------------------------------------------------------------------------- measurements


def min_bytes_per_elem(dtype, mode):
    """Least traffic per element: forward reads x, writes spikes and the saved fp32 state;
    backward reads the spike gradient and the state and writes the input gradient."""
    io = torch.empty((), dtype=dtype).element_size()
    one_pass = 2 * io + 4
    return {"fwd": one_pass, "bwd": one_pass, "fwd+bwd": 2 * one_pass}[mode]


def copy_bandwidth(device, nbytes, repeats):
    """Device-to-device copy bandwidth in GB/s (bytes read + bytes written per second)."""
    src = torch.empty(nbytes // 4, dtype=torch.float32, device=device).uniform_()
    dst = torch.empty_like(src)
    times = measure(lambda: dst.copy_(src), device, repeats=repeats, warmup=3)
    return 2 * src.numel() * 4 / summary(times)["median_ms"] * 1e3 / 1e9


def saved_bytes(forward, exclude_ptrs):
    """Bytes of distinct storages saved for backward while running ``forward()``, leaving
    out the storages in ``exclude_ptrs`` (inputs and parameters, held anyway)."""
    seen = {}

    def pack(t):
        storage = t.untyped_storage()
        if storage.data_ptr() not in exclude_ptrs:
            seen[storage.data_ptr()] = storage.nbytes()
        return t

    with torch.autograd.graph.saved_tensors_hooks(pack, lambda t: t):
        out = forward()
    del out
    return sum(seen.values())


def peak_bytes(fn, device, setup=None):
    """Memory allocated at the peak of one ``fn()`` call (``fn(setup())`` with a setup) beyond
    what was allocated before it (the setup's output included)."""
    if torch.device(device).type != "cuda":
        return None
    args = () if setup is None else (setup(),)
    torch.cuda.synchronize()
    base = torch.cuda.memory_allocated()
    torch.cuda.reset_peak_memory_stats()
    out = fn(*args)
    torch.cuda.synchronize()
    del out, args
    return torch.cuda.max_memory_allocated() - base


def free_bytes(device):
    if torch.device(device).type == "cuda":
        return torch.cuda.mem_get_info()[0]
    with open("/proc/meminfo") as f:
        info = dict(line.split(":", 1) for line in f)
    return int(info["MemAvailable"].split()[0]) * 1024


def _release(device):
    gc.collect()
    if torch.device(device).type == "cuda":
        torch.cuda.empty_cache()


# ----------------------------------------------------------------------------- one shape


@dataclass
class Shape:
    setting: str  # "neuron" | "linear+lif" | "family"
    T: int
    B: int
    N: int
    dtype: str
    neuron: str = ""  # family: the row label of bench/cases.py

    @property
    def elems(self):
        return self.T * self.B * self.N


def _workload(shape, device, seed=0):
    """Inputs for one shape: ``(x, grad, wrap, grad_targets, exclude_ptrs)`` where ``wrap(neuron_fn)``
    is the timed function of x and ``grad_targets`` what backward differentiates."""
    dtype = DTYPES[shape.dtype]
    g = torch.Generator(device=device).manual_seed(seed)
    size = (shape.T, shape.B, shape.N)
    grad = torch.randn(size, generator=g, device=device).to(dtype)
    if shape.setting in ("neuron", "family"):
        case = _case(shape) if shape.setting == "family" else None
        scale, shift = (case.input_scale, case.input_shift) if case else (0.5, 0.2)
        x = (torch.randn(size, generator=g, device=device) * scale + shift).to(dtype).requires_grad_()
        return x, grad, (lambda fn: fn), (x,), {x.untyped_storage().data_ptr()}
    x = torch.randn(size, generator=g, device=device).to(dtype)
    linear = torch.nn.Linear(shape.N, shape.N, device=device, dtype=dtype)
    params = tuple(linear.parameters())
    exclude = {t.untyped_storage().data_ptr() for t in (x, *params)}
    return x, grad, (lambda fn: lambda x: fn(linear(x))), params, exclude


def run_shape(shape, provs, device, args, estimates, log):
    """Measure every provider on one shape; returns result rows (dicts)."""
    rows = []
    base = dict(setting=shape.setting, T=shape.T, B=shape.B, N=shape.N, elems=shape.elems, dtype=shape.dtype)
    if shape.setting == "family":
        base["neuron"] = shape.neuron
        provs = [p for p in family_providers(_case(shape), shape.N) if p.name in {q.name for q in provs}]
    io = torch.empty((), dtype=DTYPES[shape.dtype]).element_size()
    need_inputs = 2 * shape.elems * io
    if need_inputs > 0.5 * free_bytes(device):
        reason = f"inputs need {need_inputs / 2**30:.1f} GiB, over half of the free memory"
        return [dict(base, provider=p.name, mode=m, status="skipped", reason=reason) for p in provs for m in MODES]
    x, grad, wrap, targets, exclude = _workload(shape, device)
    reference_spikes = {}  # the first provider that runs sets it; the others report agreement
    for prov in provs:
        key = (prov.name, shape.setting, shape.dtype, shape.neuron)
        status, reason = "skipped", _guard(prov, shape, device, args, estimates.get(key))
        if reason is None:
            try:
                made = prov.make(device, DTYPES[shape.dtype], shape.T)
                base_p = dict(base, label=getattr(made, "label", None))
                prov_rows = _measure_provider(
                    prov, wrap(made), x, grad, targets, exclude, device, args, base_p, reference_spikes
                )
            except Skip as e:
                reason = str(e)
            except torch.OutOfMemoryError:
                status, reason = "oom", "out of memory"
            except Exception as e:  # noqa: BLE001  (reported in the row; the sweep goes on)
                status, reason = "error", f"{type(e).__name__}: {str(e).splitlines()[0][:160]}"
            else:
                rows += prov_rows
                fwd_bwd = prov_rows[-1]
                estimates[key] = dict(
                    bytes_per_elem=(fwd_bwd["peak_mem_bytes"] or 0) / shape.elems,
                    s_per_elem=fwd_bwd["median_ms"] / 1e3 / shape.elems,
                )
                log(f"  {prov.name:17s} fwd+bwd {fwd_bwd['median_ms']:9.3f} ms")
                continue
            finally:
                made = prov_rows = None
                _release(device)
        log(f"  {prov.name:17s} {status}: {reason}")
        rows += [dict(base, provider=prov.name, mode=m, status=status, reason=reason) for m in MODES]
    _add_speedups(rows)
    del x, grad, targets
    _release(device)
    return rows


def _guard(prov, shape, device, args, estimate):
    """Why ``prov`` must not run ``shape`` here, or None. Estimates come from the same
    provider's largest shape measured so far in this run (shapes run smallest first)."""
    if prov.needs_cuda and torch.device(device).type != "cuda":
        return "needs a CUDA device"
    if estimate is None:
        return None
    need = estimate["bytes_per_elem"] * shape.elems
    if need > 0.9 * free_bytes(device):
        return (
            f"predicted peak {need / 2**30:.1f} GiB (from a smaller shape) exceeds "
            f"the free {free_bytes(device) / 2**30:.1f} GiB"
        )
    call_s = estimate["s_per_elem"] * shape.elems
    if call_s > args.max_call_s:
        return f"predicted {call_s:.1f} s per fwd+bwd call exceeds --max-call-s {args.max_call_s}"
    return None


def _measure_provider(prov, fn, x, grad, targets, exclude, device, args, base, reference_spikes):
    def fwd():
        return fn(x)

    def fwd_bwd():
        return torch.autograd.grad(fn(x), targets, grad)

    for _ in range(2):  # warm-up: compilation, autotuning, allocator
        fwd_bwd()
    with torch.no_grad():
        spikes = fwd() > 0
    spike_rate = spikes.float().mean().item()
    ref_name, ref = reference_spikes.setdefault("spikes", (prov.name, spikes))
    agreement = (spikes == ref).float().mean().item()  # 1.0 where both compute the same neuron
    del spikes, ref

    def bwd(out):  # out: a fresh forward from the untimed setup, so no graph is kept or reused
        return torch.autograd.grad(out, targets, grad)

    saved = saved_bytes(fwd, exclude)
    rows = []
    for mode, call, setup in (("fwd", fwd, None), ("bwd", bwd, fwd), ("fwd+bwd", fwd_bwd, None)):
        times = measure(call, device, repeats=args.repeats, warmup=1, budget_s=args.budget_s, setup=setup)
        row = dict(
            base,
            provider=prov.name,
            mode=mode,
            status="ok",
            reason=None,
            **summary(times),
            peak_mem_bytes=peak_bytes(call, device, setup),
            saved_bytes_per_elem=saved / base["elems"],
            spike_rate=spike_rate,
            spike_agreement=agreement,
            agreement_with=ref_name,
        )
        if base["setting"] == "neuron":
            row["min_bytes_per_elem"] = min_bytes_per_elem(DTYPES[base["dtype"]], mode)
            row["gbps"] = row["min_bytes_per_elem"] * base["elems"] / (row["median_ms"] / 1e3) / 1e9
        rows.append(row)
    return rows


def _add_speedups(rows):
    """``tritonsnn_speedup`` = this provider's median / the reference's median, per mode."""
    for mode in MODES:
        ok = {r["provider"]: r for r in rows if r["mode"] == mode and r["status"] == "ok"}
        ref = next((ok[name] for name in REFERENCES if name in ok), None)
        for r in rows:
            if r["mode"] == mode:
                r["reference"] = ref["provider"] if ref else None
                r["tritonsnn_speedup"] = (r["median_ms"] / ref["median_ms"]) if ref and r["status"] == "ok" else None


# ----------------------------------------------------------------------------- driver


def shapes(plan):
    out = []
    for dtype in plan["dtypes"]:
        for T in plan["T"]:
            for elems in plan["elems"]:
                B = min(BATCH, elems)
                out.append(Shape("neuron", T, B, elems // B, dtype))
    out.sort(key=lambda s: (s.dtype != "fp32", s.elems))  # small first: later guards use their estimates
    out += [Shape("linear+lif", plan["on_T"], plan["on_B"], N, "fp32") for N in plan["on_N"]]
    out += [Shape("family", *plan.get("family", FAMILY_SHAPE), "fp32", neuron=c.label) for c in cases.CASES]
    return out


def _case(shape):
    return next(c for c in cases.CASES if c.label == shape.neuron)


def device_info(device):
    info = dict(
        type=torch.device(device).type,
        torch=torch.__version__,
        triton=_version("triton"),
        tritonsnn=getattr(tsnn, "__version__", None),
        python=platform.python_version(),
        threads=torch.get_num_threads(),
    )
    if info["type"] == "cuda":
        props = torch.cuda.get_device_properties(device)
        info.update(
            name=props.name,
            memory_bytes=props.total_memory,
            cuda=torch.version.cuda,
            sm_count=props.multi_processor_count,
        )
    else:
        info.update(name=platform.processor() or platform.machine() or "cpu")
    return info


def default_output(info, now):
    name = re.sub(r"[^A-Za-z0-9]+", "-", info["name"]).strip("-") or info["type"]
    if info["type"] == "cpu":
        name = f"cpu-{name}"
    return RESULTS_DIR / f"{name}_{now:%Y%m%d-%H%M%S}.json"


def parse_args(argv=None):
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--device", default="cuda", help="cuda (default), cuda:N or cpu")
    p.add_argument("--quick", action="store_true", help="a short subset (tiny shapes with --device cpu)")
    p.add_argument("--providers", default=None, help="comma-separated subset of provider names")
    p.add_argument("--settings", default="neuron,linear+lif,family", help="comma-separated: neuron, linear+lif, family")
    p.add_argument("--T", type=int, nargs="+", default=None, help="override the T sweep")
    p.add_argument("--elems", type=int, nargs="+", default=None, help="override the B*N sweep")
    p.add_argument("--dtypes", nargs="+", default=None, choices=sorted(DTYPES), help="override the dtypes")
    p.add_argument("--on-N", type=int, nargs="+", default=None, help="override N of the linear+lif setting")
    p.add_argument("--repeats", type=int, default=None, help="timed repeats per mode (default 20; 5 on cpu)")
    p.add_argument("--budget-s", type=float, default=5.0, help="stop repeating a mode after this long (min 3)")
    p.add_argument(
        "--max-call-s",
        type=float,
        default=5.0,
        help="skip shapes predicted to take longer per fwd+bwd call for a provider",
    )
    p.add_argument("--compile-max-T", type=int, default=100, help="largest T for compile-loop (it unrolls T)")
    p.add_argument("--threads", type=int, default=None, help="torch.set_num_threads (default 1 on cpu)")
    p.add_argument("--out", type=Path, default=None, help="JSON path (default bench/results/<device>_<date>.json)")
    return p.parse_args(argv)


def main(argv=None):
    args = parse_args(argv)
    console = Console(width=None if sys.stdout.isatty() else 200)
    device = args.device
    if torch.device(device).type == "cuda" and not torch.cuda.is_available():
        console.print("[red]no CUDA device here: run with --device cpu --quick to test the script[/red]")
        return 2
    on_cpu = torch.device(device).type == "cpu"
    if args.threads or on_cpu:  # one thread by default on the CPU: the tiny shapes suffer from more
        torch.set_num_threads(args.threads or 1)
    if args.repeats is None:
        args.repeats = 5 if on_cpu else 20
    plan = dict(CPU_QUICK if on_cpu and args.quick else QUICK if args.quick else SWEEP)
    for key, value in (("T", args.T), ("elems", args.elems), ("dtypes", args.dtypes), ("on_N", args.on_N)):
        if value:
            plan[key] = tuple(value)
    settings = set(args.settings.split(","))
    todo = [s for s in shapes(plan) if s.setting in settings]
    _raise_recompile_limit(len(todo))

    provs = providers(args)
    if args.providers:
        wanted = args.providers.split(",")
        unknown = set(wanted) - {p.name for p in provs}
        if unknown:
            console.print(f"[red]unknown providers {sorted(unknown)}; known: {[p.name for p in provs]}[/red]")
            return 2
        provs = [p for p in provs if p.name in wanted]

    now = dt.datetime.now(dt.timezone.utc)
    info = device_info(device)
    console.print(f"device: {info['name']} ({device}), torch {info['torch']}, triton {info['triton']}")
    copy_gbps = copy_bandwidth(device, (1 << 30) if not on_cpu else (64 << 20), args.repeats)
    console.print(f"device-to-device copy bandwidth: {copy_gbps:.1f} GB/s")

    provider_info = {}
    for p in provs:
        reason = "needs a CUDA device" if p.needs_cuda and on_cpu else None
        dist = {"snntorch": "snntorch", "spikingjelly": "spikingjelly", "norse": "norse"}.get(p.name)
        provider_info[p.name] = dict(note=p.note, version=_version(dist) if dist else None, reason=reason)
        if reason:
            console.print(f"[yellow]skip {p.name}: {reason}[/yellow]")

    out_path = args.out or default_output(info, now)
    result = dict(
        schema=SCHEMA,
        date=now.isoformat(),
        device=info,
        args=_jsonable(vars(args)),
        copy_gbps=copy_gbps,
        providers=provider_info,
        rows=[],
    )
    estimates = {}
    for shape in todo:
        console.print(f"{shape.setting} {shape.neuron} T={shape.T} B={shape.B} N={shape.N} {shape.dtype}")
        rows = run_shape(shape, provs, device, args, estimates, console.print)
        for r in rows:
            if r.get("gbps") is not None:
                r["roofline_frac"] = r["gbps"] / copy_gbps
        result["rows"] += rows
        _write(out_path, result)  # after every shape, so a run cut short keeps what it measured
    print_tables(console, result)
    console.print(f"wrote {out_path}")
    return 0


def _raise_recompile_limit(n):
    """torch.compile providers recompile for each shape; let them."""
    import torch._dynamo.config as dynamo_config

    for name in ("recompile_limit", "cache_size_limit"):
        if hasattr(dynamo_config, name):
            setattr(dynamo_config, name, max(getattr(dynamo_config, name), 4 * n + 8))


def _jsonable(d):
    return {k: (str(v) if isinstance(v, Path) else v) for k, v in d.items()}


def _write(path, result):
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_suffix(".tmp")
    tmp.write_text(json.dumps(result, indent=1))
    tmp.replace(path)


def print_tables(console, result):
    for setting in ("neuron", "linear+lif", "family"):
        rows = [r for r in result["rows"] if r["setting"] == setting and r["status"] == "ok"]
        if not rows:
            continue
        table = Table(
            title=f"{setting}: median ms (p20-p80); speed-up = provider / "
            f"{rows[0].get('reference') or 'tritonsnn'}, same run"
        )
        cols = ["T", "B x N", "dtype", "mode", "provider", "median ms", "p20-p80", "speed-up", "peak MiB", "saved B/el"]
        if setting == "neuron":
            cols[8:8] = ["GB/s", "roofline"]
        if setting == "family":
            cols.insert(0, "neuron")
        for c in cols:
            table.add_column(c, justify="left" if c in ("dtype", "mode", "provider") else "right")
        for r in rows:
            cells = [
                str(r["T"]),
                f"{r['B']}x{r['N']}",
                r["dtype"],
                r["mode"],
                r["provider"],
                f"{r['median_ms']:.3f}",
                f"{r['p20_ms']:.3f}-{r['p80_ms']:.3f}",
                _fmt(r.get("tritonsnn_speedup"), "{:.2f}x"),
            ]
            if setting == "neuron":
                cells += [_fmt(r.get("gbps"), "{:.3g}"), _fmt(r.get("roofline_frac"), "{:.0%}")]
            cells += [
                _fmt(r["peak_mem_bytes"] and r["peak_mem_bytes"] / 2**20, "{:.0f}"),
                f"{r['saved_bytes_per_elem']:.1f}",
            ]
            if setting == "family":
                cells.insert(0, r["neuron"])
            table.add_row(*cells)
        console.print(table)
    skipped = {(r["provider"], r["status"], r["reason"]) for r in result["rows"] if r["status"] != "ok"}
    for provider, status, reason in sorted(skipped, key=str):
        console.print(f"[yellow]{status}: {provider}: {reason}[/yellow]")


def _fmt(v, spec):
    return "-" if v is None else spec.format(v)


if __name__ == "__main__":
    sys.exit(main())
