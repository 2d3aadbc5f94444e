import dataclasses
import sys
from datetime import datetime
from pathlib import Path

import duckdb
import pytest

from conftest import band_index_rows, ingest_docs, make_doc, signature_index_rows, stored_band_keys, table
from flows import warehouse
from flows.config import MinHashConfig, Settings
from flows.dedup import plan_dedup
from flows.records import paragraph_id_for
from flows.fingerprint import content_hash, shingle_arrays
from flows.split import normalize_texts
from flows.warehouse.key_index import BANDS, KeyIndex

WIRE = [
    "The city council voted 6-1 on Monday night to approve a $14 million plan to repair the Harbor Street bridge, closed to heavy trucks since November.",
    "Work is expected to begin in early June and last about eighteen months, with one lane open in each direction.",
]
COPY = [
    "The city council voted 6-1 on Monday night to approve a $14 million plan to repair the Harbor Street bridge, closed to heavy trucks since November.",
    "Work is expected to begin in early June and to last about 18 months, with one lane staying open in each direction.",
    "Fishing crews who use the harbor said they were relieved after months of driving their catch south.",
]
ALL_TABLES = ["documents", "paragraphs", "document_paragraphs", "rejected_files", "runs", "paragraph_fingerprints"]


def _contents(db: Path, tables: list[str] = ALL_TABLES) -> dict[str, list]:
    """Every table's rows, minus columns that record when a run happened."""
    skip = {"ingested_at", "started_at", "finished_at", "rejected_at", "token"}  # token: a random id a change
    out = {}
    for name in tables:
        cols = [r[0] for r in table(db, f"SELECT column_name FROM information_schema.columns WHERE table_name = '{name}' ORDER BY ordinal_position") if r[0] not in skip]
        out[name] = sorted(table(db, f"SELECT {', '.join(cols)} FROM {name}"), key=repr)
    return out


def test_schema_files_are_applied_once_and_recorded(tmp_path: Path):
    db = tmp_path / "w.duckdb"
    with warehouse.connect(db) as con:
        versions = [v for v, _, _ in warehouse.migrations()]
        assert [r[0] for r in con.execute("SELECT version FROM schema_migrations ORDER BY 1").fetchall()] == versions
        assert warehouse.migrate(con) == []
    assert {r[0] for r in table(db, "SELECT table_name FROM information_schema.tables")} >= set(ALL_TABLES)


def test_a_new_warehouse_is_created_whole_or_not_at_all(tmp_path: Path, monkeypatch):
    from flows.warehouse import connection

    real = connection.migrations()
    broken = real[:3] + [(4, "004_broken.sql", "CREATE TABLE half_done (x INTEGER); SELECT no_such_column FROM half_done")]
    db = tmp_path / "w.duckdb"
    monkeypatch.setattr(connection, "migrations", lambda: broken)
    with pytest.raises(duckdb.Error):
        with warehouse.connect(db):
            pass
    # Nothing of the failed creation stays: not the three files before the broken one, not its first statement.
    assert table(db, "SELECT count(*) FROM schema_migrations") == [(0,)]
    assert table(db, "SELECT count(*) FROM information_schema.tables WHERE table_name IN ('documents', 'half_done')") == [(0,)]
    # An existing warehouse upgrades a file at a time: the files before a broken one stay applied.
    monkeypatch.setattr(connection, "migrations", lambda: real[:2])
    with warehouse.connect(db):
        pass
    monkeypatch.setattr(connection, "migrations", lambda: broken)
    with pytest.raises(duckdb.Error):
        with warehouse.connect(db):
            pass
    assert table(db, "SELECT version FROM schema_migrations ORDER BY 1") == [(1,), (2,), (3,)]
    monkeypatch.setattr(connection, "migrations", lambda: real)
    with warehouse.connect(db) as con:
        assert [r[0] for r in con.execute("SELECT version FROM schema_migrations ORDER BY 1").fetchall()] == [v for v, _, _ in real]


def test_the_paragraph_ids_that_runs_update_are_stored_uncompressed(tmp_path: Path):
    # 008_plain_ids.sql: a checkpoint rewrites an updated column without re-running FSST's analysis.
    db = tmp_path / "w.duckdb"
    with warehouse.connect(db) as con:
        con.execute("""INSERT INTO document_paragraphs SELECT 'd' || i // 20, i % 20, md5(i::VARCHAR)[:16], 'text ' || i,
                           'new', 1.0, i FROM range(5000) r(i)""")
        con.execute("""INSERT INTO paragraph_fingerprints SELECT i, md5(i::VARCHAR)[:16], 8, '\\x00'::BLOB, 'm', 'text ' || i, true
                       FROM range(5000) r(i)""")
        con.execute("CHECKPOINT")
        stored = con.execute("""SELECT table_name, list(DISTINCT compression ORDER BY compression) FROM (
                                    SELECT 'document_paragraphs' AS table_name, * FROM pragma_storage_info('document_paragraphs')
                                    UNION ALL BY NAME
                                    SELECT 'paragraph_fingerprints' AS table_name, * FROM pragma_storage_info('paragraph_fingerprints'))
                                WHERE column_name = 'paragraph_id' AND segment_type = 'VARCHAR'
                                GROUP BY ALL ORDER BY ALL""").fetchall()
    assert stored == [("document_paragraphs", ["Uncompressed"]), ("paragraph_fingerprints", ["Uncompressed"])]


