"""Batch steps run with Python's cyclic garbage collector paused.

The batch steps (normalising, fingerprinting, planning the dedup, building the load tables) allocate
millions of small tuples, sets and strings, which trigger a collection every few hundred allocations;
each full collection walks every live object, the batch's included. These objects form no cycles and
are freed by reference counting, so the collector has nothing to find while a step runs: pausing it cut
`tests/benchmarks/scale.py speed`'s docdedup time by about a tenth. It runs again as soon as the
outermost paused step returns.
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
