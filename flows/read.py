"""Read: bytes of a found file -> decoded text with its format and encoding, or a rejection."""

from __future__ import annotations

import codecs
import errno
import gzip
import hashlib
import io
import json
import re
import time
import zlib
from dataclasses import dataclass, field
from datetime import datetime, timezone
from pathlib import Path

from charset_normalizer import from_bytes

from flows.discover import GZIP_SUFFIX, FoundFile, file_format
from flows.records import Rejection, Unchanged

_BOMS = [
    (codecs.BOM_UTF32_LE, "utf-32"),
    (codecs.BOM_UTF32_BE, "utf-32"),
    (codecs.BOM_UTF8, "utf-8-sig"),
    (codecs.BOM_UTF16_LE, "utf-16"),
    (codecs.BOM_UTF16_BE, "utf-16"),
]
# Control characters that never occur in text (tab, newlines and form feed excepted).
_CONTROL = re.compile(r"[\x00-\x08\x0b\x0e-\x1f\x7f]")
_HTML_START = re.compile(r"^\s*(<!--.*?-->\s*)*<(!doctype\s+html|html[\s>])", re.I | re.S)
# Read errors worth another try (a busy network share, a file being swapped in place), and the waits between tries.
_TRANSIENT = {errno.EAGAIN, errno.EINTR, errno.EIO, errno.EBUSY, errno.ETIMEDOUT, errno.ESTALE}
RETRY_DELAYS = (0.1, 0.5, 2.0)


@dataclass(frozen=True)
class RawDocument:
    """A decoded input file."""

    source_path: str
    sha256: str
    size: int
    mtime_ns: int
    format: str
    encoding: str
    content: str
    # Fields of the `<file name>.meta.json` sidecar beside the file, if there is one (checked; `published`
    # already a datetime): see read_sidecar. A record's given metadata (a feed's fields, a WARC's URL) too.
    sidecar: dict = field(default_factory=dict)
    # Metadata used only where the page states none (a WARC's fetch date for `published`).
    fallback: dict = field(default_factory=dict)
    # A record of a JSON Lines or WARC file: that file, the record's byte offset and its id.
    container: str | None = None
    record_offset: int | None = None
    record_id: str | None = None


def read_file(found: FoundFile, max_bytes: int) -> RawDocument | Unchanged | Rejection:
    """Read and decode one file; every problem becomes a Rejection with a reason a person can act on."""
    reject = lambda reason, sha=None: Rejection(found.source_path, reason, sha, found.size, found.mtime_ns)  # noqa: E731
    if found.size > max_bytes:
        return reject(f"file too large: {found.size} bytes, over the max_file_bytes limit of {max_bytes}")
    try:
        data = read_bytes(Path(found.path))
    except OSError as err:
        return reject(f"cannot read file: {err.strerror or err}")
    if len(data) > max_bytes:  # grew since it was listed
        return reject(f"file too large: {len(data)} bytes, over the max_file_bytes limit of {max_bytes}")
    sha = hashlib.sha256(data).hexdigest()
    if sha in found.known_sha256:
        return Unchanged(found.source_path, sha, found.size, found.mtime_ns)
    if found.source_path.lower().endswith(GZIP_SUFFIX):
        try:
            data = gunzip(data, max_bytes)
        except ValueError as err:
            return reject(str(err), sha)
    if not data.strip():
        return reject("empty file" if not data else "empty file (only whitespace)", sha)
    decoded = decode_bytes(data)
    if decoded is None:
        return reject("binary file: not text in any known encoding", sha)
    text, encoding = decoded
    text = text.replace("\x00", "")  # a stray NUL is never text, and DuckDB strings cannot hold it
    if not text.strip():
        return reject("empty file (only whitespace)", sha)
    fmt = sniffed_format(file_format(found.source_path) or "text", text)
    try:
        sidecar = read_sidecar(Path(found.path))
    except ValueError as err:
        return reject(str(err), sha)
    return RawDocument(found.source_path, sha, found.size, found.mtime_ns, fmt, encoding, text, sidecar)


def sniffed_format(fmt: str, text: str) -> str:
    """'html' for text that starts like an HTML page (saved as .txt, or given as a feed's text), else `fmt`."""
    return "html" if fmt == "text" and _HTML_START.match(text[:2000]) else fmt


# What a sidecar may set: the documents columns a crawler knows better than the page.
SIDECAR_FIELDS = ("title", "author", "published", "site", "url", "language")
SIDECAR_SUFFIX = ".meta.json"


