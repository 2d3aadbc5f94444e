"""The command line: exact output, error text included (no Prefect needed: `sql` never starts it)."""

import re
from pathlib import Path

import pytest

from conftest import ROOT, ingest_docs, make_doc
from flows import cli, warehouse


@pytest.fixture
def db(tmp_path: Path) -> Path:
    path = tmp_path / "w.duckdb"
    ingest_docs(path, [make_doc("a.txt", ["First paragraph of the story, with enough words.", "Second one, also long enough."])])
    return path


def _sql(capsys, db, query, *extra):
    code = cli.main(["sql", query, "--warehouse", str(db), *extra])
    out = capsys.readouterr()
    return code, out.out, out.err


def test_sql_table_csv_and_json(db, capsys):
    q = "SELECT position, match FROM document_paragraphs ORDER BY position"
    assert _sql(capsys, db, q) == (0, "position  match\n--------  -----\n0         new\n1         new\n(2 rows)\n", "")
    assert _sql(capsys, db, q, "--format", "csv") == (0, "position,match\n0,new\n1,new\n", "")
    code, out, _ = _sql(capsys, db, q, "--format", "json")
    assert out == '[\n  {\n    "position": 0,\n    "match": "new"\n  },\n  {\n    "position": 1,\n    "match": "new"\n  }\n]\n'


def test_sql_is_read_only(db, capsys):
    code, out, err = _sql(capsys, db, "DELETE FROM documents")
    assert code == 1 and out == ""
    assert err.startswith("Error: ") and "read-only" in err and err.count("\n") == 1


def test_sql_errors_are_one_line(db, tmp_path, capsys):
    code, _, err = _sql(capsys, db, "SELECT nope FROM documents")
    assert code == 1 and err.startswith("Error: ") and "nope" in err
    code, _, err = _sql(capsys, tmp_path / "missing.duckdb", "SELECT 1")
    assert (code, err) == (1, f"Error: warehouse {tmp_path / 'missing.duckdb'} does not exist yet; run `docdedup run` first\n")


def test_warehouse_env_var_is_the_default(db, capsys, monkeypatch):
    monkeypatch.setenv("DOCDEDUP_WAREHOUSE", str(db))
    assert cli.main(["sql", "SELECT count(*) AS n FROM documents", "--format", "csv"]) == 0
    assert capsys.readouterr().out == "n\n1\n"


def test_every_command_has_help_and_is_documented_in_the_readme(capsys):
    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    commands = cli.parser()._subparsers._group_actions[0].choices
    for name in commands:
        with pytest.raises(SystemExit) as exit_info:
            cli.main([name, "-h"])
        assert exit_info.value.code == 0
        assert "example:" in capsys.readouterr().out
        assert re.search(rf"docdedup {name}\b", readme), name


def test_ci_runs_the_readme_test_command():
    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    block = readme.split("## Quickstart", 1)[1].split("```sh\n", 1)[1].split("```", 1)[0]
    commands = [line for line in block.splitlines() if line.strip()]
    assert len(commands) == 2
    assert commands[1] in (ROOT / ".ci" / "run").read_text(encoding="utf-8").splitlines()


def _hold_lock(db: Path, seconds: float):
    """A child process holding the warehouse's write lock for `seconds` (DuckDB's lock is per process)."""
    import subprocess
    import sys

    child = subprocess.Popen([sys.executable, "-c", f"import duckdb, time; c = duckdb.connect({str(db)!r}); "
                              f"print('held', flush=True); time.sleep({seconds}); c.close(); print('released', flush=True)"],
                             stdout=subprocess.PIPE, text=True)
    assert child.stdout.readline() == "held\n"
    return child


def test_run_refuses_a_locked_warehouse_before_starting_prefect_when_told_not_to_wait(tmp_path, capsys, monkeypatch):
    raw = tmp_path / "raw"
    raw.mkdir()
    db = tmp_path / "w.duckdb"
    monkeypatch.setenv("DOCDEDUP_LOCK_WAIT_SECONDS", "0")
    child = _hold_lock(db, 30)
    try:
        assert cli.main(["run", "--raw", str(raw), "--warehouse", str(db)]) == 1
        assert capsys.readouterr().err == (
            f"Error: warehouse {db} is in use by process {child.pid} (a run or a SQL session holds it); "
            "try again when it has finished\n"
        )
    finally:
        child.kill()
        child.wait()


def test_a_command_waits_for_a_held_warehouse_and_says_so(tmp_path, capsys):
    db = tmp_path / "w.duckdb"
    with warehouse.connect(db):
        pass
    child = _hold_lock(db, 2)
    try:
        assert cli.main(["sql", "SELECT count(*) AS n FROM runs", "--warehouse", str(db), "--format", "csv"]) == 0
        assert child.stdout.readline() == "released\n"  # it ran only after the holder let go
    finally:
        child.kill()
        child.wait()
    out = capsys.readouterr()
    assert out.out == "n\n0\n"
    assert f"warehouse {db} is in use by process {child.pid}; waiting up to " in out.err


def test_the_duckdb_shell_opens_the_warehouse_read_only(db):
    import shutil
    import subprocess
    import sys

    shell = Path(sys.executable).parent / "duckdb"
    if not shell.exists():
        shell = shutil.which("duckdb")
    assert shell, "duckdb-cli is a dependency: its `duckdb` shell must be installed beside python"
    out = subprocess.run([str(shell), "-readonly", "-csv", str(db), "-c", "SELECT count(*) AS n FROM document_paragraphs"],
                         capture_output=True, text=True, timeout=60)
    assert (out.returncode, out.stdout) == (0, "n\n2\n")


def test_status_shows_last_runs_waiting_files_and_rejections(db: Path, tmp_path: Path, capsys):
    from datetime import datetime

    from flows.config import Settings
    from flows.dedup import plan_dedup
    from flows.records import Rejection

    with warehouse.connect(db) as con:  # run 2 rejects a file
        record = warehouse.RunRecord(2, datetime(2025, 1, 2), "raw", 0.4, Settings().minhash.fingerprint())
        warehouse.load_run(con, record, [], plan_dedup([], [], warehouse.fetch_stored(con, [], 0.0), Settings()),
                           [Rejection("empty.txt", "empty file", "e3b0", 0, 1)], [])
    raw = tmp_path / "raw"
    raw.mkdir()
    (raw / "new story.txt").write_text("A story that arrived after the last run.")
    assert cli.main(["status", "--raw", str(raw), "--warehouse", str(db)]) == 0
    out = capsys.readouterr().out
    assert out.startswith(f"warehouse {db}: 1 documents, 2 passages\n\nlast runs\n")
    runs = out.split("last runs\n", 1)[1].split("\n\n", 1)[0].splitlines()
    assert [line.split()[0] for line in runs[2:4]] == ["2", "1"] and runs[4] == "(2 rows)"
    assert f"drop folder {raw}: 1 files waiting for the next run\n  new story.txt\n" in out
    assert out.endswith("rejected files\nsource_path  reason      run_id\n-----------  ----------  ------\n"
                        "empty.txt    empty file  2\n(1 row)\n")
