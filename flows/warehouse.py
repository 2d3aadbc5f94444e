"""Warehouse: the only module that talks to DuckDB — schema migrations, lookups, and the one-transaction load."""

from __future__ import annotations

import re
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import datetime, timezone
from importlib import resources
from pathlib import Path
from typing import Iterator

import duckdb
import pyarrow as pa

from flows import __version__
from flows.config import Settings
from flows.dedup import DedupPlan, NewVariant, Stored, StoredCluster, order_key
from flows.discover import KnownFile, Rejection
from flows.read import Unchanged
from flows.split import normalize


class WarehouseError(RuntimeError):
    """The warehouse cannot be used as asked (locked, newer schema, incompatible settings)."""


def schema_dir() -> Path:
    """Folder of the numbered schema files: inside the installed package, else the repository's warehouse/."""
    packaged = Path(str(resources.files("flows"))) / "schema"
    if packaged.is_dir():
        return packaged
    return Path(__file__).resolve().parent.parent / "warehouse" / "schema"


def migrations() -> list[tuple[int, str, str]]:
    """(version, name, sql) of every schema file, in order."""
    out = []
    for path in sorted(schema_dir().glob("*.sql")):
        m = re.match(r"(\d+)_", path.name)
        if m:
            out.append((int(m.group(1)), path.name, path.read_text(encoding="utf-8")))
    return out


# What `docdedup export` writes: the contract's tables and the views for people.
EXPORTED = [
    "documents", "paragraphs", "document_paragraphs", "rejected_files", "runs",
    "duplicate_groups", "document_overlap", "passage_timeline", "source_stats", "unique_text",
]
EXPORT_FORMATS = {"parquet": ("parquet", "(FORMAT parquet)"), "csv": ("csv", "(FORMAT csv, HEADER)"),
                  "jsonl": ("jsonl", "(FORMAT json)")}


def fts_extension() -> Path | None:
    """The full-text-search extension shipped by the pip package duckdb-extension-fts, if installed."""
    try:
        import duckdb_extension_fts
    except ImportError:
        return None
    path = Path(duckdb_extension_fts.__file__).parent / "extensions" / f"v{duckdb.__version__}" / "fts.duckdb_extension"
    return path if path.is_file() else None


def _load_fts(con: duckdb.DuckDBPyConnection) -> bool:
    path = fts_extension()
    if path is None:
        return False
    con.execute(f"LOAD '{path}'")
    return True


@contextmanager
def connect(path: Path, read_only: bool = False) -> Iterator[duckdb.DuckDBPyConnection]:
    """Open the warehouse (creating and migrating it unless read-only) with full-text search loaded."""
    path = Path(path)
    if read_only and not path.exists():
        raise WarehouseError(f"warehouse {path} does not exist yet; run `docdedup run` first")
    if not read_only:
        path.parent.mkdir(parents=True, exist_ok=True)
    try:
        con = duckdb.connect(str(path), read_only=read_only)
    except duckdb.IOException as err:
        if "lock" in str(err).lower():
            raise WarehouseError(
                f"warehouse {path} is in use by another process (a run or a SQL session holds it); "
                "try again when it has finished"
            ) from None
        raise WarehouseError(f"cannot open warehouse {path}: {err}") from None
    try:
        has_fts = _load_fts(con)
        if read_only:
            if con.execute("SELECT count(*) FROM information_schema.tables WHERE table_name = 'schema_migrations'").fetchone()[0]:
                _check_version(con)
        else:
            migrate(con)
            if has_fts and not _has_search_index(con):
                # A warehouse from before the index existed: build it once.
                refresh_search_index(con)
        yield con
    finally:
        con.close()


def migrate(con: duckdb.DuckDBPyConnection) -> list[int]:
    """Apply the schema files not yet recorded, each in its own transaction; return the versions applied."""
    con.execute(
        "CREATE TABLE IF NOT EXISTS schema_migrations (version INTEGER PRIMARY KEY, name VARCHAR, applied_at TIMESTAMP)"
    )
    done = _check_version(con)
    known = migrations()
    applied = []
    for version, name, sql in known:
        if version in done:
            continue
        con.execute("BEGIN TRANSACTION")
        try:
            con.execute(sql)
            con.execute("INSERT INTO schema_migrations VALUES (?, ?, ?)", [version, name, _now()])
            con.execute("COMMIT")
        except Exception:
            con.execute("ROLLBACK")
            raise
        applied.append(version)
    return applied


