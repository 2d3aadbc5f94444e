"""Runs that survive faults and concurrent use: kill -9 and rerun, two runs at once, a held reader, the drop
folder watched while files arrive, every kind of bad input. Each test checks the exact warehouse contents
afterwards: every good file once, nothing lost, nothing twice."""

from __future__ import annotations

import gzip
import os
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest

from conftest import ROOT, snapshot, table
from flows import cli
from flows.pipeline import ingest_flow
from test_warehouse import assert_consistent

pytestmark = pytest.mark.usefixtures("prefect_harness")

WIRE = [
    "Harbor officials said on Tuesday that the new ferry terminal would open to passengers early next spring.",
    "The terminal replaces a building that was damaged by a winter storm three years ago and never fully repaired.",
]


def write_corpus(raw: Path, n: int, start: int = 0) -> list[str]:
    """n small articles of our own: a shared wire passage, each with a line of its own."""
    raw.mkdir(parents=True, exist_ok=True)
    names = []
    for i in range(start, start + n):
        name = f"story {i:03d}.txt"
        own = f"Reporter number {i} added that local shop owner number {i} expects {i * 7} more visitors a week."
        (raw / name).write_text(f"Ferry terminal story {i}\n\n" + "\n\n".join(WIRE + [own]) + "\n", encoding="utf-8")
        names.append(name)
    return names


def assert_each_file_once(db: Path, names: list[str]) -> None:
    """Every named file is one document with all its paragraphs, and no other document exists."""
    rows = table(db, """SELECT d.source_path, d.n_paragraphs, count(dp.position) FROM documents d
                        LEFT JOIN document_paragraphs dp USING (doc_id) GROUP BY ALL ORDER BY 1""")
    assert [r[0] for r in rows] == sorted(names)
    assert all(n == stored for _, n, stored in rows)
    assert_consistent(db)


def cli_run(raw: Path, db: Path, *extra: str) -> subprocess.Popen:
    """`docdedup run` in its own process group (so a kill reaches its Prefect server too)."""
    env = {**os.environ, "DOCDEDUP_SETTLE_SECONDS": "0", "PREFECT_SERVER_ANALYTICS_ENABLED": "false"}
    return subprocess.Popen([sys.executable, "-m", "flows.cli", "run", "--raw", str(raw), "--warehouse", str(db), *extra],
                            stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, env=env, cwd=ROOT,
                            start_new_session=True)


def test_a_run_killed_after_its_first_commit_keeps_whole_files_and_the_rerun_completes(tmp_path: Path, monkeypatch):
    raw, db = tmp_path / "raw", tmp_path / "w.duckdb"
    names = write_corpus(raw, 12)
    reference = tmp_path / "reference.duckdb"
    ingest_flow(str(raw), str(reference))
    monkeypatch.setenv("DOCDEDUP_BATCH_FILES", "3")
    monkeypatch.setenv("DOCDEDUP_CHUNK_FILES", "1")
    proc = cli_run(raw, db)
    for line in proc.stdout:  # the flow logs "batch: ..." right after each commit
        if "batch: " in line:
            os.killpg(proc.pid, signal.SIGKILL)
            break
    proc.wait()
    assert proc.returncode == -signal.SIGKILL
    kept = [r[0] for r in table(db, "SELECT source_path FROM documents")]
    assert 3 <= len(kept) < 12 and len(kept) % 3 == 0  # whole batches of whole files
    assert table(db, "SELECT count(*) FROM runs") == [(0,)]  # the run never finished
    assert_each_file_once(db, kept)
    summary = ingest_flow(str(raw), str(db))
    assert summary["files_new"] == 12 - len(kept)
    assert_each_file_once(db, names)
    assert snapshot(db, across_runs=True) == snapshot(reference, across_runs=True)


def test_a_run_killed_before_any_commit_leaves_the_warehouse_as_it_was(tmp_path: Path):
    raw, db = tmp_path / "raw", tmp_path / "w.duckdb"
    first = write_corpus(raw, 3)
    ingest_flow(str(raw), str(db))
    before = snapshot(db, across_runs=True)
    names = first + write_corpus(raw, 3, start=3)
    proc = cli_run(raw, db)
    for line in proc.stdout:
        if "discover: " in line:  # the run holds the warehouse and is about to prepare files
            os.killpg(proc.pid, signal.SIGKILL)
            break
    proc.wait()
    assert snapshot(db, across_runs=True) == before
    ingest_flow(str(raw), str(db))
    assert_each_file_once(db, names)


