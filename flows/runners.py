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


def worker_count(settings: Settings) -> int:
    """Parallel chunk tasks: the configured number; by default one per core for processes and Dask, and one
    thread for threads (the per-file work holds the GIL, so more threads only contend: tests/benchmarks/scaleout.py)."""
    if settings.workers:
        return settings.workers
    return 1 if settings.task_runner == "threads" else os.cpu_count() or 1


def task_runner(settings: Settings) -> TaskRunner:
    """The Prefect task runner the settings name (not started)."""
    if settings.task_runner == "threads":
        return ThreadPoolTaskRunner(max_workers=worker_count(settings))
    if settings.task_runner == "processes":
        return ProcessPoolTaskRunner(max_workers=worker_count(settings))
    from prefect_dask import DaskTaskRunner

    if settings.dask_address:
        return DaskTaskRunner(address=settings.dask_address)
    # One single-threaded worker process per core: the chunk work holds the GIL.
    return DaskTaskRunner(cluster_kwargs={
        "n_workers": worker_count(settings), "threads_per_worker": 1, "processes": True, "dashboard_address": ":0",
    })


@contextmanager
def chunk_runner(settings: Settings) -> Iterator[TaskRunner]:
    """The settings' task runner, started, whose workers report to this flow's Prefect API.

    Without a Prefect server, a flow talks to an ephemeral API it starts itself; a worker process that is
    not told its address starts one of its own (seconds each). Handing the workers the flow's API URL makes
    every task run land in the same place; tests/benchmarks/worker_api.py measures the difference. Workers on other
    machines need an address they can reach: run `prefect server start` and set PREFECT_API_URL.
    """
    context = FlowRunContext.get()
    url = str(context.client.api_url) if context is not None and context.client is not None else None
    with temporary_settings({PREFECT_API_URL: url} if url else {}), task_runner(settings) as runner:
        yield runner
