"""Views, search, export and schema upgrades, on the seeds plus a syndicated copy of one seed."""

from __future__ import annotations

import io
import json
from datetime import datetime
from pathlib import Path

import pytest

from conftest import ingest_docs, table
from flows import cli, warehouse
from flows.clean import clean_document
from flows.config import Settings
from flows.fingerprint import content_hash
from flows.prepare import clean_and_split, fingerprint_documents
from flows.read import RawDocument
from flows.recipes import edge_texts
from flows.split import split_paragraphs

PENTAGON_SEED = "004_3cd088a2b52e8ece.txt"


def _syndicated_copy(seed_text: str) -> str:
    """An HTML copy of a seed article as another outlet runs it: straight quotes, one paragraph cut,
    one sentence added to the second paragraph, one paragraph of its own at the end."""
    raw = RawDocument("seed.txt", "0", 0, 0, "text", "utf-8", seed_text)
    paragraphs = split_paragraphs(clean_document(raw).body)
    edited = [p.replace("’", "'") for p in paragraphs[:-1]]
    edited[1] += " Officials gave no further details."
    edited.append("Syndicate Daily will update this story as more information becomes available from the briefing.")
    body = "\n".join(f"<p>{p}</p>" for p in edited)
    return f"""<!DOCTYPE html><html lang="en"><head><meta charset="utf-8">
<meta property="og:site_name" content="Syndicate Daily">
<meta property="og:title" content="Pentagon: no plan to pull troops from Iraq">
<meta property="article:published_time" content="2024-01-10T09:00:00Z">
</head><body><nav><a href="/">Home</a> <a href="/world">World</a></nav>
<article><h1>Pentagon: no plan to pull troops from Iraq</h1>{body}</article>
<footer>© Syndicate Daily</footer></body></html>"""


@pytest.fixture(scope="module")
def db(tmp_path_factory, seeds_dir: Path) -> Path:
    path = tmp_path_factory.mktemp("views") / "w.duckdb"
    raws = [RawDocument(f.name, f.name, 1, 0, "text", "utf-8", f.read_text(encoding="utf-8")) for f in sorted(seeds_dir.iterdir())]
    copy = _syndicated_copy((seeds_dir / PENTAGON_SEED).read_text(encoding="utf-8"))
    raws.append(RawDocument("copy.html", "copy", 1, 0, "html", "utf-8", copy))
    ingest_docs(path, fingerprint_documents([clean_and_split(r) for r in raws], _settings()))
    return path


def _settings():
    from flows.config import Settings

    return Settings()


def _n_paragraphs(db: Path, source_path: str) -> int:
    return table(db, f"SELECT n_paragraphs FROM documents WHERE source_path = '{source_path}'")[0][0]


def test_duplicate_groups_lists_every_shared_passage(db: Path):
    n_seed = _n_paragraphs(db, PENTAGON_SEED)
    rows = table(db, "SELECT n_occurrences, n_documents, n_sites, first_seen, last_seen FROM duplicate_groups ORDER BY canonical_text")
    copied = [r for r in rows if r[1] == 2]
    # Every seed paragraph but the cut last one reappears in the copy; the seed that repeats
    # its summary paragraph gives one more group, inside one document.
    assert len(copied) == n_seed - 1
    assert {r[2:] for r in copied} == {(1, datetime(2024, 1, 9), datetime(2024, 1, 10, 9, 0))}  # the copy's published time
    assert [r[:3] for r in rows if r[1] == 1] == [(2, 1, 0)]


def test_document_overlap_gives_each_side_its_share(db: Path):
    rows = table(db, "SELECT source_path_a, source_path_b, shared_passages, share_a, share_b FROM document_overlap")
    n_seed, n_copy = _n_paragraphs(db, PENTAGON_SEED), _n_paragraphs(db, "copy.html")
    shared = n_seed - 1
    expected = {"copy.html": round(shared / n_copy, 4), PENTAGON_SEED: round(shared / n_seed, 4)}
    assert len(rows) == 1
    a, b, n, share_a, share_b = rows[0]
    assert {a, b} == {"copy.html", PENTAGON_SEED} and n == shared
    assert (share_a, share_b) == (expected[a], expected[b])


def test_passage_timeline_puts_the_first_publisher_first(db: Path):
    pid = table(db, "SELECT paragraph_id FROM paragraphs WHERE text LIKE 'He noted that U.S. forces%'")[0][0]
    rows = table(db, f"SELECT appearance, source_path, site, match FROM passage_timeline WHERE paragraph_id = '{pid}' ORDER BY appearance")
    assert rows == [(1, PENTAGON_SEED, None, "new"), (2, "copy.html", "Syndicate Daily", "exact")]


