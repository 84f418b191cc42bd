"""Functional neuron dynamics, synapse filters and plasticity over whole sequences ``[T, B, *features]``.

Each function validates its input (``_validate.py``, the one validation layer), shapes
parameters and state into the records of ``tritonsnn/contracts.py``, picks the backend and
calls one custom op; no dynamics are computed here. By concern:

* ``first_order.py``: ``leaky``, ``if_``, ``lapicque``, ``alif``
* ``second_order.py``: ``synaptic``, ``alpha``
* ``nonlinear.py``: ``lif`` (SpikingJelly's form), ``glif2``, ``qif``, ``eif``, ``izhikevich``, ``adex``
* ``recurrent.py``: ``rleaky``, ``rsynaptic`` (one-to-one fused; all-to-all as one op)
* ``filters.py``: ``exp_synapse``, ``dual_exp_synapse``, ``trace``, ``delay``
* ``plasticity.py``: ``stdp``, ``kernel_stdp``, ``mstdpet``, ``triplet_stdp``, ``homeostatic_threshold``
"""

from .. import ops  # noqa: F401  (tsnn.functional.ops, as before the split)
from ._validate import is_set as _is_set  # noqa: F401  (used by the Modules)
from ._validate import refractory_from_spike_step, refractory_steps
from ._validate import reset_mode as _reset_mode  # noqa: F401
from .filters import delay, delay_shares, dual_exp_synapse, exp_synapse, trace
from .first_order import alif, if_, lapicque, lapicque_coefficients, leaky
from .nonlinear import SharedCurrent, SharedThreshold, adex, eif, glif2, izhikevich, lif, qif
from .plasticity import (
    check_stdp_options,
    elapsed,
    exp_stdp_kernels,
    homeostatic_threshold,
    kernel_stdp,
    mstdpet,
    stdp,
    triplet_stdp,
)
from .recurrent import rleaky, rsynaptic
from .second_order import alpha, synaptic

__all__ = [
    "leaky",
    "if_",
    "lapicque",
    "lapicque_coefficients",
    "rleaky",
    "alif",
    "lif",
    "glif2",
    "qif",
    "eif",
    "izhikevich",
    "adex",
    "SharedThreshold",
    "SharedCurrent",
    "refractory_steps",
    "refractory_from_spike_step",
    "exp_synapse",
    "dual_exp_synapse",
    "delay",
    "delay_shares",
    "trace",
    "stdp",
    "kernel_stdp",
    "exp_stdp_kernels",
    "elapsed",
    "mstdpet",
    "triplet_stdp",
    "homeostatic_threshold",
    "synaptic",
    "rsynaptic",
    "alpha",
    "check_stdp_options",
]
