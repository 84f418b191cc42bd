"""Raw timings of tritonsnn's fused Leaky and Synaptic kernels on one GPU, per autotune config.

The GPU kit's probe (``../shared/gpu/kernel_probe.py``) ported to the record contracts of
``tritonsnn/contracts.py`` (the kit's copy calls the removed positional launchers): copy this
file over it, ``cp bench/kernel_probe.py .whl/kernel_probe.py``, before ``device_check.sh``.

Run from the tritonsnn checkout (so `import tritonsnn` finds it):
    python bench/kernel_probe.py --out OUT.json            # on a CUDA machine
    TRITON_INTERPRET=1 python bench/kernel_probe.py --dry   # tiny CPU run: checks this script only

For each neuron (Leaky, Synaptic: bench defaults, subtract reset, reset_delay=True, spikes only),
dtype (fp32, bf16), T=100 and B*N in 64K/1M/16M (B=32), it times the forward and the backward
kernel alone (no autograd, no custom op) with every autotune config pinned, then with the
autotuner's own choice, via triton.testing.do_bench (L2 flushed before each repeat). GB/s use the
bytes the kernel moves (fwd: read x, write spikes + fp32 pre; bwd: read grad-spikes + fp32 pre,
write dx); 'frac' is that over the device-to-device copy bandwidth measured first. It also reads
n_regs/n_spills of every compiled variant from the driver, and checks 64-bit addressing: a run
with T*B*N > 2**31 elements must give bit-identical spikes/pre/dx to a run on its last 256 neurons.
"""

import argparse
import json
import os
import sys
import time

p = argparse.ArgumentParser()
p.add_argument("--out", default=None)
p.add_argument("--dry", action="store_true", help="CPU, interpreter, tiny shapes")
p.add_argument("--elems", type=int, nargs="+", default=[1 << 16, 1 << 20, 1 << 24])
p.add_argument("--T", type=int, default=100)
p.add_argument("--rep", type=int, default=40, help="do_bench rep (ms)")
p.add_argument("--no-int64", action="store_true")
p.add_argument("--no-family", action="store_true", help="skip the Triton-vs-PyTorch-path check of every neuron")
p.add_argument(
    "--stages",
    type=int,
    default=0,
    help="time a copy of the package whose Leaky/Synaptic time loops are tl.range(T, num_stages=N)",
)
args = p.parse_args()
if args.stages and not os.environ.get("PROBE_PATCHED"):
    import shutil

    dst = f"/tmp/tsnn_stages{args.stages}"
    shutil.rmtree(dst, ignore_errors=True)
    shutil.copytree(os.path.join(os.getcwd(), "tritonsnn"), os.path.join(dst, "tritonsnn"))
    for f in ("lif.py", "synaptic.py"):
        path = os.path.join(dst, "tritonsnn", "kernels", f)
        src = open(path).read()
        for loop in ("for _ in range(T):", "for i in range(T):"):
            assert src.count(loop) == 1, (f, loop)
            src = src.replace(loop, loop.replace("range(T)", f"tl.range(T, num_stages={args.stages})"))
        open(path, "w").write(src)
    os.chdir(dst)
    os.environ["PROBE_PATCHED"] = "1"
    os.execv(sys.executable, [sys.executable, os.path.abspath(__file__)] + sys.argv[1:])

import torch  # noqa: E402
import triton  # noqa: E402

sys.path.insert(0, os.getcwd())
import tritonsnn  # noqa: E402
from tritonsnn import surrogate as sg  # noqa: E402
from tritonsnn.contracts import (  # noqa: E402
    LifOptions,
    LifParams,
    LifSaved,
    LifState,
    LifUpstream,
    SecondOrder,
    SynOptions,
    SynParams,
    SynSaved,
    SynState,
    SynUpstream,
    surrogate_fields,
)
from tritonsnn.kernels import lif, synaptic  # noqa: E402

