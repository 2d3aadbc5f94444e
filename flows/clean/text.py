"""Plain-text cleaner: keep the article's lines, drop the page's chrome, find title, date and byline.

A rule-based cleaner. Each line (or hard-wrapped block) is classed by evidence that holds on any site:
length and sentence shape, stop-word density, UI-chrome, prompt and caption patterns, repetition on the
page. The article is then the best-scoring contiguous span of lines (prose counts for its words, other
lines cost), helped by the headline that the page's title repeats and cut at the comments; inside it,
prose is kept and short lines only where they sit among the prose. Nothing here names a site.
"""

from __future__ import annotations

import itertools
import re
from collections import defaultdict
from dataclasses import dataclass
from datetime import datetime

from flows.clean.metadata import (
    AGREE, ALL_STOPWORDS, agreement, clean_title, cut_site_name, find_author, find_date, published_part,
)

_SPACES = re.compile(r"[ \t\u00a0\u2000-\u200b\u202f\u205f\u3000]+")
_WORD = re.compile(r"[^\W_]+(?:['’.-][^\W_]+)*", re.UNICODE)
_SENTENCE_END = re.compile(r"[.!?…:;。！？][\"'”’»)\]」』]*$")
_UNSPACED = re.compile(r"[\u0e00-\u0e7f\u3040-\u30ff\u3400-\u4dbf\u4e00-\u9fff]")


class _Guarded:
    """A pattern searched only in lines holding one of `needles`, literals that every match of it contains: the
    same answer as searching every line, without trying each alternative at each position of a prose line."""

    def __init__(self, pattern: str, needles: tuple[str, ...], flags: int = 0) -> None:
        self.pattern = re.compile(pattern, flags)
        self.needles = needles

    def search(self, text: str) -> re.Match | None:
        return self.pattern.search(text) if any(map(text.__contains__, self.needles)) else None


def _any(patterns: tuple[_Guarded, ...], text: str) -> bool:
    for p in patterns:
        if p.search(text):
            return True
    return False


# Lines of a page's interface, never of an article. Generic web vocabulary, matched whole.
_CHROME = re.compile(
    r"^(?:top of (?:the )?page|bottom of (?:the )?page|back to top|skip to (?:main )?content|"
    r"exit mobile version|toggle navigation|main menu|menu|search|home|advertisement|advert|ad|sponsored|"
    r"subscribe(?: now)?|sign in|sign up|log ?in|register|print|share(?: this)?(?: article| story| on)?|"
    r"follow us|loading\.*|close|next|previous|more|show more|see more|load more|comments?|"
    r"cookie settings|accept(?: all)?(?: cookies)?)\W*$",
    re.I,
)
_SOCIAL = frozenset(
    "share tweet email e-mail print facebook twitter x whatsapp linkedin pinterest reddit telegram "
    "messenger copy link flipboard threads bluesky mastodon instagram youtube tiktok".split()
)
_READING_TIME = re.compile(r"^\d+\s*(?:min|mins|minute|minutes)\.?\s*(?:read|reading|to read)?\W*$", re.I)
# Prefixes of teasers and prompts that point away from the article.
_TEASER = re.compile(
    r"^(?:read (?:also|more|next)|also read|see also|related(?: articles?| stories| posts)?|recommended|"
    r"more (?:from|on|stories)|latest (?:from|news)|you (?:may|might) (?:also )?like|most (?:read|popular)|"
    r"trending|watch|listen|don't miss|further reading)\b\s*[:|–—-]?",
    re.I,
)
# Lines that open the comments: no article prose follows them.
_COMMENTS = re.compile(
    r"^(?:leave a (?:reply|comment)|post a comment|\d+\s+(?:comments?|responses?|replies|thoughts?)\b|"
    r"comments? \(\d+\)|comments?\W*$|join the (?:conversation|discussion))",
    re.I,
)
# Lines that usually close the article: related-content blocks, author boxes, share and newsletter prompts.
_END_MARKER = re.compile(
    r"^(?:related (?:articles|posts|stories|news|content)|more (?:from|stories)|latest from|"
    r"you (?:may|might) also like|recommended for you|about the author|tags?:|filed under|share this|"
    r"sign up for|subscribe to our|get our newsletter)\b",
    re.I,
)
# The patterns below are matched against the lowercased line, so they are written in lower case.
# The page's legal footer.
_COPYRIGHT = _Guarded(r"^(?:©|\(c\)\s*\d{4}|copyright\b)|all rights reserved",
                      ("©", "(c)", "copyright", "all rights reserved"))
