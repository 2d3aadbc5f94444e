"""docdedup report: its aggregates against SQL written here, and the page in a real headless browser (Chromium)."""

from __future__ import annotations

import random
import shutil
import subprocess
import sys
from datetime import datetime
from pathlib import Path

import pytest

from conftest import EXAMPLES, ROOT, ingest_docs, make_doc, table
from flows import cli, warehouse
from flows.config import Settings
from flows.pipeline import summary_markdown
from flows.report import plural

# The generated story: its original on the wire, then outlets taking some of its six paragraphs, later.
COPIES = [("wire", datetime(2025, 5, 1, 6), [0, 1, 2, 3, 4, 5]), ("gazette", datetime(2025, 5, 1, 9), [0, 1, 2, 3, 4, 5]),
          ("courier", datetime(2025, 5, 2, 8), [0, 1, 2, 3]), ("digest", datetime(2025, 5, 3, 7), [2, 3, 4, 5]),
          ("herald", datetime(2025, 5, 5, 12), [0, 1])]
# Every outlet's occurrences of passages of other outlets' originals: the SQL answer of the matrix's cells.
OUTLETS = """
SELECT dp.paragraph_id, count(DISTINCT coalesce(site_of(d.site, d.url), regexp_extract(d.source_path, '^(.*)/[^/]*$', 1))),
       count(DISTINCT dp.doc_id)
FROM document_paragraphs dp JOIN documents d USING (doc_id) GROUP BY 1 HAVING count(DISTINCT dp.doc_id) > 1"""


def _prose(rng: random.Random, n: int) -> list[str]:
    words = "harbor council bridge ferry vote grant steel crews repair county budget lane winter port".split()
    return [" ".join(rng.choice(words) for _ in range(30)) + "." for _ in range(n)]


@pytest.fixture(scope="module")
def syndicated_db(tmp_path_factory) -> Path:
    """The story copied across five outlets with dates, in two runs, beside an article nobody copied."""
    db = tmp_path_factory.mktemp("syndicated") / "docdedup.duckdb"
    rng = random.Random(24)
    story, alone = _prose(rng, 6), _prose(rng, 3)
    docs = [make_doc(f"{outlet}/story.txt", [story[i] for i in keep], when) for outlet, when, keep in COPIES]
    ingest_docs(db, docs[:2] + [make_doc("wire/other.txt", alone, datetime(2025, 5, 2))])
    ingest_docs(db, docs[2:])
    return db


# A second story, told first by another outlet and copied by three: (outlet, published, its paragraphs taken).
OTHER_COPIES = [("agency", datetime(2025, 6, 1, 8), [0, 1, 2, 3]), ("gazette", datetime(2025, 6, 1, 10), [0, 1, 2, 3]),
                ("ledger", datetime(2025, 6, 2, 9), [1, 2]), ("herald", datetime(2025, 6, 3, 9), [3])]
# Each story (the document where a passage carried by several documents first appeared), with the outlets and the
# documents carrying any of its passages: a story's passages by arg_min, not the report's window.
STORIES = """
WITH occ AS (
    SELECT dp.paragraph_id, dp.doc_id, d.published, d.run_id, d.source_path, dp.position,
           coalesce(site_of(d.site, d.url), regexp_extract(d.source_path, '^(.*)/[^/]*$', 1)) AS outlet
    FROM document_paragraphs dp JOIN documents d USING (doc_id)
), story_of AS (
    SELECT paragraph_id, arg_min(doc_id, (coalesce(published, TIMESTAMP '9999-12-31'), run_id, source_path, position)) AS story
    FROM occ GROUP BY paragraph_id HAVING count(DISTINCT doc_id) > 1
)
SELECT story, count(DISTINCT outlet), count(DISTINCT doc_id) FROM story_of JOIN occ USING (paragraph_id) GROUP BY story"""


@pytest.fixture(scope="module")
def two_stories_db(tmp_path_factory) -> Path:
    """Two stories, each copied to several outlets; the first's passages outnumber the second's."""
    db = tmp_path_factory.mktemp("two-stories") / "docdedup.duckdb"
    rng = random.Random(25)
    first, second = _prose(rng, 6), _prose(rng, 4)
    ingest_docs(db, [make_doc(f"{outlet}/{name}.txt", [story[i] for i in keep], when)
                     for name, story, copies in (("story", first, COPIES), ("second", second, OTHER_COPIES))
                     for outlet, when, keep in copies])
    return db


