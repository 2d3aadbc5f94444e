"""How task-runner workers talk to Prefect: the cost of a 10-task flow with no Prefect server, when worker
processes are told the flow's API address (what docdedup does, flows/runners.py) and when they are not (each
then starts an ephemeral API of its own). Each variant runs in a fresh child process.

    python tests/benchmarks/worker_api.py [--markdown]
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
import time

TASKS, WORK = 10, 300_000


def child(runner: str, shared: bool) -> None:
    """A flow of TASKS CPU-bound tasks on `runner` with 2 workers."""
    os.environ.setdefault("PREFECT_SERVER_ANALYTICS_ENABLED", "false")
    from contextlib import nullcontext

    from prefect import flow, task
    from prefect.cache_policies import NO_CACHE
    from prefect.context import FlowRunContext
    from prefect.settings import PREFECT_API_URL, temporary_settings
    from prefect.task_runners import ProcessPoolTaskRunner

    @task(cache_policy=NO_CACHE)
    def work(n: int) -> int:
        return sum(i * i for i in range(n))

    @flow
    def ten_tasks() -> list[int]:
        if runner == "processes":
            pool = ProcessPoolTaskRunner(max_workers=2)
        else:
            from prefect_dask import DaskTaskRunner

            pool = DaskTaskRunner(cluster_kwargs={"n_workers": 2, "threads_per_worker": 1, "dashboard_address": ":0"})
        url = str(FlowRunContext.get().client.api_url)
        with temporary_settings({PREFECT_API_URL: url}) if shared else nullcontext(), pool:
            return [f.result() for f in pool.map(work, {"n": [WORK] * TASKS})]

    ten_tasks()


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--markdown", action="store_true", help="write the figures into docs/benchmarks.md")
    args = ap.parse_args()
    rows = []
    print(f"a flow of {TASKS} tasks on 2 workers, no Prefect server; seconds for the whole child process")
    print(f"{'runner':<10} {'workers told the API':>21} {'each its own API':>17} {'ratio':>6}")
    for runner in ("processes", "dask"):
        times = []
        for shared in (True, False):
            start = time.perf_counter()
            subprocess.run([sys.executable, __file__, "--child", runner, str(int(shared))], check=True,
                           capture_output=True)
            times.append(time.perf_counter() - start)
        print(f"{runner:<10} {times[0]:>21.1f} {times[1]:>17.1f} {times[1] / times[0]:>5.2f}x")
        rows.append([runner, f"{times[0]:.1f}", f"{times[1]:.1f}", f"{times[1] / times[0]:.2f}x"])
    if args.markdown:
        from figures_page import command_line, table, write_section

        header = ["runner", "workers told the API s", "each its own API s", "ratio"]
        write_section("worker_api.py", command_line(), f"A flow of {TASKS} tasks on 2 workers, no Prefect server; "
                      f"seconds for the whole child process.\n\n{table(header, rows)}")


if __name__ == "__main__":
    if sys.argv[1:2] == ["--child"]:
        child(sys.argv[2], sys.argv[3] == "1")
    else:
        main()
