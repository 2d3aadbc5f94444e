"""Connection and schema: open the warehouse, apply numbered schema files, small lookups."""

from __future__ import annotations

import re
import time
from contextlib import contextmanager, suppress
from datetime import datetime, timezone
from importlib import resources
from pathlib import Path
from typing import Callable, Iterator

import duckdb
import pyarrow as pa

from flows.config import Settings
from flows.records import ContainerState, KnownFile
from flows.recipes import content_hash, edge_texts, normalize_texts


# String compressions a writing connection does not use. DuckDB compresses a table's new rows when it checkpoints them
# (at a large commit, and when the run closes the warehouse), and for strings its FSST analysis cost more than the
# rest of the checkpoint (tests/benchmarks/syndication.py's load stage, with and without it), random signature BLOBs
# included. Dictionary compression, which catches the text an outlet republishes verbatim, stays. The price is some
# disk for text that never repeats. Rows written before keep their compression.
NO_COMPRESSION = "fsst,dict_fsst"


class WarehouseError(RuntimeError):
    """The warehouse cannot be used as asked (locked, newer schema, incompatible settings)."""


def schema_dir() -> Path:
    """Folder of the numbered schema files: inside the installed package, else the repository's warehouse/."""
    packaged = Path(str(resources.files("flows"))) / "schema"
    if packaged.is_dir():
        return packaged
    return Path(__file__).resolve().parents[2] / "warehouse" / "schema"


def migrations() -> list[tuple[int, str, str]]:
    """(version, name, sql) of every schema file, in order."""
    out = []
    for path in sorted(schema_dir().glob("*.sql")):
        m = re.match(r"(\d+)_", path.name)
        if m:
            out.append((int(m.group(1)), path.name, path.read_text(encoding="utf-8")))
    return out


def fts_extension() -> Path | None:
    """The full-text-search extension shipped by the pip package duckdb-extension-fts, if installed."""
    try:
        import duckdb_extension_fts
    except ImportError:
        return None
    path = Path(duckdb_extension_fts.__file__).parent / "extensions" / f"v{duckdb.__version__}" / "fts.duckdb_extension"
    return path if path.is_file() else None


def _load_fts(con: duckdb.DuckDBPyConnection) -> None:
    """Load the extension whose stemmer the search index uses (a dependency: its absence is an error)."""
    path = fts_extension()
    if path is None:
        raise WarehouseError("full-text search needs the duckdb-extension-fts package matching duckdb; reinstall docdedup")
    con.execute(f"LOAD '{path}'")


@contextmanager
def connect(path: Path, read_only: bool = False, memory_limit: str = "1GB", wait_seconds: float = 0.0,
            on_wait: Callable[[str], None] | None = None) -> Iterator[duckdb.DuckDBPyConnection]:
    """Open the warehouse (creating and migrating it unless read-only) with full-text search loaded.

    While another process holds the warehouse (DuckDB allows one writer, or readers only), retry with
    backoff for up to `wait_seconds`, telling `on_wait` why; then fail with a clear message.
    DuckDB's memory is capped (it spills to `<warehouse>.tmp/` beyond it); its default, 80% of the
    machine, would let a large run's transaction take the machine.
    """
    path = Path(path)
    if read_only and not path.exists():
        raise WarehouseError(f"warehouse {path} does not exist yet; run `docdedup run` first")
    if not read_only:
        path.parent.mkdir(parents=True, exist_ok=True)
    con = _open(path, read_only, memory_limit, wait_seconds, on_wait)
    try:
        # DuckDB draws a progress bar on stdout for long statements (a schema upgrade, the band-key index's first
        # build), in the middle of the run's own output and logs.
        con.execute("SET enable_progress_bar = false")
        if not read_only:
            con.execute(f"SET disabled_compression_methods = '{NO_COMPRESSION}'")
        _load_fts(con)
        if read_only:
            if con.execute("SELECT count(*) FROM information_schema.tables WHERE table_name = 'schema_migrations'").fetchone()[0]:
                _check_version(con)
        else:
            migrate(con)
        yield con
    finally:
        con.close()


