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


def test_the_folders_table_gives_unique_text_and_documents(syndicated_db):
    folders = {f[0]: f for f in _data(syndicated_db).folders}
    assert {k: v[1:3] for k, v in folders.items()} == {
        "wire": (2, 9), "gazette": (1, 6), "courier": (1, 4), "digest": (1, 4), "herald": (1, 2)}
    assert folders["wire"][3] == 1.0 and folders["gazette"][3] == 0.0


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
        overflow: document.documentElement.scrollWidth - window.innerWidth,
    })""")
    page.set_viewport_size({"width": 390, "height": 800})
    shown["phone_overflow"] = page.evaluate("document.documentElement.scrollWidth - window.innerWidth")
    page.close()
    return {"requests": requests, "errors": errors, **shown}


@pytest.mark.parametrize("which", ["examples", "syndicated"])
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
    # wide tables scroll inside their box: the page itself never scrolls sideways, on a laptop or a phone
    assert seen["overflow"] <= 0 and seen["phone_overflow"] <= 0
