"""Scanning JSON Lines and WARC files into records: framing, what is skipped, what is new, and broken records each
rejected while the scan finds the next one. WARC files are made with warcio's own writer."""

from __future__ import annotations

import gzip
import io
import json
import random
import re
import sys
from pathlib import Path

import pytest
from warcio.archiveiterator import ArchiveIterator
from warcio.statusandheaders import StatusAndHeaders
from warcio.warcwriter import WARCWriter

from conftest import SHARED, snapshot, table
from flows import warehouse
from flows.config import Settings
from flows.containers import Work, plan_work
from flows.discover import FoundFile
from flows.pipeline import ingest_flow
from flows.records import ContainerState

sys.path.insert(0, str(Path(__file__).parent / "benchmarks"))
from cleaning import scores  # noqa: E402  (the benchmark's metric, shared)


def found(path: Path, raw: Path) -> FoundFile:
    st = path.stat()
    return FoundFile(path, path.relative_to(raw).as_posix(), st.st_size, st.st_mtime_ns)


def scan(path: Path, state: ContainerState | None = None, **settings) -> Work:
    """plan_work on one container (the drop folder is its folder)."""
    return plan_work([found(path, path.parent)], {path.name: state} if state else {}, Settings(**settings))


def refs(work: Work) -> list:
    return [ref for piece in work.items for ref in piece.refs]


def page(i: int) -> bytes:
    return f"<html><body><article><p>Page {i} says {'more ' * 20}words.</p></article></body></html>".encode()


def response(writer: WARCWriter, uri: str, body: bytes, status: str = "200 OK", content_type: str = "text/html"):
    headers = StatusAndHeaders(status, [("Content-Type", content_type)], protocol="HTTP/1.1")
    return writer.create_warc_record(uri, "response", payload=io.BytesIO(body), http_headers=headers)


def write_warc(path: Path, make_records, gzipped: bool = True) -> list[int]:
    """A WARC of the records `make_records(writer)` makes; returns each record's offset."""
    offsets = []
    with open(path, "wb") as fh:
        writer = WARCWriter(fh, gzip=gzipped)
        for record in make_records(writer):
            offsets.append(fh.tell())
            writer.write_record(record)
    return offsets


def pages(n: int):
    return lambda writer: [response(writer, f"https://news.example/{i}", page(i)) for i in range(n)]


def test_a_feed_is_framed_line_by_line_and_a_last_line_without_newline_is_read_again_next_time(tmp_path: Path):
    feed = tmp_path / "f.jsonl"
    lines = [json.dumps({"text": f"story {i}"}) for i in range(3)]
    feed.write_text(lines[0] + "\n\n" + lines[1] + "\n" + lines[2])
    work = scan(feed)
    assert [(r.key, r.offset, r.length) for r in refs(work)] == [
        ("1", 0, len(lines[0]) + 1), ("3", len(lines[0]) + 2, len(lines[1]) + 1),
        ("4", len(lines[0]) + len(lines[1]) + 3, len(lines[2]))]
    assert work.skipped == {"blank line": 1}
    # Scanned up to the last line's start: it may still be being written, so the next scan reads it again.
    (state,) = work.scans
    assert (state.scanned_bytes, state.n_records) == (len(lines[0]) + len(lines[1]) + 3, 3)


def test_an_appended_feed_is_scanned_from_where_it_stopped_and_a_rewritten_one_from_its_start(tmp_path: Path):
    feed = tmp_path / "f.jsonl"
    feed.write_text("".join(json.dumps({"text": f"story {i}"}) + "\n" for i in range(3)))
    first = scan(feed)
    (scanned,) = first.scans
    known = frozenset((f"f.jsonl#{r.key}", r.sha256) for r in refs(first))
    state = ContainerState(scanned.scanned_bytes, scanned.n_records, scanned.prefix_sha256, known)
    with feed.open("a") as fh:
        fh.write(json.dumps({"text": "story 3"}) + "\n")
    appended = scan(feed, state)
    assert [(r.key, r.offset) for r in refs(appended)] == [("4", scanned.scanned_bytes)]
    assert appended.unchanged == 0  # the old lines were not framed again at all
    feed.write_text("".join(json.dumps({"text": f"story {i}"}) + "\n" for i in (0, 9, 2)))
    rewritten = scan(feed, state)
    assert [r.key for r in refs(rewritten)] == ["2"] and rewritten.unchanged == 2


