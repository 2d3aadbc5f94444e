"""Dedup: exact and near-duplicate matching of new paragraphs against each other and the warehouse.

Pure functions: the warehouse module fetches what is already stored (`Stored`), `plan_dedup`
decides, the warehouse module writes the `DedupPlan`.

Candidates come from shared LSH band keys and shared sentences; each is verified on the two texts'
sets of word-shingle hashes (the 32-bit hashes their signatures are made from: two distinct shingles
share one with probability 2^-32) and classed as
- near: Jaccard similarity >= threshold (and not shaped like a part of the other), or
- contained: at least `containment` of the smaller's shingles are in the larger, which is at
  least 1/`part_ratio` times its size (a paragraph split in two, or two merged into one).
Near pairs are joined transitively (union-find). A later paragraph contained in an earlier passage
joins it as `contained` (a split); an earlier passage contained in a later paragraph is the same
passage with a sentence added when it is the only one, and is linked (`passage_links`), not
joined, when the later paragraph contains several passages (a merge): merged paragraphs never
bridge two passages, neither through the passages inside them nor through their near-duplicates
(`_bridging`). Each cluster's canonical paragraph is the occurrence with the smallest order
key (earliest published, earliest run, source path, position), so the result does not depend on
the order in which files, chunks or workers were processed.
"""

from __future__ import annotations

import functools
import gc
import hashlib
from dataclasses import dataclass, field
from datetime import datetime
from typing import NamedTuple

import numpy as np

from flows.config import Settings
from flows.fingerprint import shingle_arrays

# Published-date stand-in for undated documents: they sort after every dated one.
UNDATED = datetime.max
# Buckets larger than this are compared as a star, not all pairs (keeps a run linear in its input).
_MAX_BUCKET_PAIRS = 64
# Candidate pairs whose shared shingles are counted at once (bounds `_Shingles.verify`'s arrays).
_VERIFY_PAIRS = 5_000

OrderKey = tuple[datetime, int, str, int]


def order_key(published: datetime | None, run_id: int, source_path: str, position: int) -> OrderKey:
    """Sort key of an occurrence: the smallest key in a cluster is its canonical paragraph."""
    return (published.replace(tzinfo=None) if published else UNDATED, run_id, source_path, position)


def paragraph_id_for(doc_id: str, position: int) -> str:
    """A cluster's id, derived from its canonical occurrence only (never from processing order)."""
    return hashlib.sha256(f"{doc_id}:{position}".encode()).digest()[:8].hex()  # hexdigest()[:16], made faster


# The records made once a paragraph or a variant are NamedTuples: immutable, like a frozen dataclass, and made in a
# quarter of its time (a frozen dataclass sets each field through object.__setattr__; 0.07 s of a 13,000-paragraph
# batch).
class Occurrence(NamedTuple):
    """One paragraph of a new document, in the document's order."""

    doc_id: str
    position: int
    text: str
    norm_hash: int
    order: OrderKey


class NewVariant(NamedTuple):
    """A distinct normalised text among the new paragraphs, with its fingerprint."""

    norm_hash: int
    norm: str
    n_words: int
    signature: np.ndarray
    band_keys: np.ndarray | None  # None: too short for near matching
    sentence_keys: np.ndarray | None = None  # None: too short for near matching
    shingles: np.ndarray | None = None  # its shingle hashes from fingerprinting (None: hashed again when verified)


class Variants(list):
    """A batch's distinct variants (NewVariant), as `collect_batch` makes them, with the arrays that candidate search,
    fetching and the load all read, each made once on first use (they were rebuilt from the variants two or three
    times a batch): the signature matrix, the norm hashes, and each kind of key flattened with its variant's row.
    The list is not changed once made."""

    def __init__(self, variants=()):
        super().__init__(variants)
        self._made: dict[str, object] = {}

    @classmethod
    def of(cls, variants: list[NewVariant]) -> Variants:
        """`variants` itself when it is a Variants (its arrays made once), else a Variants of them."""
        return variants if isinstance(variants, Variants) else cls(variants)

    def _once(self, name: str, make):
        if name not in self._made:
            self._made[name] = make()
        return self._made[name]

    def hashes(self) -> np.ndarray:
        """The variants' norm hashes (int64), in order."""
        return self._once("hashes", lambda: np.fromiter((v.norm_hash for v in self), dtype=np.int64, count=len(self)))

    def signature_matrix(self) -> np.ndarray:
        """uint32 (variants, num_perm): row i is variant i's signature."""
        return self._once("signatures", lambda: np.stack([v.signature for v in self]) if self
                          else np.zeros((0, 0), dtype=np.uint32))

    def keys(self, attr: str) -> tuple[np.ndarray, np.ndarray]:
        """Every variant's `attr` keys (band or sentence keys), flat, and the row of each key's variant."""
        return self._once(attr, lambda: _flat_keys(self, attr))


