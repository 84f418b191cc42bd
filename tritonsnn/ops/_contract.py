"""Custom ops whose schema is a sequence of named records (see ``tritonsnn/contracts.py``).

A ``torch.library`` op takes a flat list of arguments. :class:`Signature` lays records
(NamedTuple types) and single named arguments out in that list, builds the schema from
their fields and annotations, and splits a call's flat arguments back into the records,
so that every layer reads arguments and gradients by name, never by position.
"""

from __future__ import annotations

import inspect
import typing

import torch

from .. import contracts
from .. import surrogate as sg
from . import LIB, _compact, implementation


def _fields(part):
    """``(name, annotation)`` of a record type's fields."""
    return list(typing.get_type_hints(part).items())


class Signature:
    """The flat argument list of an op: ``parts`` maps each part's name to a NamedTuple type
    (its fields become arguments) or to the annotation of a single argument."""

    def __init__(self, **parts):
        self.parts = parts
        self.slices, self.params, start = {}, [], 0
        self._layout = []  # (name, slice, record type or None): what split() walks
        for name, part in parts.items():
            record = _is_record(part)
            fields = _fields(part) if record else [(name, part)]
            self.slices[name] = slice(start, start + len(fields))
            self._layout.append((name, self.slices[name], part._make if record else None))
            start += len(fields)
            self.params += [
                inspect.Parameter(f, inspect.Parameter.POSITIONAL_OR_KEYWORD, annotation=a) for f, a in fields
            ]

    def split(self, args) -> dict:
        """A call's flat arguments as ``{part: record or value}``."""
        return _split(args, self._layout)

    def flatten(self, **values) -> tuple:
        """The flat arguments of a call from ``{part: record or value}``."""
        return tuple(_flatten(values, self._layout))

    def flatten_eager(self, **values) -> tuple:
        """:meth:`flatten` but the last part (the options record) as one argument: the eager
        ``autograd.Function`` path then hands autograd fewer arguments to inspect on every call."""
        return (*_flatten(values, self._layout[:-1]), values[self._layout[-1][0]])

    def split_eager(self, args) -> dict:
        """The inverse of :meth:`flatten_eager`."""
        return _split(args, self._layout[:-1]) | {self._layout[-1][0]: args[-1]}

    def needs(self, ctx, name):
        """``ctx.needs_input_grad`` of part ``name`` as its record (fields are bools)."""
        return self.parts[name](*ctx.needs_input_grad[self.slices[name]])

    def grads(self, ctx, **by_part) -> tuple:
        """Gradients of every flat argument, from ``{part: record of gradients or one gradient}``;
        None for the parts not given and wherever autograd does not need one."""
        flat = [None] * len(self.params)
        for name, g in by_part.items():
            s = self.slices[name]
            flat[s] = g if isinstance(g, tuple) else (g,)
        # zip stops at the eager path's shorter argument list (its options record is one argument)
        return tuple(g if need else None for g, need in zip(flat, ctx.needs_input_grad))


def _split(args, layout) -> dict:
    return {name: make(args[s]) if make else args[s.start] for name, s, make in layout}


def _flatten(values, layout) -> list:
    flat = []
    for name, _, make in layout:
        if make:
            flat.extend(values[name])
        else:
            flat.append(values[name])
    return flat


_unsafe_view = torch.ops.aten._unsafe_view.default  # the overload itself: the packet's lookup costs a small op


def _is_record(part) -> bool:
    return isinstance(part, type) and issubclass(part, tuple) and hasattr(part, "_fields")


