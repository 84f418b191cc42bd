"""snnTorch-compatible regularisation (``snntorch.functional.reg``), an adapter over :mod:`tritonsnn.loss`."""

from __future__ import annotations

from ... import loss as _loss

__all__ = ["l1_rate_sparsity"]


class l1_rate_sparsity:
    """L1 penalty on spiking activity: ``l1_rate_sparsity(Lambda)(spk)`` is ``Lambda * spk.sum()``.

    :func:`tritonsnn.loss.l1_rate`.
    """

    def __init__(self, Lambda=1e-5):
        self.Lambda = Lambda
        self.__name__ = "l1_rate_sparsity"

    def __call__(self, spk_out):
        return _loss.l1_rate(spk_out, scale=self.Lambda)
