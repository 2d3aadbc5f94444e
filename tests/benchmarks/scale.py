"""Scale benchmarks: dedup speed against the straightforward datasketch approach, incremental runs into
a large warehouse, and peak memory of a large run. Each reports ratios against a baseline measured in
the same run.

    python tests/benchmarks/scale.py speed [--copies 3] [--rounds 3] [--markdown]
    python tests/benchmarks/scale.py incremental [--paragraphs 1000000] [--files 1000] [--rounds 3] [--save FILE | --base FILE]
        [--markdown]
    python tests/benchmarks/scale.py lookup [--paragraphs 1000000 | --base FILE] [--documents 10 100 1000] [--rounds 5]
        [--markdown]
    python tests/benchmarks/scale.py memory [--files 100000] [--markdown]

`--markdown` writes the subcommand's figures into its section of docs/benchmarks.md.

`speed` dedups the syndicated corpus of tests/benchmarks/syndication.py (gold articles and edited
copies) twice from the same documents (each one's warehouse row and paragraphs, as cleaning hands them on;
both sides normalise and hash the paragraphs in their timed part): docdedup (batch fingerprints, LSH band keys and
sentence keys, exact verification, union-find, load through Arrow) and the straightforward approach
(a new datasketch MinHash per paragraph, an in-memory MinHashLSH at the same threshold, union-find,
the same canonical rule, and the same load of documents, passages, occurrences and search index; docdedup
also writes what later runs match against: signatures, band and sentence keys). Both sides are warmed
up first, untimed, each side starts from a collected heap, and the comparison is repeated `--rounds`
times, alternating which side goes first. Each round also reports the load's share of each side (opening,
writing and closing the warehouse) and the ratio without it, to show where the time goes; the target's ratio
is the whole one.

`incremental` builds a warehouse of N synthetic paragraphs (or copies one saved earlier), then times the
same `docdedup run` of F new files into it and into an empty warehouse (a fresh one of each every
round, the order alternating). `lookup` times candidate search's
band-key lookup for runs of several sizes into such a warehouse: the sorted index beside it against the
hash join with a table of all band keys that it replaced. `memory` runs `docdedup run`
over F generated files in a child process and reports its peak resident memory.
"""

from __future__ import annotations

import argparse
import gc
import os
import random
import resource
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from datetime import datetime, timedelta
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(Path(__file__).parent))

import syndication  # noqa: E402
from figures_page import command_line, table, write_section  # noqa: E402

from flows.config import Settings  # noqa: E402

HEADER = ["{site}", "Home | World | Business | Sport | Opinion", "Share: Facebook Twitter Email", ""]
FOOTER = ["", "Related stories", "Sign up for our newsletter", "© {site}. All rights reserved."]


class UnionFind:
    """The baseline's clusters: union-find over every matched pair (deterministic roots: the smaller key)."""

    def __init__(self) -> None:
        self.parent: dict[object, object] = {}

    def find(self, x: object) -> object:
        parent = self.parent
        up = parent.setdefault(x, x)
        if up == x or parent[up] == up:  # a root or a root's child (path compression makes it most calls)
            return up
        root = up
        while parent[root] != root:
            root = parent[root]
        while parent[x] != root:
            parent[x], x = root, parent[x]
        return root

    def union(self, a: object, b: object) -> None:
        ra, rb = self.find(a), self.find(b)
        if ra != rb:
            # Deterministic root: the smaller key, so components never depend on union order. Keys are integers, or
            # (kind, id) tuples whose ids of one kind are all of one type: they compare as they are.
            if rb < ra:
                ra, rb = rb, ra
            self.parent[rb] = ra


def write_files(folder: Path, n_files: int, seed: int, html_every: int = 0) -> int:
    """n_files plain-text articles with boilerplate: gold articles and their syndicated copies, cycled;
    every `html_every`-th one (0: none) an HTML page instead. Returns the number of paragraphs written."""
    articles = syndication.load_gold()
    rng = random.Random(seed)
    docs = syndication.generate(articles, copies=3, seed=seed)
    folder.mkdir(parents=True, exist_ok=True)
    total = 0
    for i in range(n_files):
        d = docs[i % len(docs)]
        site = f"Outlet {rng.randrange(50)}"
        lines = [s.format(site=site) for s in HEADER] + [f"Story {i}: {d.name}", d.published.strftime("%B %d, %Y"), ""]
        lines += [p.text + "\n" for p in d.paragraphs]
        lines += [s.format(site=site) for s in FOOTER]
        (folder / f"{i // 1000:04d}").mkdir(exist_ok=True)
        if html_every and i % html_every == 0:
            (folder / f"{i // 1000:04d}" / f"story-{i:06d}.html").write_text(html_page(site, f"Story {i}: {d.name}", d),
                                                                          encoding="utf-8")
        else:
            (folder / f"{i // 1000:04d}" / f"story-{i:06d}.txt").write_text("\n".join(lines), encoding="utf-8")
        total += len(d.paragraphs)
    return total