@pytest.fixture(scope="module")
def examples_db(tmp_path_factory) -> Path:
    """raw/examples in one run, without Prefect: discovered, prepared and loaded as the flow does."""
    from flows.discover import discover_files
    from flows.prepare import prepare_files

    raw = tmp_path_factory.mktemp("examples") / "raw"
    shutil.copytree(EXAMPLES, raw / "examples")
    db = raw.parent / "docdedup.duckdb"
    ingest_docs(db, prepare_files(discover_files(raw, []).files, Settings()).documents)
    return db


# The folder's standing paragraph, in every file of its first run (so its template), and the boilerplate lines
# around each article; the title line is metadata, out of the paragraphs too.
TEMPLATE = ("The Harbor Gazette is owned by its readers and has reported on the county, its port and its council "
            "since the winter of 1921.")
HEADER = ["Harbor Gazette", "Home | News | Sports | Weather", ""]
FOOTER = ["Share this article: Facebook | Twitter | Email", "READ ALSO: Council approves the budget",
          "Subscribe to our newsletter"]


def _page(title: str, paragraphs: list[str]) -> str:
    return "\n".join(HEADER + [title, ""] + [line for p in paragraphs for line in (p, "")] + FOOTER) + "\n"


def _sentences(rng: random.Random, n: int) -> list[str]:
    """Paragraphs the text cleaner takes for prose: sentences of common words."""
    words = "the council of the county voted and the crews began a repair of the harbor bridge in winter".split()
    return [" ".join(rng.choice(words) for _ in range(40)).capitalize() + "." for _ in range(n)]


def _visible(text: str) -> int:
    return len(text) - sum(text.count(c) for c in " \n")


def _ingest_files(db: Path, raw: Path) -> None:
    """The files under `raw` discovered, prepared against the folder's template passages, deduplicated and loaded."""
    from flows.dedup import collect_batch, plan_dedup
    from flows.discover import discover_files
    from flows.prepare import prepare_files

    settings = Settings()
    with warehouse.connect(db) as con:
        files = discover_files(raw, []).files
        prepared = prepare_files(files, settings, warehouse.template_hashes(con, settings, {"feed"}))
        run_id = warehouse.next_run_id(con)
        occurrences, variants = collect_batch(prepared.documents, run_id, settings)
        plan = plan_dedup(occurrences, variants, warehouse.fetch_stored(con, variants, settings.candidate_floor), settings)
        record = warehouse.RunRecord(run_id, datetime(2025, 1, 1), "raw", settings.threshold, settings.minhash.fingerprint())
        warehouse.load_run(con, record, [d.row for d in prepared.documents], plan, prepared.rejections, [])


@pytest.fixture(scope="module")
def cleaned_db(tmp_path_factory) -> tuple[Path, dict[str, tuple[int, int, int]]]:
    """Folder feed: five files of a first run that all end on TEMPLATE, then a file with it after its article,
    a file of nothing else and one without a word; beside them, a document loaded without cleaning counts.
    With each file's (text_chars, boilerplate_chars, template_paragraphs) as counted here from what was written."""
    base = tmp_path_factory.mktemp("cleaned")
    db, rng, expected = base / "docdedup.duckdb", random.Random(26), {}
    for run, names in enumerate((["a", "b", "c", "d", "e"], ["f", "g", "h"])):
        folder = base / f"raw{run}" / "feed"
        folder.mkdir(parents=True)
        for name in names:
            kept = [] if name == "h" else ([] if name == "g" else _sentences(rng, 3)) + [TEMPLATE]
            text = "* * *\n\n---\n" if name == "h" else _page(f"Bridge story {name}", kept)
            (folder / f"{name}.txt").write_text(text)
            templated = run == 1 and name != "h"
            expected[f"feed/{name}.txt"] = (_visible(text), _visible(text) - sum(map(_visible, kept)), int(templated))
        _ingest_files(db, folder.parent)
    ingest_docs(db, [make_doc("old/story.txt", _prose(rng, 2))])
    return db, expected


