"""torch.library custom ops: the single place where a call reaches a backend.

Each op takes ``use_triton`` (decided once, in ``_backend.resolve``) and runs the
Triton launcher or the PyTorch implementation of the same name; the two share a
contract, the records of ``tritonsnn/contracts.py``. Fake kernels let ``torch.compile`` trace through the ops and
``register_autograd`` wires each fused backward. One file per family of dynamics.
"""

import importlib

LIB = "tritonsnn"


_IMPLEMENTATIONS: dict = {}


def implementation(family: str, use_triton: bool):
    """The module implementing ``family`` (e.g. ``"lif"``): ``tritonsnn.kernels.<family>``
    (imported lazily, so CPU-only users never load Triton) or ``tritonsnn.torchimpl.<family>``."""
    key = (family, use_triton)
    module = _IMPLEMENTATIONS.get(key)
    if module is None:
        package = "kernels" if use_triton else "torchimpl"
        module = _IMPLEMENTATIONS[key] = importlib.import_module(f"tritonsnn.{package}.{family}")
    return module


from . import (
    lif,  # noqa: E402,F401  (registers the ops)
    nonlinear,  # noqa: E402,F401  (QIF, EIF, Izhikevich, AdEx)
    recurrent,  # noqa: E402,F401  (all-to-all RLeaky / RSynaptic)
    scan,  # noqa: E402,F401  (synapse filters, traces, delays)
    synaptic,  # noqa: E402,F401
)
