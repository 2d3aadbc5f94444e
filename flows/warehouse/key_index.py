"""Key index: the warehouse's LSH band keys, sorted in files beside it and looked up by binary search.

Candidate search asks which stored paragraphs share a band key with the new ones. In DuckDB that is a
hash join reading every band key of the warehouse (41 million at a million paragraphs), however small the
run: DuckDB uses no index for a join, and an ART index on a table of keys would be rewritten whole at every
checkpoint (see 006_lean_keys.sql). So the keys are kept beside the warehouse, in
`<warehouse>.bands/`, as a few sorted runs ("segments") of (band_key, norm_hash). A lookup
binary-searches each segment for the run's keys and reads only the pages it lands on, so its cost
follows the run, not the warehouse. No table holds the band keys (011_band_keys_from_signatures.sql): each is a
hash of its stored signature's values, computed again by `band_key_lists` when the index is rebuilt.

The warehouse stays the truth; the index is a copy of what its `source` query gives, checked before every use:
- `key_index_state` (007_key_index.sql) holds the row count of the source and a token, and every batch that
  adds keys changes both in its own transaction; the index's manifest records the state it holds.
- A batch writes its keys as a pending segment before it commits (`stage`); after the commit, `publish`
  adds that segment to the manifest when it is exactly the step from the manifest's state to the table's.
- Anything else (a crash between commit and publish, a warehouse restored from a backup, a deleted or
  damaged folder) leaves the two states different, and the next lookup rebuilds the index from the warehouse
  (one sort in DuckDB; tests/benchmarks/scale.py times it at a million signatures).
Segments merge as they accumulate (each holds at most a quarter of the rows of the one before it), so a lookup reads
a handful. Segments are mapped a slice at a time, so memory stays bounded however large they grow.

The same structure, with a wider value, keeps the signatures of `paragraph_fingerprints` in `<warehouse>.signatures/`
(`SIGNATURES`): the candidate floor compares the signatures of the stored side of band-only hits, a few thousand rows
scattered over the whole table, and DuckDB reads every block of the signature column to find them, a cost that grows
with the warehouse (tests/benchmarks/scale.py lookup); a lookup reads only the pages of those rows.
"""

from __future__ import annotations

import itertools
import json
import os
import uuid
import weakref
from contextlib import suppress
from dataclasses import dataclass
from pathlib import Path

import duckdb
import numpy as np
import pyarrow as pa

FORMAT = 1
# Rows of a segment mapped at once by a lookup or a merge (8 MB of keys and 8 MB of owners; for wider values, as many
# rows as fit 8 MB of values).
SLICE_ROWS = 1 << 20
# A segment is merged into the one before it unless that one holds at least this many times its rows.
GROWTH = 4


@dataclass(frozen=True)
class Spec:
    """What an index copies: the rows of `source`, an int64 key, sorted, each with its value (an int64, or a BLOB of
    `dtype` elements, all of one length), in files `<warehouse><suffix>/<segment>.keys` and `.owners`. `table` names
    its state in key_index_state."""

    table: str
    source: str  # SELECT key, value ... ORDER BY key
    dtype: str
    suffix: str
    value_bytes: int = 8  # the most a value takes: sizes the batches a rebuild reads


# The band keys of every fingerprint long enough for near matching, computed again from its signature (011): no table
# holds them. The state keeps the name of the table they were once copied from.
BANDS = Spec("lsh_bands", """SELECT unnest(docdedup_band_keys(signature, minhash_config)) AS band_key, norm_hash
                              FROM paragraph_fingerprints WHERE banded ORDER BY band_key""", "<i8", ".bands")
SIGNATURES = Spec("paragraph_fingerprints", "SELECT norm_hash, signature FROM paragraph_fingerprints ORDER BY norm_hash",
                  "<u4", ".signatures", value_bytes=4096)
# Every index kept beside a warehouse.
INDEXES = (BANDS, SIGNATURES)