def test_documents_record_what_cleaning_dropped_as_boilerplate_and_templates(cleaned_db):
    db, expected = cleaned_db
    recorded = table(db, "SELECT source_path, text_chars, boilerplate_chars, template_paragraphs, n_paragraphs "
                         "FROM documents WHERE source_path LIKE 'feed/%' ORDER BY 1")
    stored = {k: v for k, v in expected.items() if k not in ("feed/g.txt", "feed/h.txt")}
    assert [r[:4] for r in recorded] == [(path, *counts) for path, counts in sorted(stored.items())]
    assert [r[4] for r in recorded] == [4, 4, 4, 4, 4, 3]
    assert table(db, "SELECT source_path, reason FROM rejected_files ORDER BY 1") == [
        ("feed/g.txt", "every paragraph is a template passage of its source folder"),
        ("feed/h.txt", "no article text found after removing boilerplate")]
    assert table(db, "SELECT text_chars, boilerplate_chars, template_paragraphs FROM documents "
                     "WHERE source_path = 'old/story.txt'") == [(None, None, None)]


def test_the_folders_table_gives_what_cleaning_dropped_and_leaves_unmeasured_documents_out(cleaned_db):
    db, expected = cleaned_db
    stored = [v for k, v in expected.items() if k not in ("feed/g.txt", "feed/h.txt")]
    feed, old = sorted(_data(db).folders, key=lambda f: f.folder)
    assert feed[:3] == ("feed", 6, 0) and feed.template_paragraphs == 1
    assert feed.boilerplate_share == pytest.approx(sum(b for _, b, _ in stored) / sum(t for t, _, _ in stored))
    assert feed.template_share == pytest.approx(1 / (5 * 4 + 3 + 1))
    assert (feed.rejected_boilerplate, feed.rejected_template) == (1, 1)
    assert old[:3] == ("old", 1, 1) and (old.boilerplate_share, old.template_paragraphs, old.template_share) == (None, None, None)


def _data(db: Path, **options):
    with warehouse.connect(db, read_only=True) as con:
        return warehouse.story_data(con, Settings(), **options)


def _report(db: Path, out: Path, *options: str) -> Path:
    assert cli.main(["report", "--warehouse", str(db), "--out", str(out), *options]) == 0
    return out


def test_the_story_timeline_lists_the_original_first_then_each_copy_with_its_passages(syndicated_db):
    story, = _data(syndicated_db).stories
    assert [(a.outlet, a.published, a.passages) for a in story.appearances] == COPIES
    assert story.n_documents == 5 and sorted(story.texts) == [0, 1, 2, 3, 4, 5]


def test_the_outlet_matrix_counts_passages_from_the_first_publisher_to_each_later_one(syndicated_db):
    data = _data(syndicated_db)
    assert data.matrix == [("wire", "courier", 4), ("wire", "digest", 4), ("wire", "gazette", 6), ("wire", "herald", 2)]
    assert data.n_outlets == 5


def test_since_and_source_narrow_the_documents(syndicated_db):
    assert _data(syndicated_db, since=datetime(2025, 5, 2).date()).totals[:2] == (4, 13)
    assert _data(syndicated_db, source="wire").totals[:2] == (2, 9)
    assert _data(syndicated_db, source="wire").passages == []


def test_top_bounds_the_passages_most_outlets_first(syndicated_db):
    counts = {p: (n_outlets, n_docs) for p, n_outlets, n_docs in table(syndicated_db, OUTLETS)}
    shown = _data(syndicated_db, top=2).passages
    assert len(shown) == 2 and [(p.n_outlets, p.n_documents) for p in shown] == [max(counts.values())] * 2
    assert all(counts[p.paragraph_id] == (p.n_outlets, p.n_documents) for p in shown)


