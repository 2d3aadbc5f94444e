"""Fingerprint: normalised paragraphs -> word-shingle hashes -> MinHash signatures -> LSH band keys.

Signatures are datasketch's `affine32` MinHash (its own permutation parameters for the seed),
computed for a whole batch of paragraphs at once in numpy; `test_fingerprint` checks they equal
`datasketch.MinHash.update_batch` on the same shingle hashes.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import lru_cache
from itertools import compress

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
import xxhash
from datasketch import MinHash

from flows.config import MinHashConfig
from flows.recipes import MIX64, band_keys, content_hash, edge_texts

_M64 = np.uint64(0x9E3779B97F4A7C15)
_SHINGLES_PER_SLICE = 8_192  # bounds the (permutations x shingles) matrix to ~6 MB
_TEXTS_PER_SLICE = 10_000  # bounds shingle_arrays' working arrays to some 25 MB


@dataclass(frozen=True)
class Fingerprints:
    """Per paragraph: number of words, MinHash signature and LSH band keys (rows align with the input)."""

    n_words: np.ndarray  # int32 (n,)
    signatures: np.ndarray  # uint32 (n, num_perm)
    band_keys: np.ndarray  # int64 (n, bands)
    # uint32 hashes of every paragraph's word shingles, flat: paragraph i's are shingles[offsets[i]:offsets[i + 1]]
    shingles: np.ndarray
    offsets: np.ndarray  # int64 (n + 1,)


@lru_cache(maxsize=8)
def _permutations(num_perm: int, seed: int) -> tuple[np.ndarray, np.ndarray]:
    a, b = MinHash(num_perm=num_perm, seed=seed, scheme="affine32").permutations
    return a.astype(np.uint32), b.astype(np.uint32)


def _fmix32(h: np.ndarray) -> np.ndarray:
    """MurmurHash3's 32-bit finalizer, as datasketch pre-mixes every input hash."""
    h = h ^ (h >> np.uint32(16))
    h = h * np.uint32(0x85EBCA6B)
    h = h ^ (h >> np.uint32(13))
    h = h * np.uint32(0xC2B2AE35)
    return h ^ (h >> np.uint32(16))


def _word_hashes(norms: list[str]) -> tuple[np.ndarray, np.ndarray]:
    """uint64 xxh32 hashes of the words of many normalised paragraphs (words are separated by spaces), flat, and the
    number of words of each paragraph.

    Arrow splits the texts and finds their distinct words in C++; only the distinct words are hashed in Python (a batch
    of news repeats its words, so they are few), several times faster than splitting and looking up each word in
    Python (tests/benchmarks/fingerprint_speed.py)."""
    lists = pc.split_pattern(pa.array(norms, pa.large_string()), " ")  # 64-bit offsets: no size limit
    words = lists.flatten()
    # A text without words is one empty piece, as are runs of spaces: they are no words.
    real = pc.not_equal(words, "").to_numpy(zero_copy_only=False)
    counted = np.concatenate(([0], np.cumsum(real)))
    bounds = lists.offsets.to_numpy()
    encoded = words.filter(real).dictionary_encode()
    distinct = encoded.dictionary.cast(pa.large_binary()).to_pylist()
    table = np.fromiter(map(xxhash.xxh32_intdigest, distinct), dtype=np.uint64, count=len(distinct))
    return table[encoded.indices.to_numpy()], (counted[bounds[1:]] - counted[bounds[:-1]]).astype(np.int64)


def shingle_hashes(norm: str, cfg: MinHashConfig) -> np.ndarray:
    """uint32 hashes of the word shingles of one normalised paragraph (one shingle if it is shorter)."""
    hashes, _, _ = _batch_shingles([norm], cfg.shingle_size)
    return hashes