def test_signatures_and_norms_are_stored_without_a_compression_analysis(tmp_path: Path):
    # 011: random bytes and texts each held once; rows repeated here, which DuckDB would otherwise compress.
    db = tmp_path / "w.duckdb"
    with warehouse.connect(db) as con:
        con.execute("""INSERT INTO paragraph_fingerprints SELECT i, md5(i::VARCHAR)[:16], 8, '\\x00\\x01'::BLOB, 'm',
                           'text ' || (i % 3), true FROM range(5000) r(i)""")
        con.execute("CHECKPOINT")
        stored = con.execute("""SELECT column_name, list(DISTINCT compression ORDER BY compression)
                                FROM pragma_storage_info('paragraph_fingerprints')
                                WHERE column_name IN ('signature', 'norm', 'n_words') AND segment_type <> 'VALIDITY'
                                GROUP BY ALL ORDER BY ALL""").fetchall()
    assert stored == [("n_words", ["Constant"]), ("norm", ["Uncompressed"]), ("signature", ["Uncompressed"])]


def test_a_writing_connection_stores_new_text_without_fsst(tmp_path: Path):
    # connection.NO_COMPRESSION: FSST's analysis was the dearest part of a run's checkpoint.
    rows = """SELECT 'd' || i // 20, i % 20, md5(i::VARCHAR)[:16],
                     'The council voted on plan number ' || i || ' to repair the harbor bridge before the winter storms',
                     'new', 1.0, i FROM range(20000) r(i)"""
    compressions = """SELECT list(DISTINCT compression ORDER BY compression) FROM pragma_storage_info('document_paragraphs')
                      WHERE column_name = 'text' AND segment_type = 'VARCHAR'"""
    plain = duckdb.connect(str(tmp_path / "plain.duckdb"))  # DuckDB's own choice for the same rows: FSST
    plain.execute("CREATE TABLE document_paragraphs (doc_id VARCHAR, position INTEGER, paragraph_id VARCHAR, text VARCHAR,"
                  " match VARCHAR, similarity DOUBLE, norm_hash BIGINT)")
    plain.execute(f"INSERT INTO document_paragraphs {rows}")
    plain.execute("CHECKPOINT")
    assert "FSST" in plain.execute(compressions).fetchone()[0]
    plain.close()
    db = tmp_path / "w.duckdb"
    with warehouse.connect(db) as con:
        con.execute(f"INSERT INTO document_paragraphs {rows}")
        con.execute("CHECKPOINT")
        stored = con.execute(compressions).fetchone()[0]
    assert stored and not {"FSST", "DICT_FSST"} & set(stored)
    with warehouse.connect(db, read_only=True) as con:  # reading sets nothing
        assert con.execute("SELECT current_setting('disabled_compression_methods')").fetchone()[0] == ""


def test_a_newer_schema_is_refused(tmp_path: Path):
    db = tmp_path / "w.duckdb"
    with warehouse.connect(db) as con:
        con.execute("INSERT INTO schema_migrations VALUES (999, '999_future.sql', now())")
    with pytest.raises(warehouse.WarehouseError, match="schema version 999 is newer"):
        with warehouse.connect(db):
            pass


def test_a_new_run_links_to_stored_paragraphs_without_refingerprinting_them(tmp_path: Path):
    db = tmp_path / "w.duckdb"
    ingest_docs(db, [make_doc("wire.txt", WIRE, published=datetime(2025, 3, 4))])
    stored = table(db, "SELECT norm_hash, signature FROM paragraph_fingerprints ORDER BY 1")
    summary = ingest_docs(db, [make_doc("copy.txt", COPY, published=datetime(2025, 3, 5))])
    assert summary["paragraphs_exact"] == 1 and summary["paragraphs_near"] == 1 and summary["paragraphs_new"] == 1
    rows = table(db, """SELECT d.source_path, dp.position, dp.match, p.n_occurrences
                        FROM document_paragraphs dp JOIN documents d USING (doc_id) JOIN paragraphs p USING (paragraph_id)
                        ORDER BY 1, 2""")
    assert rows == [("copy.txt", 0, "exact", 2), ("copy.txt", 1, "near", 2), ("copy.txt", 2, "new", 1),
                    ("wire.txt", 0, "new", 2), ("wire.txt", 1, "new", 2)]
    # Stored signatures are untouched; only the new variants were added.
    assert set(stored) <= set(table(db, "SELECT norm_hash, signature FROM paragraph_fingerprints"))
    assert table(db, "SELECT count(*) FROM paragraph_fingerprints")[0][0] == 4


