"""Compile Triton kernels for an H100 (sm_90) without a GPU.

The interpreter runs kernels as numpy code and accepts programs the compiler
rejects (mixed return types, bad casts, ...). Run in a process where
TRITON_INTERPRET is unset: launches are intercepted, each kernel is compiled to
a cubin with Triton's bundled ptxas for the smallest and largest autotune
config, and nothing runs. Usage: ``python -m tests.kernel_compile`` prints one
line per compiled kernel variant.
"""

import torch
import triton
from triton.backends.compiler import GPUTarget
from triton.compiler import ASTSource
from triton.runtime.autotuner import Autotuner
from triton.runtime.jit import JITFunction

TARGET = GPUTarget("cuda", 90, 32)
_DTYPES = {
    torch.float32: "fp32",
    torch.float16: "fp16",
    torch.bfloat16: "bf16",
    torch.int8: "i8",
    torch.int32: "i32",
    torch.int64: "i64",
    torch.bool: "i1",
    torch.uint8: "u8",
}
_OPTIONS = ("num_warps", "num_stages", "num_ctas", "enable_fp_fusion")
compiled = []


def _compile(self, *args, grid, warmup=False, **kwargs):
    options = {k: kwargs.pop(k) for k in _OPTIONS if k in kwargs}
    bound = dict(zip(self.arg_names, args), **kwargs)
    signature, constexprs = {}, {}
    for i, name in enumerate(self.arg_names):
        value = bound[name]
        if i in self.constexprs:
            signature[name] = "constexpr"
            constexprs[(i,)] = value
        elif isinstance(value, torch.Tensor):
            signature[name] = "*" + _DTYPES[value.dtype]
        elif isinstance(value, bool):
            signature[name] = "i1"
        elif isinstance(value, int):
            signature[name] = "i32" if -(2**31) <= value < 2**31 else "i64"
        elif isinstance(value, float):
            signature[name] = "fp32"
        else:
            raise TypeError(f"{self.fn.__name__}: cannot type argument {name}={value!r}")
    triton.compile(ASTSource(self, signature, constexprs), target=TARGET, options=options)
    flags = {self.arg_names[k[0]]: v for k, v in constexprs.items()}
    compiled.append(f"{self.fn.__name__} {flags} {options}")


def _compile_configs(self, *args, **kwargs):
    """The smallest and largest of the configs the autotuner would try for this launch."""
    self.nargs = dict(zip(self.arg_names, args))
    configs = self.prune_configs(kwargs)
    self.nargs = None
    for config in (configs[0], configs[-1]):
        self.fn.run(*args, **kwargs, **config.all_kwargs())


def install():
    """Route every kernel launch in this process to the sm_90 compiler."""
    JITFunction.run = _compile
    Autotuner.run = _compile_configs


def _lif(kind=0, param=2.0, param2=0.0, **options):
    from tritonsnn.contracts import LifOptions

    return LifOptions(
        **{
            "reset": 0,
            "delay": True,
            "zero_whole": False,
            "refractory": 0,
            "need_mem": True,
            "at_threshold": False,
            "surrogate_kind": kind,
            "surrogate_param": param,
            "surrogate_param2": param2,
            "use_triton": True,
            **options,
        }
    )


def _lif_pass(x, state, params, opts, g_adapt=None):
    """One forward and one backward launch of the first-order kernels."""
    from tritonsnn.contracts import LifParams, LifSaved, LifUpstream
    from tritonsnn.kernels import lif

    out = lif.lif_fwd(x, state, params, opts)
    saved = LifSaved(
        out.pre,
        out.reset_bits,
        out.refr_bits if opts.refractory else None,
        out.adapt if params.rho is not None else None,
    )
    need = LifParams(True, True, False, params.v is not None, params.rho is not None, params.rho is not None)
    lif.lif_bwd(LifUpstream(x, x, g_adapt), saved, state, params, opts, need, x.dtype)


