"""Every kernel compiles for an H100 (sm_90) — checked on CPU machines too."""

import os
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def test_kernels_compile_for_sm90():
    # A fresh process: the interpreter (set by conftest) must be off for real compilation.
    env = {k: v for k, v in os.environ.items() if k != "TRITON_INTERPRET"}
    env["TRITON_DEFAULT_FP_FUSION"] = "1"
    proc = subprocess.run(
        [sys.executable, "-m", "tests.kernel_compile"],
        cwd=ROOT,
        env=env,
        check=False,
        capture_output=True,
        text=True,
        timeout=900,
    )
    assert proc.returncode == 0, proc.stderr[-4000:]
    lines = proc.stdout.splitlines()
    assert sum(line.startswith("lif_fwd_kernel") for line in lines) >= 10
    assert sum(line.startswith("lif_bwd_kernel") for line in lines) >= 10
    assert sum(line.startswith("syn_fwd_kernel") for line in lines) >= 14
    assert sum(line.startswith("syn_bwd_kernel") for line in lines) >= 14
    assert sum(line.startswith("nlif_fwd_kernel") for line in lines) >= 4
    assert sum(line.startswith("nlif_bwd_kernel") for line in lines) >= 4
    for kernel in ("scan_fwd_kernel", "scan_bwd_kernel", "delay_fwd_kernel", "delay_bwd_kernel"):
        assert any(line.startswith(kernel) for line in lines), kernel


def _autotuned_kernels():
    from triton.runtime.autotuner import Autotuner

    from tritonsnn.kernels import delay, lif, nonlinear, scan, synaptic

    return [
        (m.__name__, name, k)
        for m in (delay, lif, nonlinear, scan, synaptic)
        for name, k in vars(m).items()
        if isinstance(k, Autotuner)
    ]


def test_autotune_key_holds_every_variant_flag():
    """Each constexpr variant tunes its own config: the key is the element count plus every
    constexpr flag (a heavier variant must not reuse the config a lighter one picked)."""
    from tritonsnn.kernels._common import _constexpr_names

    kernels = _autotuned_kernels()
    assert len(kernels) >= 10
    for module, name, k in kernels:
        flags = [n for n in _constexpr_names(k.fn) if n != "BLOCK"]
        assert flags and k.keys == ["M", "N", *flags], (module, name, k.keys)


def test_heavy_backward_variants_keep_at_most_four_elements_per_thread():
    import triton

    from tritonsnn.kernels._common import _prune_heavy

    configs = [triton.Config({"BLOCK": b}, num_warps=w) for b, w in [(256, 2), (1024, 4), (1024, 8), (2048, 8)]]
    light = dict(DELAY=True, NEED_DBETA=False, NEED_DTHRESHOLD=False)
    assert _prune_heavy(configs, {}, **light) == configs
    assert _prune_heavy(configs, {}, DELAY=True) == configs  # a forward kernel
    for heavy in (dict(light, DELAY=False), dict(light, NEED_DBETA=True)):
        kept = _prune_heavy(configs, {}, **heavy)
        assert [(c.kwargs["BLOCK"], c.num_warps) for c in kept] == [(256, 2), (1024, 8)]


def test_pin_configs_plugin_runs_one_pruned_config_per_variant(monkeypatch):
    """bench/pin_configs.py (the capped CUDA tier's plugin): a tritonsnn kernel with several configs
    runs one of those its pruning keeps, without benchmarking; here through the interpreter."""
    import torch
    import triton
    import triton.language as tl
    from triton.runtime.autotuner import Autotuner

    from bench import pin_configs

    monkeypatch.setattr(Autotuner, "run", Autotuner.run)  # restored after the test
    monkeypatch.setenv("PIN_CONFIGS", "1")
    pin_configs.pytest_configure(None)

    def double(p, M, DELAY: tl.constexpr, NEED_DBETA: tl.constexpr, BLOCK: tl.constexpr):
        o = tl.program_id(0) * BLOCK + tl.arange(0, BLOCK)
        tl.store(p + o, tl.load(p + o, mask=o < M) * 2, mask=o < M)

    double.__module__ = "tritonsnn.kernels.test"  # the plugin pins tritonsnn's kernels only
    configs = [triton.Config({"BLOCK": b}, num_warps=w) for b, w in [(64, 2), (256, 1), (256, 2)]]
    pruned = []

    def keep_last(configs, named_args, **kwargs):
        pruned.append(kwargs["DELAY"])
        return configs[-1:]

    kernel = triton.autotune(configs, key=["M"], prune_configs_by={"early_config_prune": keep_last})(triton.jit(double))
    x = torch.ones(600)
    kernel[lambda meta: (triton.cdiv(600, meta["BLOCK"]),)](x, 600, DELAY=False, NEED_DBETA=True)
    assert torch.equal(x, torch.full((600,), 2.0))
    assert pruned == [False] and kernel.best_config is configs[-1]
