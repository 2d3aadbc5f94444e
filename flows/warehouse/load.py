"""Load: what the warehouse already holds for a batch, and the writes of a batch in one transaction.

A run writes its files batch by batch, each batch deduplicated against everything stored before it
(the run's earlier batches included) and committed whole (`transaction`), so memory stays bounded
and a failure never leaves part of a file. The `runs` row is written with the last batch
(`finish_run`): a run of one batch is all or nothing.
"""

from __future__ import annotations

from collections import Counter
from contextlib import contextmanager, suppress
from dataclasses import dataclass
from datetime import datetime
from typing import Iterator

import duckdb
import numpy as np
import pyarrow as pa

from flows import __version__
from flows.records import (ContainerScan, Containers, DedupPlan, DocumentRow, Member, NewVariant, Rejection, Signatures, Stored,
                           StoredCluster, Unchanged, Variants, agreeing, key_owners, order_key, without_cycle_collection)
from flows.warehouse.connection import WarehouseError, _now, insert_rows
from flows.warehouse.key_index import BANDS, INDEXES, SIGNATURES, KeyIndex, Spec, folder_of


@without_cycle_collection
def fetch_stored(con: duckdb.DuckDBPyConnection, variants: list[NewVariant], floor: float) -> Stored:
    """Stored paragraphs that the new variants match exactly or share a sentence or an LSH band with (band-only
    hits whose signatures agree on less than `floor`, Settings.candidate_floor, left out), and their clusters."""
    stored = Stored(fetch_members=lambda pids: fetch_members(con, pids),
                    fetch_containers=lambda new: fetch_containers(con, new),
                    fetch_clusters=lambda pids: _clusters(con, pids))
    if not variants:
        return stored
    hashes = pa.table({"norm_hash": pa.array([v.norm_hash for v in variants], pa.int64())})
    con.register("new_hashes", hashes)
    # Band keys: looked up in the sorted index beside the warehouse (key_index), not joined with all of them.
    new_of, stored_of = _band_hits(con, variants)
    con.register("band_hits", pa.table({"norm_hash": new_of, "stored_hash": stored_of}))
    con.register("new_sentences", _key_table(variants, "sentence_keys", "sentence_key"))
    try:
        exact = con.execute(
            "SELECT f.norm_hash, f.paragraph_id FROM paragraph_fingerprints f JOIN new_hashes USING (norm_hash)"
        ).fetchall()
        # A hit on any stored copy stands for its passage, and is matched against the passage's leader (its
        # canonical text) only: one row per new text and passage, however many copies the passage holds.
        # Sentences are taken to their passages before they meet the new texts: a story's sentence is held by each
        # of its hundreds of stored variants, and pairing every new text with every one of them made millions of rows.
        hits = con.execute(
            """SELECT hit.norm_hash, p.norm_hash, p.paragraph_id, bool_or(hit.sentence)
               FROM (SELECT b.norm_hash, f.paragraph_id, false AS sentence
                     FROM band_hits b JOIN paragraph_fingerprints f ON f.norm_hash = b.stored_hash
                     WHERE b.stored_hash <> b.norm_hash
                     UNION ALL
                     SELECT ns.norm_hash, sp.paragraph_id, true
                     FROM new_sentences ns
                     JOIN (SELECT DISTINCT k.sentence_key, f.paragraph_id
                           FROM sentence_keys k JOIN paragraph_fingerprints f USING (norm_hash)
                           WHERE k.sentence_key IN (SELECT sentence_key FROM new_sentences)) sp USING (sentence_key)) hit
               JOIN paragraphs p USING (paragraph_id)
               WHERE p.norm_hash <> hit.norm_hash
               GROUP BY ALL ORDER BY 1, 2"""
        ).fetchall()
    finally:
        for name in ("new_hashes", "band_hits", "new_sentences"):
            con.unregister(name)
    stored.cluster_of.update(exact)
    # Band-only hits whose signatures barely agree with the passage's leader are chance collisions: not fetched, not
    # verified. The stored side's signatures come from the signature index beside the warehouse (key_index.SIGNATURES), which reads only
    # their pages, not every block of the signature column.
    banded = [hit for hit in hits if not hit[3]] if floor > 0 else []
    signatures, chance = index_of(con, SIGNATURES), set()
    if not banded:
        signatures.current(con)  # kept current all the same, so that this batch's signatures join it
    else:
        wanted = np.array(sorted({hit[1] for hit in banded}), dtype=np.int64)
        keys, rows = signatures.lookup(con, wanted, wanted)
        pairs = [(hit[0], hit[1]) for hit in banded]
        agree = agreeing(pairs, Signatures.of_variants(variants), Signatures.of(keys.tolist(), rows), floor)
        chance = {p for p, keep in zip(pairs, agree) if not keep}
    for new_h, old_h, pid, _ in hits:
        if (new_h, old_h) not in chance:
            stored.band_hits.append((new_h, old_h))
            stored.cluster_of[old_h] = pid
    stored.clusters.update(_clusters(con, sorted(set(stored.cluster_of.values()))))
    return stored


