"""Syndication shaped like real feeds, through the whole pipeline: heavy-tailed copy counts, three plain-text
layouts and real boilerplate, ingested by `docdedup run` in a child process and scored from its warehouse.

Bases: the gold texts of ../shared/benchmarks/article-extraction and dragnet (lines of 8+ words after the headline:
its short lines are bylines and datelines), halved by a hash of their id (choose a rule on `--bases dev`, report it
on `--bases report`). Each base is a story: its original, then copies published minutes to days later, edited
paragraph by paragraph with syndication.py's edit classes (and maybe cut short); copies per story are Pareto-drawn
(most 0-5, a few hundred, at most 600) and scaled to `--files` files. Each file has one of three layouts (blank
lines between paragraphs, a paragraph per line, hard-wrapped at 60-78 columns), a title line and the fixed header
and footer of one of 100 sites (real pages' lines outside their gold text), and a `.meta.json` sidecar with its
title and publication time. Corpora go to /tmp/docdedup-bench/ (reused), never into the project.

The score aligns each stored occurrence with the generated paragraph of its file (same normalised text, else word
bigram Jaccard >= 0.9; the rest is "unaligned": boilerplate kept, or article text that cleaning cut or joined) and
reports overall, per edit class and per layout: pairwise precision and recall (true pair: same original paragraph
through identical/typographic/light/sentence edits; predicted: same paragraph_id), the share of copies in their
original's passage (split and merged paragraphs: that passage or a passage_links row to it), passage purity, and the
paragraphs cleaning lost. Beside it, in the same invocation, the straightforward script (`straightforward`:
the same cleaner, a datasketch MinHash per paragraph, MinHashLSH, union-find) runs on the same files, timed and
scored the same way. `scaling` copies one story 10, 100 and 1,000 times: dedup seconds per copy.

    python tests/benchmarks/syndication_scale.py corpus [--files 20000] [--seed 1] [--bases report|dev] [--json FILE]
        [--no-baseline] [--markdown]
    python tests/benchmarks/syndication_scale.py scaling [--copies 10 100 1000] [--seed 1] [--json FILE] [--markdown]

`--markdown` writes the figures into docs/benchmarks.md, replacing the previous ones.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import os
import random
import re
import shutil
import subprocess
import sys
import tempfile
import textwrap
import time
from collections import Counter
from dataclasses import dataclass
from datetime import datetime, timedelta, timezone
from pathlib import Path

sys.path.insert(0, str(Path(__file__).parent))

from figures_page import command_line, table, write_section  # noqa: E402
from syndication import (KIND_WEIGHTS, NEAR_KINDS, ROOT, SHARED, Editor, GenDocument,  # noqa: E402
                         GenParagraph, ambiguous_originals, sentences)

from flows.config import Settings  # noqa: E402
from flows.split import normalize, normalize_texts, split_paragraphs  # noqa: E402

BENCH = SHARED / "benchmarks"
CACHE = Path(tempfile.gettempdir()) / "docdedup-bench"
LAYOUTS = ("blank", "lines", "wrapped")
SCALING_WEIGHTS = {"light": 2, "sentence": 2, "split": 1, "merge": 1}
STAGES = ("read", "clean", "fingerprint", "dedup", "load")
SUMMARY = re.compile(r"seconds: " + ", ".join(rf"{s} ([\d.]+)" for s in STAGES))
N_SITES, MAX_COPIES, TAIL = 100, 600, 0.7  # TAIL: Pareto shape; below 1 the largest stories take hundreds of copies


@dataclass
class Base:
    id: str
    title: str
    paragraphs: list[str]


def half(base_id: str) -> str:
    """The half a base belongs to, by a hash of its id: the same split on every machine."""
    return "dev" if hashlib.sha1(base_id.encode()).digest()[0] % 2 == 0 else "report"


def extraction() -> tuple[dict, dict]:
    """article-extraction's gold texts and whole-page texts, by page id."""
    ae = BENCH / "article-extraction"
    return (json.loads((ae / "ground-truth.json").read_text(encoding="utf-8")),
            json.loads((ae / "whole-page-text.json").read_text(encoding="utf-8"))["output"])


