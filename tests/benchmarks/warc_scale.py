"""A large WARC file through `docdedup run`: records per second and peak resident memory.

Writes a WARC of generated news pages (with warcio's writer, as a crawler would: a request, a response and a
metadata record a page, and a 404 every twentieth page) of about --size-mb megabytes, then ingests it with
`docdedup run` in a child process. A container is read a record at a time, so peak memory should not follow
the file's size (the issue's bar: at most 1 GiB for 1 GB). Pages share a site's navigation and footer and, one in
four, a wire passage, so boilerplate removal and dedup have their usual work.

    python tests/benchmarks/warc_scale.py [--size-mb 1024] [--gzip] [--workers N] [--as-files] [--markdown]
"""

from __future__ import annotations

import argparse
import io
import os
import random
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(Path(__file__).parent))

from warcio.statusandheaders import StatusAndHeaders  # noqa: E402
from warcio.warcwriter import WARCWriter  # noqa: E402

from figures_page import command_line, table, write_section  # noqa: E402

SITES = 20


def vocabulary(rng: random.Random, n: int = 3000) -> list[str]:
    """Made-up words of 2 to 10 letters, with a few short ones made common."""
    letters = "etaoinshrdlucmfwypvbgkjqxz"
    words = ["".join(rng.choices(letters[:18], k=rng.randint(2, 10))) for _ in range(n)]
    return words[:40] * 20 + words  # a skewed distribution, like prose


def sentence(rng: random.Random, words: list[str]) -> str:
    return " ".join(rng.choices(words, k=rng.randint(8, 22))).capitalize() + "."


def paragraph(rng: random.Random, words: list[str]) -> str:
    return " ".join(sentence(rng, words) for _ in range(rng.randint(2, 5)))


def site_chrome(rng: random.Random, words: list[str], site: int) -> tuple[str, str]:
    """A site's header (navigation, scripts) and footer, the same on each of its pages."""
    nav = "".join(f'<li><a href="/s{site}/{w}">{w.title()}</a></li>' for w in rng.sample(words, 40))
    script = "<script>var cfg = {" + ",".join(f'"{w}": {rng.randint(0, 9999)}' for w in rng.sample(words, 300)) + "};</script>"
    footer = "".join(f"<p>{sentence(rng, words)}</p>" for _ in range(4))
    return (f"<header><nav><ul>{nav}</ul></nav></header>{script}",
            f"<footer>{footer}<p>Copyright Site {site}. All rights reserved.</p></footer>")


def page(rng: random.Random, words: list[str], chrome: tuple[str, str], wire: list[str], n: int) -> bytes:
    title = sentence(rng, words)[:-1]
    body = [paragraph(rng, words) for _ in range(rng.randint(6, 14))]
    if n % 4 == 0:
        body[1:1] = wire
    article = "".join(f"<p>{p}</p>" for p in body)
    return (f"<!DOCTYPE html><html><head><title>{title}</title>"
            f'<meta property="article:published_time" content="2025-03-{1 + n % 28:02d}T08:00:00Z"></head><body>'
            f"{chrome[0]}<main><article><h1>{title}</h1>{article}</article></main>{chrome[1]}</body></html>").encode()


