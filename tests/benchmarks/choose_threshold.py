"""Measure how word-shingle Jaccard separates light edits from independent paraphrases.

Positives: paragraphs of ../shared/benchmarks gold texts and synthetic copies (typos and case,
about one word changed per fifteen, a quarter of the length added or cut). Negatives: every
cross-article pair of paragraphs of the five seed articles, which report one story independently.
Prints recall at several thresholds and the highest negative similarity, per shingle size.

    python tests/benchmarks/choose_threshold.py [--markdown]
"""

from __future__ import annotations

import argparse
import itertools
import json
import random
import sys
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[2]
SHARED = ROOT.parent / "shared"
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(Path(__file__).parent))

from figures_page import command_line, table, write_section  # noqa: E402
from flows.clean.text import clean_text  # noqa: E402
from flows.config import MinHashConfig  # noqa: E402
from flows.fingerprint import jaccard, shingle_hashes  # noqa: E402
from flows.split import normalize, split_paragraphs  # noqa: E402


def edits(rng: random.Random, vocab: list[str]):
    def typos(p: str) -> str:
        out = []
        for w in p.split():
            if rng.random() < 0.05 and len(w) > 3:
                i = rng.randrange(len(w) - 1)
                w = w[:i] + w[i + 1] + w[i] + w[i + 2:]
            out.append(w)
        text = " ".join(out)
        return text.upper() if rng.random() < 0.2 else text

    def words(p: str) -> str:
        w = p.split()
        for _ in range(max(1, len(w) // 15)):
            op, i = rng.choice("cid"), rng.randrange(len(w))
            if op == "c":
                w[i] = rng.choice(vocab)
            elif op == "i":
                w.insert(i, rng.choice(vocab))
            elif len(w) > 3:
                del w[i]
        return " ".join(w)

    def sentence(p: str) -> str:
        w = p.split()
        n = max(3, len(w) // 4)
        if rng.random() < 0.5 and len(w) > 2 * n:
            return " ".join(w[:-n])
        return " ".join(w + rng.choice(vocab_paras).split()[:n])

    vocab_paras: list[str] = []
    return {"typos+case": typos, "words": words, "sentence": sentence}, vocab_paras


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--markdown", action="store_true", help="write the figures into docs/benchmarks.md")
    args = ap.parse_args()
    gold_file = SHARED / "benchmarks" / "article-extraction" / "ground-truth.json"
    seeds = SHARED / "seeds"
    if not gold_file.is_file() or not seeds.is_dir():
        print("needs ../shared/benchmarks and ../shared/seeds")
        return
    rng = random.Random(7)
    gold = json.loads(gold_file.read_text())
    paras = [p for v in gold.values() for p in split_paragraphs(v["articleBody"]) if len(p.split()) >= 8]
    kinds, pool = edits(rng, [w for p in paras for w in p.split()])
    pool.extend(paras)
    sample = rng.sample(paras, 1500)
    seed_paras = [[normalize(p) for p in split_paragraphs(clean_text(f.read_text(encoding="utf-8"))[0])]
                  for f in sorted(seeds.iterdir())]
    thresholds = (0.3, 0.4, 0.5)
    rows = []
    print(f"{'shingles':>8} {'edit':>11} " + " ".join(f"r@{t}" for t in thresholds) + "   same-story max")
    for k in (2, 3):
        cfg = MinHashConfig(shingle_size=k)
        sh = lambda t: shingle_hashes(normalize(t), cfg)  # noqa: E731
        negatives = [
            jaccard(shingle_hashes(x, cfg), shingle_hashes(y, cfg))
            for a, b in itertools.combinations(seed_paras, 2) for x in a for y in b
            if len(x.split()) >= 6 and len(y.split()) >= 6
        ]
        for name, edit in kinds.items():
            js = np.array([jaccard(sh(p), sh(edit(p))) for p in sample])
            recall = [float((js >= t).mean()) for t in thresholds]
            rows.append([k, name, *recall, max(negatives)])
            print(f"{k:>8} {name:>11} {' '.join(f'{r:.3f}' for r in recall)}   {max(negatives):.3f}")
    if args.markdown:
        write_section("choose_threshold.py", command_line(),
                      f"Recall of {len(sample):,} edited gold paragraphs at each Jaccard threshold; same-story max: the "
                      f"highest Jaccard between paragraphs of different seed articles.\n\n"
                      + table(["shingles", "edit", *(f"r@{t}" for t in thresholds), "same-story max"], rows))


if __name__ == "__main__":
    main()
