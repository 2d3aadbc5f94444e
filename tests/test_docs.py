"""The docs are tested: the README names every command, option and setting, its example queries give the output
it shows, and its links resolve."""

import argparse
import dataclasses
import re
import shutil
from pathlib import Path

import pytest

from conftest import EXAMPLES, ROOT
from flows import cli
from flows.config import MinHashConfig, Settings
from flows.pipeline import ingest_flow

README = (ROOT / "README.md").read_text(encoding="utf-8")
# A shown command and what it printed: `$ docdedup sql "…"` (or search) up to the blank line or the fence.
SHOWN = re.compile(r'^\$ docdedup (sql|search) "((?:[^"\\]|\\.)*)"((?: --[\w-]+ \S+)*)\n(.*?)\n(?=\n|```)', re.M | re.S)


def shown_commands() -> list[tuple[str, str, list[str], str]]:
    return [(kind, query, options.split(), output) for kind, query, options, output in SHOWN.findall(README)]


def test_the_readme_shows_its_example_queries():
    kinds = [kind for kind, *_ in shown_commands()]
    assert kinds.count("sql") >= 4 and "search" in kinds


@pytest.fixture(scope="module")
def examples_warehouse(tmp_path_factory, prefect_harness) -> Path:
    """The warehouse the Quickstart builds: raw/examples in a drop folder, one run."""
    raw = tmp_path_factory.mktemp("quickstart") / "raw"
    shutil.copytree(EXAMPLES, raw / "examples")
    db = raw.parent / "docdedup.duckdb"
    ingest_flow(str(raw), str(db))
    return db


@pytest.mark.parametrize("kind, query, options, output", shown_commands(), ids=lambda x: str(x)[:40])
def test_a_readme_example_prints_what_the_readme_shows(examples_warehouse, capsys, kind, query, options, output):
    assert cli.main([kind, query, *options, "--warehouse", str(examples_warehouse)]) == 0
    assert capsys.readouterr().out.rstrip("\n") == output


def test_the_readmes_and_docs_links_resolve():
    for page in (ROOT / "README.md", *sorted((ROOT / "docs").glob("*.md"))):
        for target in re.findall(r"\]\(([^)#]+)(?:#[^)]*)?\)", page.read_text(encoding="utf-8")):
            if not re.match(r"[a-z]+://", target):
                assert (page.parent / target).exists(), (page.name, target)


def _section(title: str) -> str:
    return README.split(f"\n## {title}\n", 1)[1].split("\n## ", 1)[0]


def test_every_command_and_option_is_in_the_readme():
    """As sqlite-utils does: what `--help` offers, the README's Commands table names, row by row."""
    rows = {m.group(1): m.group(0) for m in re.finditer(r"^\| `docdedup (\w+)[^|]*(?:\\\|[^|]*)*\|.*$",
                                                          _section("Commands"), re.M)}
    subparsers = next(a for a in cli.parser()._actions if isinstance(a, argparse._SubParsersAction)).choices
    assert set(rows) == set(subparsers)
    for name, sub in subparsers.items():
        row = rows[name].replace("same options as run", rows["run"])
        for action in sub._actions:
            for option in action.option_strings:
                assert option in ("-h", "--help") or option in row, (name, option)
            for choice in action.choices or ():
                assert str(choice) in row or "…" in row, (name, action.dest, choice)


def test_every_setting_is_in_the_readmes_configuration_table():
    table = _section("Configuration")
    keys = [f.name for f in dataclasses.fields(Settings) if f.name != "minhash"]
    # scheme and hash are part of a signature's recorded recipe, with one allowed value each: not a user's choice.
    keys += [f.name for f in dataclasses.fields(MinHashConfig) if f.name not in ("scheme", "hash")]
    assert [k for k in keys if f"`{k}`" not in table] == []


def test_the_feeds_and_crawls_example_query_runs_on_a_crawl(tmp_path, prefect_harness):
    from conftest import table
    from test_containers import response, write_warc

    query = re.search(r"```sql\n(.*?)```", _section("Feeds and crawls"), re.S).group(1)
    shared = "The ferry terminal opened to passengers on Tuesday, harbor officials said, three years after a storm."
    own = ["The first boat left at six in the morning with forty passengers on board and a brass band on the quay.",
           "Shop owners along the quay expect a busy summer now that the boats run every hour again, they said."]
    raw = tmp_path / "raw"
    raw.mkdir()
    write_warc(raw / "crawl.warc.gz", lambda w: [
        response(w, f"https://news.example/{n}",
                 f"<html><body><article><p>{shared}</p><p>{text}</p></article></body></html>".encode())
        for n, text in enumerate(own)])
    ingest_flow(str(raw), str(tmp_path / "w.duckdb"))
    rows = table(tmp_path / "w.duckdb", query)
    assert [(url, shared) for _, url, _, shared in rows] == [("https://news.example/0", 1), ("https://news.example/1", 1)]
    assert all(record_id.startswith("<urn:uuid:") and published for record_id, _, published, _ in rows)