class Op:
    """``tritonsnn::name``: a ``torch.library`` custom op taking ``signature``'s flat arguments, and
    its eager twin. ``impl(**parts)`` receives the arguments as records and returns a tuple of
    tensors; ``fake(**parts)`` is the fake kernel; ``setup_context(ctx, output, **parts)`` and
    ``backward(ctx, *grads)`` the autograd formula, if any.

    Calling the op with records (``op(x=..., state=...)``) runs the custom op while torch.compile
    traces, so that the compiled graph holds it as one opaque node with its fake kernel; in eager
    mode the same implementation and the same autograd formula run through a
    ``torch.autograd.Function`` (or, without autograd formula, directly), without the custom-op
    dispatch, which costs about as much as a whole single-step neuron update on the CPU."""

    def __init__(
        self,
        name,
        signature: Signature,
        returns,
        impl,
        fake,
        backward=None,
        setup_context=None,
        eager_impl=None,
        step_outputs=None,
    ):
        self.signature, self.impl = signature, impl
        self.step_outputs = step_outputs  # (**parts) -> indices of the outputs a caller reads of one step
        self.n_outputs = len(typing.get_args(returns))
        self.eager_impl = eager_impl or impl  # an op without autograd may return None entries in eager mode

        def flat_impl(*args):
            return impl(**signature.split(args))

        flat_impl.__name__ = name
        flat_impl.__signature__ = inspect.Signature(signature.params, return_annotation=returns)  # type: ignore[attr-defined]
        self.op = torch.library.custom_op(f"{LIB}::{name}", flat_impl, mutates_args=())
        self.op.register_fake(lambda *args: fake(**signature.split(args)))
        self.eager: type[torch.autograd.Function] | None = None
        self.eager_step: type[torch.autograd.Function] | None = None
        if backward is None:
            return

        def setup(ctx, inputs, output):
            setup_context(ctx, output, **signature.split(inputs))

        self.op.register_autograd(backward, setup_context=setup)
        # the eager path passes the last part (the options record, no tensors) whole
        assert signature._layout[-1][2] is not None, f"{name}: an op with autograd takes its options record last"

        class Eager(torch.autograd.Function):
            @staticmethod
            def forward(ctx, *args):  # forward(ctx, ...) style: apply() then binds no signature
                parts = signature.split_eager(args)
                output = impl(**parts)
                setup_context(ctx, output, **parts)
                return output

            @staticmethod
            def backward(ctx, *grads):
                return backward(ctx, *grads)

        class EagerStep(torch.autograd.Function):
            @staticmethod
            def forward(ctx, *args):  # the flat arguments, then the indices of the outputs read
                kept = args[-1]
                parts = signature.split_eager(args[:-1])
                step_shape = parts["x"].shape
                parts["x"] = parts["x"].unsqueeze(0)
                output = impl(**parts)
                setup_context(ctx, output, **parts)
                ctx.kept, ctx.n_outputs = kept, len(output)
                # Only the outputs read (each output costs autograd bookkeeping), without the time axis
                # and not as views (snnTorch-style code detaches state in place, which a view refuses).
                ctx.timed = timed = tuple(output[i].dim() == 3 for i in kept)
                return tuple(_unsafe_view(output[i], step_shape) if t else output[i] for i, t in zip(kept, timed))

            @staticmethod
            def backward(ctx, *grads):
                full = [None] * ctx.n_outputs
                for i, timed, g in zip(ctx.kept, ctx.timed, grads):
                    full[i] = g.unsqueeze(0) if timed and g is not None else g
                out = backward(ctx, *full)  # its zip with needs_input_grad covers the trailing `kept` too
                dx = out[0]
                return (None if dx is None else dx[0], *out[1:])

        Eager.__name__, EagerStep.__name__ = name, f"{name}_step"
        self.eager, self.eager_step = Eager, EagerStep

    def __call__(self, **parts) -> tuple:
        if torch.compiler.is_compiling():
            return self.op(*self.signature.flatten(**parts))
        if self.eager is None:
            return self.eager_impl(**parts)
        return self.eager.apply(*self.signature.flatten_eager(**parts))

    def step(self, **parts) -> tuple:
        """One step: ``x`` is ``[B, N]`` (no time axis) and so is every output that has one; outputs
        the caller does not read (``step_outputs``) come back None. The time axis is added and removed
        inside the autograd node, so no view nodes surround it."""
        kept = self.step_outputs(**parts)
        if torch.compiler.is_compiling():
            output = self(**dict(parts, x=parts["x"][None]))
            values = {i: (output[i][0] if output[i].dim() == 3 else output[i]) for i in kept}
        else:
            assert self.eager_step is not None, f"{self.op} has no autograd formula: it takes no single steps"
            values = dict(zip(kept, self.eager_step.apply(*self.signature.flatten_eager(**parts), tuple(kept))))
        return tuple(values.get(i) for i in range(self.n_outputs))