@dataclass(frozen=True)
class State:
    """The state of the table an index must match: its row count and the token of its last change."""

    rows: int
    token: str


# The warehouse file of each open connection (it never changes), asked of DuckDB once: a batch needs the indexes'
# folders six times.
_database_file: weakref.WeakKeyDictionary = weakref.WeakKeyDictionary()


def folder_of(con: duckdb.DuckDBPyConnection, spec: Spec) -> Path | None:
    """The index folder beside the connection's warehouse file (None for an in-memory database)."""
    path = _database_file.get(con)
    if path is None:
        path = _database_file[con] = con.execute(
            "SELECT coalesce(path, '') FROM duckdb_databases() WHERE database_name = current_database()").fetchone()[0]
    return Path(f"{path}{spec.suffix}") if path else None


def table_state(con: duckdb.DuckDBPyConnection, table: str) -> State:
    # No query parameter: DuckDB's client tries to import pandas for each parameter it converts, and where pandas is
    # not installed every try searches sys.path again.
    rows = con.execute("SELECT table_name, n_rows, token FROM key_index_state").fetchall()
    return {name: State(n, token) for name, n, token in rows}[table]


def _synced(*files) -> None:
    """Flush written segment files to disk before a manifest names them."""
    for f in files:
        f.flush()
        os.fsync(f.fileno())


def _write(path: Path, values: np.ndarray, dtype: str = "<i8") -> None:
    with open(path, "wb") as f:
        values.astype(dtype, copy=False).tofile(f)
        _synced(f)


def _mapped(path: Path, start: int, stop: int, dtype: str = "<i8", width: int = 1) -> np.ndarray:
    """Rows [start, stop) of a segment file, memory-mapped (unmapped when the array is dropped); rows of `width`
    elements are returned as a matrix."""
    shape = (stop - start,) if width == 1 else (stop - start, width)
    if stop <= start:
        return np.zeros((0,) + shape[1:], dtype=dtype)
    row = np.dtype(dtype).itemsize * width
    return np.memmap(path, dtype=dtype, mode="r", offset=start * row, shape=shape)


def column_values(column, dtype: str) -> np.ndarray:
    """An Arrow column of the table's values as a numpy array: int64 as it is, BLOBs of one length as a matrix."""
    if not (pa.types.is_binary(column.type) or pa.types.is_large_binary(column.type)):
        return column.to_numpy().astype(dtype, copy=False)
    offset_type = np.int64 if pa.types.is_large_binary(column.type) else np.int32
    offsets = np.frombuffer(column.buffers()[1], offset_type)[column.offset:column.offset + len(column) + 1]
    lengths = np.diff(offsets)
    if len(lengths) and (lengths != lengths[0]).any():
        raise ValueError("index values must all have one length")
    data = np.frombuffer(column.buffers()[2], np.uint8)[offsets[0]:offsets[-1]]
    item = np.dtype(dtype).itemsize
    width = int(lengths[0]) // item if len(lengths) else 0
    return data.view(dtype).reshape(len(column), width)


def band_key_lists(signatures, recipes) -> pa.Array:
    """docdedup_band_keys(signature, minhash_config) over one vector of rows: each signature's LSH band keys (a list),
    as flows.recipes.band_keys made them when the paragraph was fingerprinted. (DuckDB's create_function evaluates
    the annotations: `pa` must be a name of the module.)"""
    from flows.config import MinHashConfig
    from flows.recipes import band_keys

    if isinstance(signatures, pa.ChunkedArray):
        signatures = signatures.combine_chunks()
    kinds = set(recipes.to_pylist())
    if len(kinds) > 1:
        raise ValueError(f"signatures of several MinHash recipes: {sorted(kinds)}")
    bands, rows = MinHashConfig.banding(kinds.pop()) if kinds else (0, 0)
    matrix = column_values(signatures, "<u4")
    if len(matrix) and matrix.shape[1] < bands * rows:
        raise ValueError(f"signatures of {matrix.shape[1]} values are too short for {bands} bands of {rows} rows")
    keys = band_keys(matrix, MinHashConfig(bands=bands, rows=rows)) if len(matrix) else np.zeros((0, 0), np.int64)
    offsets = np.arange(len(matrix) + 1, dtype=np.int32) * bands
    return pa.ListArray.from_arrays(pa.array(offsets), pa.array(keys.ravel(), pa.int64()))


