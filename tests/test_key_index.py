"""The indexes beside the warehouse, of band keys and of signatures: lookups equal a join with their table, they
follow every commit, and whatever happened to them (crash before publish, rollback, deletion, a restored
warehouse) the next lookup rebuilds or keeps them so that no candidate is lost."""

from __future__ import annotations

import random
import shutil
from pathlib import Path

import numpy as np
import pytest
from conftest import band_index_rows as index_rows
from conftest import ingest_docs, make_doc, signature_index_rows, stored_band_keys, table

from flows import warehouse
from flows.warehouse import key_index
from flows.warehouse.key_index import BANDS, SIGNATURES, KeyIndex

WORDS = ("council bridge river harbor mayor budget vote repair street plan school library night city week "
         "million dollar board reading rooms open weeknights april agreed keep public park water tax").split()


def texts(seed: int, n: int = 6) -> list[list[str]]:
    """n documents of one to four one-sentence paragraphs of 20-30 words."""
    rng = random.Random(seed)
    return [[" ".join(rng.choice(WORDS) for _ in range(rng.randint(20, 30))) + "." for _ in range(rng.randint(1, 4))]
            for _ in range(n)]


def docs(seed: int) -> list:
    return [make_doc(f"s{seed}/d{i}.txt", paragraphs) for i, paragraphs in enumerate(texts(seed))]


def near_copies(seed: int) -> list:
    """The documents of `docs(seed)` republished with the last word of every paragraph changed: their only
    sentence differs, so only a shared LSH band key can find the passages they repeat."""
    return [make_doc(f"copy{seed}/d{i}.txt", [p.rsplit(" ", 1)[0] + " yesterday." for p in paragraphs])
            for i, paragraphs in enumerate(texts(seed))]


def assert_found_again(db: Path, seed: int) -> None:
    """Near-copies of `docs(seed)` all join the passages stored (only a band key can find them, and only when the
    stored signatures agree with theirs), and both indexes are back to exactly their tables: nothing was lost to a
    stale index."""
    summary = ingest_docs(db, near_copies(seed))
    assert summary["paragraphs_new"] == 0 and summary["paragraphs_near"] > 0
    assert_indexes_match(db)


def assert_indexes_match(db: Path) -> None:
    assert index_rows(db) == stored_band_keys(db)
    assert signature_index_rows(db) == sorted(table(db, "SELECT norm_hash, signature FROM paragraph_fingerprints"))


def joined(db: Path, keys: np.ndarray, owners: np.ndarray) -> list[tuple[int, int]]:
    """What the index must answer: the query keys joined with the stored signatures' band keys, in Python."""
    stored: dict[int, list[int]] = {}
    for key, h in stored_band_keys(db):
        stored.setdefault(key, []).append(h)
    return sorted((owner, h) for key, owner in zip(keys.tolist(), owners.tolist()) for h in stored.get(key, []))


def looked_up(db: Path, keys: np.ndarray, owners: np.ndarray) -> list[tuple[int, int]]:
    with warehouse.connect(db) as con:
        new, stored = warehouse.index_of(con, BANDS).lookup(con, keys, owners)
    return sorted(zip(new.tolist(), stored.tolist()))


@pytest.fixture
def small_slices(monkeypatch):
    """Slices of a few rows, so that lookups and merges cross many slice boundaries."""
    monkeypatch.setattr(key_index, "SLICE_ROWS", 7)


def test_the_index_follows_every_run_and_answers_like_the_join(tmp_path: Path, small_slices):
    db = tmp_path / "w.duckdb"
    for seed in range(6):
        ingest_docs(db, docs(seed))
        assert_indexes_match(db)
    manifest = KeyIndex(Path(f"{db}{BANDS.suffix}"), BANDS)._manifest()
    # Segments were merged as they came: fewer than the runs, each under a quarter of the one before.
    assert 1 <= len(manifest["segments"]) < 6
    sizes = [s["rows"] for s in manifest["segments"]]
    assert all(a >= key_index.GROWTH * b for a, b in zip(sizes, sizes[1:]))
    stored = np.array([k for k, _ in stored_band_keys(db)], dtype=np.int64)
    rng = np.random.default_rng(0)
    keys = np.concatenate([rng.choice(stored, 300), rng.integers(-2**62, 2**62, 300)])
    owners = np.arange(len(keys), dtype=np.int64)
    assert looked_up(db, keys, owners) == joined(db, keys, owners)
    assert len(joined(db, keys, owners)) >= 300


def test_a_lookup_capped_per_key_gives_the_first_stored_rows_of_each_key(tmp_path: Path, small_slices):
    # One story's copies hold the same band keys: capped, a query key brings at most that many of its stored rows,
    # across segments and slices, and every key that has rows still brings some.
    db = tmp_path / "w.duckdb"
    for seed in range(3):
        ingest_docs(db, docs(seed))
        ingest_docs(db, near_copies(seed))
    stored = np.array([k for k, _ in stored_band_keys(db)], dtype=np.int64)
    keys = np.unique(stored)
    owners = np.arange(len(keys), dtype=np.int64)
    full = joined(db, keys, owners)
    with warehouse.connect(db) as con:
        new, held = warehouse.index_of(con, BANDS).lookup(con, keys, owners, per_key=2)
    capped = sorted(zip(new.tolist(), held.tolist()))
    assert set(capped) <= set(full) and len(capped) < len(full)
    per_owner = np.bincount(new, minlength=len(keys))
    assert per_owner.min() >= 1 and per_owner.max() <= 2


