"""A generator of syndicated-news corpora with ground truth, and the dedup quality score on them.

Originals are the gold article texts of ../shared/benchmarks/article-extraction. Each copy of an
original runs a little later and edits it paragraph by paragraph, one edit class each:

    identical    the paragraph as it was
    typographic  quote and dash style, case, spaces
    light        about one word in fifteen changed, inserted or removed, and a typo
    sentence     a sentence cut, or one added
    split        the paragraph split in two at a sentence boundary
    merge        the paragraph merged with the next one
    dropped      left out

and a copy may also stop early (truncated ending). The score is pairwise: two occurrences are a
true pair when they derive from the same original paragraph by the first four edit classes (or
their originals are the same text); a predicted pair shares a paragraph_id. Split and merged
paragraphs are scored by containment recall: each part linked to the paragraph it came from,
each merged paragraph linked to both of its sources (same paragraph_id, or a passage_links row).

    python tests/benchmarks/syndication.py [--originals 181] [--copies 3] [--seed 1] [--batches 1] [--markdown]
"""

from __future__ import annotations

import argparse
import json
import random
import re
import sys
import tempfile
import time
from collections import defaultdict
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from itertools import combinations
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
SHARED = ROOT.parent / "shared"
sys.path.insert(0, str(ROOT))

from flows.split import normalize, split_paragraphs  # noqa: E402

NEAR_KINDS = ("identical", "typographic", "light", "sentence")
KIND_WEIGHTS = {"identical": 3, "typographic": 2, "light": 2, "sentence": 2, "split": 1, "merge": 1, "dropped": 1}
_SENTENCE = re.compile(r"(?:(?<=[.!?][\"'”’)])|(?<=[.!?]))\s+(?=[\"'“‘(]?[A-Z0-9])")


@dataclass
class GenParagraph:
    text: str
    kind: str  # "original" or an edit class
    sources: tuple[tuple[int, int], ...]  # (article, paragraph index) of the original paragraph(s)


@dataclass
class GenDocument:
    name: str
    published: datetime
    paragraphs: list[GenParagraph] = field(default_factory=list)


def sentences(text: str) -> list[str]:
    return [s for s in _SENTENCE.split(text) if s.strip()]