def _batch_shingles(norms: list[str], k: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Shingle hashes of many normalised paragraphs, flat, with the start offset of each paragraph's run, and the
    number of words of each.

    A shingle's hash combines its k word hashes polynomially in uint64 and folds to 32 bits,
    so each word is hashed once however many shingles it is part of.
    """
    flat, lengths = _word_hashes(norms)
    starts = np.concatenate(([0], np.cumsum(lengths)[:-1])).astype(np.int64)
    # Shingles per paragraph: n - k + 1, or 1 when the paragraph is shorter than k, 0 when empty.
    n_sh = np.where(lengths >= k, lengths - k + 1, np.minimum(lengths, 1))
    total = int(n_sh.sum())
    offsets = np.concatenate(([0], np.cumsum(n_sh)[:-1])).astype(np.int64)
    para_of = np.repeat(np.arange(len(norms)), n_sh)
    first_word = starts[para_of] + (np.arange(total) - offsets[para_of])
    span = np.minimum(lengths[para_of], k)
    acc = np.zeros(total, dtype=np.uint64)
    with np.errstate(over="ignore"):
        for j in range(k):
            idx = np.minimum(first_word + j, len(flat) - 1) if len(flat) else first_word
            term = flat[idx] if len(flat) else np.zeros(total, dtype=np.uint64)
            acc = np.where(j < span, acc * _M64 + term + np.uint64(1), acc)
        acc = (acc ^ (acc >> np.uint64(33))) * MIX64
        acc ^= acc >> np.uint64(33)
    return (acc & np.uint64(0xFFFFFFFF)).astype(np.uint32), offsets, lengths


def minhash_signatures(hashes: np.ndarray, offsets: np.ndarray, n: int, cfg: MinHashConfig) -> np.ndarray:
    """MinHash signatures (n, num_perm) of n shingle runs given flat hashes and run offsets."""
    a, b = _permutations(cfg.num_perm, cfg.seed)
    sig = np.full((n, cfg.num_perm), np.iinfo(np.uint32).max, dtype=np.uint32)
    counts = np.diff(np.append(offsets, len(hashes)))
    nonempty = np.flatnonzero(counts)
    if not len(nonempty):
        return sig
    mixed = _fmix32(hashes)
    # Permutations along rows, shingles along columns: the min-reduction then runs over
    # contiguous memory, several times faster than the (shingles x permutations) layout
    # (tests/benchmarks/fingerprint_speed.py).
    ends = offsets[nonempty] + counts[nonempty]
    buf = np.empty((cfg.num_perm, _SHINGLES_PER_SLICE), dtype=np.uint32)
    i = 0
    while i < len(nonempty):
        start = offsets[nonempty[i]]
        # Slice on paragraph boundaries (at least one paragraph, however long).
        j = max(int(np.searchsorted(ends, start + _SHINGLES_PER_SLICE, side="right")), i + 1)
        rows = nonempty[i:j]
        stop = int(ends[j - 1])
        width = stop - start
        out = buf[:, :width] if width <= buf.shape[1] else np.empty((cfg.num_perm, width), dtype=np.uint32)
        np.multiply(a[:, None], mixed[None, start:stop], out=out)
        np.add(out, b[:, None], out=out)
        sig[rows] = np.minimum.reduceat(out, offsets[rows] - start, axis=1).T
        i = j
    return sig


def fingerprint_paragraphs(norms: list[str], cfg: MinHashConfig) -> Fingerprints:
    """Signatures and band keys for a batch of normalised paragraphs, vectorised across the batch."""
    hashes, offsets, lengths = _batch_shingles(norms, cfg.shingle_size)
    sig = minhash_signatures(hashes, offsets, len(norms), cfg)
    n_words = lengths.astype(np.int32)
    return Fingerprints(n_words=n_words, signatures=sig, band_keys=band_keys(sig, cfg), shingles=hashes,
                        offsets=np.append(offsets, len(hashes)))


def sentence_keys(paragraphs: list[list[str]], min_words: int = 6) -> list[np.ndarray]:
    """For each paragraph (its normalised sentences), the distinct int64 hashes of its sentences that have at least
    `min_words` words and of its head and tail (`recipes.edge_texts`), ascending.

    Two paragraphs that share one of these keys are containment candidates even when their Jaccard
    similarity is too low for the LSH bands (a paragraph split in two, or two merged into one).
    All paragraphs' keys are hashed in one pass and sorted at once, not with a set and a sort per paragraph;
    each paragraph's keys are a slice of one array."""
    flat = [n for sentences in paragraphs for n in sentences]
    owner = np.repeat(np.arange(len(paragraphs)), [len(sentences) for sentences in paragraphs])
    long_enough = np.fromiter((n.count(" ") + 1 >= min_words for n in flat), dtype=bool, count=len(flat))
    edges = [(i, e) for i, sentences in enumerate(paragraphs) if (e := edge_texts(" ".join(sentences)))]
    flat = [*compress(flat, long_enough), *(t for _, e in edges for t in e)]
    keys = np.fromiter(map(content_hash, flat), dtype=np.int64, count=len(flat))
    owner = np.concatenate((owner[long_enough], np.repeat(np.fromiter((i for i, _ in edges), dtype=np.int64,
                                                                      count=len(edges)), 2)))
    order = np.lexsort((keys, owner))
    owner, keys = owner[order], keys[order]
    first = np.ones(len(keys), dtype=bool)
    first[1:] = (owner[1:] != owner[:-1]) | (keys[1:] != keys[:-1])
    owner, keys = owner[first], keys[first]
    bounds = np.searchsorted(owner, np.arange(len(paragraphs) + 1)).tolist()
    return [keys[a:b] for a, b in zip(bounds[:-1], bounds[1:])]


def shingle_arrays(norms: list[str], cfg: MinHashConfig) -> list[np.ndarray]:
    """The shingle hashes of each normalised paragraph, for verifying candidates: the hashes its MinHash signature is
    made from (`fingerprint_paragraphs` hands them over for new paragraphs; stored ones are hashed again from their
    normalised text). Two distinct shingles share a hash with probability 2^-32.

    Hashed `_TEXTS_PER_SLICE` texts at a time: the working arrays take some 60 bytes a shingle, and a run can verify
    against a million stored texts."""
    out: list[np.ndarray] = []
    for start in range(0, len(norms), _TEXTS_PER_SLICE):
        flat, offsets, _ = _batch_shingles(norms[start:start + _TEXTS_PER_SLICE], cfg.shingle_size)
        bounds = np.append(offsets, len(flat))
        out += [flat[a:b] for a, b in zip(bounds[:-1], bounds[1:])]
    return out


def jaccard(a: np.ndarray, b: np.ndarray) -> float:
    """Exact Jaccard similarity of two shingle-hash arrays (as sets)."""
    sa, sb = set(a.tolist()), set(b.tolist())
    if not sa and not sb:
        return 1.0
    return len(sa & sb) / len(sa | sb)