def _open(path: Path, read_only: bool, memory_limit: str, wait_seconds: float,
          on_wait: Callable[[str], None] | None) -> duckdb.DuckDBPyConnection:
    """duckdb.connect, retried while the file is locked by another process."""
    deadline = time.monotonic() + wait_seconds
    delay, told = 0.2, 0.0
    while True:
        try:
            return duckdb.connect(str(path), read_only=read_only, config={"memory_limit": memory_limit})
        except duckdb.IOException as err:
            if "lock" not in str(err).lower():
                raise WarehouseError(f"cannot open warehouse {path}: {err}") from None
            holder = re.search(r"\(PID (\d+)\)", str(err))
            who = f"process {holder.group(1)}" if holder else "another process"
            left = deadline - time.monotonic()
            if left <= 0:
                raise WarehouseError(
                    f"warehouse {path} is in use by {who} (a run or a SQL session holds it)"
                    + (f" and stayed locked for {wait_seconds:g} s" if wait_seconds else "")
                    + "; try again when it has finished"
                ) from None
            if on_wait is not None and time.monotonic() >= told:
                on_wait(f"warehouse {path} is in use by {who}; waiting up to {left:.0f} s more for it")
                told = time.monotonic() + 30.0
            time.sleep(min(delay, left))
            delay = min(delay * 2, 5.0)


def migrate(con: duckdb.DuckDBPyConnection) -> list[int]:
    """Apply the schema files not yet recorded, each in its own transaction (all in one for a new warehouse, which
    then appears whole or not at all, its tables empty); return the versions applied."""
    con.execute(
        "CREATE TABLE IF NOT EXISTS schema_migrations (version INTEGER PRIMARY KEY, name VARCHAR, applied_at TIMESTAMP)"
    )
    done = _check_version(con)
    pending = [m for m in migrations() if m[0] not in done]
    if pending:
        _register_functions(con)
    applied = []
    for group in ([pending] if not done else [[m] for m in pending]):
        con.execute("BEGIN TRANSACTION")
        try:
            for _, _, sql in group:
                con.execute(sql)
            insert_rows(con, "schema_migrations", {"version": [m[0] for m in group], "name": [m[1] for m in group],
                                                   "applied_at": [_now()] * len(group)})
            con.execute("COMMIT")
        except Exception:
            con.execute("ROLLBACK")
            raise
        applied += [version for version, _, _ in group]
    return applied


def _normalize_column(texts: pa.ChunkedArray) -> pa.Array:
    """docdedup_normalize over one vector of texts (NULL stays NULL)."""
    values = texts.to_pylist()
    present = [t for t in values if t is not None]
    norms = iter(normalize_texts(present))
    return pa.array([None if t is None else next(norms) for t in values], pa.string())


def _edge_keys(norm: str) -> list[int]:
    """docdedup_edge_keys: the head and tail keys of a normalised text (none when it is too short)."""
    return [content_hash(t) for t in edge_texts(norm) or ()]


def _register_functions(con: duckdb.DuckDBPyConnection) -> None:
    """SQL functions the schema files may call: docdedup_normalize(text), the normalised form of a text
    (flows.recipes.normalize), with which 009 fills paragraph_fingerprints.norm; docdedup_edge_keys(norm), its head
    and tail keys (flows.recipes.edge_texts), with which 012 completes sentence_keys."""
    for name in ("docdedup_normalize", "docdedup_edge_keys"):
        with suppress(duckdb.InvalidInputException):
            con.remove_function(name)
    con.create_function("docdedup_normalize", _normalize_column, [duckdb.sqltype("VARCHAR")], duckdb.sqltype("VARCHAR"),
                        type="arrow", null_handling="special", side_effects=False)
    con.create_function("docdedup_edge_keys", _edge_keys, [duckdb.sqltype("VARCHAR")], duckdb.sqltype("BIGINT[]"),
                        side_effects=False)


def _check_version(con: duckdb.DuckDBPyConnection) -> set[int]:
    """The schema versions applied; refuses a warehouse made by a newer docdedup."""
    done = {v for (v,) in con.execute("SELECT version FROM schema_migrations").fetchall()}
    newest = max((v for v, _, _ in migrations()), default=0)
    if done and max(done) > newest:
        raise WarehouseError(
            f"warehouse schema version {max(done)} is newer than this docdedup understands ({newest}); upgrade docdedup"
        )
    return done


def insert_rows(con: duckdb.DuckDBPyConnection, table: str, columns: dict[str, list]) -> None:
    """Insert rows given as columns, by column name, through Arrow. Not as query parameters: DuckDB's client tries to
    import pandas for each parameter it converts, and where pandas is not installed every try searches sys.path again."""
    con.register("t_rows", pa.table(columns))
    try:
        con.execute(f"INSERT INTO {table} BY NAME SELECT * FROM t_rows")
    finally:
        con.unregister("t_rows")