def _check_version(con: duckdb.DuckDBPyConnection) -> set[int]:
    """The schema versions applied; refuses a warehouse made by a newer docdedup."""
    done = {v for (v,) in con.execute("SELECT version FROM schema_migrations").fetchall()}
    newest = max((v for v, _, _ in migrations()), default=0)
    if done and max(done) > newest:
        raise WarehouseError(
            f"warehouse schema version {max(done)} is newer than this docdedup understands ({newest}); upgrade docdedup"
        )
    return done


def _has_search_index(con: duckdb.DuckDBPyConnection) -> bool:
    return bool(con.execute(
        "SELECT count(*) FROM information_schema.schemata WHERE schema_name = 'fts_main_paragraphs'"
    ).fetchone()[0])


def refresh_search_index(con: duckdb.DuckDBPyConnection) -> None:
    """Rebuild the BM25 index over paragraphs.text (English stemmer and stop words)."""
    con.execute("PRAGMA create_fts_index('paragraphs', 'paragraph_id', 'text', overwrite = 1)")


def search(con: duckdb.DuckDBPyConnection, words: str, limit: int = 10) -> tuple[list[str], list[tuple]]:
    """The passages that best match `words` (BM25), with the documents that carry them."""
    if fts_extension() is None:
        raise WarehouseError("full-text search needs the duckdb-extension-fts package; reinstall docdedup")
    if not _has_search_index(con):
        raise WarehouseError("this warehouse has no search index yet; run `docdedup run` once to build it")
    return query(con, """
        WITH hits AS (
            SELECT paragraph_id, text, n_documents, fts_main_paragraphs.match_bm25(paragraph_id, $words) AS score
            FROM paragraphs
        )
        SELECT round(h.score, 3) AS score, h.text, h.n_documents,
               string_agg(coalesce(d.title, d.source_path), ' | ' ORDER BY d.published NULLS LAST, d.source_path) AS documents
        FROM hits h
        JOIN (SELECT DISTINCT paragraph_id, doc_id FROM document_paragraphs) dp USING (paragraph_id)
        JOIN documents d USING (doc_id)
        WHERE h.score IS NOT NULL
        GROUP BY h.paragraph_id, h.score, h.text, h.n_documents
        ORDER BY h.score DESC, h.paragraph_id
        LIMIT $limit""", {"words": words, "limit": limit})


def export(con: duckdb.DuckDBPyConnection, out_dir: Path, fmt: str) -> list[Path]:
    """Write every exported table and view to `out_dir` as NAME.EXT; each file appears whole or not at all."""
    ext, options = EXPORT_FORMATS[fmt]
    out_dir.mkdir(parents=True, exist_ok=True)
    written = []
    for name in EXPORTED:
        final = out_dir / f"{name}.{ext}"
        partial = out_dir / f".{name}.{ext}.part"
        con.execute(f"COPY (SELECT * FROM {name}) TO '{_sql_str(partial)}' {options}")
        partial.replace(final)
        written.append(final)
    return written


def _sql_str(path: Path) -> str:
    return str(path).replace("'", "''")


def _now() -> datetime:
    return datetime.now(timezone.utc).replace(tzinfo=None)


def known_files(con: duckdb.DuckDBPyConnection) -> list[KnownFile]:
    """Every file version already ingested or rejected: the manifest discovery compares against."""
    rows = con.execute(
        "SELECT source_path, sha256, size_bytes, mtime_ns FROM documents "
        "UNION ALL SELECT source_path, sha256, size_bytes, mtime_ns FROM rejected_files"
    ).fetchall()
    return [KnownFile(*r) for r in rows]


def next_run_id(con: duckdb.DuckDBPyConnection) -> int:
    """The id the next committed run will have."""
    return con.execute("SELECT coalesce(max(run_id), 0) + 1 FROM runs").fetchone()[0]


def check_settings(con: duckdb.DuckDBPyConnection, settings: Settings) -> None:
    """Refuse to mix signatures made with another MinHash recipe into this warehouse."""
    row = con.execute("SELECT minhash_config FROM paragraph_fingerprints LIMIT 1").fetchone()
    wanted = settings.minhash.fingerprint()
    if row and row[0] != wanted:
        raise WarehouseError(
            f"warehouse fingerprints were made with {row[0]}, but the current settings give {wanted}; "
            "use the original MinHash settings or a new warehouse"
        )


