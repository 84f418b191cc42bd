"""snnTorch 1.0's public layout over tritonsnn: change ``import snntorch as snn`` to
``import tritonsnn.snntorch as snn`` (and ``from snntorch import surrogate, utils, functional, ...``
to ``from tritonsnn.snntorch import ...``) and snnTorch code runs on tritonsnn's fused
neurons with snnTorch's spikes, states and gradients.

The neurons (``Leaky``, ``Synaptic``, ``Alpha``, ``Lapicque``, ``RLeaky``, ``RSynaptic``) are
tritonsnn's own classes (``isinstance(snn.Leaky(0.9), tritonsnn.Leaky)``) run one step per
call, with snnTorch's arguments, state attributes, return tuples, state-dict keys and helpers
(``init_hidden``, ``output``, ``reset_mem()``, ``detach_hidden()``, ...). They also take
tritonsnn's ``backend=`` keyword. snnTorch classes without a tritonsnn equivalent raise
``NotImplementedError`` naming the nearest tritonsnn alternative.
"""

from __future__ import annotations

from . import backprop, functional, spikegen, spikeplot, surrogate, utils
from ._layers import BatchNormTT1d, BatchNormTT2d, GradedSpikes
from ._neurons import LIF, Alpha, Lapicque, Leaky, RLeaky, RSynaptic, SpikingNeuron, Synaptic

__all__ = [
    "LIF",
    "Alpha",
    "BatchNormTT1d",
    "BatchNormTT2d",
    "GradedSpikes",
    "Lapicque",
    "Leaky",
    "RLeaky",
    "RSynaptic",
    "SpikingNeuron",
    "Synaptic",
    "__version__",
    "backprop",
    "functional",
    "spikegen",
    "spikeplot",
    "surrogate",
    "utils",
]

#: the snnTorch release whose API and results the facade follows (code that checks
#: ``snntorch.__version__`` takes its 1.0 paths); tritonsnn's own is ``tritonsnn.__version__``
__version__ = "1.0.0"


class UnsupportedError(NotImplementedError, AttributeError):
    """An snnTorch 1.0 feature the facade does not provide (also an AttributeError, so that
    ``hasattr`` and attribute probing see it as absent)."""


_UNSUPPORTED = {
    "SLSTM": "tritonsnn has no spiking LSTM; for a recurrent spiking layer use tritonsnn.snntorch.RLeaky or "
    "RSynaptic (all_to_all recurrence through nn.Linear)",
    "SConv2dLSTM": "tritonsnn has no spiking convolutional LSTM; for convolutional recurrence use "
    "tritonsnn.snntorch.RLeaky(beta, conv2d_channels=C, kernel_size=k)",
    "LeakyParallel": "use tritonsnn.Leaky (multi-step): the whole [T, B, N] sequence in one fused kernel, with "
    "resets (LeakyParallel's nn.RNN form has none and clips negative states)",
    "StateLeaky": "use tritonsnn.Leaky(beta, reset_mechanism='none', return_mem=True) (multi-step) for the "
    "membrane of a whole sequence without reset",
    "LinearLeaky": "use nn.Linear followed by tritonsnn.Leaky(beta, reset_mechanism='none', return_mem=True) "
    "in multi-step mode",
    "DeltaLeaky": "tritonsnn has no delta neuron; tritonsnn.encode has delta encoding of inputs, and "
    "tritonsnn.Leaky is the nearest neuron",
    "AssociativeLeaky": "tritonsnn has no associative-memory neuron; tritonsnn.Leaky is the nearest",
    "spikevision": "load neuromorphic data sets with tonic (or torchvision) directly",
    "export_nir": "use tritonsnn.nir (export_to_nir / import_from_nir) on tritonsnn networks",
    "import_nir": "use tritonsnn.nir (export_to_nir / import_from_nir) on tritonsnn networks",
}


def __getattr__(name):
    if name in _UNSUPPORTED:
        raise UnsupportedError(f"snntorch.{name} is not provided by tritonsnn.snntorch: {_UNSUPPORTED[name]}")
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