_PROMPT = _Guarded(
    r"your email address will not be published|required fields are marked|"
    r"cookies?\b.*\b(?:consent|accept|policy|settings)\b|click here to|sign up for (?:our|the) newsletter|"
    r"subscribe\b.{0,60}\bnewsletters?\b|your inbox\b|opt-in\b|"
    r"follow (?:us|him|her|them|\w+) on (?:twitter|facebook|instagram)\b",
    ("your email address", "required fields", "cookie", "click here to", "sign up for", "subscribe", "your inbox",
     "opt-in", "follow "),
)
# Photo captions and credits: "PHOTO: ...", "... Credit: Name", "Image caption ...", "Getty Images",
# a gallery's "... more"/"less" toggle, "(pictured)".
_CAPTION = (
    _Guarded(r"^(?:file )?(?:photo|image|picture|graphic|video)\s*:|(?:photo|image|picture) (?:credit|by|courtesy)\b|"
             r"(?:getty images|shutterstock|file photo)\b|^image caption\b",
             ("photo", "image", "picture", "graphic", "video", "shutterstock")),
    _Guarded(r"credits?:\s*[^.]{1,60}$", ("credit",)),
    _Guarded(r"\((?:pictured|left|right|centre|center|above|below)\)",
             ("(pictured)", "(left)", "(right)", "(centre)", "(center)", "(above)", "(below)")),
    _Guarded(r"(?:\.\.\.|…)\s*more$|[.)]\s*less$", ("more", "less")),
)
# The end of a teaser's summary (matched on the line's last characters): a link onward, or text cut off.
_TEASER_END = re.compile(
    r"(?:read more|continue reading|read the full (?:story|article))\W*$|\w(?:\.\.\.|…|\[…\]|\[\.\.\.\])$"
)
# Credits that need their capitals: "(Agency/Name)", "AGENCY/Name Name", "(AP)", "/ AFP".
_CREDIT = _Guarded(
    r"\(\s*(?:[A-Z][\w.&' -]*/)+\s*[A-Z][\w.&', -]*\)\s*$|[A-Z]{2,}(?: [A-Z]{2,})*/[A-Z][a-z]+|"
    r"[(/]\s*(?:AP|AFP|Reuters|REUTERS|EPA|dpa|Getty Images)\s*\)?\s*$",
    ("/", "("),
)


@dataclass(frozen=True)
class TextMetadata:
    """What the plain-text cleaner found besides the body."""

    title: str | None
    published: datetime | None
    author: str | None


@dataclass(frozen=True)
class _Unit:
    text: str
    words: int
    kind: str  # prose | short | aside | chrome | end | wall


