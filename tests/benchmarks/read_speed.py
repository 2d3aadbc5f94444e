"""The read stage alone, on one core: seconds per 100 MB of article files, beside reading and hashing the same bytes.

The whole-run issue asks the read stage (open, read, SHA-256, encoding check and decode, format sniffing, the
`.meta.json` sidecar) to cost about what the disk and the hash cost: at most 3 s per 100 MB on one core. Here, on
the whole-run benchmark's corpus (whole_run.py's `corpus`, built unless cached), one process times
`flows.prepare`'s reading of every discovered file against a baseline that only reads each file's bytes (and its
sidecar's) and hashes the file's, in alternating rounds after an untimed pass that warms the page cache: both sides
then measure the CPU, not the disk. Discovery (listing the folder, stat calls) is timed apart.

    python tests/benchmarks/read_speed.py [--files 20000] [--rounds 3] [--markdown]
"""

from __future__ import annotations

import argparse
import hashlib
import statistics
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).parent))

from figures_page import command_line, table, write_section  # noqa: E402
from whole_run import CACHE, corpus  # noqa: E402

from flows.config import Settings  # noqa: E402
from flows.discover import discover_files  # noqa: E402
from flows.prepare import _read_items  # noqa: E402
from flows.read import SIDECAR_SUFFIX, RawDocument  # noqa: E402

TARGET = 3.0  # seconds per 100 MB on one core


def read_and_hash(paths: list[Path]) -> int:
    """The baseline: every file's bytes and its sidecar's read, the file's hashed; returns the documents seen."""
    for path in paths:
        hashlib.sha256(path.read_bytes()).hexdigest()
        sidecar = path.with_name(path.name + SIDECAR_SUFFIX)
        if sidecar.exists():
            sidecar.read_bytes()
    return len(paths)


def read_stage(found: list, settings: Settings) -> int:
    """docdedup's read stage over the discovered files; returns the documents it read (not rejected)."""
    return sum(isinstance(item, RawDocument) for item in _read_items(found, settings))


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--files", type=int, default=20000)
    ap.add_argument("--rounds", type=int, default=3)
    ap.add_argument("--seed", type=int, default=1)
    ap.add_argument("--cache", default=str(CACHE))
    ap.add_argument("--markdown", action="store_true", help="write the figures into docs/benchmarks.md")
    args = ap.parse_args()
    raw = corpus(args.files, args.seed, Path(args.cache)) / "raw"
    settings = Settings()
    start = time.perf_counter()
    found = discover_files(raw, {}, 0).files
    discover = time.perf_counter() - start
    paths = [Path(f.path) for f in found]
    hundred_mb = sum(f.size for f in found) / 1e8
    read_and_hash(paths)  # warm the page cache: both sides then time the CPU, not the disk
    seconds: dict[str, list[float]] = {"read stage": [], "read and hash": []}
    for r in range(args.rounds):
        sides = [("read stage", lambda: read_stage(found, settings)), ("read and hash", lambda: read_and_hash(paths))]
        for name, run in (sides if r % 2 == 0 else sides[::-1]):
            start = time.perf_counter()
            done = run()
            seconds[name].append(time.perf_counter() - start)
            print(f"round {r + 1} {name}: {seconds[name][-1]:.2f} s ({done:,} documents)", flush=True)
    stage, base = (statistics.median(seconds[k]) for k in ("read stage", "read and hash"))
    body = (f"{len(found):,} files, {hundred_mb * 100:.0f} MB of article files (`{raw.parent.name}`), one process, warm page "
            f"cache, median of {args.rounds} alternating rounds; discovery of the folder took {discover:.2f} s. "
            f"Target: at most {TARGET:.0f} s per 100 MB on one core.\n\n"
            + table(["", "seconds", "s per 100 MB", "within target"],
                    [["read stage (read, hash, decode, sniff, sidecar)", stage, stage / hundred_mb,
                      "yes" if stage / hundred_mb <= TARGET else "no"],
                     ["read and hash the same bytes", base, base / hundred_mb, "–"]])
            + f"\n\nThe read stage costs {stage / base:.2f}x reading and hashing alone.")
    print(body)
    if args.markdown:
        write_section("read_speed.py", command_line(), body)


if __name__ == "__main__":
    main()
