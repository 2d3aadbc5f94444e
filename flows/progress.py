"""Feedback: a progress bar of a run's files on a terminal; silence in CI and logs."""

from __future__ import annotations

import os
import sys
from contextlib import contextmanager
from typing import Callable, Iterator


def wants_bar() -> bool:
    """A person is watching: stderr is a terminal and this is not CI."""
    return sys.stderr.isatty() and not os.environ.get("CI")


@contextmanager
def file_progress(total: int) -> Iterator[Callable[[int], None]]:
    """Yields `advance(n)`: n more files done. Draws a bar (rich) only when a person is watching."""
    if total < 1 or not wants_bar():
        yield lambda n: None
        return
    from rich.console import Console
    from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn, TimeRemainingColumn

    columns = (TextColumn("files"), BarColumn(), MofNCompleteColumn(), TimeElapsedColumn(), TextColumn("left"),
               TimeRemainingColumn())
    with Progress(*columns, console=Console(stderr=True), transient=True) as bar:
        task = bar.add_task("files", total=total)
        yield lambda n: bar.advance(task, n)
