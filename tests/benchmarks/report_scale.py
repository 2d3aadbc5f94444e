"""`docdedup report` on a large warehouse: seconds and page size at a million paragraph occurrences.

The warehouse is made by docdedup's own schema (warehouse.connect migrates a new file) and filled by bulk inserts
in SQL, not by ingesting files (that would take the better part of an hour and measure the pipeline, not the report):
`--rows` occurrences, 25 a document, in 40 runs; 40 % of the documents are originals, the rest exact copies of an
original drawn with a heavy tail (a few stories copied hundreds of times, most a few), published minutes to two days
after it, across 200 sites in 50 source folders. Passages, their counts and the runs rows are derived from the
occurrences, as the load would write them. The report runs in a child process, as a user runs it, timed from start
to exit; the issue asks for under 30 s and under 5 MB at a million.

    python tests/benchmarks/report_scale.py [--rows 1000000] [--top 20] [--markdown]

`--markdown` writes the figures into docs/benchmarks.md, replacing the previous ones.
"""

from __future__ import annotations

import argparse
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).parent))

from figures_page import ROOT, command_line, table, write_section  # noqa: E402

from flows import warehouse  # noqa: E402

PER_DOC, RUNS, SITES, FOLDERS, ORIGINAL_SHARE = 25, 40, 200, 50, 0.4

BUILD = """
CREATE TEMP TABLE gen AS
SELECT i, CASE WHEN i < $originals THEN i
               ELSE floor($originals * pow((hash(i) % 1000000) / 1e6, 3))::BIGINT END AS story
FROM range($docs) t(i);

INSERT INTO documents BY NAME
SELECT 'd' || i AS doc_id, 'feed-' || (i % $folders) || '/' || i || '.txt' AS source_path, md5(i::VARCHAR) AS sha256,
       3000 AS size_bytes, 0 AS mtime_ns, 1 AS version, 'text' AS format, 'utf-8' AS encoding, 'text' AS cleaner,
       'Story ' || story AS title, TIMESTAMP '2024-01-01' + INTERVAL 10 MINUTE * story
           + CASE WHEN i = story THEN INTERVAL 0 MINUTE ELSE INTERVAL 1 MINUTE * (1 + hash(i, 'delay') % 2880) END AS published,
       'site-' || (i % $sites) || '.example' AS site, 'en' AS language, $per_doc AS n_paragraphs,
       2800 AS text_chars, 400 + hash(i, 'boilerplate') % 800 AS boilerplate_chars,
       (hash(i, 'templates') % 3)::INTEGER AS template_paragraphs,
       TIMESTAMP '2025-01-01' + INTERVAL 1 SECOND * i AS ingested_at, 1 + i * $runs // $docs AS run_id
FROM gen;

INSERT INTO document_paragraphs
SELECT 'd' || i, p, md5('s' || story || '-' || p)[:16],
       'Story ' || story || ', paragraph ' || p || ': ' || repeat('the council voted on the harbor bridge repair ', 5),
       CASE WHEN i = story THEN 'new' ELSE 'exact' END, 1.0, (hash(story, p) // 2)::BIGINT
FROM gen, range($per_doc) t(p);

INSERT INTO paragraphs
SELECT paragraph_id, any_value(text), 'd' || min(story), min(position), count(*), count(DISTINCT doc_id), any_value(norm_hash)
FROM document_paragraphs JOIN (SELECT 'd' || i AS doc_id, story FROM gen) USING (doc_id)
GROUP BY paragraph_id;

INSERT INTO runs BY NAME
SELECT run_id, min(ingested_at) AS started_at, max(ingested_at) + INTERVAL 30 SECOND AS finished_at, 'raw' AS raw_dir,
       count(*) AS files_new, 0 AS files_unchanged, 0 AS files_rejected, sum(n_paragraphs) AS paragraphs_total,
       0 AS paragraphs_new, 0 AS paragraphs_exact, 0 AS paragraphs_near, 0.4 AS threshold, 'synthetic' AS minhash_config,
       '0.1.0' AS docdedup_version
FROM documents GROUP BY run_id;
"""


def build(db: Path, rows: int) -> float:
    """A warehouse of `rows` paragraph occurrences (see the module docstring); returns the seconds it took."""
    docs = rows // PER_DOC
    start = time.perf_counter()
    with warehouse.connect(db) as con:
        params = {"docs": docs, "originals": int(docs * ORIGINAL_SHARE), "per_doc": PER_DOC, "runs": RUNS,
                  "sites": SITES, "folders": FOLDERS}
        for statement in BUILD.split(";\n"):
            if statement.strip():
                con.execute(statement, {k: v for k, v in params.items() if f"${k}" in statement})
        assert con.execute("SELECT count(*) FROM document_paragraphs").fetchone()[0] == docs * PER_DOC
    return time.perf_counter() - start


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--rows", type=int, default=1_000_000, help="paragraph occurrences (default 1,000,000)")
    ap.add_argument("--top", type=int, default=20)
    ap.add_argument("--markdown", action="store_true", help="write the figures into docs/benchmarks.md")
    args = ap.parse_args()
    work = Path(tempfile.mkdtemp(prefix="docdedup-report-"))
    try:
        db, out = work / "docdedup.duckdb", work / "report.html"
        built = build(db, args.rows)
        print(f"built {args.rows:,} occurrences in {built:.1f} s", flush=True)
        start = time.perf_counter()
        done = subprocess.run([sys.executable, "-m", "flows.cli", "report", "--warehouse", str(db), "--out", str(out),
                               "--top", str(args.top)], cwd=ROOT, capture_output=True, text=True, check=True)
        seconds, size = time.perf_counter() - start, out.stat().st_size
        print(done.stdout.strip())
    finally:
        shutil.rmtree(work, ignore_errors=True)
    verdict = "yes" if seconds < 30 and size < 5 * 2**20 else "no"
    body = (f"`docdedup report --top {args.top}` on a generated warehouse (bulk inserts: {args.rows // PER_DOC:,} "
            f"documents of {PER_DOC} paragraphs, {SITES} sites, {RUNS} runs), timed from start to exit of the child "
            "process. Target: under 30 s and 5 MiB at a million.\n\n"
            + table(["occurrences", "seconds", "page KiB", "within target"],
                    [[f"{args.rows:,}", seconds, f"{size / 1024:.0f}", verdict]]))
    print(body)
    if args.markdown:
        write_section("report_scale.py", command_line(), body)


if __name__ == "__main__":
    main()