def load_bases() -> list[Base]:
    """Gold articles of both benchmarks with at least 3 paragraphs of 8 words or more."""
    (gold, pages), bases = extraction(), []
    for k in sorted(gold):
        paragraphs = [p for p in split_paragraphs(gold[k]["articleBody"]) if normalize(p)]
        head = pages.get(k, {}).get("articleBody", "").strip().split("\n", 1)[0]
        # A page's first line is its document title, "Headline - Site": keep the headline.
        title = re.split(r" [-|–—] ", head)[0].strip() or " ".join(paragraphs[0].split()[:10])
        bases.append(Base(f"ae/{k}", title, paragraphs))
    dragnet = json.loads((BENCH / "dragnet" / "gold.json").read_text(encoding="utf-8"))
    for k in sorted(dragnet):
        text = dragnet[k]["articleBody"]
        if "\ufffd" in text:  # annotation not decoded as UTF-8
            continue
        lines = [" ".join(line.split()) for line in text.splitlines() if line.strip()]
        headline = len(lines[0].split()) < 20
        title = lines[0] if headline else " ".join(lines[0].split()[:10])
        bases.append(Base(f"dragnet/{k}", title, [p for p in lines[headline:] if len(p.split()) >= 8]))
    return [b for b in bases if sum(len(p.split()) >= 8 for p in b.paragraphs) >= 3]


def page_boilerplate() -> list[tuple[list[str], list[str]]]:
    """Per real page, its short lines outside the gold text before the article and after it."""
    (gold, pages), out = extraction(), []
    for k in sorted(gold):
        norm_gold = " " + " ".join(normalize_texts(split_paragraphs(gold[k]["articleBody"]))) + " "
        lines = [" ".join(line.split()) for line in pages.get(k, {}).get("articleBody", "").splitlines()[1:]]
        norms = normalize_texts(lines)
        in_gold = [bool(n) and f" {n} " in norm_gold for n in norms]
        body = [i for i, (n, g) in enumerate(zip(norms, in_gold)) if g and len(n.split()) >= 8]
        if not body:
            continue
        keep = [bool(n) and not g and len(line.split()) <= 12 and len(line) <= 80
                for line, n, g in zip(lines, norms, in_gold)]
        out.append(([line for line, ok in zip(lines[:body[0]], keep) if ok],
                    [line for line, ok in zip(lines[body[-1] + 1:], keep[body[-1] + 1:]) if ok]))
    return out


def make_sites(rng: random.Random) -> list[dict]:
    """N_SITES sites, each with a fixed header and footer: a run of one real page's lines before and after its
    article, as a site repeats its own chrome on every page."""
    pages = page_boilerplate()
    pool = sorted({line for head, tail in pages for line in head + tail})

    def window(lines: list[str]) -> list[str]:
        k = rng.randint(3, 6)
        start = rng.randrange(len(lines) - k + 1) if len(lines) >= k else None
        return rng.sample(pool, k) if start is None else lines[start:start + k]

    chosen = rng.sample(pages, N_SITES) if len(pages) >= N_SITES else [rng.choice(pages) for _ in range(N_SITES)]
    return [{"header": window(head), "footer": window(tail)} for head, tail in chosen]


def plan_copies(n_stories: int, copies: int, rng: random.Random) -> list[int]:
    """Copies per story: Pareto draws scaled (by bisection) so that they sum to `copies`, each at most MAX_COPIES."""
    raw = [rng.paretovariate(TAIL) - 1 for _ in range(n_stories)]
    lo, hi = 0.0, 1e9
    for _ in range(200):
        mid = (lo + hi) / 2
        lo, hi = (mid, hi) if sum(min(MAX_COPIES, int(mid * r)) for r in raw) <= copies else (lo, mid)
    counts = [min(MAX_COPIES, int(lo * r)) for r in raw]
    # The rounding remainder goes to the stories nearest to their next copy.
    order = sorted((i for i, c in enumerate(counts) if c < MAX_COPIES), key=lambda i: -(lo * raw[i] % 1))
    for i in order[:copies - sum(counts)]:
        counts[i] += 1
    return counts


