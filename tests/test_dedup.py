import gc
import random
from datetime import datetime, timedelta

import numpy as np
import pytest

from conftest import make_doc
from flows.config import Settings
from flows.dedup import collect_batch, plan_dedup
from flows.records import NewVariant, Stored, paragraph_id_for, without_cycle_collection
from flows.similarity import Shingles

WIRE = [
    "The city council voted 6-1 on Monday night to approve a $14 million plan to repair the Harbor Street bridge, closed to heavy trucks since November.",
    "Work is expected to begin in early June and last about eighteen months, with one lane open in each direction.",
    "Fishing crews who use the harbor said they were relieved after months of driving their catch twenty minutes south.",
]
COPY = [
    "THE CITY COUNCIL voted 6–1 on Monday night to approve a $14 million plan to repair the Harbor Street bridge, closed to heavy trucks since November.",
    "Work is expected to begin in early June and to last about 18 months, with one lane staying open in each direction.",
    "Unrelated: the library will stay open until ten on weeknights from April, the board said on Tuesday evening.",
]


def _plan(docs, settings=Settings()):
    occ, var = collect_batch(docs, 1, settings)
    return plan_dedup(occ, var, Stored(), settings)


def test_exact_and_near_duplicates_join_the_earliest_published_canonical():
    wire = make_doc("wire.txt", WIRE, published=datetime(2025, 3, 4))
    copy = make_doc("a-copy.txt", COPY, published=datetime(2025, 3, 5))
    plan = _plan([copy, wire])
    by = {(o.doc_id, o.position): o for o in plan.occurrences}
    c0, c1, c2 = (by[(copy.row.doc_id, i)] for i in range(3))
    assert (c0.match, c0.similarity) == ("exact", 1.0)  # case and dash style only
    assert c1.match == "near" and 0.4 <= c1.similarity < 1.0
    assert c2.match == "new"
    assert c0.paragraph_id == paragraph_id_for(wire.row.doc_id, 0)
    assert plan.counts == {"new": 4, "exact": 1, "near": 1, "contained": 0}
    assert len(plan.paragraphs) == 4


def test_result_does_not_depend_on_document_order():
    docs = [make_doc(f"d{i}.txt", WIRE if i % 2 else COPY) for i in range(6)]
    reference = _plan(docs)
    for seed in range(3):
        shuffled = docs[:]
        random.Random(seed).shuffle(shuffled)
        plan = _plan(shuffled)
        assert sorted(plan.occurrences, key=str) == sorted(reference.occurrences, key=str)
        assert sorted(plan.paragraphs, key=str) == sorted(reference.paragraphs, key=str)


def test_undated_documents_lose_to_dated_ones_then_path_decides():
    undated = make_doc("a.txt", WIRE)
    dated = make_doc("z.txt", WIRE, published=datetime(2020, 1, 1))
    plan = _plan([undated, dated])
    assert {p.first_doc_id for p in plan.paragraphs} == {dated.row.doc_id}
    plan = _plan([make_doc("b.txt", WIRE), make_doc("a.txt", WIRE)])
    assert {p.first_doc_id for p in plan.paragraphs} == {make_doc("a.txt", WIRE).row.doc_id}


def test_short_paragraphs_match_exactly_only():
    docs = [make_doc("a.txt", ["Breaking news today"]), make_doc("b.txt", ["Breaking news tonight"]),
            make_doc("c.txt", ["breaking NEWS today!"])]
    plan = _plan(docs)
    assert sorted(o.match for o in plan.occurrences) == ["exact", "new", "new"]


def test_near_duplicates_join_the_leader_itself_never_a_chain():
    base = "alpha beta gamma delta epsilon zeta eta theta iota kappa lambda mu nu xi omicron pi".split()
    first = " ".join(base[:12] + ["q1", "q2", "q3", "q4"])
    middle = " ".join(base)  # near first and near last (J = 0.58 each)
    last = " ".join(base[4:] + ["p1", "p2", "p3", "p4"])  # not near first
    docs = [make_doc("a.txt", [first], published=datetime(2025, 1, 1)),
            make_doc("b.txt", [middle], published=datetime(2025, 1, 2)),
            make_doc("c.txt", [last], published=datetime(2025, 1, 3))]
    pid = {o.doc_id: o.paragraph_id for o in _plan(docs).occurrences}
    a, b, c = (pid[d.row.doc_id] for d in docs)
    assert a == b != c  # last resembles a member, not the passage's leader: it leads its own
    # With the middle text first, both others are near the leader and join it.
    docs[1] = make_doc("b.txt", [middle], published=datetime(2024, 12, 31))
    assert len({o.paragraph_id for o in _plan(docs).occurrences}) == 1


