"""Title and published date scored against hand-read gold (metadata_gold.json), per set and per input.

Each gold page is cleaned the pipeline's way (clean_document) four times: as HTML, and as whole-page plain text
made from the HTML by three converters (inscriptis, html-text, html2text), since real plain text comes shaped by
many tools. A title is exact when the hash of its normalised form (`normalise_title`, the same recipe the gold was
made with) is the gold's; a date is right when its calendar day is the gold's, and a page whose gold has no date
is right only when nothing is found. The rules were developed on the article-extraction pages (dev); the dragnet
pages are held out: no rule was written while looking at them.

    pip install -e '.[bench]'   # the three converters
    python tests/benchmarks/metadata.py [--markdown] [--misses]
"""

from __future__ import annotations

import argparse
import gzip
import hashlib
import html
import importlib.util
import json
import sys
import time
import unicodedata
from collections.abc import Callable
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
SHARED = ROOT.parent / "shared" / "benchmarks"
GOLD = Path(__file__).with_name("metadata_gold.json")
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(Path(__file__).parent))

from figures_page import command_line, table, write_section  # noqa: E402
from flows.clean import clean_document  # noqa: E402
from flows.read import RawDocument, decode_bytes  # noqa: E402

# Which set the rules were fitted on; the other is held out.
ROLE = {"article-extraction": "dev", "dragnet": "held-out"}

# Typographic characters and their ASCII forms: quote and dash style is not a different title.
_FOLD = str.maketrans({
    "\u2018": "'", "\u2019": "'", "\u201a": "'", "\u201b": "'", "\u2032": "'", "`": "'", "\u00b4": "'",
    "\u201c": '"', "\u201d": '"', "\u201e": '"', "\u201f": '"', "\u2033": '"', "\u00ab": '"', "\u00bb": '"',
    "\u2010": "-", "\u2011": "-", "\u2012": "-", "\u2013": "-", "\u2014": "-", "\u2015": "-", "\u2212": "-",
    "\u2026": "...", "\u00a0": " ",
})


def normalise_title(title: str) -> str:
    """The title as compared: entities unescaped (twice, for doubly escaped pages), NFC, typographic quotes,
    dashes and the ellipsis folded to ASCII, lower-cased, whitespace collapsed."""
    text = html.unescape(html.unescape(title))
    text = unicodedata.normalize("NFC", text).translate(_FOLD).lower()
    return " ".join(text.split())


def title_hash(title: str | None) -> str | None:
    """sha1 hex of the normalised title: the gold stores this, never the title's text."""
    return hashlib.sha1(normalise_title(title).encode("utf-8")).hexdigest() if title else None


def page_html(page_set: str, name: str) -> str:
    """A saved page, decoded as the pipeline's reader decodes bytes."""
    data = gzip.decompress((SHARED / page_set / "html" / name).read_bytes())
    decoded = decode_bytes(data)
    return decoded[0] if decoded else data.decode("utf-8", "replace")


def _inscriptis(page: str) -> str:
    import inscriptis

    return inscriptis.get_text(page)


def _html_text(page: str) -> str:
    import html_text

    return html_text.extract_text(page)


def _html2text(page: str) -> str:
    import html2text

    converter = html2text.HTML2Text(bodywidth=0)
    converter.ignore_links = converter.ignore_images = True
    return converter.handle(page)


# Whole-page text as three real tools make it: a layout-keeping renderer, a text extractor that writes the
# document title first, and a markdown writer (headings as "#" lines).
CONVERTERS: dict[str, Callable[[str], str]] = {
    "inscriptis": _inscriptis, "html-text": _html_text, "html2text": _html2text,
}


def missing_inputs() -> str | None:
    """What a script on both sets and the converters lacks, as the line it prints before it skips; None if nothing."""
    if not all((SHARED / s / "html").is_dir() for s in ROLE):
        return "needs ../shared/benchmarks/article-extraction and ../shared/benchmarks/dragnet"
    if not all(importlib.util.find_spec(m) for m in ("html2text", "html_text", "inscriptis")):
        return "needs the converters: pip install -e '.[bench]'"
    return None


def clean(content: str, fmt: str):
    """What the pipeline makes of a page: clean_document, as prepare.clean_and_split calls it."""
    return clean_document(RawDocument("page", "", len(content), 0, fmt, "utf-8", content))


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--markdown", action="store_true", help="write the figures into docs/benchmarks.md")
    ap.add_argument("--misses", action="store_true", help="print each page whose title or date is wrong")
    args = ap.parse_args()
    missing = missing_inputs()
    if missing:
        print(missing)
        return
    gold = json.loads(GOLD.read_text(encoding="utf-8"))
    pages = gold["pages"]
    inputs = ["html", *CONVERTERS]
    hits: dict[tuple[str, str], list[tuple[bool, bool]]] = {}
    seconds = dict.fromkeys(inputs, 0.0)
    for page in pages:
        source = page_html(page["set"], page["file"])
        for name in inputs:
            t = time.perf_counter()
            out = clean(source, "html") if name == "html" else clean(CONVERTERS[name](source), "text")
            seconds[name] += time.perf_counter() - t
            found = out.published.date().isoformat() if out.published else None
            ok = (title_hash(out.title) == page["title_sha1"], found == page["date"])
            hits.setdefault((page["set"], name), []).append(ok)
            if args.misses and not all(ok):
                date = "ok" if ok[1] else f"{found} (gold {page['date']})"
                print(f"{page['set']}/{page['file']} [{name}] title={'ok' if ok[0] else repr(out.title)} date={date}")
    rows = []
    for page_set, role in ROLE.items():
        for name in inputs:
            got = hits[(page_set, name)]
            rows.append([f"{page_set} ({role})", name, len(got),
                         sum(t for t, _ in got) / len(got), sum(d for _, d in got) / len(got)])
    header = ["set", "input", "pages", "title exact", "date right"]
    print(f"{'set':<30} {'input':<11} {'pages':>5} {'title exact':>11} {'date right':>10}")
    for s, name, n, t, d in rows:
        print(f"{s:<30} {name:<11} {n:>5} {t:>11.3f} {d:>10.3f}")
    speed = ", ".join(f"{name} {len(pages) / seconds[name]:.0f} pages/s" for name in inputs)
    print(f"cleaning speed (converter included): {speed}")
    if args.markdown:
        write_section("metadata.py", command_line(),
                      f"{len(pages)} hand-read pages (`tests/benchmarks/metadata_gold.json`); rules developed on "
                      f"article-extraction, dragnet held out.\n\n{table(header, rows)}")


if __name__ == "__main__":
    main()
