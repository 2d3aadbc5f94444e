"""Metadata out of text: dates, bylines, headlines (entities, site names, agreement) and an offline language guess."""

from __future__ import annotations

import html
import re
from collections import Counter
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
    counts = Counter(map(str.lower, _WORD.findall(text[:20000])))
    if not counts:
        return None
    # Each language's stop words looked up in the page's word counts: a page has thousands of words, a list dozens.
    scores = {lang: sum(counts[w] for w in sw if w in counts) for lang, sw in STOPWORDS.items()}
    lang, hits = max(scores.items(), key=lambda kv: kv[1])
    return lang if hits >= min_hits else None


# Month names of the languages the stop-word lists cover (and Indonesian), each name to its number; a name
# two languages share (mar, mai, juni, ...) means the same month in both.
_MONTHS = {
    m: i + 1
    for i, names in enumerate(
        [
            "january jan januar janvier enero gennaio janeiro januari",
            "february feb februar février fevrier febrero febbraio fevereiro februari",
            "march mar märz maerz mars marzo março marco maart maret",
            "april apr avril abril aprile",
            "may mai mayo maggio maio mei",
            "june jun juni juin junio giugno junho",
            "july jul juli juillet julio luglio julho",
            "august aug augustus août aout agosto agustus",
            "september sep sept septembre septiembre settembre setembro",
            "october oct oktober octobre octubre ottobre outubro okt",
            "november nov novembre noviembre novembro",
            "december dec dezember décembre decembre diciembre dicembre dezembro desember",
        ]
    )
    for m in names.split()
}
_MONTH_RE = r"(?P<mon>" + "|".join(sorted(_MONTHS, key=len, reverse=True)) + r")\.?"
_WEEKDAY_RE = r"(?:(?:mon|tue|tues|wed|thu|thur|thurs|fri|sat|sun)[a-z]*\.?,?\s+)?"
_DATE_PATTERNS = [
    # 2024-01-09, 2024/01/09, 2024-01-09T19:36:34Z
    re.compile(r"\b(?P<y>(?:19|20)\d\d)[-/.](?P<m>[01]?\d)[-/.](?P<d>[0-3]?\d)(?:[T ](?P<H>\d\d):(?P<M>\d\d))?"),
    # February 2, 2024 / Tue Jan 09 2024 / Jan. 13, 2024 / November 20 15:23 2019
    re.compile(r"\b" + _WEEKDAY_RE + _MONTH_RE + r"\s+(?P<d>[0-3]?\d)(?:st|nd|rd|th)?,?"
               r"(?:\s+\d{1,2}:\d\d(?:\s*[ap]\.?m\.?)?,?)?\s+(?P<y>(?:19|20)\d\d)\b", re.I),
    # 2 February 2024 / Tuesday, 9 January 2024 / 30. Juli 2018 / 3 de junio de 2024
    re.compile(r"\b" + _WEEKDAY_RE + r"(?P<d>[0-3]?\d)(?:st|nd|rd|th|\.)?\s+(?:de\s+)?" + _MONTH_RE
               + r",?\s+(?:de\s+)?(?P<y>(?:19|20)\d\d)\b", re.I),
    # 13/06/2014, 11.15.2019, 06-13-2014, 11/13/19: day and month told apart only when one of them is over 12
    re.compile(r"(?<![\w/.-])(?P<a>[0-3]?\d)(?P<sep>[/.-])(?P<b>[0-3]?\d)(?P=sep)(?P<y>(?:19|20)?\d\d)(?![\d/.-]?\d)"),
]


_TWO_DIGITS = re.compile(r"\d\d")


def _day_month(a: int, b: int) -> tuple[int, int] | None:
    """(day, month) of a numeric date written a/b/year, when only one reading is a calendar date."""
    if a > 12 >= b:
        return a, b
    if b > 12 >= a:
        return b, a
    return None


