"""What a user waits for: `docdedup run` over a realistic corpus, end to end, beside a naive script in one invocation.

The corpus is the near-duplicate benchmark's (syndication_scale.py: heavy-tailed copies of real gold texts, three
plain-text layouts, real boilerplate of 100 sites; built once and cached by seed under /tmp/docdedup-bench/). A second
corpus holds the same files with a quarter of them (chosen by a hash of the path) rendered as HTML pages instead.

Each round times, in child processes and alternating, `docdedup run` into a new warehouse (Prefect's start included)
and the naive script a data engineer writes first (`naive`: every line of a file kept as a paragraph, a new
`datasketch.MinHash` per paragraph, `MinHashLSH` at 0.8, the rows loaded into DuckDB through Arrow), with each child's
own peak resident memory (wait4). It prints both wall times, both peaks, the ratio of the medians and docdedup's
stage seconds; then, with `--large N`, docdedup alone on an N-file corpus: seconds per 1,000 files against the first
corpus's, and its peak.

    python tests/benchmarks/whole_run.py [--files 20000] [--rounds 2] [--large 100000] [--seed 1] [--markdown]
"""

from __future__ import annotations

import argparse
import hashlib
import html
import json
import os
import random
import shutil
import statistics
import sys
import tempfile
from pathlib import Path

sys.path.insert(0, str(Path(__file__).parent))

from figures_page import command_line, table, write_section  # noqa: E402
from syndication_scale import (BENCH, CACHE, STAGES, _child, build_corpus, half, load_bases, plan_copies,  # noqa: E402
                               run_docdedup)

HTML_SHARE = 0.25