def clean_text(content: str) -> tuple[str, TextMetadata]:
    """Return the article body (paragraphs separated by blank lines) and the metadata found in the head."""
    lines = _units(content)
    known = _has_known_stopwords(lines)
    classified = {line: _classify(line, known) for line in set(lines)}  # menus repeat: class each line once
    units = _demote_repeats([classified[line] for line in lines])
    if not any(u.kind == "prose" for u in units):
        # Nothing reads like an article: keep every plausible line rather than lose the page.
        keep = [u for u in units if u.kind in ("short",) and u.words >= 4]
        title = clean_title(keep[0].text) if keep else None
        return "\n\n".join(u.text for u in keep[1:]), TextMetadata(title, _first_date(units), None)

    headline = _headline(units)
    first, last = _main_span(units, headline)
    # A short question or exclamation opening the span is a headline, not the body.
    while first < last and not _is_paragraph(units[first]):
        first += 1
    last = _list_end(units, last)
    if headline is not None and headline >= first:
        headline = None
    at = headline if headline is not None else _agreeing_line(units, first)
    at = at if at is not None else _title_line(units, first)
    title = clean_title(units[at].text) if at is not None else None
    body = _drop_closing_box(_body_lines(units[first : last + 1]))
    published = _dateline_date(units, headline, first)
    head = units[:first]
    author = next((a for a in (find_author(u.text) for u in head + units[first : first + 1]) if a), None)
    return "\n\n".join(u.text for u in body), TextMetadata(title, published, author)


def line_kinds(lines: list[str]) -> list[str]:
    """The class of each line as `clean_text` judges a page's lines (prose, short, aside, chrome, end, wall):
    for callers that already hold an article's blocks and want the same evidence."""
    known = _has_known_stopwords(lines)
    return [_classify(line, known).kind for line in lines]


def is_prompt(line: str) -> bool:
    """A newsletter, follow-us, cookie or comment-form prompt: the running-text part of the chrome class."""
    return len(line) <= 1000 and bool(_PROMPT.search(line.lower()))


def _list_end(units: list[_Unit], last: int) -> int:
    """Where the article ends when its last paragraph introduces a list with a colon: after the run of
    short lines that follows (the list's items)."""
    if not units[last].text.endswith(":"):
        return last
    while last + 1 < len(units) and units[last + 1].kind == "short":
        last += 1
    return last


# What each kind of line is worth when looking for the article's span: prose counts by its words,
# anything else costs a fixed amount. Captions and teasers sit inside articles and cost little;
# page chrome costs more, and lines that close an article cost enough to split it off.
_COST = {"aside": 5.0, "short": 10.0, "chrome": 20.0, "end": 40.0, "wall": 40.0}
# A span starting within this many lines after the headline is worth this many words more.
_LEAD_LINES = 8
_TITLE_CREDIT = 50.0
# Words of prose after the headline that make a comments opener the end of the page.
_ARTICLE_BEFORE_WALL = 50


def _main_span(units: list[_Unit], headline: int | None) -> tuple[int, int]:
    """First and last index of the article: the contiguous span with the highest total line score,
    where a span that starts just after the headline gets a head start."""
    lead = range(0) if headline is None else range(headline + 1, headline + 1 + _LEAD_LINES)
    best, best_span = float("-inf"), (0, 0)
    total, start = 0.0, 0
    for i, u in enumerate(units[: _page_end(units, lead.start)]):
        credit = _TITLE_CREDIT if i in lead else 0.0
        if total <= credit:
            total, start = credit, i
        total += u.words if u.kind == "prose" else -_COST[u.kind]
        if total > best:
            best, best_span = total, (start, i)
    return best_span


def _page_end(units: list[_Unit], start: int) -> int:
    """Index of the first wall (a comments opener) after `start` (the headline, if known) that has some
    prose before it: what follows is comments, however long their prose."""
    words = 0
    for i, u in enumerate(units[start:], start):
        if u.kind == "wall" and words >= _ARTICLE_BEFORE_WALL:
            return i
        words += u.words if u.kind == "prose" else 0
    return len(units)


def _headline(units: list[_Unit]) -> int | None:
    """Index of the headline: the longest later line that the page's first line (its document title,
    often "Headline | Site") repeats; the first of them if it is repeated."""
    page_title = units[0].text.lower() if units else ""
    found = [i for i in range(1, len(units)) if 3 <= units[i].words <= 30 and units[i].text.lower() in page_title]
    return max(found, key=lambda i: (units[i].words, -i), default=None)