def write_warc(path: Path, size_bytes: int, gzipped: bool, pages_to: Path | None = None) -> int:
    """A WARC of about `size_bytes`; returns the number of pages (200 HTML responses) in it. With `pages_to`, the
    same pages go there as .html files instead (the baseline: the pipeline's own memory on the same documents)."""
    rng = random.Random(7)
    words = vocabulary(rng)
    chrome = [site_chrome(rng, words, s) for s in range(SITES)]
    wire = [paragraph(rng, words) for _ in range(3)]
    pages = 0
    with open(path, "wb") as fh:
        writer = WARCWriter(fh, gzip=gzipped)
        writer.write_record(writer.create_warcinfo_record(path.name, {"software": "warc_scale.py"}))
        n = 0
        while fh.tell() < size_bytes:
            site, n = n % SITES, n + 1
            uri = f"https://site{site}.example/story/{n}"
            writer.write_record(writer.create_warc_record(uri, "request", payload=io.BytesIO(
                f"GET /story/{n} HTTP/1.1\r\nHost: site{site}.example\r\n\r\n".encode())))
            status, body = ("404 Not Found", b"<html><body>Not found</body></html>") if n % 20 == 0 else (
                "200 OK", page(rng, words, chrome[site], wire, n))
            if pages_to and status.startswith("200"):
                (pages_to / f"site{site}-{n}.html").write_bytes(body)
            headers = StatusAndHeaders(status, [("Content-Type", "text/html; charset=utf-8")], protocol="HTTP/1.1")
            writer.write_record(writer.create_warc_record(uri, "response", payload=io.BytesIO(body), http_headers=headers))
            writer.write_record(writer.create_warc_record(uri, "metadata", payload=io.BytesIO(b"fetchTimeMs: 120\r\n"),
                                                          warc_content_type="application/warc-fields"))
            pages += status.startswith("200")
    return pages


def run(raw: Path, db: Path, workers: int) -> tuple[float, float, str]:
    """`docdedup run` in a child process: wall seconds, the peak resident memory of any child (MiB), its output."""
    cli = Path(sys.executable).parent / "docdedup"
    env = dict(os.environ, PREFECT_SERVER_ANALYTICS_ENABLED="false", PREFECT_LOGGING_LEVEL="WARNING",
               DOCDEDUP_SETTLE_SECONDS="0")
    start = time.perf_counter()
    proc = subprocess.run([str(cli), "run", "--raw", str(raw), "--warehouse", str(db), "--workers", str(workers)],
                          env=env, capture_output=True, text=True)
    seconds = time.perf_counter() - start
    if proc.returncode:
        sys.exit(proc.stderr[-3000:])
    return seconds, resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss / 1024, proc.stdout.strip()


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--size-mb", type=float, default=1024, help="size of the WARC file to write (default 1024)")
    ap.add_argument("--gzip", action="store_true", help="write .warc.gz, a gzip member a record (the size is on disk)")
    ap.add_argument("--workers", type=int, default=0, help="docdedup run --workers (default 0)")
    ap.add_argument("--as-files", action="store_true", help="ingest the same pages as .html files instead (baseline)")
    ap.add_argument("--markdown", action="store_true", help="write the figures into docs/benchmarks.md")
    args = ap.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        raw = Path(tmp) / "raw"
        raw.mkdir()
        warc = Path(tmp) / ("crawl.warc.gz" if args.gzip else "crawl.warc")
        t = time.perf_counter()
        pages = write_warc(warc, int(args.size_mb * 1e6), args.gzip, raw if args.as_files else None)
        size = warc.stat().st_size
        if not args.as_files:
            warc = warc.rename(raw / warc.name)
        print(f"wrote {warc.name}: {size / 1e6:,.0f} MB, {pages:,} pages in {time.perf_counter() - t:.0f} s"
              + (" (ingesting them as .html files)" if args.as_files else ""), flush=True)
        seconds, peak, out = run(raw, Path(tmp) / "w.duckdb", args.workers)
        print(out)
    print(f"{pages:,} pages in {seconds:.0f} s: {pages / seconds:.1f} records/s, peak resident memory {peak:,.0f} MiB")
    row = ["pages as .html files" if args.as_files else warc.name, f"{size / 1e6:,.0f}", f"{pages:,}", f"{seconds:.0f}", f"{pages / seconds:.1f}", f"{peak:,.0f}"]
    what = ("the pages of that WARC as .html files" if args.as_files else
            "one WARC of generated pages (a request, a response and a metadata record a page; a 404 every twentieth)")
    body = (f"`docdedup run` in a child process on {what}.\n\n"
            + table(["file", "MB", "pages", "wall s", "records/s", "peak MiB"], [row]))
    if args.markdown:
        write_section(f"warc_scale.py{' --as-files' if args.as_files else ''}", command_line(), body)


if __name__ == "__main__":
    main()
