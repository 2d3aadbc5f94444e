"""Key index: the warehouse's LSH band keys, sorted in files beside it and looked up by binary search.

Candidate search asks which stored paragraphs share a band key with the new ones. In DuckDB that is a
hash join reading every row of `lsh_bands` (41 million at a million paragraphs), however small the run:
DuckDB uses no index for a join, and an ART index on the table would be rewritten whole at every
checkpoint (see 006_lean_keys.sql). So the keys are also kept beside the warehouse, in
`<warehouse>.bands/`, as a few sorted runs ("segments") of (band_key, norm_hash). A lookup
binary-searches each segment for the run's keys and reads only the pages it lands on, so its cost
follows the run, not the warehouse.

The table stays the truth; the index is a copy of it, checked before every use:
- `key_index_state` (007_key_index.sql) holds the table's row count and a token, and every batch that
  adds keys changes both in its own transaction; the index's manifest records the state it holds.
- A batch writes its keys as a pending segment before it commits (`stage`); after the commit, `publish`
  adds that segment to the manifest when it is exactly the step from the manifest's state to the table's.
- Anything else (a crash between commit and publish, a warehouse restored from a backup, a deleted or
  damaged folder) leaves the two states different, and the next lookup rebuilds the index from the table
  (a sort in DuckDB, about 10 s for 41 million keys).
Segments merge as they accumulate (each holds at most a quarter of the rows of the one before it), so a lookup reads
a handful. Segments are mapped a slice at a time, so memory stays bounded however large they grow.
"""

from __future__ import annotations

import json
import os
import uuid
from contextlib import suppress
from dataclasses import dataclass
from pathlib import Path

import duckdb
import numpy as np

TABLE, KEY = "lsh_bands", "band_key"
FORMAT = 1
# Rows of a segment mapped at once by a lookup or a merge (8 MB of keys and 8 MB of owners).
SLICE_ROWS = 1 << 20
# A segment is merged into the one before it unless that one holds at least this many times its rows.
GROWTH = 4


@dataclass(frozen=True)
class State:
    """The state of the table an index must match: its row count and the token of its last change."""

    rows: int
    token: str


def folder_of(con: duckdb.DuckDBPyConnection) -> Path | None:
    """The index folder beside the connection's warehouse file (None for an in-memory database)."""
    path = con.execute("SELECT path FROM duckdb_databases() WHERE database_name = current_database()").fetchone()[0]
    return Path(f"{path}.bands") if path else None


def table_state(con: duckdb.DuckDBPyConnection) -> State:
    rows, token = con.execute("SELECT n_rows, token FROM key_index_state WHERE table_name = ?", [TABLE]).fetchone()
    return State(rows, token)


def _synced(*files) -> None:
    """Flush written segment files to disk before a manifest names them."""
    for f in files:
        f.flush()
        os.fsync(f.fileno())


def _write(path: Path, values: np.ndarray) -> None:
    with open(path, "wb") as f:
        values.astype("<i8", copy=False).tofile(f)
        _synced(f)


def _mapped(path: Path, start: int, stop: int) -> np.ndarray:
    """Rows [start, stop) of a segment file, memory-mapped (unmapped when the array is dropped)."""
    if stop <= start:
        return np.zeros(0, dtype="<i8")
    return np.memmap(path, dtype="<i8", mode="r", offset=start * 8, shape=(stop - start,))