def fetch_stored(con: duckdb.DuckDBPyConnection, variants: list[NewVariant]) -> Stored:
    """Stored paragraphs that the new variants match exactly or share an LSH band with, and their clusters."""
    stored = Stored()
    if not variants:
        return stored
    hashes = pa.table({"norm_hash": pa.array([v.norm_hash for v in variants], pa.int64())})
    con.register("new_hashes", hashes)
    con.register("new_bands", _key_table(variants, "band_keys", "band_key"))
    con.register("new_sentences", _key_table(variants, "sentence_keys", "sentence_key"))
    try:
        exact = con.execute(
            "SELECT f.norm_hash, f.paragraph_id FROM paragraph_fingerprints f JOIN new_hashes USING (norm_hash)"
        ).fetchall()
        hits = con.execute(
            """SELECT DISTINCT hit.norm_hash, hit.stored_hash, f.paragraph_id
               FROM (SELECT nb.norm_hash, b.norm_hash AS stored_hash FROM new_bands nb JOIN lsh_bands b USING (band_key)
                     UNION ALL
                     SELECT ns.norm_hash, k.norm_hash FROM new_sentences ns JOIN sentence_keys k USING (sentence_key)) hit
               JOIN paragraph_fingerprints f ON f.norm_hash = hit.stored_hash
               WHERE hit.stored_hash <> hit.norm_hash"""
        ).fetchall()
    finally:
        for name in ("new_hashes", "new_bands", "new_sentences"):
            con.unregister(name)
    stored.cluster_of.update(exact)
    for new_h, old_h, pid in hits:
        stored.band_hits.append((new_h, old_h))
        stored.cluster_of[old_h] = pid
    pids = sorted(set(stored.cluster_of.values()))
    if not pids:
        return stored
    con.register("touched", pa.table({"paragraph_id": pa.array(pids, pa.string())}))
    try:
        canon = con.execute(
            """SELECT p.paragraph_id, d.published, d.run_id, d.source_path, p.first_doc_id, p.first_position,
                      p.norm_hash, p.text
               FROM paragraphs p JOIN touched USING (paragraph_id) JOIN documents d ON d.doc_id = p.first_doc_id"""
        ).fetchall()
        link_rows = con.execute(
            "SELECT l.whole_paragraph_id, l.paragraph_id FROM passage_links l JOIN touched t ON t.paragraph_id = l.whole_paragraph_id"
        ).fetchall()
        variant_rows = con.execute(
            """SELECT f.paragraph_id, f.norm_hash, any_value(dp.text)
               FROM paragraph_fingerprints f JOIN touched USING (paragraph_id)
               JOIN document_paragraphs dp ON dp.norm_hash = f.norm_hash
               GROUP BY f.paragraph_id, f.norm_hash"""
        ).fetchall()
    finally:
        con.unregister("touched")
    for whole_id, part_id in link_rows:
        stored.parts.setdefault(whole_id, set()).add(part_id)
    variants_of: dict[str, dict[int, str]] = {}
    for pid, h, text in variant_rows:
        variants_of.setdefault(pid, {})[h] = normalize(text)
    for pid, published, run_id, source_path, doc_id, position, h, text in canon:
        stored.clusters[pid] = StoredCluster(
            paragraph_id=pid,
            canonical_order=order_key(published, run_id, source_path, position),
            canonical_doc_id=doc_id,
            canonical_position=position,
            canonical_hash=h,
            canonical_text=text,
            variants=variants_of.get(pid, {}),
        )
    return stored


def _key_table(variants: list, attr: str, column: str) -> pa.Table:
    """(key, norm_hash) rows of the variants' band or sentence keys (variants too short have none)."""
    keys, owners = [], []
    for v in variants:
        values = getattr(v, attr)
        if values is not None:
            keys.extend(values.tolist())
            owners.extend([v.norm_hash] * len(values))
    return pa.table({column: pa.array(keys, pa.int64()), "norm_hash": pa.array(owners, pa.int64())})


@dataclass(frozen=True)
class DocumentRow:
    """A document as the `documents` table holds it (version and ingested_at are filled at load)."""

    doc_id: str
    source_path: str
    sha256: str
    size_bytes: int
    mtime_ns: int
    format: str
    encoding: str
    cleaner: str
    title: str | None
    author: str | None
    published: datetime | None
    site: str | None
    url: str | None
    language: str | None
    n_paragraphs: int


@dataclass(frozen=True)
class RunRecord:
    """The bookkeeping row of a run, written last in its transaction as the commit marker."""

    run_id: int
    started_at: datetime
    raw_dir: str
    files_new: int
    files_unchanged: int
    files_rejected: int
    threshold: float
    minhash_config: str


