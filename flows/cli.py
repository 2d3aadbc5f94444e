"""Command line: run, watch, serve, status, sql, search, export and report, thin shells over the flows and the warehouse."""

from __future__ import annotations

import argparse
import csv
import io
import json
import os
import sys
from datetime import date
from pathlib import Path
from typing import Sequence

from flows.config import ConfigError, load_settings

EPILOG_RUN = "example: docdedup run --raw raw/ --warehouse warehouse/docdedup.duckdb"
EPILOG_SQL = (
    'example: docdedup sql "SELECT text, n_occurrences FROM paragraphs ORDER BY 2 DESC LIMIT 5" --format csv\n'
    "         docdedup sql            (no query: an interactive read-only session; end statements with ;)"
)
EPILOG_SEARCH = 'example: docdedup search "Pentagon withdrawal" --limit 5'
EPILOG_WATCH = "example: docdedup watch --raw raw/ --warehouse warehouse/docdedup.duckdb"
EPILOG_SERVE = 'example: prefect server start &  then  PREFECT_API_URL=http://127.0.0.1:4200/api docdedup serve --cron "*/15 * * * *"'
EPILOG_STATUS = "example: docdedup status --limit 10"
EPILOG_EXPORT = "example: docdedup export exports/ --format parquet"
EPILOG_REPORT = "example: docdedup report --out report.html --since 2025-03-01 --top 10"


def _common(p: argparse.ArgumentParser) -> None:
    p.add_argument("--raw", metavar="DIR", help="drop folder (default raw/, env DOCDEDUP_RAW)")
    _warehouse(p)


def _warehouse(p: argparse.ArgumentParser) -> None:
    p.add_argument("--warehouse", metavar="FILE", help="DuckDB file (default warehouse/docdedup.duckdb, env DOCDEDUP_WAREHOUSE)")


def _ingest_options(p: argparse.ArgumentParser) -> None:
    """The knobs of an ingest pass, shared by run, watch and serve."""
    _common(p)
    p.add_argument("--threshold", type=float, help="near-duplicate Jaccard threshold (default 0.4)")
    p.add_argument("--max-file-bytes", type=int, help="reject files larger than this (default 20 MiB)")
    p.add_argument("--task-runner", choices=["auto", "threads", "processes", "dask"],
                   help="where chunk tasks run (default auto: processes for a run of more than one chunk on several cores, else threads; env DOCDEDUP_TASK_RUNNER)")
    p.add_argument("--workers", type=int, help="parallel chunk tasks (default 0: one thread, or one process per core)")
    p.add_argument("--dask-address", metavar="ADDR", help="existing Dask scheduler, e.g. tcp://10.0.0.5:8786 (implies --task-runner dask)")


def _output_format(p: argparse.ArgumentParser) -> None:
    p.add_argument("--format", choices=["table", "csv", "json"], default="table", help="output format (default table)")