def _demote_repeats(units: list[_Unit]) -> list[_Unit]:
    """Prose written more than once on the page is a teaser, caption or prompt: make it an aside, unless a
    copy stands in the run of the text between two other prose lines (an article repeating its summary)."""
    copies: dict[str, list[int]] = defaultdict(list)
    for i, u in enumerate(units):
        if u.kind == "prose":
            copies[u.text].append(i)

    def in_text(i: int) -> bool:
        return 0 < i < len(units) - 1 and all(
            units[j].kind == "prose" and units[j].text != units[i].text for j in (i - 1, i + 1)
        )

    repeated = {i for found in copies.values() if len(found) > 1 and not any(map(in_text, found)) for i in found}
    return [_Unit(u.text, u.words, "aside") if i in repeated else u for i, u in enumerate(units)]


def _units(content: str) -> list[str]:
    """Lines of the page, whitespace-normalised, with hard-wrapped paragraphs joined back (see `_wrap_width`).

    Blank lines, CRLF and CR line ends are layout, not text. Where the page is wrapped at a width, a line joins the
    next one when the next one's first word would not have fitted after it: the wrapping tool broke there, not the
    writer. A line with room left for that word ends its paragraph, as does a line before an indented one; the
    rest (one paragraph per line, lines longer than the width) stays a line each."""
    raw = [line.rstrip().expandtabs(4) for line in content.replace("\r\n", "\n").replace("\r", "\n").split("\n")]
    blocks: list[list[str]] = [[]]
    for line in raw:
        if line.strip():
            blocks[-1].append(line)
        elif blocks[-1]:
            blocks.append([])
    blocks = [b for b in blocks if b]
    width = _wrap_width(blocks)
    units: list[str] = []
    for block in blocks:
        paragraph = [block[0]]
        for prev, line in zip(block, block[1:]):
            if width is not None and _wrapped_after(prev, line, width):
                paragraph.append(line)
            else:
                units.append(_joined(paragraph))
                paragraph = [line]
        units.append(_joined(paragraph))
    return [u for u in units if u]


def _wrap_width(blocks: list[list[str]]) -> int | None:
    """The width the page was hard-wrapped at, or None: the width at which the line breaks inside a sentence that
    end near it are mostly a greedy wrapper's (the line fits, the next word would not), few lines are longer, and
    there are enough such breaks.

    Only breaks before a word that does not start a sentence or an item (`_continues`), from lines within `_NEAR`
    columns of a width, are evidence: a page's menus, headlines and list items would outvote a short wrapped
    article otherwise. Against a width count the breaks the next word would have fitted after (the writer's) and
    every line longer than it (a wrapper makes none). Each break covers a range of widths: difference arrays.
    Where blank lines part the paragraphs, most breaks of all are a wrapper's, whatever word follows them: that
    width is taken first (see `_most_breaks_width`)."""
    found = _most_breaks_width(blocks)
    if found is not None:
        return found
    agree, against = [0] * (_MAX_WRAP + 2), [0] * (_MAX_WRAP + 2)
    for block in blocks:
        for prev, line in zip(block, block[1:]):
            if _continues(line):
                reach = len(prev) + 1 + len(_first_word(line))  # the width the next word would have needed
                _cover(agree, len(prev), min(reach, len(prev) + _NEAR + 1))
                _cover(against, reach, len(prev) + _NEAR + 1)
        for line in block:
            _cover(against, 0, len(line))
    best, best_width, for_it, no = 0, None, 0, 0
    for width in range(_MAX_WRAP + 1):
        for_it, no = for_it + agree[width], no + against[width]
        # The net count, not the agreeing one, picks the width the longest wrapped lines reach: a column short of
        # it has as many agreeing breaks (the page's full lines aside) but those full lines are longer than it.
        if width >= _MIN_WRAP and for_it >= _MIN_WRAPPED and for_it >= _WRAP_SHARE * (for_it + no) \
                and for_it - no > best:
            best, best_width = for_it - no, width
    return best_width


def _cover(counts: list[int], low: int, high: int) -> None:
    """Count one piece of evidence for the widths low .. high - 1 in a difference array over 0 .. _MAX_WRAP."""
    low, high = max(low, 0), min(high, _MAX_WRAP + 1)
    if low < high:
        counts[low] += 1
        counts[high] -= 1