def html_page(site: str, title: str, doc) -> str:
    """A news page around a generated article: navigation, share links, the article, related links, footer."""
    esc = lambda s: s.replace("&", "&amp;").replace("<", "&lt;")  # noqa: E731
    nav = "".join(f'<li><a href="/{s.lower()}">{s}</a></li>' for s in HEADER[1].split(" | "))
    body = "".join(f"<p>{esc(p.text)}</p>" for p in doc.paragraphs)
    return (f"<!DOCTYPE html><html><head><title>{esc(title)} | {site}</title>"
            f'<meta name="date" content="{doc.published:%Y-%m-%d}"></head><body>'
            f"<header><h2>{site}</h2><nav><ul>{nav}</ul></nav></header><main><article><h1>{esc(title)}</h1>"
            f"<p class=\"share\">{HEADER[2]}</p>{body}</article>"
            f'<aside><h3>{FOOTER[1]}</h3><ul><li><a href="/a">Another story</a></li></ul></aside></main>'
            f"<footer>{FOOTER[2]} {FOOTER[3].format(site=site)}</footer></body></html>")


def synthetic_documents(n_paragraphs: int, seed: int, settings: Settings, per_doc: int = 25):
    """Prepared documents of random prose from the gold vocabulary, a tenth of them copies of earlier ones."""
    from flows.prepare import document_id, fingerprint_documents
    from flows.records import DocumentRow

    rng = random.Random(seed)
    vocab = [w for a in syndication.load_gold() for p in a for w in p.split()]
    base = datetime(2020, 1, 1)
    made, items, previous = 0, [], []
    while made < n_paragraphs:
        i = made // per_doc
        if previous and rng.random() < 0.1:
            texts = list(rng.choice(previous))
        else:
            texts = [" ".join(rng.choice(vocab) for _ in range(rng.randrange(15, 60))) + "." for _ in range(per_doc)]
            previous = (previous + [texts])[-100:]
        name = f"synthetic/{i:07d}.txt"
        row = DocumentRow(document_id(name, str(i)), name, str(i), 0, 0, "text", "utf-8", "synthetic",
                          None, None, base + timedelta(minutes=i), None, None, "en", len(texts))
        items.append((row, texts))
        made += len(texts)
        if len(items) == 2000:
            yield fingerprint_documents(items, settings)
            items = []
    if items:
        yield fingerprint_documents(items, settings)


def build_warehouse(db: Path, n_paragraphs: int, settings: Settings) -> float:
    """A warehouse holding n_paragraphs synthetic paragraphs, loaded batch by batch in one run."""
    from flows import warehouse
    from flows.dedup import collect_batch, plan_dedup

    start = time.perf_counter()
    with warehouse.connect(db) as con:
        run = warehouse.RunRecord(warehouse.next_run_id(con), datetime(2025, 1, 1), "synthetic", settings.threshold,
                                  settings.minhash.fingerprint())
        from collections import Counter

        counts = Counter()
        for docs in synthetic_documents(n_paragraphs, 1, settings):
            with warehouse.transaction(con):
                occ, var = collect_batch(docs, run.run_id, settings)
                plan = plan_dedup(occ, var, warehouse.fetch_stored(con, var, settings.candidate_floor), settings)
                counts += warehouse.write_batch(con, run, [d.row for d in docs], plan, [], [])
            print(f"  built {counts['paragraphs_total']:,} paragraphs, {time.perf_counter() - start:.0f} s", flush=True)
        with warehouse.transaction(con):
            warehouse.finish_run(con, run, counts)
    return time.perf_counter() - start