def find_date(line: str) -> datetime | None:
    """The first calendar date written in `line` (ISO, month-name forms in the covered languages, and
    unambiguous day/month/year numbers), or None."""
    if not _TWO_DIGITS.search(line):  # every form has a year of two digits or more
        return None
    for pattern in _DATE_PATTERNS:
        for m in pattern.finditer(line):
            g = m.groupdict()
            if g.get("a"):
                day_month = _day_month(int(g["a"]), int(g["b"]))
                if day_month is None:
                    continue
                # A two-digit year is this century's (the pages are news, not archives).
                year = int(g["y"]) + (2000 if len(g["y"]) == 2 else 0)
                g = {**g, "d": str(day_month[0]), "m": str(day_month[1]), "y": str(year)}
            month = int(g["m"]) if g.get("m") else _MONTHS.get(g["mon"].lower().rstrip("."))
            try:
                return datetime(int(g["y"]), month, int(g["d"]), int(g.get("H") or 0), int(g.get("M") or 0))
            except (TypeError, ValueError):
                continue
    return None


# A date in an address's path: /2024/06/03/, /2024-06-03-, /20240603/ (a year, a month, a day, as whole segments
# or the start of one). A year and month alone (/2024/06/) is no day.
_URL_DATE = re.compile(r"/(?P<y>(?:19|20)\d\d)([/-]?)(?P<m>[01]\d)\2(?P<d>[0-3]\d)(?:[/_.-]|$)")


def url_date(url: str | None) -> datetime | None:
    """The publication day an article's address spells out, or None: the last resort for a date, since a
    site may file a story under the day it was first planned or under a section's date."""
    m = _URL_DATE.search(re.sub(r"^[a-z]+://[^/]+", "", url or "", flags=re.I))
    if not m:
        return None
    try:
        return datetime(int(m["y"]), int(m["m"]), int(m["d"]))
    except ValueError:
        return None


# Words after which a date is when the page was changed, not when the article was published.
_UPDATED = re.compile(
    r"\b(?:last\s+)?(?:updated?|modified|edited|revised|aktualisiert|mis à jour|actualizado)\b", re.I
)


def published_part(line: str) -> str:
    """The part of a dateline that can hold the publication date: the text before an "updated" or
    "modified" word ("Published May 3, 2024 | Updated May 4, 2024" keeps its first date, "Updated ..." none)."""
    m = _UPDATED.search(line)
    return line[: m.start()] if m else line


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


# What separates a headline from the site or section names in a document title: a bar, a dash, guillemets,
# a double colon or a bullet, with spaces around it.
_TITLE_SEPARATOR = re.compile(r"\s+(?:[|\u2013\u2014»«·•/]|-{1,2}|::)\s+")
# A list marker a text converter writes before an item ("* ", "+ ", "o ", "- ", "• ").
_BULLET = re.compile(r"^(?:[*+o•·-]\s+)+")
# A site-name segment is short: "The Daily Planet", "News | Region | Site".
_SITE_WORDS = 4


def clean_title(title: str | None) -> str | None:
    """A title as it should be stored: entities unescaped (pages sometimes escape twice), list markers,
    markdown heading and emphasis marks off, whitespace collapsed; None when nothing is left."""
    if not title:
        return None
    text = html.unescape(html.unescape(title))
    text = _BULLET.sub("", " ".join(text.split()).lstrip("#").strip())
    return text.strip("*_ ") or None


def _compact(text: str) -> str:
    return "".join(ch for ch in text.lower() if ch.isalnum())


# Letters a site-name segment may add to the site's name ("The", "Blog", "News", ".com"); more, and the segment
# says something besides the name.
_SITE_EXTRA = 8


def _is_site_name(segment: str, site_names: list[str]) -> bool:
    """A title segment that names the site: the same letters as a known site name or a label of the host,
    or one holding the other ("VG247" and vg247.com, "The GiveWell Blog" and blog.givewell.org)."""
    seg = _compact(segment)
    if not seg:
        return False
    for name in (_compact(n) for n in site_names):
        if name and (seg == name or (len(name) >= 5 and name in seg and len(seg) - len(name) <= _SITE_EXTRA)
                     or (len(seg) >= 4 and seg in name)):
            return True
    return False