def _as_schema(version: int, source: Path, db: Path, monkeypatch) -> None:
    """A warehouse at schema `version` holding what `source` holds: every column the two schemas share and, before
    011, the band keys of its signatures in lsh_bands, as docdedup wrote them then."""
    keys = stored_band_keys(source)
    every = warehouse.migrations()
    monkeypatch.setattr(warehouse.connection, "migrations", lambda: [m for m in every if m[0] <= version])
    with warehouse.connect(db) as con:
        con.execute(f"ATTACH '{source}' AS src (READ_ONLY)")
        names = [n for n, in con.execute("SELECT table_name FROM duckdb_tables() WHERE database_name = 'src'").fetchall()]
        for name in names:
            if name in ("schema_migrations", "key_index_state"):
                continue
            ours = {c for c, in con.execute(f"SELECT column_name FROM information_schema.columns WHERE table_catalog = current_database() AND table_name = '{name}'").fetchall()}
            theirs = [c for c, in con.execute(f"SELECT column_name FROM information_schema.columns WHERE table_catalog = 'src' AND table_name = '{name}' ORDER BY ordinal_position").fetchall()]
            if ours:
                shared = ", ".join(c for c in theirs if c in ours)
                con.execute(f"INSERT INTO {name} ({shared}) SELECT {shared} FROM src.{name}")
        con.execute("DETACH src")
        if version < 11:
            import pyarrow as pa

            con.register("keys", pa.table({"band_key": [k for k, _ in keys], "norm_hash": [h for _, h in keys]}))
            con.execute("INSERT INTO lsh_bands SELECT * FROM keys")
            con.execute("UPDATE key_index_state SET n_rows = (SELECT count(*) FROM lsh_bands) WHERE table_name = 'lsh_bands'")
    monkeypatch.undo()


def test_a_warehouse_from_before_stored_norms_gets_them_and_still_matches(tmp_path: Path, monkeypatch):
    # 009_stored_norms.sql fills paragraph_fingerprints.norm for the variants stored before it, with the text a run
    # would have written, and later runs verify their candidates against it.
    source, db = tmp_path / "source.duckdb", tmp_path / "w.duckdb"
    wire = WIRE + ["L’équipe de «Médecins» a dit — mardi — qu’elle ÉTUDIERAIT le pont ﬁnancé par la ville de Zürich."]
    ingest_docs(source, [make_doc("wire.txt", wire, published=datetime(2025, 3, 4))])
    written = table(source, "SELECT norm_hash, norm FROM paragraph_fingerprints ORDER BY 1")
    assert len(written) == 3 and all(h == content_hash(n) for h, n in written)
    _as_schema(8, source, db, monkeypatch)
    assert "norm" not in {c for c, in table(db, "SELECT column_name FROM information_schema.columns WHERE table_name = 'paragraph_fingerprints'")}
    with warehouse.connect(db):
        pass
    assert table(db, "SELECT norm_hash, norm FROM paragraph_fingerprints ORDER BY 1") == written
    summary = ingest_docs(db, [make_doc("copy.txt", COPY, published=datetime(2025, 3, 5))])
    assert (summary["paragraphs_exact"], summary["paragraphs_near"], summary["paragraphs_new"]) == (1, 1, 1)
    assert_consistent(db)


def test_a_warehouse_from_before_computed_band_keys_keeps_its_index_and_matches(tmp_path: Path, monkeypatch):
    # 011_band_keys_from_signatures.sql drops lsh_bands and keeps, per fingerprint, whether it had band keys there.
    source, db = tmp_path / "source.duckdb", tmp_path / "w.duckdb"
    short = "Council votes."  # too short for band keys
    ingest_docs(source, [make_doc("wire.txt", WIRE + [short], published=datetime(2025, 3, 4))])
    _as_schema(10, source, db, monkeypatch)
    # The index beside the old warehouse, built from its lsh_bands as docdedup did then.
    every = warehouse.migrations()
    monkeypatch.setattr(warehouse.connection, "migrations", lambda: [m for m in every if m[0] <= 10])
    with warehouse.connect(db) as con:
        before = dataclasses.replace(BANDS, source="SELECT band_key, norm_hash FROM lsh_bands ORDER BY band_key")
        KeyIndex(Path(f"{db}{BANDS.suffix}"), before).current(con)
    monkeypatch.undo()
    old_bands = sorted(table(db, "SELECT band_key, norm_hash FROM lsh_bands"))
    assert old_bands == stored_band_keys(source) and len(old_bands) == 2 * 46
    manifest = (Path(f"{db}.bands") / "manifest.json").read_text()
    with warehouse.connect(db):
        pass
    assert table(db, "SELECT count(*) FROM information_schema.tables WHERE table_name = 'lsh_bands'") == [(0,)]
    assert table(db, "SELECT norm_hash, banded FROM paragraph_fingerprints ORDER BY 1") == \
        table(source, "SELECT norm_hash, banded FROM paragraph_fingerprints ORDER BY 1")
    assert sorted(b for _, b in table(db, "SELECT norm_hash, banded FROM paragraph_fingerprints")) == [False, True, True]
    # The band keys did not change: the index built before the upgrade is still current, and holds them.
    assert (Path(f"{db}.bands") / "manifest.json").read_text() == manifest
    assert band_index_rows(db) == old_bands == stored_band_keys(db)
    summary = ingest_docs(db, [make_doc("copy.txt", COPY, published=datetime(2025, 3, 5))])
    assert (summary["paragraphs_exact"], summary["paragraphs_near"], summary["paragraphs_new"]) == (1, 1, 1)
    assert_consistent(db)