def _clusters(con: duckdb.DuckDBPyConnection, pids: list[str]) -> dict[str, StoredCluster]:
    """These stored passages, each with its canonical and the normalised text of every variant."""
    if not pids:
        return {}
    con.register("touched", pa.table({"paragraph_id": pa.array(pids, pa.string())}))
    try:
        canon = con.execute(
            """SELECT p.paragraph_id, d.published, d.run_id, d.source_path, p.first_doc_id, p.first_position, p.norm_hash
               FROM paragraphs p JOIN touched USING (paragraph_id) JOIN documents d ON d.doc_id = p.first_doc_id"""
        ).fetchall()
        # The normalised text of every variant, stored with its fingerprint (009_stored_norms.sql): neither read
        # through all of document_paragraphs nor normalised again.
        variant_rows = con.execute(
            """SELECT f.paragraph_id, f.norm_hash, f.norm FROM paragraph_fingerprints f JOIN touched USING (paragraph_id)
               WHERE f.norm IS NOT NULL"""
        ).fetchall()
    finally:
        con.unregister("touched")
    variants_of: dict[str, dict[int, str]] = {}
    for pid, h, norm in variant_rows:
        variants_of.setdefault(pid, {})[h] = norm
    return {pid: StoredCluster(pid, order_key(published, run_id, source_path, position), doc_id, position, h,
                               variants_of.get(pid, {}))
            for pid, published, run_id, source_path, doc_id, position, h in canon}


def fetch_containers(con: duckdb.DuckDBPyConnection, variants: list[NewVariant]) -> Containers:
    """Stored copies sharing an LSH band or a sentence with these new variants, other than their passages'
    canonicals, each with its passage and that passage's canonical: where a new passage's text may lie inside a
    stored copy that joined another passage (a short part shares a sentence with the merge far more often than a
    band)."""
    new_of, stored_of = _band_hits(con, variants)
    sentences = _key_table(variants, "sentence_keys", "sentence_key")
    if sentences.num_rows:
        con.register("new_sentences", sentences)
        try:
            held = con.execute(
                f"""SELECT ns.norm_hash AS new_hash, k.norm_hash AS stored_hash
                    FROM new_sentences ns JOIN sentence_keys k USING (sentence_key)
                    QUALIFY row_number() OVER (PARTITION BY ns.norm_hash, ns.sentence_key ORDER BY k.norm_hash)
                            <= {_COPIES_PER_KEY}""").fetchnumpy()
        finally:
            con.unregister("new_sentences")
        new_of, stored_of = _distinct_pairs(np.concatenate([new_of, held["new_hash"].astype(np.int64)]),
                                            np.concatenate([stored_of, held["stored_hash"].astype(np.int64)]))
    keep = new_of != stored_of
    new_of, stored_of = new_of[keep], stored_of[keep]
    if not len(new_of):
        return Containers([], {})
    con.register("copies", pa.table({"norm_hash": np.unique(stored_of)}))
    try:
        rows = con.execute(
            """SELECT f.norm_hash, f.paragraph_id, f.norm, p.norm_hash, c.norm
               FROM paragraph_fingerprints f JOIN copies USING (norm_hash) JOIN paragraphs p USING (paragraph_id)
               JOIN paragraph_fingerprints c ON c.norm_hash = p.norm_hash
               WHERE f.norm IS NOT NULL AND c.norm IS NOT NULL AND f.norm_hash <> p.norm_hash""").fetchall()
    finally:
        con.unregister("copies")
    return Containers(list(zip(new_of.tolist(), stored_of.tolist())), {row[0]: row[1:] for row in rows})


