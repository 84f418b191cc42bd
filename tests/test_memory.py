"""tsnn.memory: 1-bit packing of saved spikes and time-chunked recomputation give the plain
network's outputs and gradients, for every neuron family, conv nets, nested modules, chunk sizes
that do not divide T, carried state and torch.compile; the bit packing itself on both backends."""

import contextlib

import pytest
import torch
from torch import nn

import tritonsnn as tsnn
from tritonsnn import memory
from tritonsnn.kernels import bits as triton_bits
from tritonsnn.torchimpl import bits as torch_bits

from .checks import assert_close

BACKENDS = ["torch", "triton"]

NEURONS = {
    "Leaky": lambda b: tsnn.Leaky(0.9, learn_beta=True, learn_threshold=True, backend=b),
    "IF": lambda b: tsnn.IF(learn_threshold=True, backend=b),
    "Lapicque": lambda b: tsnn.Lapicque(beta=0.9, learn_threshold=True, backend=b),
    "ALIF": lambda b: tsnn.ALIF(0.9, backend=b),
    "Synaptic": lambda b: tsnn.Synaptic(0.5, 0.9, learn_alpha=True, learn_beta=True, backend=b),
    "Alpha": lambda b: tsnn.Alpha(0.9, 0.8, learn_alpha=True, backend=b),
    "RLeaky": lambda b: tsnn.RLeaky(0.9, all_to_all=False, learn_recurrent=True, backend=b),
    "RLeaky-dense": lambda b: tsnn.RLeaky(0.9, linear_features=6, backend=b),
    "RSynaptic": lambda b: tsnn.RSynaptic(0.5, 0.9, linear_features=6, backend=b),
    "Leaky-refractory": lambda b: tsnn.Leaky(0.9, refractory=2, backend=b),
}


def _net(name, backend, seed=0):
    torch.manual_seed(seed)
    return nn.Sequential(
        nn.Linear(4, 6), NEURONS[name](backend), nn.Linear(6, 6), tsnn.Leaky(0.8, return_mem=True, backend=backend)
    )


def _conv_net(backend, seed=0):
    torch.manual_seed(seed)
    return nn.Sequential(
        tsnn.MultiStep(nn.Conv2d(1, 3, 3, padding=1)),
        tsnn.Leaky(0.9, backend=backend),
        tsnn.MultiStep(nn.AvgPool2d(2)),
        tsnn.MultiStep(nn.Flatten()),
        nn.Linear(12, 5),
        tsnn.Synaptic(0.5, 0.9, return_mem=True, backend=backend),
    )


def _input(shape, seed=1):
    return (torch.rand(shape, generator=torch.Generator().manual_seed(seed)) * 2.5).requires_grad_()


def _run(net, x, context=None):
    """Outputs and the gradients of the input and of every parameter (a fixed weighted loss)."""
    x = x.detach().requires_grad_()
    if context is None:
        spikes, mem = net(x)
    else:
        with context():
            spikes, mem = net(x)
    w = torch.linspace(-1, 1, spikes.numel()).view(spikes.shape)
    grads = torch.autograd.grad((spikes * w).sum() + mem.sum(), [x, *net.parameters()], allow_unused=True)
    return spikes.detach(), mem.detach(), grads


def _assert_same(plain, other, exact):
    assert torch.equal(plain[0], other[0]), "spikes"
    assert torch.equal(plain[1], other[1]), "membrane"
    for i, (a, b) in enumerate(zip(plain[2], other[2])):
        if a is None:
            assert b is None
        elif exact:
            assert torch.equal(a, b), f"gradient {i}"
        else:  # sums over time taken per chunk: rounding order only
            assert_close(b, a, 1e-5, 1e-5 * float(a.abs().max()), f"gradient {i}")


# ------------------------------------------------------------------------------ pack_spikes


@pytest.mark.parametrize("backend", BACKENDS)
@pytest.mark.parametrize("name", list(NEURONS))
def test_packed_spikes_give_identical_gradients(name, backend):
    x = _input((9, 2, 4))
    plain = _run(_net(name, backend), x)
    _assert_same(plain, _run(_net(name, backend), x, memory.pack_spikes), exact=True)