def _arrow(rows: list, columns: list[str], types: dict[str, pa.DataType] | None = None) -> pa.Table:
    types = types or {}
    data = {c: [getattr(r, c) for r in rows] for c in columns}
    return pa.table({c: pa.array(v, types.get(c)) for c, v in data.items()})


def load_run(
    con: duckdb.DuckDBPyConnection,
    run: RunRecord,
    documents: list[DocumentRow],
    plan: DedupPlan,
    rejections: list[Rejection],
    unchanged: list[Unchanged],
) -> dict[str, int]:
    """Write one run in a single transaction; the `runs` row goes last. All or nothing."""
    now = _now()
    doc_cols = [f for f in DocumentRow.__dataclass_fields__]
    tables = {
        "t_docs": _arrow(documents, doc_cols, {"published": pa.timestamp("us"), "size_bytes": pa.int64(), "mtime_ns": pa.int64()}),
        "t_rej": pa.table({
            "source_path": pa.array([r.source_path for r in rejections], pa.string()),
            "sha256": pa.array([r.sha256 for r in rejections], pa.string()),
            "size_bytes": pa.array([r.size for r in rejections], pa.int64()),
            "mtime_ns": pa.array([r.mtime_ns for r in rejections], pa.int64()),
            "reason": pa.array([r.reason for r in rejections], pa.string()),
        }),
        "t_unch": pa.table({
            "source_path": pa.array([u.source_path for u in unchanged], pa.string()),
            "sha256": pa.array([u.sha256 for u in unchanged], pa.string()),
            "mtime_ns": pa.array([u.mtime_ns for u in unchanged], pa.int64()),
        }),
        "t_occ": _arrow(plan.occurrences, ["doc_id", "position", "paragraph_id", "text", "match", "similarity", "norm_hash"],
                        {"position": pa.int32(), "norm_hash": pa.int64(), "similarity": pa.float64()}),
        "t_par": _arrow(plan.paragraphs, ["paragraph_id", "text", "first_doc_id", "first_position", "norm_hash"],
                        {"first_position": pa.int32(), "norm_hash": pa.int64()}),
        "t_repoint": _arrow(plan.repoints, ["old_id", "norm_hash", "new_id", "match", "similarity"],
                            {"norm_hash": pa.int64(), "similarity": pa.float64(), "old_id": pa.string(),
                             "new_id": pa.string(), "match": pa.string()}),
        "t_retired": pa.table({"paragraph_id": pa.array(plan.retired, pa.string())}),
        "t_vc": pa.table({
            "norm_hash": pa.array(list(plan.variant_cluster), pa.int64()),
            "paragraph_id": pa.array(list(plan.variant_cluster.values()), pa.string()),
        }),
        "t_fp": pa.table({
            "norm_hash": pa.array([v.norm_hash for v in plan.new_variants], pa.int64()),
            "n_words": pa.array([v.n_words for v in plan.new_variants], pa.int32()),
            "signature": pa.array([v.signature.astype("<u4").tobytes() for v in plan.new_variants], pa.binary()),
        }),
    }
    tables["t_bands"] = _key_table(plan.new_variants, "band_keys", "band_key")
    tables["t_sentences"] = _key_table(plan.new_variants, "sentence_keys", "sentence_key")
    tables["t_links"] = _arrow(plan.links, ["paragraph_id", "whole_paragraph_id", "containment"],
                               {"paragraph_id": pa.string(), "whole_paragraph_id": pa.string(), "containment": pa.float64()})
    for name, table in tables.items():
        con.register(name, table)
    con.execute("BEGIN TRANSACTION")
    try:
        con.execute(
            f"""INSERT INTO documents BY NAME
                SELECT t.*, ?::TIMESTAMP AS ingested_at, ?::INTEGER AS run_id,
                       (SELECT count(*) FROM documents d WHERE d.source_path = t.source_path)::INTEGER
                         + row_number() OVER (PARTITION BY t.source_path ORDER BY t.sha256)::INTEGER AS version
                FROM t_docs t""",
            [now, run.run_id],
        )
        con.execute(
            "INSERT INTO rejected_files BY NAME SELECT *, ?::TIMESTAMP AS rejected_at, ?::INTEGER AS run_id FROM t_rej",
            [now, run.run_id],
        )
        # A file touched without changing keeps its row; remember its new mtime so the next run skips it unread.
        con.execute("UPDATE documents d SET mtime_ns = u.mtime_ns FROM t_unch u WHERE d.source_path = u.source_path AND d.sha256 = u.sha256")
        con.execute("UPDATE rejected_files r SET mtime_ns = u.mtime_ns FROM t_unch u WHERE r.source_path = u.source_path AND r.sha256 = u.sha256")
        # Clusters whose canonical changed or that merged: move their stored occurrences.
        con.execute(
            """UPDATE document_paragraphs dp SET paragraph_id = r.new_id, match = r.match, similarity = r.similarity
               FROM t_repoint r WHERE dp.paragraph_id = r.old_id AND dp.norm_hash = r.norm_hash"""
        )
        con.execute("INSERT INTO document_paragraphs BY NAME SELECT * FROM t_occ")
        con.execute(
            """UPDATE document_paragraphs dp SET match = 'new', similarity = 1.0
               FROM t_par p WHERE dp.doc_id = p.first_doc_id AND dp.position = p.first_position
                 AND p.paragraph_id IN (SELECT new_id FROM t_repoint)"""
        )
        for column in ("paragraph_id", "whole_paragraph_id"):
            con.execute(
                f"""UPDATE passage_links l SET {column} = m.new_id
                    FROM (SELECT DISTINCT old_id, new_id FROM t_repoint) m WHERE l.{column} = m.old_id"""
            )
        con.execute(
            """INSERT INTO passage_links BY NAME SELECT *, ?::INTEGER AS run_id FROM t_links n
               WHERE NOT EXISTS (SELECT 1 FROM passage_links l WHERE l.paragraph_id = n.paragraph_id
                                 AND l.whole_paragraph_id = n.whole_paragraph_id)""",
            [run.run_id],
        )
        con.execute("DELETE FROM passage_links WHERE paragraph_id = whole_paragraph_id")
        con.execute(
            """DELETE FROM paragraphs WHERE paragraph_id IN (SELECT paragraph_id FROM t_retired)
                  OR paragraph_id IN (SELECT paragraph_id FROM t_par)"""
        )
        con.execute(
            """INSERT INTO paragraphs BY NAME
               SELECT p.paragraph_id, p.text, p.first_doc_id, p.first_position, p.norm_hash,
                      count(*)::INTEGER AS n_occurrences, count(DISTINCT dp.doc_id)::INTEGER AS n_documents
               FROM t_par p JOIN document_paragraphs dp USING (paragraph_id)
               GROUP BY ALL"""
        )
        con.execute(
            "UPDATE paragraph_fingerprints f SET paragraph_id = vc.paragraph_id FROM t_vc vc "
            "WHERE f.norm_hash = vc.norm_hash AND f.paragraph_id <> vc.paragraph_id"
        )
        con.execute(
            """INSERT INTO paragraph_fingerprints BY NAME
               SELECT fp.norm_hash, vc.paragraph_id, fp.n_words, fp.signature, ? AS minhash_config
               FROM t_fp fp JOIN t_vc vc USING (norm_hash)""",
            [run.minhash_config],
        )
        con.execute("INSERT INTO lsh_bands SELECT band_key, norm_hash FROM t_bands")
        con.execute("INSERT INTO sentence_keys SELECT sentence_key, norm_hash FROM t_sentences")
        if (plan.paragraphs or plan.retired) and fts_extension() is not None:
            refresh_search_index(con)
        counts = plan.counts
        con.execute(
            """INSERT INTO runs (run_id, started_at, finished_at, raw_dir, files_new, files_unchanged, files_rejected,
                                 paragraphs_total, paragraphs_new, paragraphs_exact, paragraphs_near,
                                 paragraphs_contained, threshold, minhash_config, docdedup_version)
               VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)""",
            [
                run.run_id, run.started_at, _now(), run.raw_dir, run.files_new, run.files_unchanged,
                run.files_rejected, len(plan.occurrences), counts.get("new", 0), counts.get("exact", 0),
                counts.get("near", 0), counts.get("contained", 0), run.threshold, run.minhash_config, __version__,
            ],
        )
        con.execute("COMMIT")
    except BaseException:
        con.execute("ROLLBACK")
        raise
    finally:
        for name in tables:
            con.unregister(name)
    return {
        "files_new": run.files_new,
        "files_unchanged": run.files_unchanged,
        "files_rejected": run.files_rejected,
        "paragraphs_total": len(plan.occurrences),
        **{f"paragraphs_{k}": v for k, v in counts.items()},
    }


def query(con: duckdb.DuckDBPyConnection, sql, params=None) -> tuple[list[str], list[tuple]]:
    """Run one SQL statement; return column names and rows."""
    cur = con.execute(sql, params) if params is not None else con.execute(sql)
    cols = [d[0] for d in cur.description] if cur.description else []
    return cols, cur.fetchall() if cur.description else []
