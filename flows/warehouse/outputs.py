"""Queries for people: BM25 search over the passages, and exports of the tables and views."""

from __future__ import annotations

from pathlib import Path

import duckdb

from flows.warehouse.connection import query

# What `docdedup export` writes: the contract's tables and the views for people.
EXPORTED = [
    "documents", "paragraphs", "document_paragraphs", "rejected_files", "runs",
    "duplicate_groups", "document_overlap", "passage_timeline", "source_stats", "unique_text",
]
EXPORT_FORMATS = {"parquet": ("parquet", "(FORMAT parquet)"), "csv": ("csv", "(FORMAT csv, HEADER)"),
                  "jsonl": ("jsonl", "(FORMAT json)")}


def status(con: duckdb.DuckDBPyConnection, limit: int = 5) -> dict[str, tuple[list[str], list[tuple]]]:
    """What `docdedup status` shows: the last runs (an interrupted one too), and the files currently rejected
    (the latest reason per path, unless a later version of the file was ingested)."""
    runs = query(con, """
        SELECT run_id, started_at::TIMESTAMP(0) AS started, round(epoch(finished_at - started_at), 1) AS seconds,
               files_new AS new, files_unchanged AS unchanged, files_rejected AS rejected,
               paragraphs_total AS paragraphs, paragraphs_new AS new_passages, 'finished' AS state
        FROM runs
        UNION ALL
        SELECT d.run_id, min(d.ingested_at)::TIMESTAMP(0), NULL, count(*), NULL, NULL, sum(d.n_paragraphs), NULL,
               'interrupted: whole files kept, the next run does the rest'
        FROM documents d WHERE d.run_id NOT IN (SELECT run_id FROM runs) GROUP BY d.run_id
        ORDER BY run_id DESC LIMIT $limit""", {"limit": limit})
    rejected = query(con, """
        SELECT r.source_path, r.reason, r.run_id
        FROM rejected_files r
        WHERE NOT EXISTS (SELECT 1 FROM documents d WHERE d.source_path = r.source_path AND d.ingested_at > r.rejected_at)
        QUALIFY row_number() OVER (PARTITION BY r.source_path ORDER BY r.rejected_at DESC, r.run_id DESC) = 1
        ORDER BY r.run_id DESC, r.source_path""")
    totals = query(con, "SELECT (SELECT count(*) FROM documents) AS documents, (SELECT count(*) FROM paragraphs) AS passages")
    return {"totals": totals, "runs": runs, "rejected": rejected}


def search(con: duckdb.DuckDBPyConnection, words: str, limit: int = 10) -> tuple[list[str], list[tuple]]:
    """The passages that best match `words` (BM25 over the search index), with the documents that carry them."""
    return query(con, """
        SELECT round(s.score, 3) AS score, p.text, p.n_documents,
               string_agg(coalesce(d.title, d.source_path), ' | ' ORDER BY d.published NULLS LAST, d.source_path) AS documents
        FROM search_passages($words) s
        JOIN paragraphs p USING (paragraph_id)
        JOIN (SELECT DISTINCT paragraph_id, doc_id FROM document_paragraphs) dp USING (paragraph_id)
        JOIN documents d USING (doc_id)
        GROUP BY s.paragraph_id, s.score, p.text, p.n_documents
        ORDER BY s.score DESC, s.paragraph_id
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
