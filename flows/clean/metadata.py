"""Metadata out of plain text: dates, bylines and an offline stop-word language guess."""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import datetime


@dataclass(frozen=True)
class Extraction:
    """A document's article body (paragraphs separated by blank lines) and its metadata: the fields a
    `flows.records.DocumentRow` takes by the same names (this is the cleaner's result, that the table's row)."""

    body: str
    title: str | None
    author: str | None
    published: datetime | None
    site: str | None
    url: str | None
    language: str | None
    method: str  # which extraction produced the body
    # The cleaner kept nothing and the body is the page's most article-like span (`text.fallback_text`).
    clean_fallback: bool = False

# The most frequent function words of each language (hand-written, short on purpose):
# enough to tell the languages apart and to measure how prose-like a line is.
STOPWORDS: dict[str, frozenset[str]] = {
    lang: frozenset(words.split())
    for lang, words in {
        "en": "the of and to a in is that for it as was with be by on not he she they this are at from "
        "his her but have has had an or which were their been would will its who we there after said",
        "fr": "le la les de des du un une et est en que qui dans pour pas sur au aux par il elle ils ne se "
        "ce cette sont avec plus mais ont été son sa ses leur nous vous a",
        "de": "der die das und ist in zu den dem des ein eine nicht sich mit auf für von auch es im sie er "
        "wir ich als bei nach aus hat wird sind war noch wie oder aber",
        "es": "el la los las de del y en que un una es por con para no se su sus al lo como más pero fue "
        "ha han este esta son muy sobre también entre",
        "it": "il lo la i gli le di del della e è un una che in per non con si da al alla sono come più "
        "ma anche nel nella ha hanno questo questa",
        "pt": "o a os as de do da dos das e em que um uma é para com não se por no na mais como mas foi "
        "ao ele ela são também seu sua",
        "nl": "de het een en van in is dat op te voor met zijn niet aan er die als ook door bij maar om "
        "nog wel werd wordt naar hij zij",
    }.items()
}
ALL_STOPWORDS = frozenset().union(*STOPWORDS.values())

_WORD = re.compile(r"[^\W\d_]+", re.UNICODE)


def detect_language(text: str, min_hits: int = 5) -> str | None:
    """ISO 639-1 code of the language whose stop words cover the most of `text`, or None if too little text."""
    words = [w.lower() for w in _WORD.findall(text[:20000])]
    if not words:
        return None
    scores = {lang: sum(w in sw for w in words) for lang, sw in STOPWORDS.items()}
    lang, hits = max(scores.items(), key=lambda kv: kv[1])
    return lang if hits >= min_hits else None


_MONTHS = {
    m: i + 1
    for i, names in enumerate(
        [
            "january jan", "february feb", "march mar", "april apr", "may", "june jun",
            "july jul", "august aug", "september sep sept", "october oct", "november nov", "december dec",
        ]
    )
    for m in names.split()
}
_MONTH_RE = r"(?P<mon>" + "|".join(sorted(_MONTHS, key=len, reverse=True)) + r")\.?"
_WEEKDAY_RE = r"(?:(?:mon|tue|tues|wed|thu|thur|thurs|fri|sat|sun)[a-z]*\.?,?\s+)?"
_DATE_PATTERNS = [
    # 2024-01-09, 2024/01/09, 2024-01-09T19:36:34Z
    re.compile(r"\b(?P<y>(?:19|20)\d\d)[-/.](?P<m>[01]?\d)[-/.](?P<d>[0-3]?\d)(?:[T ](?P<H>\d\d):(?P<M>\d\d))?"),
    # February 2, 2024 / Tue Jan 09 2024 / Jan. 13, 2024
    re.compile(r"\b" + _WEEKDAY_RE + _MONTH_RE + r"\s+(?P<d>[0-3]?\d)(?:st|nd|rd|th)?,?\s+(?P<y>(?:19|20)\d\d)\b", re.I),
    # 2 February 2024 / Tuesday, 9 January 2024
    re.compile(r"\b" + _WEEKDAY_RE + r"(?P<d>[0-3]?\d)(?:st|nd|rd|th)?\s+" + _MONTH_RE + r",?\s+(?P<y>(?:19|20)\d\d)\b", re.I),
]


def find_date(line: str) -> datetime | None:
    """The first calendar date written in `line` (common English and ISO forms), or None."""
    for pattern in _DATE_PATTERNS:
        for m in pattern.finditer(line):
            g = m.groupdict()
            month = int(g["m"]) if g.get("m") else _MONTHS.get(g["mon"].lower().rstrip("."))
            try:
                return datetime(int(g["y"]), month, int(g["d"]), int(g.get("H") or 0), int(g.get("M") or 0))
            except (TypeError, ValueError):
                continue
    return None


_BYLINE = re.compile(r"^\s*(?:by|written by|von|par|por|di|door)\s+(?P<name>[^\W\d_][\w.'’ -]{1,60}?)\s*(?:[,|–—-].*)?$", re.I)


def find_author(line: str) -> str | None:
    """The name in a byline such as 'By Jane Doe, Reuters', or None."""
    m = _BYLINE.match(line)
    if not m:
        return None
    name = m.group("name").strip()
    words = name.split()
    if not 1 <= len(words) <= 5 or not all(w[0].isupper() for w in words if w.lower() not in {"de", "van", "von", "al", "da", "and"}):
        return None
    return name
