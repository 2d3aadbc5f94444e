"""Dedup: exact and near-duplicate matching of new paragraphs against each other and the stored passages.

Pure functions: the warehouse module fetches what is already stored (`Stored`), `plan_dedup`
decides, the warehouse module writes the `DedupPlan`. The steps, top to bottom:

1. candidates (`find_candidates`): new texts sharing an LSH band key or a sentence with each other, and
   with the canonical text of each stored passage they hit; a text already stored is in its passage by
   its hash and is never verified again.
2. verify (`verify_candidates`): each candidate pair on the two texts' sets of word-shingle hashes
   (the 32-bit hashes their signatures are made from): near when Jaccard >= threshold and neither is
   shaped like a part of the other; contained when at least `containment` of the smaller's shingles
   are in the larger, which is at least 1/`part_ratio` times its size.
3. cluster (`cluster_duplicates`), the leader rule: texts are placed one by one in the order of their
   first appearance (earliest published, earliest run, source path, position). A text joins the
   passage of an earlier *leader* it is near, or is a piece of, or is the only passage inside; a text
   holding two or more unrelated leaders is a merge, linked to each and joining none; any other text
   leads a new passage. Why it cannot chain: a text only ever joins a leader, and a leader is a text
   that joined nothing, so every member is related to its passage's own first text. With Jaccard
   distance d = 1 - J (a metric), members of one passage lie within 1 - threshold of the leader, hence
   within 2 (1 - threshold) of each other, however many copies there are; union-find over every
   verified pair had no such bound (A near B near C made one passage of A and C, a merged paragraph
   made one of its two halves).
4. canonical: the passage's occurrence with the smallest order key, which is its leader's first
   occurrence; so the result does not depend on the order of files, chunks, workers or batches. A
   stored passage whose leader an earlier text displaces is reopened and its variants placed again.
5. plan: plain rows for the warehouse to write.
"""

from __future__ import annotations

import dataclasses
import functools
import gc
import hashlib
from dataclasses import dataclass, field
from datetime import datetime
from typing import Callable, NamedTuple

import numpy as np

from flows.config import Settings
from flows.fingerprint import fingerprint_paragraphs, shingle_arrays

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


class Member(NamedTuple):
    """A stored variant's first occurrence: what a reopened passage's variant is placed and named by."""

    order: OrderKey
    doc_id: str
    position: int
    text: str


@dataclass
class Stored:
    """What the warehouse already holds that this run's paragraphs could match."""

    cluster_of: dict[int, str] = field(default_factory=dict)  # stored norm_hash -> paragraph_id
    # (new norm_hash, stored norm_hash) sharing an LSH band or a sentence
    band_hits: list[tuple[int, int]] = field(default_factory=list)
    clusters: dict[str, StoredCluster] = field(default_factory=dict)
    # Reopened passages (placed again): paragraph_id -> each variant's first occurrence
    members: dict[str, dict[int, Member]] = field(default_factory=dict)
    # Fetches `members` of more passages; bound to the warehouse by its fetch (None: passages are never reopened,
    # a displaced leader's passage follows it whole).
    fetch_members: Callable[[list[str]], dict[str, dict[int, Member]]] | None = None


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


@dataclass
class _Batch:
    """The texts the leader rule places in one batch, and what each stands for.

    A node is a new variant, the canonical text of a stored passage (its leader: the passage's other variants follow
    it), or a variant of a reopened stored passage (clustered again, like a new one). A new variant that is a stored
    text of a passage that is not reopened is no node: it is in that passage, resolved by its hash (`exact`)."""

    order: dict[int, OrderKey]  # each node's first appearance
    nodes: list[int]  # in the order of first appearance (then hash): the order they are placed in
    exact: dict[int, str]  # new variant -> the stored passage it is a text of
    leader_of: dict[str, int]  # stored passage (not reopened) -> its canonical's hash, a node
    passage_of: dict[int, str]  # the reverse
    extra: Variants  # the reopened passages' variants that are not new, fingerprinted again for candidate search
    norms: dict[int, str]  # the normalised text of every node and stored variant