# Stored copies a band key of a new text brings at most: a key held by hundreds of copies is a syndicated story's, and
# a few of them bring its passage as well as all do (the passage's leader is what a text is verified against), so
# a lookup's rows follow the passages a text resembles, not their copies.
_COPIES_PER_KEY = 8


def _band_hits(con: duckdb.DuckDBPyConnection, variants: list[NewVariant]) -> tuple[np.ndarray, np.ndarray]:
    """Distinct (new norm_hash, stored norm_hash) pairs sharing an LSH band key, `_COPIES_PER_KEY` a key."""
    return _distinct_pairs(*index_of(con, BANDS).lookup(con, *key_owners(variants, "band_keys"), _COPIES_PER_KEY))


def _distinct_pairs(a: np.ndarray, b: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """The distinct pairs (a[i], b[i]): two copies of a story share most of their bands, each a row of the lookup."""
    if len(a) < 2:
        return a, b
    order = np.lexsort((b, a))
    a, b = a[order], b[order]
    keep = np.r_[True, (a[1:] != a[:-1]) | (b[1:] != b[:-1])]
    return a[keep], b[keep]


def fetch_members(con: duckdb.DuckDBPyConnection, pids: list[str]) -> dict[str, dict[int, Member]]:
    """Each variant of these stored passages with its first occurrence (smallest order key), for reopening them."""
    con.register("reopened", pa.table({"paragraph_id": pa.array(pids, pa.string())}))
    try:
        rows = con.execute(
            """SELECT dp.paragraph_id, dp.norm_hash, d.published, d.run_id, d.source_path, dp.position, dp.doc_id, dp.text
               FROM document_paragraphs dp JOIN reopened USING (paragraph_id) JOIN documents d USING (doc_id)"""
        ).fetchall()
        # Their sentence keys: a reopened variant is placed again like a new text, found by its sentences too.
        con.register("reopened_hashes", pa.table({"norm_hash": pa.array(sorted({row[1] for row in rows}), pa.int64())}))
        keys_of = dict(con.execute(
            """SELECT k.norm_hash, list(k.sentence_key ORDER BY k.sentence_key)
               FROM sentence_keys k JOIN reopened_hashes USING (norm_hash) GROUP BY 1""").fetchall())
    finally:
        con.unregister("reopened")
        con.unregister("reopened_hashes")
    members: dict[str, dict[int, Member]] = {pid: {} for pid in pids}
    for pid, h, published, run_id, source_path, position, doc_id, text in rows:
        keys = keys_of.get(h)
        member = Member(order_key(published, run_id, source_path, position), doc_id, position, text,
                        None if keys is None else np.array(keys, dtype=np.int64))
        known = members[pid].get(h)
        if known is None or member[:3] < known[:3]:  # (order, doc_id, position): one occurrence each
            members[pid][h] = member
    return members


def index_of(con: duckdb.DuckDBPyConnection, spec: Spec) -> KeyIndex:
    """The index of `spec` (band keys or signatures) beside the connection's warehouse."""
    folder = folder_of(con, spec)
    if folder is None:
        raise WarehouseError("the warehouse must be a file: its band-key and signature indexes are kept beside it")
    return KeyIndex(folder, spec)


def _key_table(variants: list, attr: str, column: str) -> pa.Table:
    """(key, norm_hash) rows of the variants' band or sentence keys (variants too short have none)."""
    keys, owners = key_owners(variants, attr)
    return pa.table({column: keys, "norm_hash": owners})


@dataclass(frozen=True)
class RunRecord:
    """The bookkeeping row of a run, written last in its transaction as the commit marker."""

    run_id: int
    started_at: datetime
    raw_dir: str
    threshold: float
    minhash_config: str


def _arrow(rows: list, columns: list[str], types: dict[str, pa.DataType] | None = None) -> pa.Table:
    types = types or {}
    if rows and hasattr(rows[0], "_fields"):  # NamedTuple rows (flows.records): transposed in one pass
        by_name = dict(zip(rows[0]._fields, map(list, zip(*rows))))
        data = {c: by_name[c] for c in columns}
    else:
        data = {c: [getattr(r, c) for r in rows] for c in columns}
    return pa.table({c: pa.array(v, types.get(c)) for c, v in data.items()})


@contextmanager
def transaction(con: duckdb.DuckDBPyConnection) -> Iterator[None]:
    """One transaction: committed on success, rolled back on any error or interrupt."""
    con.execute("BEGIN TRANSACTION")
    try:
        yield
        con.execute("COMMIT")
    except BaseException:
        con.execute("ROLLBACK")
        for spec in INDEXES:
            with suppress(Exception):  # never hide the error that rolled the batch back
                index_of(con, spec).discard()
        raise
    # The band keys and signatures the batch committed join their indexes. An index is a copy: if it cannot be
    # written now, the next lookup rebuilds it from its table, and the committed batch stands.
    for spec in INDEXES:
        index = index_of(con, spec)
        try:
            index.publish(con)
        except Exception:
            with suppress(OSError):
                index.invalidate()


@without_cycle_collection
def write_batch(
    con: duckdb.DuckDBPyConnection,
    run: RunRecord,
    documents: list[DocumentRow],
    plan: DedupPlan,
    rejections: list[Rejection],
    unchanged: list[Unchanged],
) -> Counter:
    """Write one batch of a run (inside a `transaction`); returns its counts."""
    now = _now()
    tables = _batch_tables(documents, plan, rejections, unchanged)
    for name, table in tables.items():
        con.register(name, _in_slices(table))
    values = {"now": now, "run_id": run.run_id, "minhash_config": run.minhash_config}
    try:
        # The batch's band keys and signatures, as their indexes' pending segments; the tables' new states go in
        # this transaction.
        # Both from the batch's own arrays (made once, see Variants), not read back from the tables made of them.
        new = Variants.of(plan.new_variants)
        band_keys, band_owners = key_owners(new, "band_keys")
        if len(band_keys):
            _stage(con, BANDS, band_keys, band_owners)
        if len(new):
            _stage(con, SIGNATURES, new.hashes(), new.signature_matrix())
        rows = {name: table.num_rows for name, table in tables.items()}
        rows["t_par_known"] = sum(p.known for p in plan.paragraphs)
        for sql, params, needs in _BATCH_SQL:
            if all(rows[name] for name in needs):
                con.execute(sql, [values[p] for p in params])
    finally:
        for name in tables:
            con.unregister(name)
    counts = Counter(files_new=len(documents), files_unchanged=len(unchanged), files_rejected=len(rejections),
                     paragraphs_total=len(plan.occurrences))
    counts.update({f"paragraphs_{k}": v for k, v in plan.counts.items()})
    return counts


def _in_slices(table: pa.Table) -> pa.Table:
    """The table as up to 16 record batches of at least 1,024 rows (views, not copies): DuckDB scans a registered
    table's batches in parallel, one thread a batch, so a batch held in one piece used one core (the search index's
    tokenising, mostly). Many more, smaller batches cost more than they gain: each is a scan task of its own."""
    return pa.Table.from_batches(table.to_batches(max_chunksize=max(1024, -(-table.num_rows // 16))), table.schema)


def _stage(con: duckdb.DuckDBPyConnection, spec: Spec, keys: np.ndarray, values: np.ndarray) -> None:
    state = index_of(con, spec).stage(con, keys, values)
    # Literals, not query parameters (see key_index.table_state): a count, a hex token and a constant name.
    con.execute(f"UPDATE key_index_state SET n_rows = {int(state.rows)}, token = '{state.token}' "
                f"WHERE table_name = '{spec.table}'")


def finish_run(con: duckdb.DuckDBPyConnection, run: RunRecord, counts: Counter,
               scans: list[ContainerScan] = ()) -> dict[str, int]:
    """The run's bookkeeping row, written last in its transaction, after how far it read each container (`scans`):
    a run that fails before keeps the old states, and the next run scans again from there. Returns the run summary."""
    _record_containers(con, run, scans)
    summary = {k: int(counts.get(k, 0)) for k in RUN_COUNTS}
    row = {"run_id": run.run_id, "started_at": run.started_at, "finished_at": _now(), "raw_dir": run.raw_dir, **summary,
           "threshold": float(run.threshold), "minhash_config": run.minhash_config, "docdedup_version": __version__}
    insert_rows(con, "runs", {k: [v] for k, v in row.items()})
    return summary


def _record_containers(con: duckdb.DuckDBPyConnection, run: RunRecord, scans: list[ContainerScan]) -> None:
    if not scans:
        return
    con.register("t_scans", pa.table({f: [getattr(s, f) for s in scans] for f in ContainerScan.__dataclass_fields__}))
    try:
        con.execute("DELETE FROM containers WHERE source_path IN (SELECT source_path FROM t_scans)")
        con.execute(f"INSERT INTO containers BY NAME SELECT *, {int(run.run_id)} AS run_id FROM t_scans")
    finally:
        con.unregister("t_scans")


RUN_COUNTS = [
    "files_new", "files_unchanged", "files_rejected", "records_skipped", "paragraphs_total",
    "paragraphs_new", "paragraphs_exact", "paragraphs_near", "paragraphs_contained",
]


def load_run(con: duckdb.DuckDBPyConnection, run: RunRecord, *batch) -> dict[str, int]:
    """A run of a single batch (`write_batch`'s documents, plan, rejections and unchanged files): the batch and the
    runs row in one transaction."""
    with transaction(con):
        counts = write_batch(con, run, *batch)
        return finish_run(con, run, counts)


def _blobs(matrix: np.ndarray) -> pa.Array:
    """Each row of a uint32 matrix as one BLOB of its little-endian bytes (the signature column's form), made from the
    matrix's buffer in one step."""
    rows = np.ascontiguousarray(matrix, dtype="<u4")
    width = rows.shape[1] * rows.itemsize if rows.ndim == 2 else 0
    offsets = np.arange(len(rows) + 1, dtype=np.int64) * width
    return pa.Array.from_buffers(pa.large_binary(), len(rows), [None, pa.py_buffer(offsets), pa.py_buffer(rows)])


def _batch_tables(documents, plan: DedupPlan, rejections, unchanged) -> dict[str, pa.Table]:
    doc_cols = list(DocumentRow.__dataclass_fields__)
    new = Variants.of(plan.new_variants)
    return {
        "t_docs": _arrow(documents, doc_cols, {"published": pa.timestamp("us"), "size_bytes": pa.int64(), "mtime_ns": pa.int64(),
                                               "container": pa.string(), "record_offset": pa.int64(), "record_id": pa.string(),
                                               "text_chars": pa.int64(), "boilerplate_chars": pa.int64(),
                                               "template_paragraphs": pa.int32()}),
        "t_rej": pa.table({
            "source_path": pa.array([r.source_path for r in rejections], pa.string()),
            "sha256": pa.array([r.sha256 for r in rejections], pa.string()),
            "size_bytes": pa.array([r.size for r in rejections], pa.int64()),
            "mtime_ns": pa.array([r.mtime_ns for r in rejections], pa.int64()),
            "reason": pa.array([r.reason for r in rejections], pa.string()),
            "container": pa.array([r.container for r in rejections], pa.string()),
            "record_offset": pa.array([r.record_offset for r in rejections], pa.int64()),
        }),
        "t_unch": pa.table({
            "source_path": pa.array([u.source_path for u in unchanged], pa.string()),
            "sha256": pa.array([u.sha256 for u in unchanged], pa.string()),
            "mtime_ns": pa.array([u.mtime_ns for u in unchanged], pa.int64()),
        }),
        "t_occ": _arrow(plan.occurrences, ["doc_id", "position", "paragraph_id", "text", "match", "similarity", "norm_hash"],
                        {"position": pa.int32(), "norm_hash": pa.int64(), "similarity": pa.float64()}),
        "t_par": _arrow(plan.paragraphs, ["paragraph_id", "text", "first_doc_id", "first_position", "norm_hash", "known"],
                        {"first_position": pa.int32(), "norm_hash": pa.int64(), "paragraph_id": pa.string(),
                         "text": pa.string(), "first_doc_id": pa.string(), "known": pa.bool_()}),
        "t_repoint": _arrow(plan.repoints, ["old_id", "norm_hash", "new_id", "match", "similarity"],
                            {"norm_hash": pa.int64(), "similarity": pa.float64(), "old_id": pa.string(),
                             "new_id": pa.string(), "match": pa.string()}),
        "t_retired": pa.table({"paragraph_id": pa.array(plan.retired, pa.string())}),
        "t_vc": pa.table({
            "norm_hash": pa.array(list(plan.variant_cluster), pa.int64()),
            "paragraph_id": pa.array(list(plan.variant_cluster.values()), pa.string()),
        }),
        "t_fp": pa.table({
            "norm_hash": pa.array(new.hashes(), pa.int64()),
            "n_words": pa.array([v.n_words for v in new], pa.int32()),
            "signature": _blobs(new.signature_matrix()),
            "norm": pa.array([v.norm for v in new], pa.string()),
            "banded": pa.array([v.band_keys is not None for v in new], pa.bool_()),
        }),
        "t_sentences": _key_table(new, "sentence_keys", "sentence_key"),
        "t_links": _arrow(plan.links, ["paragraph_id", "whole_paragraph_id", "containment"],
                          {"paragraph_id": pa.string(), "whole_paragraph_id": pa.string(), "containment": pa.float64()}),
    }


# The writes of one batch, in order: (sql, names of its parameters, the batch tables it needs). A statement with an
# empty needed table would change nothing (it takes its rows from that table, or keeps only rows found in it) and
# is not sent: most batches repoint, retire and link nothing, and DuckDB planned and ran each such statement all the
# same (a tenth of tests/benchmarks/syndication.py's load stage). `t_par_known` stands for the
# rows of t_par that are stored passages. test_warehouse checks that the same runs with every statement sent leave
# the same warehouse.
_BATCH_SQL: list[tuple[str, tuple[str, ...], tuple[str, ...]]] = [
    ("""INSERT INTO documents BY NAME
        SELECT t.*, ?::TIMESTAMP AS ingested_at, ?::INTEGER AS run_id,
               (SELECT count(*) FROM documents d WHERE d.source_path = t.source_path)::INTEGER
                 + row_number() OVER (PARTITION BY t.source_path ORDER BY t.sha256)::INTEGER AS version
        FROM t_docs t""", ("now", "run_id"), ("t_docs",)),
    # A rejection already recorded for the same file state and reason is not recorded again.
    ("""INSERT INTO rejected_files BY NAME SELECT r.*, ?::TIMESTAMP AS rejected_at, ?::INTEGER AS run_id FROM t_rej r
        WHERE NOT EXISTS (SELECT 1 FROM rejected_files x WHERE x.source_path = r.source_path AND x.reason = r.reason
                          AND x.sha256 IS NOT DISTINCT FROM r.sha256 AND x.size_bytes IS NOT DISTINCT FROM r.size_bytes
                          AND x.mtime_ns IS NOT DISTINCT FROM r.mtime_ns)""",
     ("now", "run_id"), ("t_rej",)),
    # A file touched without changing keeps its row; remember its new mtime so the next run skips it unread.
    ("UPDATE documents d SET mtime_ns = u.mtime_ns FROM t_unch u WHERE d.source_path = u.source_path AND d.sha256 = u.sha256", (), ("t_unch",)),
    ("UPDATE rejected_files r SET mtime_ns = u.mtime_ns FROM t_unch u WHERE r.source_path = u.source_path AND r.sha256 = u.sha256", (), ("t_unch",)),
    # Clusters whose canonical changed or that merged: move their stored occurrences.
    ("""UPDATE document_paragraphs dp SET paragraph_id = r.new_id, match = r.match, similarity = r.similarity
        FROM t_repoint r WHERE dp.paragraph_id = r.old_id AND dp.norm_hash = r.norm_hash""", (), ("t_repoint",)),
    ("INSERT INTO document_paragraphs BY NAME SELECT * FROM t_occ", (), ("t_occ",)),
    ("""UPDATE document_paragraphs dp SET match = 'new', similarity = 1.0
        FROM t_par p WHERE dp.doc_id = p.first_doc_id AND dp.position = p.first_position
          AND p.paragraph_id IN (SELECT new_id FROM t_repoint)""", (), ("t_par", "t_repoint")),
    # A link follows its passage's canonical text (a reopened passage's variants may go to several passages).
    ("""UPDATE passage_links l SET paragraph_id = m.new_id
        FROM (SELECT DISTINCT r.old_id, r.new_id FROM t_repoint r
              JOIN paragraphs p ON p.paragraph_id = r.old_id AND p.norm_hash = r.norm_hash) m
        WHERE l.paragraph_id = m.old_id""", (), ("t_repoint",)),
    ("""UPDATE passage_links l SET whole_paragraph_id = m.new_id
        FROM (SELECT DISTINCT r.old_id, r.new_id FROM t_repoint r
              JOIN paragraphs p ON p.paragraph_id = r.old_id AND p.norm_hash = r.norm_hash) m
        WHERE l.whole_paragraph_id = m.old_id""", (), ("t_repoint",)),
    ("""INSERT INTO passage_links BY NAME SELECT *, ?::INTEGER AS run_id FROM t_links n
        WHERE NOT EXISTS (SELECT 1 FROM passage_links l WHERE l.paragraph_id = n.paragraph_id
                          AND l.whole_paragraph_id = n.whole_paragraph_id)""", ("run_id",), ("t_links",)),
    ("DELETE FROM passage_links WHERE paragraph_id = whole_paragraph_id", (), ()),
    # Two parts repointed to one passage can leave the same link twice: keep the first run's, and of one run's the
    # larger share (an UPDATE may rewrite rows in any order, so rowid does not tell which came first).
    ("""DELETE FROM passage_links WHERE rowid IN (
            SELECT rowid FROM (
                SELECT rowid, row_number() OVER (PARTITION BY paragraph_id, whole_paragraph_id ORDER BY run_id, containment DESC, rowid) AS n
                FROM passage_links
                WHERE paragraph_id IN (SELECT new_id FROM t_repoint) OR whole_paragraph_id IN (SELECT new_id FROM t_repoint))
            WHERE n > 1)""", (), ("t_repoint",)),
    ("""DELETE FROM paragraphs WHERE paragraph_id IN (SELECT paragraph_id FROM t_retired)
          OR paragraph_id IN (SELECT paragraph_id FROM t_par WHERE NOT known)""", (), ()),
    # The occurrence counts of every passage the batch changed, in one pass over document_paragraphs.
    ("""CREATE OR REPLACE TEMP TABLE t_counts AS
        SELECT paragraph_id, count(*)::INTEGER AS n_occurrences, count(DISTINCT doc_id)::INTEGER AS n_documents
        FROM document_paragraphs WHERE paragraph_id IN (SELECT paragraph_id FROM t_par)
        GROUP BY paragraph_id""", (), ()),
    ("""INSERT INTO paragraphs BY NAME
        SELECT p.paragraph_id, p.text, p.first_doc_id, p.first_position, p.norm_hash, c.n_occurrences, c.n_documents
        FROM t_par p JOIN t_counts c USING (paragraph_id)
        WHERE NOT p.known""", (), ()),
    # A stored passage keeps its canonical, hence its text: only its counts change (its text is neither read
    # nor rewritten).
    ("""UPDATE paragraphs p SET n_occurrences = c.n_occurrences, n_documents = c.n_documents
        FROM t_counts c JOIN t_par t USING (paragraph_id)
        WHERE t.known AND p.paragraph_id = c.paragraph_id""", (), ("t_par_known",)),
    ("DROP TABLE t_counts", (), ()),
    ("""UPDATE paragraph_fingerprints f SET paragraph_id = vc.paragraph_id FROM t_vc vc
        WHERE f.norm_hash = vc.norm_hash AND f.paragraph_id <> vc.paragraph_id""", (), ("t_vc",)),
    ("""INSERT INTO paragraph_fingerprints BY NAME
        SELECT fp.norm_hash, vc.paragraph_id, fp.n_words, fp.signature, ?::VARCHAR AS minhash_config, fp.norm, fp.banded
        FROM t_fp fp JOIN t_vc vc USING (norm_hash)""", ("minhash_config",), ("t_fp",)),
    ("INSERT INTO sentence_keys SELECT sentence_key, norm_hash FROM t_sentences", (), ("t_sentences",)),
    # The search index follows the passages this batch created or retired. A stored passage keeps its text
    # (see ParagraphRow.known), so its terms stay; a retired passage leaves search_docs, which every search
    # joins, and its rows in search_terms stay behind unread (deleting them scanned the whole index).
    ("DELETE FROM search_docs WHERE paragraph_id IN (SELECT paragraph_id FROM t_retired)", (), ("t_retired",)),
    # search_terms_of(), unrolled into one pass over the batch's tokens (tests/benchmarks/syndication.py's load stage).
    # Each distinct token is stemmed once per batch, not once per occurrence.
    ("""CREATE OR REPLACE TEMP TABLE t_terms AS
        WITH tokens AS (
            SELECT paragraph_id, tok, count(*)::INTEGER AS tf
            FROM (SELECT paragraph_id, unnest(regexp_split_to_array(lower(strip_accents(text)), '[^\\p{L}\\p{N}]+')) AS tok
                  FROM t_par WHERE NOT known)
            WHERE tok <> '' AND tok NOT IN (SELECT word FROM search_stopwords)
            GROUP BY ALL
        ), stems AS (SELECT tok, stem(tok, 'porter') AS term FROM (SELECT DISTINCT tok FROM tokens))
        SELECT term, paragraph_id, sum(tf)::INTEGER AS tf FROM tokens JOIN stems USING (tok) GROUP BY ALL""", (), ()),
    ("INSERT INTO search_terms SELECT term, paragraph_id, tf FROM t_terms", (), ()),
    ("""INSERT INTO search_docs SELECT p.paragraph_id, coalesce(sum(t.tf), 0)::INTEGER
        FROM t_par p LEFT JOIN t_terms t USING (paragraph_id) WHERE NOT p.known GROUP BY p.paragraph_id""", (), ()),
    ("DROP TABLE t_terms", (), ()),
]