def compile_lif():
    from tritonsnn import surrogate as sg
    from tritonsnn.contracts import LifParams, LifState
    from tritonsnn.kernels import lif

    T, B, N = 3, 2, 5
    x = torch.randn(T, B, N)
    for reset, delay, per_neuron, kind in [
        (0, False, True, sg.ATAN),
        (1, False, False, sg.FAST_SIGMOID),
        (2, True, True, sg.SIGMOID),
        (1, True, False, sg.TRIANGULAR),
        (0, True, True, sg.STRAIGHT_THROUGH),
        (0, True, False, sg.HEAVISIDE),
        (0, False, False, sg.SPIKE_RATE_ESCAPE),
        (1, True, True, sg.SPARSE_FAST_SIGMOID),
        (0, True, False, sg.LEAKY_SPIKE_OPERATOR),
    ]:
        beta = torch.rand(N if per_neuron else 1)
        thr = torch.rand(N if per_neuron else 1) + 0.5
        _lif_pass(
            x,
            LifState(torch.zeros(B, N), None, None, None),
            LifParams(beta, thr),
            _lif(kind, 2.0, 1.0, reset=reset, delay=delay),
        )
    lif.lif_fwd(
        x.half(), LifState(None, None, None, None), LifParams(torch.rand(1), torch.rand(1) + 0.5), _lif(need_mem=False)
    )


def compile_synaptic():
    from tritonsnn import surrogate as sg
    from tritonsnn.contracts import SecondOrder, SynOptions, SynParams, SynSaved, SynState, SynUpstream
    from tritonsnn.kernels import synaptic

    T, B, N = 3, 2, 5
    x = torch.randn(T, B, N)
    state = torch.zeros(B, N)
    SYN, ALPHA = SecondOrder.SYNAPTIC, SecondOrder.ALPHA
    for neuron, reset, delay, recurrent, per_neuron, kind in [
        (SYN, 0, True, False, True, sg.ATAN),
        (SYN, 1, False, True, False, sg.SIGMOID),
        (SYN, 2, True, True, True, sg.FAST_SIGMOID),
        (SYN, 0, False, False, False, sg.TRIANGULAR),
        (ALPHA, 0, True, False, True, sg.ATAN),
        (ALPHA, 1, True, False, False, sg.STRAIGHT_THROUGH),
        (ALPHA, 2, True, False, True, sg.ATAN),
    ]:

        def param(offset=0.0, per_neuron=per_neuron):
            return torch.rand(N if per_neuron else 1) + offset

        is_alpha = neuron == ALPHA
        params = SynParams(param(), param(), param() if is_alpha else None, param(0.5), param() if recurrent else None)
        refr_steps = 2 if (not is_alpha and recurrent) or (is_alpha and reset == 1) else 0
        store = not (is_alpha and reset == 2)  # Alpha with fixed decays keeps no currents
        states = SynState(
            state,
            state if is_alpha else None,
            state,
            state if recurrent else None,
            torch.zeros(B, N, dtype=torch.int32) if refr_steps else None,
        )
        opts = SynOptions(neuron, reset, delay, store, True, refr_steps, False, kind, 2.0, 0.0, True)
        out = synaptic.syn_fwd(x, states, params, opts)
        saved = SynSaved(out.cur, out.aux, out.mem, out.reset_bits, out.refr_bits)
        need = SynParams(store, store, is_alpha and store, True, recurrent)
        synaptic.syn_bwd(SynUpstream(x, x, x if is_alpha else None, x), saved, states, params, opts, need, x.dtype)
    synaptic.syn_fwd(
        x.half(),
        SynState(None, None, None, None, None),
        SynParams(torch.rand(1), torch.rand(1), None, torch.rand(1) + 0.5, None),
        SynOptions(SYN, 0, True, False, False, 0, False, sg.ATAN, 2.0, 0.0, True),
    )


def compile_first_order_family():
    """Lapicque (gain, zero-whole reset), RLeaky one-to-one, ALIF and refractory periods."""
    from tritonsnn.contracts import LifParams, LifState

    T, B, N = 3, 2, 5
    x = torch.randn(T, B, N)
    one, vec = torch.rand(1), torch.rand(N)
    state, count0 = torch.zeros(B, N), torch.zeros(B, N, dtype=torch.int32)
    cases = [  # (state, params, options)
        (
            LifState(state, None, None, count0),
            LifParams(one, one + 0.5, gain=one),
            _lif(reset=1, zero_whole=True, refractory=2),
        ),  # Lapicque
        (
            LifState(state, state, None, None),
            LifParams(one, one + 0.5, v=vec),
            _lif(delay=False, zero_whole=True, refractory=3),
        ),  # RLeaky 1:1
        (LifState(state, None, None, None), LifParams(one, one + 0.5, v=one), _lif(reset=1, zero_whole=True)),
        (LifState(state, state, state, None), LifParams(one, one + 0.5, rho=vec, b=one), _lif(refractory=2)),  # ALIF
        (LifState(state, None, None, None), LifParams(one, one + 0.5, rho=one, b=vec), _lif(reset=1)),
        (LifState(state, None, None, None), LifParams(one, one + 0.5), _lif(delay=False, refractory=1)),
    ]
    for st, params, opts in cases:
        _lif_pass(x, st, params, opts, g_adapt=x if params.rho is not None else None)


