"""The Prefect flows: thin wiring of the plain stages, one call per stage."""

from __future__ import annotations

from datetime import datetime, timezone
from typing import Any

from prefect import flow, get_run_logger, task, unmapped
from prefect.artifacts import create_markdown_artifact
from prefect.cache_policies import NO_CACHE

from flows import warehouse
from flows.config import Settings, load_settings
from flows.dedup import collect_batch, plan_dedup
from flows.discover import chunked, discover_files
from flows.prepare import ChunkResult, merge_chunks, prepare_files


@task(name="prepare-chunk", cache_policy=NO_CACHE)
def prepare_chunk(files: list, settings: Settings) -> ChunkResult:
    """Read, clean, split and fingerprint one chunk of files (pure: never touches the warehouse)."""
    return prepare_files(files, settings)


@flow(name="ingest", validate_parameters=False)
def ingest_flow(raw: str | None = None, warehouse_path: str | None = None, options: dict[str, Any] | None = None) -> dict:
    """One ingest pass: drop folder -> cleaned, deduplicated paragraphs in the warehouse (one transaction)."""
    settings = load_settings({"raw": raw, "warehouse": warehouse_path, **(options or {})})
    log = get_run_logger()
    started = datetime.now(timezone.utc).replace(tzinfo=None)
    # The connection is held for the whole run: DuckDB's file lock makes this the only writer.
    with warehouse.connect(settings.warehouse) as con:
        warehouse.check_settings(con, settings)
        run_id = warehouse.next_run_id(con)

        # 1. discover: files that are new or changed since the last run
        found = discover_files(settings.raw, warehouse.known_files(con))
        log.info("discover: %d to read, %d unchanged, %d rejected", len(found.files), found.unchanged, len(found.rejected))

        # 2. read -> clean -> split -> fingerprint, one task per chunk of files
        futures = prepare_chunk.map(chunked(found.files, settings.chunk_files), unmapped(settings))
        batch = merge_chunks(futures.result(), found.rejected)
        log.info("prepare: %d documents, %d rejected", len(batch.documents), len(batch.rejections))

        # 3. dedup: exact + LSH candidates against the batch and the warehouse, verified, clustered
        occurrences, variants = collect_batch(batch.documents, run_id, settings)
        plan = plan_dedup(occurrences, variants, warehouse.fetch_stored(con, variants), settings)
        log.info("dedup: %s", plan.counts)

        # 4. load: one transaction, the runs row last
        record = warehouse.RunRecord(
            run_id, started, str(settings.raw), len(batch.documents), found.unchanged + len(batch.unchanged),
            len(batch.rejections), settings.threshold, settings.minhash.fingerprint(),
        )
        summary = warehouse.load_run(con, record, [d.row for d in batch.documents], plan, batch.rejections, batch.unchanged)

    # 5. publish the run summary
    summary = {"run_id": run_id, **summary}
    create_markdown_artifact(key="ingest-summary", markdown=summary_markdown(summary), description="docdedup run summary")
    log.info("load: %s", summary)
    return summary


def summary_markdown(summary: dict) -> str:
    """The run summary as a Markdown table (the Prefect artifact)."""
    lines = ["| what | count |", "|---|---|"] + [f"| {k} | {v} |" for k, v in summary.items()]
    return "\n".join(lines)