def test_an_earlier_original_arriving_later_becomes_canonical_as_if_loaded_together(tmp_path: Path):
    wire = make_doc("wire.txt", WIRE, published=datetime(2025, 3, 4))
    copy = make_doc("copy.txt", COPY, published=datetime(2025, 3, 5))
    ingest_docs(tmp_path / "two.duckdb", [copy])
    ingest_docs(tmp_path / "two.duckdb", [wire])
    ingest_docs(tmp_path / "one.duckdb", [copy, wire])
    q = "SELECT paragraph_id, text, first_doc_id, n_occurrences, n_documents FROM paragraphs ORDER BY 1"
    assert table(tmp_path / "two.duckdb", q) == table(tmp_path / "one.duckdb", q)
    q = "SELECT doc_id, position, paragraph_id, match, round(similarity, 9) FROM document_paragraphs ORDER BY 1, 2"
    assert table(tmp_path / "two.duckdb", q) == table(tmp_path / "one.duckdb", q)
    assert table(tmp_path / "two.duckdb", "SELECT DISTINCT first_doc_id FROM paragraphs WHERE n_occurrences = 2") == [(wire.row.doc_id,)]
    assert table(tmp_path / "two.duckdb", "SELECT count(*) FROM paragraphs")[0][0] == 3
    # The copy's passages were retired: their rows left in search_terms change no search result.
    assert table(tmp_path / "two.duckdb", "SELECT count(DISTINCT paragraph_id) FROM search_terms")[0][0] > 3
    q = "SELECT paragraph_id, round(score, 9) FROM search_passages('bridge work months lane') ORDER BY ALL"
    assert len(table(tmp_path / "one.duckdb", q)) == 3
    assert table(tmp_path / "two.duckdb", q) == table(tmp_path / "one.duckdb", q)
    assert_consistent(tmp_path / "two.duckdb")


def test_a_paragraph_near_two_stored_passages_joins_one_and_never_bridges_them(tmp_path: Path):
    base = "alpha beta gamma delta epsilon zeta eta theta iota kappa lambda mu nu xi omicron pi".split()
    # left and right share 7 of their bigrams with each other (J = 0.30, below the threshold)
    # and 11 with the full sequence (J = 0.58): the full sequence is near both, and joins the earlier one only.
    left = " ".join(base[:12] + ["r1", "r2", "r3", "r4"])
    right = " ".join(["s1", "s2", "s3", "s4"] + base[4:])
    settings = Settings()
    db = tmp_path / "w.duckdb"
    a, b = make_doc("a.txt", [left], settings=settings), make_doc("b.txt", [right], settings=settings)
    ingest_docs(db, [a, b], settings)
    assert table(db, "SELECT count(*) FROM paragraphs")[0][0] == 2
    c = make_doc("c.txt", [" ".join(base)], settings=settings)
    ingest_docs(db, [c], settings)
    left_id, right_id = paragraph_id_for(a.row.doc_id, 0), paragraph_id_for(b.row.doc_id, 0)
    assert table(db, "SELECT paragraph_id, n_occurrences FROM paragraphs ORDER BY 1") == sorted([(left_id, 2), (right_id, 1)])
    assert table(db, f"SELECT paragraph_id, match FROM document_paragraphs WHERE doc_id = '{c.row.doc_id}'") == [(left_id, "near")]
    assert_consistent(db)


def test_a_stored_passage_whose_leader_an_earlier_text_displaces_is_placed_again_as_if_loaded_together(tmp_path: Path):
    base = "alpha beta gamma delta epsilon zeta eta theta iota kappa lambda mu nu xi omicron pi".split()
    full = " ".join(base)  # the stored passage's leader
    later = " ".join(base[4:] + ["p1", "p2", "p3", "p4"])  # near the leader (J = 0.58), stored as its member
    earliest = " ".join(base[:12] + ["q1", "q2", "q3", "q4"])  # near the leader (J = 0.58), not near the member
    leader = make_doc("leader.txt", [full], published=datetime(2025, 1, 5))
    member = make_doc("member.txt", [later], published=datetime(2025, 1, 6))
    first = make_doc("first.txt", [earliest], published=datetime(2025, 1, 1))
    ingest_docs(tmp_path / "two.duckdb", [leader, member])
    assert table(tmp_path / "two.duckdb", "SELECT count(*) FROM paragraphs") == [(1,)]
    ingest_docs(tmp_path / "two.duckdb", [first])
    ingest_docs(tmp_path / "one.duckdb", [leader, member, first])
    for q in ("SELECT paragraph_id, text, first_doc_id, n_occurrences, n_documents FROM paragraphs ORDER BY 1",
              "SELECT doc_id, position, paragraph_id, match, round(similarity, 9) FROM document_paragraphs ORDER BY 1, 2",
              "SELECT norm_hash, paragraph_id FROM paragraph_fingerprints ORDER BY 1"):
        assert table(tmp_path / "two.duckdb", q) == table(tmp_path / "one.duckdb", q)
    # The leader joins the earlier text; its former member, not near that text, leads a passage of its own.
    assert table(tmp_path / "two.duckdb", "SELECT first_doc_id, n_occurrences FROM paragraphs ORDER BY 2, 1") == \
        [(member.row.doc_id, 1), (first.row.doc_id, 2)]
    assert_consistent(tmp_path / "two.duckdb")


