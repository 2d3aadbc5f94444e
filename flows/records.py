"""The plain records the stages and the warehouse pass each other, so that neither imports the other: the files and
documents a run reads and writes; what a batch holds (occurrences and their distinct
variants, with the arrays made from them), what the warehouse already stores that the batch could match (`Stored`),
and the rows of a dedup plan (`DedupPlan`) that the warehouse writes."""

from __future__ import annotations

import functools
import gc
import hashlib
from dataclasses import dataclass, field
from datetime import datetime
from typing import Callable, NamedTuple

import numpy as np

# Published-date stand-in for undated documents: they sort after every dated one.
UNDATED = datetime.max

OrderKey = tuple[datetime, int, str, int]


def order_key(published: datetime | None, run_id: int, source_path: str, position: int) -> OrderKey:
    """Sort key of an occurrence: the smallest key in a cluster is its canonical paragraph."""
    return (published.replace(tzinfo=None) if published else UNDATED, run_id, source_path, position)


def paragraph_id_for(doc_id: str, position: int) -> str:
    """A cluster's id, derived from its canonical occurrence only (never from processing order)."""
    return hashlib.sha256(f"{doc_id}:{position}".encode()).digest()[:8].hex()  # hexdigest()[:16], made faster


@dataclass(frozen=True)
class KnownFile:
    """A file version the warehouse has already seen (ingested or rejected)."""

    source_path: str
    sha256: str | None
    size: int | None
    mtime_ns: int | None


@dataclass(frozen=True)
class Rejection:
    """A file that cannot be ingested, and why; size and mtime let the next run skip it if unchanged."""

    source_path: str
    reason: str
    sha256: str | None = None
    size: int | None = None
    mtime_ns: int | None = None
    # A record of a JSON Lines or WARC file: that file, and the record's byte offset in it.
    container: str | None = None
    record_offset: int | None = None


@dataclass(frozen=True)
class Unchanged:
    """A file whose bytes are already in the warehouse under the same path (only its mtime moved)."""

    source_path: str
    sha256: str
    size: int
    mtime_ns: int


@dataclass(frozen=True)
class ContainerState:
    """How far the warehouse has read a JSON Lines or WARC file (the `containers` table), and the records of it
    that it holds or rejected for their content: (source_path, sha256) pairs."""

    scanned_bytes: int
    n_records: int
    prefix_sha256: str
    known: frozenset[tuple[str, str]] = frozenset()


@dataclass(frozen=True)
class ContainerScan:
    """A container's state after this run's scan, written with the run's last batch."""

    source_path: str
    size_bytes: int
    mtime_ns: int
    scanned_bytes: int
    n_records: int
    prefix_sha256: str


@dataclass(frozen=True)
class DocumentRow:
    """A document as the `documents` table holds it (version and ingested_at are filled at load)."""

    doc_id: str
    source_path: str
    sha256: str
    size_bytes: int
    mtime_ns: int
    format: str
    encoding: str
    cleaner: str
    title: str | None
    author: str | None
    published: datetime | None
    site: str | None
    url: str | None
    language: str | None
    n_paragraphs: int
    clean_fallback: bool = False  # see Extraction.clean_fallback
    # A record of a JSON Lines or WARC file (None for a file read whole): migration 014.
    container: str | None = None
    record_offset: int | None = None
    record_id: str | None = None
    # What cleaning dropped (migration 015), in non-whitespace characters of the decoded text: `text_chars` of it
    # read, `boilerplate_chars` of it in no cleaned paragraph; and the cleaned paragraphs dropped as templates.
    text_chars: int | None = None
    boilerplate_chars: int | None = None
    template_paragraphs: int | None = None


# The records made once a paragraph or a variant are NamedTuples: immutable, like a frozen dataclass, and made in a
# quarter of its time (a frozen dataclass sets each field through object.__setattr__).
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
    sentence_keys: np.ndarray | None = None  # as stored (sentence_keys); None: none


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
    # Stored copies sharing a band with some new variants (`Containers`), and stored passages by id: what finds the
    # passages a new leader reshapes (see flows.dedup._containing). None: nothing is looked up.
    fetch_containers: Callable[[list[NewVariant]], Containers] | None = None
    fetch_clusters: Callable[[list[str]], dict[str, StoredCluster]] | None = None


class Containers(NamedTuple):
    """Stored copies sharing an LSH band with new variants: (new norm_hash, stored norm_hash) pairs, and each stored
    copy that is not its passage's canonical: (paragraph_id, its normalised text, the canonical's norm_hash and
    normalised text)."""

    pairs: list[tuple[int, int]]
    copies: dict[int, tuple[str, str, int, str]]


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


def without_cycle_collection(fn):
    """`fn` runs with CPython's cycle collector paused. Each stage of a batch in the flow's thread (collecting,
    fetching, planning, writing) allocates some 10^5 small objects (tuples, sets, rows, arrays), none of them in a
    cycle, so reference counting frees them all the same; but every 700 allocations the collector would scan the
    young ones, and every so often the run's whole heap: a third of planning time, by gc.callbacks on
    tests/benchmarks/syndication.py. The switch is the process's: the chunk tasks, which may run in threads beside
    these stages, do not use it."""
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