def test_stories_are_ranked_in_their_own_right_each_with_its_timeline(two_stories_db):
    expected = {story: (n_outlets, n_docs) for story, n_outlets, n_docs in table(two_stories_db, STORIES)}
    data = _data(two_stories_db, top=2)
    # both passages shown are the first story's, yet both stories are shown, most outlets first
    assert {p.first_doc_id for p in data.passages} == {data.stories[0].doc_id}
    assert [(s.doc_id, (s.n_outlets, s.n_documents)) for s in data.stories] == sorted(
        expected.items(), key=lambda kv: (-kv[1][0], -kv[1][1]))
    first, second = data.stories
    assert [(a.outlet, a.published, a.passages) for a in first.appearances] == COPIES
    assert [(a.outlet, a.published, a.passages) for a in second.appearances] == OTHER_COPIES
    assert (sorted(first.texts), sorted(second.texts)) == ([0, 1, 2, 3, 4, 5], [0, 1, 2, 3])
    assert [s.doc_id for s in _data(two_stories_db, top=1).stories] == [first.doc_id]


def test_a_timeline_shows_the_earliest_rows_documents_of_its_story(two_stories_db):
    first, second = _data(two_stories_db, rows=2).stories
    assert [a.outlet for a in first.appearances] == ["wire", "gazette"] and first.n_documents == 5
    assert [a.outlet for a in second.appearances] == ["agency", "gazette"] and second.n_documents == 4


def test_the_folders_table_gives_unique_text_and_documents(syndicated_db):
    folders = {f.folder: f for f in _data(syndicated_db).folders}
    assert {k: (v.documents, v.paragraphs) for k, v in folders.items()} == {
        "wire": (2, 9), "gazette": (1, 6), "courier": (1, 4), "digest": (1, 4), "herald": (1, 2)}
    assert folders["wire"].unique_share == 1.0 and folders["gazette"].unique_share == 0.0


def test_the_page_counts_in_the_singular_and_the_plural(syndicated_db, tmp_path):
    page = _report(syndicated_db, tmp_path / "r.html", "--source", "herald").read_text()
    assert "1 document, 2 paragraphs, 2 distinct passages; 2 runs in the warehouse." in page
    assert plural(1, "story") == "1 story" and plural(3, "story") == "3 stories" and plural(0, "run") == "0 runs"


def test_the_run_summary_and_artifact_point_to_the_report(tmp_path):
    summary = {"run_id": 3, "files_new": 5, "files_unchanged": 0, "files_rejected": 0, "paragraphs_total": 27}
    assert cli.format_summary(summary, tmp_path / "w.duckdb").endswith(f"report: docdedup report --warehouse {tmp_path}/w.duckdb")
    assert summary_markdown(summary, 1.25, "w.duckdb").endswith("| run | files | paragraphs | seconds |\n|---|---|---|---|\n"
                                                                "| 3 | 5 | 27 | 1.2 |")


