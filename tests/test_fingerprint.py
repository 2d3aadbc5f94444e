import numpy as np
from datasketch import MinHash

from flows.config import MinHashConfig
from flows.fingerprint import content_hash, fingerprint_paragraphs, jaccard, shingle_hashes
from flows.recipes import edge_texts
from flows.split import normalize

CFG = MinHashConfig()
TEXTS = [
    normalize("The council voted on Monday to approve the repair plan for the harbor bridge."),
    normalize("A second, unrelated paragraph about the library's new opening hours."),
    "two words",
    "one",
    "",
    " ".join(f"w{i}" for i in range(10_000)),  # longer than one slice of the signature matrix
]


def test_signatures_equal_datasketch_minhash_on_the_same_shingles():
    fp = fingerprint_paragraphs(TEXTS, CFG)
    assert fp.signatures.shape == (len(TEXTS), CFG.num_perm)
    for i, text in enumerate(TEXTS):
        m = MinHash(num_perm=CFG.num_perm, seed=CFG.seed, scheme="affine32", hashfunc=lambda x: x)
        m.update_batch(shingle_hashes(text, CFG).tolist())
        assert np.array_equal(m.hashvalues, fp.signatures[i]), text[:20]


def test_short_text_is_one_shingle_and_empty_text_has_none():
    assert len(shingle_hashes("one", CFG)) == 1
    assert len(shingle_hashes("two words", MinHashConfig(shingle_size=3))) == 1
    assert len(shingle_hashes("", CFG)) == 0
    # Different short texts must not collide just because they are short.
    assert not np.array_equal(*fingerprint_paragraphs(["one", "two"], CFG).signatures)


def test_band_keys_are_deterministic_and_shared_by_equal_texts():
    a = fingerprint_paragraphs(TEXTS[:2], CFG)
    b = fingerprint_paragraphs([TEXTS[1], TEXTS[0]], CFG)
    assert a.band_keys.shape == (2, CFG.bands)
    assert np.array_equal(a.band_keys[0], b.band_keys[1])
    assert not set(a.band_keys[0].tolist()) & set(a.band_keys[1].tolist())


def test_estimated_similarity_tracks_exact_jaccard():
    base = normalize("Work is expected to begin in early June and last about eighteen months during which one lane stays open")
    edit = normalize("Work is expected to begin in early June and to last about 18 months during which one lane will stay open")
    fp = fingerprint_paragraphs([base, edit], CFG)
    estimate = float(np.mean(fp.signatures[0] == fp.signatures[1]))
    exact = jaccard(shingle_hashes(base, CFG), shingle_hashes(edit, CFG))
    assert abs(estimate - exact) < 0.15


def test_content_hash_is_signed_64_bit_and_stable():
    h = content_hash("abc")
    assert -(2**63) <= h < 2**63 and h == content_hash("abc") != content_hash("abd")


def test_verification_uses_the_fingerprinted_shingle_hashes(monkeypatch):
    from flows.fingerprint import shingle_arrays

    fp = fingerprint_paragraphs(TEXTS, CFG)
    handed = [fp.shingles[a:b].tolist() for a, b in zip(fp.offsets, fp.offsets[1:])]
    assert [a.tolist() for a in shingle_arrays(TEXTS, CFG)] == handed
    monkeypatch.setattr("flows.fingerprint._TEXTS_PER_SLICE", 4)  # hashed in slices: the same arrays
    assert [a.tolist() for a in shingle_arrays(TEXTS, CFG)] == handed
    assert [len(h) for h in handed[:5]] == [len(TEXTS[0].split()) - 1, len(TEXTS[1].split()) - 1, 1, 1, 0]
    abc, bcd, one, empty = (set(a.tolist()) for a in shingle_arrays(["a b c", "b c d", "one", ""], CFG))
    assert len(abc) == len(bcd) == 2 and len(abc & bcd) == 1  # "b c" only
    assert len(one) == 1 and not one & abc and empty == set()


