"""The command line: exact output, error text included (no Prefect needed: `sql` never starts it)."""

import re
from pathlib import Path

import pytest

from conftest import ROOT, ingest_docs, make_doc
from flows import cli


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


def test_run_refuses_a_locked_warehouse_before_starting_prefect(tmp_path, capsys):
    import subprocess
    import sys

    raw = tmp_path / "raw"
    raw.mkdir()
    db = tmp_path / "w.duckdb"
    # DuckDB's lock is per process: hold it from a child.
    child = subprocess.Popen([sys.executable, "-c", f"import duckdb, time; c = duckdb.connect({str(db)!r}); print('held', flush=True); time.sleep(30)"],
                             stdout=subprocess.PIPE, text=True)
    try:
        assert child.stdout.readline() == "held\n"
        assert cli.main(["run", "--raw", str(raw), "--warehouse", str(db)]) == 1
        assert capsys.readouterr().err == (
            f"Error: warehouse {db} is in use by another process (a run or a SQL session holds it); "
            "try again when it has finished\n"
        )
    finally:
        child.kill()
        child.wait()


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
