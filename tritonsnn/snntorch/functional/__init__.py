"""snnTorch-compatible ``snntorch.functional``: ``import tritonsnn.snntorch.functional as SF``.

Losses (``SF.ce_rate_loss()``, ...), accuracy (``SF.accuracy_rate``),
regularisation (``SF.l1_rate_sparsity``), monitors (``SF.probe``) and state
quantisation (``SF.quant.state_quant``), with snnTorch 1.0's names,
signatures and results; the math is that of :mod:`tritonsnn.loss`. See
:mod:`tritonsnn.snntorch.functional.loss` for the snnTorch conventions kept
and the options that raise instead.

``stdp_learner`` is not provided (importing it raises ``ImportError``); use
``tritonsnn.STDP``.
"""

from . import acc, loss, probe, quant, reg
from .acc import *  # noqa: F403  (snnTorch's layout: SF.<loss> at the top level)
from .loss import *  # noqa: F403
from .probe import *  # noqa: F403
from .reg import *  # noqa: F403

__all__ = ["acc", "loss", "probe", "quant", "reg"]
__all__ += acc.__all__ + loss.__all__ + probe.__all__ + reg.__all__


def __getattr__(name):
    if name == "stdp_learner":
        raise AttributeError(
            "tritonsnn.snntorch.functional has no `stdp_learner`: snnTorch's STDP learners are not reproduced. "
            "Use tritonsnn.STDP (trace-based STDP on a tritonsnn.Connection) instead."
        )
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
