"""Shared argument descriptions in docstrings."""


def shared_args(text: str):
    """Decorator adding ``text`` (indented ``Args:`` entries) at the end of the Args
    section of a docstring: docstrings must be literals, so descriptions shared by
    several functions or classes are added here, once, instead of by concatenation."""
    entries = text.strip("\n")

    def add(obj):
        doc = obj.__doc__.rstrip()
        head, sep, tail = doc.partition("\n    Returns:")
        obj.__doc__ = f"{head.rstrip()}\n{entries}\n" + (f"\n{sep.lstrip(chr(10))}{tail}\n" if sep else "")
        return obj

    return add