def _most_breaks_width(blocks: list[list[str]]) -> int | None:
    """The width at which most line breaks inside blocks (`_WRAP_SHARE` of them) are a greedy wrapper's, or None:
    a page of wrapped paragraphs parted by blank lines, even where the lines after its breaks start with capitals."""
    pairs = [(len(prev), len(prev) + 1 + len(_first_word(line)))
             for b in blocks for prev, line in zip(b, b[1:]) if len(prev) <= _MAX_WRAP]
    cover = [0] * (_MAX_WRAP + 2)
    for low, high in pairs:
        _cover(cover, low, high)
    running, best, best_width = 0, 0, None
    for width in range(_MAX_WRAP + 1):
        running += cover[width]
        if running > best:
            best, best_width = running, width
    if best_width is None or best_width < _MIN_WRAP or best < max(_MIN_WRAPPED, _WRAP_SHARE * len(pairs)):
        return None
    return best_width


# Widths a wrapped page is read at (mail and wire feeds wrap at 60 to 80 columns); how far below a width a wrapped
# line ends (about a long word's length); the share of the evidence at a width that must be a greedy wrapper's
# breaks (one paragraph per line rarely agrees by chance), and how many such breaks make a wrapped page.
_MIN_WRAP, _MAX_WRAP, _NEAR, _WRAP_SHARE, _MIN_WRAPPED = 30, 120, 10, 0.6, 3


def _continues(line: str) -> bool:
    """Whether a line starts with a word that goes on a sentence: a letter that is not a capital, in a script
    written with spaces (where a wrapper breaks only between words)."""
    head = line.lstrip()[:1]
    return head.isalpha() and not head.isupper() and not _UNSPACED.match(head)


def _wrapped_after(prev: str, line: str, width: int) -> bool:
    """Whether a wrapper at `width` broke between these lines: prev fits, the next word would not have, and the line
    is not indented more than prev (an indented line starts a paragraph). A wrapper puts a word longer than the width
    (a link) on a line of its own and breaks after it."""
    if len(prev) > width:
        if " " in prev.strip():
            return False
    elif len(prev) + 1 + len(_first_word(line)) <= width:
        return False
    return _indent(line) <= _indent(prev) or _indent(prev) > 0


def _first_word(line: str) -> str:
    stripped = line.lstrip()
    return stripped.split(" ", 1)[0] if stripped else ""


def _indent(line: str) -> int:
    return len(line) - len(line.lstrip())


def _joined(lines: list[str]) -> str:
    """One paragraph from its wrapped lines, whitespace-normalised. A word hyphenated across a line end keeps its
    hyphen (wrappers break at a word's own hyphens), unless the paragraph writes the word whole elsewhere."""
    text = _SPACES.sub(" ", lines[0]).strip()
    for line in lines[1:]:
        line = _SPACES.sub(" ", line).strip()
        head = _first_word(line)
        if len(text) > 1 and text[-1] == "-" and text[-2].isalpha() and head[:1].islower():
            start = (_WORD.findall(text[:-1]) or [""])[-1].split("-")[-1]
            whole = start + (_WORD.findall(head) or [""])[0]
            text = (text[:-1] if any(whole in other for other in lines) else text) + line
        else:
            text = f"{text} {line}"
    return text


def _has_known_stopwords(lines: list[str]) -> bool:
    """True when the page's long lines (the first 20,000 characters of them) are in a language our
    stop-word lists cover."""
    words = _WORD.findall(" ".join(line for line in lines if len(line) >= 60)[:20000].lower())
    return sum(map(ALL_STOPWORDS.__contains__, words)) >= 0.05 * len(words) > 0


