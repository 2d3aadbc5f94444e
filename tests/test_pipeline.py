"""The ingest flow end to end, under one Prefect test harness."""

import shutil
from pathlib import Path

import pytest

from conftest import EXAMPLES, snapshot, table
from flows import cli, warehouse
from flows.pipeline import ingest_flow

pytestmark = pytest.mark.usefixtures("prefect_harness")
CONTENT_TABLES = ["documents", "paragraphs", "document_paragraphs", "rejected_files", "paragraph_fingerprints"]


def _counts(db: Path) -> dict[str, int]:
    return {t: table(db, f"SELECT count(*) FROM {t}")[0][0] for t in CONTENT_TABLES}


def test_seeds_end_to_end_idempotent_with_bad_files_recorded(seeds_copy: Path, tmp_path: Path):
    db = tmp_path / "w.duckdb"
    summary = ingest_flow(str(seeds_copy), str(db))
    assert summary["files_new"] == 5 and summary["files_rejected"] == 0
    assert table(db, "SELECT count(*) FROM documents")[0][0] == 5
    # The summary paragraph that one seed repeats (straight vs curly apostrophe) is one passage, twice.
    assert table(db, "SELECT n_occurrences, n_documents FROM paragraphs WHERE text LIKE 'Analysts believe%'") == [(2, 1)]
    assert table(db, "SELECT count(*) FROM paragraphs")[0][0] == table(db, "SELECT count(*) FROM document_paragraphs")[0][0] - 1

    before = snapshot(db)
    again = ingest_flow(str(seeds_copy), str(db))
    assert (again["files_new"], again["files_unchanged"], again["paragraphs_total"]) == (0, 5, 0)
    assert snapshot(db) == before

    (seeds_copy / "empty.txt").write_bytes(b"")
    (seeds_copy / "image.html").write_bytes(bytes(range(256)) * 40)
    ingest_flow(str(seeds_copy), str(db))
    assert table(db, "SELECT source_path, reason, run_id FROM rejected_files ORDER BY 1") == [
        ("empty.txt", "empty file", 3),
        ("image.html", "binary file: not text in any known encoding", 3),
    ]
    ingest_flow(str(seeds_copy), str(db))
    assert table(db, "SELECT count(*) FROM rejected_files")[0][0] == 2
    assert [r[0] for r in table(db, "SELECT run_id FROM runs ORDER BY 1")] == [1, 2, 3, 4]


def test_examples_syndicated_passages_are_one_row_each(tmp_path: Path):
    db = tmp_path / "w.duckdb"
    ingest_flow(str(EXAMPLES), str(db))
    shared = table(db, """SELECT p.n_documents FROM paragraphs p
                          WHERE p.text LIKE '%Fishing crews who use the harbor%'""")
    assert shared == [(3,)]
    # Every cluster of the bridge story has its canonical in the earliest-published (wire) copy.
    firsts = table(db, """SELECT DISTINCT d.source_path FROM paragraphs p JOIN documents d ON d.doc_id = p.first_doc_id
                          WHERE p.n_documents > 1""")
    assert firsts == [("harbor-bridge-wire.txt",)]
    assert table(db, "SELECT count(*) FROM document_paragraphs WHERE match = 'near'")[0][0] >= 3


def test_chunks_and_batches_do_not_change_the_warehouse(seeds_copy: Path, tmp_path: Path):
    shutil.copytree(EXAMPLES, seeds_copy / "examples")
    ingest_flow(str(seeds_copy), str(tmp_path / "a.duckdb"), {"chunk_files": 1, "batch_files": 2})
    ingest_flow(str(seeds_copy), str(tmp_path / "b.duckdb"), {"chunk_files": 100})
    # Batches bounded by bytes: here every file is a batch of its own.
    ingest_flow(str(seeds_copy), str(tmp_path / "c.duckdb"), {"batch_bytes": 1})
    assert snapshot(tmp_path / "a.duckdb") == snapshot(tmp_path / "b.duckdb") == snapshot(tmp_path / "c.duckdb")
    assert table(tmp_path / "a.duckdb", "SELECT count(*) FROM runs") == [(1,)]