def test_a_failing_load_leaves_the_warehouse_as_it_was(tmp_path: Path, monkeypatch):
    db = tmp_path / "w.duckdb"
    ingest_docs(db, [make_doc("wire.txt", WIRE)])
    before = _contents(db)
    real_execute = duckdb.DuckDBPyConnection.execute

    class Boom(RuntimeError):
        pass

    def failing_execute(self, sql, *args, **kwargs):
        if sql.startswith("INSERT INTO runs"):
            raise Boom("disk full")
        return real_execute(self, sql, *args, **kwargs)

    with warehouse.connect(db) as con:
        from flows.dedup import collect_batch, plan_dedup
        docs = [make_doc("copy.txt", COPY)]
        occ, var = collect_batch(docs, 2, Settings())
        plan = plan_dedup(occ, var, warehouse.fetch_stored(con, var, Settings().candidate_floor), Settings())
        record = warehouse.RunRecord(2, datetime(2030, 1, 1), "raw", 0.4, Settings().minhash.fingerprint())
        proxy = _Proxy(con, failing_execute)
        with pytest.raises(Boom):
            warehouse.load_run(proxy, record, [d.row for d in docs], plan, [], [])
    assert _contents(db) == before


class _Proxy:
    """A connection whose execute() can fail on a chosen statement."""

    def __init__(self, con, execute):
        self._con, self._execute = con, execute

    def execute(self, sql, *args, **kwargs):
        return self._execute(self._con, sql, *args, **kwargs)

    def __getattr__(self, name):
        return getattr(self._con, name)


def test_other_minhash_settings_are_refused_on_an_existing_warehouse(tmp_path: Path):
    db = tmp_path / "w.duckdb"
    ingest_docs(db, [make_doc("wire.txt", WIRE)])
    with warehouse.connect(db) as con:
        warehouse.check_settings(con, Settings())
        with pytest.raises(warehouse.WarehouseError, match="fingerprints were made with"):
            warehouse.check_settings(con, Settings(minhash=MinHashConfig(seed=7)))


def test_read_only_open_of_a_missing_warehouse_says_what_to_do(tmp_path: Path):
    with pytest.raises(warehouse.WarehouseError, match="run `docdedup run` first"):
        with warehouse.connect(tmp_path / "none.duckdb", read_only=True):
            pass


def assert_consistent(db: Path) -> None:
    """The warehouse's invariants: every reference resolves, counts match, one canonical per passage."""
    assert table(db, "SELECT count(*) FROM document_paragraphs WHERE paragraph_id NOT IN (SELECT paragraph_id FROM paragraphs)") == [(0,)]
    assert table(db, """SELECT count(*) FROM paragraphs p WHERE n_occurrences <>
                        (SELECT count(*) FROM document_paragraphs dp WHERE dp.paragraph_id = p.paragraph_id)""") == [(0,)]
    assert table(db, """SELECT count(*) FROM paragraphs p WHERE n_documents <>
                        (SELECT count(DISTINCT doc_id) FROM document_paragraphs dp WHERE dp.paragraph_id = p.paragraph_id)""") == [(0,)]
    assert table(db, """SELECT count(*) FROM paragraphs p WHERE 1 <> (SELECT count(*) FROM document_paragraphs dp
                        WHERE dp.paragraph_id = p.paragraph_id AND dp.match = 'new' AND dp.text = p.text
                          AND dp.doc_id = p.first_doc_id AND dp.position = p.first_position)""") == [(0,)]
    assert table(db, "SELECT count(*) FROM document_paragraphs WHERE match = 'new'") == table(db, "SELECT count(*) FROM paragraphs")
    # The leader rule, whatever the batches: a near occurrence is near its passage's canonical, or holds it (an
    # extension, sentences added).
    settings = Settings()
    for text, canon in table(db, f"""SELECT dp.text, p.text FROM document_paragraphs dp JOIN paragraphs p USING (paragraph_id)
                                    WHERE dp.match = 'near' AND dp.similarity < {settings.threshold}"""):
        mine, its = (set(a.tolist()) for a in shingle_arrays(normalize_texts([text, canon]), settings.minhash))
        assert len(mine & its) >= settings.containment * len(its), (text, canon)
    assert table(db, """SELECT count(*) FROM passage_links WHERE paragraph_id NOT IN (SELECT paragraph_id FROM paragraphs)
                        OR whole_paragraph_id NOT IN (SELECT paragraph_id FROM paragraphs)""") == [(0,)]
    assert table(db, """SELECT count(*) FROM document_paragraphs dp JOIN paragraph_fingerprints f USING (norm_hash)
                        WHERE f.paragraph_id <> dp.paragraph_id""") == [(0,)]
    assert table(db, """SELECT count(*) FROM (SELECT paragraph_id, whole_paragraph_id FROM passage_links
                        GROUP BY ALL HAVING count(*) > 1)""") == [(0,)]
    # Keys the schema no longer enforces (006_lean_keys.sql) hold by construction.
    for name, key in [("paragraphs", "paragraph_id"), ("document_paragraphs", "doc_id, position"),
                      ("paragraph_fingerprints", "norm_hash"), ("search_docs", "paragraph_id")]:
        assert table(db, f"SELECT count(*) FROM (SELECT {key} FROM {name} GROUP BY ALL HAVING count(*) > 1)") == [(0,)], name
    # The search index holds every live passage with the terms of its text, and no other passage.
    assert table(db, "SELECT paragraph_id FROM search_docs ORDER BY 1") == table(db, "SELECT paragraph_id FROM paragraphs ORDER BY 1")
    indexed = table(db, "SELECT term, paragraph_id, tf FROM search_terms JOIN search_docs USING (paragraph_id) ORDER BY ALL")
    assert indexed == table(db, """SELECT term, paragraph_id, count(*)::INTEGER FROM (
                                      SELECT paragraph_id, unnest(search_terms_of(text)) AS term FROM paragraphs)
                                  GROUP BY ALL ORDER BY ALL""")
    assert table(db, "SELECT count(*) FROM search_docs d WHERE n_terms <> (SELECT coalesce(sum(tf), 0) FROM search_terms t WHERE t.paragraph_id = d.paragraph_id)") == [(0,)]
    # A fingerprint has band keys when its text is long enough for near matching (the default min_words).
    assert table(db, "SELECT count(*) FROM paragraph_fingerprints WHERE banded <> (n_words >= 6)") == [(0,)]
    # The band-key and signature indexes beside the warehouse hold exactly the keys of the stored signatures and
    # the signatures, at their current states.
    bands = stored_band_keys(db)
    if bands or Path(f"{db}.bands").exists():
        assert band_index_rows(db) == bands
    signatures = sorted(table(db, "SELECT norm_hash, signature FROM paragraph_fingerprints"))
    if signatures or Path(f"{db}.signatures").exists():
        assert signature_index_rows(db) == signatures


