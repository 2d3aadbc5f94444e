"""Boilerplate removal per set, per input and per plain-text layout: the pipeline's cleaner against the gold text on
both shared sets, beside trafilatura alone on the HTML and jusText on the plain-text lines.

Each page of article-extraction (181, the set the rules were developed on) and dragnet (1,362, held out) goes
through clean_document the pipeline's way: the HTML through our HTML path, and whole-page plain text made from the
HTML by several converters (inscriptis, html-text, html2text as in metadata.py, and `w3m -dump` when installed)
through our text cleaner. Scored as cleaning.py scores: lowercase word 4-shingles, precision, recall and F1 per page,
averaged. "kept nothing" is the share of pages whose body has no word; "fallback" the share where the cleaner kept
nothing and clean_document took the page's most article-like span instead (`clean_fallback`).

Then the layouts of plain text the design names, made from each Python converter's output: its non-empty lines
(one a block element) are the paragraphs, laid out with blank lines between them, one per line, and hard-wrapped at
72 columns with and without blank lines between paragraphs. (w3m's dump is itself wrapped at 80 columns, so its
lines are no paragraphs and it has no layouts here.) The dragnet gold keeps the headline where its annotators kept
it, while clean_document drops the title from the body, so dragnet's recall has a headline's worth of headroom.

    pip install -e '.[bench]'   # the converters; w3m from the system's packages (optional)
    python tests/benchmarks/cleaning_sets.py [--markdown] [--limit N] [--workers 2]
"""

from __future__ import annotations

import argparse
import json
import shutil
import subprocess
import sys
import textwrap
import time
from collections import defaultdict
from multiprocessing import Pool
from pathlib import Path

sys.path.insert(0, str(Path(__file__).parent))

from cleaning import clean, justext_lines, mean, scores  # noqa: E402
from figures_page import command_line, table, write_section  # noqa: E402
from metadata import CONVERTERS, ROLE, SHARED, missing_inputs, page_html  # noqa: E402

GOLD_FILE = {"article-extraction": "ground-truth.json", "dragnet": "gold.json"}
LAYOUTS = ["as converted", "blank lines", "one per line", "wrapped 72 + blank", "wrapped 72"]
DOCDEDUP, TRAFILATURA, JUSTEXT = "docdedup", "trafilatura favor_precision", "jusText on lines"


def _w3m(page: str) -> str:
    """`w3m -dump`: the page as a text browser renders it, wrapped at its default 80 columns."""
    run = subprocess.run(["w3m", "-dump", "-T", "text/html", "-I", "UTF-8", "-O", "UTF-8"],
                         input=page.encode("utf-8", "replace"), capture_output=True, timeout=60)
    return run.stdout.decode("utf-8", "replace")


def layouts(text: str) -> dict[str, str]:
    """A converter's text and the same paragraphs (its non-empty lines) in each layout of plain text."""
    paragraphs = [" ".join(line.split()) for line in text.splitlines() if line.strip()]
    wrapped = [textwrap.fill(p, 72, break_long_words=False, break_on_hyphens=False) for p in paragraphs]
    return {"as converted": text, "blank lines": "\n\n".join(paragraphs), "one per line": "\n".join(paragraphs),
            "wrapped 72 + blank": "\n\n".join(wrapped), "wrapped 72": "\n".join(wrapped)}


def trafilatura_alone(page: str) -> str:
    """The reference: trafilatura's own extraction, favouring precision, with our cleaner's other settings."""
    import trafilatura

    return trafilatura.extract(page, favor_precision=True, include_comments=False, include_tables=True,
                               deduplicate=False) or ""


def page_figures(task: tuple[str, str, str, tuple[str, ...]]) -> tuple[str, dict, dict]:
    """Every figure of one page: {(input, cleaner, layout): (p, r, f, kept nothing, fallback)} and seconds a key."""
    page_set, page_id, gold, converters = task
    source = page_html(page_set, f"{page_id}.html.gz")
    figures, seconds = {}, {}

    def measure(key: tuple[str, str, str], run) -> None:
        t = time.perf_counter()
        out = run()
        seconds[key] = time.perf_counter() - t
        body, fallback = (out.body, out.clean_fallback) if hasattr(out, "body") else (out, None)
        figures[key] = (*scores(body, gold), not any(c.isalnum() for c in body), fallback)

    measure(("html", DOCDEDUP, "–"), lambda: clean(source, "html"))
    measure(("html", TRAFILATURA, "–"), lambda: trafilatura_alone(source))
    if page_set == "article-extraction":
        # The set's own whole-page text (html-text, its README says): the input cleaning.py scores.
        text = _whole_page_text()[page_id]["articleBody"]
        measure(("whole-page-text.json", DOCDEDUP, "as converted"), lambda: clean(text, "text"))
    for name in converters:
        t = time.perf_counter()
        try:
            text = (_w3m if name == "w3m -dump" else CONVERTERS[name])(source)
        except Exception:  # noqa: BLE001 - a converter that fails on a page gives no text, scored as such
            text = ""
        seconds[(name, "convert", "–")] = time.perf_counter() - t
        measure((name, JUSTEXT, "as converted"), lambda: justext_lines(text))
        for layout, laid_out in (layouts(text) if name in CONVERTERS else {"as converted": text}).items():
            measure((name, DOCDEDUP, layout), lambda: clean(laid_out, "text"))
    return page_set, figures, seconds