def read_sidecar(path: Path) -> dict:
    """The metadata in `<file name>.meta.json` beside `path` ({} without one): a JSON object of
    SIDECAR_FIELDS with string (or null) values. Anything else is a ValueError naming the sidecar."""
    sidecar = path.with_name(path.name + SIDECAR_SUFFIX)
    try:
        data = json.loads(sidecar.read_text(encoding="utf-8"))
    except FileNotFoundError:
        return {}
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as err:
        raise ValueError(f"bad sidecar {sidecar.name}: {err}") from None
    if not isinstance(data, dict):
        raise ValueError(f"bad sidecar {sidecar.name}: not a JSON object")
    unknown = sorted(set(data) - set(SIDECAR_FIELDS))
    if unknown:
        raise ValueError(f"bad sidecar {sidecar.name}: unknown field(s) {', '.join(unknown)}; "
                         f"known: {', '.join(SIDECAR_FIELDS)}")
    wrong = sorted(k for k, v in data.items() if v is not None and not isinstance(v, str))
    if wrong:
        raise ValueError(f"bad sidecar {sidecar.name}: {', '.join(wrong)} must be a string")
    if data.get("published") is not None:
        data["published"] = _iso_datetime(data["published"], sidecar.name)
    return data


def _iso_datetime(value: str, name: str) -> datetime:
    """A sidecar's `published` as iso_datetime reads it; the error names the sidecar."""
    try:
        return iso_datetime(value)
    except ValueError as err:
        raise ValueError(f"bad sidecar {name}: {err}") from None


def iso_datetime(value: str) -> datetime:
    """An ISO 8601 date or date-time as a naive UTC datetime (a time zone is converted to UTC)."""
    try:
        parsed = datetime.fromisoformat(value.strip())
    except ValueError:
        raise ValueError(f"published must be an ISO 8601 date such as 2025-03-01 "
                         f"or 2025-03-01T09:30:00Z, not {value!r}") from None
    return parsed.astimezone(timezone.utc).replace(tzinfo=None) if parsed.tzinfo else parsed


def known_content(found: FoundFile) -> bool:
    """A listed file whose bytes the warehouse already has under its path (touched, not changed), hashed in
    pieces without decoding; what read_file would call Unchanged."""
    if not found.known_sha256:
        return False
    try:
        with open(found.path, "rb") as fh:
            return hashlib.file_digest(fh, "sha256").hexdigest() in found.known_sha256
    except OSError:
        return False


def read_bytes(path: Path) -> bytes:
    """The file's bytes, retrying transient I/O errors with backoff; the last error is raised."""
    for delay in RETRY_DELAYS:
        try:
            return path.read_bytes()
        except OSError as err:
            if err.errno not in _TRANSIENT:
                raise
            time.sleep(delay)
    return path.read_bytes()


def gunzip(data: bytes, max_bytes: int) -> bytes:
    """Decompress a gzip file, refusing more than `max_bytes` of output (a gzip bomb stops there)."""
    try:
        with gzip.GzipFile(fileobj=io.BytesIO(data)) as fh:
            out = fh.read(max_bytes + 1)
    except (OSError, EOFError, zlib.error) as err:
        raise ValueError(f"corrupt or truncated gzip file: {err}") from None
    if len(out) > max_bytes:
        raise ValueError(f"file too large: over the max_file_bytes limit of {max_bytes} bytes once decompressed")
    return out


def decode_bytes(data: bytes) -> tuple[str, str] | None:
    """Decode to text: a BOM wins, then strict UTF-8, then charset detection; None for binary data."""
    for bom, encoding in _BOMS:
        if data.startswith(bom):
            try:
                return _check_text(data.decode(encoding), encoding)
            except UnicodeDecodeError:
                return None
    if b"\x00" in data[:8192]:
        return None
    try:
        return _check_text(data.decode("utf-8"), "utf-8")
    except UnicodeDecodeError:
        pass
    best = from_bytes(data).best()
    if best is None:
        return None
    return _check_text(str(best), best.encoding)


def _check_text(text: str, encoding: str) -> tuple[str, str] | None:
    """Reject decodings that are mostly control characters: that is binary data, whatever decoded it."""
    sample = text[:65536]
    if sample and len(_CONTROL.findall(sample)) > 0.01 * len(sample):
        return None
    return text, encoding
