"""Compile the scan and delay kernels for an sm_90 target without a GPU (run as a script).

The interpreter runs kernels as Python and accepts code that compiled Triton rejects
(e.g. a helper returning a scalar in one constexpr branch and a block in another);
this lowers a representative set of variants all the way to a cubin. Prints "ok".
Must run without TRITON_INTERPRET (the test launches it in a clean subprocess).
"""
import itertools

import triton
from triton.backends.compiler import GPUTarget
from triton.compiler import ASTSource

from tritonsnn.kernels import delay, scan

TARGET = GPUTarget("cuda", 90, 32)
F32 = "*fp32"


def compile_variant(fn, pointers, ints, flags):
    signature = {**pointers, **{name: "i32" for name in ints}, **{name: "constexpr" for name in flags}}
    triton.compile(ASTSource(fn=fn, signature=signature, constexprs=flags), target=TARGET)


def main():
    fwd_ptrs = {"p_x": "*fp16", "p_h0": F32, "p_y0": F32, "p_a": F32, "p_b": F32, "p_h": F32, "p_y": F32}
    bwd_ptrs = {"p_gy": F32, "p_gh": F32, "p_x": "*fp16", "p_h": F32, "p_y": F32, "p_h0": F32, "p_y0": F32,
                "p_a": F32, "p_b": F32, "p_dx": "*fp16", "p_dh0": F32, "p_dy0": F32, "p_da": F32, "p_db": F32}
    for second, nearest, per_channel in itertools.product([False, True], repeat=3):
        if second and nearest:
            continue
        compile_variant(scan.scan_fwd_kernel, fwd_ptrs, ["T", "M", "N", "stride_xt"],
                        dict(SECOND=second, NEAREST=nearest, HAS_H0=per_channel, HAS_Y0=second,
                             A_PER_CHANNEL=per_channel, B_PER_CHANNEL=not per_channel, BLOCK=1024))
        compile_variant(scan.scan_bwd_kernel, bwd_ptrs, ["T", "M", "N", "stride_gyt", "stride_ght", "stride_xt"],
                        dict(SECOND=second, NEAREST=nearest, HAS_H0=per_channel, HAS_Y0=second,
                             HAS_GRAD_H=second, A_PER_CHANNEL=per_channel, B_PER_CHANNEL=not per_channel,
                             NEED_DA=True, NEED_DB=second, BLOCK=1024))
    for per_channel in (False, True):
        compile_variant(delay.delay_fwd_kernel, {"p_x": "*fp16", "p_d": F32, "p_y": "*fp16"},
                        ["T", "M", "N", "stride_xt"], dict(PER_CHANNEL=per_channel, BLOCK=1024))
        compile_variant(delay.delay_bwd_kernel,
                        {"p_gy": F32, "p_x": "*fp16", "p_d": F32, "p_dx": "*fp16", "p_dd": F32},
                        ["T", "M", "N", "stride_gt", "stride_xt"],
                        dict(PER_CHANNEL=per_channel, NEED_DD=True, BLOCK=1024))
    print("ok")


if __name__ == "__main__":
    main()