def register_functions(con: duckdb.DuckDBPyConnection) -> None:
    """The SQL functions the indexes' sources call: docdedup_band_keys (`band_key_lists`)."""
    with suppress(duckdb.InvalidInputException):
        con.remove_function("docdedup_band_keys")
    con.create_function("docdedup_band_keys", band_key_lists, [duckdb.sqltype("BLOB"), duckdb.sqltype("VARCHAR")],
                        duckdb.sqltype("BIGINT[]"), type="arrow", side_effects=False)


class KeyIndex:
    """The index of one warehouse's `spec` (see the module docstring)."""

    def __init__(self, folder: Path, spec: Spec):
        self.folder, self.spec = folder, spec
        self.manifest_path = folder / "manifest.json"
        self.pending_path = folder / "pending.json"

    def _files(self, name: str) -> tuple[Path, Path]:
        return self.folder / f"{name}.keys", self.folder / f"{name}.owners"

    def _row_bytes(self, width: int) -> int:
        return np.dtype(self.spec.dtype).itemsize * width

    def _slice_rows(self, width: int) -> int:
        """Rows mapped at once: SLICE_ROWS, or fewer when a value is wider than 8 bytes."""
        return max(1, SLICE_ROWS * 8 // max(8, self._row_bytes(width)))

    def _manifest(self) -> dict | None:
        """The manifest, or None when it is missing, unreadable, of another format, or names a segment whose files
        are missing or not of its size (anything but None is checked against the table by `current`)."""
        try:
            manifest = json.loads(self.manifest_path.read_text(encoding="utf-8"))
            if manifest["format"] != FORMAT or manifest["table"] != self.spec.table:
                return None
            manifest.setdefault("width", 1)  # written before wider values existed: one int64 each
            row = self._row_bytes(manifest["width"])
            for segment in manifest["segments"]:
                keys, owners = self._files(segment["name"])
                if not (keys.stat().st_size == 8 * segment["rows"] and owners.stat().st_size == row * segment["rows"]):
                    return None
        except (OSError, ValueError, KeyError, TypeError):
            return None
        return manifest

    def _save(self, state: State, segments: list[dict], width: int) -> dict:
        """Write the manifest atomically, then delete every file it does not name; returns the manifest."""
        manifest = {"format": FORMAT, "table": self.spec.table, "rows": state.rows, "token": state.token,
                    "width": width, "segments": segments}
        tmp = self.folder / "manifest.json.tmp"
        tmp.write_text(json.dumps(manifest), encoding="utf-8")
        os.replace(tmp, self.manifest_path)
        keep = {"manifest.json"} | {f"{s['name']}.{ext}" for s in segments for ext in ("keys", "owners")}
        for path in self.folder.iterdir():
            if path.name not in keep:
                path.unlink(missing_ok=True)
        return manifest

    def invalidate(self) -> None:
        """Forget the index: the next lookup rebuilds it from the table."""
        self.manifest_path.unlink(missing_ok=True)

    # -- reading -------------------------------------------------------------------------------------

    def current(self, con: duckdb.DuckDBPyConnection) -> dict:
        """The manifest, rebuilt from the table first unless it holds exactly the table's state."""
        state = table_state(con, self.spec.table)
        manifest = self._manifest()
        if manifest is not None and (manifest["rows"], manifest["token"]) == (state.rows, state.token):
            return manifest
        return self.rebuild(con)

    def rebuild(self, con: duckdb.DuckDBPyConnection) -> dict:
        """Sort the keys of `spec.source` into one segment (DuckDB's sort, within its memory limit) and record its state."""
        spec = self.spec
        self.folder.mkdir(parents=True, exist_ok=True)
        self.invalidate()
        name = uuid.uuid4().hex
        keys_path, owners_path = self._files(name)
        rows, width = 0, 1
        register_functions(con)
        reader = con.execute(spec.source).to_arrow_reader(max(1, SLICE_ROWS * 8 // spec.value_bytes))
        batches = (batch for batch in reader if batch.num_rows)
        first = next(batches, None)
        if first is not None:  # an empty table (a new warehouse's) is an index of no segment: no files to write
            with open(keys_path, "wb") as fk, open(owners_path, "wb") as fo:
                for batch in itertools.chain([first], batches):
                    values = column_values(batch.column(1), spec.dtype)
                    if rows and values.ndim == 2 and values.shape[1] != width:
                        raise ValueError(f"the values of {spec.table}'s index have different lengths")
                    width = values.shape[1] if values.ndim == 2 else 1
                    batch.column(0).to_numpy().astype("<i8", copy=False).tofile(fk)
                    values.tofile(fo)
                    rows += batch.num_rows
                _synced(fk, fo)
        state = table_state(con, spec.table)
        if rows != state.rows:  # the count drifted (rows written around the loader): trust the table
            con.execute("UPDATE key_index_state SET n_rows = ? WHERE table_name = ?", [rows, spec.table])
            state = State(rows, state.token)
        return self._save(state, [{"name": name, "rows": rows}] if rows else [], width)

    def lookup(self, con: duckdb.DuckDBPyConnection, keys: np.ndarray, owners: np.ndarray,
               per_key: int | None = None) -> tuple[np.ndarray, np.ndarray]:
        """For each stored key equal to one of `keys`: (the owner of the query key, the stored key's value); with
        `per_key`, at most that many stored rows for each query key (the first found)."""
        manifest = self.current(con)
        width, dtype = manifest["width"], self.spec.dtype
        found_new = [np.zeros(0, np.int64)]
        found_stored = [np.zeros((0,) if width == 1 else (0, width), dtype)]
        if not manifest["segments"]:  # nothing stored yet: the query keys need no sorting
            return found_new[0], found_stored[0]
        order = np.argsort(keys)
        query, query_owner = keys[order].astype(np.int64), owners[order]
        taken = np.zeros(len(query), dtype=np.int64)  # rows found so far for each query key (per_key)
        for segment in manifest["segments"]:
            keys_path, owners_path = self._files(segment["name"])
            step = self._slice_rows(width)
            for start in range(0, segment["rows"], step):
                stop = min(start + step, segment["rows"])
                stored = _mapped(keys_path, start, stop)
                a = int(np.searchsorted(query, stored[0], side="left"))
                b = int(np.searchsorted(query, stored[-1], side="right"))
                if a < b:
                    lo = np.searchsorted(stored, query[a:b], side="left")
                    count = np.searchsorted(stored, query[a:b], side="right") - lo
                    if per_key is not None:
                        count = np.minimum(count, per_key - taken[a:b])
                        taken[a:b] += count
                    hit = np.flatnonzero(count)
                    if len(hit):
                        total = int(count[hit].sum())
                        rows = np.repeat(lo[hit] - (np.cumsum(count[hit]) - count[hit]), count[hit]) + np.arange(total)
                        found_stored.append(np.array(_mapped(owners_path, start, stop, dtype, width)[rows]))
                        found_new.append(np.repeat(query_owner[a:b][hit], count[hit]))
                del stored
        return np.concatenate(found_new), np.concatenate(found_stored)

    # -- writing -------------------------------------------------------------------------------------

    def stage(self, con: duckdb.DuckDBPyConnection, keys: np.ndarray, values: np.ndarray) -> State:
        """Write a batch's keys and values (one value, or one row of them, per key) as the pending segment, before its
        transaction commits; returns the table state the batch must record (`key_index_state`) in that transaction."""
        before = table_state(con, self.spec.table)
        after = State(before.rows + len(keys), uuid.uuid4().hex)
        try:
            self.folder.mkdir(parents=True, exist_ok=True)
            order = np.argsort(keys)
            keys_path, owners_path = self._files(after.token)
            _write(keys_path, keys[order])
            _write(owners_path, values[order], self.spec.dtype)
            pending = {"parent": before.token, "token": after.token, "rows": len(keys),
                       "width": values.shape[1] if values.ndim == 2 else 1}
            self.pending_path.write_text(json.dumps(pending), encoding="utf-8")
        except OSError:
            # The index cannot take the keys now (a full disk): the batch goes on, and with no pending segment
            # `publish` leaves the index to be rebuilt.
            with suppress(OSError):
                self.pending_path.unlink(missing_ok=True)
        return after

    def publish(self, con: duckdb.DuckDBPyConnection) -> None:
        """After a commit: add the pending segment if it is the step from the manifest to the table, else leave the
        index to be rebuilt when next used."""
        if not self.folder.is_dir():
            return
        state = table_state(con, self.spec.table)
        manifest = self._manifest()
        try:
            pending = json.loads(self.pending_path.read_text(encoding="utf-8"))
        except (OSError, ValueError):
            pending = None
        self.pending_path.unlink(missing_ok=True)
        if manifest is None:
            return
        if (manifest["rows"], manifest["token"]) == (state.rows, state.token):
            return
        if pending is None or pending["token"] != state.token or pending["parent"] != manifest["token"] \
                or manifest["rows"] + pending["rows"] != state.rows \
                or (manifest["segments"] and pending["rows"] and pending.get("width", 1) != manifest["width"]):
            self.invalidate()
            return
        width = pending.get("width", 1) if not manifest["segments"] else manifest["width"]
        segments = manifest["segments"] + ([{"name": pending["token"], "rows": pending["rows"]}] if pending["rows"] else [])
        while len(segments) >= 2 and segments[-2]["rows"] < GROWTH * segments[-1]["rows"]:
            segments[-2:] = [self._merge(segments[-2], segments[-1], width)]
        self._save(state, segments, width)

    def discard(self) -> None:
        """After a rollback: the pending segment will never be published."""
        self.pending_path.unlink(missing_ok=True)

    def _merge(self, first: dict, second: dict, width: int) -> dict:
        """One sorted segment of two, merged a slice at a time."""
        name = uuid.uuid4().hex
        dtype, step = self.spec.dtype, self._slice_rows(width)
        (ka, oa), (kb, ob) = self._files(first["name"]), self._files(second["name"])
        na, nb = first["rows"], second["rows"]
        keys_path, owners_path = self._files(name)
        i = j = 0
        with open(keys_path, "wb") as fk, open(owners_path, "wb") as fo:
            while i < na or j < nb:
                ea, eb = min(i + step, na), min(j + step, nb)
                if i < na and j < nb:
                    # Up to the smaller of the two slices' last keys: all that can come before what is left.
                    split = min(_mapped(ka, ea - 1, ea)[0], _mapped(kb, eb - 1, eb)[0])
                    ea = i + int(np.searchsorted(_mapped(ka, i, ea), split, side="right"))
                    eb = j + int(np.searchsorted(_mapped(kb, j, eb), split, side="right"))
                keys = np.concatenate([_mapped(ka, i, ea), _mapped(kb, j, eb)])
                order = np.argsort(keys, kind="stable")
                keys[order].tofile(fk)
                np.concatenate([_mapped(oa, i, ea, dtype, width), _mapped(ob, j, eb, dtype, width)])[order].tofile(fo)
                i, j = ea, eb
            _synced(fk, fo)
        return {"name": name, "rows": na + nb}
