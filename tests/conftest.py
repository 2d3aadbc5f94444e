"""Shared fixtures: paths to ../shared data (skipped when absent) and one Prefect test harness per session."""

from __future__ import annotations

import os
import shutil
from pathlib import Path

import pytest

os.environ.setdefault("PREFECT_SERVER_ANALYTICS_ENABLED", "false")
# Tests write files and ingest them at once; test_discover covers the settle window itself.
os.environ["DOCDEDUP_SETTLE_SECONDS"] = "0"

ROOT = Path(__file__).resolve().parent.parent
SHARED = ROOT.parent / "shared"
EXAMPLES = ROOT / "raw" / "examples"


@pytest.fixture(scope="session")
def seeds_dir() -> Path:
    """../shared/seeds, the five real articles on one story."""
    path = SHARED / "seeds"
    if not path.is_dir():
        pytest.skip("../shared/seeds is not available")
    return path


@pytest.fixture
def seeds_copy(seeds_dir: Path, tmp_path: Path) -> Path:
    """A writable copy of the seeds as a drop folder."""
    raw = tmp_path / "raw"
    shutil.copytree(seeds_dir, raw)
    return raw


@pytest.fixture(scope="session")
def prefect_harness():
    """One temporary Prefect API for every flow test of the session."""
    from prefect.testing.utilities import prefect_test_harness

    with prefect_test_harness(server_startup_timeout=120):
        yield


def make_doc(source_path: str, paragraphs: list[str], published=None, settings=None):
    """A PreparedDocument built straight from paragraphs (no file, no cleaning)."""
    import hashlib

    from flows.config import Settings
    from flows.prepare import document_id, fingerprint_documents
    from flows.records import DocumentRow

    sha = hashlib.sha256("\n\n".join(paragraphs).encode()).hexdigest()
    row = DocumentRow(document_id(source_path, sha), source_path, sha, 1, 0, "text", "utf-8", "text",
                      None, None, published, None, None, "en", len(paragraphs))
    return fingerprint_documents([(row, paragraphs)], settings or Settings())[0]


def ingest_docs(warehouse_path, docs, settings=None) -> dict:
    """Dedup and load prepared documents as one run, the way the flow does, without Prefect."""
    from datetime import datetime

    from flows import warehouse
    from flows.config import Settings
    from flows.dedup import collect_batch, plan_dedup

    settings = settings or Settings()
    with warehouse.connect(warehouse_path) as con:
        run_id = warehouse.next_run_id(con)
        occurrences, variants = collect_batch(docs, run_id, settings)
        plan = plan_dedup(occurrences, variants, warehouse.fetch_stored(con, variants, settings.candidate_floor), settings)
        record = warehouse.RunRecord(run_id, datetime(2025, 1, 1), "raw", settings.threshold, settings.minhash.fingerprint())
        return warehouse.load_run(con, record, [d.row for d in docs], plan, [], [])


def snapshot(db, across_runs: bool = False) -> dict[str, list]:
    """Every content table, rows sorted, minus wall-clock columns (and run ids, to compare across runs)."""
    run = ", run_id" if across_runs else ""
    queries = {
        "documents": f"SELECT * EXCLUDE (ingested_at{run}) FROM documents",
        "paragraphs": "SELECT * FROM paragraphs",
        "document_paragraphs": "SELECT * FROM document_paragraphs",
        "rejected_files": f"SELECT * EXCLUDE (rejected_at{run}) FROM rejected_files",
        "paragraph_fingerprints": "SELECT * FROM paragraph_fingerprints",
        "passage_links": f"SELECT * {'EXCLUDE (run_id)' if across_runs else ''} FROM passage_links",
    }
    return {t: sorted(table(db, q), key=repr) for t, q in queries.items()}


def table(warehouse_path, sql: str) -> list[tuple]:
    """Rows of a query on a warehouse file, opened read-only."""
    from flows import warehouse

    with warehouse.connect(warehouse_path, read_only=True) as con:
        return con.execute(sql).fetchall()


def band_index_rows(db: Path) -> list[tuple[int, int]]:
    """Every (band_key, norm_hash) the band-key index holds (see `index_rows`)."""
    return index_rows(db)


def stored_band_keys(db: Path) -> list[tuple[int, int]]:
    """(band_key, norm_hash) of every band key of the stored fingerprints that have them, sorted: computed here, in
    Python, from each stored signature with the default recipe (what the band-key index must hold)."""
    import numpy as np

    from flows.config import Settings
    from flows.fingerprint import band_keys

    rows = table(db, "SELECT norm_hash, signature FROM paragraph_fingerprints WHERE banded")
    if not rows:
        return []
    matrix = np.frombuffer(b"".join(signature for _, signature in rows), "<u4").reshape(len(rows), -1)
    keys = band_keys(matrix, Settings().minhash).tolist()
    return sorted((key, h) for (h, _), row in zip(rows, keys) for key in row)


def signature_index_rows(db: Path) -> list[tuple[int, bytes]]:
    """Every (norm_hash, signature) the signature index holds, the signature as the table stores it (see `index_rows`)."""
    from flows.warehouse.key_index import SIGNATURES

    return index_rows(db, SIGNATURES)


def index_rows(db: Path, spec=None) -> list[tuple]:
    """Every (key, value) an index beside the warehouse holds (the band keys by default), checking each segment is
    sorted and the manifest current; a row of values is returned as the bytes the table holds."""
    import numpy as np

    from flows.warehouse.key_index import BANDS, KeyIndex

    spec = spec or BANDS
    index = KeyIndex(Path(f"{db}{spec.suffix}"), spec)
    manifest = index._manifest()
    assert manifest is not None, "no usable index"
    state = table(db, f"SELECT n_rows, token FROM key_index_state WHERE table_name = '{spec.table}'")[0]
    assert (manifest["rows"], manifest["token"]) == state
    rows = []
    for segment in manifest["segments"]:
        keys_path, owners_path = index._files(segment["name"])
        keys, values = np.fromfile(keys_path, "<i8"), np.fromfile(owners_path, spec.dtype)
        assert (np.diff(keys) >= 0).all()
        if manifest["width"] == 1:
            rows += zip(keys.tolist(), values.tolist())
        else:
            rows += zip(keys.tolist(), (r.tobytes() for r in values.reshape(len(keys), manifest["width"])))
    return sorted(rows)