def _batch(occurrences: list[Occurrence], variants: list[NewVariant], stored: Stored, settings: Settings) -> _Batch:
    """The nodes of a batch: new variants, stored leaders and the variants of reopened passages."""
    order: dict[int, OrderKey] = {}
    for o in occurrences:
        if o.norm_hash not in order or o.order < order[o.norm_hash]:
            order[o.norm_hash] = o.order
    norms = {h: n for c in stored.clusters.values() for h, n in c.variants.items()}
    norms.update((v.norm_hash, v.norm) for v in variants)
    exact = {v.norm_hash: stored.cluster_of[v.norm_hash] for v in variants
             if v.norm_hash in stored.cluster_of and stored.cluster_of[v.norm_hash] not in stored.members}
    nodes = {v.norm_hash for v in variants if v.norm_hash not in exact}
    leader_of: dict[str, int] = {}
    for pid, c in stored.clusters.items():
        if pid in stored.members:
            for h, m in stored.members[pid].items():
                if h in norms:
                    order[h] = min(order.get(h, m.order), m.order)
                    nodes.add(h)
            continue
        h = c.canonical_hash
        leader_of[pid] = h
        order[h] = min(order.get(h, c.canonical_order), c.canonical_order)
        nodes.add(h)
    new = {v.norm_hash for v in variants}
    extra_hashes = sorted(h for pid in stored.members for h in stored.members[pid] if h in norms and h not in new)
    extra = Variants()
    if extra_hashes:
        fp = fingerprint_paragraphs([norms[h] for h in extra_hashes], settings.minhash)
        n_words, bounds = fp.n_words.tolist(), fp.offsets.tolist()
        extra = Variants(
            NewVariant(h, norms[h], n_words[i], fp.signatures[i],
                       fp.band_keys[i] if n_words[i] >= settings.min_words else None, None,
                       fp.shingles[bounds[i]:bounds[i + 1]])
            for i, h in enumerate(extra_hashes))
    return _Batch(order, sorted(nodes, key=lambda h: (order[h], h)), exact, leader_of,
                  {h: pid for pid, h in leader_of.items()}, extra, norms)


def find_candidates(batch: _Batch, variants: list[NewVariant], stored: Stored, settings: Settings) -> list[tuple[int, int]]:
    """Pairs of nodes worth verifying: new (and reopened) texts that share a band or a sentence, and each new text
    with the leader of every stored passage it hit, never with the passage's other copies."""
    free = variants if not batch.exact and not batch.extra else \
        Variants([v for v in variants if v.norm_hash not in batch.exact] + list(batch.extra))
    free = Variants.of(free)
    rank = {h: i for i, h in enumerate(batch.nodes)}
    ranks = np.fromiter((rank[h] for h in free.hashes().tolist()), dtype=np.int64, count=len(free))
    pairs = set(candidate_pairs(free, settings.candidate_floor, ranks))
    eligible = {v.norm_hash for v in variants if v.band_keys is not None and v.norm_hash not in batch.exact}
    for n, o in stored.band_hits:
        pid = stored.cluster_of.get(o)
        if n not in eligible or pid is None:
            continue
        other = batch.leader_of.get(pid, o)  # a reopened passage's variants are nodes themselves
        if other in batch.norms and other != n:
            pairs.add((n, other))
    return sorted(pairs)


def verify_candidates(pairs: list[tuple[int, int]], sh: _Shingles) -> dict[int, list[int]]:
    """Each node's related nodes (near, or one inside the other), from the candidate pairs verified on shingles."""
    related: dict[int, list[int]] = {}
    for (a, b), rel in zip(pairs, sh.verify(pairs)):
        if rel is not None:
            related.setdefault(a, []).append(b)
            related.setdefault(b, []).append(a)
    return related


@dataclass
class _Placed:
    """The leader rule's result: each node's passage (its leader's hash) and the merges' links."""

    root: dict[int, int]
    links: dict[tuple[int, int], float]  # (part's leader, whole's leader) -> share of the part inside
    demoted: set[str]  # stored passages whose leader joined an earlier text