def corpus(files: int, seed: int, cache: Path) -> Path:
    """The near-duplicate benchmark's corpus of `files` files on its report bases (built unless cached)."""
    bases = sorted((b for b in load_bases() if half(b.id) == "report"), key=lambda b: hashlib.sha1(b.id.encode()).digest())
    bases = bases[:max(1, min(len(bases), files // 2))]
    counts = plan_copies(len(bases), files - len(bases), random.Random(seed))
    folder = cache / f"corpus-report-{files}-{seed}"
    build_corpus(folder, bases, counts, seed)
    return folder


def with_html(folder: Path) -> Path:
    """A copy of the corpus with a quarter of its files as HTML pages: the site's header lines as navigation links,
    the title as the page's <title> and <h1>, each paragraph a <p>, the footer in a <footer>."""
    out = folder.with_name(folder.name + "-html")
    if (out / "done").exists():
        return out
    shutil.rmtree(out, ignore_errors=True)
    truth = json.loads((folder / "truth.json").read_text(encoding="utf-8"))
    titles = [s["title"] for s in truth["stories"]]
    for path, f in truth["files"].items():
        source, target = folder / "raw" / path, out / "raw" / path
        target.parent.mkdir(parents=True, exist_ok=True)
        sidecar = Path(f"{source}.meta.json")
        if int(hashlib.sha1(path.encode()).hexdigest()[:8], 16) < HTML_SHARE * 2 ** 32:
            site, title = truth["sites"][f["site"]], titles[int(path.split("/s")[1][:4])]
            nav = "".join(f'<li><a href="#">{html.escape(line)}</a></li>' for line in site["header"])
            body = "".join(f"<p>{html.escape(p[0])}</p>" for p in f["paragraphs"])
            foot = "".join(f"<p>{html.escape(line)}</p>" for line in site["footer"])
            page = (f"<!doctype html><html><head><meta charset=\"utf-8\"><title>{html.escape(title)}</title></head>"
                    f"<body><nav><ul>{nav}</ul></nav><main><article><h1>{html.escape(title)}</h1>{body}</article>"
                    f"</main><footer>{foot}</footer></body></html>\n")
            target = target.with_suffix(".html")
            Path(f"{target}.meta.json").write_bytes(sidecar.read_bytes())
            target.write_text(page, encoding="utf-8")
        else:
            Path(f"{target}.meta.json").write_bytes(sidecar.read_bytes())
            shutil.copyfile(source, target)
    (out / "done").write_text("")
    return out


def naive(raw: Path, db: Path) -> None:
    """The first script: every line kept (HTML: the lines of its text content), a MinHash of its word bigrams per
    paragraph, MinHashLSH at 0.8, each paragraph in the cluster of the first match, all of it loaded into DuckDB."""
    import duckdb
    import lxml.html
    import pyarrow as pa
    from datasketch import MinHash, MinHashLSH

    lsh = MinHashLSH(threshold=0.8, num_perm=128)
    rows: dict[str, list] = {"source_path": [], "position": [], "text": [], "cluster": []}
    for path in sorted(p for p in raw.rglob("*") if p.suffix in (".txt", ".html")):
        content = path.read_text(encoding="utf-8", errors="replace")
        if path.suffix == ".html":
            content = lxml.html.fromstring(content).text_content()
        lines = [line.strip() for line in content.splitlines() if line.strip()]
        for pos, line in enumerate(lines):
            words = line.lower().split()
            m = MinHash(num_perm=128)
            m.update_batch([" ".join(words[i:i + 2]).encode() for i in range(max(1, len(words) - 1))])
            key = len(rows["text"])
            found = lsh.query(m)
            lsh.insert(key, m)
            rows["source_path"].append(path.relative_to(raw).as_posix())
            rows["position"].append(pos)
            rows["text"].append(line)
            rows["cluster"].append(rows["cluster"][min(found)] if found else key)
    with duckdb.connect(str(db)) as con:
        con.register("t", pa.table(rows))
        con.execute("CREATE TABLE paragraphs AS SELECT * FROM t")
    print(f"{len(rows['text'])} paragraphs")


def run_naive(raw: Path, db: Path) -> dict:
    return _child([sys.executable, __file__, "naive", str(raw), str(db)], dict(os.environ))


def rounds(raw: Path, work: Path, n: int) -> dict:
    """`n` alternating rounds of docdedup and the naive script on one corpus, each into a new warehouse."""
    runs: dict[str, list[dict]] = {"docdedup": [], "naive": []}
    for r in range(n):
        for name, run in (("docdedup", run_docdedup), ("naive", run_naive)):
            shutil.rmtree(work, ignore_errors=True)
            work.mkdir(parents=True)
            runs[name].append(run(raw, work / "w.duckdb"))
            print(f"  round {r + 1} {name}: {runs[name][-1]['wall']:.1f} s, {runs[name][-1]['peak_mib']:,.0f} MiB",
                  flush=True)
    out = {name: {"wall": statistics.median(x["wall"] for x in rs), "peak_mib": max(x["peak_mib"] for x in rs),
                  "walls": [x["wall"] for x in rs]} for name, rs in runs.items()}
    out["docdedup"]["stages"] = {s: statistics.median(x["stages"].get(s, float("nan")) for x in runs["docdedup"])
                                 for s in STAGES}
    out["docdedup"]["summary"] = runs["docdedup"][-1]["summary"]
    out["ratio"] = out["naive"]["wall"] / out["docdedup"]["wall"]
    return out


def report(label: str, r: dict) -> None:
    d, b = r["docdedup"], r["naive"]
    print(f"{label}: docdedup {d['wall']:.1f} s (rounds {', '.join(f'{w:.1f}' for w in d['walls'])}), peak "
          f"{d['peak_mib']:,.0f} MiB; naive {b['wall']:.1f} s, peak {b['peak_mib']:,.0f} MiB; docdedup at "
          f"{r['ratio']:.2f}x the naive script's speed")
    print("  docdedup stage seconds (read to fingerprint summed over workers): "
          + ", ".join(f"{s} {v:.1f}" for s, v in d["stages"].items()))


def markdown(out: dict) -> str:
    rows = []
    for label, r in out["corpora"].items():
        d, b = r["docdedup"], r["naive"]
        rows.append([label, d["wall"], d["peak_mib"], b["wall"], b["peak_mib"], f"{r['ratio']:.2f}x",
                     ", ".join(f"{s} {v:.1f}" for s, v in d["stages"].items())])
    parts = [f"Median of {out['rounds']} alternating rounds a corpus; peaks are the largest of the rounds.", "",
             table(["corpus", "docdedup s", "docdedup MiB", "naive s", "naive MiB", "speed vs naive",
                    "docdedup stage seconds"], rows)]
    if "large" in out:
        g = out["large"]
        parts += ["", f"docdedup alone on {g['files']:,} files: {g['wall']:.1f} s, peak {g['peak_mib']:,.0f} MiB; "
                  f"{g['per_1000']:.2f} s per 1,000 files against {g['base_per_1000']:.2f} at {out['files']:,} files "
                  f"({g['per_1000'] / g['base_per_1000']:.2f}x)."]
    return "\n".join(parts)


def main() -> None:
    if sys.argv[1:2] == ["naive"]:  # the baseline, in its own process (run_naive)
        return naive(Path(sys.argv[2]), Path(sys.argv[3]))
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--files", type=int, default=20000)
    ap.add_argument("--rounds", type=int, default=2)
    ap.add_argument("--large", type=int, default=0, help="also run docdedup alone on a corpus of this many files")
    ap.add_argument("--no-html", dest="html", action="store_false", help="skip the corpus with a quarter HTML")
    ap.add_argument("--seed", type=int, default=1)
    ap.add_argument("--cache", default=str(CACHE))
    ap.add_argument("--json", help="also write the figures to this file")
    ap.add_argument("--markdown", action="store_true", help="write the figures into docs/benchmarks.md")
    args = ap.parse_args()
    if not (BENCH / "article-extraction").is_dir() or not (BENCH / "dragnet").is_dir():
        print(f"skipped: needs {BENCH}/article-extraction and {BENCH}/dragnet")
        return
    cache = Path(args.cache)
    cache.mkdir(parents=True, exist_ok=True)
    work = Path(tempfile.mkdtemp(prefix="whole-run-", dir=cache))  # its own: another invocation may be running
    text = corpus(args.files, args.seed, cache)
    out = {"files": args.files, "rounds": args.rounds, "corpora": {}}
    sets = [(f"{args.files:,} plain-text files", text)]
    if args.html:
        sets.append((f"{args.files:,} files, a quarter HTML", with_html(text)))
    for label, folder in sets:
        print(f"{label} ({folder}):", flush=True)
        out["corpora"][label] = r = rounds(folder / "raw", work, args.rounds)
        report(label, r)
    if args.large:
        big = corpus(args.large, args.seed, cache)
        shutil.rmtree(work, ignore_errors=True)
        work.mkdir(parents=True)
        g = run_docdedup(big / "raw", work / "w.duckdb")
        base = out["corpora"][sets[0][0]]["docdedup"]["wall"]
        out["large"] = {"files": args.large, "wall": g["wall"], "peak_mib": g["peak_mib"], "stages": g["stages"],
                        "per_1000": g["wall"] / args.large * 1000, "base_per_1000": base / args.files * 1000}
        print(f"{args.large:,} files, docdedup alone: {g['wall']:.1f} s, peak {g['peak_mib']:,.0f} MiB; "
              f"{out['large']['per_1000']:.2f} s per 1,000 files against {out['large']['base_per_1000']:.2f} at "
              f"{args.files:,} ({out['large']['per_1000'] / out['large']['base_per_1000']:.2f}x)")
    shutil.rmtree(work, ignore_errors=True)
    if args.markdown:
        write_section("whole_run.py", command_line(), markdown(out))
    if args.json:
        Path(args.json).write_text(json.dumps(out, indent=1, default=str), encoding="utf-8")


if __name__ == "__main__":
    main()