def parser() -> argparse.ArgumentParser:
    """The argument parser of every command."""
    top = argparse.ArgumentParser(prog="docdedup", description="Ingest news articles, deduplicate passages, query them with SQL.")
    sub = top.add_subparsers(dest="command", required=True, metavar="COMMAND")
    run = sub.add_parser("run", help="ingest new and changed files from the drop folder", epilog=EPILOG_RUN)
    _ingest_options(run)
    watch = sub.add_parser("watch", help="ingest whenever files land in the drop folder (Ctrl-C stops)", epilog=EPILOG_WATCH)
    _ingest_options(watch)
    serve = sub.add_parser("serve", help="serve the ingest flow on a schedule (needs a Prefect server)", epilog=EPILOG_SERVE)
    _ingest_options(serve)
    when = serve.add_mutually_exclusive_group()
    when.add_argument("--cron", metavar="EXPR", help='cron schedule, e.g. "*/15 * * * *"')
    when.add_argument("--interval", type=float, metavar="SECONDS", help="run every SECONDS (default 300)")
    raw_epilog = argparse.RawDescriptionHelpFormatter
    sql = sub.add_parser("sql", help="run read-only SQL on the warehouse", epilog=EPILOG_SQL, formatter_class=raw_epilog)
    sql.add_argument("query", nargs="?", help="one SQL statement (omit for an interactive session)")
    _warehouse(sql)
    _output_format(sql)
    search = sub.add_parser("search", help="full-text search (BM25) over the passages", epilog=EPILOG_SEARCH)
    search.add_argument("words", help="what to look for")
    search.add_argument("--limit", type=int, default=10, help="how many passages (default 10)")
    _warehouse(search)
    _output_format(search)
    status = sub.add_parser("status", help="last runs, files waiting in the drop folder, rejected files", epilog=EPILOG_STATUS)
    status.add_argument("--limit", type=int, default=5, help="how many runs (default 5)")
    _common(status)
    export = sub.add_parser("export", help="write the tables and views to files", epilog=EPILOG_EXPORT)
    export.add_argument("dir", type=Path, help="output folder (created if missing)")
    export.add_argument("--format", choices=["parquet", "csv", "jsonl"], default="parquet", help="file format (default parquet)")
    _warehouse(export)
    report = sub.add_parser("report", help="one self-contained HTML page of how stories spread", epilog=EPILOG_REPORT)
    report.add_argument("--out", type=Path, default=Path("report.html"), metavar="FILE", help="page to write (default report.html)")
    report.add_argument("--since", type=date.fromisoformat, metavar="DATE",
                        help="only documents published (undated: ingested) on or after DATE, e.g. 2025-03-01")
    report.add_argument("--source", metavar="FOLDER", help="only documents under this folder of the drop folder")
    report.add_argument("--top", type=int, default=20, metavar="N", help="passages shown, and stories shown (default 20 each)")
    _warehouse(report)
    return top


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point of the `docdedup` console script."""
    args = parser().parse_args(argv)
    try:
        return COMMANDS[args.command](args)
    except KeyboardInterrupt:
        # A pass cut short rolled its unfinished batch back; the next pass completes it.
        print("interrupted", file=sys.stderr)
        return 130
    except ConfigError as err:
        return _fail(err)
    except Exception as err:
        import duckdb

        from flows.warehouse import WarehouseError

        if isinstance(err, (WarehouseError, FileNotFoundError, duckdb.Error)):
            return _fail(err)
        if args.command == "run":
            # Each batch is one transaction: what failed was rolled back (all of a run of one batch).
            return _fail(f"run failed, its unfinished batch rolled back: {type(err).__name__}: {err}")
        raise


def _fail(err: BaseException) -> int:
    print(f"Error: {err}", file=sys.stderr)
    return 1


def _preflight(args: argparse.Namespace):
    """Settings and flow options of an ingest command, checked before Prefect starts."""
    # Offline machines: Prefect's telemetry would only log errors.
    os.environ.setdefault("PREFECT_SERVER_ANALYTICS_ENABLED", "false")
    options = {"threshold": args.threshold, "max_file_bytes": args.max_file_bytes, "task_runner": args.task_runner,
               "workers": args.workers, "dask_address": args.dask_address}
    settings = load_settings({"raw": args.raw, "warehouse": args.warehouse, **options})
    # Fail fast, before starting Prefect, on what the flow would refuse anyway.
    if not settings.raw.is_dir():
        raise FileNotFoundError(f"drop folder {settings.raw} does not exist or is not a folder")
    from flows import warehouse

    with warehouse.connect(settings.warehouse, wait_seconds=settings.lock_wait_seconds, on_wait=_tell) as con:
        warehouse.check_settings(con, settings)
    return settings, {k: v for k, v in options.items() if v is not None}


def cmd_run(args: argparse.Namespace) -> int:
    """One ingest pass; prints the summary."""
    settings, options = _preflight(args)
    from flows.pipeline import ingest_flow

    summary = ingest_flow(str(settings.raw), str(settings.warehouse), options)
    print(format_summary(summary, settings.warehouse))
    return 0


def cmd_watch(args: argparse.Namespace) -> int:
    """Ingest what waits now, then whenever files land in the drop folder, until Ctrl-C."""
    settings, options = _preflight(args)
    from flows.pipeline import ingest_flow
    from flows.watch import watch_folder

    say = lambda message: print(message, flush=True)  # noqa: E731
    _sigterm_interrupts()
    say(f"watching {settings.raw} -> {settings.warehouse} (Ctrl-C stops)")
    passes = watch_folder(settings.raw, lambda: ingest_flow(str(settings.raw), str(settings.warehouse), options),
                          say, settings.settle_seconds)
    say(f"stopped after {passes} pass{'' if passes == 1 else 'es'}")
    return 0


def _sigterm_interrupts() -> None:
    """Stop on SIGTERM (a service manager's stop) the way Ctrl-C stops: the pass under way is rolled back."""
    import signal

    def interrupt(signum, frame):
        raise KeyboardInterrupt

    signal.signal(signal.SIGTERM, interrupt)


def cmd_serve(args: argparse.Namespace) -> int:
    """Serve the ingest flow as a Prefect deployment on a schedule, until Ctrl-C."""
    from prefect.settings import PREFECT_API_URL

    if not PREFECT_API_URL.value():
        raise ConfigError("schedules need a Prefect server: start one with `prefect server start` (it listens on "
                          "127.0.0.1:4200) and set PREFECT_API_URL=http://127.0.0.1:4200/api")
    settings, options = _preflight(args)
    from flows.pipeline import ingest_flow

    schedule = {"cron": args.cron} if args.cron else {"interval": args.interval or 300.0}
    params = {"raw": str(settings.raw.resolve()), "warehouse_path": str(settings.warehouse.resolve()), "options": options}
    ingest_flow.serve(name="docdedup-ingest", parameters=params, **schedule)
    return 0


def format_summary(s: dict, warehouse: Path) -> str:
    """The short run summary printed after `docdedup run`."""
    return (
        f"run {s['run_id']} -> {warehouse}\n"
        f"files: {s['files_new']} new, {s['files_unchanged']} skipped (unchanged), {s['files_rejected']} rejected"
        + (f", {s['files_pending']} still being written (left for the next run)" if s.get("files_pending") else "")
        + (f"; {s['records_skipped']} records skipped (not documents)" if s.get("records_skipped") else "")
        + "\n"
        f"paragraphs: {s['paragraphs_total']} total, {s.get('paragraphs_new', 0)} new, "
        f"{s.get('paragraphs_exact', 0)} exact duplicates, {s.get('paragraphs_near', 0)} near duplicates, "
        f"{s.get('paragraphs_contained', 0)} inside longer passages\n"
        f"seconds: {format_stage_seconds(s.get('seconds', {}))}\n"
        f"report: docdedup report --warehouse {warehouse}"
    )


def format_stage_seconds(seconds: dict) -> str:
    """Where a run's time went: the chunk stages summed over workers, then dedup and load in the flow."""
    stages = ["read", "clean", "fingerprint", "dedup", "load"]
    return ", ".join(f"{k} {seconds.get(k, 0.0):.2f}" for k in stages) + " (read to fingerprint summed over workers)"


def cmd_sql(args: argparse.Namespace) -> int:
    """Read-only SQL: one statement, or an interactive session when no query is given."""
    from flows import warehouse

    reader = _reader(args)
    if args.query is None:
        return sql_session(reader, args.format, sys.stdin, sys.stdout)
    with reader() as con:
        cols, rows = warehouse.query(con, args.query)
    sys.stdout.write(render(cols, rows, args.format))
    return 0


def _tell(message: str) -> None:
    print(message, file=sys.stderr, flush=True)


def _reader(args: argparse.Namespace):
    """Opens the warehouse read-only, waiting (and saying so) while a run holds it."""
    from flows import warehouse

    settings = load_settings({"warehouse": args.warehouse})
    return lambda: warehouse.connect(settings.warehouse, read_only=True, wait_seconds=settings.lock_wait_seconds,
                                     on_wait=_tell)


def sql_session(reader, fmt: str, stdin, stdout) -> int:
    """A small read-only SQL shell: statements end with ';', errors are reported and the session goes on.

    The warehouse is opened for each statement and closed after it (`reader()`), so an idle session
    never keeps a run from writing."""
    import duckdb

    from flows import warehouse

    interactive = stdin.isatty()
    if interactive:
        stdout.write("docdedup SQL (read-only). End statements with ';'. .tables lists tables and views; .quit or Ctrl-D leaves.\n")
    buffer = ""
    while True:
        if interactive:
            stdout.write("docdedup> " if not buffer else "     ...> ")
            stdout.flush()
        line = stdin.readline()
        if not line:
            break
        if not buffer and line.strip() in (".quit", ".exit"):
            break
        if not buffer and line.strip() == ".tables":
            line = "SELECT table_name, table_type FROM information_schema.tables WHERE table_schema = 'main' ORDER BY 1;"
        buffer += line
        if not buffer.rstrip().endswith(";"):
            continue
        try:
            with reader() as con:
                for statement in duckdb.extract_statements(buffer):
                    cols, rows = warehouse.query(con, statement)
                    if cols:
                        stdout.write(render(cols, rows, fmt))
        except (duckdb.Error, warehouse.WarehouseError) as err:
            stdout.write(f"Error: {err}\n")
        buffer = ""
    if interactive:
        stdout.write("\n")
    return 0


def cmd_search(args: argparse.Namespace) -> int:
    """Best-matching passages with the documents that carry them."""
    from flows import warehouse

    with _reader(args)() as con:
        cols, rows = warehouse.search(con, args.words, args.limit)
    sys.stdout.write(render(cols, rows, args.format))
    return 0


def cmd_status(args: argparse.Namespace) -> int:
    """The last runs, the files waiting in the drop folder, and the files rejected."""
    from flows import warehouse
    from flows.discover import discover_files
    from flows.read import known_content

    settings = load_settings({"raw": args.raw, "warehouse": args.warehouse})
    if not settings.warehouse.exists():
        print(f"warehouse {settings.warehouse}: not created yet (`docdedup run` creates it)")
        return 0
    try:  # no waiting: a warehouse held by a run is the news
        with warehouse.connect(settings.warehouse, read_only=True) as con:
            report, known = warehouse.status(con, args.limit), warehouse.known_files(con)
    except warehouse.WarehouseError as err:
        if "in use by" not in str(err):
            raise
        print(f"busy: {err}")
        return 0
    (documents, passages), = report["totals"][1]
    print(f"warehouse {settings.warehouse}: {documents} documents, {passages} passages\n\nlast runs")
    sys.stdout.write(render(*report["runs"], "table"))
    if settings.raw.is_dir():
        found = discover_files(settings.raw, known, settings.settle_seconds)
        waiting = [f.source_path for f in found.files if not known_content(f)] + [r.source_path for r in found.rejected]
        print(f"\ndrop folder {settings.raw}: {len(waiting) + found.pending} files waiting for the next run"
              + (f" ({found.pending} still being written)" if found.pending else ""))
        for name in waiting[:10]:
            print(f"  {name}")
        if len(waiting) > 10:
            print(f"  ... and {len(waiting) - 10} more")
    else:
        print(f"\ndrop folder {settings.raw}: does not exist")
    print("\nrejected files")
    sys.stdout.write(render(*report["rejected"], "table"))
    return 0


def cmd_export(args: argparse.Namespace) -> int:
    """Tables and views to parquet, CSV or JSON-lines files."""
    from flows import warehouse

    with _reader(args)() as con:
        written = warehouse.export(con, args.dir, args.format)
    print(f"wrote {len(written)} files to {args.dir}: " + ", ".join(p.name for p in written))
    return 0


def cmd_report(args: argparse.Namespace) -> int:
    """The HTML page of how stories spread, from aggregates of the warehouse."""
    from flows import warehouse
    from flows.report import plural, write_report

    if args.top < 1:
        raise ConfigError("--top must be 1 or more")
    settings = load_settings({"warehouse": args.warehouse})
    with _reader(args)() as con:
        data = warehouse.story_data(con, settings, args.since, args.source, args.top)
    scope = ", ".join([f"documents under {args.source}/" if args.source else "all documents"]
                      + ([f"published (undated: ingested) since {args.since}"] if args.since else []))
    size = write_report(data, args.out, f"How stories spread: {settings.warehouse.name}", scope)
    print(f"wrote {args.out} ({size / 1024:.0f} KiB): {plural(len(data.passages), 'passage')}, "
          f"{plural(len(data.stories), 'story')}, {plural(len(data.runs), 'run')}")
    return 0


COMMANDS = {"run": cmd_run, "watch": cmd_watch, "serve": cmd_serve, "sql": cmd_sql, "search": cmd_search, "status": cmd_status,
            "export": cmd_export, "report": cmd_report}


def render(cols: list[str], rows: list[tuple], fmt: str) -> str:
    """Format a result as an aligned text table, CSV or a JSON array of objects."""
    if fmt == "json":
        return json.dumps([dict(zip(cols, r)) for r in rows], default=str, ensure_ascii=False, indent=2) + "\n"
    if fmt == "csv":
        buf = io.StringIO()
        w = csv.writer(buf, lineterminator="\n")
        w.writerow(cols)
        w.writerows(rows)
        return buf.getvalue()
    cells = [[_cell(v) for v in r] for r in rows]
    widths = [max([len(c)] + [len(r[i]) for r in cells]) for i, c in enumerate(cols)]
    line = lambda vals: "  ".join(v.ljust(w) for v, w in zip(vals, widths)).rstrip()  # noqa: E731
    out = [line(cols), line(["-" * w for w in widths])] + [line(r) for r in cells]
    out.append(f"({len(rows)} row{'s' if len(rows) != 1 else ''})")
    return "\n".join(out) + "\n"


def _cell(v: object, limit: int = 80) -> str:
    s = "NULL" if v is None else str(v).replace("\n", " ")
    return s if len(s) <= limit else s[: limit - 1] + "…"


if __name__ == "__main__":
    sys.exit(main())