print("tritonsnn from", os.path.dirname(tritonsnn.__file__), "stages", args.stages or "default")
DRY = args.dry
DEV = "cpu" if DRY else "cuda"
if DRY:
    args.elems, args.T = [64, 96], 3
B = 32 if not DRY else 2
result = dict(
    stages=args.stages,
    family=None,
    device=None,
    torch=torch.__version__,
    triton=triton.__version__,
    rows=[],
    regs=[],
    int64=None,
)
if not DRY:
    pr = torch.cuda.get_device_properties(0)
    result["device"] = dict(name=pr.name, sms=pr.multi_processor_count, mem=pr.total_memory, cuda=torch.version.cuda)


def bench(fn):
    if DRY:
        t0 = time.perf_counter()
        fn()
        return (time.perf_counter() - t0) * 1e3
    return triton.testing.do_bench(fn, warmup=10, rep=args.rep)


def copy_gbps():
    if DRY:
        return 1.0
    src = torch.empty(1 << 28, device=DEV).uniform_()
    dst = torch.empty_like(src)
    ms = bench(lambda: dst.copy_(src))  # both freed on return
    return 2 * (1 << 28) * 4 / ms / 1e6


COPY = copy_gbps()
result["copy_gbps"] = COPY
print(f"device {result['device']}  copy {COPY:.0f} GB/s  torch {torch.__version__} triton {triton.__version__}")
ONE = lambda v: torch.tensor([v], device=DEV)  # noqa: E731


SURROGATE = surrogate_fields(sg.atan(2.0))


def leaky(x, g):
    """Leaky, subtract reset, reset_delay=True, spikes only: (fwd, bwd, kernels, forward outputs)."""
    state, params = LifState(None, None, None, None), LifParams(ONE(0.9), ONE(1.0))
    opts = LifOptions(
        reset=0,
        delay=True,
        zero_whole=False,
        refractory=0,
        need_mem=False,
        at_threshold=False,
        use_triton=True,
        **SURROGATE,
    )
    fwd = lambda: lif.lif_fwd(x, state, params, opts)  # noqa: E731
    outs = fwd()
    saved = LifSaved(outs.pre, outs.reset_bits, None, None)
    need = LifParams(False, False)
    up = LifUpstream(g, None, None)
    bwd = lambda: lif.lif_bwd(up, saved, state, params, opts, need, x.dtype)  # noqa: E731
    return fwd, bwd, lif.lif_fwd_kernel, lif.lif_bwd_kernel, (outs.spikes, outs.pre)


def syn(x, g):
    """Synaptic, subtract reset, reset_delay=True, spikes only."""
    state = SynState(None, None, None, None, None)
    params = SynParams(ONE(0.8), ONE(0.9), None, ONE(1.0), None)
    opts = SynOptions(
        neuron=SecondOrder.SYNAPTIC,
        reset=0,
        delay=True,
        store_cur=False,
        need_mem=False,
        refractory=0,
        at_threshold=False,
        use_triton=True,
        **SURROGATE,
    )
    fwd = lambda: synaptic.syn_fwd(x, state, params, opts)  # noqa: E731
    outs = fwd()
    saved = SynSaved(outs.cur, outs.aux, outs.mem, outs.reset_bits, outs.refr_bits)
    need = SynParams(False, False, False, False, False)
    up = SynUpstream(g, None, None, None)
    bwd = lambda: synaptic.syn_bwd(up, saved, state, params, opts, need, x.dtype)  # noqa: E731
    return fwd, bwd, synaptic.syn_fwd_kernel, synaptic.syn_bwd_kernel, (outs.spikes, outs.mem)


def label(cfg):
    return "auto" if cfg is None else f"B{cfg.kwargs.get('BLOCK')}/w{cfg.num_warps}"


def timed(kernel, fn, cfg):
    """ms of fn() with the autotuner pinned to cfg (None: the autotuner's own choice)."""
    saved = kernel.configs
    if cfg is not None:
        kernel.configs = [cfg]
    try:
        fn()  # compile (and autotune when cfg is None)
        ms = bench(fn)
        best = getattr(kernel, "best_config", None)
    finally:
        kernel.configs = saved
    return ms, label(best if cfg is None else cfg)