def test_a_large_container_is_cut_into_slices_of_chunk_files_records(tmp_path: Path):
    write_warc(tmp_path / "c.warc.gz", pages(7))
    work = scan(tmp_path / "c.warc.gz", chunk_files=3)
    assert [piece.weight for piece in work.items] == [3, 3, 1]
    assert len({r.key for r in refs(work)}) == 7 and not work.rejected


def test_warc_records_that_are_not_documents_are_counted_by_reason(tmp_path: Path):
    def records(writer: WARCWriter):
        return [
            writer.create_warcinfo_record("c.warc.gz", {"software": "test"}),
            writer.create_warc_record("https://news.example/0", "request", payload=io.BytesIO(b"GET /0 HTTP/1.1\r\n\r\n")),
            response(writer, "https://news.example/0", page(0)),
            writer.create_warc_record("https://news.example/0", "metadata", payload=io.BytesIO(b"via: test"),
                                      warc_content_type="application/warc-fields"),
            writer.create_revisit_record("https://news.example/0", "sha1:AAAA", "https://news.example/0",
                                         "2025-03-01T00:00:00Z"),
            response(writer, "https://news.example/gone", b"not here", status="404 Not Found"),
            response(writer, "https://news.example/logo.png", b"\x89PNG", content_type="image/png"),
            response(writer, "https://news.example/notes.txt", b"Plain text notes.", content_type="text/plain; charset=utf-8"),
        ]

    write_warc(tmp_path / "c.warc.gz", records)
    work = scan(tmp_path / "c.warc.gz")
    assert len(refs(work)) == 2 and not work.rejected
    assert work.skipped == {"warcinfo": 1, "request": 1, "metadata": 1, "revisit": 1,
                            "response with an HTTP status other than 200": 1, "response neither HTML nor text": 1}


def test_each_kind_of_broken_warc_record_is_rejected_and_the_scan_goes_on_at_the_next(tmp_path: Path):
    # A gzip member corrupted in its middle.
    offsets = write_warc(tmp_path / "corrupt.warc.gz", pages(4))
    data = bytearray((tmp_path / "corrupt.warc.gz").read_bytes())
    data[offsets[1] + 60:offsets[1] + 100] = bytes(b ^ 0x55 for b in data[offsets[1] + 60:offsets[1] + 100])
    (tmp_path / "corrupt.warc.gz").write_bytes(data)
    work = scan(tmp_path / "corrupt.warc.gz")
    assert [r.offset for r in refs(work)] == [0, offsets[2], offsets[3]]
    ((rejected, reason),) = [(r.record_offset, r.reason) for r in work.rejected]
    assert rejected == offsets[1] and reason.startswith(f"unreadable WARC record at byte {offsets[1]}: ")
    # A large record whose member is corrupt near its end: warcio stops its content there.
    rng = random.Random(1)
    words = lambda: " ".join("".join(rng.choices("abcdefghij", k=7)) for _ in range(20_000))  # noqa: E731
    offsets = write_warc(tmp_path / "late.warc.gz", lambda w: [
        response(w, f"https://news.example/{n}", f"<html><body><p>{words()}</p></body></html>".encode()) for n in range(3)])
    data = bytearray((tmp_path / "late.warc.gz").read_bytes())
    data[offsets[2] - 400:offsets[2] - 380] = bytes(b ^ 0x55 for b in data[offsets[2] - 400:offsets[2] - 380])
    (tmp_path / "late.warc.gz").write_bytes(data)
    work = scan(tmp_path / "late.warc.gz", max_file_bytes=10**6)
    assert [r.offset for r in refs(work)] == [0, offsets[2]]
    assert [(r.record_offset, r.reason) for r in work.rejected] == [
        (offsets[1], "truncated or corrupt WARC record: its content ends before its Content-Length")]
    # A Content-Length too short, and one too long, in an uncompressed WARC.
    offsets = write_warc(tmp_path / "ok.warc", pages(4), gzipped=False)
    text = (tmp_path / "ok.warc").read_bytes().decode()
    length = list(re.finditer(r"Content-Length: (\d+)", text))[1]
    for name, wrong in (("short.warc", int(length.group(1)) - 30), ("long.warc", int(length.group(1)) + 60)):
        (tmp_path / name).write_text(text[:length.start(1)] + str(wrong) + text[length.end(1):])
        work = scan(tmp_path / name)
        assert [r.offset for r in refs(work)] == [0, offsets[2], offsets[3]], name
        assert [(r.record_offset, r.reason) for r in work.rejected] == [
            (offsets[1], "bad WARC record length: Content-Length does not end at the record's end")], name
    # A file cut inside its last record (perhaps still being written): rejected now, scanned again once it grows.
    offsets = write_warc(tmp_path / "cut.warc.gz", pages(4))
    (tmp_path / "cut.warc.gz").write_bytes((tmp_path / "cut.warc.gz").read_bytes()[:offsets[3] + 300])
    work = scan(tmp_path / "cut.warc.gz")
    assert [r.offset for r in refs(work)] == offsets[:3]
    assert [(r.record_offset, r.reason) for r in work.rejected] == [(offsets[3], "truncated or corrupt WARC record: its content ends before its Content-Length")]
    assert work.scans[0].scanned_bytes == offsets[3]
    # A WARC gzipped whole, not a member a record: one rejection that says how to split it.
    (tmp_path / "whole.warc.gz").write_bytes(gzip.compress(text.encode()))
    work = scan(tmp_path / "whole.warc.gz")
    assert not refs(work) and [(r.source_path, r.reason) for r in work.rejected] == [
        ("whole.warc.gz#@0", "gzip member holds more than one WARC record (the file was gzipped whole): "
                             "split it a record a member with `warcio recompress`")]
    # A record over the size cap is rejected unread; its neighbours are not.
    write_warc(tmp_path / "big.warc.gz", lambda w: [response(w, "https://news.example/a", page(0)),
                                                    response(w, "https://news.example/b", page(1) * 50),
                                                    response(w, "https://news.example/c", page(2))])
    work = scan(tmp_path / "big.warc.gz", max_file_bytes=2000)
    assert len(refs(work)) == 2
    ((reason,),) = [(r.reason,) for r in work.rejected]
    assert re.fullmatch(r"record too large: \d+ bytes, over the max_file_bytes limit of 2000", reason)