def tensors(n: int):
    """The return annotation of an op giving ``n`` tensors: ``tuple[Tensor, ...]`` of length ``n``."""
    return tuple.__class_getitem__((torch.Tensor,) * n)


def empty_for_none(values, like):
    """``values`` with every None replaced by a fresh empty tensor (outputs of a custom op are
    tensors and may not alias each other)."""
    return tuple(like.new_empty(0) if v is None else v for v in values)


def fake_grads(cls, seq, params, need, x_dtype, **states):
    """The fake (shape-only) gradients record ``cls`` of a backward op: ``dx`` like ``seq``
    ``[T, B, N]`` in the input's dtype, ``[B, N]`` for the initial states flagged in ``states``,
    each parameter's gradient in its shape where ``need`` (a list of bools) asks for it, and
    empty tensors elsewhere."""
    T, B, N = seq.shape
    new = seq.new_empty
    grads = {k: new((B, N) if on else (0,)) for k, on in states.items()}
    for (k, p), wanted in zip(params._asdict().items(), need):
        if f"d{k}" in cls._fields:
            grads[f"d{k}"] = new(p.shape if wanted and p is not None else (0,))
    return tuple(cls(dx=new(T, B, N, dtype=x_dtype), **grads))


_ROLES = dict(
    state="State", params="Params", opts="Options", outputs="Outputs", saved="Saved", up="Upstream", grads="Grads"
)


def records(prefix: str) -> dict:
    """The records of one family by their names in ``tritonsnn/contracts.py``: ``<prefix>State``,
    ``<prefix>Params``, ... (the ``records`` of :class:`Family`)."""
    return {role: getattr(contracts, prefix + suffix) for role, suffix in _ROLES.items()}


def save(ctx, **records):
    """Save the tensors of ``records`` (NamedTuples) for backward, keeping their names."""
    ctx.saved_records = [(name, type(r)._make, len(r)) for name, r in records.items()]
    ctx.save_for_backward(*(t for r in records.values() for t in r))


def saved(ctx) -> dict:
    """The records given to :func:`save`, rebuilt from ``ctx.saved_tensors``."""
    tensors, out, i = ctx.saved_tensors, {}, 0
    for name, make, n in ctx.saved_records:
        out[name] = make(tensors[i : i + n])
        i += n
    return out


def precomputed_sgrad(opts, membrane, threshold):
    """The surrogate gradient of the whole sequence where the backends cannot evaluate the
    surrogate themselves (a user's function, random ones), else None. ``threshold`` may be a
    function giving it (computed only where needed)."""
    if opts.surrogate_kind not in sg.PRECOMPUTED:
        return None
    return sg.grad_(membrane - (threshold() if callable(threshold) else threshold), opts.surrogate)


def composed_step(module: str, name: str, x, state, params, opts):
    """One eager step ``x [B, N]`` as the PyTorch implementation's ``<name>_step`` (autograd-tracked
    ops, cheaper than an op's autograd node for one step), or None: while torch.compile traces, on
    the Triton backend, or for options only the fused op takes. The one place that chooses."""
    if torch.compiler.is_compiling():
        return None
    composed = getattr(implementation(module, opts.use_triton), f"{name}_step", None)
    return None if composed is None else composed(x, state, params, opts)


