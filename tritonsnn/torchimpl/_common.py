"""What the PyTorch implementations of every neuron family share: the chunking of reverse
loops, scratch rows, the surrogate gradient of a chunk, the same-step reset and its
gradient, the membrane carried into each step, the refractory counter and the reduction
of parameter gradients. Written once here; the families (``lif.py``, ``synaptic.py``)
only add what their recurrences do differently.
"""

from __future__ import annotations

import torch

from .. import surrogate as sg
from ..contracts import Reset

F32 = torch.float32

# Backward works through time in chunks of about this many elements: big enough to
# amortise per-op overhead, small enough that the temporaries stay in cache (512 KiB of
# fp32 each; at B*N = 32768 four steps were 4-8% faster than two for Synaptic/RLeaky/RSynaptic).
CHUNK_ELEMS = 1 << 17


def chunk_steps(B: int, N: int, chunk_elems: int) -> int:
    """Steps per chunk of a reverse loop over ``[T, B, N]``."""
    return max(1, chunk_elems // max(1, B * N))


def chunks(T: int, chunk: int):
    """``(t0, t1)`` of each chunk of steps, from the last one back to the first."""
    for t1 in range(T, 0, -chunk):
        yield max(0, t1 - chunk), t1


def rows(seq):
    """``seq``'s rows as views, made at once: indexing a row per step costs about as much as a
    small op on it."""
    return None if seq is None else seq.unbind(0)


def chunk_rows(like, chunk: int, on: bool = True):
    """Scratch rows for one chunk of steps of ``like [T, B, N]`` (None unless ``on``). The reverse
    loops reuse them for every chunk: a fresh tensor per chunk costs more than the op filling it."""
    return like.new_empty(min(chunk, like.shape[0]), *like.shape[1:]) if on else None


def full_row(param, N):
    """A ``[1]`` or ``[N]`` parameter as a contiguous ``[N]`` row. An op over a chunk whose other
    operands all broadcast from ``[1]`` (``addcmul(beta, sgrad, V)``) takes a slow unvectorised
    path in PyTorch, about four times slower than with one ``[N]`` operand."""
    return param.expand(N).contiguous()


def above(a, b, at=False, out=None):
    """``a > b`` (``at``: ``a >= b``, firing at the threshold) as fp32 0/1 (``b`` broadcasts to
    ``a``), into ``out`` if given. Comparisons into a float output run vectorised; a bool tensor,
    and every op that reads one (``to``, ``where``, ``masked_fill``), is several times slower on the CPU."""
    return (torch.ge if at else torch.gt)(a, b, out=torch.empty_like(a, dtype=F32) if out is None else out)


def quiet(a, b, at=False):
    """Where ``a`` does not fire against ``b`` (:func:`above`'s complement), as fp32 0/1."""
    return comparisons(at)[1](a, b, out=torch.empty_like(a, dtype=F32))


def comparisons(at=False):
    """``(fires, quiet)``: the comparisons of a membrane with its threshold, ``(ge, lt)`` when a
    membrane at the threshold fires, else snnTorch's ``(gt, le)``."""
    return (torch.ge, torch.lt) if at else (torch.gt, torch.le)


def as_dtype(t, dtype=F32):
    """``t`` in ``dtype``; a no-op ``to()`` still costs as much as a small op."""
    return t if t.dtype == dtype else t.to(dtype)


def span(seq, t0, t1):
    """Steps t0..t1 of ``seq``: the tensor itself when that is all of it (a slice is a view to make)."""
    return seq if t0 == 0 and t1 == seq.shape[0] else seq[t0:t1]


def zeros_or(state, B, N, dev):
    """An initial state as fp32 ``[B, N]``: zeros where it is None."""
    return torch.zeros(B, N, dtype=F32, device=dev) if state is None else as_dtype(state)


def reduce_to(g, param):
    """Sum a per-neuron ``[N]`` gradient down to ``param``'s shape ``[1]`` or ``[N]``."""
    return g.sum().reshape(1) if param.numel() == 1 else g


def reduce_batch(acc, param):
    """Sum per-element ``[B, N]`` gradient partials down to ``param``'s shape ``[1]`` or ``[N]``."""
    return acc.sum().reshape(1) if param.numel() == 1 else acc.sum(0)


def param_grads(grads_cls, acc: dict, params) -> dict:
    """The ``d<param>`` fields of the gradients record ``grads_cls``: each partial accumulated in
    ``acc`` summed over the batch into its parameter's shape, None where none was accumulated."""
    return {
        f"d{k}": reduce_batch(acc[k], p) if k in acc else None
        for k, p in params._asdict().items()
        if f"d{k}" in grads_cls._fields
    }


def surrogate(x, choice: sg.Surrogate, given, t0, t1):
    """The surrogate gradient of steps t0..t1 into ``x`` (a temporary holding membrane minus
    threshold), copied from ``given`` where it comes precomputed."""
    return x.copy_(span(given, t0, t1)) if given is not None else sg.grad_(x, choice)


def head(scratch, n):
    """The first ``n`` rows of a chunk's scratch buffer (itself when it has exactly ``n``)."""
    return scratch if scratch.shape[0] == n else scratch[:n]


def shifted(f, f_next):
    """The factor of step t+1 for each step t of a chunk: ``f[1:]`` then ``f_next`` (the first
    step of the later chunk)."""
    c = f.shape[0]
    return torch.cat([f[1:].expand(c - 1, *f_next.shape), f_next[None]]) if c > 1 else f_next[None]


# --- resets ---------------------------------------------------------------------------------


def post_reset(m, s, r, thr, reset, out=None):
    """Membrane after the same-step reset (``reset_delay=False``): ``m - (s - r)*thr`` or ``m - (s - r)*m``.
    One fused op after ``s - r``: with ``s - r`` in {-1, 0, 1} the product is exact, so the
    result is the same bits as the separate multiply and subtract."""
    d = s - r
    return torch.addcmul(m, d, thr if reset == Reset.SUBTRACT else m, value=-1, out=out)


def reset_now(m, s, r, thr, reset, bits_t, post_t, at=False):
    """Without ``reset_delay``: store step t's reset flags (and, given ``post_t``, the post-reset
    membrane straight into it); return the post-reset membrane and the flags of step t+1."""
    bits_t.copy_(r)
    p = post_reset(m, s, r, thr, reset, out=post_t)
    return p, above(p, thr, at)


def same_step_reset_grad(pre, r, sgrad, thr, reset, free=None, at=False):
    """The same-step reset in backward: ``(post_jac, d)`` with ``post_jac = d post[t] / d pre[t]``
    (the surrogate flows through the reset, as in snnTorch) and ``d = s[t] - r[t]`` the reset
    applied (None when ``r`` is: the subtracting reset's jacobian needs neither); ``free`` masks
    the spikes of refractory steps."""
    if r is None and reset == Reset.SUBTRACT:
        return 1 - thr * sgrad, None
    s = above(pre, thr, at)
    if free is not None:
        s = s * free
    d = s - r
    post_jac = 1 - thr * sgrad if reset == Reset.SUBTRACT else (1 - d) - pre * sgrad
    return post_jac, d


def dpost_dthreshold(pre, d, sgrad, thr, reset):
    """``d post[t] / d threshold`` of the same-step reset."""
    return thr * sgrad - d if reset == Reset.SUBTRACT else pre * sgrad


def carried_membrane(
    pre,
    bits,
    mem0,
    t0,
    t1,
    *,
    thr,
    reset,
    delay,
    th_prev=None,
    free_prev=None,
    fired_prev=None,
    need_prev=True,
    need_r=True,
    at=False,
):
    """The membrane carried into each step of chunk ``t0..t1`` (``post[t-1]``, ``mem0`` at t = 0) and
    the reset flags ``r[t]``, as ``(prev, r)`` (None where not needed). With delay the carried
    membrane is ``pre[t-1]`` and ``r[t] = H(pre[t-1] - th_prev[t])``, times ``fired_prev`` (rows
    of :func:`could_fire`) with refractory periods; without, ``r`` is the saved
    bits and ``post[t-1]`` is rebuilt from ``pre``, the spikes (``free_prev`` masks refractory
    steps) and the bits."""
    th_prev = thr if th_prev is None else th_prev
    if delay:
        prev = r = None
        if need_prev or need_r:
            prev = torch.cat([(mem0 if t0 == 0 else pre[t0 - 1])[None], pre[t0 : t1 - 1]])
        if need_r:
            r = above(prev, th_prev, at)
            if fired_prev is not None:
                r = r * fired_prev
        return prev, r
    r = as_dtype(span(bits, t0, t1)) if need_r else None
    if not need_prev:
        return None, r
    lo = max(t0 - 1, 0)
    s_lo = above(pre[lo : t1 - 1], thr, at)
    if free_prev is not None:
        s_lo = s_lo * free_prev
    post_prev = post_reset(pre[lo : t1 - 1], s_lo, bits[lo : t1 - 1].to(F32), thr, reset)
    prev = torch.cat([mem0[None], post_prev]) if t0 == 0 else post_prev
    return prev, r


# --- refractory periods ---------------------------------------------------------------------


def fired_last(count0, steps, like):
    """1 where step -1 fired (the counter it left is ``steps``), as fp32 like ``like``; 0 without a
    counter. With a refractory period the delayed reset of a step is the previous step's spike:
    a membrane held above threshold through the period is not reset again (one spike removes
    one threshold)."""
    if count0 is None:
        return torch.zeros_like(like)
    return torch.eq(count0, steps).to(like.dtype)


def could_fire(refr_bits, fired0, t0, t1):
    """Rows ``t0..t1-1`` of "step t-1 fired where it crossed the threshold": 1 - step t-1's
    refractory flag, ``fired0`` (:func:`fired_last`) for t = 0. Times ``H(pre[t-1] - th)`` it is
    the delayed reset flag of a refractory neuron."""
    free = 1 - as_dtype(refr_bits[max(t0 - 1, 0) : t1 - 1])
    return torch.cat([fired0[None], free]) if t0 == 0 else free


class Refractory:
    """The refractory counter through a forward loop, kept as the step of each neuron's last
    spike: ``count[t] = max(R - (t - last), 0)``, in fp32 (exact for whole steps) so that every
    per-step op is a fast float op. Step t is refractory where ``last >= t - R``."""

    def __init__(self, count0, steps: int, B: int, N: int, dev):
        self.steps = steps
        self.last = zeros_or(count0, B, N, dev) - (steps + 1)
        self.free = torch.empty(B, N, dtype=F32, device=dev)

    def step(self, t: int, flags):
        """Write step t's refractory flags (int8) into ``flags``; return its fp32 mask of free steps."""
        torch.lt(self.last, float(t - self.steps), out=self.free)
        torch.ge(self.last, float(t - self.steps), out=flags)
        return self.free

    def hold(self, new, old):
        """In place: ``new`` where the step is free, ``old`` where it is refractory (exact for finite
        values: ``new * 1 + old * 0`` and ``new * 0 + old * 1``), without a bool mask."""
        return new.mul_(self.free).addcmul_(old, 1 - self.free)

    def fired(self, t: int, spikes):
        """Record step t's spikes (fp32, refractory steps already masked)."""
        self.last.addcmul_(spikes, float(t) - self.last)  # last = t where it fired

    def final(self, T: int, out):
        """The int32 counter after ``T`` steps into ``out``."""
        out.copy_((self.last + (self.steps - (T - 1))).clamp_(min=0))