def test_every_task_runner_gives_the_same_warehouse(seeds_copy: Path, tmp_path: Path):
    """Threads, a process pool, the default (a process pool here: more than one chunk), a local Dask cluster of 2
    workers the flow starts, and an existing Dask scheduler load the same rows, canonicals included; a feed's records too, its 3 lines over two chunks."""
    import json

    from distributed import LocalCluster

    shutil.copytree(EXAMPLES, seeds_copy / "examples")
    (seeds_copy / "feeds").mkdir()
    (seeds_copy / "feeds" / "wire.jsonl").write_text("".join(
        json.dumps({"text": f"Wire story {n}: the harbor ferry terminal opens in spring, officials said on day {n}."}) + "\n"
        for n in range(3)))
    snapshots = {}
    with LocalCluster(n_workers=2, threads_per_worker=1, dashboard_address=":0") as cluster:
        runners = {"threads": {"task_runner": "threads"}, "processes": {"task_runner": "processes"}, "auto": {},
                   "dask": {"task_runner": "dask"}, "dask-address": {"dask_address": cluster.scheduler_address}}
        for name, options in runners.items():
            db = tmp_path / f"{name}.duckdb"
            summary = ingest_flow(str(seeds_copy), str(db), {**options, "workers": 2, "chunk_files": 2})
            assert (summary["files_new"], summary["files_rejected"]) == (13, 0)
            assert {"read", "clean", "fingerprint", "dedup", "load"} <= set(summary["seconds"])
            snapshots[name] = snapshot(db)
    for name in ("processes", "auto", "dask", "dask-address"):
        assert snapshots[name] == snapshots["threads"], name


def test_a_changed_file_is_ingested_as_a_new_version(seeds_copy: Path, tmp_path: Path):
    db = tmp_path / "w.duckdb"
    ingest_flow(str(seeds_copy), str(db))
    target = sorted(seeds_copy.iterdir())[0]
    target.write_text(target.read_text(encoding="utf-8") + "\nA correction was added to this story on Friday after readers wrote in to the editors.\n", encoding="utf-8")
    summary = ingest_flow(str(seeds_copy), str(db))
    assert summary["files_new"] == 1
    assert table(db, f"SELECT version FROM documents WHERE source_path = '{target.name}' ORDER BY version") == [(1,), (2,)]


def test_cli_run_prints_summary_and_failed_pass_exits_1_leaving_warehouse_unchanged(seeds_copy, tmp_path, capsys, monkeypatch):
    db = tmp_path / "w.duckdb"
    assert cli.main(["run", "--raw", str(seeds_copy), "--warehouse", str(db)]) == 0
    out = capsys.readouterr().out
    assert f"run 1 -> {db}\nfiles: 5 new, 0 skipped (unchanged), 0 rejected\n" in out
    before = snapshot(db)
    (seeds_copy / "new.txt").write_text("A brand new article arrives in the folder, with enough words to count as a paragraph of prose.\n")

    def broken(*args, **kwargs):
        raise OSError("No space left on device")

    monkeypatch.setattr(warehouse, "write_batch", broken)
    assert cli.main(["run", "--raw", str(seeds_copy), "--warehouse", str(db)]) == 1
    assert "Error: run failed, its unfinished batch rolled back: OSError: No space left on device" in capsys.readouterr().err
    assert snapshot(db) == before


def test_cli_run_on_a_missing_folder_is_a_one_line_error(tmp_path, capsys):
    assert cli.main(["run", "--raw", str(tmp_path / "nope"), "--warehouse", str(tmp_path / "w.duckdb")]) == 1
    assert capsys.readouterr().err == f"Error: drop folder {tmp_path / 'nope'} does not exist or is not a folder\n"