def test_two_runs_started_together_load_every_file_once(tmp_path: Path):
    raw, db = tmp_path / "raw", tmp_path / "w.duckdb"
    names = write_corpus(raw, 8)
    procs = [cli_run(raw, db), cli_run(raw, db)]
    outputs = [p.communicate(timeout=240)[0] for p in procs]
    assert [p.returncode for p in procs] == [0, 0], outputs
    new = sorted(int(out.split("files: ", 1)[1].split(" new", 1)[0]) for out in outputs)
    assert new == [0, 8]  # one run did the work; the other waited for the lock and found nothing new
    assert_each_file_once(db, names)
    assert table(db, "SELECT count(*) FROM runs") == [(2,)]


def test_a_held_reader_makes_the_run_wait_not_fail(tmp_path: Path, capsys):
    raw, db = tmp_path / "raw", tmp_path / "w.duckdb"
    names = write_corpus(raw, 2)
    ingest_flow(str(raw), str(db))
    names += write_corpus(raw, 2, start=2)
    reader = subprocess.Popen([sys.executable, "-c", f"import duckdb, time; c = duckdb.connect({str(db)!r}, read_only=True); "
                               "print('held', flush=True); time.sleep(3)"], stdout=subprocess.PIPE, text=True)
    try:
        assert reader.stdout.readline() == "held\n"
        assert cli.main(["run", "--raw", str(raw), "--warehouse", str(db)]) == 0
    finally:
        reader.kill()
        reader.wait()
    assert f"warehouse {db} is in use by process {reader.pid}; waiting up to " in capsys.readouterr().err
    assert_each_file_once(db, names)


