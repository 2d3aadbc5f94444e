"""Dedup: exact and near-duplicate matching of new paragraphs against each other and the warehouse.

Pure functions: the warehouse module fetches what is already stored (`Stored`), `plan_dedup`
decides, the warehouse module writes the `DedupPlan`. Near-duplicate candidates come from shared
LSH band keys and are verified with the exact Jaccard similarity of word shingles; verified pairs
are joined transitively (union-find), and each cluster's canonical paragraph is the occurrence
with the smallest order key (earliest published, earliest run, source path, position), so the
result does not depend on the order in which files, chunks or workers were processed.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass, field
from datetime import datetime
from itertools import combinations

import numpy as np

from flows.config import Settings
from flows.fingerprint import jaccard, shingle_hashes

# Published-date stand-in for undated documents: they sort after every dated one.
UNDATED = datetime.max
# Buckets larger than this are compared as a star, not all pairs (keeps a run linear in its input).
_MAX_BUCKET_PAIRS = 64

OrderKey = tuple[datetime, int, str, int]


def order_key(published: datetime | None, run_id: int, source_path: str, position: int) -> OrderKey:
    """Sort key of an occurrence: the smallest key in a cluster is its canonical paragraph."""
    return (published.replace(tzinfo=None) if published else UNDATED, run_id, source_path, position)


def paragraph_id_for(doc_id: str, position: int) -> str:
    """A cluster's id, derived from its canonical occurrence only (never from processing order)."""
    return hashlib.sha256(f"{doc_id}:{position}".encode()).hexdigest()[:16]


@dataclass(frozen=True)
class Occurrence:
    """One paragraph of a new document, in the document's order."""

    doc_id: str
    position: int
    text: str
    norm: str
    norm_hash: int
    order: OrderKey


@dataclass(frozen=True)
class NewVariant:
    """A distinct normalised text among the new paragraphs, with its fingerprint."""

    norm_hash: int
    norm: str
    n_words: int
    signature: np.ndarray
    band_keys: np.ndarray | None  # None: too short for near matching


@dataclass(frozen=True)
class StoredCluster:
    """An existing paragraph (cluster) touched by this run: its canonical and its distinct variants."""

    paragraph_id: str
    canonical_order: OrderKey
    canonical_doc_id: str
    canonical_position: int
    canonical_hash: int
    canonical_text: str
    # norm_hash -> normalised text of every distinct variant already in the cluster
    variants: dict[int, str]


@dataclass
class Stored:
    """What the warehouse already holds that this run's paragraphs could match."""

    cluster_of: dict[int, str] = field(default_factory=dict)  # stored norm_hash -> paragraph_id
    band_hits: list[tuple[int, int]] = field(default_factory=list)  # (new norm_hash, stored norm_hash)
    clusters: dict[str, StoredCluster] = field(default_factory=dict)


@dataclass(frozen=True)
class ParagraphRow:
    paragraph_id: str
    text: str
    first_doc_id: str
    first_position: int
    norm_hash: int


@dataclass(frozen=True)
class OccurrenceRow:
    doc_id: str
    position: int
    paragraph_id: str
    text: str
    match: str
    similarity: float
    norm_hash: int


@dataclass(frozen=True)
class Repoint:
    """Stored occurrences of `old_id` with this norm_hash now belong to `new_id`, at this similarity."""

    old_id: str
    norm_hash: int
    new_id: str
    similarity: float


@dataclass
class DedupPlan:
    """Everything the load step writes for the paragraphs of one run."""

    paragraphs: list[ParagraphRow] = field(default_factory=list)  # upserted (new or changed clusters)
    retired: list[str] = field(default_factory=list)  # paragraph_ids merged into another
    occurrences: list[OccurrenceRow] = field(default_factory=list)
    repoints: list[Repoint] = field(default_factory=list)
    new_variants: list[NewVariant] = field(default_factory=list)  # to fingerprint-store
    variant_cluster: dict[int, str] = field(default_factory=dict)  # every touched norm_hash -> paragraph_id
    counts: dict[str, int] = field(default_factory=dict)


class _UnionFind:
    def __init__(self) -> None:
        self.parent: dict[object, object] = {}

    def find(self, x: object) -> object:
        self.parent.setdefault(x, x)
        root = x
        while self.parent[root] != root:
            root = self.parent[root]
        while self.parent[x] != root:
            self.parent[x], x = root, self.parent[x]
        return root

    def union(self, a: object, b: object) -> None:
        ra, rb = self.find(a), self.find(b)
        if ra != rb:
            # Deterministic root: the smaller key, so components never depend on union order.
            lo, hi = sorted((ra, rb), key=repr)
            self.parent[hi] = lo


