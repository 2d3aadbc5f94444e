"""Watch: run an ingest pass whenever files land in the drop folder.

Bursts are batched: after a change the watcher waits until the folder has been quiet for `quiet_ms`
(at most `max_wait_ms`) and then runs once. Temporary names (`.part`, `.tmp`, ...) are not ingested
until renamed, and a file modified in the last `settle_seconds` is left for the pass after (discover),
so a file still being written is never read. Files that arrive during a pass trigger the next one.
"""

from __future__ import annotations

import threading
import time
from pathlib import Path
from typing import Callable

import watchfiles

from flows.discover import is_candidate_name


def is_drop(change: watchfiles.Change, path: str) -> bool:
    """A change that can bring a file to ingest: something added or written with an ingestible name."""
    return change != watchfiles.Change.deleted and is_candidate_name(Path(path).name)


# A failed pass is retried after 2, 4, 8, ... seconds, at most this many.
MAX_RETRY_SECONDS = 300.0


def watch_folder(raw: Path, ingest: Callable[[], dict], log: Callable[[str], None], settle_seconds: float,
                 stop: threading.Event | None = None, quiet_ms: int = 1000, max_wait_ms: int = 10_000) -> int:
    """Ingest what is waiting now, then again after every burst of drops, until `stop` is set (or Ctrl-C).

    Files left pending as still being written get a pass of their own once settled. A failed pass is logged
    and retried with backoff (the warehouse keeps whole files only; the next pass completes the rest); a
    new drop retries at once. Returns the number of passes.
    """
    state, passes, failures = _ingest(ingest, log), 1, 0
    retry_at = time.monotonic()
    # The watcher wakes for changes, and at least this often to see whether a pass is due.
    timeout_ms = max(int(settle_seconds * 1000) + 200, quiet_ms)
    for changes in watchfiles.watch(raw, watch_filter=is_drop, debounce=max_wait_ms, step=quiet_ms, stop_event=stop,
                                    rust_timeout=timeout_ms, yield_on_timeout=True, raise_interrupt=False):
        due = state == "pending" or (state == "failed" and time.monotonic() >= retry_at)
        if not changes and not due:
            continue
        if changes:
            log(f"watch: {len(changes)} change(s) in {raw}; ingesting")
        state, passes = _ingest(ingest, log), passes + 1
        failures = failures + 1 if state == "failed" else 0
        if failures:
            wait = min(2.0 ** failures, MAX_RETRY_SECONDS)
            retry_at = time.monotonic() + wait
            log(f"watch: retrying in {wait:.0f} s, or at the next drop")
    return passes


def _ingest(ingest: Callable[[], dict], log: Callable[[str], None]) -> str:
    """One pass: "done", "pending" (files left as still being written) or "failed" (logged, never raised)."""
    try:
        summary = ingest()
    except Exception as err:  # noqa: BLE001 - the watch must outlive a failed pass
        log(f"watch: the pass failed ({type(err).__name__}: {err})")
        return "failed"
    log(f"watch: run {summary['run_id']}: {summary['files_new']} new, {summary['files_rejected']} rejected, "
        f"{summary.get('files_pending', 0)} still being written")
    return "pending" if summary.get("files_pending") else "done"
