"""tritonsnn: spiking neural networks for PyTorch with fused Triton time-loop kernels."""
from . import encode, functional, loss, plot, surrogate
from .neurons import ALIF, IF, Lapicque, Leaky, RLeaky, SpikingNeuron
from .utils import MultiStep, detach, reset

__version__ = "0.1.0"

__all__ = ["encode", "functional", "loss", "plot", "surrogate", "Leaky", "IF", "Lapicque", "RLeaky", "ALIF", "SpikingNeuron",
           "MultiStep", "reset", "detach"]

# Synapses, delays and plasticity (issue 4).
from . import plasticity  # noqa: E402
from .plasticity import STDP, HomeostaticThreshold, Trace  # noqa: E402
from .synapses import Cell, Connection, Delay, DualExpSynapse, ExpSynapse  # noqa: E402

__all__ += ["plasticity", "ExpSynapse", "DualExpSynapse", "Delay", "Connection", "Cell", "Trace", "STDP",
            "HomeostaticThreshold"]
