"""tritonsnn: spiking neural networks for PyTorch with fused Triton time-loop kernels."""
from . import encode, functional, loss, nir, plot, surrogate
from .neurons import IF, Leaky, SpikingNeuron
from .utils import MultiStep, detach, reset

__version__ = "0.1.0"

__all__ = ["encode", "functional", "loss", "nir", "plot", "surrogate", "Leaky", "IF", "SpikingNeuron",
           "MultiStep", "reset", "detach"]
