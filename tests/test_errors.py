"""Bad input gets an error that names the argument and the fix."""

import pytest
import torch

import tritonsnn as tsnn
from tritonsnn import _backend

F = tsnn.functional


def test_wrong_rank():
    with pytest.raises(ValueError, match=r"x must have shape \[T, B, \*features\]"):
        F.leaky(torch.randn(5), 0.9)


def test_integer_input():
    with pytest.raises(TypeError, match="floating tensor"):
        F.leaky(torch.ones(3, 2, 4, dtype=torch.int64), 0.9)


def test_not_a_tensor():
    with pytest.raises(TypeError, match="torch.Tensor"):
        F.leaky([[1.0]], 0.9)


@pytest.mark.parametrize("bad", ["subtrct", None, 0])
def test_bad_reset_mechanism(bad):
    with pytest.raises(ValueError, match="reset_mechanism must be one of"):
        F.leaky(torch.randn(3, 2, 4), 0.9, reset_mechanism=bad)
    with pytest.raises(ValueError, match="reset_mechanism must be one of"):
        tsnn.Leaky(beta=0.9, reset_mechanism=bad)


@pytest.mark.parametrize("thr", [0.0, -1.0, torch.tensor([1.0, -0.5, 1.0, 1.0])])
def test_threshold_must_be_positive(thr):
    with pytest.raises(ValueError, match="threshold must be > 0"):
        F.leaky(torch.randn(3, 2, 4), 0.9, thr)
    with pytest.raises(ValueError, match="threshold must be > 0"):
        tsnn.Leaky(beta=0.9, threshold=thr)


def test_parameter_shape_must_broadcast_to_features():
    with pytest.raises(ValueError, match=r"beta of shape \(3,\) must be a scalar or broadcastable"):
        F.leaky(torch.randn(3, 2, 4), torch.rand(3))


def test_device_mismatch():
    x = torch.randn(3, 2, 4)
    with pytest.raises(ValueError, match=r"beta is on meta but x is on cpu: move it with beta.to\(x.device\)"):
        F.leaky(x, torch.rand(4, device="meta"))
    with pytest.raises(ValueError, match=r"v0 is on meta"):
        F.leaky(x, 0.9, v0=torch.zeros(2, 4, device="meta"))


def test_bad_initial_state_shape():
    with pytest.raises(ValueError, match=r"v0 of shape \(3, 4\) must match"):
        F.leaky(torch.randn(3, 2, 4), 0.9, v0=torch.zeros(3, 4))


def test_unknown_backend():
    with pytest.raises(ValueError, match="backend must be one of"):
        F.leaky(torch.randn(3, 2, 4), 0.9, backend="cuda")
    with pytest.raises(ValueError, match="backend must be one of"):
        tsnn.Leaky(beta=0.9, backend="fast")


def test_triton_on_cpu_without_interpreter(monkeypatch):
    # Patched rather than unsetting TRITON_INTERPRET: Triton reads that variable once.
    monkeypatch.setattr(_backend, "interpreter_enabled", lambda: False)
    with pytest.raises(RuntimeError, match="TRITON_INTERPRET=1"):
        F.leaky(torch.randn(3, 2, 4), 0.9, backend="triton")


def test_env_var_overrides_backend(monkeypatch):
    monkeypatch.setenv(_backend.ENV_VAR, "torch")
    assert _backend.resolve("triton", torch.device("cpu")) == "torch"
    monkeypatch.setenv(_backend.ENV_VAR, "bogus")
    with pytest.raises(ValueError, match="TRITONSNN_BACKEND"):
        _backend.resolve("auto", torch.device("cpu"))


def test_auto_uses_torch_on_cpu_and_triton_on_cuda(monkeypatch):
    monkeypatch.delenv(_backend.ENV_VAR, raising=False)
    assert _backend.resolve("auto", torch.device("cpu")) == "torch"
    assert _backend.resolve("auto", torch.device("cuda")) == "triton"


def test_bad_surrogate_and_step_mode():
    with pytest.raises(TypeError, match="surrogate must be"):
        tsnn.Leaky(beta=0.9, surrogate=lambda x: x)
    with pytest.raises(ValueError, match="step_mode must be one of"):
        tsnn.Leaky(beta=0.9, step_mode="many")


def test_multistep_needs_time_axis():
    with pytest.raises(ValueError, match="MultiStep expects"):
        tsnn.MultiStep(torch.nn.Identity())(torch.randn(3))


@pytest.mark.parametrize("backend", ["torch", "triton"])
@pytest.mark.parametrize("cls", [tsnn.RLeaky, tsnn.RSynaptic])
@pytest.mark.parametrize(
    "layer,shape",
    [
        (dict(linear_features=5), (4, 2, 6)),  # linear_features != N
        (dict(conv2d_channels=3, kernel_size=3), (4, 2, 2, 5, 5)),  # wrong channels
    ],
)
def test_recurrent_layer_that_does_not_fit(backend, cls, layer, shape):
    extra = {"alpha": 0.5} if cls is tsnn.RSynaptic else {}
    neuron = cls(beta=0.9, backend=backend, **extra, **layer)
    with pytest.raises(ValueError, match="must map the spikes to their own shape"):
        neuron(torch.rand(shape))


@pytest.mark.parametrize("backend", ["torch", "triton"])
@pytest.mark.parametrize("fn", [lambda x, **k: F.rleaky(x, 0.9, **k), lambda x, **k: F.rsynaptic(x, 0.5, 0.9, **k)])
def test_recurrent_layer_that_would_broadcast(backend, fn):
    # nn.Linear(N, 1) broadcasts over the features: a silently wrong drive without the check.
    with pytest.raises(ValueError, match=r"maps spikes of shape \[2, 6\] to \[2, 1\]"):
        fn(torch.rand(4, 2, 6), recurrent=torch.nn.Linear(6, 1), backend=backend)


@pytest.mark.parametrize("kernel_size", [4, (3, 2), (3, -1)])
def test_recurrent_convolution_needs_an_odd_kernel(kernel_size):
    with pytest.raises(ValueError, match="kernel_size must be odd"):
        tsnn.RLeaky(beta=0.9, conv2d_channels=3, kernel_size=kernel_size)
