"""HTML cleaner: trafilatura's main-text extraction and metadata, with a fallback so no page is lost."""

from __future__ import annotations

from datetime import datetime

import trafilatura

from flows.clean.metadata import Extraction
from flows.clean.text import clean_text


def clean_html(html: str) -> Extraction:
    """Extract the article with trafilatura; if it finds none, clean the page's visible text instead."""
    # deduplicate=False: trafilatura's dedup cache is process-global and would make output
    # depend on earlier pages; MinHash is our deduplication.
    doc = trafilatura.bare_extraction(
        html, include_comments=False, include_tables=True, deduplicate=False, with_metadata=True
    )
    meta = doc if doc is not None else trafilatura.extract_metadata(html)
    body = _paragraphs(doc.text) if doc is not None and doc.text else ""
    method = "trafilatura"
    if not body.strip():
        body, text_meta = clean_text(trafilatura.html2txt(html) or "")
        method = "html2txt+text"
        title = (meta.title if meta else None) or text_meta.title
    else:
        title = meta.title if meta else None
    return Extraction(
        body=body,
        title=title or None,
        author=(meta.author if meta else None) or None,
        published=_parse_date(meta.date if meta else None),
        site=(meta.sitename if meta else None) or None,
        url=(meta.url if meta else None) or None,
        language=(getattr(meta, "language", None) if meta else None) or None,
        method=method,
    )


def _paragraphs(text: str) -> str:
    """trafilatura's text has one paragraph per line; the warehouse wants blank-line-separated paragraphs."""
    return "\n\n".join(line.strip() for line in text.split("\n") if line.strip())


def _parse_date(value: str | None) -> datetime | None:
    if not value:
        return None
    try:
        return datetime.fromisoformat(value)
    except ValueError:
        return None