def cluster_duplicates(batch: _Batch, related: dict[int, list[int]], sh: _Shingles, settings: Settings) -> _Placed:
    """Place every node, in the order of first appearance, by the leader rule (see `_place`): it joins the passage
    of an earlier leader it matches, or leads a passage of its own. Members join leaders only, never each other, so
    membership cannot chain."""
    leaders: set[int] = set()
    placed = _Placed({}, {}, set())
    for h in batch.nodes:
        earlier = sorted((L for L in related.get(h, ()) if L in leaders), key=lambda L: (batch.order[L], L))
        joined, parts = _place(h, earlier, batch.order, sh, settings)
        if joined is None:
            leaders.add(h)
            placed.root[h] = h
        else:
            placed.root[h] = joined
            if h in batch.passage_of:
                placed.demoted.add(batch.passage_of[h])
        for part, share in parts:
            key = (part, placed.root[h])
            placed.links[key] = max(share, placed.links.get(key, 0.0))
    return placed


def _place(h: int, earlier: list[int], order: dict[int, OrderKey], sh: _Shingles,
           settings: Settings) -> tuple[int | None, list[tuple[int, float]]]:
    """Where text h goes among the earlier leaders it is related to: (leader it joins or None, parts it links to).

    - Merge: two or more leaders lie inside h (`containment` of each one's shingles in it), neither inside the
      other: h leads a passage of its own, linked to each of them.
    - Else h joins the leader it is nearest to (Jaccard >= threshold); failing that, the leader it is a piece of
      (a split), most contained first; failing that, the one leader inside it (sentences added). Ties go to the
      earlier leader. A leader inside h that h did not join is linked as its part.
    - Else h leads a new passage.
    Every member is related to its leader's own text: a passage is never joined to another through a member."""
    if not earlier:
        return None, []
    common = {L: sh._common(h, L) for L in earlier}
    inside = [L for L in earlier if common[L] >= settings.containment * sh._size(L)]
    maximal = [L for L in inside if not any(M != L and _covers(M, L, order, sh, settings) for M in inside)]
    shares = {L: common[L] / sh._size(L) for L in inside}
    if len(maximal) >= 2:
        return None, [(L, shares[L]) for L in maximal]
    options = []
    for L in earlier:
        rel = sh._classify(h, L, common[L])
        if rel is None:
            continue
        kind, value, part = rel
        if kind == "near":
            options.append((0, -value, order[L], L))
        elif part == h:
            options.append((1, -value, order[L], L))
        elif L in maximal:
            options.append((2, -value, order[L], L))
    if not options:
        return None, [(L, shares[L]) for L in maximal]
    best = min(options)[3]
    return best, [(L, shares[L]) for L in maximal if L != best and not _covers(best, L, order, sh, settings)]


def _covers(whole: int, part: int, order: dict[int, OrderKey], sh: _Shingles, settings: Settings) -> bool:
    """Whether leader `part` lies inside leader `whole` (of two texts inside each other, the larger or else the
    earlier covers the other)."""
    size_part, size_whole = sh._size(part), sh._size(whole)
    if sh._common(part, whole) < settings.containment * size_part:
        return False
    return size_part < size_whole or (size_part == size_whole and order[whole] < order[part])


@dataclass
class _Passage:
    """One passage of the plan: its new occurrences, the stored passages it takes whole, the reopened variants it
    takes, and its canonical (the smallest option: order key, doc_id, position, norm_hash, text)."""

    new: list[Occurrence] = field(default_factory=list)
    whole: set[str] = field(default_factory=set)
    moved: list[tuple[str, int]] = field(default_factory=list)  # (stored passage, norm_hash)
    canon: tuple | None = None

    def offer(self, option: tuple) -> None:
        if self.canon is None or option < self.canon:
            self.canon = option

    @property
    def paragraph_id(self) -> str:
        return paragraph_id_for(self.canon[1], self.canon[2])


def _passages(occurrences: list[Occurrence], batch: _Batch, placed: _Placed, stored: Stored) -> dict[int, _Passage]:
    """The passages the batch touches, by leader, each with its canonical occurrence (`order_key`'s smallest)."""
    def root_of(h: int) -> int:
        return placed.root[batch.leader_of[batch.exact[h]]] if h in batch.exact else placed.root[h]

    passages: dict[int, _Passage] = {}
    for o in occurrences:
        passage = passages.setdefault(root_of(o.norm_hash), _Passage())
        passage.new.append(o)
        passage.offer((o.order, o.doc_id, o.position, o.norm_hash, o.text))
    for pid, leader in batch.leader_of.items():
        root = placed.root[leader]
        if root in passages:  # joined by a new text, or (without its variants fetched) following its leader whole
            c = stored.clusters[pid]
            passages[root].whole.add(pid)
            # No text: a stored passage keeps the text it has (ParagraphRow.known).
            passages[root].offer((c.canonical_order, c.canonical_doc_id, c.canonical_position, c.canonical_hash, None))
    for pid, members in sorted(stored.members.items()):
        for h, m in sorted(members.items()):
            if h in placed.root:
                passage = passages.setdefault(placed.root[h], _Passage())
                passage.moved.append((pid, h))
                passage.offer((m.order, m.doc_id, m.position, h, m.text))
    return passages


