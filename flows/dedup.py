"""Dedup: exact and near-duplicate matching of new paragraphs against each other and the stored passages.

Pure functions: the warehouse module fetches what is already stored (`Stored`), `plan_dedup`
decides, the warehouse module writes the `DedupPlan` (plain rows of `flows.records`, which the two share;
candidate search and verification on shingles are `flows.similarity`'s). The steps, top to bottom:

1. candidates: each text's band and sentence keys (`keyed_nodes`), and the stored passages the warehouse found it
   shares a band or a sentence with (`stored_neighbours`); a text already stored is in its passage by its hash and
   is never verified again.
2. verify (`Shingles`): a text against a leader on their sets of word-shingle hashes (the 32-bit hashes their
   signatures are made from): near when Jaccard >= threshold and neither is shaped like a part of the other;
   contained when at least `containment` of the smaller's shingles are in the larger, which is at least
   1/`part_ratio` times its size.
3. cluster (`cluster_duplicates`), the leader rule: texts are placed one by one in the order of their first
   appearance (earliest published, earliest run, source path, position), each verified against the leaders of the
   passages it shares a key with (`_PassageIndex`: any of a passage's texts brings its leader, as any stored copy
   brings a stored passage's). A text joins the passage of an earlier *leader* it is near or is the only passage
   inside (the nearest of these), or else is a piece of; a text holding two or more unrelated leaders is a merge,
   linked to each and joining none; any other text leads a new passage. Why it cannot chain: a text is only ever
   compared with leaders, and a leader is a text that joined nothing, so every member is related (near, a piece, an
   extension) to its passage's own first text; membership is a star around the leader, never a path. With Jaccard
   distance d = 1 - J (a metric), a near member lies within 1 - threshold of the leader whatever the number of
   copies, where union-find over all verified pairs let a chain of k near pairs reach k (1 - threshold) from its
   start, and took a merged paragraph near each of its halves as one passage of both.
4. canonical: the passage's occurrence with the smallest order key, which is its leader's first
   occurrence; so the result does not depend on the order of files, chunks, workers or batches. A
   stored passage whose leader an earlier text displaces is reopened and its variants placed again.
5. plan: plain rows for the warehouse to write.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass, field
from typing import Sequence

import numpy as np

from flows.config import Settings
from flows.fingerprint import fingerprint_paragraphs
from flows.records import (DedupPlan, Link, NewVariant, Occurrence, OccurrenceRow, OrderKey, ParagraphRow, Repoint,
                           Stored, Variants, order_key, paragraph_id_for, without_cycle_collection)
from flows.similarity import Shingles


@dataclass
class _Batch:
    """The texts the leader rule places in one batch, and what each stands for.

    A node is a new variant, the canonical text of a stored passage (its leader: the passage's other variants follow
    it), or a variant of a reopened stored passage (clustered again, like a new one). A new variant that is a stored
    text of a passage that is not reopened is no node: it is in that passage, resolved by its hash (`exact`)."""

    order: dict[int, OrderKey]  # each node's first appearance
    nodes: set[int]
    exact: dict[int, str]  # new variant -> the stored passage it is a text of
    leader_of: dict[str, int]  # stored passage (not reopened) -> its canonical's hash, a node
    passage_of: dict[int, str]  # the reverse
    extra: Variants  # the reopened passages' variants that are not new, fingerprinted again for candidate search
    norms: dict[int, str]  # the normalised text of every node and stored variant


@dataclass
class _Rounds:
    """What a batch's rounds of reopening share: the normalised texts of the stored passages met so far (by
    passage), and the reopened variants fingerprinted so far (by hash)."""

    norms: dict[int, str] = field(default_factory=dict)
    passages: set[str] = field(default_factory=set)
    extra: dict[int, NewVariant] = field(default_factory=dict)


def _batch(occurrences: list[Occurrence], variants: list[NewVariant], stored: Stored, settings: Settings,
           rounds: _Rounds) -> _Batch:
    """The nodes of a batch: new variants, stored leaders and the variants of reopened passages."""
    order: dict[int, OrderKey] = {}
    for o in occurrences:
        if o.norm_hash not in order or o.order < order[o.norm_hash]:
            order[o.norm_hash] = o.order
    if not rounds.norms:
        rounds.norms.update((v.norm_hash, v.norm) for v in variants)
    norms = rounds.norms
    for pid in stored.clusters.keys() - rounds.passages:
        for h, n in stored.clusters[pid].variants.items():
            norms.setdefault(h, n)
        rounds.passages.add(pid)
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
    missing = [h for h in extra_hashes if h not in rounds.extra]
    if missing:
        fp = fingerprint_paragraphs([norms[h] for h in missing], settings.minhash)
        n_words, bounds = fp.n_words.tolist(), fp.offsets.tolist()
        sentences = {h: m.sentence_keys for members in stored.members.values() for h, m in members.items()}
        rounds.extra.update(
            (h, NewVariant(h, norms[h], n_words[i], fp.signatures[i],
                           fp.band_keys[i] if n_words[i] >= settings.min_words else None,
                           sentences.get(h) if n_words[i] >= settings.min_words else None,
                           fp.shingles[bounds[i]:bounds[i + 1]]))
            for i, h in enumerate(missing))
    extra = Variants(rounds.extra[h] for h in extra_hashes)
    return _Batch(order, nodes, exact, leader_of,
                  {h: pid for pid, h in leader_of.items()}, extra, norms)


# A key held by more passages than this keeps the earliest ones only (a sentence every outlet appends, say): a text
# is compared with at most this many passages a key, so a run stays linear in its input.
_MAX_PASSAGES_PER_KEY = 64


def keyed_nodes(batch: _Batch, variants: list[NewVariant]) -> _NodeKeys:
    """The band and sentence keys (`_keys`) of the nodes that have them: new texts, reopened passages' variants, and a
    stored leader whose text is new too (it is in its passage by its hash, but its keys find the texts near it)."""
    held = [v for v in (*variants, *batch.extra)
            if v.band_keys is not None and (v.norm_hash not in batch.exact or v.norm_hash in batch.passage_of)]
    return _NodeKeys.of([v.norm_hash for v in held], [_keys(v) for v in held])


_NO_KEYS = np.zeros(0, dtype=np.int64)


@dataclass
class _NodeKeys:
    """Each keyed node's keys as dense numbers (0 .. n_keys - 1), one flat array with a run per node: a batch holds
    millions of keys, and as Python ints in lists and dicts they took more memory than the rest of the batch."""

    row: dict[int, int]  # node -> its run
    ids: np.ndarray
    offsets: np.ndarray
    n_keys: int

    @classmethod
    def of(cls, hashes: list[int], arrays: list[np.ndarray]) -> _NodeKeys:
        if not arrays:
            return cls({}, _NO_KEYS, np.zeros(1, dtype=np.int64), 0)
        lengths = np.fromiter(map(len, arrays), dtype=np.int64, count=len(arrays))
        distinct, ids = np.unique(np.concatenate(arrays), return_inverse=True)
        return cls(dict(zip(hashes, range(len(hashes)))), ids.astype(np.int64, copy=False),
                   np.concatenate(([0], np.cumsum(lengths))), len(distinct))

    def of_node(self, h: int) -> np.ndarray:
        i = self.row.get(h)
        return _NO_KEYS if i is None else self.ids[self.offsets[i]:self.offsets[i + 1]]


def stored_neighbours(batch: _Batch, variants: list[NewVariant], stored: Stored) -> dict[int, set[int]]:
    """Nodes the warehouse relates to each node: a new text and the leader of each stored passage it shares a band
    or a sentence with (`Stored.band_hits`, never the passage's other copies), both ways; and a reopened passage's
    variants and its canonical, which a band of the batch need not join."""
    out: dict[int, set[int]] = {}

    def pair(a: int, b: int) -> None:
        if a != b:
            out.setdefault(a, set()).add(b)
            out.setdefault(b, set()).add(a)

    eligible = {v.norm_hash for v in variants if v.band_keys is not None and v.norm_hash not in batch.exact}
    for n, o in stored.band_hits:
        pid = stored.cluster_of.get(o)
        if n in eligible and pid is not None:
            other = batch.leader_of.get(pid, o)  # a reopened passage's variants are nodes themselves
            if other in batch.norms:
                pair(n, other)
    for pid, members in stored.members.items():
        canon = stored.clusters[pid].canonical_hash
        if canon in batch.order:
            for h in members:
                if h in batch.order:
                    pair(h, canon)
    return out


class _PassageIndex:
    """The keys of the texts placed so far, each with the passages (by leader) whose texts hold it.

    A text is compared with the leader of every passage one of whose texts shares a key with it, never with the
    passage's other texts: the cost of a text follows the passages it resembles, not their copies, and a copy near
    its leader is found through any of the passage's texts (as a stored passage is, through any of its copies).
    Most keys are held by one passage: its number sits in a list by key number (Python's list, not numpy: a text has
    some fifty keys, too few for numpy's per-call cost), and only keys held by several have a list in `more`."""

    def __init__(self, n_keys: int) -> None:
        self.first = [-1] * n_keys  # the number of the first passage holding each key
        self.more: dict[int, list[int]] = {}
        self.leaders: list[int] = []  # passage number -> its leader
        self.number: dict[int, int] = {}

    def passages(self, ids: list[int]) -> set[int]:
        found = set(map(self.first.__getitem__, ids))
        found.discard(-1)
        more = self.more
        if more:
            for k in more.keys() & ids:
                found.update(more[k])
        leaders = self.leaders
        return {leaders[n] for n in found}

    def add(self, ids: list[int], leader: int) -> None:
        if not ids:
            return
        n = self.number.get(leader)
        if n is None:
            n = self.number[leader] = len(self.leaders)
            self.leaders.append(leader)
        first, more = self.first, self.more
        for k in ids:
            f = first[k]
            if f == n:
                continue
            if f < 0:
                first[k] = n
                continue
            held = more.get(k)
            if held is None:
                more[k] = [f, n]
            elif len(held) < _MAX_PASSAGES_PER_KEY and n not in held:
                held.append(n)


def _keys(v: NewVariant) -> np.ndarray:
    """A text's band keys and sentence keys, the latter negated bitwise (~) so the two kinds never meet."""
    if v.sentence_keys is not None and len(v.sentence_keys):
        return np.concatenate((v.band_keys, ~np.asarray(v.sentence_keys, dtype=np.int64)))
    return np.asarray(v.band_keys, dtype=np.int64)


@dataclass
class _Placed:
    """The leader rule's result: each node's passage (its leader's hash) and the merges' links."""

    root: dict[int, int]
    links: dict[tuple[int, int], float]  # (part's leader, whole's leader) -> share of the part inside
    demoted: set[str]  # stored passages whose leader joined an earlier text
    # node -> (the leaders it was verified against, in order; what `_place` made of them), for the next round
    tried: dict[int, tuple[tuple[int, ...], int | None, list[tuple[int, float]]]] = field(default_factory=dict)


def cluster_duplicates(batch: _Batch, keyed: _NodeKeys, neighbours: dict[int, set[int]], sh: Shingles,
                       settings: Settings, before: _Round | None = None) -> _Placed:
    """Place every node, in the order of first appearance, by the leader rule (see `_place`): it joins the passage
    of an earlier leader it matches, or leads a passage of its own. The leaders a text is verified against are those
    of the passages it shares a key with (`_PassageIndex`) or the warehouse relates it to (`stored_neighbours`).
    Members join leaders only, never each other, so membership cannot chain.

    `before`: the batch's previous round, when passages were reopened since. A node whose inputs did not change
    (`_changed`), tried against the same leaders as then, none of them changed, is placed as it was then without
    being verified again: `_place` would give the same answer."""
    index = _PassageIndex(keyed.n_keys)
    placed = _Placed({}, {}, set())
    # The order of first appearance (then hash) as one number a node: the order texts are placed in and leaders tried.
    nodes = sorted(batch.nodes, key=lambda h: (batch.order[h], h))
    rank = dict(zip(nodes, range(len(nodes))))
    changed, tried = (set(), {}) if before is None else (_changed(batch, keyed, neighbours, before), before.placed.tried)
    for h in nodes:
        keys = keyed.of_node(h).tolist()
        found = index.passages(keys)
        found.update(placed.root[n] for n in neighbours.get(h, ()) if n in placed.root)
        earlier = tuple(sorted(found, key=rank.__getitem__))
        then = tried.get(h)
        if then is not None and then[0] == earlier and h not in changed and changed.isdisjoint(earlier):
            joined, parts = then[1], then[2]
        else:
            joined, parts = _place(h, earlier, rank, batch.order, sh, settings)
        placed.tried[h] = (earlier, joined, parts)
        root = h if joined is None else joined
        placed.root[h] = root
        if joined is not None:
            sh.release(h)  # only leaders are compared with later texts
        if joined is not None and h in batch.passage_of:
            placed.demoted.add(batch.passage_of[h])
        index.add(keys, root)
        for part, share in parts:
            key = (part, root)
            placed.links[key] = max(share, placed.links.get(key, 0.0))
    return placed


@dataclass
class _Round:
    """One round of placement, kept for the next: what it placed, and the inputs that decided it."""

    batch: _Batch
    keyed: dict[int, int]  # the nodes that had keys (`_NodeKeys.row`; not their keys, which the round no longer needs)
    neighbours: dict[int, set[int]]
    placed: _Placed


def _changed(batch: _Batch, keyed: _NodeKeys, neighbours: dict[int, set[int]], before: _Round) -> set[int]:
    """The nodes whose inputs to `_place` differ from the previous round's: new nodes, and nodes with another first
    appearance, another stored passage led, keys gained or lost, or other stored relations."""
    was, none = before.batch, set()
    return {h for h in batch.nodes
            if h not in was.nodes or was.order[h] != batch.order[h] or was.passage_of.get(h) != batch.passage_of.get(h)
            or (h in before.keyed) != (h in keyed.row) or neighbours.get(h, none) != before.neighbours.get(h, none)}


def _place(h: int, earlier: Sequence[int], rank: dict[int, int], order: dict[int, OrderKey], sh: Shingles,
           settings: Settings) -> tuple[int | None, list[tuple[int, float]]]:
    """Where text h goes among the earlier leaders it is related to: (leader it joins or None, parts it links to).

    - Merge: two or more leaders lie inside h (`containment` of each one's shingles in it), neither inside the
      other: h leads a passage of its own, linked to each of them.
    - Else h joins the leader it is nearest to (Jaccard >= threshold), the one leader inside it (sentences added)
      competing on Jaccard too; failing that, the leader it is a piece of (a split), most contained first. Ties go
      to the earlier leader. A leader inside h that h did not join is linked as its part.
    - Else h leads a new passage.
    Every member is related to its leader's own text: a passage is never joined to another through a member."""
    if not earlier:
        return None, []
    common = sh.common_with(h, earlier)
    inside = [L for L in earlier if common[L] >= settings.containment * sh._size(L)]
    maximal = [L for L in inside if not any(M != L and _covers(M, L, order, sh, settings) for M in inside)]
    shares = {L: common[L] / sh._size(L) for L in inside}
    if len(maximal) >= 2:
        return None, [(L, shares[L]) for L in maximal]
    options = []
    size = sh._size(h)
    for L in earlier:
        rel = sh._classify(h, L, common[L])
        if rel is None:
            continue
        kind, value, part = rel
        if kind == "near":
            options.append((0, -value, rank[L], L))
        elif part == h:
            options.append((1, -value, rank[L], L))
        elif L in maximal:
            # Sentences added to a leader compete with near leaders on Jaccard: a text near a merge only through
            # the leader it holds is nearer to that leader.
            options.append((0, -common[L] / (size + sh._size(L) - common[L]), rank[L], L))
    if not options:
        return None, [(L, shares[L]) for L in maximal]
    best = min(options)[3]
    sh.keep(h, best, common[best])  # its match to the passage's canonical, mostly
    return best, [(L, shares[L]) for L in maximal if L != best and not _covers(best, L, order, sh, settings)]


def _covers(whole: int, part: int, order: dict[int, OrderKey], sh: Shingles, settings: Settings) -> bool:
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

    A stored passage is reopened when an earlier text displaces its leader, when the batch brings one of its other
    texts with an earlier first appearance than its canonical (`_displaced`), or when a new leader may make one of
    its copies a merge (`_containing`): its variants are fetched with their first occurrences
    (`Stored.fetch_members`) and placed again like new ones, as if everything had come in one batch."""
    asked: set[int] = set()
    rounds = _Rounds()
    # Shared shingles are counted once a pair, whatever the rounds of reopening.
    sh = Shingles({}, settings, {v.norm_hash: v.shingles for v in variants if v.shingles is not None})
    before: _Round | None = None
    while True:
        batch = _batch(occurrences, variants, stored, settings, rounds)
        early = _displaced(batch, stored) - set(stored.members) if stored.fetch_members is not None else set()
        if early:  # known before placing anything
            stored = _reopened(stored, sorted(early))
            continue
        sh.norms.update(batch.norms)
        sh.hashed.update((v.norm_hash, v.shingles) for v in batch.extra if v.norm_hash not in sh.hashed)
        sh.hash_all(batch.nodes)
        # 1. candidates (keys and stored hits), 2. verified against leaders and 3. placed, text by text
        keyed, neighbours = keyed_nodes(batch, variants), stored_neighbours(batch, variants, stored)
        placed = cluster_duplicates(batch, keyed, neighbours, sh, settings, before)
        before = _Round(batch, keyed.row, neighbours, placed)
        if stored.fetch_members is None:
            break
        reopen = sorted((placed.demoted | _containing(variants, batch, placed, stored, sh, settings, asked)) - set(stored.members))
        if not reopen:
            break
        stored = _reopened(stored, reopen)
    # 4. canonicals, 5. the writes
    return _plan_writes(occurrences, variants, batch, placed, _passages(occurrences, batch, placed, stored), stored, sh)


def _displaced(batch: _Batch, stored: Stored) -> set[str]:
    """Stored passages whose leader the batch may displace, known before placing anything: those it brings one of
    their texts to, other than the canonical's, with a first appearance earlier than the canonical's (loaded
    together, that text would have been placed before the leader), and those a new text (not stored) published
    before the canonical hit (it may take the passage's leader into its own passage). Reopening a passage the batch turns
    out not to displace changes nothing but cost: placed again, its texts rejoin their leader, as loaded together."""
    out = {pid for h, pid in batch.exact.items()
           if h != stored.clusters[pid].canonical_hash and batch.order[h] < stored.clusters[pid].canonical_order}
    for n, o in stored.band_hits:
        pid = stored.cluster_of.get(o)
        if pid is not None and n not in batch.exact and batch.order[n] < stored.clusters[pid].canonical_order:
            out.add(pid)
    return out


def _containing(variants: list[NewVariant], batch: _Batch, placed: _Placed, stored: Stored, sh: Shingles,
                settings: Settings, asked: set[int]) -> set[str]:
    """Stored passages holding a merge-shaped copy of an earlier leader and of the passage's own canonical.

    A leader is earlier than before when it is new, or a stored passage's leader whose text the batch brings with an
    earlier first appearance. A stored copy (not a node of the batch) that holds both its passage's canonical and
    such a leader, neither inside the other, joined the one part it then came after (a merge read as a part with
    sentences added); with the leader it may be a merge of two passages. Its passage is reopened and placed again,
    so that the result is the one a single batch gives. `asked`: the leaders already looked up."""
    if stored.fetch_containers is None:
        return set()

    def earlier(h: int) -> bool:
        pid = batch.passage_of.get(h)
        return pid is None or batch.order[h] < stored.clusters[pid].canonical_order

    leaders = [v for v in variants if v.band_keys is not None and v.norm_hash not in asked
               and placed.root.get(v.norm_hash) == v.norm_hash and earlier(v.norm_hash)]
    asked.update(v.norm_hash for v in leaders)
    if not leaders:
        return set()
    found = stored.fetch_containers(leaders)
    triples = []  # (leader, stored copy, the copy's canonical)
    for new, copy in found.pairs:
        if copy not in found.copies or copy in placed.root or found.copies[copy][0] in stored.members:
            continue
        pid, norm, canon, canon_norm = found.copies[copy]
        sh.norms.setdefault(copy, norm)
        sh.norms.setdefault(canon, canon_norm)
        triples.append((new, copy, canon))
    sh.hash_all(h for triple in triples for h in triple)

    def inside(part: int, whole: int) -> bool:  # as `_place` finds the leaders inside a text
        return sh._common(part, whole) >= settings.containment * sh._size(part)

    return {found.copies[copy][0] for new, copy, canon in triples
            if inside(new, copy) and inside(canon, copy) and not inside(new, canon) and not inside(canon, new)}


def _reopened(stored: Stored, pids: list[str]) -> Stored:
    """`stored` with these passages reopened: each variant's first occurrence fetched (and the passage itself when
    no hit of the batch fetched it)."""
    missing = [pid for pid in pids if pid not in stored.clusters]
    clusters, cluster_of = stored.clusters, stored.cluster_of
    if missing and stored.fetch_clusters is not None:
        more = stored.fetch_clusters(missing)
        clusters = {**clusters, **more}
        cluster_of = {**cluster_of, **{h: pid for pid, c in more.items() for h in c.variants}}
    return dataclasses.replace(stored, clusters=clusters, cluster_of=cluster_of,
                               members={**stored.members, **stored.fetch_members(pids)})


def _plan_writes(occurrences, variants, batch: _Batch, placed: _Placed, passages: dict[int, _Passage],
                 stored: Stored, sh: Shingles) -> DedupPlan:
    """The rows a batch writes: passages upserted, occurrences, stored occurrences moved, passages retired, links."""
    new_variants = [v for v in variants if v.norm_hash not in stored.cluster_of]
    # All of them new (nothing stored matched exactly): the batch itself, with the arrays it has made.
    plan = DedupPlan(new_variants=variants if len(new_variants) == len(variants) else Variants(new_variants))
    counts = {"new": 0, "exact": 0, "near": 0, "contained": 0}
    ids = {root: passage.paragraph_id for root, passage in passages.items()}
    retired: set[str] = set()
    repoints: list[tuple[str, int, str, int]] = []  # (old id, norm_hash, new id, new canonical's hash)
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
                repoints.append((old, h, pid, canon_hash))
                retired.add(old)
    matched = sh.matches([(h, canon) for _, h, _, canon in repoints])
    plan.repoints = [Repoint(old, h, new, *m) for (old, h, new, _), m in zip(repoints, matched)]
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