@pytest.mark.parametrize("backend", BACKENDS)
def test_packed_spikes_in_a_conv_net(backend):
    x = _input((5, 2, 1, 4, 4))
    plain = _run(_conv_net(backend), x)
    _assert_same(plain, _run(_conv_net(backend), x, memory.pack_spikes), exact=True)


def _saved(net, x, pack):
    with memory.pack_spikes() if pack else torch.enable_grad():
        with memory.saved_tensor_bytes() as ledger:
            net(x)
    return ledger["bytes"]


def test_packing_stores_the_next_layers_input_in_one_bit_per_spike():
    T, B, N = 16, 8, 64
    net = nn.Sequential(nn.Linear(N, N), tsnn.Leaky(0.9), nn.Linear(N, N), tsnn.Leaky(0.9))
    x = torch.rand(T, B, N, requires_grad=True)
    plain, packed = _saved(net, x, False), _saved(net, x, True)
    spike_bytes = T * B * N * 4  # the second Linear's fp32 input
    assert plain - packed == spike_bytes - T * B * N // 8


def test_graded_and_changed_spikes_keep_their_values():
    # Spikes scaled by a new op, or changed in place (dropout's 1/(1-p)), are not 0/1 any more:
    # they are saved as they are, and the gradients stay the plain network's.
    for middle in (lambda: tsnn.MultiStep(nn.Dropout(0.5, inplace=True)), lambda: tsnn.MultiStep(nn.Hardtanh(0, 2))):

        def build(middle=middle):
            torch.manual_seed(0)
            return nn.Sequential(nn.Linear(4, 6), tsnn.Leaky(0.9), middle(), nn.Linear(6, 3), tsnn.Leaky(0.8))

        x = _input((8, 2, 4))
        net = build()
        torch.manual_seed(5)
        s = net(x)
        want = torch.autograd.grad(s.sum(), list(net.parameters()))
        net = build()
        torch.manual_seed(5)
        with memory.pack_spikes():
            s2 = net(x)
        got = torch.autograd.grad(s2.sum(), list(net.parameters()))
        assert torch.equal(s, s2)
        assert all(torch.equal(a, b) for a, b in zip(want, got))
    scaled = tsnn.Leaky(0.9)
    with memory.pack_spikes():
        y = scaled(torch.rand(4, 2, 3) * 3) * 2.0
    assert not memory.is_spikes(y)


# ------------------------------------------------------------------------------ compact_state


def _assert_compact(plain, other, rtol=3e-2):
    """The forward is the plain network's bit for bit; gradients differ by the bf16 rounding of
    the membrane the surrogate reads."""
    assert torch.equal(plain[0], other[0]), "spikes"
    assert torch.equal(plain[1], other[1]), "membrane"
    for i, (a, b) in enumerate(zip(plain[2], other[2])):
        if a is None:
            assert b is None
        else:
            assert_close(b, a, 0.0, rtol, f"gradient {i}")  # relative to the largest magnitude


@pytest.mark.parametrize("backend", BACKENDS)
@pytest.mark.parametrize("name", list(NEURONS))
def test_compact_state_keeps_the_forward_and_approximates_gradients(name, backend):
    x = _input((9, 2, 4))
    plain = _run(_net(name, backend), x)
    _assert_compact(plain, _run(_net(name, backend), x, memory.compact_state))


@pytest.mark.parametrize("backend", BACKENDS)
@pytest.mark.parametrize("reset", ["subtract", "zero"])
def test_compact_state_keeps_every_reset_of_the_forward(reset, backend):
    # Membranes within bf16 rounding of the threshold: 1.001 fires against 1.0 but rounds to 1.0;
    # 0.9985 does not fire against 0.999 but rounds to 1.0. Backward must still see the forward's
    # resets (with a zeroing reset the gradient path through the membrane is cut exactly there).
    for neuron in (
        lambda: tsnn.Leaky(0.5, torch.tensor([1.0, 0.999]), reset_mechanism=reset, return_mem=True, backend=backend),
        lambda: tsnn.Synaptic(
            0.0, 0.5, torch.tensor([1.0, 0.999]), reset_mechanism=reset, return_mem=True, backend=backend
        ),
    ):
        x = torch.tensor([[[1.001, 0.9985]], [[0.3, 0.3]], [[0.3, 0.3]]])
        plain = _run(neuron(), x)
        assert plain[0][0].tolist() == [[1.0, 0.0]]
        _assert_compact(plain, _run(neuron(), x, memory.compact_state), rtol=1e-3)