class Family:
    """The op pair of one family of dynamics (``lif``, ``syn``, ``scan``): ``<name>_fwd`` over
    ``(x, state, params, opts)`` with autograd, and ``<name>_bwd`` (the reverse loop, an op of its
    own so that torch.compile keeps it opaque) over ``(up, saved, state, params, opts, need,
    x_dtype)``. Both run ``implementation(module, use_triton).<name>_fwd / <name>_bwd``; the
    family's file gives the fake kernels, what backward keeps of a call (``kept(outputs, x, params,
    opts)``, the saved record), the autograd formula and which outputs a step returns."""

    def __init__(
        self,
        name: str,
        module: str,
        records: dict,
        *,
        fwd_fake,
        bwd_fake,
        kept,
        backward,
        step_outputs=None,
        membrane=None,
    ):
        self.records = records
        self.name, self.module = name, module
        # (field of the saved record holding the membrane, threshold(saved, params)): what
        # compact_state() stores as bf16 plus the bits of its comparison with the threshold
        self.membrane = membrane
        self.FWD = Signature(x=torch.Tensor, state=records["state"], params=records["params"], opts=records["opts"])
        self.BWD = Signature(
            up=records["up"],
            saved=records["saved"],
            state=records["state"],
            params=records["params"],
            opts=records["opts"],
            need=list[bool],
            x_dtype=torch.dtype,
        )
        params_type = records["params"]
        outputs, grads = records["outputs"]._fields, records["grads"]._fields

        def fwd(x, state, params, opts):
            return tuple(getattr(implementation(module, opts.use_triton), f"{name}_fwd")(x, state, params, opts))

        def bwd_records(up, saved, state, params, opts, need, x_dtype):
            impl = getattr(implementation(module, opts.use_triton), f"{name}_bwd")
            return impl(up, saved, state, params, opts, params_type(*need), x_dtype)

        def setup_context(ctx, output, x, state, params, opts):
            # state: count0 tells whether step -1 fired, for the delayed reset of a refractory neuron
            kept_ = kept(records["outputs"](*output), x, params, opts)
            extra = {}
            # One step keeps fp32: the next step saves that membrane as its initial state anyway.
            if _compact.ACTIVE[0] and membrane is not None and len(getattr(kept_, membrane[0])) > 1:
                field, threshold = membrane
                kept_membrane, thr = getattr(kept_, field), threshold(kept_, params)
                value, extra["compact"] = _compact.encode(kept_membrane, thr, opts.at_threshold)
                kept_ = kept_._replace(**{field: value})
            save(ctx, saved=kept_, state=state, params=params, **extra)
            ctx.set_materialize_grads(False)  # unused outputs give None, not [T, B, N] of zeros
            ctx.opts, ctx.x_dtype = opts, x.dtype

        def bwd(**parts):
            like = next(t for t in parts["saved"] if t is not None)
            return empty_for_none(bwd_records(**parts), like)

        self.fwd_op = Op(
            f"{name}_fwd",
            self.FWD,
            tensors(len(outputs)),
            fwd,
            fwd_fake,
            backward,
            setup_context,
            step_outputs=step_outputs,
        )
        self.bwd_op = Op(f"{name}_bwd", self.BWD, tensors(len(grads)), bwd, bwd_fake, eager_impl=bwd_records)

    def saved(self, ctx) -> dict:
        """:func:`saved`, with a compact membrane (:func:`tritonsnn.memory.compact_state`) back in fp32."""
        rec = saved(ctx)
        if "compact" in rec:
            field, threshold = self.membrane
            kept = rec["saved"]
            value = _compact.decode(getattr(kept, field), rec["compact"], threshold(kept, rec["params"]))
            rec["saved"] = kept._replace(**{field: value})
        return rec

    def forward(self, x, state, params, opts, step: bool = False):
        """``x [T, B, N]`` -> the outputs record; with ``step``, ``x [B, N]`` is one step and the
        outputs have no time axis either (those not read come back None). An eager step runs the
        implementation's ``<name>_step`` where it has one for these options (autograd-tracked ops,
        cheaper than the op's autograd node for one step), else the fused op."""
        if step:
            out = composed_step(self.module, self.name, x, state, params, opts)
            if out is not None:
                return out
        call = self.fwd_op.step if step else self.fwd_op
        return self.records["outputs"](*call(x=x, state=state, params=params, opts=opts))

    def backward(self, up, saved, state, params, opts, need, x_dtype):
        """The reverse time loop; ``need`` (a params record of bools) flags the parameter gradients wanted."""
        return self.records["grads"](
            *self.bwd_op(up=up, saved=saved, state=state, params=params, opts=opts, need=list(need), x_dtype=x_dtype)
        )
