"""Split: a cleaned body -> paragraphs. Their comparison form (`normalize` and its batch forms) is defined in
flows.recipes, which the warehouse shares, and is offered here with the split."""

from __future__ import annotations

import re

from flows.recipes import normalize, normalize_paragraphs, normalize_sentences, normalize_texts

__all__ = ["normalize", "normalize_paragraphs", "normalize_sentences", "normalize_texts", "split_paragraphs"]

_BLANK_LINES = re.compile(r"\n\s*\n")
_SPACES = re.compile(r"\s+")


def split_paragraphs(body: str) -> list[str]:
    """Paragraphs of a cleaned body, in order, each with its whitespace collapsed."""
    out = []
    for block in _BLANK_LINES.split(body):
        text = _SPACES.sub(" ", block).strip()
        if text:
            out.append(text)
    return out
