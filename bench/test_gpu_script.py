"""Tests of the GPU benchmark script itself, run on the CPU with tiny shapes.

    python -m pytest bench/test_gpu_script.py

Not part of the default ``pytest`` run (``testpaths = ["tests"]``).
"""

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
import torch

from bench import cases, gpu

ROOT = Path(__file__).resolve().parent.parent
STATUSES = {"ok", "skipped", "oom", "error"}


@pytest.fixture(scope="module")
def cpu_quick_run(tmp_path_factory):
    out = tmp_path_factory.mktemp("bench") / "result.json"
    env = dict(os.environ, PYTHONPATH=os.pathsep.join(p for p in (str(ROOT), os.environ.get("PYTHONPATH")) if p))
    proc = subprocess.run(
        [sys.executable, "-m", "bench.gpu", "--device", "cpu", "--quick", "--repeats", "3", "--out", str(out)],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=1200,
    )
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-3000:]
    return json.loads(out.read_text()), proc.stdout


def test_header(cpu_quick_run):
    data, _ = cpu_quick_run
    assert data["schema"] == gpu.SCHEMA
    assert data["device"]["type"] == "cpu" and data["device"]["torch"] == torch.__version__
    assert data["copy_gbps"] > 0
    assert data["args"]["quick"] is True
    names = [p.name for p in gpu.providers(gpu.parse_args([]))]
    assert list(data["providers"]) == names
    assert "CUDA" in data["providers"]["tritonsnn-triton"]["reason"]


def test_rows_cover_every_shape_provider_and_mode_once(cpu_quick_run):
    data, _ = cpu_quick_run
    rows = data["rows"]
    keys = [(r["setting"], r.get("neuron"), r["T"], r["B"], r["N"], r["dtype"], r["provider"], r["mode"]) for r in rows]
    assert len(keys) == len(set(keys))
    plan = gpu.CPU_QUICK
    shapes = {key[:6] for key in keys}
    leaky = {s for s in shapes if s[0] != "family"}
    assert len(leaky) == len(plan["T"]) * len(plan["elems"]) * len(plan["dtypes"]) + len(plan["on_N"])
    assert len(shapes - leaky) == len(cases.CASES)
    family_providers = len(gpu.family_providers(cases.CASES[0], 1))
    assert len(rows) == (len(leaky) * len(data["providers"]) + len(cases.CASES) * family_providers) * len(gpu.MODES)
    for r in rows:
        assert r["status"] in STATUSES
        assert r["elems"] == r["T"] * r["B"] * r["N"]
        assert r["mode"] in gpu.MODES and r["dtype"] in gpu.DTYPES
        assert (r["reason"] is None) == (r["status"] == "ok"), r


def test_cuda_providers_skipped_with_reason(cpu_quick_run):
    data, stdout = cpu_quick_run
    triton_rows = [r for r in data["rows"] if r["provider"] == "tritonsnn-triton"]
    assert triton_rows and all(r["status"] == "skipped" and "CUDA" in r["reason"] for r in triton_rows)
    assert "skip tritonsnn-triton: needs a CUDA device" in stdout
    for name in ("spikingjelly", "norse"):  # optional: measured when importable, else skipped with why
        for r in (r for r in data["rows"] if r["provider"] == name):
            assert r["status"] == "ok" or "not importable" in r["reason"], r


