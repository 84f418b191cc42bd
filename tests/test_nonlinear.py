"""LIF (SpikingJelly's form), QIF, EIF, Izhikevich and AdEx beyond the conformance table
(tests/cases.py runs their shared concerns): step-by-step parity with SpikingJelly 2.0's
LIFNode, QIFNode, EIFNode and IzhikevichNode on both backends, the literature's firing
patterns, and the errors of their constants."""

import pytest
import torch

import tritonsnn as tsnn
from tritonsnn import functional as F

from .checks import assert_close, assert_spikes_equal, optional

BACKENDS = ["torch", "triton"]

# (tritonsnn Module, SpikingJelly node name, keyword arguments both take by the same name)
SJ_PAIRS = {
    "lif": (tsnn.LIF, "LIFNode", {}),
    "lif-no-decay-input": (tsnn.LIF, "LIFNode", {"decay_input": False}),
    "lif-soft": (tsnn.LIF, "LIFNode", {"v_reset": None, "tau": 3.0}),
    "lif-reset": (tsnn.LIF, "LIFNode", {"v_reset": -0.2, "threshold": 0.8}),
    "qif": (tsnn.QIF, "QIFNode", {}),
    "qif-soft": (tsnn.QIF, "QIFNode", {"v_reset": None}),
    "qif-detach": (tsnn.QIF, "QIFNode", {"detach_reset": True}),
    "eif": (tsnn.EIF, "EIFNode", {}),
    "eif-params": (tsnn.EIF, "EIFNode", {"tau": 3.0, "theta_rh": 0.6, "v_rest": -0.05}),
    "izhikevich": (tsnn.Izhikevich, "IzhikevichNode", {"a": 0.3, "b": 0.2, "tau_w": 3.0}),
    "izhikevich-defaults": (tsnn.Izhikevich, "IzhikevichNode", {}),
}
_SJ_NAMES = {"delta_t": "delta_T", "threshold": "v_threshold"}


@pytest.mark.parametrize("backend", BACKENDS)
@pytest.mark.parametrize("name", SJ_PAIRS)
def test_matches_spikingjelly(name, backend):
    """The same spikes and membrane (after each reset) as SpikingJelly's node, bit for bit on the
    PyTorch path (its order of operations; Triton's exp may differ by an ulp), and the same input
    gradient through spikes and membrane, multi-step and one step per call."""
    neuron = optional("spikingjelly.activation_based.neuron")
    ours_cls, sj_name, kw = SJ_PAIRS[name]
    g = torch.Generator().manual_seed(sum(map(ord, name)))
    T, B, N = 24, 3, 11
    x = (torch.randn(T, B, N, generator=g) * 0.8 + 0.45).requires_grad_()
    theirs = getattr(neuron, sj_name)(
        step_mode="m", store_v_seq=True, **{_SJ_NAMES.get(k, k): v for k, v in kw.items()}
    )
    ours = ours_cls(return_state=True, backend=backend, **kw)
    s_ref = theirs(x)
    v_ref = theirs.v_seq
    s, st = ours(x)
    assert 0 < s_ref.sum() < s_ref.numel()
    assert_spikes_equal(s, s_ref, f"{name} spikes")
    assert_close(st["mem"], v_ref, 0 if backend == "torch" else 1e-6, 0, f"{name} membrane")
    ups = torch.randn(2, T, B, N, generator=g)
    want = torch.autograd.grad((s_ref * ups[0]).sum() + (v_ref * ups[1]).sum(), x)[0]
    got = torch.autograd.grad((s * ups[0]).sum() + (st["mem"] * ups[1]).sum(), x)[0]
    assert_close(got, want, 0, 1e-5, f"{name} input gradient")
    stepped = ours_cls(step_mode="single", backend=backend, **kw)
    assert_spikes_equal(torch.stack([stepped(x_t) for x_t in x.detach()]), s_ref, f"{name} one step per call")


def test_defaults_are_spikingjellys():
    """``tsnn.QIF()`` etc. run with SpikingJelly's defaults (its surrogate, Sigmoid(alpha=4), included)."""
    neuron = optional("spikingjelly.activation_based.neuron")
    x = torch.randn(30, 2, 9, generator=torch.Generator().manual_seed(3)) * 0.8 + 0.5
    for ours, theirs in ((tsnn.LIF(), neuron.LIFNode), (tsnn.QIF(), neuron.QIFNode), (tsnn.EIF(), neuron.EIFNode)):
        assert ours.surrogate == tsnn.surrogate.sigmoid(4.0)
        assert_spikes_equal(ours(x), theirs(step_mode="m")(x), type(ours).__name__)


def test_adaptation_spaces_the_spikes():
    """Under a constant input, the spike-triggered adaptation current of AdEx lengthens the
    interspike intervals (spike-frequency adaptation); EIF with the same drive fires regularly."""
    x = torch.full((300, 1, 1), 0.6)
    for cls, adapting in ((tsnn.AdEx, True), (tsnn.EIF, False)):
        times = torch.nonzero(cls()(x)[:, 0, 0]).flatten()
        intervals = times.diff()
        assert len(intervals) >= 3, cls.__name__
        if adapting:
            assert intervals[-1] > intervals[0], intervals.tolist()
        else:
            assert intervals.max() - intervals.min() <= 1, intervals.tolist()


def test_state_carries_across_chunks_with_adaptation():
    """``stateful=True``: the membrane and w of the last step start the next chunk."""
    x = torch.randn(16, 2, 5, generator=torch.Generator().manual_seed(4)) * 0.8 + 0.5
    whole = tsnn.Izhikevich(a=0.3, b=0.2, return_state=True)
    chunked = tsnn.Izhikevich(a=0.3, b=0.2, return_state=True, stateful=True)
    s, st = whole(x)
    s1, st1 = chunked(x[:7])
    s2, st2 = chunked(x[7:])
    assert_spikes_equal(torch.cat([s1, s2]), s)
    assert_close(torch.cat([st1["w"], st2["w"]]), st["w"], 1e-6, 0, "w")


@pytest.mark.parametrize(
    "kw,error,match",
    [
        ({"tau": 1.0}, ValueError, "tau must be > 1"),
        ({"tau": torch.tensor(2.0)}, TypeError, "tau must be a number.*not learnable"),
        ({"a0": 0.0}, ValueError, "a0 must be > 0"),
        ({"v_c": float("nan")}, ValueError, "v_c must be finite"),
        ({"threshold": -1.0}, ValueError, "threshold must be > 0"),
    ],
)
def test_bad_constants_name_the_argument(kw, error, match):
    with pytest.raises(error, match=match):
        tsnn.QIF(**kw)
    with pytest.raises(error, match=match):
        F.qif(torch.zeros(2, 1, 3), **kw)


def test_unknown_option_is_refused():
    with pytest.raises(TypeError, match="reset_mechanism"):
        tsnn.EIF(reset_mechanism="zero")
    with pytest.raises(ValueError, match="delta_t must be > 0"):
        tsnn.AdEx(delta_t=0.0)
    with pytest.raises(ValueError, match="tau_w must be > 0"):
        F.izhikevich(torch.zeros(2, 1, 3), tau_w=0.0)
