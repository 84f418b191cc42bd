"""Backend choice: the one place that decides between the Triton kernels and the PyTorch path."""

from __future__ import annotations

import os

import torch

BACKENDS = ("auto", "triton", "torch")
ENV_VAR = "TRITONSNN_BACKEND"


def interpreter_enabled() -> bool:
    """True when Triton kernels run on the CPU through Triton's interpreter."""
    return os.environ.get("TRITON_INTERPRET", "0") == "1"


def triton_available() -> bool:
    try:
        import triton  # noqa: F401
    except ImportError:
        return False
    return True


def check_backend_name(backend: str) -> str:
    if backend not in BACKENDS:
        raise ValueError(f"backend must be one of {BACKENDS}; got {backend!r}")
    return backend


def resolve(backend: str, device: torch.device) -> str:
    """Return ``"triton"`` or ``"torch"`` for tensors on ``device``.

    ``TRITONSNN_BACKEND`` (auto/triton/torch), when set, overrides ``backend``
    so that a whole program can be switched without editing it.
    """
    backend = os.environ.get(ENV_VAR) or backend
    if backend not in BACKENDS:
        raise ValueError(f"backend must be one of {BACKENDS} (from the argument or ${ENV_VAR}); got {backend!r}")
    if backend == "torch":
        return "torch"
    on_gpu = device.type == "cuda"
    if backend == "auto":
        return "triton" if on_gpu and triton_available() else "torch"
    if not triton_available():
        raise RuntimeError("backend='triton' needs the triton package: pip install triton")
    if not on_gpu and not interpreter_enabled():
        raise RuntimeError(
            f"backend='triton' got tensors on {device}; Triton kernels need a CUDA device, "
            "or set TRITON_INTERPRET=1 before importing tritonsnn to run them on the CPU "
            "through the (slow) interpreter; backend='auto' picks the PyTorch path on CPU"
        )
    return "triton"