class StoredCluster(NamedTuple):
    """An existing paragraph (cluster) touched by this run: its canonical and its distinct variants."""

    paragraph_id: str
    canonical_order: OrderKey
    canonical_doc_id: str
    canonical_position: int
    canonical_hash: int
    # norm_hash -> the normalised text of every distinct variant already in the cluster (stored with its
    # fingerprint, paragraph_fingerprints.norm)
    variants: dict[int, str]


@dataclass
class Stored:
    """What the warehouse already holds that this run's paragraphs could match."""

    cluster_of: dict[int, str] = field(default_factory=dict)  # stored norm_hash -> paragraph_id
    # (new norm_hash, stored norm_hash) sharing an LSH band or a sentence
    band_hits: list[tuple[int, int]] = field(default_factory=list)
    clusters: dict[str, StoredCluster] = field(default_factory=dict)
    # whole paragraph_id -> paragraph_ids already linked as its parts (passage_links)
    parts: dict[str, set[str]] = field(default_factory=dict)


class ParagraphRow(NamedTuple):
    paragraph_id: str
    text: str | None  # None when known: the stored text stays, unread
    first_doc_id: str
    first_position: int
    norm_hash: int
    # Already in the warehouse (its occurrences changed). A passage's id is derived from its canonical
    # occurrence, so a stored id's text never changes: its search terms stay as they are.
    known: bool = False


class OccurrenceRow(NamedTuple):
    doc_id: str
    position: int
    paragraph_id: str
    text: str
    match: str
    similarity: float
    norm_hash: int


class Repoint(NamedTuple):
    """Stored occurrences of `old_id` with this norm_hash now belong to `new_id`, with this match."""

    old_id: str
    norm_hash: int
    new_id: str
    match: str
    similarity: float


class Link(NamedTuple):
    """Passage `paragraph_id` is contained in passage `whole_paragraph_id` (a merged paragraph)."""

    paragraph_id: str
    whole_paragraph_id: str
    containment: float


@dataclass
class DedupPlan:
    """Everything the load step writes for the paragraphs of one run."""

    paragraphs: list[ParagraphRow] = field(default_factory=list)  # upserted (new or changed clusters)
    retired: list[str] = field(default_factory=list)  # paragraph_ids merged into another
    occurrences: list[OccurrenceRow] = field(default_factory=list)
    repoints: list[Repoint] = field(default_factory=list)
    links: list[Link] = field(default_factory=list)
    new_variants: list[NewVariant] = field(default_factory=list)  # to fingerprint-store
    variant_cluster: dict[int, str] = field(default_factory=dict)  # every touched norm_hash -> paragraph_id
    counts: dict[str, int] = field(default_factory=dict)


class _UnionFind:
    def __init__(self) -> None:
        self.parent: dict[object, object] = {}

    def find(self, x: object) -> object:
        parent = self.parent
        up = parent.setdefault(x, x)
        if up == x or parent[up] == up:  # a root or a root's child (path compression makes it most calls)
            return up
        root = up
        while parent[root] != root:
            root = parent[root]
        while parent[x] != root:
            parent[x], x = root, parent[x]
        return root

    def union(self, a: object, b: object) -> None:
        ra, rb = self.find(a), self.find(b)
        if ra != rb:
            # Deterministic root: the smaller key, so components never depend on union order. Keys are integers, or
            # (kind, id) tuples whose ids of one kind are all of one type: they compare as they are.
            if rb < ra:
                ra, rb = rb, ra
            self.parent[rb] = ra


