"""Containers: the records of a JSON Lines feed or a WARC archive that a run has not read yet, in slices.

Crawlers and feeds hand over many documents in one file. The run scans each such container once, in the flow,
framing it into records without holding more than a block of it, and gives the chunk tasks slices of record
references (flows/read_records.py reads them), so that a large container spreads over several chunks like a folder
of files. A record whose framing is broken (a corrupt gzip member, a wrong length, over the size cap) is that
record's rejection; the scan finds the next record and goes on.

The warehouse remembers how far each container was read (`ContainerState`): while its first `scanned_bytes` stay the
same, the next scan starts there, so a feed appended to daily costs its new lines only. A container rewritten in
place is scanned again from its start, and the records already stored (same place, same hash) are not read again.
"""

from __future__ import annotations

import gzip
import hashlib
import os
import zlib
from collections import Counter
from dataclasses import dataclass, field
from typing import BinaryIO, Iterator, NamedTuple

from warcio.archiveiterator import ArchiveIterator
from warcio.exceptions import ArchiveLoadFailed

from flows.config import Settings
from flows.discover import CONTAINER_FORMATS, GZIP_SUFFIX, FoundFile, file_format
from flows.read import read_sidecar
from flows.records import ContainerScan, ContainerState, Rejection

# What a WARC response must carry to be a document.
DOCUMENT_TYPES = ("text/html", "application/xhtml+xml", "text/plain")
# Where a record may start, looked for after a broken one: a gzip member's magic, or a WARC version line.
_GZIP_MAGIC = b"\x1f\x8b\x08"
_WARC_LINE = b"\nWARC/1."
_BLOCK = 1 << 20
# What warcio says of a gzip member that goes on past its record.
_WHOLE_GZIP = "non-chunked gzip file detected"
# Errors of a broken record: warcio's, zlib's and gzip's (a corrupt or truncated member); warcio fails on a header cut
# short (no WARC-Target-URI, say) with AttributeError or TypeError.
BROKEN_RECORD = (ArchiveLoadFailed, zlib.error, EOFError, OSError, ValueError, AttributeError, TypeError)


class RecordRef(NamedTuple):
    """Where one record of a container is: its key (a feed's line number, a WARC-Record-ID), byte offset and length
    (in a feed's decompressed bytes; in a WARC, of its gzip member), and the hash of its content."""

    key: str
    offset: int
    length: int
    sha256: str


@dataclass(frozen=True)
class RecordSlice:
    """Consecutive new records of one container, read by one chunk task."""

    container: FoundFile
    kind: str  # 'jsonl' or 'warc'
    refs: tuple[RecordRef, ...]

    @property
    def weight(self) -> int:
        """Documents it stands for in a chunk: one a record (see FoundFile.weight)."""
        return len(self.refs)

    @property
    def input_bytes(self) -> int:
        """Bytes it gives a batch to hold (its records' lengths)."""
        return sum(r.length for r in self.refs)


@dataclass
class Work:
    """A run's work list: files read whole and slices of containers' records (in `first_appearance` order), with
    what the scans of the containers found besides."""

    items: list = field(default_factory=list)
    rejected: list[Rejection] = field(default_factory=list)
    # Records that are not documents, by reason (WARC requests, metadata, revisits, non-HTML responses, blank lines).
    skipped: Counter = field(default_factory=Counter)
    # Records already in the warehouse: same container, same place, same content.
    unchanged: int = 0
    scans: list[ContainerScan] = field(default_factory=list)

    def add(self, other: Work) -> None:
        """Take in another part of the work list (a container's scan), after what this holds."""
        self.items += other.items
        self.rejected += other.rejected
        self.skipped += other.skipped
        self.unchanged += other.unchanged
        self.scans += other.scans

    def documents(self) -> int:
        """Files and records to read."""
        return sum(item.weight for item in self.items)

    def records(self) -> int:
        """Containers' records to read."""
        return sum(item.weight for item in self.items if isinstance(item, RecordSlice))


