"""Clean: a decoded file -> article body and metadata (trafilatura for HTML, our cleaner for text)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from flows.clean.html import clean_html
from flows.clean.metadata import detect_language
from flows.clean.text import clean_text
from flows.read import RawDocument
from flows.split import normalize


@dataclass(frozen=True)
class CleanDocument:
    """A document's cleaned body (paragraphs separated by blank lines) and its metadata."""

    raw: RawDocument
    body: str
    title: str | None
    author: str | None
    published: datetime | None
    site: str | None
    url: str | None
    language: str | None
    method: str


def clean_document(raw: RawDocument) -> CleanDocument:
    """Take the boilerplate off one document and pull out its metadata."""
    if raw.format == "html":
        r = clean_html(raw.content)
        body, title, author, published, site, url, language, method = (
            r.body, r.title, r.author, r.published, r.site, r.url, r.language, r.method
        )
    else:
        body, meta = clean_text(raw.content)
        title, author, published, site, url, language = meta.title, meta.author, meta.published, None, None, None
        method = "text"
    return CleanDocument(
        raw=raw,
        body=_drop_title(body, title),
        title=title,
        author=author,
        published=published,
        site=site,
        url=url,
        language=language or detect_language(body),
        method=method,
    )


def _drop_title(body: str, title: str | None) -> str:
    """The title is metadata: drop a first paragraph that repeats it."""
    if not title:
        return body
    first, sep, rest = body.partition("\n\n")
    return rest if normalize(first) == normalize(title) else body
