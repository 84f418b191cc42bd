"""House rules of the package, checked on its source: named contracts instead of long positional
calls, and functions short enough to read (Triton kernels excepted, up to a bound of their own)."""

import ast
from pathlib import Path

PACKAGE = Path(__file__).resolve().parents[1] / "tritonsnn"
MAX_POSITIONAL = 8
MAX_FUNCTION_LINES = 100
MAX_KERNEL_LINES = 200


def _trees():
    for path in sorted(PACKAGE.rglob("*.py")):
        yield path.relative_to(PACKAGE.parent), ast.parse(path.read_text())


def _is_kernel(fn):
    return any("jit" in ast.unparse(d) for d in fn.decorator_list)


def test_no_call_takes_more_than_eight_positional_arguments():
    long_calls = [
        f"{path}:{node.lineno} {ast.unparse(node.func)} ({len(node.args)} positional)"
        for path, tree in _trees()
        for node in ast.walk(tree)
        if isinstance(node, ast.Call) and len(node.args) > MAX_POSITIONAL
    ]
    assert not long_calls, "pass records or keywords instead:\n" + "\n".join(long_calls)


def test_functions_are_short():
    long_functions = []
    for path, tree in _trees():
        for node in ast.walk(tree):
            if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef)):
                lines = node.end_lineno - node.lineno + 1
                bound = MAX_KERNEL_LINES if _is_kernel(node) else MAX_FUNCTION_LINES
                if lines > bound:
                    long_functions.append(f"{path}:{node.lineno} {node.name}: {lines} lines (at most {bound})")
    assert not long_functions, "split these into named steps:\n" + "\n".join(long_functions)


# Reading a tensor's values on the host synchronises a GPU and cannot be captured in a CUDA graph.
HOST_READS = {"item", "tolist", "cpu", "numpy"}
# Outside the compute path: snnTorch's helpers (spike trains, plots, quantisation), NIR, data,
# plots, input encoders (they validate the data they are given), the CPU-only bit packing.
HOST_READ_FREE_EXEMPT = ("snntorch/", "nir.py", "data.py", "plot.py", "encode.py", "torchimpl/bits.py", "classify.py")
# Functions whose result is a Python number by contract, and repr helpers.
HOST_READ_FUNCTIONS = {"_short", "_accuracy", "global_sum"}


def _parents(tree):
    parent = {}
    for node in ast.walk(tree):
        for child in ast.iter_child_nodes(node):
            parent[child] = node
    return parent


def test_compute_path_reads_no_tensor_values_on_the_host():
    """Neurons, synapses, ops, kernels and the functional layer never call ``.item()``,
    ``.tolist()``, ``.cpu()`` or ``.numpy()``, except to build an error message or a repr
    (``HOST_READ_FUNCTIONS``). The CUDA tier checks the same at run time (tests/test_gpu_sync.py)."""
    found = []
    for path, tree in _trees():
        rel = str(path.relative_to("tritonsnn"))
        if rel.startswith(HOST_READ_FREE_EXEMPT):
            continue
        parent = _parents(tree)
        for node in ast.walk(tree):
            if not (isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute)):
                continue
            if node.func.attr not in HOST_READS:
                continue
            up, allowed = node, False
            while up in parent and not allowed:
                up = parent[up]
                allowed = isinstance(up, ast.Raise) or (
                    isinstance(up, ast.FunctionDef) and up.name in HOST_READ_FUNCTIONS
                )
            if not allowed:
                found.append(f"{path}:{node.lineno} .{node.func.attr}()")
    assert not found, "these read device data on the host (a GPU sync):\n" + "\n".join(found)
