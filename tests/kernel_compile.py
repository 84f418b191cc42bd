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
_DTYPES = {torch.float32: "fp32", torch.float16: "fp16", torch.bfloat16: "bf16", torch.int8: "i8",
           torch.int32: "i32", torch.int64: "i64", torch.bool: "i1", torch.uint8: "u8"}
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
            signature[name] = "i32" if -2**31 <= value < 2**31 else "i64"
        elif isinstance(value, float):
            signature[name] = "fp32"
        else:
            raise TypeError(f"{self.fn.__name__}: cannot type argument {name}={value!r}")
    triton.compile(ASTSource(self, signature, constexprs), target=TARGET, options=options)
    flags = {self.arg_names[k[0]]: v for k, v in constexprs.items()}
    compiled.append(f"{self.fn.__name__} {flags} {options}")


def _compile_configs(self, *args, **kwargs):
    for config in (self.configs[0], self.configs[-1]):
        self.fn.run(*args, **kwargs, **config.all_kwargs())


def install():
    """Route every kernel launch in this process to the sm_90 compiler."""
    JITFunction.run = _compile
    Autotuner.run = _compile_configs


def compile_lif():
    from tritonsnn import surrogate as sg
    from tritonsnn.kernels import lif
    T, B, N = 3, 2, 5
    x = torch.randn(T, B, N)
    for reset, delay, per_neuron, kind in [(0, False, True, sg.ATAN), (1, False, False, sg.FAST_SIGMOID),
                                           (2, True, True, sg.SIGMOID), (1, True, False, sg.TRIANGULAR),
                                           (0, True, True, sg.STRAIGHT_THROUGH)]:
        beta = torch.rand(N if per_neuron else 1)
        thr = torch.rand(N if per_neuron else 1) + 0.5
        v0 = torch.zeros(B, N)
        _, pre, bits, *_ = lif.lif_fwd(x, v0, beta, thr, reset, delay, True)
        lif.lif_bwd(x, x, pre, bits, v0, beta, thr, reset, delay, sg.Surrogate(kind, 2.0), x.dtype, True, True)
    lif.lif_fwd(x.half(), None, torch.rand(1), torch.rand(1) + 0.5, 0, True, False)


def compile_synaptic():
    from tritonsnn import surrogate as sg
    from tritonsnn.kernels import synaptic
    from tritonsnn.ops_common import NEURON_ALPHA, NEURON_SYNAPTIC
    T, B, N = 3, 2, 5
    x = torch.randn(T, B, N)
    state = torch.zeros(B, N)
    for neuron, reset, delay, recurrent, per_neuron, kind in [
            (NEURON_SYNAPTIC, 0, True, False, True, sg.ATAN), (NEURON_SYNAPTIC, 1, False, True, False, sg.SIGMOID),
            (NEURON_SYNAPTIC, 2, True, True, True, sg.FAST_SIGMOID), (NEURON_SYNAPTIC, 0, False, False, False,
                                                                      sg.TRIANGULAR),
            (NEURON_ALPHA, 0, True, False, True, sg.ATAN), (NEURON_ALPHA, 1, True, False, False, sg.STRAIGHT_THROUGH),
            (NEURON_ALPHA, 2, True, False, True, sg.ATAN)]:
        def param(offset=0.0):
            return torch.rand(N if per_neuron else 1) + offset
        is_alpha = neuron == NEURON_ALPHA
        alpha, beta, thr = param(), param(), param(0.5)
        tau = param() if is_alpha else None
        v = param() if recurrent else None
        states = (state, state if is_alpha else None, state, state if recurrent else None)
        refr_steps = 2 if (not is_alpha and recurrent) or (is_alpha and reset == 1) else 0
        store = not (is_alpha and reset == 2)        # Alpha with fixed decays keeps no currents
        cnt0 = torch.zeros(B, N, dtype=torch.int32) if refr_steps else None
        _, cur, aux, mem, bits, _, refr, _ = synaptic.syn_fwd(x, *states, cnt0, alpha, beta, tau, thr, v, neuron,
                                                              reset, delay, store, True, refr_steps)
        synaptic.syn_bwd(x, x, x if is_alpha else None, x, cur, aux, mem, bits, refr, *states, alpha, beta, tau,
                         thr, v, neuron, reset, delay, sg.Surrogate(kind, 2.0), x.dtype,
                         (store, store, is_alpha and store, True, recurrent))
    synaptic.syn_fwd(x.half(), None, None, None, None, None, torch.rand(1), torch.rand(1), None,
                     torch.rand(1) + 0.5, None, NEURON_SYNAPTIC, 0, True, False, False, 0)


def compile_first_order_family():
    """Lapicque (gain, zero-whole reset), RLeaky one-to-one, ALIF and refractory periods."""
    from tritonsnn import surrogate as sg
    from tritonsnn.kernels import lif
    T, B, N = 3, 2, 5
    x = torch.randn(T, B, N)
    one, vec = torch.rand(1), torch.rand(N)
    state, count0 = torch.zeros(B, N), torch.zeros(B, N, dtype=torch.int32)
    cases = [  # (reset, delay, keyword options)
        (1, True, dict(gain=one, zero_whole=True, refractory=2, c0=count0)),          # Lapicque
        (0, False, dict(rec=vec, s0=state, zero_whole=True, refractory=3)),          # RLeaky 1:1
        (1, True, dict(rec=one, zero_whole=True)),
        (0, True, dict(s0=state, rho=vec, b=one, a0=state, refractory=2)),           # ALIF
        (1, True, dict(rho=one, b=vec)),
        (0, False, dict(refractory=1)),                                              # Leaky refractory
    ]
    for reset, delay, kw in cases:
        out = lif.lif_fwd(x, state, one, one + 0.5, reset, delay, True, **kw)
        _, pre, bits, _, qbits, _, aseq = out
        rho, b = kw.get("rho"), kw.get("b")
        lif.lif_bwd(x, x, pre, bits, state, one, one + 0.5, reset, delay, sg.atan(2.0), x.dtype,
                    True, True, kw.get("gain"), kw.get("zero_whole", False), kw.get("rec"), kw.get("s0"),
                    kw.get("rec") is not None, qbits if kw.get("refractory") else None, rho, b,
                    kw.get("a0"), aseq if rho is not None else None, rho is not None, rho is not None,
                    x if rho is not None else None)


def compile_scan_and_delay():
    """Synapse filters and traces (first/second order, nearest), fractional delays."""
    from tritonsnn.kernels import delay, scan
    T, B, N = 3, 2, 5
    x = torch.randn(T, B, N).half()
    state = torch.zeros(B, N)
    for second, nearest, per_channel in [(False, False, True), (False, True, False), (True, False, False),
                                         (True, False, True)]:
        a, b = torch.rand(N if per_channel else 1), torch.rand(1 if per_channel else N)
        h0, y0 = (state if per_channel else None), (state if second else None)
        h, y = scan.scan_fwd(x, h0, y0, a, b, second, nearest)[:2]
        g = torch.randn(T, B, N)
        scan.scan_bwd(g, g if second else None, x, h, y, h0, y0, a, b, second, nearest, x.dtype,
                      True, second)
    for d in (torch.rand(1) * 2, torch.rand(N) * 2):
        delay.delay_fwd(x, d)
        delay.delay_bwd(torch.randn(T, B, N), x, d, x.dtype, True)


if __name__ == "__main__":
    install()
    compile_lif()
    compile_synaptic()
    compile_first_order_family()
    compile_scan_and_delay()
    print("\n".join(compiled))
