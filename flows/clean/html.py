"""HTML cleaner: trafilatura's main-text extraction, with a fallback so no page is lost, and the page's own
metadata: the headline a reader sees (the heading its titles agree with) and the day it says it was published.

Paragraphs are the blocks of trafilatura's extracted structure. Among them, photo captions and credits,
teasers of other stories and newsletter or follow-us prompts are dropped, judged by the plain-text
cleaner's line classes. (The headline block goes in clean_document, as for plain text: the title is metadata.)
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from datetime import datetime

import lxml.etree
import lxml.html
import trafilatura
from lxml.html import HtmlElement

from flows.clean.metadata import (
    Extraction, clean_title, find_date, pick_headline, published_part, site_names_of_url, url_date,
)
from flows.clean.text import clean_text, is_prompt, line_kinds

# What a <lb/> becomes in the extracted text, so that the lines it separates can be told apart.
_LINE_BREAK = "\u2028"


def clean_html(html: str) -> Extraction:
    """Extract the article with trafilatura; if it finds none, clean the page's visible text instead."""
    tree = trafilatura.load_html(html)
    page = _page_metadata(tree) if tree is not None else PageMetadata([], [], [], None)
    # deduplicate=False: trafilatura's dedup cache is process-global and would make output
    # depend on earlier pages; MinHash is our deduplication. It copies the tree it is given.
    doc = trafilatura.bare_extraction(
        tree if tree is not None else html,
        include_comments=False, include_tables=True, deduplicate=False, with_metadata=True,
    )
    meta = doc if doc is not None else trafilatura.extract_metadata(html)
    url = (meta.url if meta else None) or None
    site = (meta.sitename if meta else None) or None
    # trafilatura's own title is often the first <h1>, so it is no witness for a heading: only a last resort.
    title = pick_headline(page.headings, page.titles, [*page.site_names, site or "", *site_names_of_url(url)])
    title = title or clean_title(meta.title if meta else None)
    body = "\n\n".join(_drop_asides(_blocks(doc)))
    method = "trafilatura"
    if not body.strip():
        body, text_meta = clean_text(trafilatura.html2txt(html) or "")
        method = "html2txt+text"
        title = title or text_meta.title
    # The date the page's markup says (set right by the dateline beside the headline), else the one its
    # address spells out, else htmldate's guess from the whole page.
    seen = _dateline(tree, title) if tree is not None else None
    published = _published(page.published, seen) or url_date(url) or _parse_date(meta.date if meta else None)
    return Extraction(
        body=body,
        title=title or None,
        author=(meta.author if meta else None) or None,
        published=published,
        site=site,
        url=url,
        language=(getattr(meta, "language", None) if meta else None) or None,
        method=method,
    )


@dataclass(frozen=True)
class PageMetadata:
    """What a page says about its article in its markup, before any extraction: the headings a reader sees,
    the titles it gives machines, the names of its site and the day it says the article was published."""

    headings: list[str]  # <h1> texts, then <h2> texts, in page order
    titles: list[str]  # og:title, JSON-LD headline, twitter:title, <title>
    site_names: list[str]  # og:site_name, application-name, JSON-LD publisher name
    published: datetime | None


# Meta names that say when an article was published (article:published_time, datePublished, pubdate,
# publish-date, dc.date.issued, ...), and words that mark a date of change instead.
_PUBLISHED_META = re.compile(
    r"publish|pub[_-]?date|^(?:dc|dcterms)\.(?:date|date\.issued|issued|created)$|^date$", re.I
)
_CHANGED_META = re.compile(r"modif|updat|expir|revis", re.I)


