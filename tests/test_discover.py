import os
from pathlib import Path

from flows.discover import chunked, discover_files, is_candidate_name
from flows.records import KnownFile


def _touch(path: Path, text: str = "x") -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text)
    return path


def test_finds_supported_files_recursively_and_ignores_hidden_and_temporary(tmp_path: Path):
    for name in ["a.txt", "sub/b.HTML", "sub/deeper/c.md", "d.htm", "notes.pdf", ".hidden.txt",
                 "e.txt.part", "f.tmp", "g.txt~", "~$h.txt", ".git/i.txt", "a.meta.json",
                 "feeds/f.jsonl", "feeds/g.ndjson.gz", "crawl/c.warc.gz", "crawl/d.WARC"]:
        _touch(tmp_path / name)
    found = discover_files(tmp_path, [])
    assert [f.source_path for f in found.files] == ["a.txt", "d.htm", "crawl/c.warc.gz", "crawl/d.WARC",
                                                    "feeds/f.jsonl", "feeds/g.ndjson.gz", "sub/b.HTML", "sub/deeper/c.md"]
    assert found.ignored == 7  # .git is never walked
    assert not found.rejected


def test_unchanged_size_and_mtime_skip_without_reading(tmp_path: Path):
    p = _touch(tmp_path / "a.txt", "hello")
    st = p.stat()
    known = [KnownFile("a.txt", "abc", st.st_size, st.st_mtime_ns)]
    found = discover_files(tmp_path, known)
    assert found.files == [] and found.unchanged == 1
    os.utime(p, ns=(st.st_atime_ns, st.st_mtime_ns + 10**9))
    found = discover_files(tmp_path, known)
    assert [f.known_sha256 for f in found.files] == [frozenset({"abc"})]


def test_symlink_outside_drop_folder_is_rejected_not_followed(tmp_path: Path):
    outside = _touch(tmp_path / "secret.txt", "secret")
    raw = tmp_path / "raw"
    raw.mkdir()
    (raw / "link.txt").symlink_to(outside)
    (raw / "inside.txt").symlink_to(_touch(raw / "real.txt"))
    found = discover_files(raw, [])
    assert [f.source_path for f in found.files] == ["inside.txt", "real.txt"]
    assert [(r.source_path, r.reason) for r in found.rejected] == [
        ("link.txt", "symlink points outside the drop folder; not followed")
    ]


def test_candidate_names():
    assert is_candidate_name("story.TXT")
    assert not is_candidate_name("story.txt.crdownload")
    assert not is_candidate_name(".#story.txt")


def test_chunks_keep_order_and_size_counting_a_slice_of_records_by_its_records():
    from flows.containers import RecordRef, RecordSlice
    from flows.discover import FoundFile

    files = [FoundFile(Path(f"{i}.txt"), f"{i}.txt", 1, 0) for i in range(5)]
    assert chunked(files, 2) == [files[0:2], files[2:4], files[4:]]
    feed = FoundFile(Path("f.jsonl"), "f.jsonl", 1, 0)
    three = RecordSlice(feed, "jsonl", tuple(RecordRef(str(n), n, 1, "") for n in range(3)))
    one = RecordSlice(feed, "jsonl", (RecordRef("4", 4, 1, ""),))
    assert chunked([files[0], three, one, files[1]], 2) == [[files[0]], [three], [one, files[1]]]


def test_chunks_bounded_by_bytes_too_close_at_whichever_bound_comes_first():
    from flows.containers import RecordRef, RecordSlice
    from flows.discover import FoundFile

    files = [FoundFile(Path(f"{i}.txt"), f"{i}.txt", size, 0) for i, size in enumerate([40, 70, 20, 20, 20, 500, 10])]
    # 100 bytes at most: 40+70 is over, 70+20 is not; a 500-byte file is a chunk of its own.
    assert chunked(files, 3, 100) == [files[0:1], files[1:3], files[3:5], files[5:6], files[6:7]]
    assert chunked(files, 2, 0) == [files[0:2], files[2:4], files[4:6], files[6:]]
    feed = FoundFile(Path("f.jsonl"), "f.jsonl", 1000, 0)
    big = RecordSlice(feed, "jsonl", tuple(RecordRef(str(n), n * 60, 60, "") for n in range(2)))
    # A slice weighs its records' lengths (120 bytes), not its container's size.
    assert chunked([files[2], big, files[3]], 10, 100) == [[files[2]], [big], [files[3]]]


def test_hostile_entries_are_rejected_with_reasons_not_crashes(tmp_path: Path):
    raw = tmp_path / "raw"
    raw.mkdir()
    (raw / "loop.txt").symlink_to(raw / "loop.txt")
    (raw / "dangling.txt").symlink_to(raw / "missing.txt")
    os.mkfifo(raw / "pipe.txt")
    (raw / os.fsdecode(b"caf\xe9.txt")).write_text("x")
    found = discover_files(raw, [])
    assert found.files == []
    reasons = {r.source_path: r.reason for r in found.rejected}
    assert reasons["loop.txt"].startswith("cannot follow symlink")
    assert reasons["dangling.txt"].startswith("cannot follow symlink")
    assert reasons["pipe.txt"] == "not a regular file (a pipe, socket or device); not read"
    assert reasons["caf\\xe9.txt"] == "file name is not valid UTF-8; rename the file to ingest it"
    assert all(r.size is not None for r in found.rejected)


def test_compressed_names_are_candidates_and_fresh_files_wait_to_settle(tmp_path: Path):
    assert is_candidate_name("story.html.gz") and is_candidate_name("story.TXT.GZ")
    assert not is_candidate_name("archive.tar.gz") and not is_candidate_name("story.gz")
    (tmp_path / "old.txt").write_text("written long ago")
    os.utime(tmp_path / "old.txt", (1_600_000_000, 1_600_000_000))
    (tmp_path / "new.txt").write_text("just written, perhaps not finished")
    found = discover_files(tmp_path, [], settle_seconds=60)
    assert [f.source_path for f in found.files] == ["old.txt"] and found.pending == 1
    assert [f.source_path for f in discover_files(tmp_path, []).files] == ["new.txt", "old.txt"]