def straightforward_ingest(db: Path, items: list[tuple], settings: Settings) -> float:
    """The straightforward approach on the same documents (warehouse row and paragraphs each, as docdedup's side
    gets them): each paragraph normalised (one without a word dropped, as docdedup drops it) and hashed, a new
    datasketch MinHash per paragraph, an in-memory MinHashLSH at the same threshold, union-find over its answers,
    the same canonical rule, and the same load of documents, passages, occurrences and search index (nothing is
    kept for a later run: no signatures, band or sentence keys). Returns the seconds of that load (opening,
    writing, closing)."""
    import dataclasses

    from datasketch import MinHash, MinHashLSH

    from flows import warehouse
    from flows.records import DedupPlan, OccurrenceRow, ParagraphRow, order_key, paragraph_id_for
    from flows.fingerprint import content_hash
    from flows.split import normalize

    k = settings.minhash.shingle_size
    lsh = MinHashLSH(threshold=settings.threshold, num_perm=settings.minhash.num_perm)
    uf = UnionFind()
    sketches, occurrences, rows = {}, [], []
    for row, texts in items:
        kept = [(text, norm) for text in texts if (norm := normalize(text))]
        if not kept:
            continue
        rows.append(row := dataclasses.replace(row, n_paragraphs=len(kept)))
        for pos, (text, norm) in enumerate(kept):
            w = norm.split()
            m = MinHash(num_perm=settings.minhash.num_perm)
            m.update_batch([" ".join(w[i:i + k]).encode() for i in range(max(1, len(w) - k + 1))])
            key = (row.doc_id, pos)
            for other in lsh.query(m):
                uf.union(key, other)
            lsh.insert(key, m)
            uf.find(key)
            sketches[key] = m
            occurrences.append((order_key(row.published, 1, row.source_path, pos), key, text, content_hash(norm)))
    clusters: dict[object, list] = {}
    for occ in occurrences:
        clusters.setdefault(uf.find(occ[1]), []).append(occ)
    plan, counts = DedupPlan(), {"new": 0, "exact": 0, "near": 0, "contained": 0}
    for members in clusters.values():
        _, (doc, pos), text, h = canon = min(members)
        pid = paragraph_id_for(doc, pos)
        plan.paragraphs.append(ParagraphRow(pid, text, doc, pos, h))
        for occ in members:
            match, sim = ("new", 1.0) if occ is canon else ("exact", 1.0) if occ[3] == h else \
                ("near", sketches[occ[1]].jaccard(sketches[(doc, pos)]))
            counts[match] += 1
            plan.occurrences.append(OccurrenceRow(occ[1][0], occ[1][1], pid, occ[2], match, sim, occ[3]))
    plan.counts = counts
    start = time.perf_counter()
    with warehouse.connect(db) as con:
        record = warehouse.RunRecord(warehouse.next_run_id(con), datetime(2025, 1, 1), "generated", settings.threshold,
                                     "datasketch")
        warehouse.load_run(con, record, rows, plan, [], [])
    return time.perf_counter() - start