class KeyIndex:
    """The band-key index of one warehouse (see the module docstring)."""

    def __init__(self, folder: Path):
        self.folder = folder
        self.manifest_path = folder / "manifest.json"
        self.pending_path = folder / "pending.json"

    def _files(self, name: str) -> tuple[Path, Path]:
        return self.folder / f"{name}.keys", self.folder / f"{name}.owners"

    def _manifest(self) -> dict | None:
        """The manifest, or None when it is missing, unreadable, of another format, or names a segment whose files
        are missing or not of its size (anything but None is checked against the table by `current`)."""
        try:
            manifest = json.loads(self.manifest_path.read_text(encoding="utf-8"))
            if manifest["format"] != FORMAT or manifest["table"] != TABLE:
                return None
            for segment in manifest["segments"]:
                keys, owners = self._files(segment["name"])
                if not keys.stat().st_size == owners.stat().st_size == 8 * segment["rows"]:
                    return None
        except (OSError, ValueError, KeyError, TypeError):
            return None
        return manifest

    def _save(self, state: State, segments: list[dict]) -> dict:
        """Write the manifest atomically, then delete every file it does not name; returns the manifest."""
        manifest = {"format": FORMAT, "table": TABLE, "rows": state.rows, "token": state.token, "segments": segments}
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
        state = table_state(con)
        manifest = self._manifest()
        if manifest is not None and (manifest["rows"], manifest["token"]) == (state.rows, state.token):
            return manifest
        return self.rebuild(con)

    def rebuild(self, con: duckdb.DuckDBPyConnection) -> dict:
        """Sort the table's keys into one segment (DuckDB's sort, within its memory limit) and record its state."""
        self.folder.mkdir(parents=True, exist_ok=True)
        self.invalidate()
        name = uuid.uuid4().hex
        keys_path, owners_path = self._files(name)
        rows = 0
        reader = con.execute(f"SELECT {KEY}, norm_hash FROM {TABLE} ORDER BY {KEY}").to_arrow_reader(1 << 20)
        with open(keys_path, "wb") as fk, open(owners_path, "wb") as fo:
            for batch in reader:
                batch.column(0).to_numpy().astype("<i8", copy=False).tofile(fk)
                batch.column(1).to_numpy().astype("<i8", copy=False).tofile(fo)
                rows += batch.num_rows
            _synced(fk, fo)
        state = table_state(con)
        if rows != state.rows:  # the count drifted (rows written around the loader): trust the table
            con.execute("UPDATE key_index_state SET n_rows = ? WHERE table_name = ?", [rows, TABLE])
            state = State(rows, state.token)
        return self._save(state, [{"name": name, "rows": rows}] if rows else [])

    def lookup(self, con: duckdb.DuckDBPyConnection, keys: np.ndarray, owners: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """For each stored key equal to one of `keys`: (the owner of the query key, the stored key's norm_hash)."""
        manifest = self.current(con)
        order = np.argsort(keys)
        query, query_owner = keys[order].astype(np.int64), owners[order]
        found_new, found_stored = [np.zeros(0, np.int64)], [np.zeros(0, np.int64)]
        for segment in manifest["segments"]:
            keys_path, owners_path = self._files(segment["name"])
            for start in range(0, segment["rows"], SLICE_ROWS):
                stop = min(start + SLICE_ROWS, segment["rows"])
                stored = _mapped(keys_path, start, stop)
                a = int(np.searchsorted(query, stored[0], side="left"))
                b = int(np.searchsorted(query, stored[-1], side="right"))
                if a < b:
                    lo = np.searchsorted(stored, query[a:b], side="left")
                    count = np.searchsorted(stored, query[a:b], side="right") - lo
                    hit = np.flatnonzero(count)
                    if len(hit):
                        total = int(count[hit].sum())
                        rows = np.repeat(lo[hit] - (np.cumsum(count[hit]) - count[hit]), count[hit]) + np.arange(total)
                        found_stored.append(np.array(_mapped(owners_path, start, stop)[rows]))
                        found_new.append(np.repeat(query_owner[a:b][hit], count[hit]))
                del stored
        return np.concatenate(found_new), np.concatenate(found_stored)

    # -- writing -------------------------------------------------------------------------------------

    def stage(self, con: duckdb.DuckDBPyConnection, keys: np.ndarray, owners: np.ndarray) -> State:
        """Write a batch's keys as the pending segment, before its transaction commits; returns the table state the
        batch must record (`key_index_state`) in that transaction."""
        before = table_state(con)
        after = State(before.rows + len(keys), uuid.uuid4().hex)
        try:
            self.folder.mkdir(parents=True, exist_ok=True)
            order = np.argsort(keys)
            keys_path, owners_path = self._files(after.token)
            _write(keys_path, keys[order])
            _write(owners_path, owners[order])
            self.pending_path.write_text(json.dumps({"parent": before.token, "token": after.token, "rows": len(keys)}),
                                         encoding="utf-8")
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
        state = table_state(con)
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
                or manifest["rows"] + pending["rows"] != state.rows:
            self.invalidate()
            return
        segments = manifest["segments"] + ([{"name": pending["token"], "rows": pending["rows"]}] if pending["rows"] else [])
        while len(segments) >= 2 and segments[-2]["rows"] < GROWTH * segments[-1]["rows"]:
            segments[-2:] = [self._merge(segments[-2], segments[-1])]
        self._save(state, segments)

    def discard(self) -> None:
        """After a rollback: the pending segment will never be published."""
        self.pending_path.unlink(missing_ok=True)

    def _merge(self, first: dict, second: dict) -> dict:
        """One sorted segment of two, merged a slice at a time."""
        name = uuid.uuid4().hex
        (ka, oa), (kb, ob) = self._files(first["name"]), self._files(second["name"])
        na, nb = first["rows"], second["rows"]
        keys_path, owners_path = self._files(name)
        i = j = 0
        with open(keys_path, "wb") as fk, open(owners_path, "wb") as fo:
            while i < na or j < nb:
                ea, eb = min(i + SLICE_ROWS, na), min(j + SLICE_ROWS, nb)
                if i < na and j < nb:
                    # Up to the smaller of the two slices' last keys: all that can come before what is left.
                    split = min(_mapped(ka, ea - 1, ea)[0], _mapped(kb, eb - 1, eb)[0])
                    ea = i + int(np.searchsorted(_mapped(ka, i, ea), split, side="right"))
                    eb = j + int(np.searchsorted(_mapped(kb, j, eb), split, side="right"))
                keys = np.concatenate([_mapped(ka, i, ea), _mapped(kb, j, eb)])
                order = np.argsort(keys, kind="stable")
                keys[order].tofile(fk)
                np.concatenate([_mapped(oa, i, ea), _mapped(ob, j, eb)])[order].tofile(fo)
                i, j = ea, eb
            _synced(fk, fo)
        return {"name": name, "rows": na + nb}