LONG = [
    "The city council voted on Monday night to approve a fourteen million dollar plan to repair the Harbor Street bridge.",
    "The library board also agreed to keep the reading rooms open until ten o'clock on weeknights from April onwards.",
]


def test_links_follow_a_passage_whose_canonical_changes(tmp_path: Path):
    db = tmp_path / "w.duckdb"
    wire = make_doc("wire.txt", LONG, published=datetime(2025, 1, 2))
    merged = make_doc("merged.txt", [" ".join(LONG)], published=datetime(2025, 1, 3))
    ingest_docs(db, [wire, merged])
    assert table(db, "SELECT count(*) FROM passage_links")[0][0] == 2
    assert_consistent(db)
    earlier = make_doc("earlier.txt", LONG[:1], published=datetime(2025, 1, 1))
    ingest_docs(db, [earlier])
    assert_consistent(db)
    new_id = paragraph_id_for(earlier.row.doc_id, 0)
    assert table(db, f"SELECT count(*) FROM passage_links WHERE paragraph_id = '{new_id}'") == [(1,)]


def test_incremental_runs_keep_the_invariants_on_a_generated_corpus(tmp_path: Path):
    _generated_corpus_runs(tmp_path)


def _generated_corpus_runs(tmp_path: Path) -> list:
    """Gold articles with three edited copies each, copies first, loaded in three runs into tmp_path/w.duckdb and
    checked for consistency; returns the prepared documents."""
    sys.path.insert(0, str(Path(__file__).parent / "benchmarks"))
    import syndication
    from conftest import SHARED

    if not (SHARED / "benchmarks").is_dir():
        pytest.skip("../shared/benchmarks is not available")
    settings = Settings()
    docs = syndication.prepared(syndication.generate(syndication.load_gold()[:25], 3, seed=3), settings)
    # Copies before originals, in three runs: canonicals move, clusters merge, links follow.
    docs.sort(key=lambda d: ("original" in d.row.source_path, d.row.source_path))
    syndication.ingest(tmp_path / "w.duckdb", docs, settings, batches=3)
    assert_consistent(tmp_path / "w.duckdb")
    return docs


def test_a_round_after_a_reopening_places_again_only_what_it_changed_as_placing_all_would(tmp_path: Path, monkeypatch):
    sys.path.insert(0, str(Path(__file__).parent / "benchmarks"))
    import syndication
    from conftest import SHARED

    import flows.dedup as dedup

    if not (SHARED / "benchmarks").is_dir():
        pytest.skip("../shared/benchmarks is not available")
    settings = Settings()
    docs = syndication.prepared(syndication.generate(syndication.load_gold()[:60], 6, seed=3), settings)
    docs.sort(key=lambda d: ("original" in d.row.source_path, d.row.source_path))  # later runs reopen passages
    placed, rounds = [], []
    real_place, real_cluster = dedup._place, dedup.cluster_duplicates
    monkeypatch.setattr(dedup, "_place", lambda *args: placed.append(args[0]) or real_place(*args))
    monkeypatch.setattr(dedup, "cluster_duplicates", lambda *args: rounds.append(args[5]) or real_cluster(*args))
    syndication.ingest(tmp_path / "kept.duckdb", docs, settings, batches=4)
    kept = len(placed)
    assert any(before is not None for before in rounds)  # this corpus has a round after a reopening
    # Every round placing every node afresh.
    monkeypatch.setattr(dedup, "cluster_duplicates", lambda *args: real_cluster(*args[:5]))
    syndication.ingest(tmp_path / "afresh.duckdb", docs, settings, batches=4)
    assert kept < len(placed) - kept
    for q in AS_ONE_RUN + ("SELECT paragraph_id, text, first_doc_id, n_occurrences FROM paragraphs ORDER BY 1",):
        assert table(tmp_path / "kept.duckdb", q) == table(tmp_path / "afresh.duckdb", q)