def _placed_round(docs, before=None):
    """One round of the leader rule on these documents (nothing stored), after `before`, as plan_dedup runs it."""
    from flows import dedup

    settings = Settings()
    occ, var = collect_batch(docs, 1, settings)
    batch = dedup._batch(occ, var, Stored(), settings, dedup._Rounds())
    sh = Shingles(dict(batch.norms), settings, {v.norm_hash: v.shingles for v in var})
    keyed, neighbours = dedup.keyed_nodes(batch, var), dedup.stored_neighbours(batch, var, Stored())
    placed = dedup.cluster_duplicates(batch, keyed, neighbours, sh, settings, before)
    return dedup._Round(batch, keyed.row, neighbours, placed)


def test_a_round_placed_again_keeps_only_the_places_whose_inputs_did_not_change(monkeypatch):
    from flows import dedup

    base = "alpha beta gamma delta epsilon zeta eta theta iota kappa lambda mu nu xi omicron pi".split()
    texts = [" ".join(base[:12] + ["q1", "q2", "q3", "q4"]), " ".join(base), " ".join(base[4:] + ["p1", "p2", "p3", "p4"])]
    docs = [make_doc(f"{i}.txt", [t], published=datetime(2025, 1, 1 + i)) for i, t in enumerate(texts)]
    docs.append(make_doc("other.txt", [OTHER_PARAGRAPH], published=datetime(2025, 1, 9)))
    first, middle, last, other = (collect_batch([d], 1, Settings())[0][0].norm_hash for d in docs)
    fresh = _placed_round(docs).placed.root
    assert fresh[middle] == first and fresh[last] == last  # as in the chain test above
    # A previous round without the first text: the middle one led, the last joined it.
    before = _placed_round(docs[1:])
    assert before.placed.root[last] == middle
    placed = []
    real = dedup._place
    monkeypatch.setattr(dedup, "_place", lambda h, *args: placed.append(h) or real(h, *args))
    assert _placed_round(docs, before).placed.root == fresh
    # The first text is new and the others meet it, so they are placed again; the unrelated one keeps its place.
    assert sorted(placed) == sorted([first, middle, last])


def test_paraphrases_are_not_near_duplicates():
    a = "The Pentagon said on Monday it has no plans to withdraw its troops from Iraq."
    b = "Iraq's prime minister wants American forces to leave, but officials in Washington say they will stay."
    plan = _plan([make_doc("a.txt", [a]), make_doc("b.txt", [b])])
    assert [o.match for o in plan.occurrences] == ["new", "new"]


def _with_keys(v: NewVariant, bands: list[int], sentences: list[int] | None = None) -> NewVariant:
    return v._replace(band_keys=np.array(bands, dtype=np.int64),
                      sentence_keys=None if sentences is None else np.array(sentences, dtype=np.int64))


def test_a_copy_finds_its_passage_through_any_member_and_is_verified_against_the_leader():
    # Band keys set by hand: the third text shares a key with the second only, which joined the first. It is near
    # the first (its passage's leader) and joins that passage, as a stored passage is found through any of its copies.
    base = "alpha beta gamma delta epsilon zeta eta theta iota kappa lambda mu nu xi omicron pi".split()
    texts = [" ".join(base), " ".join(base[:14] + ["rho", "sigma"]), " ".join(base[:13] + ["tau", "upsilon", "phi"])]
    docs = [make_doc(f"{i}.txt", [t], published=datetime(2025, 1, 1 + i)) for i, t in enumerate(texts)]
    occ, var = collect_batch(docs, 1, Settings())
    keys = {texts[0]: [1], texts[1]: [1, 2], texts[2]: [2]}
    by_text = {o.norm_hash: o.text for o in occ}
    var = [_with_keys(v, keys[by_text[v.norm_hash]]) for v in var]
    plan = plan_dedup(occ, var, Stored(), Settings())
    assert len({o.paragraph_id for o in plan.occurrences}) == 1
    assert sorted(o.match for o in plan.occurrences) == ["near", "near", "new"]