def key_owners(variants: list[NewVariant], attr: str, owners: np.ndarray | None = None) -> tuple[np.ndarray, np.ndarray]:
    """The variants' band or sentence keys (`attr`), flat, and the owner of each key's variant, in variant order
    (variants too short for near matching have none). The owner is the variant's norm_hash, or its entry in
    `owners` (one per variant)."""
    batch = Variants.of(variants)
    keys, rows = batch.keys(attr)
    return keys, (owners if owners is not None else batch.hashes())[rows]


def _flat_keys(variants: list[NewVariant], attr: str) -> tuple[np.ndarray, np.ndarray]:
    held = [i for i, v in enumerate(variants) if getattr(v, attr) is not None]
    if not held:
        return np.zeros(0, dtype=np.int64), np.zeros(0, dtype=np.int64)
    arrays = [getattr(variants[i], attr) for i in held]
    lengths = np.fromiter(map(len, arrays), dtype=np.int64, count=len(arrays))
    return np.concatenate(arrays).astype(np.int64, copy=False), np.repeat(np.array(held, dtype=np.int64), lengths)


@dataclass(frozen=True)
class Signatures:
    """MinHash signatures by norm_hash, held as one matrix: row `row_of[h]` is the signature of h."""

    row_of: dict[int, int]
    matrix: np.ndarray  # uint32 (n, num_perm)

    @classmethod
    def of(cls, hashes: list[int], matrix: np.ndarray) -> Signatures:
        return cls(dict(zip(hashes, range(len(hashes)))), matrix)

    @classmethod
    def of_variants(cls, variants: list[NewVariant]) -> Signatures:
        batch = Variants.of(variants)
        return cls.of(batch.hashes().tolist(), batch.signature_matrix())

    def rows(self, hashes) -> np.ndarray:
        return self.matrix[np.fromiter(map(self.row_of.__getitem__, hashes), dtype=np.int64)]


def agreeing(pairs: list[tuple[int, int]], left: Signatures, right: Signatures, floor: float) -> list[bool]:
    """For each pair (a, b): whether the signatures of a in `left` and b in `right` agree on at least `floor` of
    their values (MinHash's estimate of their Jaccard similarity; Settings.candidate_floor).

    Each side is one matrix indexed by row, not one array per pair stacked: a variant is in many pairs."""
    if not pairs:
        return []
    return _agree(left.rows(x for x, _ in pairs), right.rows(y for _, y in pairs), floor).tolist()


def _agree(a: np.ndarray, b: np.ndarray, floor: float) -> np.ndarray:
    """Whether row i of signatures `a` and row i of `b` agree on at least `floor` of their values."""
    return (a == b).mean(axis=1) >= floor


