"""Tests of ``bench/cpu.py`` itself, with tiny shapes.

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