def test_source_stats_splits_original_and_reused_text(db: Path):
    rows = dict((r[0], r[1:]) for r in table(db, "SELECT site, documents, paragraphs, original_paragraphs, reused_paragraphs FROM source_stats"))
    n_copy = _n_paragraphs(db, "copy.html")
    assert rows["Syndicate Daily"] == (1, n_copy, 1, n_copy - 1)
    total_seed = table(db, "SELECT sum(n_paragraphs) FROM documents WHERE format = 'text'")[0][0]
    assert rows["(unknown)"] == (5, total_seed, total_seed - 1, 1)


def test_unique_text_keeps_only_what_a_document_added(db: Path):
    text = table(db, "SELECT text FROM unique_text WHERE source_path = 'copy.html'")[0][0]
    assert text == "Syndicate Daily will update this story as more information becomes available from the briefing."
    full = table(db, f"SELECT n_paragraphs, n_unique_paragraphs FROM unique_text WHERE source_path = '{PENTAGON_SEED}'")
    assert full == [(_n_paragraphs(db, PENTAGON_SEED),) * 2]


def test_search_ranks_the_pentagon_passages_first_and_sql_agrees(db: Path, capsys):
    with warehouse.connect(db, read_only=True) as con:
        _, rows = warehouse.search(con, "Pentagon withdrawal", 3)
        sql_rows = con.execute(
            "SELECT p.text FROM search_passages('Pentagon withdrawal') s JOIN paragraphs p USING (paragraph_id) "
            "ORDER BY s.score DESC, s.paragraph_id LIMIT 3"
        ).fetchall()
    assert len(rows) == 3
    assert all("Pentagon" in r[1] and ("withdraw" in r[1].lower()) for r in rows[:2])
    assert [r[1] for r in rows] == [r[0] for r in sql_rows]
    assert cli.main(["search", "Pentagon withdrawal", "--limit", "1", "--warehouse", str(db), "--format", "json"]) == 0
    out = json.loads(capsys.readouterr().out)
    titles = table(db, """SELECT DISTINCT coalesce(d.title, d.source_path) FROM paragraphs p
                          JOIN document_paragraphs dp USING (paragraph_id) JOIN documents d USING (doc_id)
                          WHERE p.text = $$%s$$""" % rows[0][1])
    assert out[0]["text"] == rows[0][1] and out[0]["documents"] == " | ".join(t for (t,) in titles)


def test_export_writes_every_table_and_view(db: Path, tmp_path: Path, capsys):
    for fmt, ext in [("parquet", "parquet"), ("csv", "csv"), ("jsonl", "jsonl")]:
        out = tmp_path / fmt
        assert cli.main(["export", str(out), "--format", fmt, "--warehouse", str(db)]) == 0
        assert sorted(p.name for p in out.iterdir()) == sorted(f"{n}.{ext}" for n in warehouse.EXPORTED)
    capsys.readouterr()
    with warehouse.connect(db, read_only=True) as con:
        for name in warehouse.EXPORTED:
            n = con.execute(f"SELECT count(*) FROM {name}").fetchone()[0]
            assert con.execute(f"SELECT count(*) FROM '{tmp_path / 'parquet' / (name + '.parquet')}'").fetchone()[0] == n
            lines = (tmp_path / "jsonl" / f"{name}.jsonl").read_text().splitlines()
            assert len(lines) == n


def test_sql_session_runs_statements_and_survives_errors(db: Path):
    stdin = io.StringIO("SELECT count(*) AS n FROM documents;\nSELECT nope;\nSELECT 1 AS a,\n  2 AS b;\n.quit\nSELECT 3;\n")
    stdout = io.StringIO()
    assert cli.sql_session(lambda: warehouse.connect(db, read_only=True), "csv", stdin, stdout) == 0
    out = stdout.getvalue().splitlines()
    assert out[:2] == ["n", "6"]
    assert out[2].startswith("Error: Binder Error")
    assert out[-2:] == ["a,b", "1,2"]