def test_each_copy_is_verified_against_the_passages_it_resembles_not_their_copies(monkeypatch):
    # 300 distinct light copies of one paragraph, all sharing keys: each is verified against the one leader, so the
    # work follows the passages (one), not the pairs of copies (about 45,000).
    words = WIRE[0].split()
    rng = random.Random(7)
    copies = []
    for i in range(300):
        w = words[:]
        w[rng.randrange(len(w))] = f"word{i}"
        copies.append(" ".join(w))
    docs = [make_doc(f"c{i:03}.txt", [t], published=datetime(2025, 1, 1) + timedelta(minutes=i))
            for i, t in enumerate(copies)]
    calls = []
    counted = Shingles._classify

    def classify(self, a, b, inter):
        calls.append((a, b))
        return counted(self, a, b, inter)

    monkeypatch.setattr(Shingles, "_classify", classify)
    plan = _plan(docs)
    assert len({o.paragraph_id for o in plan.occurrences}) == 1
    assert len(calls) < 2 * len(copies)


def test_a_key_held_by_many_passages_brings_the_earliest_of_them():
    from flows.dedup import _MAX_PASSAGES_PER_KEY, _keys, _NodeKeys, _PassageIndex

    v = _with_keys(NewVariant(0, "x", 10, np.zeros(1, np.uint32), None), [5], [9])
    other = _with_keys(NewVariant(1, "y", 10, np.zeros(1, np.uint32), None), [9])
    keyed = _NodeKeys.of([0, 1], [_keys(v), _keys(other)])
    index = _PassageIndex(keyed.n_keys)
    for leader in range(2 * _MAX_PASSAGES_PER_KEY):
        index.add(keyed.of_node(0).tolist(), 1000 + leader)
    assert index.passages(keyed.of_node(0).tolist()) == set(range(1000, 1000 + _MAX_PASSAGES_PER_KEY))
    # Band and sentence keys are two kinds: a sentence key never meets a band key of the same value.
    assert index.passages(keyed.of_node(1).tolist()) == set()
    assert keyed.n_keys == 3 and len(keyed.of_node(2)) == 0


WIRE_PARAGRAPH = (
    "The city council voted on Monday night to approve a fourteen million dollar plan to repair the Harbor Street bridge. "
    "Work is expected to begin in early June and to last about eighteen months, with one lane open in each direction. "
    "Fishing crews who use the harbor said they were relieved after months of driving their catch to the southern crossing. "
    "The city will pay for the work with a bond approved by voters two years ago and with money from mooring fees."
)
OTHER_PARAGRAPH = "The library board also agreed to keep the reading rooms open until ten o'clock on weeknights from April onwards."


def test_a_later_paragraph_split_in_two_joins_its_passage_as_contained():
    first, second, third, fourth = WIRE_PARAGRAPH.split(". ")
    wire = make_doc("wire.txt", [WIRE_PARAGRAPH], published=datetime(2025, 1, 1))
    split = make_doc("split.txt", [first + ". " + second + ".", third + ". " + fourth], published=datetime(2025, 1, 2))
    plan = _plan([wire, split])
    by = {(o.doc_id, o.position): o for o in plan.occurrences}
    pid = paragraph_id_for(wire.row.doc_id, 0)
    for pos in (0, 1):
        occ = by[(split.row.doc_id, pos)]
        assert (occ.paragraph_id, occ.match) == (pid, "contained")
        assert occ.similarity >= 0.8
    assert plan.counts["contained"] == 2 and len(plan.paragraphs) == 1


def test_a_merged_paragraph_is_linked_to_both_passages_and_never_bridges_them():
    wire = make_doc("wire.txt", [WIRE_PARAGRAPH, OTHER_PARAGRAPH], published=datetime(2025, 1, 1))
    merged = make_doc("merged.txt", [WIRE_PARAGRAPH + " " + OTHER_PARAGRAPH], published=datetime(2025, 1, 2))
    plan = _plan([wire, merged])
    wire_ids = {paragraph_id_for(wire.row.doc_id, i) for i in (0, 1)}
    merged_occ = next(o for o in plan.occurrences if o.doc_id == merged.row.doc_id)
    assert len({o.paragraph_id for o in plan.occurrences if o.doc_id == wire.row.doc_id}) == 2
    links = {(l.paragraph_id, l.whole_paragraph_id) for l in plan.links}
    for part in wire_ids:
        assert part == merged_occ.paragraph_id or (part, merged_occ.paragraph_id) in links