def site_names_of_url(url: str | None) -> list[str]:
    """The labels of a URL's host that can name its site: not www, not the top-level domain, not a two-letter
    second level (co.uk), at least three letters ("news.example.co.uk" -> news, example)."""
    host = re.sub(r"^[a-z]+://", "", (url or "").lower()).split("/", 1)[0].split(":", 1)[0]
    labels = host.split(".")[:-1]
    return [label for label in labels if label != "www" and len(label) >= 3]


def cut_site_name(title: str, site_names: list[str] = ()) -> str:
    """The headline of a document title: site and section names cut from either end ("Headline | Site",
    "Headline - Section - Site", "Site: Headline"). An end segment goes when it names the site (see
    `_is_site_name`); a short last segment goes too when the rest is at least twice as long (a site name
    that is not known), since a headline is longer than the name of the site it stands on."""
    text = title.strip()
    seps = [m.span() for m in _TITLE_SEPARATOR.finditer(text)]
    bounds = [0, *(x for span in seps for x in span), len(text)]
    parts = [text[bounds[i] : bounds[i + 1]] for i in range(0, len(bounds), 2)]
    start, end = 0, len(parts)
    while end - start > 1:
        last_words = len(parts[end - 1].split())
        rest_words = sum(len(p.split()) for p in parts[start : end - 1])
        if _is_site_name(parts[end - 1], site_names) or (last_words <= _SITE_WORDS and rest_words >= 2 * last_words):
            end -= 1
        elif _is_site_name(parts[start], site_names):
            start += 1
        else:
            break
    # Keep the original text (and separators) between the first and last segment kept.
    text = text[bounds[2 * start] : bounds[2 * end - 1]]
    head, colon, rest = text.partition(": ")
    # "Site: Headline": the colon form only when the part before it names the site.
    if colon and rest and _is_site_name(head, site_names):
        return rest
    return text


_TITLE_WORD = re.compile(r"\w+", re.UNICODE)


def title_words(title: str) -> Counter:
    """The words of a title, lower-cased, quotes and dashes of any style ignored."""
    return Counter(_TITLE_WORD.findall(html.unescape(title).lower()))


def agreement(a: str, b: str) -> float:
    """How far two titles say the same: the words they share over the words of the longer one (1.0 for the
    same words in any quote or dash style, about 0.5 when one adds a clause of the same length)."""
    wa, wb = title_words(a), title_words(b)
    longer = max(sum(wa.values()), sum(wb.values()))
    return sum((wa & wb).values()) / longer if longer else 0.0


# Two titles agree when most of their words are shared: a headline and its og:title often differ by a
# word or two, or one adds a section label; a site name or a different story shares few.
AGREE = 0.6


def pick_headline(headings: list[str], references: list[str], site_names: list[str] = ()) -> str | None:
    """The article's headline: the displayed heading (h1 first, then h2; or a text's heading lines) that agrees
    best with what the page says its title is (og:title, JSON-LD headline, <title>: whole, with the site name
    cut, or the longest segment of what is left, for "Blog » Archive » Headline"), the longer heading winning a
    tie; or, when none agrees, the first of those titles with its site name (or a heading it ends with) cut.
    Agreement keeps the site-name heading and the headings of other stories out, and prefers the words the
    reader sees over the ones written for search engines."""
    whole = [r for r in (clean_title(r) for r in references) if r]
    refs = [cut_site_name(r, site_names) for r in whole]
    # The longest segment only: a headline is longer than the site and section names beside it.
    segments = [max(_TITLE_SEPARATOR.split(r), key=lambda p: len(p.split())) for r in refs]
    best, best_key = None, (0.0, 0)
    for heading in (clean_title(h) for h in headings):
        if not heading or _is_site_name(heading, site_names) and len(heading.split()) <= _SITE_WORDS:
            continue
        # Against the cut titles and the whole ones: a heading may itself hold what looks like a site segment.
        score = max((agreement(heading, r) for r in refs + whole + segments), default=0.0)
        key = (score, len(heading.split()))
        if key > best_key:
            best, best_key = heading, key
    if best is not None and best_key[0] >= AGREE:
        return best
    # No heading is the headline, but a heading that an end of the title repeats is the site's name (its logo).
    return cut_site_name(whole[0], [*site_names, *headings]) if whole else None
