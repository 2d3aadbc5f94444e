"""The recipes of the stored comparison columns: how a paragraph's text becomes its comparison form
(`paragraph_fingerprints.norm`, whose hash is `norm_hash`) and a MinHash signature its LSH band keys.

The stages that make them (flows.split, flows.fingerprint) and the warehouse, which fills the column for older rows
in a schema upgrade and rebuilds its band-key index from stored signatures, both take them from here: the warehouse
imports no stage, and a stored value always matches what a stage makes of the same text.
"""

from __future__ import annotations

import re
import unicodedata
from itertools import accumulate, chain

import numpy as np
import xxhash

from flows.config import MinHashConfig

# A sentence ends at . ! ? or … (and any closing quotes or brackets) followed by space, or at 。！？ (and any
# closing corner brackets). The split drops the end mark itself, which normalising drops anyway (it is no word
# character): the same sentences as a lookbehind that kept it, for less work. All marks lead the pattern in one
# class, each branch checking which mark it follows, so the regex engine jumps from mark to mark; two alternatives
# each with its own marks made it try both at every character.
_SENTENCE_END = re.compile(r"[.!?…。！？](?:(?<=[.!?…])[\"'”’»)\]]*\s+|(?<=[。！？])[」』]*)")
_SPACES = re.compile(r"\s+")
_UNSPACED = re.compile(r"[\u0e00-\u0e7f\u3040-\u30ff\u3400-\u4dbf\u4e00-\u9fff]+")
# Typographic variants folded before tokenising, so that "it's" and "it’s" are one word.
_FOLD = {
    "\u2018": "'", "\u2019": "'", "\u201a": "'", "\u201b": "'", "\u2032": "'", "`": "'", "\u00b4": "'",
    "\u201c": '"', "\u201d": '"', "\u201e": '"', "\u201f": '"', "\u00ab": '"', "\u00bb": '"', "\u2033": '"',
    "\u2010": "-", "\u2011": "-", "\u2012": "-", "\u2013": "-", "\u2014": "-", "\u2015": "-", "\u2212": "-",
    "\u00ad": "", "\u200b": "", "\u200c": "", "\u200d": "", "\ufeff": "",
}
# str.replace per variant present, not str.translate: translate looks every character of a
# non-ASCII string up in a dict, ten times slower on a batch. No replacement is itself a variant,
# so the order of the replacements does not matter.
_FOLD_PAIRS = tuple(_FOLD.items())
# The literal first, so the regex engine jumps from quote to quote; the lookbehind then checks the
# character before it (same matches as (?<=\w)'(?=\w), without a lookbehind tried at every character).
_INNER_APOSTROPHE = re.compile(r"'(?<=\w')(?=\w)")
# Joins the pieces of a batch while they are normalised (see `_normalize_pieces`).
_SEP = "\x00"
_NON_WORDS = re.compile(r"[^\w\x00]+")
_SPACE_RUNS = re.compile("  +")
# On ASCII text \w is [A-Za-z0-9_]: every other ASCII character but the separator is a token boundary.
_ASCII_BOUNDARIES = str.maketrans({c: " " for c in map(chr, range(1, 128)) if not (c.isalnum() or c == "_")})


# Words in a paragraph's head and tail keys (`edge_texts`).
EDGE_WORDS = 6

# The 64-bit mixing multiplier of the band keys (and of fingerprint's shingle hashing).
MIX64 = np.uint64(0xFF51AFD7ED558CCD)


def _spaced(run: re.Match) -> str:
    return " " + " ".join(run.group()) + " "


def normalize(text: str) -> str:
    """Comparison form: NFKC, quotes/dashes folded, case-folded, punctuation dropped, words joined by one space.

    Two paragraphs with the same normalised form are exact duplicates; near-duplicates are
    measured on the word shingles of this form.
    """
    return _normalize_pieces([text])[0]


def normalize_texts(texts: list[str]) -> list[str]:
    """`normalize` of many texts at once (one pass over the whole batch, same results)."""
    return _normalize_pieces(texts)


def normalize_sentences(text: str) -> list[str]:
    """The comparison form of each sentence of a paragraph; joined by spaces they give `normalize(text)`."""
    return normalize_paragraphs([text])[0]


def normalize_paragraphs(texts: list[str]) -> list[list[str]]:
    """`normalize_sentences` of many paragraphs at once (one pass over the whole batch, same results)."""
    pieces = [_SENTENCE_END.split(t) for t in texts]
    flat = _normalize_pieces([s for p in pieces for s in p])
    ends = list(accumulate(map(len, pieces)))
    return [[n for n in flat[start:end] if n] for start, end in zip(chain((0,), ends), ends)]


