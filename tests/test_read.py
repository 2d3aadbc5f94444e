from pathlib import Path

from flows.discover import FoundFile
from flows.records import Rejection, Unchanged
from flows.read import RawDocument, decode_bytes, read_file


def _found(tmp_path: Path, name: str, data: bytes, known=frozenset()) -> FoundFile:
    p = tmp_path / name
    p.write_bytes(data)
    st = p.stat()
    return FoundFile(p, name, st.st_size, st.st_mtime_ns, known)


def test_utf8_and_legacy_encodings_decode(tmp_path: Path):
    doc = read_file(_found(tmp_path, "a.txt", "Café crème, naïve résumé.".encode("utf-8")), 1000)
    assert isinstance(doc, RawDocument) and doc.encoding == "utf-8" and doc.content.startswith("Café")
    text = "Le café de la gare était fermé ce matin, à cause de la grève des cheminots. " * 5
    doc = read_file(_found(tmp_path, "b.txt", text.encode("cp1252")), 10_000)
    assert isinstance(doc, RawDocument) and doc.content == text
    doc = read_file(_found(tmp_path, "c.txt", "Hello wörld".encode("utf-16")), 1000)
    assert isinstance(doc, RawDocument) and doc.content == "Hello wörld"


def test_each_kind_of_bad_input_is_rejected_with_its_reason(tmp_path: Path):
    cases = {
        "empty.txt": (b"", "empty file"),
        "blank.txt": (b" \n\n\t ", "empty file (only whitespace)"),
        "binary.txt": (bytes(range(256)) * 20, "binary file: not text in any known encoding"),
        "big.txt": (b"a" * 101, "file too large: 101 bytes, over the max_file_bytes limit of 100"),
    }
    for name, (data, reason) in cases.items():
        out = read_file(_found(tmp_path, name, data), 100 if name == "big.txt" else 10_000)
        assert isinstance(out, Rejection), name
        assert out.reason == reason
        assert out.source_path == name


def test_known_content_is_unchanged(tmp_path: Path):
    import hashlib

    data = b"same bytes"
    out = read_file(_found(tmp_path, "a.txt", data, frozenset({hashlib.sha256(data).hexdigest()})), 100)
    assert isinstance(out, Unchanged)


def test_html_saved_as_txt_is_read_as_html(tmp_path: Path):
    doc = read_file(_found(tmp_path, "page.txt", b"<!DOCTYPE html><html><body><p>x</p></body></html>"), 1000)
    assert doc.format == "html"


def test_decode_rejects_nul_bytes():
    assert decode_bytes(b"abc\x00def") is None


def test_gzip_inputs_are_decompressed_under_a_cap(tmp_path: Path):
    import gzip

    page = b"<html><body><p>A compressed page.</p></body></html>"
    doc = read_file(_found(tmp_path, "page.HTML.gz", gzip.compress(page)), 1000)
    assert isinstance(doc, RawDocument)
    assert (doc.format, doc.content) == ("html", page.decode())
    assert doc.size == (tmp_path / "page.HTML.gz").stat().st_size  # the file's own size, for change detection
    whole = gzip.compress(b"The story goes on. " * 100)
    cases = {
        "truncated.txt.gz": (whole[: len(whole) // 2], "corrupt or truncated gzip file: Compressed file ended before the end-of-stream marker was reached"),
        "notgzip.txt.gz": (b"plain text, not compressed", "corrupt or truncated gzip file: Not a gzipped file (b'pl')"),
        "bomb.txt.gz": (gzip.compress(b"a" * 5000), "file too large: over the max_file_bytes limit of 1000 bytes once decompressed"),
    }
    for name, (data, reason) in cases.items():
        out = read_file(_found(tmp_path, name, data), 1000)
        assert isinstance(out, Rejection) and out.reason == reason, name
        assert out.sha256 is not None  # the same bad bytes are not read again


def test_transient_read_errors_are_retried_and_lasting_ones_rejected(tmp_path: Path, monkeypatch):
    import errno
    import os

    from flows import read

    monkeypatch.setattr(read, "RETRY_DELAYS", (0.0, 0.0, 0.0))
    found = _found(tmp_path, "a.txt", b"Text that arrives after two failed tries.")
    real = Path.read_bytes
    failures = {"n": 2, "errno": errno.EIO}

    def flaky(self):
        if failures["n"]:
            failures["n"] -= 1
            raise OSError(failures["errno"], os.strerror(failures["errno"]))
        return real(self)

    monkeypatch.setattr(Path, "read_bytes", flaky)
    assert isinstance(read_file(found, 1000), RawDocument)
    failures["n"] = 4  # more than the retries
    out = read_file(found, 1000)
    assert isinstance(out, Rejection) and out.reason == "cannot read file: Input/output error"
    failures.update(n=1, errno=errno.EACCES)  # not transient: no retry
    out = read_file(found, 1000)
    assert isinstance(out, Rejection) and out.reason == "cannot read file: Permission denied" and failures["n"] == 0


def test_a_sidecar_completes_the_metadata_and_a_bad_one_is_a_clear_rejection(tmp_path: Path):
    from datetime import datetime

    from flows.clean import clean_document

    page = b"Ferry terminal to open in spring\n\nThe ferry terminal opens next spring, harbor officials said on Tuesday morning.\n"
    (tmp_path / "story.txt.meta.json").write_text(
        '{"url": "https://news.example/ferry", "published": "2025-03-01T09:30:00+01:00", "site": "Example News", "author": null}')
    doc = read_file(_found(tmp_path, "story.txt", page), 10_000)
    assert doc.sidecar == {"url": "https://news.example/ferry", "published": datetime(2025, 3, 1, 8, 30),
                           "site": "Example News", "author": None}
    clean = clean_document(doc)
    assert (clean.url, clean.published, clean.site, clean.author) == (
        "https://news.example/ferry", datetime(2025, 3, 1, 8, 30), "Example News", None)
    assert clean.title == "Ferry terminal to open in spring"  # fields the sidecar leaves out stay as extracted
    cases = {
        "{not json": "bad sidecar bad.txt.meta.json: Expecting property name enclosed in double quotes: line 1 column 2 (char 1)",
        '{"titel": "x"}': "bad sidecar bad.txt.meta.json: unknown field(s) titel; known: title, author, published, site, url, language",
        '{"published": "last Tuesday"}': "bad sidecar bad.txt.meta.json: published must be an ISO 8601 date such as "
                                         "2025-03-01 or 2025-03-01T09:30:00Z, not 'last Tuesday'",
        '{"url": 5}': "bad sidecar bad.txt.meta.json: url must be a string",
    }
    for sidecar, reason in cases.items():
        (tmp_path / "bad.txt.meta.json").write_text(sidecar)
        out = read_file(_found(tmp_path, "bad.txt", page), 10_000)
        assert isinstance(out, Rejection) and out.reason == reason


def test_known_content_tells_a_touched_file_from_a_changed_one(tmp_path: Path):
    import hashlib

    from flows.read import known_content

    data = b"The same story, touched but not edited."
    assert known_content(_found(tmp_path, "a.txt", data, frozenset({hashlib.sha256(data).hexdigest()})))
    assert not known_content(_found(tmp_path, "b.txt", data + b" Edited.", frozenset({hashlib.sha256(data).hexdigest()})))
    assert not known_content(_found(tmp_path, "c.txt", data))  # a path the warehouse has never seen