def candidate_pairs(variants: list[NewVariant], floor: float = 0.0) -> list[tuple[int, int]]:
    """Pairs of new variants (norm hashes, ascending) worth verifying: those sharing a sentence, and those sharing
    an LSH band key whose signatures agree on at least `floor` of their values (see `agreeing`). Sorted, distinct.

    Variants are numbered by the rank of their hash and a pair is one integer, lower rank * n + higher rank, so
    that pairs are found, deduplicated, filtered and sorted in numpy; only the pairs that remain become tuples."""
    variants = Variants.of(variants)
    n = len(variants)
    hashes = variants.hashes()
    by_rank = np.argsort(hashes, kind="stable")
    rank = np.empty(n, dtype=np.int64)
    rank[by_rank] = np.arange(n)
    sentences = _shared_key_pairs(*key_owners(variants, "sentence_keys", rank), n)
    banded = np.setdiff1d(_shared_key_pairs(*key_owners(variants, "band_keys", rank), n), sentences, assume_unique=True)
    if floor > 0 and len(banded):
        signatures = variants.signature_matrix()
        low, high = by_rank[banded // n], by_rank[banded % n]
        banded = banded[_agree(signatures[low], signatures[high], floor)]
    codes = np.sort(np.concatenate([sentences, banded]))  # two disjoint sets: by rank, so by hash
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

class _Shingles:
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
            # Every text not hashed yet, in one batch: hashing one at a time costs Arrow's and numpy's set-up each time.
            missing = [h for h in self.norms if h not in self.hashed]
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
        inter, la, lc = self._common(h, canon), self._size(h), self._size(canon)
        share = self._part_share(la, lc, inter)
        if share is not None:
            return "contained", share
        union = la + lc - inter
        return "near", inter / union if union else 1.0


@dataclass
class _Component:
    new: list[Occurrence] = field(default_factory=list)
    old: set[str] = field(default_factory=set)
    canon: tuple | None = None  # (order, doc_id, position, norm_hash, text)
    _id: str | None = None

    @property
    def order(self) -> OrderKey:
        return self.canon[0]

    @property
    def paragraph_id(self) -> str:
        """Read only once the component is complete (its canonical no longer changes); made once (a plain attribute,
        not functools.cached_property, which takes a lock at every first read)."""
        if self._id is None:
            self._id = paragraph_id_for(self.canon[1], self.canon[2])
        return self._id


def _first_seen(occurrences: list[Occurrence], stored: Stored) -> dict[int, OrderKey]:
    """The order key of each text's earliest occurrence: a new variant's from this run's occurrences, a stored one's
    from its cluster's canonical (no later than any of the cluster's occurrences)."""
    first: dict[int, OrderKey] = {}
    for c in stored.clusters.values():
        for h in c.variants:
            first[h] = c.canonical_order
    for o in occurrences:
        if o.norm_hash not in first or o.order < first[o.norm_hash]:
            first[o.norm_hash] = o.order
    return first


def _bridging(near: list[tuple[int, int]], contained: list[tuple[int, int, float]], first: dict[int, OrderKey],
              sh: _Shingles) -> set[tuple[int, int]]:
    """The near pairs through which a merged paragraph would join two passages into one.

    An outlet that merges two wire paragraphs A and B into M = A + B makes M near A-with-a-sentence-added in one copy
    and near B-with-a-sentence-added in another, whenever A or B is most of M (more than `part_ratio`, so not shaped
    like a part); union-find would then put A, B and all their copies in one passage. So:
    - M is a merge when the earlier texts inside it (containment pairs whose part was seen first) fall into two or
      more groups unrelated to each other: no two texts of different groups are near, nor one inside the other,
      compared on their shingles (not only as candidates). The split halves of a paragraph are later than it, and
      texts inside a paragraph with a sentence added are all related: neither makes it a merge.
    - A merge's near pair is not joined when one of the merge's earlier parts is unrelated to the other text: that
      text is near one of the merged passages only. Two copies of the same merge are still joined; a merge stays
      linked to the passages inside it (steps 3 and 4 of `plan_dedup`).
    The answer depends on the pairs' relations only, not on the order in which they were verified.
    """
    parts_of: dict[int, set[int]] = {}
    for part, whole, _ in contained:
        if first[part] < first[whole]:
            parts_of.setdefault(whole, set()).add(part)

    def groups(parts: set[int]) -> int:
        uf, ordered = _UnionFind(), sorted(parts)
        for i, x in enumerate(ordered):
            uf.find(x)
            for y in ordered[i + 1:]:
                if uf.find(x) != uf.find(y) and sh.relation(x, y) is not None:
                    uf.union(x, y)
        return len({uf.find(x) for x in ordered})

    merges = {w for w, parts in parts_of.items() if len(parts) > 1 and groups(parts) > 1}

    def bridges(w: int, other: int) -> bool:
        return w in merges and any(x != other and sh.relation(x, other) is None for x in parts_of[w])

    return {(a, b) for a, b in near if bridges(a, b) or bridges(b, a)}


def without_cycle_collection(fn):
    """`fn` runs with CPython's cycle collector paused. Each stage of a batch in the flow's thread (collecting,
    fetching, planning, writing) allocates some 10^5 small objects (tuples, sets, rows, arrays), none of them in a
    cycle, so reference counting frees them all the same; but every 700 allocations the collector would scan the
    young ones, and every so often the run's whole heap. It took 0.3 of 1.0 s of planning the syndication benchmark,
    0.45 of 2.3 s at a million stored paragraphs; with planning paused, whole-heap passes still took 0.2 s of the
    other stages' 2.2 s (measured with gc.callbacks). The switch is the process's: the chunk tasks, which may run in
    threads beside these stages, do not use it."""
    @functools.wraps(fn)
    def paused(*args, **kwargs):
        if not gc.isenabled():
            return fn(*args, **kwargs)
        gc.disable()
        try:
            return fn(*args, **kwargs)
        finally:
            gc.enable()
    return paused


@without_cycle_collection
def plan_dedup(occurrences: list[Occurrence], variants: list[NewVariant], stored: Stored, settings: Settings) -> DedupPlan:
    """Match this run's paragraphs exactly, approximately and by containment; cluster; pick canonicals; plan the writes."""
    eligible = {v.norm_hash for v in variants if v.band_keys is not None}
    known = {h: n for c in stored.clusters.values() for h, n in c.variants.items()}
    sh = _Shingles({**known, **{v.norm_hash: v.norm for v in variants}}, settings,
                   {v.norm_hash: v.shingles for v in variants if v.shingles is not None})
    # Union-find node of every text: its stored cluster, or the new variant itself.
    node = {h: ("c", stored.cluster_of[h]) if h in stored.cluster_of else ("n", h) for h in sh.norms}

    # 1. verify candidates: near pairs are joined, containment pairs kept as (part, whole, containment)
    uf = _UnionFind()
    for v in variants:
        uf.find(node[v.norm_hash])
    contained: list[tuple[int, int, float]] = []
    pairs = candidate_pairs(variants, settings.candidate_floor)
    stored_pairs = {(n, o) for n, o in stored.band_hits if n in eligible and o in known}
    if stored_pairs:
        pairs = sorted(stored_pairs.union(pairs))
    near: list[tuple[int, int]] = []
    for (a, b), rel in zip(pairs, sh.verify(pairs)):
        if rel is None:
            continue
        kind, value, part = rel
        if kind == "near":
            near.append((a, b))
        else:
            contained.append((part, b if part == a else a, value))
            uf.find(node[a]), uf.find(node[b])
    # Near pairs are joined, but for those through which a merged paragraph would bridge two passages.
    bridging = _bridging(near, contained, _first_seen(occurrences, stored), sh)
    for a, b in near:
        if (a, b) not in bridging:
            uf.union(node[a], node[b])

    # 2. components and their canonical occurrence (stored clusters bring their own canonical)
    # Each occurrence as a canonical candidate, built once for both passes of `components`.
    options = [(o.order, o.doc_id, o.position, o.norm_hash, o.text) for o in occurrences]

    def components() -> dict[object, _Component]:
        comps: dict[object, _Component] = {}
        root_of = {v.norm_hash: uf.find(node[v.norm_hash]) for v in variants}  # the occurrences' texts
        for occ, option in zip(occurrences, options):
            root = root_of[occ.norm_hash]
            comp = comps.get(root)
            if comp is None:
                comps[root] = _Component([occ], set(), option)
            else:
                comp.new.append(occ)
                if option < comp.canon:
                    comp.canon = option
        for n in list(uf.parent):
            if n[0] == "c":
                comps.setdefault(uf.find(n), _Component()).old.add(n[1])
        for comp in comps.values():
            for pid in comp.old:
                c = stored.clusters[pid]
                # No text: a stored passage keeps the text it has (ParagraphRow.known). The order key and the
                # position always tell two options apart, so the text is never compared.
                option = (c.canonical_order, c.canonical_doc_id, c.canonical_position, c.canonical_hash, None)
                comp.canon = option if comp.canon is None else min(comp.canon, option)
        return comps

    comps = components()
    # 3. an earlier passage inside a later one that contains no other passage: a sentence was added
    parts_of: dict[object, set[object]] = {}
    for part, whole, _ in contained:
        p, w = uf.find(node[part]), uf.find(node[whole])
        if p != w and comps[p].order < comps[w].order and sh.contains(comps[w].canon[3], part):
            parts_of.setdefault(w, set()).add(p)
    # A stored paragraph already linked to the parts it merged is a merge, whatever this run adds.
    for whole_id, part_ids in sorted(stored.parts.items()):
        if ("c", whole_id) in uf.parent and uf.find(("c", whole_id)) in parts_of:
            parts_of[uf.find(("c", whole_id))] |= {uf.find(("c", p)) if ("c", p) in uf.parent else ("c", p) for p in part_ids}
    singles = [(w, parts.pop()) for w, parts in sorted(parts_of.items()) if len(parts) == 1]
    for w, p in singles:
        uf.union(w, p)
    if singles:
        comps = components()

    # 4. a later paragraph inside an earlier passage joins it (split); other containment is a link
    wholes: dict[object, list[tuple]] = {}
    links: dict[tuple[object, object], float] = {}
    for part, whole, value in sorted(contained):
        p, w = uf.find(node[part]), uf.find(node[whole])
        if p == w:
            continue
        # Only a part of the passage itself (its canonical text), not of one variant of it, joins it.
        if comps[w].order < comps[p].order and sh.contains(comps[w].canon[3], part):
            wholes.setdefault(p, []).append((-value, comps[w].order, w))
        else:
            links[(p, w)] = max(value, links.get((p, w), 0.0))
    # The most containing passage wins, then the earliest.
    absorbed = {p: min(options)[2] for p, options in wholes.items()}

    def final(root: object) -> object:
        while root in absorbed:  # strictly earlier each step: no cycles
            root = absorbed[root]
        return root

    # 5. the writes
    new_variants = [v for v in variants if v.norm_hash not in stored.cluster_of]
    # All of them new (nothing stored matched exactly): the batch itself, with the arrays it has made.
    plan = DedupPlan(new_variants=variants if len(new_variants) == len(variants) else Variants(new_variants))
    counts = {"new": 0, "exact": 0, "near": 0, "contained": 0}
    upserted: set[str] = set()
    for root in sorted(comps):
        comp = comps[root]
        target = comps[final(root)]
        pid, canon_hash = target.paragraph_id, target.canon[3]
        if pid not in upserted:
            order, doc, pos, h, text = target.canon
            plan.paragraphs.append(ParagraphRow(pid, text, doc, pos, h, pid in stored.clusters))
            upserted.add(pid)
        canon_at = target.canon[1:3]
        for occ in comp.new:
            h = occ.norm_hash
            if h != canon_hash:
                match, similarity = sh.match(h, canon_hash)
            elif (occ.doc_id, occ.position) == canon_at:
                match, similarity = "new", 1.0
            else:
                match, similarity = "exact", 1.0
            counts[match] += 1
            plan.occurrences.append(OccurrenceRow(occ.doc_id, occ.position, pid, occ.text, match, similarity, h))
            plan.variant_cluster[h] = pid
        for old_id in sorted(comp.old):
            for h in sorted(stored.clusters[old_id].variants):
                plan.variant_cluster[h] = pid
                if old_id != pid:
                    plan.repoints.append(Repoint(old_id, h, pid, *sh.match(h, canon_hash)))
            if old_id != pid:
                plan.retired.append(old_id)
    by_ids: dict[tuple[str, str], float] = {}
    for (p, w), value in links.items():
        ids = (comps[final(p)].paragraph_id, comps[final(w)].paragraph_id)
        if ids[0] != ids[1]:
            by_ids[ids] = max(value, by_ids.get(ids, 0.0))
    plan.links = [Link(part, whole, value) for (part, whole), value in sorted(by_ids.items())]
    plan.counts = counts
    return plan


@without_cycle_collection
def collect_batch(documents: list, run_id: int, settings: Settings) -> tuple[list[Occurrence], Variants]:
    """Flatten prepared documents into occurrences and their distinct variants (first seen wins, all equal)."""
    occurrences: list[Occurrence] = []
    variants: dict[int, NewVariant] = {}
    for doc in sorted(documents, key=lambda d: (d.row.source_path, d.row.sha256)):
        row = doc.row
        document_order = order_key(row.published, run_id, row.source_path, 0)[:3]  # + the position
        n_words, bounds = doc.n_words.tolist(), doc.shingle_offsets.tolist()  # Python ints, read once a document
        for pos, (text, norm, h) in enumerate(zip(doc.texts, doc.norms, doc.norm_hashes)):
            occurrences.append(Occurrence(row.doc_id, pos, text, h, document_order + (pos,)))
            if h not in variants:
                eligible = n_words[pos] >= settings.min_words
                variants[h] = NewVariant(
                    h, norm, n_words[pos], doc.signatures[pos],
                    doc.band_keys[pos] if eligible else None,
                    doc.sentence_keys[pos] if eligible else None,
                    doc.shingles[bounds[pos]:bounds[pos + 1]],
                )
    return occurrences, Variants(variants.values())