def _normalize_pieces(pieces: list[str]) -> list[str]:
    """`normalize` of each piece, computed on the pieces joined by NUL: one call of most steps per batch
    instead of one per sentence (per-call overhead was most of the cost).

    Joining does not change any piece's result: NUL is a non-word character that folding and
    case-folding leave alone, so it acts as a token boundary exactly like the start or end of a
    string; a NUL inside a piece was already a token boundary, so it is turned into a space first.

    Pieces that are ASCII once NFKC and the typographic folds are applied (most news in Latin script) then
    take a shorter path with the same result: case-folding ASCII is lowercasing, no ASCII
    script is written without spaces, and a translation table finds the token boundaries faster than the regex.
    """
    # A copy either way (the folds below replace pieces); a NUL in any piece is rare, so look once for one.
    pieces = [p.replace(_SEP, " ") for p in pieces] if _SEP in "".join(pieces) else list(pieces)
    plain = [p.isascii() for p in pieces]
    others = [i for i, a in enumerate(plain) if not a]
    if others:
        # NFKC piece by piece: a batch holding one character to change would otherwise be rewritten
        # whole, while most pieces pass NFKC's quick check untouched. ASCII is left as it is by both.
        folded = _SEP.join(unicodedata.normalize("NFKC", pieces[i]) for i in others)
        for char, repl in _FOLD_PAIRS:
            if char in folded:
                folded = folded.replace(char, repl)
        for i, p in zip(others, folded.split(_SEP)):
            pieces[i] = p
            plain[i] = p.isascii()
    fast = iter(_words_ascii([p for p, a in zip(pieces, plain) if a]))
    full = iter(_words_unicode([p for p, a in zip(pieces, plain) if not a]))
    return [next(fast) if a else next(full) for a in plain]


def _words_ascii(pieces: list[str]) -> list[str]:
    """`_words_unicode` of ASCII pieces (the backquote is the one ASCII character among the folds)."""
    if not pieces:
        return []
    folded = _SEP.join(pieces).replace("`", "'").lower()
    folded = _INNER_APOSTROPHE.sub("", folded).translate(_ASCII_BOUNDARIES)
    # Only spaces are left between words: runs of them are collapsed in one pass, not piece by piece.
    return [p.strip(" ") for p in _SPACE_RUNS.sub(" ", folded).split(_SEP)]


def _words_unicode(pieces: list[str]) -> list[str]:
    """Folded pieces (NFKC and typographic folds applied, no NUL inside) -> case-folded words joined by one space."""
    if not pieces:
        return []
    folded = _SEP.join(pieces).casefold()
    # An apostrophe inside a word belongs to it ("don't" is one token, not "don" + "t").
    folded = _INNER_APOSTROPHE.sub("", folded)
    # Scripts written without spaces: every character is a word, so shingles are character n-grams.
    # One call per run of such characters, not per character (the template r" \g<0> "), which is several times
    # slower on paragraphs rich in Chinese or Japanese.
    folded = _UNSPACED.sub(_spaced, folded)
    # Words joined by one space: every run of non-word characters (but the separator) becomes one space.
    return [p.strip(" ") for p in _NON_WORDS.sub(" ", folded).split(_SEP)]


def content_hash(norm: str) -> int:
    """64-bit signed hash of a normalised paragraph: equal hashes mean exact duplicates."""
    return xxhash.xxh3_64_intdigest(norm.encode("utf-8")) - (1 << 63)


def edge_texts(norm: str) -> tuple[str, str] | None:
    """What a normalised paragraph's head and tail keys hash: its first and its last `EDGE_WORDS` words, each marked
    so that neither equals a sentence's text. None when it is shorter.

    A paragraph merged with the next starts as the first and ends as the second, where no sentence boundary need
    separate them (a heading run into its paragraph), and a piece cut from a paragraph starts or ends as it does."""
    words = norm.split(" ")
    if len(words) < EDGE_WORDS:
        return None
    return "\x02" + " ".join(words[:EDGE_WORDS]), "\x03" + " ".join(words[-EDGE_WORDS:])


def band_keys(signatures: np.ndarray, cfg: MinHashConfig) -> np.ndarray:
    """One int64 key per band: a hash of the band's index and its `rows` signature values."""
    n = signatures.shape[0]
    bands = signatures[:, : cfg.bands * cfg.rows].reshape(n, cfg.bands, cfg.rows).astype(np.uint64)
    with np.errstate(over="ignore"):
        acc = np.broadcast_to(np.arange(cfg.bands, dtype=np.uint64) + np.uint64(1), (n, cfg.bands)).copy()
        for r in range(cfg.rows):
            acc = (acc ^ bands[:, :, r]) * MIX64
            acc ^= acc >> np.uint64(29)
    return acc.view(np.int64)