@without_cycle_collection
def plan_dedup(occurrences: list[Occurrence], variants: list[NewVariant], stored: Stored, settings: Settings) -> DedupPlan:
    """Match a batch's paragraphs against each other and the stored passages, place them by the leader rule, pick
    each passage's canonical and plan the writes.

    A stored passage whose leader an earlier text displaces is reopened: its variants are fetched with their first
    occurrences (`Stored.fetch_members`) and placed again like new ones, as if everything had come in one batch."""
    while True:
        batch = _batch(occurrences, variants, stored, settings)
        sh = _Shingles(batch.norms, settings, {v.norm_hash: v.shingles for v in (*variants, *batch.extra)
                                               if v.shingles is not None})
        # 1. candidates, 2. verified relations, 3. the leader rule
        related = verify_candidates(find_candidates(batch, variants, stored, settings), sh)
        placed = cluster_duplicates(batch, related, sh, settings)
        reopen = sorted(placed.demoted - set(stored.members))
        if not reopen or stored.fetch_members is None:
            break
        stored = dataclasses.replace(stored, members={**stored.members, **stored.fetch_members(reopen)})
    # 4. canonicals, 5. the writes
    return _plan_writes(occurrences, variants, batch, placed, _passages(occurrences, batch, placed, stored), stored, sh)


def _plan_writes(occurrences, variants, batch: _Batch, placed: _Placed, passages: dict[int, _Passage],
                 stored: Stored, sh: _Shingles) -> DedupPlan:
    """The rows a batch writes: passages upserted, occurrences, stored occurrences moved, passages retired, links."""
    new_variants = [v for v in variants if v.norm_hash not in stored.cluster_of]
    # All of them new (nothing stored matched exactly): the batch itself, with the arrays it has made.
    plan = DedupPlan(new_variants=variants if len(new_variants) == len(variants) else Variants(new_variants))
    counts = {"new": 0, "exact": 0, "near": 0, "contained": 0}
    ids = {root: passage.paragraph_id for root, passage in passages.items()}
    retired: set[str] = set()
    for root in sorted(passages):
        passage, pid = passages[root], ids[root]
        order, doc, pos, canon_hash, text = passage.canon
        plan.paragraphs.append(ParagraphRow(pid, text, doc, pos, canon_hash, pid in stored.clusters))
        for occ in passage.new:
            h = occ.norm_hash
            if h != canon_hash:
                match, similarity = sh.match(h, canon_hash)
            elif (occ.doc_id, occ.position) == (doc, pos):
                match, similarity = "new", 1.0
            else:
                match, similarity = "exact", 1.0
            counts[match] += 1
            plan.occurrences.append(OccurrenceRow(occ.doc_id, occ.position, pid, occ.text, match, similarity, h))
            plan.variant_cluster[h] = pid
        moved = [(old, h) for old in sorted(passage.whole) for h in sorted(stored.clusters[old].variants)]
        for old, h in moved + sorted(passage.moved):
            plan.variant_cluster[h] = pid
            if old != pid:
                plan.repoints.append(Repoint(old, h, pid, *sh.match(h, canon_hash)))
                retired.add(old)
    plan.retired = sorted(retired - set(ids.values()))
    leader_id = {h: pid for pid, h in batch.leader_of.items()}
    by_ids: dict[tuple[str, str], float] = {}
    for (part, whole), value in placed.links.items():
        key = (ids.get(part) or leader_id[part], ids.get(whole) or leader_id[whole])
        if key[0] != key[1]:
            by_ids[key] = max(value, by_ids.get(key, 0.0))
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