_WHOLE_PAGE: dict = {}


def _whole_page_text() -> dict:
    """article-extraction's whole-page-text.json, read once a worker process."""
    if not _WHOLE_PAGE:
        path = SHARED / "article-extraction" / "whole-page-text.json"
        _WHOLE_PAGE.update(json.loads(path.read_text(encoding="utf-8"))["output"])
    return _WHOLE_PAGE


def summarise(per_page: list[dict], seconds: list[dict]) -> dict[tuple[str, str, str], list]:
    """Per key: pages, precision, recall, F1, share kept nothing, share fallback (None when not ours), pages/s."""
    out = {}
    for key in per_page[0]:
        rows = [p[key] for p in per_page]
        fallback = None if rows[0][4] is None else sum(r[4] for r in rows) / len(rows)
        rate = len(rows) / max(sum(s[key] for s in seconds), 1e-9)
        out[key] = [len(rows), *mean([r[:3] for r in rows]), sum(r[3] for r in rows) / len(rows), fallback, rate]
    return out


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--markdown", action="store_true", help="write the figures into docs/benchmarks.md")
    ap.add_argument("--limit", type=int, help="only the first N pages (sorted ids) of each set, for development")
    ap.add_argument("--workers", type=int, default=2, help="worker processes (default 2)")
    args = ap.parse_args()
    missing = missing_inputs()
    if missing:
        print(missing)
        return
    converters = (*CONVERTERS, *(["w3m -dump"] if shutil.which("w3m") else []))
    tasks = []
    for page_set in ROLE:
        gold = json.loads((SHARED / page_set / GOLD_FILE[page_set]).read_text(encoding="utf-8"))
        ids = sorted(gold, key=lambda i: (len(i), i))[: args.limit]
        tasks += [(page_set, i, gold[i]["articleBody"], converters) for i in ids]
    started = time.perf_counter()
    results: dict[str, tuple[list, list]] = defaultdict(lambda: ([], []))
    with Pool(args.workers) as pool:
        for page_set, figures, seconds in pool.imap_unordered(page_figures, tasks, chunksize=4):
            results[page_set][0].append(figures)
            results[page_set][1].append(seconds)
    wall = time.perf_counter() - started

    inputs, by_layout = [], []
    for page_set, role in ROLE.items():
        summary = summarise(*results[page_set])
        label = f"{page_set} ({role})"
        for (name, cleaner, layout), row in summary.items():
            if layout in ("–", "as converted"):
                inputs.append([label, name, cleaner, *row])
            if cleaner == DOCDEDUP and name in CONVERTERS:
                by_layout.append([label, name, layout, *row[:6]])
        convert = {name: summary_rate(results[page_set][1], (name, "convert", "–")) for name in converters}
        print(f"{label}: converters' own speed: " + ", ".join(f"{n} {r:.0f} pages/s" for n, r in convert.items()))
    first = ["set", "input", "cleaner", "pages", "precision", "recall", "F1", "kept nothing", "fallback",
             "pages/s"]
    second = ["set", "converter", "layout", "pages", "precision", "recall", "F1", "kept nothing", "fallback"]
    note = (f"{len(tasks)} pages in {wall:.0f} s with {args.workers} workers; pages/s is one core's rate of the "
            "cleaning step alone (the converter not included).")
    print(note)
    for header, rows in ((first, inputs), (second, by_layout)):
        print(table(header, [[_rate(c) if h == "pages/s" else c for h, c in zip(header, r)] for r in rows]))
        print()
    if args.markdown:
        write_section("cleaning_sets.py", command_line(),
                      f"{note} Rules developed on article-extraction, dragnet held out; trafilatura and jusText "
                      "are references, not the pipeline.\n\n"
                      f"{table(first, [[_rate(c) if h == 'pages/s' else c for h, c in zip(first, r)] for r in inputs])}"
                      "\n\nThe same paragraphs (each converter's non-empty lines) in each layout of plain text, "
                      f"through our text cleaner:\n\n{table(second, by_layout)}")


def summary_rate(seconds: list[dict], key: tuple[str, str, str]) -> float:
    """Pages a second of one step over a set, on one core."""
    return len(seconds) / max(sum(s[key] for s in seconds), 1e-9)


def _rate(x) -> str:
    return f"{x:.0f}"


if __name__ == "__main__":
    main()
