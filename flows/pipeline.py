"""The Prefect flows: thin wiring of the plain stages, one call per stage."""

from __future__ import annotations

import time
from collections import Counter, deque
from datetime import datetime, timezone
from typing import Any, Iterator

import duckdb
from prefect import flow, get_run_logger, task, unmapped
from prefect.artifacts import create_markdown_artifact
from prefect.cache_policies import NO_CACHE
from prefect.task_runners import TaskRunner
from prefect.utilities.annotations import quote

from flows import warehouse
from flows.config import Settings, load_settings
from flows.dedup import collect_batch, plan_dedup
from flows.containers import Work, container_paths, plan_work
from flows.discover import Discovery, chunked, discover_files
from flows.prepare import ChunkResult, merge_chunks, prepare_files, source_folder
from flows.progress import file_progress
from flows.runners import chunk_runner


@task(name="prepare-chunk", cache_policy=NO_CACHE)
def prepare_chunk(files: list, settings: Settings, templates: dict) -> ChunkResult:
    """Read, clean, split and fingerprint one chunk of files (pure: never touches the warehouse)."""
    return prepare_files(files, settings, templates)


@task(name="dedup-and-load", cache_policy=NO_CACHE)
def dedup_and_load(con: duckdb.DuckDBPyConnection, run: warehouse.RunRecord, batch: ChunkResult, settings: Settings) -> Counter:
    """Match a batch against itself and everything stored (earlier batches included), then write it.

    Adds the seconds of the two stages to `batch.seconds`."""
    start = time.perf_counter()
    occurrences, variants = collect_batch(batch.documents, run.run_id, settings)
    plan = plan_dedup(occurrences, variants, warehouse.fetch_stored(con, variants, settings.candidate_floor), settings)
    planned = time.perf_counter()
    counts = warehouse.write_batch(con, run, [d.row for d in batch.documents], plan, batch.rejections, batch.unchanged)
    batch.seconds.update(dedup=planned - start, load=time.perf_counter() - planned)
    return counts


# Batches being prepared while the current one is deduplicated and written. With one, the workers sat idle whenever
# a batch's dedup took longer than the next batch's preparation (a batch of a story's hundreds of copies, say); two
# keep them busy, at the cost of holding one more prepared batch.
PREPARED_AHEAD = 2


def prepared_batches(found: Discovery, work: Work, settings: Settings, runner: TaskRunner,
                     templates: dict) -> Iterator[tuple[ChunkResult, bool]]:
    """The run's files and containers' records in batches of `batch_files` documents (and `batch_bytes` input
    bytes, when set), each prepared by parallel chunk tasks on `runner`, with whether it is the last; the next
    `PREPARED_AHEAD` batches are already being prepared while the current one is deduplicated and written. Chunks
    are merged in file order, whichever finishes first."""
    batches = chunked(work.items, settings.batch_files, settings.batch_bytes) or [[]]
    submit = lambda files: runner.map(prepare_chunk, {  # noqa: E731
        "files": chunked(files, settings.chunk_files), "settings": unmapped(settings), "templates": unmapped(templates)})
    pending = deque(map(submit, batches[:PREPARED_AHEAD]))
    for i in range(len(batches)):
        if i + PREPARED_AHEAD < len(batches):
            pending.append(submit(batches[i + PREPARED_AHEAD]))
        last = i == len(batches) - 1
        yield merge_chunks(pending.popleft().result(), found.rejected + work.rejected if i == 0 else []), last


@flow(name="ingest", validate_parameters=False)
def ingest_flow(raw: str | None = None, warehouse_path: str | None = None, options: dict[str, Any] | None = None) -> dict:
    """One ingest pass: drop folder -> cleaned, deduplicated paragraphs in the warehouse (a transaction a batch)."""
    settings = load_settings({"raw": raw, "warehouse": warehouse_path, **(options or {})})
    log = get_run_logger()
    started = datetime.now(timezone.utc).replace(tzinfo=None)
    # The connection is held for the whole run: DuckDB's file lock makes this the only writer.
    with warehouse.connect(settings.warehouse, memory_limit=settings.duckdb_memory,
                           wait_seconds=settings.lock_wait_seconds, on_wait=log.warning) as con:
        warehouse.check_settings(con, settings)
        run = warehouse.RunRecord(warehouse.next_run_id(con), started, str(settings.raw), settings.threshold,
                                  settings.minhash.fingerprint())

        # 1. discover: files that are new or changed since the last run
        found = discover_files(settings.raw, warehouse.known_files(con), settings.settle_seconds)
        log.info("discover: %d to read, %d unchanged, %d rejected, %d still being written (next run)",
                 len(found.files), found.unchanged, len(found.rejected), found.pending)

        # 1b. scan JSON Lines and WARC files: their new records, in slices that chunk like files
        work = plan_work(found.files, warehouse.container_states(con, container_paths(found.files)), settings)
        log.info("scan: %d records to read, %d unchanged, %d rejected, skipped: %s",
                 work.records(), work.unchanged, len(work.rejected), dict(work.skipped))

        # Template passages learned from each source folder's files so far, dropped from its new files.
        templates = warehouse.template_hashes(con, settings, {source_folder(f.source_path) for f in found.files})
        counts = Counter(files_unchanged=found.unchanged + work.unchanged, records_skipped=work.skipped.total())
        seconds, dropped = Counter(), 0
        # 2. read -> clean -> split -> fingerprint, one task per chunk of files on the configured task runner
        todo = work.documents() + len(found.rejected) + len(work.rejected)
        with chunk_runner(settings, work.documents()) as runner, file_progress(todo) as advance:
            for batch, last in prepared_batches(found, work, settings, runner, templates):
                # 3. dedup against the batch and everything stored, 4. write, and commit: whole files only.
                #    The containers' new states and the runs row go in the last batch's transaction, so a run
                #    of one batch is all or nothing, and a container is read again from where it was until then.
                with warehouse.transaction(con):
                    # quote: Prefect would otherwise walk every document of the batch looking for futures.
                    counts += dedup_and_load(con, run, quote(batch), settings)
                    summary = ({"run_id": run.run_id, **warehouse.finish_run(con, run, counts, work.scans)}
                               if last else None)
                seconds += batch.seconds
                dropped += batch.template_paragraphs
                advance(len(batch.documents) + len(batch.rejections) + len(batch.unchanged))
                log.info("batch: %s", dict(counts))

    # 6. publish the run summary
    elapsed = (datetime.now(timezone.utc).replace(tzinfo=None) - started).total_seconds()
    create_markdown_artifact(key="ingest-summary", markdown=summary_markdown(summary, elapsed, settings.warehouse),
                             description="docdedup run summary")
    log.info("load: %s", summary)
    log.info("seconds per stage (summed over workers): %s", {k: round(v, 2) for k, v in seconds.items()})
    return {**summary, "paragraphs_template": dropped, "files_pending": found.pending, "seconds": dict(seconds)}


def summary_markdown(summary: dict, seconds: float, warehouse_path) -> str:
    """The run summary as a Markdown table (the Prefect artifact), then the run's row of the report's run history."""
    lines = ["| what | count |", "|---|---|"] + [f"| {k} | {v} |" for k, v in summary.items()]
    lines += ["", "Run history (the report's chart: `docdedup report --warehouse " f"{warehouse_path}`):", "",
              "| run | files | paragraphs | seconds |", "|---|---|---|---|",
              f"| {summary['run_id']} | {summary['files_new']} | {summary['paragraphs_total']} | {seconds:.1f} |"]
    return "\n".join(lines)
