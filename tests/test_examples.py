"""Smoke tests: every example runs end to end on a tiny budget and prints its result line last."""

import importlib.util
import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

pytest.importorskip("sklearn")
pytest.importorskip("matplotlib")
pytest.importorskip("rich")

EXAMPLES = Path(__file__).resolve().parent.parent / "examples"
TINY = ["--epochs", "1", "--limit", "200", "--device", "cpu"]
ACCURACY_LINE = re.compile(r"test accuracy: (0\.\d{4}|1\.0000)")


def _load(name, monkeypatch):
    monkeypatch.syspath_prepend(str(EXAMPLES))  # the examples import digits.py as a sibling
    spec = importlib.util.spec_from_file_location(f"example_{name}", EXAMPLES / f"{name}.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def _last_line(text):
    return text.strip().splitlines()[-1]


@pytest.mark.parametrize("name", ["digits", "conv_digits"])
def test_classifier_example_prints_accuracy_last_and_saves_plots(name, monkeypatch, capsys, tmp_path):
    example = _load(name, monkeypatch)
    accuracy = example.main(TINY + ["--out", str(tmp_path)])
    out = capsys.readouterr().out
    match = ACCURACY_LINE.fullmatch(_last_line(out))
    assert match, out
    assert float(match.group(1)) == pytest.approx(accuracy, abs=5e-5)
    assert "train time:" in out
    pngs = sorted(p.name for p in tmp_path.glob("*.png"))
    assert pngs == [f"{name}_membrane.png", f"{name}_raster.png"]
    assert all((tmp_path / p).stat().st_size > 1000 for p in pngs)


def test_digits_is_deterministic_for_a_seed(monkeypatch, capsys, tmp_path):
    example = _load("digits", monkeypatch)
    first = example.main(TINY + ["--out", str(tmp_path), "--seed", "3"])
    second = example.main(TINY + ["--out", str(tmp_path), "--seed", "3"])
    assert first == second


def test_temporal_mnist1d_example_learns(monkeypatch, capsys):
    pytest.importorskip("mnist1d")
    example = _load("temporal_mnist1d", monkeypatch)
    accuracy = example.main(["--epochs", "4", "--limit", "1000", "--device", "cpu"])
    out = capsys.readouterr().out
    assert ACCURACY_LINE.fullmatch(_last_line(out)), out
    assert accuracy > 0.2  # 10 classes: chance is 0.1 (0.32 measured)


def test_streaming_example_matches_multi_step(monkeypatch, capsys):
    example = _load("streaming", monkeypatch)
    assert example.main(TINY) is True
    out = capsys.readouterr().out
    assert _last_line(out) == "single-step spikes equal multi-step spikes: True"


def test_digits_runs_as_one_command(tmp_path):
    env = dict(os.environ, PYTHONPATH=os.pathsep.join([str(EXAMPLES.parent), os.environ.get("PYTHONPATH", "")]))
    result = subprocess.run(
        [
            sys.executable,
            str(EXAMPLES / "digits.py"),
            "--epochs",
            "1",
            "--limit",
            "100",
            "--device",
            "cpu",
            "--out",
            str(tmp_path),
        ],
        check=False,
        capture_output=True,
        text=True,
        env=env,
        timeout=300,
    )
    assert result.returncode == 0, result.stderr
    assert ACCURACY_LINE.fullmatch(_last_line(result.stdout)), result.stdout


def test_ddp_digits_runs_with_torchrun(tmp_path):
    # The README's command, shortened: two gloo processes, one epoch on 200 images.
    env = dict(os.environ, PYTHONPATH=os.pathsep.join([str(EXAMPLES.parent), os.environ.get("PYTHONPATH", "")]))
    result = subprocess.run(
        [
            sys.executable,
            "-m",
            "torch.distributed.run",
            "--standalone",
            "--nproc-per-node",
            "2",
            str(EXAMPLES / "ddp_digits.py"),
            *("--epochs", "1", "--limit", "200", "--device", "cpu", "--out", str(tmp_path)),
        ],
        check=False,
        capture_output=True,
        text=True,
        env=env,
        timeout=300,
    )
    assert result.returncode == 0, result.stderr
    assert "2 process(es)" in result.stdout
    assert ACCURACY_LINE.fullmatch(_last_line(result.stdout)), result.stdout


def test_unsupervised_examples_learn_the_patterns(monkeypatch, capsys):
    """stdp_unsupervised.py (Leaky, STDP, homeostasis) and inferno_unsupervised.py (GLIF2's
    batch-shared adaptive threshold, kernel STDP): near-perfect pattern<->winner information
    after training, well above the control without plasticity."""
    stdp = _load("stdp_unsupervised", monkeypatch)
    (mi0, _), (mi1, acc1, _) = stdp.train(stdp.make_patterns(), a_plus=0.01, a_minus=0.006)
    assert mi0 < 1.2 and mi1 > 1.9 and acc1 > 0.95
    inferno = _load("inferno_unsupervised", monkeypatch)
    (mi0, _), (mi1, acc1), (mi_control, _) = inferno.main()
    assert mi0 < 1.2 and mi1 > 1.9 and acc1 > 0.95 and mi_control < 1.5
    assert _last_line(capsys.readouterr().out).startswith("clustering accuracy:")
