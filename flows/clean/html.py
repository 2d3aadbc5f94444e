"""HTML cleaner: trafilatura's main-text extraction and metadata, with a fallback so no page is lost.

Paragraphs are the blocks of trafilatura's extracted structure. Among them, photo captions and credits,
teasers of other stories and newsletter or follow-us prompts are dropped, judged by the plain-text
cleaner's line classes. (The headline block goes in clean_document, as for plain text: the title is metadata.)
"""

from __future__ import annotations

from datetime import datetime

import lxml.etree
import lxml.html
import trafilatura

from flows.clean.metadata import Extraction
from flows.clean.text import clean_text, is_prompt, line_kinds

# What a <lb/> becomes in the extracted text, so that the lines it separates can be told apart.
_LINE_BREAK = "\u2028"


def clean_html(html: str) -> Extraction:
    """Extract the article with trafilatura; if it finds none, clean the page's visible text instead."""
    # deduplicate=False: trafilatura's dedup cache is process-global and would make output
    # depend on earlier pages; MinHash is our deduplication.
    doc = trafilatura.bare_extraction(
        html, include_comments=False, include_tables=True, deduplicate=False, with_metadata=True
    )
    meta = doc if doc is not None else trafilatura.extract_metadata(html)
    title = meta.title if meta else None
    body = "\n\n".join(_drop_asides(_blocks(doc)))
    method = "trafilatura"
    if not body.strip():
        body, text_meta = clean_text(trafilatura.html2txt(html) or "")
        method = "html2txt+text"
        title = title or text_meta.title
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


def _blocks(doc) -> list[str]:
    """One paragraph per block of the extracted structure: a paragraph, heading or quote (each line of it,
    when it has line breaks), each item of a list, each row of a table (cells joined by " | "), and each
    run of text between blocks. A list or table nested in an item or cell is part of its text."""
    if doc is None or doc.body is None:
        return []
    for br in doc.body.iter("lb"):
        br.tail = _LINE_BREAK + (br.tail or "")
    out = [doc.body.text or ""]
    for block in doc.body:
        if block.tag == "list":
            out += [line for item in block.findall("item") for line in _lines(item)]
        elif block.tag == "table":
            out += [" | ".join(" ".join(_lines(cell)) for cell in row.findall("cell")) for row in block.findall("row")]
        else:
            out += _lines(block)
        out.append(block.tail or "")
    return [line for text in out for line in _lines(text) if line.strip(" |")]


def _lines(node) -> list[str]:
    """The lines of an element or a string, whitespace collapsed."""
    text = node if isinstance(node, str) else "".join(node.itertext())
    return [" ".join(line.split()) for line in text.split(_LINE_BREAK) if line.strip()]


def _drop_asides(blocks: list[str]) -> list[str]:
    """Drop photo captions and credits, "read more" teasers, cut-off summaries of other stories and
    newsletter or follow-us prompts, which trafilatura keeps when they sit inside the article's container."""
    return [b for b, kind in zip(blocks, line_kinds(blocks)) if kind != "aside" and not _is_short_prompt(b)]


# Longer than this, a block is a paragraph of the article even if it mentions newsletters or cookies.
_PROMPT_WORDS = 40


def _is_short_prompt(block: str) -> bool:
    """A prompt of a few sentences at most (see `text.is_prompt`)."""
    return len(block.split()) <= _PROMPT_WORDS and is_prompt(block)


def _parse_date(value: str | None) -> datetime | None:
    if not value:
        return None
    try:
        return datetime.fromisoformat(value)
    except ValueError:
        return None


# Elements that start a line of the page's text (`page_text`).
_BLOCKS = frozenset("address article aside blockquote br dd div dl dt figcaption figure footer form h1 h2 h3 h4 h5 h6 "
                    "header hr li main nav ol p pre section table td th tr ul".split())
_INVISIBLE = "//script|//style|//noscript|//template|//svg|//head"


def page_text(html: str) -> str:
    """The page's visible text, a line per block element: what the fallback (`text.fallback_text`) looks for the
    article in when extraction kept nothing. trafilatura's html2txt runs every block into one line."""
    try:
        root = lxml.html.fromstring(html)
    except (lxml.etree.ParserError, ValueError):
        return ""
    for element in root.xpath(_INVISIBLE):
        element.drop_tree()
    out: list[str] = []
    for event, element in lxml.etree.iterwalk(root, events=("start", "end")):
        block = isinstance(element.tag, str) and element.tag in _BLOCKS
        if event == "start":
            if block:
                out.append("\n")
            if isinstance(element.tag, str) and element.text:  # not a comment's or a processing instruction's
                out.append(element.text)
        else:
            if block:
                out.append("\n")
            if element.tail and element is not root:
                out.append(element.tail)
    return "\n".join(" ".join(line.split()) for line in "".join(out).split("\n") if line.strip())

