from pathlib import Path

from flows.discover import FoundFile, Rejection
from flows.read import RawDocument, Unchanged, decode_bytes, read_file


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
