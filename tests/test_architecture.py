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
