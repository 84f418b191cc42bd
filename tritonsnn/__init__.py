"""tritonsnn: spiking neural networks for PyTorch with fused Triton time-loop kernels."""

from . import data, encode, functional, loss, memory, nir, plasticity, plot, snntorch, surrogate
from .classify import MaxRateClassifier
from .monitor import Monitor
from .neurons import (
    ALIF,
    EIF,
    GLIF2,
    IF,
    LIF,
    PLIF,
    QIF,
    AdEx,
    Alpha,
    Izhikevich,
    Lapicque,
    Leaky,
    RLeaky,
    RSynaptic,
    SpikingNeuron,
    Synaptic,
)
from .plasticity import MSTDPET, STDP, HomeostaticThreshold, KernelSTDP, Trace, TripletSTDP
from .synapses import Cell, Connection, Delay, DelayedLinear, DualExpSynapse, ExpSynapse, OneToOne
from .utils import MultiStep, detach, reset

__version__ = "0.1.0"

__all__ = [
    # modules of functions
    "data",
    "encode",
    "functional",
    "loss",
    "memory",
    "nir",
    "plasticity",
    "plot",
    "snntorch",
    "surrogate",
    # neurons
    "SpikingNeuron",
    "Leaky",
    "IF",
    "PLIF",
    "Lapicque",
    "RLeaky",
    "ALIF",
    "LIF",
    "GLIF2",
    "QIF",
    "EIF",
    "Izhikevich",
    "AdEx",
    "Synaptic",
    "Alpha",
    "RSynaptic",
    # synapses, delays, plasticity
    "ExpSynapse",
    "DualExpSynapse",
    "Delay",
    "DelayedLinear",
    "OneToOne",
    "Connection",
    "Cell",
    "Trace",
    "STDP",
    "KernelSTDP",
    "MSTDPET",
    "TripletSTDP",
    "HomeostaticThreshold",
    # network helpers
    "MaxRateClassifier",
    "Monitor",
    "MultiStep",
    "reset",
    "detach",
]
