"""Tests of ``bench/cpu.py`` and ``bench/single_step.py`` themselves, with tiny shapes.

    python -m pytest bench/test_cpu_script.py

Not part of the default ``pytest`` run (``testpaths = ["tests"]``).
"""

import pytest

from bench import cases, cpu


@pytest.mark.parametrize("allocator", ["steady", "default"])
@pytest.mark.parametrize("neuron", ["RSynaptic", "RLeaky-conv"])
def test_cpu_ratio_runs_and_says_which_allocator(neuron, allocator, capsys):
    status = cpu.main(
        ["--T", "4", "--B", "2", "--N", "16", "--repeats", "1", "--neuron", neuron, "--allocator", allocator]
    )
    out = capsys.readouterr().out
    assert status == 0
    assert f"{allocator} allocator" in out and "ratio fwd+bwd snnTorch/tritonsnn" in out


def test_conv_rows_need_square_images():
    case = next(c for c in cases.CASES if c.label == "RSynaptic-conv")
    assert cases.conv_shape(1024) == (4, 16, 16) and cases.conv_shape(12) is None
    fn, reason = cases.build(case, "tritonsnn", 12)
    assert fn is None and "4*s*s" in reason


def test_single_step_table_covers_every_facade_neuron(capsys):
    from bench import single_step

    status = single_step.main(["--neuron", "all", "--T", "3", "--B", "2", "--N", "16", "--repeats", "1"])
    out = capsys.readouterr().out
    assert status == 0
    for name in single_step.NEURONS:
        assert name in out


def test_single_step_refuses_to_time_different_spikes(monkeypatch):
    from bench import single_step

    real = single_step.multi_step
    monkeypatch.setattr(single_step, "multi_step", lambda *a: lambda: 1 - real(*a)())
    with pytest.raises(SystemExit, match="differ"):
        single_step.main(["--neuron", "Leaky", "--T", "3", "--B", "2", "--N", "8", "--repeats", "1"])


def test_compiled_plain_loops_run_and_match_tritonsnn(capsys):
    """The torch.compile providers (one step, whole loop) give tritonsnn's spikes (cpu.py checks)."""
    status = cpu.main(
        ["--T", "4", "--B", "2", "--N", "16", "--repeats", "1", "--providers", "snntorch,compile-step,compile-loop"]
    )
    out = capsys.readouterr().out
    assert status == 0 and "compile-step" in out and "compile-loop" in out


def test_spikingjelly_runs_beside_the_same_step_reset(capsys):
    pytest.importorskip("spikingjelly")
    status = cpu.main(
        ["--T", "4", "--B", "2", "--N", "16", "--repeats", "1", "--no-reset-delay", "--providers", "spikingjelly"]
    )
    out = capsys.readouterr().out
    assert status == 0 and "spikingjelly spikes agree with tritonsnn at" in out


def test_tutorial_networks_agree_and_time(capsys):
    from bench import networks

    assert networks.main(["--T", "3", "--B", "4", "--repeats", "1"]) == 0
    out = capsys.readouterr().out
    for net in ("fc", "conv", "rleaky"):
        assert net in out


def test_norse_runs_beside_the_same_step_zero_reset(capsys):
    pytest.importorskip("norse")
    status = cpu.main(
        ["--T", "6", "--B", "2", "--N", "16", "--repeats", "1", "--reset-mechanism", "zero", "--no-reset-delay"]
        + ["--providers", "norse"]
    )
    out = capsys.readouterr().out
    assert status == 0 and "norse spikes agree with tritonsnn at" in out


def test_rest_reset_costs_and_inferno_comparison_run(capsys):
    from bench import rest_reset

    pytest.importorskip("inferno")
    rest_reset.main(["--T", "5", "--B", "2", "--N", "16", "--repeats", "1"])
    out = capsys.readouterr().out
    assert "v_rest != v_reset" in out and "as fast as inferno LIF" in out