def test_compact_state_saves_two_bytes_and_one_bit_per_element():
    T, B, N = 16, 3, 63  # per step an element count that is not a multiple of 8
    for neuron in (tsnn.Leaky(0.9), tsnn.Synaptic(0.5, 0.9), tsnn.Leaky(0.9, step_mode="single")):
        single = neuron.step_mode == "single"
        x = torch.rand(T, B, N, requires_grad=True)
        saved = []
        for compact in (False, True):
            with memory.compact_state() if compact else torch.enable_grad():
                with memory.saved_tensor_bytes() as ledger:
                    if single:
                        tsnn.reset(neuron)
                        [neuron(x_t) for x_t in x.unbind(0)]
                    else:
                        neuron(x)
            saved.append(ledger["bytes"])
        if single:  # each step's membrane is the next step's initial state, saved in fp32 by it
            assert saved[0] == saved[1]
        else:  # the fp32 membrane -> bf16 + 1 bit
            assert saved[0] - saved[1] == 2 * T * B * N - (T * B * N + 7) // 8


@pytest.mark.parametrize("backend", BACKENDS)
def test_compact_state_with_packed_spikes_and_time_chunks(backend):
    x = _input((11, 2, 4))
    plain = _run(_net("Leaky", backend), x)

    @contextlib.contextmanager
    def both():
        with memory.compact_state(), memory.pack_spikes():
            yield

    _assert_compact(plain, _run(memory.TimeChunked(_net("Leaky", backend), 4), x, both))
    images = _input((5, 2, 1, 4, 4))
    _assert_compact(_run(_conv_net(backend), images), _run(memory.TimeChunked(_conv_net(backend), 2), images, both))


def test_compact_state_compiles():
    x = _input((10, 2, 4))
    eager = _run(_net("Leaky", "torch"), x, memory.compact_state)
    torch._dynamo.reset()
    compiled = torch.compile(_net("Leaky", "torch"), backend="aot_eager")
    got = _run(compiled, x, memory.compact_state)
    _assert_same(eager, got, exact=True)


# ------------------------------------------------------------------------------ bit packing


@pytest.mark.parametrize("dtype", [torch.float32, torch.float16, torch.bfloat16, torch.bool])
@pytest.mark.parametrize("n", [0, 1, 7, 8, 9, 1000, 8 * 1024 + 3])
def test_bit_packing_round_trips_on_both_backends(dtype, n):
    values = torch.rand(2 * n, generator=torch.Generator().manual_seed(n)) > 0.5
    x = values.to(dtype)[::2]  # non-contiguous
    packed = torch_bits.pack_bits(x)
    assert packed.dtype == torch.uint8 and packed.numel() == (n + 7) // 8
    assert torch.equal(triton_bits.pack_bits(x), packed)  # the same bytes (Triton's interpreter)
    for impl in (torch_bits, triton_bits):
        back = impl.unpack_bits(packed, n, dtype)
        assert back.dtype == dtype and torch.equal(back, x.reshape(-1))


# ------------------------------------------------------------------------------ TimeChunked


@pytest.mark.parametrize("backend", BACKENDS)
@pytest.mark.parametrize("name", list(NEURONS))
def test_time_chunked_matches_the_plain_network(name, backend):
    x = _input((11, 2, 4))
    plain = _run(_net(name, backend), x)
    for chunk in (1, 4, 11, 40):  # one step, not dividing T, T, more than T
        _assert_same(plain, _run(memory.TimeChunked(_net(name, backend), chunk), x), exact=chunk >= 11)


@pytest.mark.parametrize("backend", BACKENDS)
def test_time_chunked_conv_net_with_packed_spikes(backend):
    x = _input((7, 2, 1, 4, 4))
    plain = _run(_conv_net(backend), x)
    _assert_same(plain, _run(memory.TimeChunked(_conv_net(backend), 3), x), exact=False)
    _assert_same(plain, _run(memory.TimeChunked(_conv_net(backend), 3), x, memory.pack_spikes), exact=False)