def test_measured_rows(cpu_quick_run):
    data, _ = cpu_quick_run
    ok = [r for r in data["rows"] if r["status"] == "ok"]
    assert {r["provider"] for r in ok} >= {"tritonsnn-torch", "snntorch"}
    for r in ok:
        assert 0 < r["min_ms"] <= r["p20_ms"] <= r["median_ms"] <= r["p80_ms"], r
        assert r["repeats"] >= 3
        assert r["peak_mem_bytes"] is None  # only measured on CUDA
        assert r["saved_bytes_per_elem"] >= 0 and 0 <= r["spike_rate"] <= 1
        assert r["reference"] == "tritonsnn-torch"
        ref = next(
            x
            for x in ok
            if x["provider"] == "tritonsnn-torch"
            and x["mode"] == r["mode"]
            and (x["setting"], x.get("neuron"), x["T"], x["N"]) == (r["setting"], r.get("neuron"), r["T"], r["N"])
        )
        assert r["tritonsnn_speedup"] == pytest.approx(r["median_ms"] / ref["median_ms"])
        if r["setting"] == "neuron":
            assert r["min_bytes_per_elem"] == gpu.min_bytes_per_elem(gpu.DTYPES[r["dtype"]], r["mode"])
            assert r["gbps"] == pytest.approx(r["min_bytes_per_elem"] * r["elems"] / r["median_ms"] / 1e6)
            assert r["roofline_frac"] == pytest.approx(r["gbps"] / data["copy_gbps"])
        else:
            assert "gbps" not in r


def test_same_neuron_same_spikes(cpu_quick_run):
    """snnTorch's Leaky and tritonsnn's compute the same spikes; the tritonsnn PyTorch path saves
    only the fp32 membrane for backward (4 bytes per element)."""
    data, _ = cpu_quick_run
    ok = [r for r in data["rows"] if r["status"] == "ok"]
    for r in ok:
        assert r["agreement_with"] == "tritonsnn-torch"
        if r["provider"] in ("tritonsnn-torch", "snntorch"):
            assert r["spike_agreement"] == 1.0, r
        if r["provider"] == "tritonsnn-torch" and r["setting"] != "family":
            assert r["saved_bytes_per_elem"] == pytest.approx(4.0, abs=0.1)


def test_family_rows_every_neuron_against_snntorch(cpu_quick_run):
    """Each row of bench/cases.py runs on tritonsnn's PyTorch path and, where snnTorch has the
    neuron, on snnTorch with identical spikes."""
    data, stdout = cpu_quick_run
    family = [r for r in data["rows"] if r["setting"] == "family"]
    assert {r["neuron"] for r in family} == {c.label for c in cases.CASES}
    for case in cases.CASES:
        rows = {(r["provider"], r["mode"]): r for r in family if r["neuron"] == case.label}
        assert all(rows[("tritonsnn-torch", m)]["status"] == "ok" for m in gpu.MODES)
        snn = rows[("snntorch", "fwd+bwd")]
        if case.snntorch is None:
            assert snn["status"] == "skipped" and "snnTorch has no" in snn["reason"]
        else:
            assert snn["status"] == "ok" and snn["spike_agreement"] == 1.0, snn
    assert "family RSynaptic-dense" in stdout


def test_min_bytes_per_elem():
    assert gpu.min_bytes_per_elem(torch.float32, "fwd+bwd") == 24
    assert gpu.min_bytes_per_elem(torch.float32, "fwd") == gpu.min_bytes_per_elem(torch.float32, "bwd") == 12
    assert gpu.min_bytes_per_elem(torch.bfloat16, "fwd+bwd") == 16  # the saved state stays fp32


def test_saved_bytes_counts_distinct_storages_beyond_excluded():
    x = torch.randn(10, requires_grad=True)
    w = torch.randn(10, requires_grad=True)
    exclude = {x.untyped_storage().data_ptr()}
    # x * w saves both factors; sin(w) saves w again (same storage, counted once).
    assert gpu.saved_bytes(lambda: x * w + w.sin(), exclude) == w.numel() * 4
    assert gpu.saved_bytes(lambda: x * 2.0, exclude) == 0


def test_no_cuda_device_is_an_error_with_a_hint(capsys):
    if torch.cuda.is_available():
        pytest.skip("a CUDA device is present")
    assert gpu.main(["--device", "cuda"]) == 2
    assert "--device cpu --quick" in capsys.readouterr().out
