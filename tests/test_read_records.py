"""Reading the records of a container: a feed record's fields by convention (or as configured), a WARC response's
body decoded by its HTTP charset, given metadata winning over extracted, and each bad record's reason."""

from __future__ import annotations

import gzip
import io
import json
from datetime import datetime
from pathlib import Path

from test_containers import response, scan, write_warc
from warcio.statusandheaders import StatusAndHeaders

from flows.clean import clean_document
from flows.config import Settings
from flows.read import RawDocument
from flows.read_records import read_slice
from flows.records import Rejection

ARTICLE = ("<html><head><title>Ferry terminal opens</title>"
           '<meta property="article:published_time" content="2025-02-27T08:00:00Z"></head>'
           "<body><article><h1>Ferry terminal opens</h1><p>The ferry terminal opened to passengers on Tuesday, harbor "
           "officials said, three years after a storm damaged the old building.</p><p>The first boat left at six in "
           "the morning with forty passengers on board and a brass band on the quay.</p></article></body></html>")


def read_all(path: Path, **settings) -> list[RawDocument | Rejection]:
    work = scan(path, **settings)
    return [read for piece in work.items for read in read_slice(piece, Settings(**settings))]


def write_feed(path: Path, records: list) -> None:
    path.write_text("".join((r if isinstance(r, str) else json.dumps(r)) + "\n" for r in records), encoding="utf-8")


def test_a_feed_record_with_html_is_cleaned_as_html_with_its_given_metadata_winning(tmp_path: Path):
    write_feed(tmp_path / "f.jsonl", [
        {"id": 17, "html": ARTICLE, "url": "https://news.example/ferry", "published": "2025-03-01T09:30:00+01:00",
         "author": None},
        {"content": "A plain text story about the harbor.\n\nIt has two paragraphs of its own.", "title": "Harbor"},
    ])
    first, second = read_all(tmp_path / "f.jsonl")
    assert (first.source_path, first.format, first.container, first.record_offset, first.record_id) == (
        "f.jsonl#1", "html", "f.jsonl", 0, "17")
    assert first.sidecar == {"url": "https://news.example/ferry", "published": datetime(2025, 3, 1, 8, 30)}
    clean = clean_document(first)
    assert (clean.title, clean.url, clean.published) == ("Ferry terminal opens", "https://news.example/ferry",
                                                         datetime(2025, 3, 1, 8, 30))  # the page says 02-27
    assert (second.format, second.sidecar, second.record_id) == ("text", {"title": "Harbor"}, None)


def test_the_feeds_field_names_are_configurable(tmp_path: Path):
    write_feed(tmp_path / "f.jsonl", [{"story": "Text under a name of our own.", "link": "https://news.example/x"}])
    (doc,) = read_all(tmp_path / "f.jsonl", record_text_fields=("story",), record_url_fields=("link",))
    assert (doc.content, doc.sidecar) == ("Text under a name of our own.", {"url": "https://news.example/x"})


def test_each_kind_of_bad_feed_record_is_rejected_with_its_reason_and_the_others_read(tmp_path: Path):
    write_feed(tmp_path / "f.jsonl", [
        {"text": "A good record before."},
        "{not json",
        "[1, 2]",
        {"title": "No body", "text": "  "},
        {"text": 5},
        {"text": "A story with a bad date.", "published": "last Tuesday"},
        {"text": "A good record after."},
    ])
    (tmp_path / "f.jsonl").write_bytes((tmp_path / "f.jsonl").read_bytes() + b'{"text": "caf\xe9"}\n')
    reads = read_all(tmp_path / "f.jsonl")
    assert [r.source_path for r in reads if isinstance(r, RawDocument)] == ["f.jsonl#1", "f.jsonl#7"]
    assert [(r.source_path, r.reason) for r in reads if isinstance(r, Rejection)] == [
        ("f.jsonl#2", "invalid JSON: Expecting property name enclosed in double quotes: line 1 column 2 (char 1)"),
        ("f.jsonl#3", "record is a JSON list, not an object"),
        ("f.jsonl#4", "record has neither text nor HTML: no non-empty field among html, raw_html, text, content, body"),
        ("f.jsonl#5", "field text must be a string, not a JSON int"),
        ("f.jsonl#6", "published must be an ISO 8601 date such as 2025-03-01 or 2025-03-01T09:30:00Z, not 'last Tuesday'"),
        ("f.jsonl#8", "record is not UTF-8, as JSON Lines must be"),
    ]
    assert all(r.container == "f.jsonl" and r.record_offset is not None and r.sha256 for r in reads)


def test_a_warc_response_is_decoded_by_its_http_charset_with_its_url_and_fetch_date_as_a_fallback(tmp_path: Path):
    russian = "<html><body><p>" + "Паром отправился в шесть утра, на борту было сорок пассажиров. " * 3 + "</p></body></html>"
    write_warc(tmp_path / "c.warc.gz", lambda w: [
        response(w, "https://news.example/ru", russian.encode("cp1251"), content_type="text/html; charset=windows-1251"),
        response(w, "https://news.example/ferry", ARTICLE.encode()),
    ])
    ru, ferry = read_all(tmp_path / "c.warc.gz")
    assert (ru.content, ru.encoding, ru.format) == (russian, "cp1251", "html")
    assert ru.source_path == f"c.warc.gz#{ru.record_id}" and ru.record_id.startswith("<urn:uuid:")
    assert ru.sidecar == {"url": "https://news.example/ru"} and set(ru.fallback) == {"published"}
    # The fetch date fills `published` only where the page states none.
    assert clean_document(ru).published == ru.fallback["published"]
    assert clean_document(ferry).published == datetime(2025, 2, 27, 8, 0)  # the time the page states


def test_a_warc_body_over_the_cap_once_decoded_is_rejected(tmp_path: Path):
    def records(writer):
        body = gzip.compress(b"<html><body>" + b"<p>words</p>" * 1000 + b"</body></html>")
        headers = StatusAndHeaders("200 OK", [("Content-Type", "text/html"), ("Content-Encoding", "gzip")],
                                   protocol="HTTP/1.1")
        return [writer.create_warc_record("https://news.example/bomb", "response", payload=io.BytesIO(body),
                                          http_headers=headers),
                response(writer, "https://news.example/fine", ARTICLE.encode())]

    write_warc(tmp_path / "c.warc.gz", records)
    bomb, fine = read_all(tmp_path / "c.warc.gz", max_file_bytes=5000)
    assert isinstance(bomb, Rejection) and bomb.reason == "record too large: over the max_file_bytes limit of 5000 bytes once decoded"
    assert isinstance(fine, RawDocument)