def test_a_commit_whose_index_was_not_published_is_rebuilt_from_the_table(tmp_path: Path, monkeypatch):
    db = tmp_path / "w.duckdb"
    ingest_docs(db, docs(1))
    # The process dies between the commit and the publish: the table moved on, the manifest did not.
    monkeypatch.setattr(KeyIndex, "publish", lambda self, con: None)
    ingest_docs(db, docs(2))
    monkeypatch.undo()
    with pytest.raises(AssertionError):
        index_rows(db)
    with pytest.raises(AssertionError):
        signature_index_rows(db)
    # The next run's lookup sees the difference and rebuilds: the second run's passages are found.
    assert_found_again(db, 2)


def test_a_rolled_back_batch_leaves_the_index_as_it_was(tmp_path: Path, monkeypatch):
    db = tmp_path / "w.duckdb"
    ingest_docs(db, docs(1))
    before = (index_rows(db), signature_index_rows(db))

    def fail(*args, **kwargs):
        raise RuntimeError("disk full")

    monkeypatch.setattr(warehouse.load, "finish_run", fail)
    with pytest.raises(RuntimeError):
        ingest_docs(db, docs(2))
    monkeypatch.undo()
    assert (index_rows(db), signature_index_rows(db)) == before
    assert not (Path(f"{db}.bands") / "pending.json").exists()
    assert not (Path(f"{db}.signatures") / "pending.json").exists()


@pytest.mark.parametrize("suffix", [".bands", ".signatures"])
@pytest.mark.parametrize("damage", ["deleted", "truncated", "garbled", "restored"])
def test_a_missing_damaged_or_foreign_index_is_rebuilt(tmp_path: Path, damage: str, suffix: str):
    db = tmp_path / "w.duckdb"
    ingest_docs(db, docs(1))
    folder = Path(f"{db}{suffix}")
    if damage == "deleted":
        shutil.rmtree(folder)
    elif damage == "truncated":
        segment = next(folder.glob("*.owners"))
        segment.write_bytes(segment.read_bytes()[:-8])
    elif damage == "garbled":
        name = "lsh_bands" if suffix == ".bands" else "paragraph_fingerprints"
        (folder / "manifest.json").write_text('{"format": 1, "table": "%s", "segments": [{}]}' % name)
    else:
        # A warehouse restored from a copy taken before the last run, beside the newer index.
        shutil.copy(db, tmp_path / "backup.duckdb")
        ingest_docs(db, docs(2))
        shutil.copy(tmp_path / "backup.duckdb", db)
    assert_found_again(db, 1)


def test_a_batch_whose_keys_cannot_be_written_beside_commits_and_the_index_is_rebuilt(tmp_path: Path, monkeypatch):
    db = tmp_path / "w.duckdb"
    ingest_docs(db, docs(1))

    def disk_full(*args, **kwargs):
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(key_index, "_write", disk_full)
    summary = ingest_docs(db, docs(2))
    monkeypatch.undo()
    assert summary["files_new"] == len(texts(2))  # the index is a copy: the batch itself commits
    assert_found_again(db, 2)


def test_signatures_are_looked_up_as_the_table_holds_them(tmp_path: Path, small_slices):
    db = tmp_path / "w.duckdb"
    for seed in range(4):
        ingest_docs(db, docs(seed))
    stored = dict(table(db, "SELECT norm_hash, signature FROM paragraph_fingerprints"))
    wanted = np.array(sorted(stored)[::2] + [12345, -67890], dtype=np.int64)  # two hashes that are not stored
    with warehouse.connect(db) as con:
        keys, rows = warehouse.load.index_of(con, SIGNATURES).lookup(con, wanted, wanted)
    assert rows.dtype == np.dtype("<u4") and rows.shape == (len(wanted) - 2, 138)
    assert {k: r.tobytes() for k, r in zip(keys.tolist(), rows)} == {h: stored[h] for h in sorted(stored)[::2]}


def test_band_keys_are_computed_again_from_signatures_as_fingerprinting_made_them():
    import pyarrow as pa

    from flows.config import MinHashConfig
    from flows.fingerprint import fingerprint_paragraphs
    from flows.warehouse.load import _blobs

    cfg = MinHashConfig()
    fp = fingerprint_paragraphs([p.rstrip(".") for p in texts(3)[0]] + ["river bridge vote"], cfg)
    recipes = pa.array([cfg.fingerprint()] * len(fp.signatures))
    lists = key_index.band_key_lists(pa.chunked_array([_blobs(fp.signatures)]), recipes)
    assert lists.to_pylist() == fp.band_keys.tolist() and len(lists[0]) == cfg.bands
    assert key_index.band_key_lists(_blobs(fp.signatures[:0]), recipes[:0]).to_pylist() == []
    with pytest.raises(ValueError, match="several MinHash recipes"):
        key_index.band_key_lists(_blobs(fp.signatures[:2]), pa.array([cfg.fingerprint(), MinHashConfig(seed=2).fingerprint()]))
    with pytest.raises(ValueError, match="too short"):
        key_index.band_key_lists(_blobs(fp.signatures[:, :9]), recipes)
