"""Batch steps run with Python's cyclic garbage collector paused.

The batch steps (normalising, fingerprinting, planning the dedup, building the load tables) allocate
millions of small tuples, sets and strings, which trigger a collection every few hundred allocations;
each full collection walks every live object, the batch's included. Reference counting frees almost
all of these objects; what cyclic garbage a step leaves (the HTML parser's, in prepare_files) waits
until the outermost paused step returns, when the collector runs again. Timing the steps of
`tests/benchmarks/scale.py speed` three times each way: 2.5-2.7 s with the collector off, 2.9-3.3 s on.
"""

from __future__ import annotations

import functools
import gc
from typing import Callable, TypeVar

F = TypeVar("F", bound=Callable)


def gc_paused(fn: F) -> F:
    """Run `fn` with the cyclic collector off (nested calls leave it to the outermost one)."""

    @functools.wraps(fn)
    def wrapper(*args, **kwargs):
        if not gc.isenabled():
            return fn(*args, **kwargs)
        gc.disable()
        try:
            return fn(*args, **kwargs)
        finally:
            gc.enable()

    return wrapper  # type: ignore[return-value]