def cmd_speed(args) -> str:
    settings = Settings()
    docs = syndication.generate(syndication.load_gold(), args.copies, seed=1)
    n = sum(len(d.paragraphs) for d in docs)
    # Warm-up on a few documents, untimed: both sides' imports (the cleaners, trafilatura and lxml come with
    # flows.prepare; pyarrow.dataset with the first Arrow scan) and their first calls are paid here, so the
    # timed runs measure the work, not whichever side happens to import a module first.
    with tempfile.TemporaryDirectory() as tmp:
        few = syndication.documents(docs[:20])
        syndication.ingest(Path(tmp) / "warm-ours.duckdb", syndication.fingerprinted(few, settings), settings)
        straightforward_ingest(Path(tmp) / "warm-naive.duckdb", few, settings)
    # What both sides start from, untimed: each document's warehouse row and paragraphs, as cleaning hands them on.
    inputs = syndication.documents(docs)
    rounds = []
    for r in range(args.rounds):
        times = {}
        with tempfile.TemporaryDirectory() as tmp:
            # Each side starts from a collected heap, and the order alternates: neither pays for the
            # other's garbage or runs always second.
            for side in (("ours", "naive") if r % 2 == 0 else ("naive", "ours")):
                gc.collect()
                t = time.perf_counter()
                if side == "ours":
                    prepared = syndication.fingerprinted(inputs, settings)  # normalise + fingerprint + sentence keys
                    times["fp"] = time.perf_counter() - t
                    laps = {}
                    times["load"] = syndication.ingest(Path(tmp) / "ours.duckdb", prepared, settings, laps=laps)
                    times["ours_load"] = laps["load"]
                    del prepared
                else:
                    times["naive_load"] = straightforward_ingest(Path(tmp) / "naive.duckdb", inputs, settings)
                    times["naive"] = time.perf_counter() - t
        rounds.append((times["fp"] + times["load"], times["fp"], times["load"], times["naive"],
                       times["ours_load"], times["naive_load"]))
    print(f"{n:,} paragraphs in {len(docs)} documents; both sides load the same warehouse tables")
    for ours, t_fp, t_load, naive, ours_load, naive_load in rounds:
        print(f"straightforward (MinHash per paragraph + MinHashLSH + load): {naive:6.1f} s  {n / naive:8,.0f} paragraphs/s"
              f"  | docdedup (fingerprint {t_fp:.1f} s + dedup and load {t_load:.1f} s): {ours:5.1f} s"
              f"  {n / ours:8,.0f} paragraphs/s  -> {naive / ours:.2f}x faster")
        print(f"    of which the load (open, write, close): straightforward {naive_load:.2f} s, docdedup {ours_load:.2f} s"
              f" (also its signatures, band and sentence keys); without it: {naive - naive_load:.2f} s against "
              f"{ours - ours_load:.2f} s -> {(naive - naive_load) / (ours - ours_load):.1f}x")
    faster = statistics.median(r[3] / r[0] for r in rounds)
    bare = statistics.median((r[3] - r[5]) / (r[0] - r[4]) for r in rounds)
    print(f"median of {len(rounds)} rounds: {faster:.2f}x faster "
          f"(without the load: {bare:.1f}x, not the target's measure)")
    rows = [[i + 1, f"{naive:.1f}", f"{ours:.1f}", f"{t_fp:.1f}", f"{naive / ours:.2f}x", f"{naive_load:.2f}",
             f"{ours_load:.2f}", f"{(naive - naive_load) / (ours - ours_load):.1f}x"]
            for i, (ours, t_fp, t_load, naive, ours_load, naive_load) in enumerate(rounds)]
    return (f"{n:,} paragraphs in {len(docs)} documents; docdedup's load also writes signatures, band and sentence "
            "keys.\n\n" + table(["round", "straightforward s", "docdedup s", "of which fingerprint s", "faster",
                             "load s, straightforward", "load s, docdedup", "faster without load"], rows)
            + f"\n\nMedian of {len(rounds)} rounds: {faster:.2f}x faster (without the load: {bare:.1f}x).")


def _flow_seconds(raw: Path, db: Path) -> float:
    from flows.pipeline import ingest_flow

    t = time.perf_counter()
    summary = ingest_flow(str(raw), str(db))
    seconds = time.perf_counter() - t
    print(f"  {summary}")
    return seconds