class _Entry(NamedTuple):
    """One record as a scan frames it: a reference, a reason not to read it (`skip`, `problem`), and whether the
    container is complete up to its end (a torn last record is scanned again once the file grows)."""

    key: str
    offset: int
    length: int
    sha256: str | None = None
    skip: str | None = None
    problem: str | None = None
    complete: bool = True


def is_container(found: FoundFile) -> bool:
    """A JSON Lines or WARC file, whose records are documents."""
    return file_format(found.source_path) in CONTAINER_FORMATS


def container_paths(files: list[FoundFile]) -> list[str]:
    """The source paths of the containers among found files (whose states the warehouse is asked for)."""
    return [f.source_path for f in files if is_container(f)]


def plan_work(files: list[FoundFile], states: dict[str, ContainerState], settings: Settings) -> Work:
    """The run's work: each file as it is, each container scanned into slices of at most `chunk_files` new records,
    in the order of `first_appearance`."""
    work = Work()
    for found in files:
        if is_container(found):
            work.add(scan_container(found, states.get(found.source_path), settings))
        else:
            work.items.append(found)
    work.items.sort(key=first_appearance)
    return work


def first_appearance(item) -> tuple:
    """Where an item goes in the run: files whose sidecar states when they were published first, earliest first,
    then the rest in path order (a date found in the text is known only once the file is read).

    Dedup places texts in the order of first appearance, and a text published before the leader of a passage
    stored by an earlier batch reopens that passage (flows.dedup): reading a run in that order, where it is known
    before reading, leaves little to reopen. The warehouse is the same in any order, only the cost differs."""
    if isinstance(item, FoundFile):
        try:
            published = read_sidecar(item.path).get("published")
        except ValueError:  # a bad sidecar is the read stage's to report
            published = None
        if published is not None:
            return (0, published, item.source_path)
    return (1,)


def scan_container(found: FoundFile, state: ContainerState | None, settings: Settings) -> Work:
    """One container's new records framed: slices to read, records skipped, unchanged or rejected, and the
    container's new state. A container that cannot be read to its end is one rejection (retried next run)."""
    kind, out = file_format(found.source_path), Work()
    try:
        with open(found.path, "rb") as raw:
            # Offsets are those of the bytes a record is framed in: a feed's decompressed lines, a WARC's members.
            stream: BinaryIO = gzip.GzipFile(fileobj=raw) if kind == "jsonl" and _gzipped(found) else raw
            start, lines, digest = _resume(stream, state)
            entries = (_feed_entries(stream, start, lines, settings.max_file_bytes) if kind == "jsonl"
                       else _warc_entries(raw, start, _gzipped(found), settings.max_file_bytes))
            end, n_records, refs = _sort_entries(found, entries, state, start, lines, out)
            _hash_range(stream, start, end, digest)
    except Exception as err:  # one container must never stop the others
        reason = (f"cannot read file: {err.strerror or err}" if isinstance(err, OSError)
                  else f"failed while scanning: {type(err).__name__}: {err}")
        return Work(rejected=[Rejection(found.source_path, reason, size=found.size, mtime_ns=found.mtime_ns)])
    out.items = [RecordSlice(found, kind, tuple(refs[i:i + settings.chunk_files]))
                 for i in range(0, len(refs), settings.chunk_files)]
    out.scans.append(ContainerScan(found.source_path, found.size, found.mtime_ns, end, n_records, digest.hexdigest()))
    return out


def _sort_entries(found: FoundFile, entries: Iterator[_Entry], state: ContainerState | None, start: int, lines: int,
                  work: Work) -> tuple[int, int, list[RecordRef]]:
    """Each framed record to its place in `work`; returns where the container is complete up to (bytes, records)
    and the references of the records to read."""
    known = state.known if state else frozenset()
    refs: list[RecordRef] = []
    end, n_records, torn = start, lines, False
    for entry in entries:
        source_path = f"{found.source_path}#{entry.key}"
        if entry.problem:
            work.rejected.append(Rejection(source_path, entry.problem, entry.sha256, entry.length, found.mtime_ns,
                                           found.source_path, entry.offset))
        elif entry.skip:
            work.skipped[entry.skip] += 1
        elif (source_path, entry.sha256) in known:
            work.unchanged += 1
        else:
            refs.append(RecordRef(entry.key, entry.offset, entry.length, entry.sha256))
        torn = torn or not entry.complete
        if not torn:
            end, n_records = entry.offset + entry.length, n_records + 1
    return end, n_records, refs