def test_an_older_warehouse_upgrades_in_place_and_keeps_every_row(tmp_path: Path, monkeypatch):
    # A version-1 warehouse, written with version 1's schema and plain SQL as docdedup 0.1 wrote it.
    db = tmp_path / "old.duckdb"
    all_migrations = warehouse.migrations()
    monkeypatch.setattr(warehouse.connection, "migrations", lambda: all_migrations[:1])
    with warehouse.connect(db) as con:
        con.execute("""INSERT INTO runs VALUES (1, '2025-01-01', '2025-01-01', 'raw', 2, 0, 0, 3, 2, 1, 0, 0.4, 'minhash:v1', '0.1.0')""")
        con.execute("""INSERT INTO documents VALUES
            ('d1', 'a.txt', 'sha-a', 10, 1, 1, 'text', 'utf-8', 'text', 'A', NULL, '2025-01-01', NULL, NULL, 'en', 2, '2025-01-01', 1),
            ('d2', 'b.txt', 'sha-b', 10, 1, 1, 'text', 'utf-8', 'text', 'B', NULL, '2025-01-02', 'Site B', NULL, 'en', 1, '2025-01-01', 1)""")
        con.execute("""INSERT INTO paragraphs VALUES ('p1', 'Shared paragraph text about the bridge.', 'd1', 0, 2, 2, 11), ('p2', 'Own text.', 'd1', 1, 1, 1, 12)""")
        con.execute("""INSERT INTO document_paragraphs VALUES ('d1', 0, 'p1', 'Shared paragraph text about the bridge.', 'new', 1.0, 11),
            ('d1', 1, 'p2', 'Own text.', 'new', 1.0, 12), ('d2', 0, 'p1', 'Shared paragraph text about the bridge!', 'exact', 1.0, 11)""")
        con.execute("INSERT INTO rejected_files VALUES ('c.txt', NULL, 0, 1, 'empty file', '2025-01-01', 1)")
        con.execute("INSERT INTO paragraph_fingerprints VALUES (11, 'p1', 3, '\\x00'::BLOB, 'minhash:v1'), (12, 'p2', 2, '\\x00'::BLOB, 'minhash:v1')")
        con.execute("INSERT INTO lsh_bands VALUES (7, 11)")
    tables = ["documents", "paragraphs", "document_paragraphs", "rejected_files", "runs", "paragraph_fingerprints"]
    before = {t: sorted(table(db, f"SELECT * FROM {t}"), key=repr) for t in tables}
    bands_before = table(db, "SELECT * FROM lsh_bands")
    assert table(db, "SELECT max(version) FROM schema_migrations") == [(1,)]
    monkeypatch.undo()
    with warehouse.connect(db):
        pass
    assert table(db, "SELECT version FROM schema_migrations ORDER BY 1") == [(v,) for v, _, _ in all_migrations]
    # Every old row is still there; columns added later take their defaults.
    added = {"runs": "paragraphs_contained, records_skipped", "paragraph_fingerprints": "norm, banded",
             "documents": "clean_fallback, container, record_offset, record_id, text_chars, boilerplate_chars, template_paragraphs",
             "rejected_files": "container, record_offset"}
    after = {t: sorted(table(db, f"SELECT * {f'EXCLUDE ({added[t]})' if t in added else ''} FROM {t}"), key=repr) for t in tables}
    assert after == before
    assert table(db, "SELECT paragraphs_contained FROM runs") == [(0,)]
    assert table(db, "SELECT clean_fallback FROM documents") == [(False,), (False,)]
    # 014: files read whole are no container's records; no container has been scanned yet.
    assert table(db, "SELECT records_skipped FROM runs") == [(0,)]
    assert table(db, "SELECT DISTINCT container, record_offset, record_id FROM documents") == [(None, None, None)]
    assert table(db, "SELECT count(*) FROM containers") == [(0,)]
    # 015: nothing recorded what cleaning dropped from the old documents; the report counts them as unmeasured.
    assert table(db, "SELECT DISTINCT text_chars, boilerplate_chars, template_paragraphs FROM documents") == [(None, None, None)]
    with warehouse.connect(db, read_only=True) as con:
        (top_level,) = warehouse.story_data(con, Settings()).folders
    assert (top_level.documents, top_level.unmeasured, top_level.boilerplate_share, top_level.template_paragraphs) == (2, 2, None, None)
    # 009: each stored variant's normalised text, from one of its occurrences.
    assert table(db, "SELECT norm_hash, norm FROM paragraph_fingerprints ORDER BY 1") == [(11, "shared paragraph text about the bridge"), (12, "own text")]
    # 011: lsh_bands is gone; a fingerprint that had band keys there is marked as having them.
    assert bands_before == [(7, 11)]
    assert table(db, "SELECT count(*) FROM information_schema.tables WHERE table_name = 'lsh_bands'") == [(0,)]
    assert table(db, "SELECT norm_hash, banded FROM paragraph_fingerprints ORDER BY 1") == [(11, True), (12, False)]
    # 012: a banded variant's head and tail keys, as a run of this version gives them.
    edges = sorted(content_hash(t) for t in edge_texts("shared paragraph text about the bridge"))
    assert table(db, "SELECT sentence_key, norm_hash FROM sentence_keys ORDER BY 1") == [(k, 11) for k in edges]
    assert table(db, "SELECT paragraph_id, n_documents, n_sites FROM duplicate_groups") == [("p1", 2, 1)]


def test_an_older_docdedup_refuses_a_newer_warehouse_even_read_only(tmp_path: Path, capsys):
    db = tmp_path / "w.duckdb"
    with warehouse.connect(db) as con:
        con.execute("INSERT INTO schema_migrations VALUES (999, '999_future.sql', now())")
    assert cli.main(["sql", "SELECT 1", "--warehouse", str(db)]) == 1
    assert "schema version 999 is newer than this docdedup understands" in capsys.readouterr().err
