"""Clean: a decoded file -> article body and metadata (trafilatura for HTML, our cleaner for text)."""

from __future__ import annotations

import dataclasses
import re

from flows.clean.html import clean_html, page_text
from flows.clean.metadata import Extraction, detect_language, url_date
from flows.clean.text import clean_text, fallback_text
from flows.read import RawDocument
from flows.split import normalize

# A body without a word character normalises to nothing (its paragraphs would all be dropped): searched for, not
# normalised, since every document passes here.
_WORD = re.compile(r"\w")


def clean_document(raw: RawDocument) -> Extraction:
    """Take the boilerplate off one document and pull out its metadata."""
    if raw.format == "html":
        out = clean_html(raw.content)
    else:
        body, meta = clean_text(raw.content)
        out = Extraction(body, meta.title, meta.author, meta.published, None, None, None, "text")
    out = with_sidecar(with_fallback(out, raw.fallback), raw.sidecar)
    body = _drop_title(out.body, out.title)
    if not _WORD.search(body):
        # The cleaner kept nothing: rather than lose a page that holds prose, keep its most article-like span.
        body = fallback_text(page_text(raw.content) if raw.format == "html" else raw.content)
        out = dataclasses.replace(out, clean_fallback=bool(body))
    # A date the address spells out is the last resort: the page's own dateline and markup come first, and a
    # sidecar's published (a null included) is the user's word.
    published = out.published if "published" in raw.sidecar else out.published or url_date(out.url)
    return dataclasses.replace(out, body=body, published=published, language=out.language or detect_language(body))


def with_sidecar(out: Extraction, sidecar: dict) -> Extraction:
    """The sidecar's fields (read.read_sidecar) override what was extracted; a null clears a field."""
    return dataclasses.replace(out, **sidecar)


def with_fallback(out: Extraction, fallback: dict) -> Extraction:
    """The fallback's fields fill only what extraction left empty (a WARC's fetch date never beats a stated date)."""
    return dataclasses.replace(out, **{k: v for k, v in fallback.items() if getattr(out, k) is None})


def _drop_title(body: str, title: str | None) -> str:
    """The title is metadata: drop a first paragraph that repeats it."""
    if not title:
        return body
    first, sep, rest = body.partition("\n\n")
    return rest if normalize(first) == normalize(title) else body