def test_a_batch_skips_only_the_writes_that_would_change_nothing(tmp_path: Path, monkeypatch):
    # load._BATCH_SQL: a statement whose needed batch tables are empty is not sent. The same three runs with every
    # statement sent leave the same warehouse, and both kinds of batch occur: with and without repoints.
    from flows.warehouse import load

    for sql, _, needs in load._BATCH_SQL:
        for name in needs:
            assert name.removesuffix("_known") in sql and (name != "t_par_known" or "known" in sql)
    repoints = []
    batch_tables = load._batch_tables
    monkeypatch.setattr(load, "_batch_tables", lambda *a: (t := batch_tables(*a), repoints.append(t["t_repoint"].num_rows))[0])
    docs = _generated_corpus_runs(tmp_path / "skipping")
    assert 0 in repoints and any(repoints)
    monkeypatch.setattr(load, "_BATCH_SQL", [(sql, params, ()) for sql, params, _ in load._BATCH_SQL])
    import syndication  # on the path since _generated_corpus_runs

    syndication.ingest(tmp_path / "all.duckdb", docs, Settings(), batches=3)
    tables = ALL_TABLES + ["passage_links", "sentence_keys", "search_terms", "search_docs", "key_index_state"]
    assert _contents(tmp_path / "skipping" / "w.duckdb", tables)["passage_links"]
    assert _contents(tmp_path / "all.duckdb", tables) == _contents(tmp_path / "skipping" / "w.duckdb", tables)


def test_a_rejection_that_persists_is_recorded_once_and_retried_when_its_cause_goes(tmp_path: Path):
    from flows.records import Rejection

    db = tmp_path / "w.duckdb"
    unreadable = Rejection("locked.txt", "cannot read file: Permission denied", None, 10, 1)
    settings = Settings()
    for run_id in (1, 2):
        with warehouse.connect(db) as con:
            record = warehouse.RunRecord(run_id, datetime(2025, 1, 1), "raw", 0.4, settings.minhash.fingerprint())
            warehouse.load_run(con, record, [], plan_dedup([], [], warehouse.fetch_stored(con, [], 0.0), settings), [unreadable], [])
    assert table(db, "SELECT source_path, run_id FROM rejected_files") == [("locked.txt", 1)]
    with warehouse.connect(db) as con:
        # Not part of the manifest: the next run reads the file again.
        assert [k.source_path for k in warehouse.known_files(con)] == []


def test_a_part_stored_before_its_earlier_whole_ends_as_if_loaded_together(tmp_path: Path):
    a = "The city council voted on Monday night to approve a plan to repair the Harbor Street bridge."
    b = "Work is expected to begin in early June and last about eighteen months with one lane open."
    whole = make_doc("whole.txt", [a + " " + b], published=datetime(2024, 1, 1))
    part = make_doc("part.txt", [a], published=datetime(2024, 1, 2))
    ingest_docs(tmp_path / "one.duckdb", [whole, part])
    ingest_docs(tmp_path / "two.duckdb", [part])
    ingest_docs(tmp_path / "two.duckdb", [whole])
    q = "SELECT doc_id, position, paragraph_id, match, round(similarity, 6) FROM document_paragraphs ORDER BY 1, 2"
    assert table(tmp_path / "two.duckdb", q) == table(tmp_path / "one.duckdb", q)
    assert table(tmp_path / "two.duckdb", "SELECT match FROM document_paragraphs ORDER BY 1") == [("contained",), ("new",)]
    assert_consistent(tmp_path / "two.duckdb")


AS_ONE_RUN = ("SELECT doc_id, position, paragraph_id, match, round(similarity, 6) FROM document_paragraphs ORDER BY 1, 2",
              "SELECT paragraph_id, whole_paragraph_id, round(containment, 6) FROM passage_links ORDER BY 1, 2")


def assert_as_one_run(tmp_path: Path, *runs: list) -> Path:
    """The runs, one after another into tmp_path/two.duckdb, give the occurrences and links that all their files
    give in one run (tmp_path/one.duckdb), and a consistent warehouse. Returns the one-run warehouse."""
    ingest_docs(tmp_path / "one.duckdb", [d for run in runs for d in run])
    for run in runs:
        ingest_docs(tmp_path / "two.duckdb", run)
    for q in AS_ONE_RUN:
        assert table(tmp_path / "two.duckdb", q) == table(tmp_path / "one.duckdb", q)
    assert_consistent(tmp_path / "two.duckdb")
    return tmp_path / "one.duckdb"


