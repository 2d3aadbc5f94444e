"""Verification: how two texts relate on their sets of word-shingle hashes (`Shingles`: near, one inside the other,
or neither), pair by pair on Python sets or for many pairs at once in numpy."""

from __future__ import annotations

from typing import Sequence

import numpy as np

from flows.config import Settings
from flows.fingerprint import shingle_arrays

# Candidate pairs whose shared shingles are counted at once (bounds `Shingles.verify`'s arrays).
_VERIFY_PAIRS = 5_000


def _distinct(values: np.ndarray) -> np.ndarray:
    """The distinct values, sorted: np.unique's answer, without its bookkeeping, which costs it an order of
    magnitude on plain integers."""
    values = np.sort(values)
    return values[np.r_[True, values[1:] != values[:-1]]] if len(values) else values


class Shingles:
    """The shingle hashes of normalised texts (new and stored variants by norm_hash) and the relations between them.

    New variants bring their hashes from fingerprinting; the others are hashed again from their normalised text, all
    at once on first use. A relation needs the size of each text's set of hashes and of their intersection: `verify`
    counts them for all of a run's candidate pairs at once in numpy and keeps them; any other pair (a merge's parts,
    an occurrence and a canonical it was joined to through others) is counted on Python sets."""

    def __init__(self, norms: dict[int, str], settings: Settings, hashed: dict[int, np.ndarray] | None = None):
        self.norms, self.settings, self.hashed = norms, settings, dict(hashed or {})
        self.sets: dict[int, set[int]] = {}
        self.overlaps: dict[tuple[int, int], int] = {}  # (a, b) -> shingles in common, for verified pairs
        self.sizes: dict[int, int] = {}  # distinct shingles of each text

    def _arrays(self, hashes) -> list[np.ndarray]:
        if any(h not in self.hashed for h in hashes):
            # The texts asked for that are not hashed yet, at once (one at a time costs Arrow's and numpy's set-up each
            # time); a stored text no pair asks about is never hashed.
            missing = list(dict.fromkeys(h for h in hashes if h not in self.hashed))
            self.hashed.update(zip(missing, shingle_arrays([self.norms[h] for h in missing], self.settings.minhash)))
        return [self.hashed[h] for h in hashes]

    def get(self, h: int) -> set[int]:
        found = self.sets.get(h)
        if found is None:
            found = self.sets[h] = set(self._arrays([h])[0].tolist())
            self.sizes[h] = len(found)
        return found

    def release(self, h: int) -> None:
        """Forget the Python set of h (its size and the counts made with it stay): a text that joined a passage is
        compared again only by chance, and a batch's sets, kept whole, took more memory than its arrays."""
        self.sets.pop(h, None)

    def verify(self, pairs: list[tuple[int, int]]) -> list[tuple[str, float, int | None] | None]:
        """`relation` of every pair, counted and classified in numpy a slice of `_VERIFY_PAIRS` pairs at a time (about
        15 MB of arrays at most). The counts of related pairs are kept for later relations and matches (not all: a
        large run verifies millions of pairs)."""
        out: list[tuple[str, float, int | None] | None] = []
        containment, part_ratio, threshold = self.settings.containment, self.settings.part_ratio, self.settings.threshold
        for start in range(0, len(pairs), _VERIFY_PAIRS):
            part = pairs[start:start + _VERIFY_PAIRS]
            if not part:
                continue
            ha = np.fromiter((a for a, _ in part), dtype=np.int64, count=len(part))
            hb = np.fromiter((b for _, b in part), dtype=np.int64, count=len(part))
            inter, la, lb = self._count(ha, hb)
            # `_classify` in numpy, on the same float64 arithmetic: the smaller text (then the lower hash) is the
            # candidate part, and a part's shape wins over near. test_dedup checks the two agree pair by pair.
            a_part = (la < lb) | ((la == lb) & (ha < hb))
            small, large = np.where(a_part, la, lb), np.where(a_part, lb, la)
            with np.errstate(divide="ignore", invalid="ignore"):
                share = inter / small
                jaccard = inter / (la + lb - inter)
            shared = (inter > 0) & (small > 0)
            contained = shared & (share >= containment) & (small <= part_ratio * large)
            near = (inter > 0) & ~contained & (jaccard >= threshold)
            rels: list[tuple[str, float, int | None] | None] = [None] * len(part)
            counts = inter.tolist()
            for i, value, a_is_part in zip(np.flatnonzero(contained).tolist(), share[contained].tolist(),
                                             a_part[contained].tolist()):
                a, b = part[i]
                rels[i] = ("contained", value, a if a_is_part else b)
                self.overlaps[(a, b)] = counts[i]
            for i, value in zip(np.flatnonzero(near).tolist(), jaccard[near].tolist()):
                rels[i] = ("near", value, None)
                self.overlaps[part[i]] = counts[i]
            out += rels
        return out

    def _count(self, ha: np.ndarray, hb: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """Shingles in common for each pair (ha[i], hb[i]), and the sizes of its two sets, counted at once: each text's
        distinct hashes are sorted with its number, and each pair's two runs with the pair's number, so that a hash in
        common is two equal neighbours."""
        n_pairs = len(ha)
        distinct, number = np.unique(np.concatenate([ha, hb]), return_inverse=True)
        texts = distinct.tolist()
        arrays = self._arrays(texts)
        lengths = np.fromiter(map(len, arrays), dtype=np.int64, count=len(arrays))
        tagged = _distinct(np.repeat(np.arange(len(texts), dtype=np.int64), lengths) << 32
                           | np.concatenate(arrays).astype(np.int64))
        sizes = np.bincount(tagged >> 32, minlength=len(texts))
        starts = np.concatenate(([0], np.cumsum(sizes)[:-1]))
        values = tagged & 0xFFFFFFFF
        ia, ib = number[:n_pairs], number[n_pairs:]
        pair_of = np.tile(np.arange(n_pairs, dtype=np.int64), 2)
        take = sizes[number]  # each pair's a-run, then each pair's b-run
        first = np.repeat(starts[number] - np.concatenate(([0], np.cumsum(take)[:-1])), take) + np.arange(int(take.sum()))
        joined = np.sort(np.repeat(pair_of, take) << 32 | values[first])
        inter = np.bincount(joined[1:][joined[1:] == joined[:-1]] >> 32, minlength=n_pairs)
        self.sizes.update(zip(texts, sizes.tolist()))
        return inter, sizes[ia], sizes[ib]

    def hash_all(self, hashes) -> None:
        """Hash these texts' shingles now, all at once, where they are not yet."""
        self._arrays(list(hashes))

    def _common(self, a: int, b: int) -> int:
        """Shingles a and b have in common: counted by `verify`, else on their sets (and kept)."""
        inter = self.overlaps.get((a, b))
        if inter is None:
            inter = self.overlaps.get((b, a))
        if inter is None:
            inter = self.overlaps[(a, b)] = len(self.get(a) & self.get(b))
        return inter

    def common_with(self, h: int, others: Sequence[int]) -> dict[int, int]:
        """Shingles h has in common with each of `others`, counted on their sets and not kept: a text is compared
        with every leader it shares a key with, and keeping each count took more memory than the sets (`keep` the
        ones needed later)."""
        mine, get = self.get(h), self.get
        return {o: len(mine & get(o)) for o in others}

    def keep(self, a: int, b: int, common: int) -> None:
        self.overlaps[(a, b)] = common

    def _size(self, h: int) -> int:
        size = self.sizes.get(h)
        return len(self.get(h)) if size is None else size

    def _part_share(self, part: int, whole: int, inter: int) -> float | None:
        """The share of a text of `part` shingles inside one of `whole` when it is shaped like a part of it (at
        least `containment` of its shingles inside, at most `part_ratio` of its size), else None."""
        if not part:
            return None
        share = inter / part
        if share >= self.settings.containment and part <= self.settings.part_ratio * whole:
            return share
        return None

    def relation(self, a: int, b: int) -> tuple[str, float, int | None] | None:
        """('near', jaccard, None), ('contained', containment, part_hash) or None for a verified pair."""
        return self._classify(a, b, self._common(a, b))

    def _classify(self, a: int, b: int, inter: int) -> tuple[str, float, int | None] | None:
        """`relation` of a and b, which have `inter` shingles in common."""
        la, lb = self._size(a), self._size(b)
        if not inter:
            return None
        part, small, large = (a, la, lb) if (la, a) < (lb, b) else (b, lb, la)
        share = self._part_share(small, large, inter)
        if share is not None:
            return ("contained", share, part)
        j = inter / (la + lb - inter)
        return ("near", j, None) if j >= self.settings.threshold else None

    def contains(self, whole: int, part: int) -> bool:
        """True when `part` is shaped like a part of `whole` (see `relation`)."""
        return self._part_share(self._size(part), self._size(whole), self._common(part, whole)) is not None

    def match(self, h: int, canon: int) -> tuple[str, float]:
        """How variant h relates to its cluster's canonical: exact, contained (a part of it) or near."""
        if h == canon:
            return "exact", 1.0
        return self._match(self._common(h, canon), self._size(h), self._size(canon))

    def matches(self, pairs: list[tuple[int, int]]) -> list[tuple[str, float]]:
        """`match` of each (variant, canonical) pair, counted in numpy like `verify`: stored variants moved to a new
        canonical come by the hundred, and were never verified against it."""
        out: list[tuple[str, float]] = []
        for start in range(0, len(pairs), _VERIFY_PAIRS):
            part = pairs[start:start + _VERIFY_PAIRS]
            ha = np.fromiter((a for a, _ in part), dtype=np.int64, count=len(part))
            hb = np.fromiter((b for _, b in part), dtype=np.int64, count=len(part))
            inter, la, lc = (x.tolist() for x in self._count(ha, hb))
            out += [("exact", 1.0) if a == b else self._match(i, x, y)
                    for (a, b), i, x, y in zip(part, inter, la, lc)]
        return out

    def _match(self, inter: int, la: int, lc: int) -> tuple[str, float]:
        share = self._part_share(la, lc, inter)
        if share is not None:
            return "contained", share
        union = la + lc - inter
        return "near", inter / union if union else 1.0