def _gzipped(found: FoundFile) -> bool:
    return found.source_path.lower().endswith(GZIP_SUFFIX)


def _resume(stream: BinaryIO, state: ContainerState | None) -> tuple[int, int, "hashlib._Hash"]:
    """Where the scan starts: after the part read before, if its bytes are unchanged (a feed appended to), else at
    the start; with the records before it and the hash of the bytes before it, to go on with."""
    digest = hashlib.sha256()
    if state is None or state.scanned_bytes == 0:
        return 0, 0, digest
    try:
        same = (_hash_range(stream, 0, state.scanned_bytes, digest) == state.scanned_bytes
                and digest.hexdigest() == state.prefix_sha256)
    except (EOFError, zlib.error, OSError):
        same = False
    return (state.scanned_bytes, state.n_records, digest) if same else (0, 0, hashlib.sha256())


def _hash_range(stream: BinaryIO, start: int, end: int, digest) -> int:
    """Add bytes [start, end) of the stream to `digest`, a block at a time; returns how many there were."""
    stream.seek(start)
    done = 0
    while done < end - start:
        block = stream.read(min(_BLOCK, end - start - done))
        if not block:
            break
        digest.update(block)
        done += len(block)
    return done


def _feed_entries(stream: BinaryIO, start: int, lines: int, max_bytes: int) -> Iterator[_Entry]:
    """The lines of a JSON Lines stream from byte `start` (after `lines` lines), each framed on its own; a line over
    `max_bytes` is passed over unread. A line without its newline is the last, perhaps still being written."""
    stream.seek(start)
    offset, number = start, lines
    while True:
        try:
            data = stream.readline(max_bytes + 2)
            length = len(data) + (_skip_line(stream) if len(data) == max_bytes + 2 and data[-1:] != b"\n" else 0)
        except (EOFError, zlib.error, OSError) as err:
            yield _Entry(str(number + 1), offset, 0, problem=f"corrupt or truncated gzip file: {err}", complete=False)
            return
        if not data:
            return
        number += 1
        ended = data.endswith(b"\n")
        if length > max_bytes + 1:
            yield _Entry(str(number), offset, length, complete=ended,
                         problem=f"record too large: {length} bytes, over the max_file_bytes limit of {max_bytes}")
        elif not data.strip():
            yield _Entry(str(number), offset, length, skip="blank line", complete=ended)
        else:
            yield _Entry(str(number), offset, length, hashlib.sha256(data.rstrip(b"\r\n")).hexdigest(), complete=ended)
        offset += length


def _skip_line(stream: BinaryIO) -> int:
    """Read past the rest of an over-long line; returns its bytes."""
    skipped = 0
    while True:
        block = stream.readline(_BLOCK)
        skipped += len(block)
        if not block or block.endswith(b"\n"):
            return skipped