def test_a_merge_stored_before_its_second_parts_earlier_copy_ends_as_if_loaded_together(tmp_path: Path):
    # Alone with the first part, the merge reads as that part with sentences added and joins it; the second part,
    # published before the merge but stored after it, makes it a merge of two passages, as one run finds.
    a = "The city council voted on Monday night to approve a plan to repair the Harbor Street bridge."
    b = "Work is expected to begin in early June and last about eighteen months with one lane open."
    first = make_doc("first.txt", [a], published=datetime(2024, 1, 1))
    second = make_doc("second.txt", [b], published=datetime(2024, 1, 2))
    merged = make_doc("merged.txt", [a + " " + b], published=datetime(2024, 1, 3))
    one = assert_as_one_run(tmp_path, [first, merged], [second])
    assert table(one, "SELECT count(*) FROM paragraphs") == [(3,)]
    assert table(one, "SELECT count(*) FROM passage_links") == [(2,)]


def test_a_merge_with_a_short_part_stored_before_it_is_found_through_the_shared_sentence(tmp_path: Path):
    # The short part is a sixth of the merge: they share a sentence, hardly ever a band. Stored before the short
    # part, the merge joined the long one; the short part, published first, makes it a merge, as one run finds.
    a = ("The city council voted on Monday night to approve a fourteen million dollar plan to repair the Harbor Street "
         "bridge, which has been closed to heavy trucks since November. Work is expected to begin in early June and "
         "to last about eighteen months, with one lane open in each direction while crews replace the deck.")
    b = "The mayor called the vote a long overdue step."
    first = make_doc("first.txt", [a], published=datetime(2024, 1, 2))
    merged = make_doc("merged.txt", [b + " " + a], published=datetime(2024, 1, 3))
    short = make_doc("short.txt", [b], published=datetime(2024, 1, 1))
    assert table(assert_as_one_run(tmp_path, [first, merged], [short]), "SELECT count(*) FROM passage_links") == [(2,)]


def test_a_merge_whose_second_part_is_later_seen_earlier_ends_as_if_loaded_together(tmp_path: Path):
    # The second part is stored after the merge; a later run brings the same text published before the merge, so that
    # passage now comes first and the merge holds two earlier passages: placed again, it is a merge, as one run finds.
    a = "The city council voted on Monday night to approve a plan to repair the Harbor Street bridge."
    b = "Work is expected to begin in early June and last about eighteen months with one lane open."
    first = make_doc("first.txt", [a], published=datetime(2024, 1, 3))
    merged = make_doc("merged.txt", [a + " " + b], published=datetime(2024, 1, 4))
    second = make_doc("second.txt", [b], published=datetime(2024, 1, 5))
    early = make_doc("early.txt", [b], published=datetime(2024, 1, 2))
    assert table(assert_as_one_run(tmp_path, [first, merged, second], [early]),
                 "SELECT count(*) FROM passage_links") == [(2,)]


def test_a_stored_copy_seen_earlier_than_its_passages_canonical_ends_as_if_loaded_together(tmp_path: Path):
    # Stored: a passage led by `middle`, holding `first` and `last` (each near middle, not near each other). A later
    # run brings `first` published before the passage's canonical: loaded together, first leads, middle joins it and
    # last, not near first, leads its own passage. The stored passage is placed again, never recentred on `first`.
    base = "alpha beta gamma delta epsilon zeta eta theta iota kappa lambda mu nu xi omicron pi".split()
    first = " ".join(base[:12] + ["q1", "q2", "q3", "q4"])
    middle = " ".join(base)
    last = " ".join(base[4:] + ["p1", "p2", "p3", "p4"])
    stored = [make_doc("m.txt", [middle], published=datetime(2024, 1, 5)),
              make_doc("f.txt", [first], published=datetime(2024, 1, 6)),
              make_doc("l.txt", [last], published=datetime(2024, 1, 7))]
    early = make_doc("early.txt", [first], published=datetime(2024, 1, 1))
    assert table(assert_as_one_run(tmp_path, stored, [early]), "SELECT count(*) FROM paragraphs") == [(2,)]


def test_a_stored_band_only_hit_whose_signature_barely_agrees_is_not_fetched(tmp_path: Path):
    import numpy as np

    from flows.records import NewVariant

    db = tmp_path / "w.duckdb"
    ingest_docs(db, [make_doc("wire.txt", WIRE)])
    band_key, stored_hash = stored_band_keys(db)[0]
    with warehouse.connect(db, read_only=True) as con:
        signature, = con.execute("SELECT signature FROM paragraph_fingerprints WHERE norm_hash = ?", [stored_hash]).fetchone()
        stored_sig = np.frombuffer(signature, "<u4")
        # A new paragraph holding the same band key: agreeing on that band only, or on the whole signature.
        chance = stored_sig + np.uint32(1)
        chance[:3] = stored_sig[:3]
        for sig, floor, found in [(chance, 0.06, False), (chance, 0.0, True), (stored_sig.copy(), 0.06, True)]:
            new = NewVariant(12345, "new text", 20, sig, np.array([band_key], dtype=np.int64))
            stored = warehouse.fetch_stored(con, [new], floor)
            assert (stored.band_hits == [(12345, stored_hash)]) is found
            assert (stored_hash in stored.cluster_of) is found