def test_an_ingest_run_does_not_import_matplotlib():
    code = "import sys, flows.cli, flows.pipeline; print('matplotlib' in sys.modules)"
    assert subprocess.run([sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True).stdout.strip() == "False"


@pytest.fixture(scope="module")
def browser():
    """One headless Chromium for the module: the system's (Debian's chromium), driven by Playwright."""
    executable = shutil.which("chromium") or shutil.which("chromium-browser")
    if executable is None:
        pytest.skip("no chromium binary found (.ci/run installs Debian's chromium)")
    from playwright.sync_api import sync_playwright

    with sync_playwright() as p:
        launched = p.chromium.launch(executable_path=executable, args=["--no-sandbox"])
        yield launched
        launched.close()


# How far the page, and the widest table inside its scroll box, reach past the viewport (0 or less: they fit).
OVERFLOW = """({page: document.documentElement.scrollWidth - window.innerWidth,
               tables: Math.max(0, ...[...document.querySelectorAll('.scroll')].map(d => d.scrollWidth - d.clientWidth))})"""


def _load(browser, page_path: Path) -> dict:
    """Open the page as a reader would; what it asked the network for, what it logged as errors, what it shows."""
    page = browser.new_page(viewport={"width": 1280, "height": 900})
    requests, errors = [], []
    page.on("request", lambda r: requests.append(r.url))
    page.on("console", lambda m: errors.append(m.text) if m.type == "error" else None)
    page.on("pageerror", lambda e: errors.append(str(e)))
    page.goto(page_path.as_uri(), wait_until="load")
    shown = page.evaluate("""() => ({
        passages: [...document.querySelectorAll('table.passages tbody tr')].map(tr => [
            tr.dataset.paragraphId, +tr.querySelector('.outlets').textContent, +tr.querySelector('.documents').textContent]),
        charts: [...document.querySelectorAll('.chart svg')].map(svg => ({
            kind: svg.parentElement.className,
            width: svg.getBoundingClientRect().width,
            paths: [...svg.querySelectorAll('path')].filter(p => (p.getAttribute('d') || '').length > 10).length})),
        links: [...document.querySelectorAll('table.passages a')].map(a => !!document.getElementById(a.hash.slice(1))),
        stories: [...document.querySelectorAll('section.story')].map(s => [
            s.id.slice('story-'.length), +s.dataset.outlets, +s.dataset.documents, !!s.querySelector('.chart.timeline svg')]),
        folders: Object.fromEntries([...document.querySelectorAll('table.folders tbody tr')].map(tr => [
            tr.dataset.folder, [...tr.querySelectorAll('td')].slice(1).map(td => td.textContent)])),
    })""")
    shown["laptop_overflow"] = page.evaluate(OVERFLOW)
    page.set_viewport_size({"width": 390, "height": 800})
    shown["phone_overflow"] = page.evaluate(OVERFLOW)
    shown["phone_labels"] = page.evaluate("""[...document.querySelectorAll('table.folders tbody td[data-label]')]
        .map(td => getComputedStyle(td, '::before').content === JSON.stringify(td.dataset.label))""")
    page.close()
    return {"requests": requests, "errors": errors, **shown}


@pytest.mark.parametrize("which", ["examples", "syndicated", "two_stories"])
def test_the_report_loads_offline_with_its_charts_and_the_sql_counts(browser, request, tmp_path, which):
    db = request.getfixturevalue(f"{which}_db")
    seen = _load(browser, _report(db, tmp_path / "report.html"))
    assert seen["requests"] == [(tmp_path / "report.html").as_uri()]
    assert seen["errors"] == []
    expected = {p: [n_outlets, n_docs] for p, n_outlets, n_docs in table(db, OUTLETS)}
    assert {p: counts for p, *counts in seen["passages"]} == expected and len(expected) >= 5
    kinds = [c["kind"] for c in seen["charts"]]
    assert kinds.count("chart timeline") >= 1 and kinds.count("chart heatmap") == 1 and kinds.count("chart runs") == 1
    assert all(c["width"] > 200 and c["paths"] > 0 for c in seen["charts"]), seen["charts"]
    assert seen["links"] and all(seen["links"])
    stories = {story: [n_outlets, n_docs, True] for story, n_outlets, n_docs in table(db, STORIES)}
    assert {story: counts for story, *counts in seen["stories"]} == stories
    assert [counts for _, *counts in seen["stories"]] == sorted(stories.values(), key=lambda c: (-c[0], -c[1]))
    # the page never scrolls sideways, on a laptop or a phone, and no table does either: on a phone rows become
    # cards whose figures are labelled with their headings
    assert all(n <= 0 for width in ("laptop_overflow", "phone_overflow") for n in seen[width].values()), seen
    assert seen["phone_labels"] and all(seen["phone_labels"])


def test_the_folders_table_on_the_page_shows_what_cleaning_dropped(browser, cleaned_db, tmp_path):
    db, expected = cleaned_db
    stored = [v for k, v in expected.items() if k not in ("feed/g.txt", "feed/h.txt")]
    share = 100 * sum(b for _, b, _ in stored) / sum(t for t, _, _ in stored)
    folders = _load(browser, _report(db, tmp_path / "report.html"))["folders"]
    # documents, paragraphs, unique text, boilerplate, template paragraphs (share), unmeasured, template passages, rejected
    assert folders["feed"][0] == "6" and folders["feed"][3:] == [
        f"{share:.1f}%", f"1 {100 / 24:.1f}%", "0", "1", "1", "1"]
    assert folders["old"][0] == "1" and folders["old"][3:6] == ["–", "– –", "1"]