def test_a_run_failing_in_a_later_batch_keeps_whole_files_and_the_rerun_completes(seeds_copy, tmp_path, monkeypatch):
    db = tmp_path / "w.duckdb"
    real = warehouse.write_batch
    calls = []

    def fails_second(*args, **kwargs):
        calls.append(1)
        if len(calls) == 2:
            raise OSError("No space left on device")
        return real(*args, **kwargs)

    monkeypatch.setattr(warehouse, "write_batch", fails_second)
    with pytest.raises(OSError):
        ingest_flow(str(seeds_copy), str(db), {"batch_files": 2})
    # The first batch (two files) was committed whole; nothing of the second; no runs row.
    assert table(db, "SELECT count(*), count(DISTINCT run_id) FROM documents") == [(2, 1)]
    assert table(db, "SELECT count(*) FROM runs") == [(0,)]
    assert table(db, "SELECT count(*) FROM document_paragraphs WHERE doc_id NOT IN (SELECT doc_id FROM documents)") == [(0,)]
    monkeypatch.undo()
    summary = ingest_flow(str(seeds_copy), str(db), {"batch_files": 2})
    assert (summary["run_id"], summary["files_new"], summary["files_unchanged"]) == (2, 3, 2)
    assert table(db, "SELECT count(*) FROM documents") == [(5,)]
    assert table(db, "SELECT n_occurrences FROM paragraphs WHERE text LIKE 'Analysts believe%'") == [(2,)]


TEMPLATE = ("Our newsroom depends on readers like you, so please consider a subscription to support "
            "independent local reporting this year.")


def _outlet_story(folder: Path, i: int, extra: str = TEMPLATE) -> None:
    folder.mkdir(parents=True, exist_ok=True)
    (folder / f"story-{i}.txt").write_text(
        f"Council story {i}\n\nThe council met on day {i} and agreed to fund {i + 2} new street lamps on the "
        f"riverside path.\n\nResidents had asked for lighting on the path for {i + 3} years, a spokesperson said.\n\n"
        f"{extra}\n", encoding="utf-8")


def test_a_source_folders_template_passage_is_learned_and_dropped_from_its_later_files(tmp_path: Path):
    raw, db = tmp_path / "raw", tmp_path / "w.duckdb"
    for i in range(5):
        _outlet_story(raw / "outlet", i)
    (raw / "elsewhere.txt").write_text(f"Another paper\n\nA different story about the harbor, told at length by a "
                                       f"different paper this week.\n\n{TEMPLATE}\n", encoding="utf-8")
    first = ingest_flow(str(raw), str(db))
    assert first["paragraphs_template"] == 0  # nothing known yet: stored as it came
    assert table(db, "SELECT source, n_files, source_files FROM template_passages(5, 0.6)") == [("outlet", 5, 5)]
    _outlet_story(raw / "outlet", 5)
    _outlet_story(raw / "other", 6)
    (raw / "outlet" / "only-template.txt").write_text(f"{TEMPLATE}\n", encoding="utf-8")
    second = ingest_flow(str(raw), str(db))
    assert second["paragraphs_template"] == 2
    assert table(db, "SELECT source_path, reason FROM rejected_files") == [
        ("outlet/only-template.txt", "every paragraph is a template passage of its source folder")]
    kept = dict(table(db, f"""SELECT d.source_path, count(*) FILTER (WHERE dp.text = '{TEMPLATE}') FROM documents d
                              JOIN document_paragraphs dp USING (doc_id) WHERE d.run_id = 2 GROUP BY 1"""))
    # Dropped from the outlet's new file; kept in another source's file, where it is no template.
    assert kept == {"outlet/story-5.txt": 0, "other/story-6.txt": 1}
    assert table(db, "SELECT n_paragraphs FROM documents WHERE source_path = 'outlet/story-5.txt'") == [(2,)]
