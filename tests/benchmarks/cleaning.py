"""Boilerplate removal scored with the article-extraction benchmark's metric, beside the keep-everything baseline.

Per page: lowercase word tokens, the set of 4-token shingles of the prediction and of the gold text,
precision, recall and F1; averaged over the 181 pages. Both go through clean_document, the pipeline's own
path: plain text through our cleaner on the whole-page text, HTML through our HTML cleaner (trafilatura's
blocks less captions, teasers and prompts; + fallback) on the saved pages; then the title paragraph is
dropped, as in every run. Also pages/s for each.
The rules of both cleaners are developed on the even pages of the sorted ids (dev) and checked on the odd ones
(held-out): a held-out F1 far below dev's would mean the rules fit these pages rather than pages in general.

    python tests/benchmarks/cleaning.py [--markdown]
"""

from __future__ import annotations

import argparse
import gzip
import json
import re
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
BENCH = ROOT.parent / "shared" / "benchmarks" / "article-extraction"
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(Path(__file__).parent))

from figures_page import command_line, table, write_section  # noqa: E402
from flows.clean import clean_document  # noqa: E402
from flows.read import RawDocument  # noqa: E402

_WORD = re.compile(r"\w+")


def scores(pred: str, gold: str) -> tuple[float, float, float]:
    """Precision, recall and F1 of one page on lowercase word 4-shingles."""
    def shingles(text: str) -> set[tuple[str, ...]]:
        w = _WORD.findall(text.lower())
        return {tuple(w[i:i + 4]) for i in range(max(1, len(w) - 3))} if w else set()

    p, g = shingles(pred), shingles(gold)
    inter = len(p & g)
    precision = inter / len(p) if p else 0.0
    recall = inter / len(g) if g else 0.0
    return precision, recall, (2 * precision * recall / (precision + recall) if inter else 0.0)


def mean(rows: list[tuple[float, float, float]]) -> tuple[float, float, float]:
    return tuple(sum(r[i] for r in rows) / len(rows) for i in range(3))  # type: ignore[return-value]


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--markdown", action="store_true", help="write the figures into docs/benchmarks.md")
    args = ap.parse_args()
    if not BENCH.is_dir():
        print("needs ../shared/benchmarks/article-extraction")
        return
    gold = json.loads((BENCH / "ground-truth.json").read_text(encoding="utf-8"))
    pages = json.loads((BENCH / "whole-page-text.json").read_text(encoding="utf-8"))["output"]
    ids = sorted(gold)
    html = {i: gzip.decompress((BENCH / "html" / f"{i}.html.gz").read_bytes()).decode("utf-8") for i in ids}
    rows = []
    rows.append(("keep every line (text)", mean([scores(pages[i]["articleBody"], gold[i]["articleBody"]) for i in ids]), None))
    rows.append(("jusText on the lines (text)",
                 mean([scores(justext_lines(pages[i]["articleBody"]), gold[i]["articleBody"]) for i in ids]), None))
    t = time.perf_counter()
    text = [clean(pages[i]["articleBody"], "text").body for i in ids]
    rows.append(("docdedup text cleaner", mean([scores(b, gold[i]["articleBody"]) for b, i in zip(text, ids)]),
                 len(ids) / (time.perf_counter() - t)))
    t = time.perf_counter()
    extracted = [clean(html[i], "html") for i in ids]
    bodies = [e.body for e in extracted]
    rows.append(("docdedup HTML (trafilatura)", mean([scores(b, gold[i]["articleBody"]) for b, i in zip(bodies, ids)]),
                 len(ids) / (time.perf_counter() - t)))
    # The gold has one metadata field, the URL: how often the HTML path finds it.
    urls = sum(_same_url(e.url, gold[i]["url"]) for e, i in zip(extracted, ids))
    text_scores = [scores(b, gold[i]["articleBody"]) for b, i in zip(text, ids)]
    html_scores = [scores(b, gold[i]["articleBody"]) for b, i in zip(bodies, ids)]
    rows.insert(3, ("  dev (even ids)", mean(text_scores[0::2]), None))
    rows.insert(4, ("  held-out (odd ids)", mean(text_scores[1::2]), None))
    rows.append(("  dev (even ids)", mean(html_scores[0::2]), None))
    rows.append(("  held-out (odd ids)", mean(html_scores[1::2]), None))
    print(f"{len(ids)} pages")
    print(f"{'':<30} {'precision':>9} {'recall':>7} {'F1':>7} {'pages/s':>8}")
    for name, (p, r, f), rate in rows:
        print(f"{name:<30} {p:>9.3f} {r:>7.3f} {f:>7.3f} {'' if rate is None else f'{rate:8.0f}'}")
    print(f"HTML metadata: URL found for {urls}/{len(ids)} pages (the gold has no title or date)")
    if args.markdown:
        body = table(["", "precision", "recall", "F1", "pages/s"],
                     [[name.strip(), p, r, f, None if rate is None else f"{rate:.0f}"] for name, (p, r, f), rate in rows])
        write_section("cleaning.py", command_line(),
                      f"{len(ids)} pages; dev and held-out: the cleaner above them on even and odd ids.\n\n{body}\n\n"
                      f"HTML metadata: URL found for {urls}/{len(ids)} pages.")


def clean(content: str, fmt: str):
    """What the pipeline makes of a page: clean_document, as prepare.clean_and_split calls it."""
    return clean_document(RawDocument("page", "", len(content), 0, fmt, "utf-8", content))


def justext_lines(text: str) -> str:
    """The jusText baseline on plain text: each line one paragraph, jusText's rules with its English stop list."""
    import html as html_lib

    import justext

    page = "".join(f"<p>{html_lib.escape(line)}</p>" for line in text.splitlines() if line.strip())
    paragraphs = justext.justext(f"<html><body>{page}</body></html>".encode(), justext.get_stoplist("English"))
    return "\n\n".join(p.text for p in paragraphs if not p.is_boilerplate)


def _same_url(found: str | None, gold: str) -> bool:
    """The same address, ignoring the scheme and a trailing slash."""
    strip = lambda u: re.sub(r"^https?://(www\.)?", "", u.strip()).rstrip("/")  # noqa: E731
    return bool(found) and strip(found) == strip(gold)


if __name__ == "__main__":
    main()
