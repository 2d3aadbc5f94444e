"""`docdedup serve` against a real Prefect server on loopback: a file dropped into the folder is ingested by the
next scheduled run."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import urllib.request
from pathlib import Path

from conftest import ROOT
from test_reliability import read_when_free, table_or_none, wait_for, write_corpus

INTERVAL = 10


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def healthy(url: str) -> bool:
    try:
        with urllib.request.urlopen(url, timeout=2) as response:
            return response.status == 200
    except OSError:
        return False


def test_serve_ingests_a_dropped_file_within_one_interval(tmp_path: Path):
    port = free_port()
    api = f"http://127.0.0.1:{port}/api"
    env = {**os.environ, "PREFECT_HOME": str(tmp_path / "prefect"), "PREFECT_API_URL": api,
           "PREFECT_SERVER_ANALYTICS_ENABLED": "false", "DOCDEDUP_SETTLE_SECONDS": "0",
           # The server's scheduler makes runs every 60 s by default; the runs themselves follow the interval.
           "PREFECT_SERVER_SERVICES_SCHEDULER_LOOP_SECONDS": "5"}
    raw, db = tmp_path / "raw", tmp_path / "w.duckdb"
    raw.mkdir()
    processes = []
    try:
        processes.append(subprocess.Popen([sys.executable, "-m", "prefect", "server", "start", "--host", "127.0.0.1",
                                           "--port", str(port)], env=env, cwd=tmp_path, start_new_session=True,
                                          stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL))
        wait_for(lambda: healthy(f"{api}/health"), timeout=120)
        processes.append(subprocess.Popen([sys.executable, "-m", "flows.cli", "serve", "--interval", str(INTERVAL),
                                           "--raw", str(raw), "--warehouse", str(db)], env=env, cwd=ROOT,
                                          start_new_session=True, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL))
        wait_for(lambda: (table_or_none(db, "SELECT count(*) FROM runs") or 0) >= 1, timeout=120)  # schedule is live
        last = read_when_free(db, "SELECT max(run_id) FROM runs")
        write_corpus(raw, 1)
        wait_for(lambda: table_or_none(db, "SELECT count(*) FROM documents") == 1, timeout=120)
        # Taken by the run that was starting as the file landed, or by the next scheduled one: one interval.
        assert read_when_free(db, "SELECT run_id FROM documents") <= last + 2
    finally:
        for p in reversed(processes):
            os.killpg(p.pid, signal.SIGTERM)
            try:
                p.wait(timeout=20)
            except subprocess.TimeoutExpired:
                os.killpg(p.pid, signal.SIGKILL)
                p.wait()
