"""Candidate search and verification: which texts share an LSH band key or a sentence (`candidate_pairs`), and
how two texts relate on their sets of word-shingle hashes (`Shingles`: near, one inside the other, or neither)."""

from __future__ import annotations

import numpy as np

from flows.config import Settings
from flows.fingerprint import shingle_arrays
from flows.records import NewVariant, Variants, _agree, key_owners

# Buckets larger than this are compared as a star, not all pairs (keeps a run linear in its input).
_MAX_BUCKET_PAIRS = 64
# Candidate pairs whose shared shingles are counted at once (bounds `Shingles.verify`'s arrays).
_VERIFY_PAIRS = 5_000


def candidate_pairs(variants: list[NewVariant], floor: float = 0.0,
                    rank: np.ndarray | None = None) -> list[tuple[int, int]]:
    """Pairs of new variants (norm hashes) worth verifying: those sharing a sentence, and those sharing an LSH band
    key whose signatures agree on at least `floor` of their values (see `agreeing`). Distinct, each pair (lower,
    higher) in `rank` (one distinct integer per variant; default: the rank of its hash) and sorted by it.

    A bucket too large for all its pairs is compared as a star around its lowest-ranked variant: ranked by first
    appearance, that is the earliest text, the one a passage is matched against (`cluster_duplicates`).
    Variants are numbered by rank and a pair is one integer, lower rank * n + higher rank, so that pairs are found,
    deduplicated, filtered and sorted in numpy; only the pairs that remain become tuples."""
    variants = Variants.of(variants)
    n = len(variants)
    hashes = variants.hashes()
    by_rank = np.argsort(hashes if rank is None else rank, kind="stable")
    rank = np.empty(n, dtype=np.int64)
    rank[by_rank] = np.arange(n)
    sentences = _shared_key_pairs(*key_owners(variants, "sentence_keys", rank), n)
    banded = np.setdiff1d(_shared_key_pairs(*key_owners(variants, "band_keys", rank), n), sentences, assume_unique=True)
    if floor > 0 and len(banded):
        signatures = variants.signature_matrix()
        low, high = by_rank[banded // n], by_rank[banded % n]
        banded = banded[_agree(signatures[low], signatures[high], floor)]
    codes = np.sort(np.concatenate([sentences, banded]))  # two disjoint sets
    ordered = hashes[by_rank]
    return list(zip(ordered[codes // n].tolist(), ordered[codes % n].tolist()))


def _held_by_several(key: np.ndarray, owner: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """The keys held more than once, and their owners, grouped by key (equal keys adjacent).

    Most keys belong to one variant only. They are found with one sort of plain integers: each key's high bits with
    its position in the low ones (numpy sorts integers with SIMD, three times as fast as it argsorts them: 5 against
    14 ms for a batch's 355,000 band keys). Two different keys whose high bits agree would be one group: that is
    looked for, and then the keys are argsorted as they are (`_held_by_several_exactly`), so the answer is exact."""
    bits = max(1, (len(key) - 1).bit_length())
    packed = key.view(np.uint64) >> np.uint64(bits) << np.uint64(bits) | np.arange(len(key), dtype=np.uint64)
    packed.sort()
    high = packed >> np.uint64(bits)
    shared = _repeated(high)
    at = (packed[shared] & np.uint64((1 << bits) - 1)).astype(np.int64)
    key, owner, high = key[at], owner[at], high[shared]
    if ((high[1:] == high[:-1]) & (key[1:] != key[:-1])).any():
        return _held_by_several_exactly(key, owner)
    return key, owner


def _held_by_several_exactly(key: np.ndarray, owner: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """`_held_by_several`, argsorting the keys."""
    order = np.argsort(key)
    key, owner = key[order], owner[order]
    shared = _repeated(key)
    return key[shared], owner[shared]


def _repeated(ordered: np.ndarray) -> np.ndarray:
    """Which elements of a sorted array equal a neighbour (are there more than once)."""
    same = ordered[1:] == ordered[:-1]
    return np.r_[same, False] | np.r_[False, same]


def _shared_key_pairs(key: np.ndarray, owner: np.ndarray, n: int) -> np.ndarray:
    """Pairs of owners (ranks below n) that hold a common key, each as lower * n + higher: sorted, distinct."""
    none = np.zeros(0, dtype=np.int64)
    if not len(key):
        return none
    key, owner = _held_by_several(key, owner)
    if not len(key):
        return none
    # Each shared key becomes its run's number (in the order of the groups), so that (run, owner) is one integer:
    # one sort orders the runs' owners, and a variant holding one key twice counts once.
    run = np.cumsum(np.r_[0, key[1:] != key[:-1]])
    code = _distinct(run * n + owner)
    run, owner = code // n, code % n
    starts = np.flatnonzero(np.r_[True, run[1:] != run[:-1]])
    sizes = np.diff(np.r_[starts, len(run)])
    # All pairs of every run of up to _MAX_BUCKET_PAIRS owners, vectorised over the runs of each size.
    lows, highs = [none], [none]
    for size in np.unique(sizes[(sizes >= 2) & (sizes <= _MAX_BUCKET_PAIRS)]).tolist():
        members = owner[starts[sizes == size][:, None] + np.arange(size)]  # (runs, size), rows ascending
        i, j = np.triu_indices(size, 1)
        lows.append(members[:, i].ravel())
        highs.append(members[:, j].ravel())
    # A larger run as a star around its lowest owner, and a chain through its owners in order.
    for s, size in zip(starts[sizes > _MAX_BUCKET_PAIRS].tolist(), sizes[sizes > _MAX_BUCKET_PAIRS].tolist()):
        members = owner[s:s + size]
        lows += [np.full(size - 1, members[0]), members[:-1]]
        highs += [members[1:], members[1:]]
    return _distinct(np.concatenate(lows) * n + np.concatenate(highs))


def _distinct(values: np.ndarray) -> np.ndarray:
    """The distinct values, sorted: np.unique's answer, which took 30 times as long on 135,000 integers."""
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

    def _common(self, a: int, b: int) -> int:
        """Shingles a and b have in common: counted by `verify`, else on their sets."""
        inter = self.overlaps.get((a, b))
        if inter is None:
            inter = self.overlaps.get((b, a))
        return len(self.get(a) & self.get(b)) if inter is None else inter

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