def test_word_hashes_are_each_words_xxh32_as_python_splits_it():
    import xxhash

    from flows.fingerprint import _word_hashes

    texts = ["", "one", "a  b ", " x", "北 京 été", "two words", "one"]
    flat, counts = _word_hashes(texts)
    words = [w for t in texts for w in t.split()]
    assert flat.tolist() == [xxhash.xxh32_intdigest(w.encode("utf-8")) for w in words]
    assert counts.tolist() == [len(t.split()) for t in texts]
    empty_flat, empty_counts = _word_hashes([])
    assert len(empty_flat) == len(empty_counts) == 0


def test_a_batch_of_repeated_paragraphs_prepares_each_as_it_would_alone():
    """Distinct texts and norms are fingerprinted once a batch: every paragraph still gets its own text's norm, hash,
    signature, band keys, sentence keys and shingles, whichever document repeats it and in what order."""
    from flows.config import Settings
    from flows.prepare import fingerprint_documents
    from flows.records import DocumentRow

    settings = Settings()
    wire = ["Officials met on Tuesday to discuss the new bridge. Work starts in May, they said.",
            "The council voted 7 to 2. Residents had asked for a second crossing for years.",
            "Short line", "..."]
    typographic = ["Officials met on Tuesday to discuss the new bridge. Work starts in May, they said!",
                   "The council voted 7 to 2 — residents had asked for a second crossing for years."]
    docs = [wire, wire[::-1] + wire[:2], typographic + wire[1:2], ["…", "!"], [], wire[2:3] * 3]

    def row(i: int, paragraphs: list[str]) -> DocumentRow:
        return DocumentRow(f"d{i}", f"f{i}.txt", f"s{i}", 1, 0, "text", "utf-8", "text", None, None, None, None, None,
                           "en", len(paragraphs))

    batch = fingerprint_documents([(row(i, d), d) for i, d in enumerate(docs)], settings)
    assert [d is None for d in batch] == [False, False, False, True, True, False]
    for i, d in enumerate(docs):
        if batch[i] is None:
            continue
        got = batch[i]
        alone = [fingerprint_documents([(row(i, [t]), [t])], settings)[0] for t in d]
        alone = [a for a in alone if a is not None]
        assert got.texts == [a.texts[0] for a in alone] and got.row.n_paragraphs == len(alone)
        assert got.norms == [a.norms[0] for a in alone]
        assert got.norm_hashes == [a.norm_hashes[0] for a in alone]
        assert got.n_words.tolist() == [a.n_words[0] for a in alone]
        assert np.array_equal(got.signatures, np.stack([a.signatures[0] for a in alone]))
        assert np.array_equal(got.band_keys, np.stack([a.band_keys[0] for a in alone]))
        assert [k.tolist() for k in got.sentence_keys] == [a.sentence_keys[0].tolist() for a in alone]
        runs = [got.shingles[a:b].tolist() for a, b in zip(got.shingle_offsets[:-1], got.shingle_offsets[1:])]
        assert runs == [a.shingles.tolist() for a in alone]
    # The typographic copy's first paragraph normalises like the wire's, its sentences do not end alike.
    assert batch[2].norms[0] == batch[0].norms[0] and batch[2].texts[0] != batch[0].texts[0]


def test_sentence_keys_are_each_paragraphs_distinct_long_sentences_head_and_tail_hashed_in_order():
    import random

    from flows.fingerprint import sentence_keys

    rng = random.Random(3)
    words = "the council voted on a new bridge plan in june".split()
    sentence = lambda: " ".join(rng.choice(words) for _ in range(rng.randrange(1, 10)))  # noqa: E731
    paragraphs = [[sentence() for _ in range(rng.randrange(0, 6))] for _ in range(2_000)]
    paragraphs += [[], ["one two three four five six", "one two three four five six", "one two three four five"]]
    got = sentence_keys(paragraphs, min_words=6)
    expected = [sorted({content_hash(n) for n in p if len(n.split()) >= 6}
                       | {content_hash(t) for t in edge_texts(" ".join(p)) or ()}) for p in paragraphs]
    assert [k.tolist() for k in got] == expected and all(k.dtype == np.int64 for k in got)
    assert len(got[-1]) == 3 and len(got[-2]) == 0 and sum(map(len, got)) > 1_000
    assert sentence_keys([]) == []