def test_a_merge_near_copies_of_both_its_passages_does_not_join_them():
    # Two wire paragraphs of similar length; one copy adds a sentence to the first, another to the second, a third
    # merges the two. The merge is near both extended copies (neither part is shaped like a part of them), so joining
    # every near pair would make the two passages one.
    first = ("The regional water board approved a new filtration plant for the valley on Thursday, after three years of "
             "hearings about the cost and the site near the old railway depot on the eastern edge of the town centre.")
    second = ("Construction will start next spring and is expected to take two years, the board said, and households "
              "should see their monthly bills rise by about four dollars once the plant opens, less than the increase "
              "proposed last autumn by the utility.")
    added_one, added_two = "Several residents spoke in favour of it at the meeting.", "The vote was five to two in the end, officials said."
    wire = make_doc("wire.txt", [first, second], published=datetime(2025, 1, 1))
    one = make_doc("one.txt", [first + " " + added_one, second], published=datetime(2025, 1, 2))
    two = make_doc("two.txt", [first, second + " " + added_two], published=datetime(2025, 1, 3))
    merged = make_doc("merged.txt", [first + " " + second], published=datetime(2025, 1, 4))
    # Another outlet's copy of the merge, one word changed: the same merge, joined to the first.
    merged_too = make_doc("merged-too.txt", [first.replace("Thursday", "Wednesday") + " " + second], published=datetime(2025, 1, 5))
    docs = [wire, one, two, merged, merged_too]
    occ, var = collect_batch(docs, 1, Settings())
    sh = Shingles({v.norm_hash: v.norm for v in var}, Settings())
    assert sh.relation(merged.norm_hashes[0], one.norm_hashes[0])[0] == "near"
    assert sh.relation(merged.norm_hashes[0], two.norm_hashes[1])[0] == "near"

    for order in (docs, docs[::-1]):
        plan = _plan(order)
        pid = {(o.doc_id, o.position): o.paragraph_id for o in plan.occurrences}
        first_id, second_id = paragraph_id_for(wire.row.doc_id, 0), paragraph_id_for(wire.row.doc_id, 1)
        assert first_id != second_id
        assert [pid[(d.row.doc_id, 0)] for d in (wire, one, two)] == [first_id] * 3
        assert [pid[(d.row.doc_id, 1)] for d in (wire, one, two)] == [second_id] * 3
        merged_id = pid[(merged.row.doc_id, 0)]
        assert pid[(merged_too.row.doc_id, 0)] == merged_id
        assert {(l.paragraph_id, l.whole_paragraph_id) for l in plan.links} == {(first_id, merged_id), (second_id, merged_id)}


def test_a_paragraph_split_later_is_no_merge_and_keeps_its_near_copies():
    # The halves a later copy split a paragraph into are inside it, and unrelated to each other; they are later than
    # it, so they do not make it a merge. A light copy that changed three words of each half (neither half is then
    # inside it) still joins the passage.
    one = "The museum will reopen its east wing in May after a two year renovation that replaced the roof and the old heating system."
    two = "Visitors will find the medieval collection moved to the ground floor, next to a new cafe and a larger shop for the children."
    light_one = one.replace("east wing", "west wing").replace("two year", "three year").replace("old heating", "gas heating")
    light_two = two.replace("ground floor", "lower floor").replace("larger shop", "bigger shop").replace("Visitors", "Guests")
    wire = make_doc("wire.txt", [one + " " + two], published=datetime(2025, 1, 1))
    split = make_doc("split.txt", [one, two], published=datetime(2025, 1, 2))
    light = make_doc("light.txt", [light_one + " " + light_two], published=datetime(2025, 1, 3))
    occ, var = collect_batch([wire, split, light], 1, Settings())
    sh = Shingles({v.norm_hash: v.norm for v in var}, Settings())
    assert sh.relation(wire.norm_hashes[0], light.norm_hashes[0])[0] == "near"
    for half in split.norm_hashes:
        assert sh.relation(half, wire.norm_hashes[0])[0] == "contained"
        assert sh.relation(half, light.norm_hashes[0]) is None  # changed: not inside the light copy
    plan = _plan([wire, split, light])
    pid = {(o.doc_id, o.position): o.paragraph_id for o in plan.occurrences}
    passage = paragraph_id_for(wire.row.doc_id, 0)
    assert pid[(light.row.doc_id, 0)] == passage
    assert pid[(split.row.doc_id, 0)] == pid[(split.row.doc_id, 1)] == passage


def test_a_sentence_added_later_keeps_the_passage():
    short = "Officials said the repairs would start in June and finish late next year."
    wire = make_doc("wire.txt", [short], published=datetime(2025, 1, 1))
    longer = make_doc("copy.txt", [short + " The mayor welcomed the decision in a brief statement."], published=datetime(2025, 1, 2))
    plan = _plan([wire, longer])
    assert len({o.paragraph_id for o in plan.occurrences}) == 1
    assert not plan.links