class Editor:
    """The edit classes, drawing from one random generator so a seed gives one corpus."""

    def __init__(self, rng: random.Random, vocabulary: list[str]):
        self.rng, self.vocabulary = rng, vocabulary

    def typographic(self, text: str) -> str:
        out = text.replace("’", "'").replace("“", '"').replace("”", '"').replace("—", " - ").replace("–", "-")
        if out == text:
            out = out.replace("'", "’").replace(" - ", " — ")
        out = re.sub(" ", "  ", out, count=2)
        return out.upper() if self.rng.random() < 0.2 else out

    def light(self, text: str) -> str:
        words = text.split()
        for _ in range(max(1, len(words) // 15)):
            op, i = self.rng.choice("cid"), self.rng.randrange(len(words))
            if op == "c":
                words[i] = self.rng.choice(self.vocabulary)
            elif op == "i":
                words.insert(i, self.rng.choice(self.vocabulary))
            elif len(words) > 3:
                del words[i]
        i = self.rng.randrange(len(words))
        w = words[i]
        if len(w) > 3:
            j = self.rng.randrange(len(w) - 1)
            words[i] = w[:j] + w[j + 1] + w[j] + w[j + 2:]
        return " ".join(words)

    def sentence(self, text: str) -> str:
        parts = sentences(text)
        if len(parts) >= 3 and self.rng.random() < 0.5:
            del parts[self.rng.randrange(len(parts))]
            return " ".join(parts)
        # An outlet's own sentence: new text, found nowhere else in the corpus.
        words = [self.rng.choice(self.vocabulary) for _ in range(self.rng.randrange(8, 17))]
        return text + " " + " ".join(words).capitalize().rstrip(".") + "."


def load_gold() -> list[list[str]]:
    gold_file = SHARED / "benchmarks" / "article-extraction" / "ground-truth.json"
    gold = json.loads(gold_file.read_text(encoding="utf-8"))
    return [[p for p in split_paragraphs(gold[k]["articleBody"]) if normalize(p)] for k in sorted(gold)]


def generate(articles: list[list[str]], copies: int, seed: int) -> list[GenDocument]:
    """Originals plus `copies` edited copies of each, with the provenance of every paragraph."""
    rng = random.Random(seed)
    vocabulary = [w for a in articles for p in a for w in p.split()]
    editor = Editor(rng, vocabulary)
    base = datetime(2024, 1, 1)
    docs: list[GenDocument] = []
    kinds, weights = zip(*KIND_WEIGHTS.items())
    for a, paragraphs in enumerate(articles):
        original = GenDocument(f"a{a:03d}/original.txt", base + timedelta(days=a))
        original.paragraphs = [GenParagraph(p, "original", ((a, i),)) for i, p in enumerate(paragraphs)]
        docs.append(original)
        for c in range(copies):
            copy = GenDocument(f"a{a:03d}/copy{c}.txt", base + timedelta(days=a, hours=c + 1))
            end = len(paragraphs)
            if len(paragraphs) > 4 and rng.random() < 0.3:
                end = rng.randrange(len(paragraphs) // 2, len(paragraphs))  # truncated ending
            i = 0
            while i < end:
                p, kind = paragraphs[i], rng.choices(kinds, weights)[0]
                parts = sentences(p)
                if kind == "split" and len(parts) < 2 or kind == "merge" and i + 1 >= end:
                    kind = "identical"
                if kind == "dropped":
                    pass
                elif kind == "split":
                    cut = rng.randrange(1, len(parts))
                    copy.paragraphs.append(GenParagraph(" ".join(parts[:cut]), "split", ((a, i),)))
                    copy.paragraphs.append(GenParagraph(" ".join(parts[cut:]), "split", ((a, i),)))
                elif kind == "merge":
                    copy.paragraphs.append(GenParagraph(p + " " + paragraphs[i + 1], "merge", ((a, i), (a, i + 1))))
                    i += 1
                else:
                    text = p if kind == "identical" else getattr(editor, kind)(p)
                    copy.paragraphs.append(GenParagraph(text, kind, ((a, i),)))
                i += 1
            docs.append(copy)
    return docs


def ambiguous_originals(docs: list[GenDocument]) -> set[tuple[int, int]]:
    """Original paragraphs with a look-alike elsewhere in the gold texts (recipe lines, repeated
    questions, one quote in two articles): a shared word 4-gram and word-set Jaccard >= 0.5, or one
    containing the other's words. Their truth is unclear, so they are not scored."""
    words = {p.sources[0]: normalize(p.text).split() for d in docs for p in d.paragraphs if p.kind == "original"}
    by_gram: dict[tuple[str, ...], list[tuple[int, int]]] = defaultdict(list)
    for o, w in words.items():
        for gram in {tuple(w[i:i + 4]) for i in range(max(1, len(w) - 3))}:
            by_gram[gram].append(o)
    out = set()
    for members in by_gram.values():
        if len(members) < 2 or len(members) > 50:
            continue
        for o1, o2 in combinations(members, 2):
            w1, w2 = set(words[o1]), set(words[o2])
            if w1 != w2 and (len(w1 & w2) / len(w1 | w2) >= 0.5 or len(w1 & w2) >= 0.8 * min(len(w1), len(w2))):
                out.update((o1, o2))
    return out


def score(docs: list[GenDocument], rows: list[tuple], links: set[tuple[str, str]], min_words: int) -> dict:
    """Precision and recall per edit class, pairwise overall, and containment recall, from the warehouse's rows.

    rows: (source_path, position, paragraph_id) of document_paragraphs; links: (part_id, whole_id).
    Recall of an edit class: the share of its copies that got their original's paragraph_id. Precision
    of an edit class: of the pairs a copy of that class forms with anything else under one
    paragraph_id, the share that derive from the same original. Paragraphs shorter than
    `min_words` normalised words are matched exactly only by design, so their light and
    sentence-level edits are not scored; nor are originals with a look-alike in their own article.
    """
    pid = {(path, pos): p for path, pos, p in rows}
    origin_text = {p.sources[0]: normalize(p.text) for d in docs for p in d.paragraphs if p.kind == "original"}
    # Originals with identical text are one passage (the gold corpus has a few repeats).
    first_with_text: dict[str, tuple[int, int]] = {}
    group_of = {o: first_with_text.setdefault(t, o) for o, t in sorted(origin_text.items())}
    skip = ambiguous_originals(docs)
    original_key: dict[tuple[int, int], tuple[str, int]] = {}
    for d in docs:
        for i, p in enumerate(d.paragraphs):
            if p.kind == "original":
                original_key.setdefault(group_of[p.sources[0]], (d.name, i))

    universe, parts, merges = [], [], []  # universe: (key, group, kind)
    for d in docs:
        for i, p in enumerate(d.paragraphs):
            key, sources = (d.name, i), p.sources
            if key not in pid or any(s in skip for s in sources):
                continue
            group = group_of[sources[0]]
            if p.kind == "original" or p.kind in NEAR_KINDS:
                if p.kind in ("light", "sentence") and len(origin_text[sources[0]].split()) < min_words:
                    continue
                universe.append((key, group, p.kind))
            elif p.kind == "split" and len(normalize(p.text).split()) >= min_words:
                parts.append((key, group))
            elif p.kind == "merge" and all(len(origin_text[s].split()) >= min_words for s in sources):
                merges.append((key, tuple(group_of[s] for s in sources)))

    stats = {k: {"copies": 0, "linked": 0, "tp": 0, "fp": 0} for k in NEAR_KINDS}
    for key, group, kind in universe:
        if kind != "original":
            stats[kind]["copies"] += 1
            stats[kind]["linked"] += pid[key] == pid[original_key[group]]
    by_pid = defaultdict(list)
    for key, group, kind in universe:
        by_pid[pid[key]].append((group, kind))
    all_tp = all_fp = 0
    for members in by_pid.values():
        for (g1, c1), (g2, c2) in combinations(members, 2):
            all_tp, all_fp = all_tp + (g1 == g2), all_fp + (g1 != g2)
            for c in {c1, c2} - {"original"}:
                stats[c]["tp" if g1 == g2 else "fp"] += 1
    sizes = defaultdict(int)
    for _, group, _ in universe:
        sizes[group] += 1
    all_true = sum(n * (n - 1) // 2 for n in sizes.values())

    def linked(a: str, b: str) -> bool:
        return a == b or (a, b) in links or (b, a) in links

    part_hits = sum(linked(pid[k], pid[original_key[g]]) for k, g in parts)
    merge_hits = sum(all(linked(pid[k], pid[original_key[g]]) for g in gs) for k, gs in merges)
    out: dict = {}
    for c, s in stats.items():
        out[c] = {
            "precision": s["tp"] / (s["tp"] + s["fp"]) if s["tp"] + s["fp"] else 1.0,
            "recall": s["linked"] / s["copies"] if s["copies"] else 1.0,
            "copies": s["copies"],
        }
    out["pairs"] = {"precision": all_tp / (all_tp + all_fp) if all_tp + all_fp else 1.0,
                    "recall": all_tp / all_true if all_true else 1.0, "true_pairs": all_true}
    out["split"] = {"containment_recall": part_hits / len(parts) if parts else 1.0, "n": len(parts)}
    out["merge"] = {"containment_recall": merge_hits / len(merges) if merges else 1.0, "n": len(merges)}
    out["unscored_originals"] = len(skip)
    return out


def documents(docs: list[GenDocument]) -> list[tuple]:
    """The generated documents as (warehouse row, paragraphs): what cleaning hands on (no cleaning: paragraphs as
    generated)."""
    import hashlib

    from flows.prepare import document_id
    from flows.records import DocumentRow

    items = []
    for d in docs:
        texts = [p.text for p in d.paragraphs]
        sha = hashlib.sha256("\n\n".join(texts).encode()).hexdigest()
        row = DocumentRow(document_id(d.name, sha), d.name, sha, 0, 0, "text", "utf-8", "generated",
                          None, None, d.published, None, None, "en", len(texts))
        items.append((row, texts))
    return items


def fingerprinted(items: list[tuple], settings):
    """`documents` as the pipeline's PreparedDocuments: normalised, fingerprinted, with their sentence keys, a chunk
    of `settings.chunk_files` documents a call, as the flow's chunk tasks prepare them (each paragraph is prepared
    the same whatever its chunk)."""
    from flows.prepare import fingerprint_documents

    size = settings.chunk_files
    chunks = (fingerprint_documents(items[i:i + size], settings) for i in range(0, len(items), size))
    return [d for chunk in chunks for d in chunk if d is not None]  # a copy can lose every paragraph


def prepared(docs: list[GenDocument], settings):
    """The generated documents as the pipeline's PreparedDocuments (no cleaning: paragraphs as generated)."""
    return fingerprinted(documents(docs), settings)


def ingest(db: Path, docs, settings, batches: int = 1, laps: dict | None = None) -> float:
    """Dedup and load prepared documents in `batches` runs, the way the flow does; returns seconds. `laps["load"]`,
    if given, receives the seconds of the load: opening, writing and closing the warehouse."""
    from flows import warehouse
    from flows.dedup import collect_batch, plan_dedup

    start = time.perf_counter()
    load = 0.0
    size = -(-len(docs) // batches)
    for b in range(batches):
        chunk = docs[b * size:(b + 1) * size]
        lap = time.perf_counter()
        with warehouse.connect(db) as con:
            load += time.perf_counter() - lap
            run_id = warehouse.next_run_id(con)
            occ, var = collect_batch(chunk, run_id, settings)
            plan = plan_dedup(occ, var, warehouse.fetch_stored(con, var, settings.candidate_floor), settings)
            record = warehouse.RunRecord(run_id, datetime(2025, 1, 1), "generated", settings.threshold,
                                         settings.minhash.fingerprint())
            lap = time.perf_counter()
            warehouse.load_run(con, record, [d.row for d in chunk], plan, [], [])
        load += time.perf_counter() - lap
    if laps is not None:
        laps["load"] = load
    return time.perf_counter() - start


def evaluate(articles: list[list[str]], copies: int, seed: int, settings, batches: int = 1) -> dict:
    """Generate, ingest, score."""
    from flows import warehouse

    docs = generate(articles, copies, seed)
    with tempfile.TemporaryDirectory() as tmp:
        db = Path(tmp) / "w.duckdb"
        seconds = ingest(db, prepared(docs, settings), settings, batches)
        with warehouse.connect(db, read_only=True) as con:
            rows = con.execute("""SELECT d.source_path, dp.position, dp.paragraph_id
                                  FROM document_paragraphs dp JOIN documents d USING (doc_id)""").fetchall()
            links = set(con.execute("SELECT paragraph_id, whole_paragraph_id FROM passage_links").fetchall())
    result = score(docs, rows, links, settings.min_words)
    result["paragraphs"] = sum(len(d.paragraphs) for d in docs)
    result["seconds"] = seconds
    return result


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--originals", type=int, default=181)
    ap.add_argument("--copies", type=int, default=3)
    ap.add_argument("--seed", type=int, default=1)
    ap.add_argument("--batches", type=int, default=1, help="runs to ingest the corpus in (incremental dedup)")
    ap.add_argument("--markdown", action="store_true", help="write the figures into docs/benchmarks.md")
    args = ap.parse_args()
    if not (SHARED / "benchmarks").is_dir():
        print("needs ../shared/benchmarks")
        return
    from flows.config import Settings

    settings = Settings()
    articles = load_gold()[: args.originals]
    r = evaluate(articles, args.copies, args.seed, settings, args.batches)
    print(f"{r['paragraphs']} paragraphs in {len(articles) * (args.copies + 1)} documents, "
          f"{args.batches} run(s), dedup + load {r['seconds']:.1f} s")
    print(f"{'edit class':<12} {'precision':>9} {'recall':>7} {'copies':>7}")
    for c in NEAR_KINDS:
        print(f"{c:<12} {r[c]['precision']:>9.4f} {r[c]['recall']:>7.4f} {r[c]['copies']:>7}")
    p = r["pairs"]
    print(f"{'all pairs':<12} {p['precision']:>9.4f} {p['recall']:>7.4f} {p['true_pairs']:>7} true pairs")
    print(f"(not scored: {r['unscored_originals']} original paragraphs with a look-alike elsewhere in the gold texts)")
    for c in ("split", "merge"):
        print(f"{c:<12} containment recall {r[c]['containment_recall']:.4f} (n={r[c]['n']})")
    if args.markdown:
        write_markdown(r, len(articles) * (args.copies + 1), args.batches)


def write_markdown(r: dict, documents: int, batches: int) -> None:
    """The printed figures as the page's section, at the printed four places."""
    from figures_page import command_line, table, write_section

    rows = [[c, f"{r[c]['precision']:.4f}", f"{r[c]['recall']:.4f}", r[c]["copies"]] for c in NEAR_KINDS]
    rows.append(["all pairs", f"{r['pairs']['precision']:.4f}", f"{r['pairs']['recall']:.4f}", r["pairs"]["true_pairs"]])
    rows += [[c, None, f"{r[c]['containment_recall']:.4f}", r[c]["n"]] for c in ("split", "merge")]
    write_section("syndication.py", command_line(),
                  f"{r['paragraphs']} paragraphs in {documents} documents, {batches} run(s), dedup + load "
                  f"{r['seconds']:.1f} s; n: copies, true pairs, or parts (split and merge: containment recall); "
                  f"not scored: {r['unscored_originals']} original paragraphs with a look-alike.\n\n"
                  + table(["", "precision", "recall", "n"], rows))


if __name__ == "__main__":
    main()