def cmd_incremental(args) -> str:
    # Offline, Prefect's telemetry fails loudly inside the test server (as the CLI and the tests, switched off).
    os.environ.setdefault("PREFECT_SERVER_ANALYTICS_ENABLED", "false")
    from prefect.testing.utilities import prefect_test_harness

    from flows import warehouse

    settings = Settings()
    with tempfile.TemporaryDirectory() as tmp:
        tmp = Path(tmp)
        big = tmp / "big.duckdb"
        if args.base:
            print(f"starting from a copy of {args.base}", flush=True)
            shutil.copyfile(args.base, big)
        else:
            print(f"building a warehouse of {args.paragraphs:,} paragraphs ...", flush=True)
            build = build_warehouse(big, args.paragraphs, settings)
            print(f"  built in {build:.0f} s, {big.stat().st_size / 2**20:.0f} MiB")
            if args.save:
                shutil.copyfile(big, args.save)
        # A schema upgrade of a saved warehouse, and building its band-key and signature indexes (once, on the first
        # run after an upgrade), are not part of the run.
        with warehouse.connect(big) as con:
            held = con.execute("SELECT count(*) FROM document_paragraphs").fetchone()[0]
            for spec in warehouse.key_index.INDEXES:
                t = time.perf_counter()
                warehouse.index_of(con, spec).current(con)
                print(f"{spec.suffix[1:]} index ready in {time.perf_counter() - t:.1f} s", flush=True)
        raw = tmp / "raw"
        write_files(raw, args.files, seed=7)
        rounds = []
        with prefect_test_harness(server_startup_timeout=120):
            _flow_seconds(raw, tmp / "warmup.duckdb")  # first flow run pays Prefect's start-up
            for r in range(args.rounds):
                # Each round loads into a fresh empty warehouse and a fresh copy of the large one, in alternating
                # order: neither run always follows the copy or the other run.
                copy_warehouse(big, tmp / "full.duckdb")
                seconds = {}
                for side in (("empty", "full") if r % 2 == 0 else ("full", "empty")):
                    seconds[side] = _flow_seconds(raw, tmp / (f"empty-{r}.duckdb" if side == "empty" else "full.duckdb"))
                rounds.append((seconds["empty"], seconds["full"]))
    for empty, full in rounds:
        print(f"run of {args.files} files into an empty warehouse: {empty:.1f} s; into a warehouse of {held:,} "
              f"paragraphs: {full:.1f} s  -> {full / empty:.2f}x")
    median = statistics.median(full / empty for empty, full in rounds)
    print(f"median of {len(rounds)} rounds: {median:.2f}x")
    rows = [[i + 1, f"{empty:.1f}", f"{full:.1f}", f"{full / empty:.2f}x"] for i, (empty, full) in enumerate(rounds)]
    return (f"`docdedup run` of {args.files} files into an empty warehouse and into one of {held:,} paragraphs.\n\n"
            + table(["round", "empty s", "full s", "ratio"], rows)
            + f"\n\nMedian of {len(rounds)} rounds: {median:.2f}x.")


def cmd_lookup(args) -> str:
    """Candidate search's band-key lookup for runs of several sizes into a large warehouse: the sorted index beside
    it (flows/warehouse/key_index.py) against the hash join with a table of all band keys that it replaced (lsh_bands,
    which warehouses held before 011_band_keys_from_signatures.sql: made again here, untimed), same keys, same hits."""
    import pyarrow as pa

    from flows import warehouse
    from flows.dedup import collect_batch
    from flows.records import key_owners

    settings = Settings()
    rows = []
    with tempfile.TemporaryDirectory() as tmp:
        db = Path(tmp) / "w.duckdb"
        if args.base:
            shutil.copyfile(args.base, db)
        else:
            build_warehouse(db, args.paragraphs, settings)
        with warehouse.connect(db) as con:
            index = warehouse.index_of(con, warehouse.key_index.BANDS)
            t = time.perf_counter()
            manifest = index.current(con)
            held = sum(s['rows'] for s in manifest['segments'])
            built = time.perf_counter() - t
            print(f"{held:,} band keys; index built in {built:.1f} s ({held * 16 / 2**20:,.0f} MiB)")
            warehouse.key_index.register_functions(con)
            con.execute("CREATE TABLE lsh_bands AS " + warehouse.key_index.BANDS.source.rsplit("ORDER BY", 1)[0])
            new = next(synthetic_documents(25 * max(args.documents), seed=99, settings=settings))
            for n in args.documents:
                _, variants = collect_batch(new[:n], 0, settings)
                keys, owners = key_owners(variants, "band_keys")
                con.register("q", pa.table({"band_key": keys, "owner": owners}))
                hits = len(index.lookup(con, keys, owners)[0])
                times = {"index": [], "join": []}
                for r in range(args.rounds):
                    for side in (("index", "join") if r % 2 == 0 else ("join", "index")):
                        t = time.perf_counter()
                        if side == "index":
                            found = len(index.lookup(con, keys, owners)[0])
                        else:
                            found = con.execute(
                                "SELECT q.owner, b.norm_hash FROM q JOIN lsh_bands b USING (band_key)").arrow().read_all().num_rows
                        times[side].append(time.perf_counter() - t)
                        assert found == hits, (side, found, hits)
                con.unregister("q")
                index_s, join_s = statistics.median(times["index"]), statistics.median(times["join"])
                print(f"{n:5,} documents ({len(variants):,} paragraphs, {len(keys):,} band keys, {hits:,} hits): "
                      f"index {index_s * 1000:7.1f} ms  join {join_s * 1000:7.1f} ms  -> {join_s / index_s:.1f}x "
                      f"(median of {args.rounds})")
                rows.append([f"{n:,}", f"{len(variants):,}", f"{len(keys):,}", f"{hits:,}", f"{index_s * 1000:.1f}",
                             f"{join_s * 1000:.1f}", f"{join_s / index_s:.1f}x"])
    return (f"{held:,} band keys, index built in {built:.1f} s; medians of {args.rounds} rounds.\n\n"
            + table(["documents", "paragraphs", "band keys", "hits", "index ms", "join ms", "ratio"], rows))