def edit_copy(editor: Editor, story: int, paragraphs: list[str], weights: dict, truncate: bool) -> list[list]:
    """One copy of a story as [text, kind, sources] paragraphs: syndication.generate's edits, with given weights."""
    rng, (kinds, w) = editor.rng, zip(*weights.items())
    end = len(paragraphs)
    if truncate and len(paragraphs) > 4 and rng.random() < 0.3:
        end = rng.randrange(len(paragraphs) // 2, len(paragraphs))  # truncated ending
    out, i = [], 0
    while i < end:
        p, kind = paragraphs[i], rng.choices(kinds, w)[0]
        parts = sentences(p)
        if kind == "split" and len(parts) < 2 or kind == "merge" and i + 1 >= end:
            kind = "identical"
        if kind == "split":
            cut = rng.randrange(1, len(parts))
            out += [[" ".join(parts[:cut]), "split", [[story, i]]], [" ".join(parts[cut:]), "split", [[story, i]]]]
        elif kind == "merge":
            out.append([p + " " + paragraphs[i + 1], "merge", [[story, i], [story, i + 1]]])
            i += 1
        elif kind != "dropped":
            out.append([p if kind == "identical" else getattr(editor, kind)(p), kind, [[story, i]]])
        i += 1
    return out


def render(title: str, site: dict, paragraphs: list[str], layout: str, width: int) -> str:
    """A file's text: title, the site's header, the article in its layout, the site's footer."""
    if layout == "wrapped":
        paragraphs = [textwrap.fill(p, width, break_long_words=False, break_on_hyphens=False) for p in paragraphs]
    gap = "\n" if layout == "lines" else "\n\n"
    return "\n".join([title, *site["header"]]) + gap + gap.join(paragraphs) + gap + "\n".join(site["footer"]) + "\n"


def build_corpus(folder: Path, bases: list[Base], counts: list[int], seed: int, layouts=LAYOUTS,
                 weights=KIND_WEIGHTS, truncate: bool = True) -> dict:
    """Write raw/<site>/<story>-<copy>.txt with sidecars and truth.json under `folder`, unless already there."""
    if (folder / "truth.json").exists():
        return json.loads((folder / "truth.json").read_text(encoding="utf-8"))
    shutil.rmtree(folder, ignore_errors=True)  # a corpus left half-written
    rng = random.Random(seed)
    vocabulary = [w for b in bases for p in b.paragraphs for w in p.split()]
    sites = make_sites(rng)
    files: dict[str, dict] = {}
    start = datetime(2025, 1, 1, tzinfo=timezone.utc)
    for s, (base, n) in enumerate(zip(bases, counts)):
        editor = Editor(random.Random(f"{seed}/{s}"), vocabulary)
        first = start + timedelta(minutes=rng.randrange(90 * 24 * 60))
        for c in range(n + 1):
            if c == 0:
                paragraphs, published = [[p, "original", [[s, i]]] for i, p in enumerate(base.paragraphs)], first
            else:
                paragraphs = edit_copy(editor, s, base.paragraphs, weights, truncate)
                published = first + timedelta(minutes=rng.randint(10, 14 * 24 * 60))  # always after the original
            site, layout, width = rng.randrange(N_SITES), rng.choice(layouts), rng.randint(60, 78)
            path = f"site{site:03d}/s{s:04d}-{c:03d}.txt"
            stamp = published.strftime("%Y-%m-%dT%H:%M:%SZ")
            target = folder / "raw" / path
            target.parent.mkdir(parents=True, exist_ok=True)
            # The sidecar first: it is read when its article is ingested.
            Path(f"{target}.meta.json").write_text(json.dumps({"published": stamp, "title": base.title}))
            target.write_text(render(base.title, sites[site], [p[0] for p in paragraphs], layout, width), "utf-8")
            files[path] = {"layout": layout, "site": site, "published": stamp, "paragraphs": paragraphs}
    truth = {"seed": seed, "stories": [{"id": b.id, "title": b.title, "copies": n} for b, n in zip(bases, counts)],
             "sites": sites, "files": files}
    (folder / "truth.json.part").write_text(json.dumps(truth), encoding="utf-8")
    (folder / "truth.json.part").rename(folder / "truth.json")  # written last: its presence marks a whole corpus
    return truth


def run_docdedup(raw: Path, db: Path) -> dict:
    """`docdedup run` in a child process: wall seconds (Prefect's start included), peak RSS, the summary's stages."""
    cli = ROOT / ".venv" / "bin" / "docdedup"
    cli = str(cli) if cli.exists() else shutil.which("docdedup")
    env = dict(os.environ, PREFECT_SERVER_ANALYTICS_ENABLED="false", PREFECT_LOGGING_LEVEL="WARNING",
               DOCDEDUP_SETTLE_SECONDS="0")  # the corpus may have been written a moment ago
    run = _child([cli, "run", "--raw", str(raw), "--warehouse", str(db)], env)
    m = SUMMARY.search(run["summary"])
    run["stages"] = dict(zip(STAGES, map(float, m.groups()))) if m else {}
    return run


def run_baseline(raw: Path, db: Path) -> dict:
    """`straightforward` (below) in a child process: wall seconds and peak RSS."""
    return _child([sys.executable, __file__, "straightforward", str(raw), str(db)], dict(os.environ))


def _child(argv: list[str], env: dict) -> dict:
    with tempfile.TemporaryFile("w+") as out, tempfile.TemporaryFile("w+") as err:
        t = time.perf_counter()
        proc = subprocess.Popen(argv, stdout=out, stderr=err, env=env, cwd=ROOT, text=True)
        # wait4 gives this child's own peak (RUSAGE_CHILDREN would be the largest of all children so far).
        _, status, usage = os.wait4(proc.pid, 0)
        wall = time.perf_counter() - t
        proc.returncode = os.waitstatus_to_exitcode(status)
        out.seek(0), err.seek(0)
        stdout, stderr = out.read(), err.read()
    if proc.returncode:
        sys.exit(f"{argv[:2]} failed (exit {proc.returncode}):\n{stderr[-3000:]}")
    return {"wall": wall, "peak_mib": usage.ru_maxrss / 1024, "summary": stdout.strip()}


def straightforward(raw: Path, db: Path) -> None:
    """The script a data engineer would write first, with docdedup's own cleaner and splitter so that only the rest
    differs: each file cleaned and split, a datasketch MinHash per paragraph on the same word bigrams and number of
    permutations, an in-memory MinHashLSH at the same threshold, union-find over its answers, and the occurrences
    written to DuckDB through Arrow in the tables the score reads. Its passages are scored like docdedup's."""
    import duckdb
    import pyarrow as pa
    from datasketch import MinHash, MinHashLSH
    from scale import UnionFind

    from flows.clean.text import clean_text

    settings = Settings()
    k, num_perm = settings.minhash.shingle_size, settings.minhash.num_perm
    lsh, uf = MinHashLSH(threshold=settings.threshold, num_perm=num_perm), UnionFind()
    docs, occurrences = [], []
    for i, path in enumerate(sorted(raw.rglob("*.txt"))):
        docs.append((i, path.relative_to(raw).as_posix()))
        body, _ = clean_text(path.read_text(encoding="utf-8", errors="replace"))
        for pos, text in enumerate(split_paragraphs(body)):
            words = normalize(text).split()
            if not words:
                continue
            m = MinHash(num_perm=num_perm)
            m.update_batch([" ".join(words[j:j + k]).encode() for j in range(max(1, len(words) - k + 1))])
            key = len(occurrences)
            for other in lsh.query(m):
                uf.union(other, key)
            lsh.insert(key, m)
            occurrences.append((i, pos, text))
    with duckdb.connect(str(db)) as con:
        con.register("d", pa.table({"doc_id": [str(i) for i, _ in docs], "source_path": [p for _, p in docs]}))
        con.register("o", pa.table({"doc_id": [str(o[0]) for o in occurrences], "position": [o[1] for o in occurrences],
                                    "paragraph_id": [str(uf.find(n)) for n in range(len(occurrences))],
                                    "text": [o[2] for o in occurrences]}))
        con.execute("CREATE TABLE documents AS SELECT * FROM d")
        con.execute("CREATE TABLE document_paragraphs AS SELECT * FROM o")
        con.execute("CREATE TABLE passage_links (paragraph_id VARCHAR, whole_paragraph_id VARCHAR)")
        con.execute("CREATE TABLE rejected_files (source_path VARCHAR, reason VARCHAR)")
    print(f"{len(docs)} files, {len(occurrences)} paragraphs")


def bigrams(norm: str) -> set:
    """Word bigrams of a normalised text (its single word when it has one)."""
    w = norm.split()
    return set(zip(w, w[1:])) or set(w)


def align(stored: list[str], generated: list[str]) -> list[int | None]:
    """Index of the generated paragraph each stored one came from: same normalised text, else the best
    word-bigram Jaccard >= 0.9; None when nothing fits (boilerplate, or article text cut or joined)."""
    gen = normalize_texts(generated)
    exact = {g: i for i, g in reversed(list(enumerate(gen)))}  # the first of equal paragraphs
    shingles, out = None, []
    for norm in normalize_texts(stored):
        i = exact.get(norm)
        if i is None and norm:
            shingles = shingles or [bigrams(g) for g in gen]
            mine = bigrams(norm)
            sim, best = max(((len(mine & s) / len(mine | s), j) for j, s in enumerate(shingles)), default=(0, None))
            i = best if sim >= 0.9 else None
        out.append(i)
    return out


@dataclass
class Occurrence:
    pid: object
    kind: str
    origin: object  # group of the original paragraph; a merge's tuple of groups
    layout: str
    pairable: bool  # in the pairwise universe
    hit: bool | None  # reached its original's passage (None: not scored)


def figures(occs: list[Occurrence], majority: dict, flag) -> dict:
    """Pairwise precision and recall, share of copies reaching their original's passage, and purity, of the
    flagged occurrences. Pairs with a flagged member are counted per group (all pairs less the unflagged ones)."""
    def pairs(key) -> int:
        n, m = Counter(), Counter()
        for o in occs:
            if o.pairable:
                n[key(o)] += 1
                m[key(o)] += flag(o)
        return sum(n[k] * (n[k] - 1) // 2 - (n[k] - m[k]) * (n[k] - m[k] - 1) // 2 for k in n)

    tp, pred, true = pairs(lambda o: (o.pid, o.origin)), pairs(lambda o: o.pid), pairs(lambda o: o.origin)
    mine = [o for o in occs if flag(o)]
    scored = [o.hit for o in mine if o.hit is not None]
    return {"occurrences": len(mine), "precision": tp / pred if pred else None, "recall": tp / true if true else None,
            "true_pairs": true, "linked": sum(scored) / len(scored) if scored else None, "linked_n": len(scored),
            "purity": sum(o.origin == majority[o.pid] for o in mine) / len(mine) if mine else None}


def score_run(db: Path, truth: dict, min_words: int) -> dict:
    """Align the warehouse's occurrences with the generated paragraphs and score them; see the module docstring."""
    import duckdb

    with duckdb.connect(str(db), read_only=True) as con:
        path_of = dict(con.execute("SELECT doc_id, source_path FROM documents").fetchall())
        rows = con.execute("SELECT doc_id, paragraph_id, text FROM document_paragraphs "
                           "ORDER BY doc_id, position").fetchall()
        links = set(con.execute("SELECT paragraph_id, whole_paragraph_id FROM passage_links").fetchall())
        rejected = dict(con.execute("SELECT source_path, reason FROM rejected_files").fetchall())
    files = truth["files"]
    ingested, stored = set(path_of.values()), {}
    for doc_id, pid, text in rows:
        stored.setdefault(path_of[doc_id], []).append((pid, text))

    originals = [GenDocument(path, None, [GenParagraph(t, k, tuple(map(tuple, s))) for t, k, s in f["paragraphs"]])
                 for path, f in files.items() if path.endswith("-000.txt")]
    origin_norm = {p.sources[0]: normalize(p.text) for d in originals for p in d.paragraphs}
    first_with_text: dict[str, tuple] = {}  # originals with the same text are one passage
    group = {o: first_with_text.setdefault(t, o) for o, t in sorted(origin_norm.items())}
    skip = ambiguous_originals(originals)
    boiler = [{normalize(line) for line in s["header"] + s["footer"]} for s in truth["sites"]]
    titles = {normalize(s["title"]) for s in truth["stories"]}

    found, counts = [], Counter()  # found: (pid, generated paragraph, layout)
    for path, f in files.items():
        layout, gen = f["layout"], f["paragraphs"]
        counts[layout, "files"] += 1
        if path not in stored:  # rejected, not ingested at all, or ingested with no paragraph
            counts[layout, "rejected" if path in rejected else "missing" if path not in ingested else "empty"] += 1
        occ = stored.get(path, [])
        hits = align([t for _, t in occ], [p[0] for p in gen])
        for (pid, text), i in zip(occ, hits):
            if i is None:
                n = normalize(text)
                counts[layout, "boilerplate" if n in boiler[f["site"]] or n in titles else "other"] += 1
            else:
                found.append((pid, gen[i], layout))
        seen = set(hits)
        for i, p in enumerate(gen):
            counts[layout, "lost"] += i not in seen
            counts[p[1], "lost"] += i not in seen
            counts[p[1], "generated"] += 1

    original_pid: dict = {}
    for pid, (_, kind, sources), _ in found:
        if kind == "original":
            original_pid.setdefault(group[tuple(sources[0])], pid)

    def linked(a, b) -> bool:
        return a == b or (a, b) in links or (b, a) in links

    occs = []
    for pid, (text, kind, sources), layout in found:
        sources = [tuple(s) for s in sources]
        if any(s in skip for s in sources):
            continue
        gs = tuple(group[s] for s in sources)
        short = len(origin_norm[sources[0]].split()) < min_words  # matched exactly only, by design
        targets = [original_pid.get(g) for g in gs]
        if kind == "original" or None in targets:
            hit = None
        elif kind in NEAR_KINDS:
            hit = None if short and kind in ("light", "sentence") else pid == targets[0]
        else:  # split or merge: only parts and sources long enough to be banded
            long = all(len(origin_norm[s].split()) >= min_words for s in sources) and \
                len(normalize(text).split()) >= min_words
            hit = all(linked(pid, t) for t in targets) if long else None
        pairable = (kind == "original" or kind in NEAR_KINDS) and not (short and kind in ("light", "sentence"))
        occs.append(Occurrence(pid, kind, gs if kind == "merge" else gs[0], layout, pairable, hit))

    by_pid: dict = {}
    for o in occs:
        by_pid.setdefault(o.pid, Counter())[o.origin] += 1
    majority = {pid: c.most_common(1)[0][0] for pid, c in by_pid.items()}
    kinds_of: dict = {}
    for o in occs:
        kinds_of.setdefault(o.pid, set()).add(o.kind)
    # What went wrong, for whoever tunes the rule: the kinds of occurrence that mixed passages hold, and whether a
    # copy that missed its original's passage leads a passage of its own origin or sits in another origin's.
    mixes = Counter("+".join(sorted(kinds_of[pid])) for pid, c in by_pid.items() if len(c) > 1)
    misses = Counter((o.kind, "apart" if majority[o.pid] == o.origin else "in another")
                     for o in occs if o.hit is False)
    out = {"all": figures(occs, majority, lambda o: True),
           "mixes": [[k, n] for k, n in mixes.most_common(8)],
           "misses": [[f"{k} {w}", n] for (k, w), n in misses.most_common(12)],
           "mixed_passages": sum(len(c) > 1 for c in by_pid.values()), "passages": len(by_pid),
           "unscored_originals": len(skip), "classes": {}, "layouts": {}}
    for kind in ("original", *NEAR_KINDS, "split", "merge"):
        out["classes"][kind] = figures(occs, majority, lambda o: o.kind == kind)
        out["classes"][kind].update(lost=counts[kind, "lost"], generated=counts[kind, "generated"])
    for layout in LAYOUTS:
        out["layouts"][layout] = figures(occs, majority, lambda o: o.layout == layout)
        out["layouts"][layout].update({k: counts[layout, k] for k in
                                       ("files", "rejected", "missing", "empty", "boilerplate", "other", "lost")})
    out["rejected_reasons"] = Counter(r.split(":")[0] for r in rejected.values()).most_common(5)
    return out


def fmt(x) -> str:
    """A share to three places, or a dash when there was nothing to measure."""
    return "   -  " if x is None else f"{x:6.3f}"


def print_score(r: dict) -> None:
    """The score as a compact table."""
    print(f"{'':<12} {'occ':>7} {'pair P':>6} {'pair R':>6} {'linked':>6} {'purity':>6} {'lost':>6}  (linked: "
          "same passage as the original; split/merge: containment)")
    rows = [("all", r["all"])] + list(r["classes"].items()) + list(r["layouts"].items())
    for name, f in rows:
        lost = f"{f['lost']:>6}" if "lost" in f else ""
        print(f"{name:<12} {f['occurrences']:>7} {fmt(f['precision'])} {fmt(f['recall'])} {fmt(f['linked'])} "
              f"{fmt(f['purity'])} {lost}")
    print(f"{r['passages']} passages, {r['mixed_passages']} mixing origins; "
          f"{r['unscored_originals']} original paragraphs with look-alikes not scored")
    for layout, f in r["layouts"].items():
        print(f"{layout:<8} files {f['files']:>6}, rejected {f['rejected']}, missing {f['missing']}, empty "
              f"{f['empty']}; unaligned: {f['boilerplate']} boilerplate, {f['other']} other; lost {f['lost']}")
    print("mixed passages hold:", ", ".join(f"{k} {n}" for k, n in r["mixes"]) or "-")
    print("missed copies:", ", ".join(f"{k} {n}" for k, n in r["misses"]) or "-")
    if r["rejected_reasons"]:
        print("rejected:", r["rejected_reasons"])


def cmd_corpus(args) -> dict:
    """Generate (or reuse) a corpus, run docdedup into a fresh warehouse, score it."""
    bases = sorted((b for b in load_bases() if half(b.id) == args.bases),
                   key=lambda b: hashlib.sha1(b.id.encode()).digest())
    bases = bases[:max(1, min(len(bases), args.files // 2))]  # a small corpus still has copies
    counts = plan_copies(len(bases), args.files - len(bases), random.Random(args.seed))
    folder = Path(args.cache) / f"corpus-{args.bases}-{args.files}-{args.seed}"
    t = time.perf_counter()
    truth = build_corpus(folder, bases, counts, args.seed)
    print(f"corpus {folder}: {len(truth['files'])} files, {len(bases)} stories ({args.bases} bases); copies a "
          f"story: median {sorted(counts)[len(counts) // 2]}, max {max(counts)}, {sum(c >= 100 for c in counts)} "
          f"with 100+ ({time.perf_counter() - t:.1f} s)")
    with tempfile.TemporaryDirectory() as tmp:
        if args.keep:  # the warehouse stays for a look (`--rescore` scores it again)
            tmp = args.keep
        if args.rescore:
            run = {"wall": float("nan"), "peak_mib": float("nan"), "stages": {}, "summary": "(not run: --rescore)"}
        else:
            if args.keep:
                shutil.rmtree(tmp, ignore_errors=True)
                Path(tmp).mkdir(parents=True)
            run = run_docdedup(folder / "raw", Path(tmp) / "w.duckdb")
        share = f"dedup {run['stages']['dedup'] / run['wall']:.0%} of wall" if run["stages"] else "no stage seconds"
        print(f"docdedup run: wall {run['wall']:.1f} s, peak RSS {run['peak_mib']:,.0f} MiB, {share}")
        print("  " + run["summary"].replace("\n", "\n  "))
        t = time.perf_counter()
        result = score_run(Path(tmp) / "w.duckdb", truth, Settings().min_words)
        print(f"scored in {time.perf_counter() - t:.1f} s")
        print_score(result)
        out = {"corpus": str(folder), "files": len(truth["files"]), "stories": len(bases), "run": run, "score": result}
        if args.baseline and not args.rescore:
            base = run_baseline(folder / "raw", Path(tmp) / "baseline.duckdb")
            base_score = score_run(Path(tmp) / "baseline.duckdb", truth, Settings().min_words)
            out.update(baseline=base, baseline_score=base_score)
            print(f"straightforward script (MinHash + MinHashLSH + union-find, same cleaner): wall {base['wall']:.1f} s, "
                  f"peak RSS {base['peak_mib']:,.0f} MiB; pairs P {fmt(base_score['all']['precision'])} "
                  f"R {fmt(base_score['all']['recall'])}, purity {fmt(base_score['all']['purity'])}")
            print(f"docdedup against it: {base['wall'] / run['wall']:.2f}x the speed, "
                  f"{run['peak_mib'] / base['peak_mib']:.2f}x the peak memory")
    return out


def corpus_markdown(out: dict) -> str:
    """The corpus figures as markdown: the run beside the straightforward script, then per class and layout."""
    run, score = out["run"], out["score"]
    runs = [["docdedup run", f"{run['wall']:.1f}", f"{run['peak_mib']:,.0f}",
             f"{run['stages']['dedup'] / run['wall']:.0%}" if run["stages"] else None, score["all"]["precision"],
             score["all"]["recall"], score["all"]["purity"], score["mixed_passages"]]]
    against = []
    if "baseline" in out:
        base, bs = out["baseline"], out["baseline_score"]
        runs.append(["straightforward script", f"{base['wall']:.1f}", f"{base['peak_mib']:,.0f}", None,
                     bs["all"]["precision"], bs["all"]["recall"], bs["all"]["purity"], bs["mixed_passages"]])
        against = ["", f"docdedup: {base['wall'] / run['wall']:.2f}x the script's speed, "
                       f"{run['peak_mib'] / base['peak_mib']:.2f}x its peak memory."]
    text = [f"{out['files']:,} files, {out['stories']:,} stories.", "",
            table(["", "wall s", "peak MiB", "dedup share", "pair P", "pair R", "purity", "mixed passages"], runs),
            *against]
    rows = [[name, f["occurrences"], f["precision"], f["recall"], f["linked"], f["purity"], f.get("lost")]
            for name, f in [*score["classes"].items(), *score["layouts"].items()]]
    text += ["", "Per edit class and layout (linked: in the original's passage; split and merge: containment; "
                 "lost: generated paragraphs cleaning did not keep whole):", "",
             table(["", "occurrences", "pair P", "pair R", "linked", "purity", "lost"], rows)]
    return "\n".join(text)


def scaling_markdown(out: dict) -> str:
    """The scaling figures as markdown: dedup seconds per copy and the ratio to the smallest run."""
    rows = [[n, f"{r['run']['wall']:.1f}", f"{r['dedup_seconds']:.2f}", f"{1000 * r['per_copy']:.2f}",
             r["score"]["all"]["precision"], r["score"]["all"]["purity"]] for n, r in out["runs"].items()]
    text = [f"One story ({out['story']}) copied with light, sentence, split and merge edits.", "",
            table(["copies", "wall s", "dedup s", "dedup ms a copy", "pair P", "purity"], rows), ""]
    hi = max(out["runs"])
    text += [f"- per-copy dedup seconds at {hi} copies / at {n}: {r:.2f}x" for n, r in out["ratios"].items()]
    return "\n".join(text)


def cmd_scaling(args) -> dict:
    """One story copied more and more often: does the dedup stage's time per copy stay flat?"""
    story = next(b for b in sorted(load_bases(), key=lambda b: hashlib.sha1(b.id.encode()).digest())
                 if len(b.paragraphs) >= 10)
    print(f"story {story.id}: {len(story.paragraphs)} paragraphs; copies with light, sentence, split and merge edits")
    out = {"story": story.id, "runs": {}}
    for n in args.copies:
        folder = Path(args.cache) / f"scaling-{n}-{args.seed}"
        truth = build_corpus(folder, [story], [n], args.seed, ("blank",), SCALING_WEIGHTS, truncate=False)
        with tempfile.TemporaryDirectory() as tmp:
            run = run_docdedup(folder / "raw", Path(tmp) / "w.duckdb")
            r = score_run(Path(tmp) / "w.duckdb", truth, Settings().min_words)
        dedup = run["stages"].get("dedup", float("nan"))
        out["runs"][n] = {"run": run, "dedup_seconds": dedup, "per_copy": dedup / n, "score": r}
        print(f"{n:>5} copies: wall {run['wall']:6.1f} s, dedup {dedup:6.1f} s = {1000 * dedup / n:7.2f} ms a copy; "
              f"peak {run['peak_mib']:,.0f} MiB; pairs P {fmt(r['all']['precision'])} R {fmt(r['all']['recall'])}, "
              f"purity {fmt(r['all']['purity'])}, {r['mixed_passages']} mixed passages, linked "
              f"{fmt(r['all']['linked'])}")
    hi = max(args.copies)
    out["ratios"] = {n: out["runs"][hi]["per_copy"] / out["runs"][n]["per_copy"]
                     for n in sorted(set(args.copies) - {hi}) if out["runs"][n]["per_copy"]}
    for n, ratio in out["ratios"].items():  # the summary rounds dedup to 0.1 s: small runs are coarse
        print(f"per-copy dedup seconds at {hi} / at {n}: {ratio:.2f}x")
    return out


def main() -> None:
    """Parse the command line (`corpus` when no subcommand is given) and run it."""
    common = argparse.ArgumentParser(add_help=False)
    common.add_argument("--seed", type=int, default=1)
    common.add_argument("--cache", default=str(CACHE), help="where corpora are written and reused")
    common.add_argument("--json", help="also write the figures to this file")
    common.add_argument("--markdown", action="store_true", help="write the figures into docs/benchmarks.md")
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    sub = ap.add_subparsers(dest="command")
    corpus = sub.add_parser("corpus", parents=[common], help="heavy-tailed syndication through the whole pipeline")
    corpus.add_argument("--files", type=int, default=20000)
    corpus.add_argument("--bases", choices=("dev", "report"), default="report")
    corpus.add_argument("--keep", metavar="DIR", help="run into DIR/w.duckdb and keep it, not a temporary warehouse")
    corpus.add_argument("--rescore", action="store_true", help="score the warehouse --keep kept, without a run")
    corpus.add_argument("--no-baseline", dest="baseline", action="store_false",
                        help="skip the straightforward script measured beside the run")
    scaling = sub.add_parser("scaling", parents=[common], help="dedup seconds per copy, 10 to 1,000 copies")
    scaling.add_argument("--copies", type=int, nargs="+", default=[10, 100, 1000])
    argv = sys.argv[1:]
    if argv[:1] == ["straightforward"]:  # the baseline, in its own process (run_baseline)
        return straightforward(Path(argv[1]), Path(argv[2]))
    args = ap.parse_args(argv if argv[:1] in (["scaling"], ["corpus"], ["-h"], ["--help"]) else ["corpus", *argv])
    if getattr(args, "rescore", False) and not args.keep:
        ap.error("--rescore needs --keep DIR")
    if not (BENCH / "article-extraction").is_dir() or not (BENCH / "dragnet").is_dir():
        print(f"skipped: needs {BENCH}/article-extraction and {BENCH}/dragnet")
        return
    result = cmd_scaling(args) if args.command == "scaling" else cmd_corpus(args)
    if args.markdown:
        command = command_line()
        if args.command == "scaling":
            write_section("syndication_scale.py scaling", command, scaling_markdown(result))
        else:
            write_section(f"syndication_scale.py corpus, {args.bases} bases", command, corpus_markdown(result))
    if args.json:
        Path(args.json).write_text(json.dumps(result, indent=1, default=str), encoding="utf-8")


if __name__ == "__main__":
    main()