HEADING = "Bridge repairs to start in early June"
BODY = ("The city council voted on Monday night to approve a plan to repair the Harbor Street bridge, which has been "
        "closed to heavy trucks since November, and work is expected to last about eighteen months in all.")


def test_a_heading_run_into_its_paragraph_is_a_merge_of_both():
    # No sentence boundary separates the two: only the merge's first words, the heading's own, tell it holds the
    # heading (its Jaccard with the body alone is well above the threshold).
    wire = make_doc("wire.txt", [HEADING, BODY], published=datetime(2025, 1, 1))
    run_in = make_doc("run-in.txt", [HEADING + " " + BODY], published=datetime(2025, 1, 2))
    occ, var = collect_batch([wire, run_in], 1, Settings())
    sh = Shingles({v.norm_hash: v.norm for v in var}, Settings())
    assert sh.relation(run_in.norm_hashes[0], wire.norm_hashes[1])[0] == "near"
    plan = _plan([wire, run_in])
    merged = next(o for o in plan.occurrences if o.doc_id == run_in.row.doc_id)
    heading, body = (paragraph_id_for(wire.row.doc_id, i) for i in (0, 1))
    assert merged.paragraph_id not in (heading, body)
    assert {(l.paragraph_id, l.whole_paragraph_id) for l in plan.links} == {(heading, merged.paragraph_id),
                                                                          (body, merged.paragraph_id)}


def test_a_sentence_added_joins_the_paragraph_it_extends_not_a_merge_holding_it():
    # The extended copy holds the second paragraph whole, which is then shaped like a part of it, and is near the
    # merge of the two through that paragraph alone; it is nearer to the paragraph.
    first = "Bridge repairs will start in early June."
    second = "Officials said the work would finish late next year, weather permitting, and cost about fourteen million."
    added = "The mayor welcomed the decision in a brief statement outside city hall on Tuesday."
    wire = make_doc("wire.txt", [first, second], published=datetime(2025, 1, 1))
    merged = make_doc("merged.txt", [first + " " + second], published=datetime(2025, 1, 2))
    extended = make_doc("extended.txt", [second + " " + added], published=datetime(2025, 1, 3))
    occ, var = collect_batch([wire, merged, extended], 1, Settings())
    sh = Shingles({v.norm_hash: v.norm for v in var}, Settings())
    assert sh.relation(extended.norm_hashes[0], merged.norm_hashes[0])[0] == "near"
    assert sh.relation(wire.norm_hashes[1], extended.norm_hashes[0])[0] == "contained"
    for docs in ([wire, merged, extended], [extended, merged, wire]):
        plan = _plan(docs)
        pid = {(o.doc_id, o.position): o.paragraph_id for o in plan.occurrences}
        assert pid[(extended.row.doc_id, 0)] == paragraph_id_for(wire.row.doc_id, 1)
        assert pid[(merged.row.doc_id, 0)] == paragraph_id_for(merged.row.doc_id, 0)


def test_a_generic_line_inside_an_unrelated_variant_is_not_absorbed():
    base = make_doc("a.txt", [WIRE_PARAGRAPH], published=datetime(2025, 1, 1))
    # A copy appends someone else's sentence; that sentence, published later on its own, is not part of the wire passage.
    extra = "Here are the other highlights of the council meeting on Monday."
    copy = make_doc("b.txt", [WIRE_PARAGRAPH + " " + extra], published=datetime(2025, 1, 2))
    alone = make_doc("c.txt", [extra], published=datetime(2025, 1, 3))
    plan = _plan([base, copy, alone])
    alone_occ = next(o for o in plan.occurrences if o.doc_id == alone.row.doc_id)
    assert alone_occ.paragraph_id != paragraph_id_for(base.row.doc_id, 0)


def test_planning_pauses_the_cycle_collector_and_always_restores_it():
    seen = []

    @without_cycle_collection
    def plan(fail: bool) -> str:
        seen.append(gc.isenabled())
        if fail:
            raise ValueError("planning failed")
        return "planned"

    assert plan(False) == "planned" and seen == [False] and gc.isenabled()
    with pytest.raises(ValueError):
        plan(True)
    assert gc.isenabled()
    gc.disable()
    try:
        plan(False)  # a caller that paused it itself keeps it paused
        assert not gc.isenabled()
    finally:
        gc.enable()
    assert plan_dedup.__name__ == "plan_dedup" and plan_dedup.__wrapped__