def copy_warehouse(source: Path, target: Path) -> None:
    """A warehouse file and the folders of its indexes (band keys, signatures)."""
    from flows.warehouse.key_index import INDEXES

    shutil.copyfile(source, target)
    for suffix in (spec.suffix for spec in INDEXES):
        shutil.rmtree(f"{target}{suffix}", ignore_errors=True)
        if Path(f"{source}{suffix}").is_dir():
            shutil.copytree(f"{source}{suffix}", f"{target}{suffix}")
    # The copy on disk before it is used: otherwise the first fsync of the run into it (its commit's checkpoint) also
    # writes back the copy's 2.4 GB still in the page cache, 1.4-1.8 s that belong to the benchmark, not to the run (a
    # checkpoint of one changed row: 1.8 s right after the copy, 0.15 s after this).
    os.sync()


def cmd_memory(args) -> str:
    with tempfile.TemporaryDirectory() as tmp:
        tmp = Path(tmp)
        print(f"writing {args.files:,} files ...", flush=True)
        paragraphs = write_files(tmp / "raw", args.files, seed=3)
        cli = Path(sys.executable).parent / "docdedup"
        env = dict(os.environ, PREFECT_SERVER_ANALYTICS_ENABLED="false", PREFECT_LOGGING_LEVEL="WARNING")
        t = time.perf_counter()
        proc = subprocess.run([str(cli), "run", "--raw", str(tmp / "raw"), "--warehouse", str(tmp / "w.duckdb")],
                              env=env, capture_output=True, text=True)
        seconds = time.perf_counter() - t
        peak = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss / 1024
        print(proc.stdout.strip() or proc.stderr[-2000:])
        print(f"{args.files:,} files, {paragraphs:,} paragraphs: {seconds:.0f} s, peak resident memory {peak:,.0f} MiB")
    row = [f"{args.files:,}", f"{paragraphs:,}", f"{seconds:.0f}", f"{peak:,.0f}"]
    return "`docdedup run` in a child process.\n\n" + table(["files", "paragraphs", "wall s", "peak MiB"], [row])


def main() -> None:
    common = argparse.ArgumentParser(add_help=False)
    common.add_argument("--markdown", action="store_true", help="write the figures into docs/benchmarks.md")
    ap = argparse.ArgumentParser()
    sub = ap.add_subparsers(dest="cmd", required=True)
    s = sub.add_parser("speed", parents=[common])
    s.add_argument("--copies", type=int, default=3)
    s.add_argument("--rounds", type=int, default=3)
    s = sub.add_parser("incremental", parents=[common])
    s.add_argument("--paragraphs", type=int, default=1_000_000)
    s.add_argument("--files", type=int, default=1000)
    s.add_argument("--rounds", type=int, default=3)
    s.add_argument("--save", type=Path, help="keep a copy of the built warehouse here (building takes minutes)")
    s.add_argument("--base", type=Path, help="start from a copy of a warehouse saved with --save instead of building")
    s = sub.add_parser("lookup", parents=[common])
    s.add_argument("--paragraphs", type=int, default=1_000_000)
    s.add_argument("--documents", type=int, nargs="+", default=[10, 100, 1000])
    s.add_argument("--rounds", type=int, default=5)
    s.add_argument("--base", type=Path, help="start from a copy of a warehouse saved with incremental --save")
    s = sub.add_parser("memory", parents=[common])
    s.add_argument("--files", type=int, default=100_000)
    args = ap.parse_args()
    cmd = {"speed": cmd_speed, "incremental": cmd_incremental, "lookup": cmd_lookup, "memory": cmd_memory}[args.cmd]
    body = cmd(args)
    if args.markdown:
        write_section(f"scale.py {args.cmd}", command_line(), body)


if __name__ == "__main__":
    main()