def _classify(text: str, known: bool = True) -> _Unit:
    """Class one line by its own evidence: a comments opener (wall), a line that closes the article (end),
    page chrome, an aside inside the article (caption, credit, teaser), prose, or another short line."""
    words = _WORD.findall(text)
    n = len(words)
    if _UNSPACED.search(text):
        # Scripts written without spaces (Chinese, Japanese, Thai): count about one word per two characters.
        n = sum(max(1, len(w) // 2) if _UNSPACED.search(w) else 1 for w in words)
    low = text.lower()
    lower = [w.lower() for w in words]
    # Chrome, prompts and captions are short: very long lines skip those patterns (and their cost).
    short = len(text) <= 1000
    if short and _COMMENTS.match(text) and n <= 20:
        kind = "wall"
    elif short and ((_END_MARKER.match(text) and n <= 10) or (_COPYRIGHT.search(low) and n <= 40)):
        kind = "end"
    elif short and (
        _CHROME.match(text)
        or _READING_TIME.match(text)
        or (n and all(w.startswith("icon") or w in _SOCIAL for w in lower))
        or _PROMPT.search(low)
        or _is_slug(words, lower)
    ):
        kind = "chrome"
    elif short and (
        _TEASER.match(text) or _any(_CAPTION, low) or _CREDIT.search(text) or _TEASER_END.search(low[-40:])
    ):
        kind = "aside"
    elif _is_prose(text, n, lower, known):
        kind = "prose"
    else:
        kind = "short"
    return _Unit(text, n, kind)


def _is_prose(text: str, n: int, lower: list[str], known: bool) -> bool:
    """A sentence or more of running text: long enough, ends like a sentence or is long, has function words
    (when the page's language has a stop-word list)."""
    if n < 8:
        return False
    if not known or len(_UNSPACED.findall(text)) >= 0.3 * len(text):
        return n >= 20 or bool(_SENTENCE_END.search(text))
    stop_share = sum(w in ALL_STOPWORDS for w in lower) / n
    if n < 15 and not _SENTENCE_END.search(text):
        return False
    return stop_share >= 0.12 or (n >= 25 and stop_share >= 0.05)


def _is_paragraph(u: _Unit) -> bool:
    """Prose that reads as a paragraph of the article rather than a headline."""
    return u.words >= 20 or (u.words >= 12 and u.text.rstrip("\"'”’»)]」』").endswith((".", "…", "。")))


def _drop_closing_box(body: list[_Unit]) -> list[_Unit]:
    """Drop a closing author or publisher box: a short name line, then one paragraph about that name."""
    if len(body) >= 3 and body[-2].kind == "short" and body[-2].words <= 6:
        name = body[-2].text.strip(" :")
        if name and name.lower() in body[-1].text.lower():
            return body[:-2]
    return body


def _is_slug(words: list[str], lower: list[str]) -> bool:
    """Machine-made lines (file names, wire slugs): many tokens, mostly digits or capitals, no function words."""
    if len(words) < 4 or any(w in ALL_STOPWORDS for w in lower):
        return False
    machine = sum(any(c.isdigit() for c in w) or (w.isupper() and len(w) > 1) for w in words)
    return machine >= 0.5 * len(words)


def _body_lines(span: list[_Unit]) -> list[_Unit]:
    """The article's lines in its span: the prose, and the short lines of each gap between prose lines
    that belong to the text (see `_short_lines_kept`)."""
    body: list[_Unit] = []
    gap: list[_Unit] = []
    introduced = False
    for u in span:
        if u.kind != "prose":
            gap.append(u)
            continue
        body += _short_lines_kept(gap, introduced, closed=True)
        body.append(u)
        gap, introduced = [], u.text.endswith(":")
    return body + _short_lines_kept(gap, introduced, closed=False)


# More short lines than this between two paragraphs are a block of their own (a menu, a teaser list).
_MAX_SHORT_RUN = 8


def _short_lines_kept(gap: list[_Unit], introduced: bool, closed: bool) -> list[_Unit]:
    """Short lines between two prose lines that are part of the article: the items of a list that a line
    ending with a colon introduced; a run of plain short lines (headings, questions, list items) with
    nothing else in the gap; or a lone short line among captions and teasers (which may themselves
    point to other pages, so a run of short lines beside them is taken for a teaser list)."""
    if introduced:
        return list(itertools.takewhile(lambda u: u.kind == "short", gap))
    if not closed or not gap:
        return []
    if all(u.kind == "short" for u in gap) and len(gap) <= _MAX_SHORT_RUN:
        return [u for u in gap if not find_date(u.text)]
    rest = [u for u in gap if u.kind != "aside"]
    if len(rest) == 1 and rest[0].kind == "short" and not find_date(rest[0].text):
        return rest
    return []


# How many lines before the article's first paragraph the headline (and the dateline) is looked for: past bylines,
# share bars, a photo with its caption; and how many words of the article's opening it is compared with (more,
# and a menu's words come back somewhere in the article too).
_TITLE_WINDOW = 40
_LEAD_WORDS = 200
# What the features of a headline line are worth (see `_title_score`): each word shared with the article's opening,
# a markdown heading mark, a line too short to be prose, reading as a sentence, each line between it and the article.
# Chosen on the article-extraction pages of tests/benchmarks/metadata.py; its dragnet pages are held out.
_PER_SHARED, _HEADING_MARK, _SHORT_LINE, _SENTENCE, _PER_LINE = 0.05, 0.3, 0.2, 0.6, 0.02
# A headline shares at least one of its words with the article it heads.
_MIN_SHARED = 1


def _agreeing_line(units: list[_Unit], first: int) -> int | None:
    """Index of the line before the article that agrees with the page's first line taken as a document title
    ("Headline | Site" less its site name, see `metadata.agreement`): the headline when the page's title words it
    a little differently from the heading, as og:title and <h1> often do; the nearest of the best."""
    page_title = cut_site_name(units[0].text) if units else ""
    if len(page_title.split()) < 3:  # a site name or a menu item, not a document title
        return None
    scored = [(agreement(text, page_title), i) for i in range(1, first)
              if 3 <= len((text := clean_title(units[i].text) or "").split()) <= 30]
    best = max(scored, default=(0.0, None))
    return best[1] if best[0] >= AGREE else None


def _title_line(units: list[_Unit], first: int) -> int | None:
    """Index of the headline among the lines before the article, when the page's title line does not name it:
    the line of the `_TITLE_WINDOW` before the article that scores best as its headline (`_title_score`), else
    the longest heading-shaped line of the head (`_pick_title`)."""
    lead = _content_words(_lead_words(units[first:]))
    scored = [(score, i) for i in range(max(0, first - _TITLE_WINDOW), first)
              if (score := _title_score(units[i], lead, first - i)) is not None]
    return max(scored)[1] if scored else _pick_title(units[:first])


def _title_score(u: _Unit, lead: set[str], distance: int) -> float | None:
    """How much a line reads as the headline of an article whose opening has the content words `lead`, or None
    when it cannot be one (chrome or a caption; under 3 or over 30 words; a date, time or byline; fewer than
    `_MIN_SHARED` words of the article). A headline says what the article is about, a menu item or another
    story's teaser does not: the share of its words the article uses counts most, then a markdown heading mark
    and being short and near the article; reading as a sentence (a standfirst or caption) counts against."""
    text = clean_title(u.text) or ""
    if u.kind not in ("short", "prose") or not 3 <= len(text.split()) <= 30 or _is_dateline(text):
        return None
    words = _content_words(text.split())
    shared = len(words & lead)
    if shared < _MIN_SHARED:
        return None
    return (shared / len(words) + _PER_SHARED * shared + _HEADING_MARK * u.text.startswith("#")
            + _SHORT_LINE * (u.kind == "short") - _SENTENCE * bool(_SENTENCE_END.search(text)) - _PER_LINE * distance)


def _lead_words(units: list[_Unit]) -> list[str]:
    """The first `_LEAD_WORDS` words of the prose from the article's start on."""
    words: list[str] = []
    for u in units:
        if len(words) >= _LEAD_WORDS:
            break
        if u.kind == "prose":
            words += u.text.split()
    return words[:_LEAD_WORDS]


_POSSESSIVE = re.compile(r"['’]s$")


def _content_words(words: list[str]) -> set[str]:
    """The words that say what a text is about: lower-cased, possessive 's off, not function words, longer
    than two letters."""
    found = (_POSSESSIVE.sub("", w.lower()) for text in words for w in _WORD.findall(text))
    return {w for w in found if len(w) > 2 and w not in ALL_STOPWORDS}


def _is_dateline(text: str) -> bool:
    """A line that dates, times or signs the article, or introduces something (ends with a colon), rather
    than titling it."""
    return bool(find_date(text) or _CLOCK.search(text) or find_author(text) or text.lower().startswith("by ")
                or text.endswith(":"))


_CLOCK = re.compile(r"\b\d{1,2}:\d\d\b")


def _pick_title(head: list[_Unit]) -> int | None:
    """Index of the headline when nothing in the page points to it: a markdown heading if any, else the
    longest heading-shaped line of the page's head."""
    for i, u in enumerate(head):
        if u.text.startswith("#") and u.text.lstrip("#").strip():
            return i
    candidates = sorted(
        (i for i, u in enumerate(head) if u.kind in ("short", "prose") and 3 <= u.words <= 30),
        key=lambda i: -head[i].words,
    )
    return next((i for i in candidates if not _is_dateline(head[i].text)), None)


def _dateline_date(units: list[_Unit], headline: int | None, first: int) -> datetime | None:
    """The publication date: the first dateline after the headline that the page's title repeats (down to the
    article's second paragraph), or, with no such headline, the one nearest above the article's first paragraph
    (or at the start of its first two); else the "updated" date found the same way; else the first date of the
    page's head. Today's date in the page's top bar and the dates of teasers around the article are further off."""
    if headline is not None:
        near = units[headline + 1 : first + 2]
    else:
        near = units[max(0, first - _TITLE_WINDOW) : first][::-1] + units[first : first + 2]
    return _first_date(near) or _first_date(near, updated=True) or _first_date(units[: first + 2])


# A dateline is a short line: a byline and a date with a time and an "updated" part reach about twenty words.
_DATELINE_WORDS = 20


def _first_date(units: list[_Unit], updated: bool = False) -> datetime | None:
    """The first date written on a short line (dateline) or at the start of a paragraph, before any
    "updated" or "modified" word of the line (that date is a change, not the publication) unless `updated`."""
    for u in units:
        if u.words <= _DATELINE_WORDS or u.kind == "prose":
            text = u.text if u.words <= _DATELINE_WORDS else u.text[:80]
            found = find_date(text if updated else published_part(text))
            if found:
                return found
    return None


# A line of fewer words is a label, a button or a date, not article text, wherever it stands.
_FALLBACK_MIN_WORDS = 4


def fallback_text(content: str) -> str:
    """The most article-like span of a page on which `clean_text` kept nothing, so that no page holding prose is
    lost: of the runs of lines between interface chrome and comments openers, the span with the most words, those
    of prose lines counting double and each line of fewer than a few words costing one. Empty when no line of a few
    words is left."""
    lines = _units(content)
    known = _has_known_stopwords(lines)
    best, best_span = 0, (0, 0)
    score, first = 0, 0
    for i, line in enumerate(lines):
        u = _classify(line, known)
        if u.kind in ("chrome", "wall"):
            score, first = 0, i + 1
            continue
        gain = -1 if u.words < _FALLBACK_MIN_WORDS else u.words if u.kind == "prose" else u.words // 2
        if score + gain <= 0:  # the span restarts after a stretch that costs more than it holds
            score, first = 0, i + 1
            continue
        score += gain
        if score > best:
            best, best_span = score, (first, i + 1)
    return "\n\n".join(lines[best_span[0]:best_span[1]])
