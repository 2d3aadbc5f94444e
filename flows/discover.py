"""Discover: walk the drop folder and list the files that are new or changed since the last run."""

from __future__ import annotations

import os
import stat
import time
from dataclasses import dataclass, field
from pathlib import Path

from flows.records import KnownFile, Rejection

# Formats we ingest, by extension (case-insensitive); each may also come gzip-compressed (`story.html.gz`).
# JSON Lines and WARC files are containers: each of their records is a document (flows/containers.py).
EXTENSIONS = {".txt": "text", ".md": "text", ".html": "html", ".htm": "html",
              ".jsonl": "jsonl", ".ndjson": "jsonl", ".warc": "warc"}
CONTAINER_FORMATS = frozenset({"jsonl", "warc"})
GZIP_SUFFIX = ".gz"
# Names that editors, browsers and copy tools use while a file is still being written.
TEMP_SUFFIXES = (".part", ".tmp", ".crdownload", ".download", ".swp", ".swx", "~")
TEMP_PREFIXES = ("~$", ".#", "#")


@dataclass(frozen=True)
class FoundFile:
    """A candidate file: where it is, and what the warehouse already knows of its path."""

    path: Path
    source_path: str
    size: int
    mtime_ns: int
    known_sha256: frozenset[str] = frozenset()

    @property
    def weight(self) -> int:
        """Documents it stands for in a chunk (a slice of a container's records stands for each of them)."""
        return 1

    @property
    def input_bytes(self) -> int:
        """Bytes it gives a batch to hold (its size on disk)."""
        return self.size


@dataclass
class Discovery:
    """What a walk of the drop folder found."""

    files: list[FoundFile] = field(default_factory=list)
    unchanged: int = 0
    ignored: int = 0
    # Files modified in the last `settle_seconds`, perhaps still being written: left for the next run.
    pending: int = 0
    rejected: list[Rejection] = field(default_factory=list)


def is_candidate_name(name: str) -> bool:
    """True for a file name we would ingest: a known extension, not hidden, not temporary."""
    lower = name.lower()
    if name.startswith(".") or lower.startswith(TEMP_PREFIXES) or lower.endswith(TEMP_SUFFIXES):
        return False
    return file_format(name) is not None


def file_format(name: str) -> str | None:
    """'text', 'html', 'jsonl' or 'warc' by extension, looking through a `.gz` suffix; None for names we do not
    ingest."""
    lower = name.lower().removesuffix(GZIP_SUFFIX)
    return EXTENSIONS.get(Path(lower).suffix)


def discover_files(raw_dir: Path, known: list[KnownFile], settle_seconds: float = 0.0) -> Discovery:
    """Walk `raw_dir` recursively and return the files whose size or mtime differ from every known version.

    A file modified less than `settle_seconds` ago may still be being written: it is counted as pending
    and left for the next run."""
    raw_dir = Path(raw_dir)
    if not raw_dir.is_dir():
        raise FileNotFoundError(f"drop folder {raw_dir} does not exist or is not a folder")
    root = raw_dir.resolve()
    by_path: dict[str, list[KnownFile]] = {}
    for k in known:
        by_path.setdefault(k.source_path, []).append(k)

    out = Discovery()
    now, settle_ns = time.time_ns(), int(settle_seconds * 1e9)

    def walk_error(err: OSError) -> None:
        rel = _relative(Path(err.filename), raw_dir) if err.filename else "."
        out.rejected.append(Rejection(rel, f"cannot list folder: {err.strerror or err}"))

    def reject(rel: str, reason: str, st: os.stat_result | None = None) -> None:
        out.rejected.append(Rejection(rel, reason, size=st.st_size if st else None, mtime_ns=st.st_mtime_ns if st else None))

    for dirpath, dirnames, filenames in os.walk(raw_dir, onerror=walk_error, followlinks=False):
        # Hidden folders (.git, .cache, ...) are never part of the drop.
        dirnames[:] = sorted(d for d in dirnames if not d.startswith("."))
        for name in sorted(filenames):
            path = Path(dirpath) / name
            if not is_candidate_name(name):
                out.ignored += 1
                continue
            rel = _relative(path, raw_dir)
            try:
                link = st = path.lstat()
            except OSError as err:
                reject(rel, f"cannot stat file: {err.strerror or err}")
                continue
            try:
                outside = path.is_symlink() and not path.resolve().is_relative_to(root)
                if path.is_symlink() and not outside:
                    st = path.stat()
            except (OSError, RuntimeError) as err:  # RuntimeError: a symlink loop
                reject(rel, f"cannot follow symlink: {getattr(err, 'strerror', None) or err}", link)
                continue
            versions = by_path.get(_printable(rel), [])
            if any(v.size == st.st_size and v.mtime_ns == st.st_mtime_ns for v in versions):
                out.unchanged += 1
                continue
            if outside:
                reject(rel, "symlink points outside the drop folder; not followed", st)
            elif not stat.S_ISREG(st.st_mode):
                reject(rel, "not a regular file (a pipe, socket or device); not read", st)
            elif rel != _printable(rel):
                reject(_printable(rel), "file name is not valid UTF-8; rename the file to ingest it", st)
            elif abs(now - st.st_mtime_ns) < settle_ns:  # (a future mtime beyond it is clock skew, not writing)
                out.pending += 1
            else:
                out.files.append(
                    FoundFile(path, rel, st.st_size, st.st_mtime_ns, frozenset(v.sha256 for v in versions if v.sha256))
                )
    return out


def _printable(rel: str) -> str:
    """The path with bytes that are not UTF-8 (kept by Python as surrogates) written as \\xNN escapes."""
    return rel.encode("utf-8", "surrogateescape").decode("utf-8", "backslashreplace")


def _relative(path: Path, raw_dir: Path) -> str:
    """Path relative to the drop folder with '/' separators (the warehouse's `source_path`)."""
    return path.relative_to(raw_dir).as_posix()


def chunked(items: list, size: int, max_bytes: int = 0) -> list[list]:
    """Split the work list (files, and slices of containers' records) into chunks of at most `size` documents by
    their `weight`, in order, and, given `max_bytes`, of at most that many input bytes; an item heavier than either is
    a chunk of its own."""
    out: list[list] = []
    held = held_bytes = 0
    for item in items:
        n = item.input_bytes if max_bytes else 0
        if not out or held + item.weight > size or (max_bytes and held_bytes + n > max_bytes):
            out.append([])
            held = held_bytes = 0
        out[-1].append(item)
        held += item.weight
        held_bytes += n
    return out
