"""Scale-out: throughput and speed-up of one ingest run with 1, 2 and 4 workers, and where the time goes.

    python tests/benchmarks/scaleout.py [--files 20000] [--workers 1 2 4] [--runner dask] [--html-every 4] [--markdown]

Writes a corpus of generated articles (tests/benchmarks/scale.py: gold articles of ../shared/benchmarks and
their syndicated copies, with boilerplate; every `--html-every`-th one an HTML page), then ingests all of it
into a fresh warehouse once per worker count, each run in its own child process, and prints files/s, the
speed-up against the first worker count (measured in the same invocation) and the seconds of each stage:
read, clean (and split) and fingerprint summed over the workers, dedup and load in the flow process.
Wall time is the whole child process, Prefect's start-up included.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(Path(__file__).parent))

from figures_page import command_line, table, write_section  # noqa: E402

STAGES = ["read", "clean", "fingerprint", "dedup", "load"]


def child(raw: str, warehouse: str, runner: str, workers: int) -> None:
    """One ingest run; prints its summary as JSON on the last line."""
    os.environ.setdefault("PREFECT_SERVER_ANALYTICS_ENABLED", "false")
    from flows.pipeline import ingest_flow

    summary = ingest_flow(raw, warehouse, {"task_runner": runner, "workers": workers})
    print(json.dumps(summary))


def run(raw: Path, warehouse: Path, runner: str, workers: int) -> tuple[float, dict]:
    """Wall seconds and summary of one ingest run in a child process."""
    start = time.perf_counter()
    out = subprocess.run([sys.executable, __file__, "--child", str(raw), str(warehouse), runner, str(workers)],
                         capture_output=True, text=True, check=True)
    return time.perf_counter() - start, json.loads(out.stdout.strip().splitlines()[-1])


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--files", type=int, default=20000)
    ap.add_argument("--workers", type=int, nargs="+", default=[1, 2, 4])
    ap.add_argument("--runner", choices=["threads", "processes", "dask"], default="dask")
    ap.add_argument("--html-every", type=int, default=4)
    ap.add_argument("--markdown", action="store_true", help="write the figures into docs/benchmarks.md")
    ap.add_argument("--child", nargs=4, metavar=("RAW", "WAREHOUSE", "RUNNER", "WORKERS"), help=argparse.SUPPRESS)
    args = ap.parse_args()
    if args.child:
        raw, warehouse, runner, workers = args.child
        return child(raw, warehouse, runner, int(workers))

    import scale

    if not (scale.syndication.SHARED / "benchmarks" / "article-extraction").is_dir():
        print("needs ../shared/benchmarks/article-extraction")
        return
    with tempfile.TemporaryDirectory() as tmp:
        raw = Path(tmp) / "raw"
        paragraphs = scale.write_files(raw, args.files, seed=1, html_every=args.html_every)
        corpus = (f"corpus: {args.files} files ({args.files // args.html_every if args.html_every else 0} HTML), "
                  f"{paragraphs} paragraphs; runner {args.runner}; {os.cpu_count()} cores")
        print(corpus)
        print(f"{'workers':>7} {'wall s':>7} {'files/s':>8} {'speed-up':>8}  " + " ".join(f"{s:>11}" for s in STAGES))
        base, rows = None, []
        for workers in args.workers:
            wall, summary = run(raw, Path(tmp) / f"w{workers}.duckdb", args.runner, workers)
            assert summary["files_new"] + summary["files_rejected"] == args.files, summary
            base = base or wall
            seconds = summary["seconds"]
            print(f"{workers:>7} {wall:>7.1f} {args.files / wall:>8.1f} {base / wall:>7.2f}x  "
                  + " ".join(f"{seconds.get(s, 0.0):>11.1f}" for s in STAGES))
            rows.append([workers, f"{wall:.1f}", f"{args.files / wall:.1f}", f"{base / wall:.2f}x",
                         *(f"{seconds.get(s, 0.0):.1f}" for s in STAGES)])
    if args.markdown:
        header = ["workers", "wall s", "files/s", "speed-up", *(f"{s} s" for s in STAGES)]
        write_section("scaleout.py", command_line(), f"{corpus}; read, clean and fingerprint seconds summed over the "
                      f"workers.\n\n{table(header, rows)}")


if __name__ == "__main__":
    main()