for name, build in (("leaky", leaky), ("synaptic", syn)):
    for dname, dt in (("fp32", torch.float32), ("bf16", torch.bfloat16)):
        for elems in args.elems:
            if name == "synaptic" and dname == "bf16" and elems < max(args.elems):
                continue
            N = elems // B
            try:
                x = (torch.randn(args.T, B, N, device=DEV) * 0.5 + 0.2).to(dt)
                g = torch.randn(args.T, B, N, device=DEV).to(dt)
                fwd, bwd, kf, kb, _ = build(x, g)
                io = x.element_size()
                nbytes = args.T * elems * (2 * io + 4)
                for mode, fn, kern in (("fwd", fwd, kf), ("bwd", bwd, kb)):
                    for cfg in list(kern.configs) + [None]:
                        ms, lab = timed(kern, fn, cfg)
                        gbps = nbytes / ms / 1e6
                        row = dict(
                            neuron=name,
                            dtype=dname,
                            T=args.T,
                            elems=elems,
                            mode=mode,
                            config=lab,
                            autotuned=cfg is None,
                            ms=ms,
                            gbps=gbps,
                            frac=gbps / COPY,
                        )
                        result["rows"].append(row)
                        print(
                            f"{name:8s} {dname} T={args.T} M={elems:>9d} {mode} {'AUTO ' if cfg is None else ''}"
                            f"{lab:10s} {ms:9.4f} ms {gbps:7.0f} GB/s {gbps / COPY:5.0%}",
                            flush=True,
                        )
            except Exception as e:  # noqa: BLE001
                print(f"ERROR {name} {dname} {elems}: {type(e).__name__}: {e}", flush=True)
                result["rows"].append(dict(neuron=name, dtype=dname, elems=elems, error=f"{type(e).__name__}: {e}"))
            finally:
                x = g = fwd = bwd = None
                if not DRY:
                    torch.cuda.empty_cache()
        if args.out:
            json.dump(result, open(args.out, "w"), indent=1)

# registers and spills of every kernel the driver loaded
for kern in (lif.lif_fwd_kernel, lif.lif_bwd_kernel, synaptic.syn_fwd_kernel, synaptic.syn_bwd_kernel):
    for cache in getattr(kern.fn, "device_caches", {}).values():
        for k in cache[0].values():
            consts = getattr(getattr(k, "src", None), "constants", {}) or {}
            names = kern.fn.arg_names
            flags = {
                names[key[0]]: v
                for key, v in consts.items()
                if isinstance(key, tuple) and key and isinstance(key[0], int) and key[0] < len(names)
            }
            block = flags.get("BLOCK")
            md = getattr(k, "metadata", None)
            result["regs"].append(
                dict(
                    kernel=kern.fn.__name__,
                    n_regs=getattr(k, "n_regs", None),
                    n_spills=getattr(k, "n_spills", None),
                    num_warps=getattr(md, "num_warps", None),
                    shared=getattr(md, "shared", None),
                    block=block,
                    flags={k_: v for k_, v in flags.items() if k_ != "BLOCK"},
                )
            )
for r in result["regs"]:
    print("regs", r)

if not args.no_int64 and not DRY:
    # 64-bit addressing: T*M > 2**31 elements; neurons are independent, so the last 256 must match a small run.
    try:
        T, Bb, N = 130, 32, 1 << 19
        x = torch.randn(T, Bb, N, device=DEV) * 0.5 + 0.2
        g = torch.randn(T, Bb, N, device=DEV)
        fwd, bwd, _, _, (s, pre) = leaky(x, g)
        fwd = None
        dx = bwd().dx
        tail = (slice(None), slice(Bb - 1, Bb), slice(N - 256, N))
        _, fb, _, _, (s2, pre2) = leaky(x[tail].contiguous(), g[tail].contiguous())
        dx2 = fb().dx
        ok = dict(
            elements=T * Bb * N,
            spikes=bool(torch.equal(s[tail], s2)),
            pre=bool(torch.equal(pre[tail], pre2)),
            dx=bool(torch.equal(dx[tail], dx2)),
            spike_rate=float(s2.float().mean()),
        )
    except Exception as e:  # noqa: BLE001
        ok = dict(error=f"{type(e).__name__}: {e}")
    result["int64"] = ok
    print("int64 check", ok)
