"""What the CPU benchmarks compare: one row per neuron, three ways of running it.

* ``tritonsnn``: the package's Module on the PyTorch path (``backend="torch"``),
  called once on the whole sequence ``[T, B, N]``.
* ``snntorch``: snnTorch's neuron stepped in a Python loop, one call per step,
  from zero state (how snnTorch is used).
* ``plain``: a hand-written PyTorch autograd loop with the same order of
  operations as snnTorch (what a user would write without either package).
* ``compile-step`` / ``compile-loop``: that plain loop with ``torch.compile`` of one step (the
  Python loop around it) or of the whole loop (unrolled over T); Leaky and IF rows.
* ``spikingjelly``: SpikingJelly 2.0's multi-step ``LIFNode`` (its CPU path), the closest
  semantics to a Leaky row with ``reset_delay=False`` (soft reset in the same step,
  ``tau = 1/(1 - beta)``, input not decayed); it fires on ``>=`` and rounds its decay differently,
  so its spikes are compared by agreement, not required equal.
* ``norse``: norse 1.1's ``LIFBoxCell`` stepped in a Python loop (norse's way for a cell), for a
  Leaky row with ``reset_mechanism="zero", reset_delay=False`` (its hard reset to 0 in the same
  step); ``dt * tau_mem_inv = 1 - beta`` and the input scaled by ``1/(1 - beta)`` once, so the
  update is ``beta*v + x`` in other roundings: compared by agreement too.

A neuron added to tritonsnn is benchmarked by adding one :class:`NeuronCase` to
:data:`CASES`; rows whose class does not exist yet in ``tritonsnn`` are skipped
with a reason, so entries can be written before the neuron lands.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass, field

import torch

import tritonsnn as tsnn

try:
    import snntorch
except ImportError:  # the CPU tier reports snnTorch as skipped
    snntorch = None

ATAN_ALPHA = 2.0  # snnTorch's and tritonsnn's default surrogate: atan(alpha=2)


class AtanSpike(torch.autograd.Function):
    """Heaviside forward, arc-tangent surrogate backward (snnTorch's default formula)."""

    @staticmethod
    def forward(ctx, v):
        ctx.save_for_backward(v)
        return (v > 0).to(v.dtype)

    @staticmethod
    def backward(ctx, grad):
        (v,) = ctx.saved_tensors
        h = (math.pi / 2 * ATAN_ALPHA) * v
        return grad * ((ATAN_ALPHA / 2) / (1 + h * h))


spike = AtanSpike.apply


def leaky_step(x_t, mem, beta: float, threshold: float):
    """One snnTorch ``Leaky`` step (subtract reset, ``reset_delay=True``): returns ``(spk, mem)``."""
    reset = (mem > threshold).to(x_t.dtype)  # computed from the previous membrane; carries no gradient
    mem = beta * mem + x_t - reset * threshold
    return spike(mem - threshold), mem


def plain_leaky(x, beta: float = 0.9, threshold: float = 1.0, step=leaky_step):
    """Plain autograd loop of ``step`` (:func:`leaky_step` or a compiled copy) over ``x [T, B, ...]``
    from zero state."""
    mem = torch.zeros_like(x[0])
    out = []
    for x_t in x.unbind(0):  # per-step inputs, as a previous layer hands them over
        s, mem = step(x_t, mem, beta, threshold)
        out.append(s)
    return torch.stack(out)


def plain_synaptic(x, alpha: float = 0.8, beta: float = 0.9, threshold: float = 1.0):
    """Plain autograd loop of snnTorch ``Synaptic`` (subtract reset, ``reset_delay=True``)."""
    syn = torch.zeros_like(x[0])
    mem = torch.zeros_like(x[0])
    out = []
    for x_t in x.unbind(0):
        reset = (mem > threshold).to(x.dtype)
        syn = alpha * syn + x_t
        mem = beta * mem + syn - reset * threshold
        out.append(spike(mem - threshold))
    return torch.stack(out)


def snntorch_loop(neuron):
    """Wrap an snnTorch neuron (``init_hidden=False``) as ``x [T, B, ...] -> spikes``, one call per step."""

    def run(x):
        neuron.reset_mem()  # zero state; the first step sizes it to the input
        # Per-step inputs as a network hands them over (x.unbind(0)); indexing x[t] of a leaf that
        # requires grad would make each step's backward build a zero tensor the size of all of x.
        return torch.stack([neuron(x_t)[0] for x_t in x.unbind(0)])

    return run


@dataclass(frozen=True)
class NeuronCase:
    """One neuron to benchmark.

    Attributes:
        name: the tritonsnn class name (``getattr(tsnn, name)``).
        tsnn_kwargs: constructor arguments for the tritonsnn Module.
        snntorch: builds the equivalent snnTorch neuron, or None where snnTorch has none.
        plain: plain autograd loop ``x -> spikes``, or None where none is written.
        input_scale, input_shift: the input is ``randn * scale + shift`` (keeps neurons firing).
        dense: all-to-all recurrence: both sides get ``linear_features=N`` and, built from the
            same seed, the same ``nn.Linear(N, N)`` weights.
        conv: all-to-all recurrence through ``nn.Conv2d(C, C, 3, padding=1)`` (same seed, same
            weights on both sides); the ``[T, B, N]`` input is viewed as images ``[T, B, C, H, W]``
            (:func:`conv_shape`).
    """

    name: str
    tsnn_kwargs: dict = field(default_factory=dict)
    snntorch: Callable[[], torch.nn.Module] | None = None
    plain: Callable | None = None
    input_scale: float = 0.5
    input_shift: float = 0.2
    dense: bool = False
    conv: bool = False

    @property
    def label(self) -> str:
        """Unique row name: the class name, ``-dense`` / ``-conv`` for all-to-all recurrence."""
        return self.name + ("-dense" if self.dense else "") + ("-conv" if self.conv else "")


def conv_shape(N: int):
    """``(C, H, W)`` with 4 channels and square images holding ``N`` features, or None."""
    side = math.isqrt(N // 4)
    return (4, side, side) if 4 * side * side == N else None


CASES = [
    NeuronCase("Leaky", dict(beta=0.9), lambda **kw: snntorch.Leaky(beta=0.9, **kw), plain_leaky),
    NeuronCase(
        "IF",
        dict(),
        lambda: snntorch.Leaky(beta=1.0),  # snnTorch's IF is Leaky(beta=1)
        lambda x: plain_leaky(x, beta=1.0),
        input_shift=0.0,
    ),
    # Written ahead of the neurons: each runs once tritonsnn exports the class.
    NeuronCase(
        "Synaptic", dict(alpha=0.8, beta=0.9), lambda **kw: snntorch.Synaptic(alpha=0.8, beta=0.9, **kw), plain_synaptic
    ),
    NeuronCase("Lapicque", dict(beta=0.9), lambda: snntorch.Lapicque(beta=0.9)),
    NeuronCase("Alpha", dict(alpha=0.9, beta=0.8), lambda: snntorch.Alpha(alpha=0.9, beta=0.8), input_shift=1.0),
    NeuronCase("RLeaky", dict(beta=0.9, all_to_all=False), lambda: snntorch.RLeaky(beta=0.9, all_to_all=False)),
    NeuronCase(
        "RSynaptic",
        dict(alpha=0.8, beta=0.9, all_to_all=False),
        lambda: snntorch.RSynaptic(alpha=0.8, beta=0.9, all_to_all=False),
    ),
    NeuronCase("ALIF", dict(beta=0.9)),  # no snnTorch counterpart
    # All-to-all recurrence: one N x N matmul per step on both sides bounds the speed-up.
    NeuronCase("RLeaky", dict(beta=0.9), lambda **kw: snntorch.RLeaky(beta=0.9, **kw), dense=True, input_shift=0.1),
    NeuronCase(
        "RSynaptic",
        dict(alpha=0.8, beta=0.9),
        lambda **kw: snntorch.RSynaptic(alpha=0.8, beta=0.9, **kw),
        dense=True,
        input_shift=0.1,
    ),
    # ... and through a 3x3 convolution: an autograd loop over steps on both sides.
    NeuronCase("RLeaky", dict(beta=0.9), lambda **kw: snntorch.RLeaky(beta=0.9, **kw), conv=True, input_shift=0.1),
    NeuronCase(
        "RSynaptic",
        dict(alpha=0.8, beta=0.9),
        lambda **kw: snntorch.RSynaptic(alpha=0.8, beta=0.9, **kw),
        conv=True,
        input_shift=0.1,
    ),
]

PROVIDERS = ("tritonsnn", "snntorch", "plain", "compile-step", "compile-loop", "spikingjelly", "norse")
EXACT = ("tritonsnn", "snntorch", "plain", "compile-step", "compile-loop")  # spikes equal to tritonsnn's


def build(case: NeuronCase, provider: str, N: int, device="cpu", backend="torch", options=None):
    """``(fn, None)`` with ``fn: x -> spikes`` on ``device`` for ``N`` features (tritonsnn with
    ``backend``), or ``(None, reason)`` when it cannot run. ``options`` (e.g. ``reset_mechanism``,
    ``reset_delay``) go to both packages' constructors alike."""
    options = options or {}
    extra = dict(linear_features=N, **options) if case.dense else dict(options)
    if case.conv:
        if conv_shape(N) is None:
            return None, f"{case.label} views N features as 4 square channels; N={N} is not 4*s*s"
        extra = dict(conv2d_channels=4, kernel_size=3, **options)
    if case.dense or case.conv:
        torch.manual_seed(0)  # the same recurrent weights on both sides
    if provider == "tritonsnn":
        if not hasattr(tsnn, case.name):
            return None, f"tritonsnn has no {case.name} yet"
        try:
            return _on_features(case, tsnn_module(case, backend, **extra).to(device), N), None
        except (TypeError, ValueError) as e:  # a constructor that differs from the table's guess
            return None, f"tsnn.{case.name}(**{case.tsnn_kwargs}) failed: {e}"
    if provider == "snntorch":
        if snntorch is None:
            return None, "snntorch is not installed"
        if case.snntorch is None:
            return None, f"snnTorch has no {case.name}"
        try:
            neuron = case.snntorch(**extra)
        except TypeError:  # a row whose snnTorch constructor takes no options
            return None, f"the {case.label} row passes no options {sorted(options)} to snnTorch"
        return _on_features(case, snntorch_loop(neuron.to(device)), N), None
    if provider in ("plain", "compile-step", "compile-loop"):
        if case.plain is None:
            return None, f"no plain loop written for {case.name}"
        if options:
            return None, "the plain loops have the default reset only"
        return _plain(case, provider)
    if provider == "spikingjelly":
        return _spikingjelly(case, options)
    if provider == "norse":
        return _norse(case, options)
    raise ValueError(f"provider must be one of {PROVIDERS}; got {provider!r}")


def _plain(case: NeuronCase, provider: str):
    if provider == "plain":
        return case.plain, None
    if case.name not in ("Leaky", "IF"):
        return None, f"{provider} is written for the Leaky and IF rows"
    beta = case.tsnn_kwargs.get("beta", 1.0)
    if provider == "compile-step":
        step = torch.compile(leaky_step, dynamic=False)
        return lambda x: plain_leaky(x, beta=beta, step=step), None
    return torch.compile(lambda x: plain_leaky(x, beta=beta), dynamic=False), None


def _spikingjelly(case: NeuronCase, options: dict):
    try:
        from spikingjelly.activation_based import neuron, surrogate
    except ImportError:
        return None, "spikingjelly is not installed"
    if case.name not in ("Leaky", "IF") or options.get("reset_mechanism", "subtract") != "subtract":
        return None, "spikingjelly's LIFNode stands in for the Leaky and IF rows with the subtracting reset"
    beta = case.tsnn_kwargs.get("beta", 1.0)
    if beta >= 1.0:
        node = neuron.IFNode(v_reset=None, step_mode="m", surrogate_function=surrogate.ATan(alpha=ATAN_ALPHA))
    else:
        node = neuron.LIFNode(
            tau=1.0 / (1.0 - beta),
            decay_input=False,
            v_reset=None,
            step_mode="m",
            surrogate_function=surrogate.ATan(alpha=ATAN_ALPHA),
        )

    def run(x):
        node.reset()
        return node(x)

    return run, None


def _norse(case: NeuronCase, options: dict):
    try:
        import norse.torch as norse
    except ImportError:
        return None, "norse is not installed"
    if case.name != "Leaky" or options.get("reset_mechanism") != "zero" or options.get("reset_delay", True):
        return None, "norse's LIFBoxCell stands in for the Leaky row with --reset-mechanism zero --no-reset-delay"
    leak = 1.0 - case.tsnn_kwargs["beta"]
    cell = norse.LIFBoxCell(norse.LIFBoxParameters(tau_mem_inv=torch.tensor(leak / 1e-3)), dt=1e-3)

    def run(x):
        state, out = None, []
        for x_t in (x / leak).unbind(0):
            z, state = cell(x_t, state)
            out.append(z)
        return torch.stack(out)

    return run, None


def _on_features(case: NeuronCase, fn, N: int):
    """``fn`` as a function of ``[T, B, N]``: conv rows see the features as images."""
    if not case.conv:
        return fn
    C, H, W = conv_shape(N)
    return lambda x: fn(x.reshape(*x.shape[:2], C, H, W)).reshape(x.shape)


def tsnn_module(case: NeuronCase, backend="torch", **extra):
    return getattr(tsnn, case.name)(**case.tsnn_kwargs, **extra, backend=backend)


def make_input(case: NeuronCase, T: int, B: int, N: int, seed: int = 0, dtype=torch.float32):
    g = torch.Generator().manual_seed(seed)
    x = torch.randn(T, B, N, generator=g) * case.input_scale + case.input_shift
    return x.to(dtype)