def test_verifying_many_pairs_at_once_counts_as_the_sets_do(monkeypatch):
    """`Shingles.verify` counts shared shingles for all pairs in numpy; each pair's relation must be the one counted
    on the two texts' Python sets (repeated shingles within a text, empty and one-word texts, parts and nears)."""
    rng = random.Random(7)
    words = "the a council bridge harbor vote plan city work june".split()
    texts = [" ".join(rng.choice(words) for _ in range(rng.randrange(0, 25))) for _ in range(300)]
    texts += [texts[5] + " " + texts[6], texts[7][: len(texts[7]) // 2].strip()]
    norms = dict(enumerate(texts))
    pairs = sorted({tuple(sorted(rng.sample(range(len(texts)), 2))) for _ in range(3000)} | {(5, 300), (6, 300), (7, 301)})
    monkeypatch.setattr("flows.similarity._VERIFY_PAIRS", 997)  # several slices
    counted = Shingles(norms, Settings()).verify(pairs)
    one_by_one = Shingles(norms, Settings())
    assert counted == [one_by_one.relation(a, b) for a, b in pairs]
    assert {r[0] for r in counted if r} == {"near", "contained"} and None in counted


def test_a_batchs_arrays_made_once_equal_those_made_from_a_plain_list():
    """collect_batch's Variants make their signature matrix and flat keys once; key_owners, Signatures and candidate
    search must see what they see on a plain list of the same variants (a short variant has no keys)."""
    from flows.records import Signatures, Variants, key_owners

    docs = [make_doc("wire.txt", WIRE + ["Short line."]), make_doc("copy.txt", COPY)]
    _, batch = collect_batch(docs, 1, Settings())
    plain = list(batch)
    assert isinstance(batch, Variants) and any(v.band_keys is None for v in plain)
    owners = np.arange(len(plain), dtype=np.int64) * 7
    for attr in ("band_keys", "sentence_keys"):
        for args in ((), (owners,)):
            ours, theirs = key_owners(batch, attr, *args), key_owners(plain, attr, *args)
            assert all(np.array_equal(a, b) for a, b in zip(ours, theirs)) and len(ours[0]) > 0
            # A key's owner is its own variant's: the keys of variant i are its attr, in order.
            held = [(i, getattr(v, attr)) for i, v in enumerate(plain) if getattr(v, attr) is not None]
            of = owners if args else np.array([v.norm_hash for v in plain], dtype=np.int64)
            assert np.array_equal(ours[0], np.concatenate([keys for _, keys in held]))
            assert np.array_equal(ours[1], np.concatenate([np.full(len(keys), of[i]) for i, keys in held]))
    assert np.array_equal(Signatures.of_variants(batch).matrix, np.stack([v.signature for v in plain]))
    assert batch.signature_matrix() is batch.signature_matrix()  # made once


def test_a_stored_passage_fetched_but_unrelated_is_left_out_of_the_plan(tmp_path):
    """A new paragraph sharing one sentence with a stored one is its candidate, and the stored passage is fetched with
    its cluster; when verification finds the two unrelated, the plan neither rewrites nor recounts that passage."""
    from conftest import ingest_docs

    from flows import warehouse

    shared = "The harbor bridge has been closed to heavy trucks since last November."
    stored_text = " ".join([WIRE[0], shared, WIRE[1], WIRE[2]])
    new_text = " ".join([COPY[2], shared, "Three new ferries will cover the crossing while the repairs last."])
    db = tmp_path / "w.duckdb"
    ingest_docs(db, [make_doc("a.txt", [stored_text])])
    new = make_doc("b.txt", [new_text])
    settings = Settings()
    with warehouse.connect(db) as con:
        occ, var = collect_batch([new], 2, settings)
        stored = warehouse.fetch_stored(con, var, settings.candidate_floor)
        assert len(stored.clusters) == 1  # fetched through the shared sentence
        plan = plan_dedup(occ, var, stored, settings)  # while the warehouse is open: it may look up more
    assert [p.paragraph_id for p in plan.paragraphs] == [paragraph_id_for(new.row.doc_id, 0)]
    assert set(plan.variant_cluster.values()) == {paragraph_id_for(new.row.doc_id, 0)}
    assert (plan.repoints, plan.retired, plan.links) == ([], [], [])
    assert plan.counts == {"new": 1, "exact": 0, "near": 0, "contained": 0}