def _page_metadata(tree: HtmlElement) -> PageMetadata:
    """Headings, machine titles, site names and the published date of a parsed page."""
    def text(node) -> str:
        return " ".join(node.text_content().split())

    meta: dict[str, str] = {}
    for node in tree.iter("meta"):
        key = (node.get("property") or node.get("name") or node.get("itemprop") or "").strip().lower()
        if key and node.get("content") and key not in meta:
            meta[key] = node.get("content").strip()
    ld = _json_ld(tree)
    page_title = tree.find(".//title")
    titles = [meta.get("og:title", ""), ld.get("headline", ""), meta.get("twitter:title", ""),
              text(page_title) if page_title is not None else ""]
    headings = [text(h) for tag in ("h1", "h2") for h in tree.iter(tag)]
    site_names = [meta.get("og:site_name", ""), meta.get("application-name", ""), ld.get("publisher", "")]
    dates = [ld.get("datePublished", ""),
             *(v for k, v in meta.items() if _PUBLISHED_META.search(k) and not _CHANGED_META.search(k)),
             *(t.get("datetime") or "" for t in tree.iter("time") if t.get("itemprop") == "datePublished")]
    published = next((d for d in map(_written_date, dates) if d), None)
    return PageMetadata([h for h in headings if h], [t for t in titles if t], [n for n in site_names if n], published)


# How far after the headline, in characters of the page's text, a dateline is looked for: past a byline and
# a share bar, not into the article.
_DATELINE_CHARS = 250


def _dateline(tree: HtmlElement, headline: str | None) -> datetime | None:
    """The publication date the reader sees: the first date written shortly after the headline in the page's
    visible text, ignoring "updated" dates. After the heading element that shows the headline when there is
    one (the page's text is not joined then); else after each copy of it in the page's text (a menu or teaser
    may repeat the headline)."""
    if not headline:
        return None
    target = " ".join(headline.split()).lower()
    for tag in ("h1", "h2"):
        for heading in tree.iter(tag):
            if " ".join(heading.text_content().split()).lower() == target:
                after = " ".join(" ".join(heading.xpath(_FOLLOWING_TEXT)).split())
                return find_date(published_part(after[:_DATELINE_CHARS]))
    text = " ".join(" ".join(tree.xpath(_VISIBLE_TEXT)).split())
    low = text.lower()
    start = low.find(target)
    while start >= 0:
        end = start + len(target)
        found = find_date(published_part(text[end : end + _DATELINE_CHARS]))
        if found:
            return found
        start = low.find(target, end)
    return None


# The page's visible text nodes, and the first ones after an element (enough for a byline and a dateline).
_VISIBLE_TEXT = "//body//text()[not(ancestor::script or ancestor::style or ancestor::noscript)]"
_FOLLOWING_TEXT = "following::text()[not(ancestor::script or ancestor::style or ancestor::noscript)][position() <= 40]"


def _published(machine: datetime | None, seen: datetime | None) -> datetime | None:
    """The publication date: the page's machine-readable one, unless the dateline shown beside the headline
    says the day before or after, which is the same moment in the reader's time zone (a timestamp in UTC for
    an evening article): the reader's day is the one to keep."""
    if machine and seen and abs((machine.date() - seen.date()).days) == 1:
        return seen
    return machine or seen


def _json_ld(tree: HtmlElement) -> dict[str, str]:
    """The first headline, datePublished and publisher name in the page's JSON-LD blocks (nested or in a
    @graph); a block that does not parse is skipped, as browsers do."""
    found: dict[str, str] = {}

    def walk(node) -> None:
        if isinstance(node, list):
            for item in node:
                walk(item)
        elif isinstance(node, dict):
            for key in ("headline", "datePublished"):
                if isinstance(node.get(key), str):
                    found.setdefault(key, node[key])
            publisher = node.get("publisher")
            if isinstance(publisher, dict) and isinstance(publisher.get("name"), str):
                found.setdefault("publisher", publisher["name"])
            for value in node.values():
                if isinstance(value, (dict, list)):
                    walk(value)

    for script in tree.xpath('//script[@type="application/ld+json"]'):
        try:
            walk(json.loads(script.text_content()))
        except ValueError:
            continue
    return found


def _written_date(value: str) -> datetime | None:
    """The date and time as the page writes them, in its own time zone (not converted to UTC: the day a
    reader of the page saw), or None when the value holds no date."""
    return find_date(value) if value else None


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

