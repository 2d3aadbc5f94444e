"""Fingerprinting throughput, ours against the straightforward datasketch approach, in one run.

Baseline: a new `datasketch.MinHash` per paragraph fed the same shingles (as bytes, its default
SHA-1 hash). Ours: `fingerprint_paragraphs` on the whole batch. Both on one core, same paragraphs.

    python tests/benchmarks/fingerprint_speed.py [--repeat 10] [--markdown]
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
SHARED = ROOT.parent / "shared"
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(Path(__file__).parent))

from datasketch import MinHash  # noqa: E402
from figures_page import command_line, table, write_section  # noqa: E402

from flows.config import MinHashConfig  # noqa: E402
from flows.fingerprint import fingerprint_paragraphs  # noqa: E402
from flows.split import normalize, split_paragraphs  # noqa: E402


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--repeat", type=int, default=10, help="copies of the gold paragraphs to fingerprint")
    ap.add_argument("--markdown", action="store_true", help="write the figures into docs/benchmarks.md")
    args = ap.parse_args()
    gold_file = SHARED / "benchmarks" / "article-extraction" / "ground-truth.json"
    if not gold_file.is_file():
        print("needs ../shared/benchmarks")
        return
    gold = json.loads(gold_file.read_text())
    norms = [normalize(p) for v in gold.values() for p in split_paragraphs(v["articleBody"])] * args.repeat
    cfg = MinHashConfig()

    t = time.perf_counter()
    k = cfg.shingle_size
    for n in norms:
        w = n.split()
        m = MinHash(num_perm=cfg.num_perm, seed=cfg.seed)
        m.update_batch([" ".join(w[i:i + k]).encode() for i in range(max(1, len(w) - k + 1))])
    base = time.perf_counter() - t

    t = time.perf_counter()
    fingerprint_paragraphs(norms, cfg)
    ours = time.perf_counter() - t
    print(f"paragraphs: {len(norms)}, permutations: {cfg.num_perm}")
    print(f"datasketch MinHash per paragraph: {len(norms) / base:,.0f} paragraphs/s")
    print(f"docdedup fingerprint_paragraphs:  {len(norms) / ours:,.0f} paragraphs/s  ({base / ours:.1f}x)")
    if args.markdown:
        rows = [["datasketch MinHash per paragraph", f"{len(norms) / base:,.0f}", None],
                ["docdedup fingerprint_paragraphs", f"{len(norms) / ours:,.0f}", f"{base / ours:.1f}x"]]
        write_section("fingerprint_speed.py", command_line(),
                      f"{len(norms):,} paragraphs, {cfg.num_perm} permutations, one core.\n\n"
                      + table(["", "paragraphs/s", "against datasketch"], rows))


if __name__ == "__main__":
    main()