def test_every_kind_of_bad_input_is_recorded_and_the_good_files_go_through(tmp_path: Path, monkeypatch):
    raw, db = tmp_path / "raw", tmp_path / "w.duckdb"
    good = write_corpus(raw, 2)
    weird = ["space and ünïcödé name.txt", "new\nline.txt"]
    for name in weird:
        (raw / name).write_text("\n\n".join(WIRE) + "\n\nA line only this odd file carries, about the harbor's new clock tower.\n")
    # Malformed HTML (unclosed and stray tags) is repaired by the parser and goes through.
    (raw / "malformed.html").write_text("<html><body><div><p>" + WIRE[1] + "<b>bold <i>and</p></span></table><p>"
                                        "A closing line that only the malformed page has, about the ferry's timetable.")
    weird.append("malformed.html")
    # A page whose one paragraph repeats its title, which is metadata: the cleaner keeps nothing, the fallback the
    # paragraph.
    only = "The ferry company said the new timetable, agreed with the harbour board, starts on the first Monday in May."
    (raw / "title-only.html").write_text(f"<html><head><title>{only}</title></head><body><p>{only}</p></body></html>")
    weird.append("title-only.html")
    (raw / "page.html.gz").write_bytes(gzip.compress(b"<html><head><title>Ferry</title></head><body><article><p>"
                                                     + WIRE[0].encode() + b"</p></article></body></html>"))
    whole = gzip.compress(("\n\n".join(WIRE) * 20).encode())
    bad = {
        "binary.txt": (bytes(range(256)) * 40, "binary file: not text in any known encoding"),
        "empty.txt": (b"", "empty file"),
        "huge.txt": (b"word " * 300_000, "file too large: 1500000 bytes, over the max_file_bytes limit of 1000000"),
        "truncated.txt.gz": (whole[: len(whole) // 2], "corrupt or truncated gzip file: "
                             "Compressed file ended before the end-of-stream marker was reached"),
        "nested.html": (b"<html><body>" + b"<div>" * 100_000 + b"</body></html>",
                        "no article text found after removing boilerplate"),
        "locked.txt": (b"Text nobody may read.", "cannot read file: Permission denied"),
    }
    for name, (data, _) in bad.items():
        (raw / name).write_bytes(data)
    (raw / "outside.txt").symlink_to(tmp_path / "secret.txt")
    (tmp_path / "secret.txt").write_text("not part of the drop folder")
    real = Path.read_bytes

    def no_permission(self: Path) -> bytes:  # we run as root in CI, where chmod 000 stops nobody
        if self.name == "locked.txt":
            raise PermissionError(13, "Permission denied")
        return real(self)

    monkeypatch.setattr(Path, "read_bytes", no_permission)
    summary = ingest_flow(str(raw), str(db), {"max_file_bytes": 1_000_000})
    reasons = dict(table(db, "SELECT source_path, reason FROM rejected_files"))
    assert reasons == {**{name: reason for name, (_, reason) in bad.items()},
                       "outside.txt": "symlink points outside the drop folder; not followed"}
    assert summary["files_rejected"] == len(reasons)
    assert_each_file_once(db, good + weird + ["page.html.gz"])
    assert table(db, "SELECT format, title FROM documents WHERE source_path = 'page.html.gz'") == [("html", "Ferry")]
    assert table(db, "SELECT source_path FROM documents WHERE clean_fallback") == [("title-only.html",)]
    # The next run skips every file it has seen, tries again the three rejected for reasons that may go away
    # (unreadable, too large, a symlink), and records nothing twice.
    again = ingest_flow(str(raw), str(db), {"max_file_bytes": 1_000_000})
    content_rejections = len(bad) - 2  # all but huge.txt and locked.txt
    assert (again["files_new"], again["files_unchanged"], again["files_rejected"]) == (
        0, len(good + weird) + 1 + content_rejections, 3)
    assert table(db, "SELECT count(*) FROM rejected_files") == [(len(reasons),)]


def test_watch_ingests_drops_once_ignores_temporary_names_batches_bursts_and_catches_late_files(tmp_path: Path):
    raw, db = tmp_path / "raw", tmp_path / "w.duckdb"
    raw.mkdir()
    from flows.watch import watch_folder

    log: list[str] = []
    stop = threading.Event()
    runs: list[dict] = []

    late: list[str] = []

    def ingest() -> dict:
        runs.append(ingest_flow(str(raw), str(db)))
        if len(runs) == 2:  # files that land while a pass is still under way (after it looked)
            late.extend(write_corpus(raw, 2, start=100))
        return runs[-1]

    watcher = threading.Thread(target=watch_folder, args=(raw, ingest, log.append, 0.0, stop),
                               kwargs={"quiet_ms": 500, "max_wait_ms": 3000})
    watcher.start()
    try:
        wait_for(lambda: len(runs) == 1)  # the pass at start, on an empty folder
        write_corpus(tmp_path / "staging", 1)
        text = (tmp_path / "staging" / "story 000.txt").read_text()
        partial = raw / "story 000.txt.part"
        with partial.open("w") as fh:  # written slowly, under a temporary name
            fh.write(text[:20])
            fh.flush()
            time.sleep(1.5)
            fh.write(text[20:])
        time.sleep(1.0)
        assert len(runs) == 1  # a temporary name is no reason to run
        partial.rename(raw / "story 000.txt")
        # (Polled from the passes' results: a read-only connection in this process would block the writer.)
        wait_for(lambda: len(runs) >= 2 and sum(r["files_new"] for r in runs) == 3)  # the late files: next pass
        assert runs[1]["files_new"] == 1
        before = len(runs)
        names = ["story 000.txt"] + late + write_corpus(raw, 20, start=1)  # a burst
        wait_for(lambda: sum(r["files_new"] for r in runs) == 23)
        assert len(runs) - before <= 3  # batched, not a run per file
    finally:
        stop.set()
        watcher.join(timeout=30)
    assert not watcher.is_alive()
    assert_each_file_once(db, names)
    assert not [line for line in log if "failed" in line]


def test_watch_retries_a_failed_pass_with_backoff(tmp_path: Path):
    from flows.watch import watch_folder

    log: list[str] = []
    calls: list[float] = []

    def ingest() -> dict:
        calls.append(time.monotonic())
        if len(calls) <= 2:
            raise OSError("disk busy")
        return {"run_id": 1, "files_new": 0, "files_rejected": 0}

    stop = threading.Event()
    watcher = threading.Thread(target=watch_folder, args=(tmp_path, ingest, log.append, 0.0, stop),
                               kwargs={"quiet_ms": 100})
    watcher.start()
    try:
        wait_for(lambda: len(calls) == 3, timeout=30)  # no drop at all: the retries come from the backoff
    finally:
        stop.set()
        watcher.join(timeout=30)
    assert log[:3] == ["watch: the pass failed (OSError: disk busy)", "watch: the pass failed (OSError: disk busy)",
                       "watch: retrying in 2 s, or at the next drop"]
    assert log[3] == "watch: run 1: 0 new, 0 rejected, 0 still being written"


def table_or_none(db: Path, sql: str):
    """The single value of a query, or None while the warehouse is missing or held by a run."""
    try:
        return table(db, sql)[0][0]
    except Exception:  # noqa: BLE001 - locked or not created yet
        return None


def wait_for(condition, timeout: float = 60.0) -> None:
    """Poll until `condition()` holds; fail after `timeout` seconds."""
    deadline = time.monotonic() + timeout
    while not condition():
        assert time.monotonic() < deadline, "condition not met in time"
        time.sleep(0.2)


def read_when_free(db: Path, sql: str, timeout: float = 60.0):
    """The single value of a query, waiting while a run holds the warehouse."""
    values: list = []
    wait_for(lambda: values.append(table_or_none(db, sql)) or values[-1] is not None, timeout)
    return values[-1]