def _warc_entries(fh: BinaryIO, start: int, gzipped: bool, max_bytes: int) -> Iterator[_Entry]:
    """The records of a WARC file from byte `start`, read with warcio. After a broken record the scan goes on at the
    next place a record may start (a gzip member, a WARC version line) where one parses."""
    size = os.fstat(fh.fileno()).st_size
    pos: int | None = start
    while pos is not None and pos < size:
        fh.seek(pos)
        records = ArchiveIterator(fh)
        # A record is passed on once the next one parsed: warcio finds a WARC gzipped whole (not a member a record)
        # only then, and the offsets it gave the first record are not a member's.
        held: _Entry | None = None
        try:
            for record in records:
                if held:
                    yield held
                    held = None
                offset = records.offset
                entry = _warc_entry(records, record, offset, max_bytes)
                if entry.problem is None:
                    held = entry
                    continue
                pos = _next_start(fh, offset + 1, gzipped)
                yield entry._replace(complete=pos is not None)
                break
            else:
                if held:
                    yield held
                return
        except BROKEN_RECORD as err:
            if _WHOLE_GZIP in str(err):
                yield _Entry(f"@{pos}", pos, size - pos, problem="gzip member holds more than one WARC record (the file "
                             "was gzipped whole): split it a record a member with `warcio recompress`")
                return
            if held:
                yield held
            offset = records.offset  # the broken record's start: warcio moves it past each record it finished
            pos = _next_start(fh, offset + 1, gzipped)
            yield _Entry(f"@{offset}", offset, (pos or size) - offset, complete=pos is not None,
                         problem=f"unreadable WARC record at byte {offset}: {_said(err)}")


def _warc_entry(records: ArchiveIterator, record, offset: int, max_bytes: int) -> _Entry:
    """One parsed WARC record framed: its content hashed as it streams by, its length checked."""
    digest, errors = hashlib.sha256(), records.err_count
    digest.update((record.rec_headers.get_header("WARC-Target-URI") or "").encode() + b"\n")
    while block := record.raw_stream.read(_BLOCK):
        digest.update(block)
    truncated = getattr(record.raw_stream, "limit", 0) > 0
    records.read_to_end()
    key = record.rec_headers.get_header("WARC-Record-ID") or f"@{offset}"
    # Up to where the next record starts: the blank lines after an uncompressed record included.
    length = records.offset - offset
    if truncated:
        return _Entry(key, offset, length, problem="truncated or corrupt WARC record: its content ends before its Content-Length")
    if records.err_count > errors:  # warcio found no blank line where Content-Length says the record ends
        return _Entry(key, offset, length, problem="bad WARC record length: Content-Length does not end at the record's end")
    skip = warc_skip_reason(record)
    if skip is None and record.length > max_bytes:
        return _Entry(key, offset, length,
                      problem=f"record too large: {record.length} bytes, over the max_file_bytes limit of {max_bytes}")
    return _Entry(key, offset, length, digest.hexdigest(), skip=skip)


def _said(err: Exception) -> str:
    """An error's first line, printable and short: warcio quotes the bytes it could not parse, binary included."""
    if isinstance(err, (AttributeError, TypeError)):
        return "malformed or truncated WARC header"
    line = (str(err).strip().splitlines() or [type(err).__name__])[0]
    return "".join(c if c.isprintable() else "?" for c in line)[:120]


def warc_skip_reason(record) -> str | None:
    """Why a WARC record is not a document (None: a 200 response of HTML or text)."""
    if record.rec_type != "response":
        return record.rec_type or "record without a WARC-Type"
    if record.http_headers is None:
        return "response without HTTP headers"
    if record.http_headers.get_statuscode() != "200":
        return "response with an HTTP status other than 200"
    if content_type(record)[0] not in DOCUMENT_TYPES:
        return "response neither HTML nor text"
    return None


def content_type(record) -> tuple[str, str | None]:
    """The media type of a WARC response's HTTP body and the charset its Content-Type names, if any."""
    value = record.http_headers.get_header("Content-Type") or ""
    media, *params = (part.strip() for part in value.split(";"))
    charset = next((p.split("=", 1)[1].strip().strip("\"'") for p in params if p.lower().startswith("charset=")), None)
    return media.lower(), charset or None


def _next_start(fh: BinaryIO, after: int, gzipped: bool) -> int | None:
    """The first byte at or after `after` where a record may start, or None."""
    marker, shift = (_GZIP_MAGIC, 0) if gzipped else (_WARC_LINE, 1)
    pos = after - shift
    while True:
        fh.seek(pos)
        block = fh.read(_BLOCK + len(marker))
        if len(block) < len(marker):
            return None
        found = block.find(marker)
        if found >= 0:
            return pos + found + shift
        pos += _BLOCK