def _now() -> datetime:
    return datetime.now(timezone.utc).replace(tzinfo=None)


def known_files(con: duckdb.DuckDBPyConnection) -> list[KnownFile]:
    """Every file version already ingested, or rejected for its content: the manifest discovery compares against.

    Rejections that did not depend on the content (unreadable, too large, a symlink, a bad name: no sha256)
    are tried again on every run, since their cause may have gone; the load records each such rejection
    once, not once a run.
    """
    rows = con.execute(
        "SELECT source_path, sha256, size_bytes, mtime_ns FROM documents WHERE container IS NULL "
        "UNION ALL SELECT source_path, sha256, size_bytes, mtime_ns FROM rejected_files "
        "WHERE sha256 IS NOT NULL AND container IS NULL "
        # A JSON Lines or WARC file as last scanned: unchanged, it is skipped unread like a file.
        "UNION ALL SELECT source_path, NULL, size_bytes, mtime_ns FROM containers"
    ).fetchall()
    return [KnownFile(*r) for r in rows]


def container_states(con: duckdb.DuckDBPyConnection, paths: list[str]) -> dict[str, ContainerState]:
    """How far each of these containers was read, and the (source_path, sha256) of its records stored or rejected
    for their content (what a scan from its start passes over)."""
    if not paths:
        return {}
    con.register("t_paths", pa.table({"container": pa.array(paths, pa.string())}))
    try:
        known: dict[str, set[tuple[str, str]]] = {}
        for container, source_path, sha in con.execute(
                """SELECT container, source_path, sha256 FROM documents JOIN t_paths USING (container)
                   UNION ALL SELECT container, source_path, sha256 FROM rejected_files JOIN t_paths USING (container)
                   WHERE sha256 IS NOT NULL""").fetchall():
            known.setdefault(container, set()).add((source_path, sha))
        scanned = con.execute(
            """SELECT source_path, scanned_bytes, n_records, prefix_sha256 FROM containers c
               JOIN t_paths p ON p.container = c.source_path""").fetchall()
    finally:
        con.unregister("t_paths")
    states = {path: ContainerState(0, 0, "", frozenset(known[path])) for path in known}
    for path, scanned_bytes, n_records, prefix in scanned:
        states[path] = ContainerState(scanned_bytes, n_records, prefix, frozenset(known.get(path, ())))
    return states


def template_hashes(con: duckdb.DuckDBPyConnection, settings: Settings, sources: set[str]) -> dict[str, frozenset[int]]:
    """The template passages (005_templates.sql) of these source folders, as normalised-text hashes."""
    sources = {s for s in sources if s}
    if settings.template_min_docs == 0 or not sources:
        return {}
    rows = con.execute("SELECT source, norm_hash FROM template_passages_in(?, ?, ?)",
                       [sorted(sources), settings.template_min_docs, settings.template_share]).fetchall()
    out: dict[str, set[int]] = {}
    for source, norm_hash in rows:
        out.setdefault(source, set()).add(norm_hash)
    return {source: frozenset(hashes) for source, hashes in out.items()}


def next_run_id(con: duckdb.DuckDBPyConnection) -> int:
    """The id of the next run: after every run that committed anything, finished or not."""
    return con.execute(
        """SELECT coalesce(max(run_id), 0) + 1 FROM (
               SELECT run_id FROM runs UNION ALL SELECT run_id FROM documents UNION ALL SELECT run_id FROM rejected_files)"""
    ).fetchone()[0]


def check_settings(con: duckdb.DuckDBPyConnection, settings: Settings) -> None:
    """Refuse to mix signatures made with another MinHash recipe into this warehouse."""
    row = con.execute("SELECT minhash_config FROM paragraph_fingerprints LIMIT 1").fetchone()
    wanted = settings.minhash.fingerprint()
    if row and row[0] != wanted:
        raise WarehouseError(
            f"warehouse fingerprints were made with {row[0]}, but the current settings give {wanted}; "
            "use the original MinHash settings or a new warehouse"
        )


def query(con: duckdb.DuckDBPyConnection, sql, params=None) -> tuple[list[str], list[tuple]]:
    """Run one SQL statement; return column names and rows."""
    cur = con.execute(sql, params) if params is not None else con.execute(sql)
    cols = [d[0] for d in cur.description] if cur.description else []
    return cols, cur.fetchall() if cur.description else []