if args.out:
    json.dump(result, open(args.out, "w"), indent=1)

if not args.no_family:
    # Every neuron of bench/cases.py plus refractory / same-step-reset variants: Triton kernels against the
    # PyTorch path on the same device (spikes bitwise, input gradient within 1e-4). The CUDA test tier never
    # runs ALIF, RLeaky, Lapicque or Leaky-refractory kernels; this does, with one pinned config per variant.
    import zlib

    from triton.runtime.autotuner import Autotuner

    from bench import cases as bc

    orig_run = Autotuner.run

    def pinned_run(self, *a, **kw):
        flags = sorted((k_, v) for k_, v in kw.items() if k_.isupper())
        cfg = self.configs[zlib.crc32(repr(flags).encode()) % len(self.configs)]
        return self.fn.run(*a, **kw, **cfg.all_kwargs())

    Autotuner.run = pinned_run
    T, Bc, N = (20, 4, 64) if not DRY else (3, 2, 16)
    todo = [(c.label, c, None) for c in bc.CASES]
    todo += [
        ("Leaky-refractory", None, ("Leaky", dict(beta=0.9, refractory=2.0))),
        (
            "Leaky-samestep-zero-learn",
            None,
            ("Leaky", dict(beta=0.9, reset_delay=False, reset_mechanism="zero", learn_beta=True, learn_threshold=True)),
        ),
        ("Synaptic-refractory", None, ("Synaptic", dict(alpha=0.8, beta=0.9, refractory=2.0))),
        ("ALIF-refractory", None, ("ALIF", dict(beta=0.9, refractory=2.0))),
    ]
    fam = []
    for lab_, case, manual in todo:
        try:
            gen = torch.Generator().manual_seed(1)
            scale, shift = (case.input_scale, case.input_shift) if case else (0.5, 0.3)
            x0 = torch.randn(T, Bc, N, generator=gen) * scale + shift
            w = torch.randn(T, Bc, N, generator=gen).to(DEV)
            outs = {}
            for backend in ("triton", "torch"):
                if case is not None:
                    fn, why = bc.build(case, "tritonsnn", N, device=DEV, backend=backend)
                    if fn is None:
                        raise RuntimeError(why)
                else:
                    fn = getattr(tritonsnn, manual[0])(**manual[1], backend=backend).to(DEV)
                x = x0.to(DEV).requires_grad_()
                s = fn(x)
                s = s[0] if isinstance(s, tuple) else s
                (gx,) = torch.autograd.grad((s.float() * w).sum(), x)
                outs[backend] = (s.detach(), gx)
            (s1, g1), (s2, g2) = outs["triton"], outs["torch"]
            err = float((g1 - g2).abs().max() / g2.abs().max().clamp_min(1e-6))
            fam.append(
                dict(
                    neuron=lab_,
                    spikes_equal=bool(torch.equal(s1, s2)),
                    spike_rate=float(s2.float().mean()),
                    dx_rel_err=err,
                    ok=bool(torch.equal(s1, s2)) and err < 1e-4,
                )
            )
        except Exception as e:  # noqa: BLE001
            fam.append(dict(neuron=lab_, ok=False, error=f"{type(e).__name__}: {str(e)[:200]}"))
        print("family", fam[-1], flush=True)
    Autotuner.run = orig_run
    result["family"] = fam
    print(f"family check: {sum(f['ok'] for f in fam)}/{len(fam)} ok", flush=True)
if args.out:
    json.dump(result, open(args.out, "w"), indent=1)