def test_time_chunked_nested_modules_synapses_and_delays():
    def build():
        torch.manual_seed(0)
        inner = nn.Sequential(tsnn.Delay(torch.tensor([0.0, 1.5, 3.0, 2.0])), nn.Linear(4, 5))
        conn = tsnn.Connection(nn.Linear(5, 5), synapse=tsnn.ExpSynapse(0.7, learn_alpha=True))
        return nn.Sequential(inner, tsnn.Leaky(0.9), tsnn.Cell(conn, tsnn.Leaky(0.9, return_mem=True)))

    x = _input((13, 3, 4))
    plain = _run(build(), x)
    _assert_same(plain, _run(memory.TimeChunked(build(), 5), x), exact=False)


def test_time_chunked_carries_state_across_calls_like_the_plain_network():
    # stateful=True units keep their state across calls (TBPTT with tsnn.detach), as unchunked.
    def build():
        torch.manual_seed(0)
        return nn.Sequential(
            nn.Linear(4, 6), tsnn.Synaptic(0.5, 0.9, stateful=True), nn.Linear(6, 3), tsnn.Leaky(0.8, stateful=True)
        )

    x = _input((20, 2, 4))
    plain, chunked = build(), build()
    wrapped = memory.TimeChunked(chunked, 3)
    for part in (x[:10], x[10:]):
        s_p, s_c = plain(part), wrapped(part)
        assert torch.equal(s_p, s_c)
        g_p = torch.autograd.grad(s_p.sum(), list(plain.parameters()))
        g_c = torch.autograd.grad(s_c.sum(), list(chunked.parameters()))
        for a, b in zip(g_p, g_c):
            assert_close(b, a, 1e-5, 1e-5 * float(a.abs().max()), "parameter gradient")
        tsnn.detach(plain)
        tsnn.detach(wrapped)
    assert torch.equal(plain[1].mem, chunked[1].mem)  # the final state is left in the units
    tsnn.reset(wrapped)
    assert chunked[1].mem is None


def test_time_chunked_without_stateful_units_starts_every_call_from_zero():
    torch.manual_seed(0)
    net = nn.Sequential(nn.Linear(4, 3), tsnn.Leaky(0.9))
    wrapped = memory.TimeChunked(net, 4)
    x = torch.rand(10, 2, 4)
    assert torch.equal(wrapped(x), wrapped(x))
    assert torch.equal(wrapped(x), net(x))
    assert net[1].mem is None


def test_time_chunked_compiles():
    x = _input((10, 2, 4))
    plain = _run(_net("Leaky", "torch"), x)
    torch._dynamo.reset()
    compiled = torch.compile(memory.TimeChunked(_net("Leaky", "torch"), 4), backend="aot_eager")
    _assert_same(plain, _run(compiled, x), exact=False)


def test_time_chunked_zero_steps():
    net = _net("Leaky", "torch")
    spikes, mem = memory.TimeChunked(net, 4)(torch.zeros(0, 2, 4))
    assert spikes.shape == (0, 2, 6) and mem.shape == (0, 2, 6)


def test_time_chunked_refuses_what_it_cannot_chunk():
    with pytest.raises(ValueError, match="chunk must be a whole number of steps >= 1"):
        memory.TimeChunked(nn.Sequential(tsnn.Leaky(0.9)), 0)
    with pytest.raises(ValueError, match="step_mode='multi'"):
        memory.TimeChunked(nn.Sequential(tsnn.Leaky(0.9, step_mode="single")), 4)
    with pytest.raises(ValueError, match="Trace"):
        memory.TimeChunked(nn.Sequential(tsnn.Trace(tau=5.0)), 4)
    cell = tsnn.Cell(tsnn.Connection(nn.Linear(3, 3)), tsnn.Leaky(0.9), record=True)
    with pytest.raises(ValueError, match="record=True"):
        memory.TimeChunked(cell, 4)
    with pytest.raises(ValueError, match="snnTorch-style"):
        memory.TimeChunked(nn.Sequential(tsnn.snntorch.Leaky(beta=0.9, init_hidden=True)), 4)
    with pytest.raises(ValueError, match=r"sequence \[T, B, ...\]"):
        memory.TimeChunked(nn.Sequential(tsnn.Leaky(0.9)), 4)(torch.zeros(3))