def test_a_container_that_fails_while_scanning_is_one_rejection_and_the_others_are_scanned(tmp_path: Path, monkeypatch):
    from flows import containers

    def broken(*args):
        yield from ()
        raise RuntimeError("disk on fire")

    write_warc(tmp_path / "a.warc.gz", pages(2))
    (tmp_path / "b.jsonl").write_text(json.dumps({"text": "story"}) + "\n")
    monkeypatch.setattr(containers, "_warc_entries", broken)
    work = plan_work([found(tmp_path / "a.warc.gz", tmp_path), found(tmp_path / "b.jsonl", tmp_path)], {}, Settings())
    assert [(r.source_path, r.reason, r.sha256) for r in work.rejected] == [
        ("a.warc.gz", "failed while scanning: RuntimeError: disk on fire", None)]
    assert [(piece.container.source_path, piece.weight) for piece in work.items] == [("b.jsonl", 1)]
    assert [s.source_path for s in work.scans] == ["b.jsonl"]


def test_a_feed_line_over_the_cap_and_a_corrupt_gzip_feed_are_rejected_with_their_line(tmp_path: Path):
    feed = tmp_path / "f.jsonl"
    long_line = json.dumps({"text": "b" * 500}) + "\n"
    feed.write_text(json.dumps({"text": "a"}) + "\n" + long_line + json.dumps({"text": "c"}) + "\n")
    work = scan(feed, max_file_bytes=100)
    assert [r.key for r in refs(work)] == ["1", "3"]
    assert [(r.source_path, r.reason) for r in work.rejected] == [
        ("f.jsonl#2", f"record too large: {len(long_line)} bytes, over the max_file_bytes limit of 100")]
    whole = gzip.compress(b"".join(json.dumps({"text": f"line {i} " * 40}).encode() + b"\n" for i in range(50)))
    (tmp_path / "cut.jsonl.gz").write_bytes(whole[:len(whole) // 2])
    work = scan(tmp_path / "cut.jsonl.gz")
    assert refs(work) and all(r.key.isdigit() for r in refs(work))
    ((source_path, reason),) = [(r.source_path, r.reason) for r in work.rejected]
    assert source_path == f"cut.jsonl.gz#{len(refs(work)) + 1}" and reason.startswith("corrupt or truncated gzip file: ")


# --- Through the ingest flow -------------------------------------------------------------------------------------

BENCH = SHARED / "benchmarks" / "article-extraction"


@pytest.fixture(scope="module")
def bench_pages() -> list[tuple[str, str, str, str]]:
    """(id, html, gold text, url) of the first 8 benchmark pages."""
    if not BENCH.is_dir():
        pytest.skip("../shared/benchmarks/article-extraction is not available")
    gold = json.loads((BENCH / "ground-truth.json").read_text(encoding="utf-8"))
    return [(i, gzip.decompress((BENCH / "html" / f"{i}.html.gz").read_bytes()).decode("utf-8"),
             gold[i]["articleBody"], gold[i]["url"]) for i in sorted(gold)[:8]]


def bodies(db: Path) -> dict[str, str]:
    """Each document's cleaned body (its paragraphs in order), by source_path."""
    return dict(table(db, """SELECT d.source_path, string_agg(dp.text, '\n\n' ORDER BY dp.position)
                             FROM documents d JOIN document_paragraphs dp USING (doc_id) GROUP BY 1"""))


def test_pages_given_as_records_are_ingested_once_each_and_cleaned_as_their_files_are(
        tmp_path: Path, bench_pages, prefect_harness):
    pages, later = bench_pages[:6], bench_pages[6:]
    raw, db = tmp_path / "raw", tmp_path / "w.duckdb"
    (raw / "pages").mkdir(parents=True)
    (raw / "feeds").mkdir()
    (raw / "crawl").mkdir()
    for i, html, _, _ in pages:
        (raw / "pages" / f"{i}.html").write_text(html, encoding="utf-8")
    feed = raw / "feeds" / "pages.jsonl"
    feed.write_text("".join(json.dumps({"id": i, "html": html, "url": url}) + "\n" for i, html, _, url in pages))

    def crawl(writer: WARCWriter):
        out = [writer.create_warcinfo_record("pages.warc.gz", {"software": "test"})]
        for _, html, _, url in pages:
            out.append(writer.create_warc_record(url, "request", payload=io.BytesIO(b"GET / HTTP/1.1\r\n\r\n")))
            out.append(response(writer, url, html.encode(), content_type="text/html; charset=utf-8"))
        return out + [response(writer, "https://news.example/gone", b"gone", status="404 Not Found")]

    write_warc(raw / "crawl" / "pages.warc.gz", crawl)
    with open(raw / "crawl" / "pages.warc.gz", "rb") as fh:
        warc_ids = [r.rec_headers.get_header("WARC-Record-ID") for r in ArchiveIterator(fh) if r.rec_type == "response"][:-1]

    summary = ingest_flow(str(raw), str(db), {"chunk_files": 4})  # each container over two chunks
    assert (summary["files_new"], summary["files_rejected"], summary["records_skipped"]) == (18, 0, 8)
    rows = table(db, "SELECT source_path, container, record_id FROM documents WHERE container IS NOT NULL ORDER BY record_offset")
    assert [r[0] for r in rows if r[1] == "feeds/pages.jsonl"] == [f"feeds/pages.jsonl#{n}" for n in range(1, 7)]
    assert [r[2] for r in rows if r[1] == "crawl/pages.warc.gz"] == warc_ids
    got = bodies(db)
    for n, (i, _, gold, _) in enumerate(pages):
        given = [got[f"pages/{i}.html"], got[f"feeds/pages.jsonl#{n + 1}"], got[f"crawl/pages.warc.gz#{warc_ids[n]}"]]
        assert len(set(given)) == 1 and given[0], i
        assert len({scores(body, gold) for body in given}) == 1

    before = snapshot(db, across_runs=True)
    again = ingest_flow(str(raw), str(db))
    assert (again["files_new"], again["files_unchanged"], again["files_rejected"]) == (0, 8, 0)
    assert snapshot(db, across_runs=True) == before

    with feed.open("a", encoding="utf-8") as fh:
        fh.write("".join(json.dumps({"id": i, "html": html, "url": url}) + "\n" for i, html, _, url in later))
    ingest_flow(str(raw), str(db))
    assert table(db, "SELECT source_path FROM documents WHERE run_id = 3 ORDER BY 1") == [
        ("feeds/pages.jsonl#7",), ("feeds/pages.jsonl#8",)]

    # Rewritten in place with its first record changed: that record is a new version, the others stay.
    lines = feed.read_text(encoding="utf-8").splitlines(keepends=True)
    changed = json.loads(lines[0]) | {"url": "https://news.example/moved"}
    feed.write_text(json.dumps(changed) + "\n" + "".join(lines[1:]), encoding="utf-8")
    ingest_flow(str(raw), str(db))
    assert table(db, "SELECT source_path, version, url FROM documents WHERE run_id = 4") == [
        ("feeds/pages.jsonl#1", 2, "https://news.example/moved")]


def test_bad_records_are_rejected_with_container_position_and_reason_while_their_neighbours_load(
        tmp_path: Path, prefect_harness):
    raw, db = tmp_path / "raw", tmp_path / "w.duckdb"
    raw.mkdir()
    story = "Harbor officials said on Tuesday that the new ferry terminal would open early next spring, story {}."
    lines = [json.dumps({"text": story.format(1)}), "{not json", json.dumps({"title": "no body"}),
             json.dumps({"text": story.format(4) * 40}), json.dumps({"text": story.format(5)})]
    (raw / "feed.jsonl").write_text("\n".join(lines) + "\n")
    offsets = write_warc(raw / "crawl.warc.gz", lambda w: [
        response(w, f"https://news.example/{n}", f"<html><body><p>{story.format(n)}</p></body></html>".encode())
        for n in range(3)])
    data = bytearray((raw / "crawl.warc.gz").read_bytes())
    data[offsets[1] + 60:offsets[1] + 100] = bytes(b ^ 0x55 for b in data[offsets[1] + 60:offsets[1] + 100])
    (raw / "crawl.warc.gz").write_bytes(data)

    ingest_flow(str(raw), str(db), {"max_file_bytes": 2000})
    line_at = [sum(len(line) + 1 for line in lines[:n]) for n in range(len(lines))]
    assert table(db, "SELECT source_path, record_offset FROM documents WHERE container = 'feed.jsonl' ORDER BY 2") == [
        ("feed.jsonl#1", 0), ("feed.jsonl#5", line_at[4])]
    warc = table(db, "SELECT source_path, record_id, record_offset FROM documents WHERE container = 'crawl.warc.gz' ORDER BY 3")
    assert [(path, offset) for path, _, offset in warc] == [(f"crawl.warc.gz#{rid}", offset) for _, rid, offset in warc]
    assert [offset for *_, offset in warc] == [offsets[0], offsets[2]]
    rejected = table(db, "SELECT source_path, container, record_offset, reason FROM rejected_files ORDER BY 1")
    assert rejected[0][:3] == (f"crawl.warc.gz#@{offsets[1]}", "crawl.warc.gz", offsets[1])
    assert rejected[0][3].startswith(f"unreadable WARC record at byte {offsets[1]}: ")
    assert rejected[1:] == [
        ("feed.jsonl#2", "feed.jsonl", line_at[1],
         "invalid JSON: Expecting property name enclosed in double quotes: line 1 column 2 (char 1)"),
        ("feed.jsonl#3", "feed.jsonl", line_at[2],
         "record has neither text nor HTML: no non-empty field among html, raw_html, text, content, body"),
        ("feed.jsonl#4", "feed.jsonl", line_at[3],
         f"record too large: {len(lines[3]) + 1} bytes, over the max_file_bytes limit of 2000"),
    ]
    # Read again from its start (its state dropped), the container's bad records are not recorded twice.
    with warehouse.connect(db) as con:
        con.execute("DELETE FROM containers")
    ingest_flow(str(raw), str(db), {"max_file_bytes": 2000})
    assert table(db, "SELECT source_path, container, record_offset, reason FROM rejected_files ORDER BY 1") == rejected
    assert table(db, "SELECT count(*) FROM documents") == [(4,)]


def test_the_work_list_reads_files_in_the_order_their_sidecars_say_they_were_published(tmp_path):
    """Dated files first, earliest first (a time zone taken into account), then the rest in path order: undated,
    a bad sidecar (the read stage reports it), a container."""
    sidecars = {"a.txt": '{"published": "2025-03-02"}', "b.txt": None, "c.txt": '{"published": "2025-03-01T23:00:00-02:00"}',
                "d.txt": '{"published": "2025-03-01T12:00:00Z"}', "e.txt": "{not json", "f.txt": None}
    for name, sidecar in sidecars.items():
        (tmp_path / name).write_text("Some story text.\n")
        if sidecar is not None:
            (tmp_path / f"{name}.meta.json").write_text(sidecar)
    (tmp_path / "0.jsonl").write_text(json.dumps({"text": "story"}) + "\n")
    files = [found(tmp_path / name, tmp_path) for name in ["0.jsonl", *sidecars]]
    work = plan_work(files, {}, Settings())
    assert [getattr(item, "source_path", None) or item.container.source_path for item in work.items] == [
        "d.txt", "a.txt", "c.txt", "0.jsonl", "b.txt", "e.txt", "f.txt"]
