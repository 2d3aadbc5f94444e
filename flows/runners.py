"""Where the chunk tasks run: a thread pool, a process pool, or a Dask cluster (started here or at an address).

Only the per-chunk work (read, clean, split, fingerprint) runs on these workers: it is pure, takes files and
settings, and returns arrays. Dedup and the warehouse write stay in the flow process, so workers never open
the warehouse and the result does not depend on the runner or the number of workers.
"""

from __future__ import annotations

import os
from contextlib import contextmanager
from typing import Iterator

from prefect.context import FlowRunContext
from prefect.settings import PREFECT_API_URL, temporary_settings
from prefect.task_runners import ProcessPoolTaskRunner, TaskRunner, ThreadPoolTaskRunner

from flows.config import Settings


def runner_kind(settings: Settings, n_files: int) -> str:
    """The runner a run uses: the one configured, or for `auto` a process per core when the run has more than one
    chunk of files and the machine more than one core (the per-file work holds the GIL, so threads cannot share it,
    and a process pool's start, a few seconds, is more than a small run's work), else one thread."""
    if settings.task_runner != "auto":
        return settings.task_runner
    return "processes" if n_files > settings.chunk_files and (os.cpu_count() or 1) > 1 else "threads"


def worker_count(settings: Settings, kind: str) -> int:
    """Parallel chunk tasks: the configured number; by default one per core for processes and Dask, and one
    thread for threads (more threads only contend for the GIL: tests/benchmarks/scaleout.py)."""
    if settings.workers:
        return settings.workers
    return 1 if kind == "threads" else os.cpu_count() or 1


def task_runner(settings: Settings, n_files: int) -> TaskRunner:
    """The Prefect task runner for a run of `n_files` files (not started)."""
    kind = runner_kind(settings, n_files)
    if kind == "threads":
        return ThreadPoolTaskRunner(max_workers=worker_count(settings, kind))
    if kind == "processes":
        return ProcessPoolTaskRunner(max_workers=worker_count(settings, kind))
    from prefect_dask import DaskTaskRunner

    if settings.dask_address:
        return DaskTaskRunner(address=settings.dask_address)
    # One single-threaded worker process per core: the chunk work holds the GIL.
    return DaskTaskRunner(cluster_kwargs={
        "n_workers": worker_count(settings, kind), "threads_per_worker": 1, "processes": True, "dashboard_address": ":0",
    })


@contextmanager
def chunk_runner(settings: Settings, n_files: int) -> Iterator[TaskRunner]:
    """The task runner for a run of `n_files` files (`runner_kind`), started, whose workers report to this flow's
    Prefect API.

    Without a Prefect server, a flow talks to an ephemeral API it starts itself; a worker process that is
    not told its address starts one of its own (seconds each). Handing the workers the flow's API URL makes
    every task run land in the same place; tests/benchmarks/worker_api.py measures the difference. Workers on other
    machines need an address they can reach: run `prefect server start` and set PREFECT_API_URL.
    """
    context = FlowRunContext.get()
    url = str(context.client.api_url) if context is not None and context.client is not None else None
    with temporary_settings({PREFECT_API_URL: url} if url else {}), task_runner(settings, n_files) as runner:
        yield runner