def compile_scan_and_delay():
    """Synapse filters and traces (first/second order, nearest), fractional delays."""
    from tritonsnn.contracts import ScanOptions, ScanParams, ScanSaved, ScanState, ScanUpstream
    from tritonsnn.kernels import delay, scan

    T, B, N = 3, 2, 5
    x = torch.randn(T, B, N).half()
    state = torch.zeros(B, N)
    for second, nearest, per_channel in [
        (False, False, True),
        (False, True, False),
        (True, False, False),
        (True, False, True),
    ]:
        a, b = torch.rand(N if per_channel else 1), torch.rand(1 if per_channel else N)
        st = ScanState(state if per_channel else None, state if second else None)
        params, opts = ScanParams(a, b if second else None), ScanOptions(second, nearest, True)
        h, y = scan.scan_fwd(x, st, params, opts)
        g = torch.randn(T, B, N)
        scan.scan_bwd(
            ScanUpstream(g, g if second else None),
            ScanSaved(x if nearest else None, h, y),
            st,
            params,
            opts,
            ScanParams(True, second),
            x.dtype,
        )
    for d in (torch.rand(1) * 2, torch.rand(N) * 2):
        delay.delay_fwd(x, d)
        delay.delay_bwd(torch.randn(T, B, N), x, d, x.dtype, True)


def compile_nonlinear():
    """QIF / EIF / Izhikevich / AdEx / LIF / GLIF2: each drive with and without adaptation, hard,
    linear (GLIF2) and soft reset, detached reset, per-neuron threshold with its gradient, per-step
    threshold offsets (the batch-shared adaptation), a precomputed surrogate."""
    from tritonsnn import surrogate as sg
    from tritonsnn.contracts import NlifOptions, NlifParams, NlifSaved, NlifState, NlifUpstream
    from tritonsnn.kernels import nonlinear

    T, B, N = 3, 2, 5
    x = torch.randn(T, B, N).half()
    mem0 = torch.zeros(B, N)
    constants = dict(tau=2.0, v_rest=0.0, v_c=0.8, a0=1.0, theta_rh=0.8, delta_t=1.0, v_reset=-0.1)
    constants |= dict(reset_mul=0.4, reset_add=0.1, a=0.1, b=0.1, tau_w=3.0)
    for nonlinearity, adapt, reset, detach, per_neuron, given, refractory, offset in [
        (0, False, "hard", False, False, False, 0, False),
        (1, False, "hard", True, True, False, 2, True),
        (0, True, "soft", False, True, True, 0, False),
        (1, True, "hard", False, False, False, 3, False),
        (2, False, "hard", False, True, False, 2, True),
        (2, False, "soft", True, False, False, 0, False),
        (2, False, "linear", False, True, False, 2, True),
        (2, False, "linear", True, False, False, 0, False),
    ]:
        opts = NlifOptions(
            nonlinearity=nonlinearity,
            adapt=adapt,
            hard_reset=reset != "soft",
            linear_reset=reset == "linear",
            detach_reset=detach,
            decay_input=nonlinearity != 2,
            **constants,
            need_mem=True,
            refractory=refractory,
            surrogate_kind=sg.SIGMOID,
            surrogate_param=4.0,
            surrogate_param2=0.0,
            use_triton=True,
        )
        params = NlifParams(torch.rand(N if per_neuron else 1) + 0.5, torch.rand(T, N) if offset else None)
        count0 = torch.zeros(B, N, dtype=torch.int32) if refractory else None
        st = NlifState(mem0, mem0 if adapt else None, count0)
        out = nonlinear.nlif_fwd(x, st, params, opts)
        g = torch.randn(T, B, N)
        saved = NlifSaved(out.pre, out.refr_bits if refractory else None, g if given else None)
        need = NlifParams(True, False)
        nonlinear.nlif_bwd(NlifUpstream(g, g, g if adapt else None), saved, st, params, opts, need, x.dtype)


if __name__ == "__main__":
    install()
    compile_lif()
    compile_synaptic()
    compile_first_order_family()
    compile_scan_and_delay()
    compile_nonlinear()
    print("\n".join(compiled))
