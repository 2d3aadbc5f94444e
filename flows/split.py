"""Split: a cleaned body -> paragraphs, and the normalised form used to compare them."""

from __future__ import annotations

import re
import unicodedata

_BLANK_LINES = re.compile(r"\n\s*\n")
# A sentence ends at . ! ? or … (and any closing quotes or brackets) followed by space.
_SENTENCE_END = re.compile(r"(?<=[.!?…])[\"'”’»)\]]*\s+|(?<=[。！？])[」』]*")
_SPACES = re.compile(r"\s+")
_UNSPACED = re.compile(r"[\u0e00-\u0e7f\u3040-\u30ff\u3400-\u4dbf\u4e00-\u9fff]")
_TOKEN = re.compile(r"\w+", re.UNICODE)
# Typographic variants folded before tokenising, so that "it's" and "it’s" are one word.
_FOLD = str.maketrans({
    "\u2018": "'", "\u2019": "'", "\u201a": "'", "\u201b": "'", "\u2032": "'", "`": "'", "\u00b4": "'",
    "\u201c": '"', "\u201d": '"', "\u201e": '"', "\u201f": '"', "\u00ab": '"', "\u00bb": '"', "\u2033": '"',
    "\u2010": "-", "\u2011": "-", "\u2012": "-", "\u2013": "-", "\u2014": "-", "\u2015": "-", "\u2212": "-",
    "\u00ad": None, "\u200b": None, "\u200c": None, "\u200d": None, "\ufeff": None,
})


def split_paragraphs(body: str) -> list[str]:
    """Paragraphs of a cleaned body, in order, each with its whitespace collapsed."""
    out = []
    for block in _BLANK_LINES.split(body):
        text = _SPACES.sub(" ", block).strip()
        if text:
            out.append(text)
    return out


def normalize(text: str) -> str:
    """Comparison form: NFKC, quotes/dashes folded, case-folded, punctuation dropped, words joined by one space.

    Two paragraphs with the same normalised form are exact duplicates; near-duplicates are
    measured on the word shingles of this form.
    """
    folded = unicodedata.normalize("NFKC", text).translate(_FOLD).casefold()
    # An apostrophe inside a word belongs to it ("don't" is one token, not "don" + "t").
    folded = re.sub(r"(?<=\w)'(?=\w)", "", folded)
    # Scripts written without spaces: every character is a word, so shingles are character n-grams.
    folded = _UNSPACED.sub(r" \g<0> ", folded)
    return " ".join(_TOKEN.findall(folded))


def normalize_sentences(text: str) -> list[str]:
    """The comparison form of each sentence of a paragraph; joined by spaces they give `normalize(text)`."""
    return [n for n in (normalize(s) for s in _SENTENCE_END.split(text)) if n]
