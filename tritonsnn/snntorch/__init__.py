"""snnTorch-compatible facade of tritonsnn (functional, spikegen and spikeplot parts)."""

from . import functional, spikegen, spikeplot  # noqa: F401