def candidate_pairs(variants: list[NewVariant]) -> set[tuple[int, int]]:
    """Pairs of new variants that share at least one LSH band key."""
    buckets: dict[int, list[int]] = {}
    for v in variants:
        if v.band_keys is None:
            continue
        for key in v.band_keys.tolist():
            buckets.setdefault(key, []).append(v.norm_hash)
    pairs: set[tuple[int, int]] = set()
    for members in buckets.values():
        if len(members) < 2:
            continue
        members = sorted(set(members))
        if len(members) <= _MAX_BUCKET_PAIRS:
            pairs.update(combinations(members, 2))
        else:
            pairs.update((members[0], m) for m in members[1:])
            pairs.update(zip(members, members[1:]))
    return pairs


def plan_dedup(occurrences: list[Occurrence], variants: list[NewVariant], stored: Stored, settings: Settings) -> DedupPlan:
    """Match this run's paragraphs exactly and approximately, cluster them, pick canonicals, plan the writes."""
    cfg = settings.minhash
    new_by_hash = {v.norm_hash: v for v in variants}
    norms = {h: t for c in stored.clusters.values() for h, t in c.variants.items()}
    norms.update((v.norm_hash, v.norm) for v in variants)
    shingles: dict[int, np.ndarray] = {}

    def sim(a: int, b: int) -> float:
        if a == b:
            return 1.0
        for h in (a, b):
            if h not in shingles:
                shingles[h] = shingle_hashes(norms[h], cfg)
        return jaccard(shingles[a], shingles[b])

    uf = _UnionFind()
    node = lambda h: ("c", stored.cluster_of[h]) if h in stored.cluster_of else ("n", h)  # noqa: E731
    for v in variants:
        uf.find(node(v.norm_hash))
    for a, b in sorted(candidate_pairs(variants)):
        if sim(a, b) >= settings.threshold:
            uf.union(node(a), node(b))
    for new_h, old_h in sorted(set(stored.band_hits)):
        if new_h in new_by_hash and new_by_hash[new_h].band_keys is not None and sim(new_h, old_h) >= settings.threshold:
            uf.union(node(new_h), ("c", stored.cluster_of[old_h]))

    components: dict[object, dict[str, list]] = {}
    for occ in occurrences:
        comp = components.setdefault(uf.find(node(occ.norm_hash)), {"new": [], "old": set()})
        comp["new"].append(occ)
    for n in list(uf.parent):
        if n[0] == "c" and uf.find(n) in components:
            components[uf.find(n)]["old"].add(n[1])

    plan = DedupPlan(new_variants=[v for v in variants if v.norm_hash not in stored.cluster_of])
    counts = {"new": 0, "exact": 0, "near": 0}
    for root in sorted(components, key=repr):
        comp = components[root]
        olds = [stored.clusters[pid] for pid in sorted(comp["old"])]
        best_new = min(comp["new"], key=lambda o: o.order)
        best_old = min(olds, key=lambda c: c.canonical_order, default=None)
        if best_old is not None and best_old.canonical_order < best_new.order:
            canon_doc, canon_pos = best_old.canonical_doc_id, best_old.canonical_position
            canon_hash, canon_text = best_old.canonical_hash, best_old.canonical_text
        else:
            canon_doc, canon_pos = best_new.doc_id, best_new.position
            canon_hash, canon_text = best_new.norm_hash, best_new.text
        pid = paragraph_id_for(canon_doc, canon_pos)
        plan.paragraphs.append(ParagraphRow(pid, canon_text, canon_doc, canon_pos, canon_hash))
        for occ in comp["new"]:
            if (occ.doc_id, occ.position) == (canon_doc, canon_pos):
                match, similarity = "new", 1.0
            elif occ.norm_hash == canon_hash:
                match, similarity = "exact", 1.0
            else:
                match, similarity = "near", sim(occ.norm_hash, canon_hash)
            counts[match] += 1
            plan.occurrences.append(OccurrenceRow(occ.doc_id, occ.position, pid, occ.text, match, similarity, occ.norm_hash))
            plan.variant_cluster[occ.norm_hash] = pid
        for c in olds:
            for h in sorted(c.variants):
                plan.variant_cluster[h] = pid
                if c.paragraph_id != pid:
                    plan.repoints.append(Repoint(c.paragraph_id, h, pid, sim(h, canon_hash)))
            if c.paragraph_id != pid:
                plan.retired.append(c.paragraph_id)
    plan.counts = counts
    return plan


def collect_batch(documents: list, run_id: int, settings: Settings) -> tuple[list[Occurrence], list[NewVariant]]:
    """Flatten prepared documents into occurrences and their distinct variants (first seen wins, all equal)."""
    occurrences: list[Occurrence] = []
    variants: dict[int, NewVariant] = {}
    for doc in sorted(documents, key=lambda d: (d.row.source_path, d.row.sha256)):
        row = doc.row
        for pos, (text, norm, h) in enumerate(zip(doc.texts, doc.norms, doc.norm_hashes)):
            occurrences.append(Occurrence(row.doc_id, pos, text, norm, h, order_key(row.published, run_id, row.source_path, pos)))
            if h not in variants:
                n_words = int(doc.n_words[pos])
                keys = doc.band_keys[pos] if n_words >= settings.min_words else None
                variants[h] = NewVariant(h, norm, n_words, doc.signatures[pos], keys)
    return occurrences, list(variants.values())
