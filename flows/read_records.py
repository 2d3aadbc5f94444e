"""Read records: each record of a slice of a JSON Lines or WARC file -> a decoded document, or its rejection.

The chunk-task side of flows/containers.py: the scan framed the records, this reads them one at a time (the size cap
is a record's, never the container's) and turns each into the RawDocument a file would give, its given metadata
in `sidecar` (it wins over what cleaning extracts, as a sidecar does) and a WARC's fetch date in `fallback`.
"""

from __future__ import annotations

import codecs
import gzip
import io
import json
from typing import BinaryIO, Iterator

from warcio.archiveiterator import ArchiveIterator

from flows.config import Settings
from flows.containers import BROKEN_RECORD, RecordRef, RecordSlice, content_type
from flows.read import RawDocument, decode_bytes, iso_datetime, sniffed_format
from flows.records import Rejection

# The documents columns a feed record may set, and the setting naming its fields.
FEED_METADATA = {"title": "record_title_fields", "author": "record_author_fields", "published": "record_published_fields",
                 "site": "record_site_fields", "url": "record_url_fields", "language": "record_language_fields"}


def read_slice(piece: RecordSlice, settings: Settings) -> Iterator[RawDocument | Rejection]:
    """Each record of the slice, read and decoded; every problem becomes that record's Rejection."""
    container = piece.container
    with open(container.path, "rb") as raw:
        stream: BinaryIO = (gzip.GzipFile(fileobj=raw) if piece.kind == "jsonl"
                            and container.source_path.lower().endswith(".gz") else raw)
        for ref in piece.refs:
            source_path = f"{container.source_path}#{ref.key}"
            try:
                stream.seek(ref.offset)
                data = stream.read(ref.length)
                fields = (feed_record(data, settings) if piece.kind == "jsonl"
                          else warc_record(data, settings.max_file_bytes))
            except (ValueError, *BROKEN_RECORD) as err:
                yield Rejection(source_path, str(err), ref.sha256, ref.length, container.mtime_ns, container.source_path,
                                ref.offset)
                continue
            yield _document(source_path, ref, piece, **fields)


def _document(source_path: str, ref: RecordRef, piece: RecordSlice, *, format: str, encoding: str, content: str,
              sidecar: dict, fallback: dict, record_id: str | None) -> RawDocument:
    """The record as read_file would give a file: its place in the container kept beside it."""
    content = content.replace("\x00", "")  # as read_file: a stray NUL is never text
    return RawDocument(source_path, ref.sha256, ref.length, piece.container.mtime_ns, sniffed_format(format, content),
                       encoding, content,
                       sidecar, fallback, piece.container.source_path, ref.offset, record_id)


def feed_record(data: bytes, settings: Settings) -> dict:
    """One JSON Lines record: its markup (cleaned as HTML) or else its text, and its given metadata."""
    try:
        record = json.loads(data.decode("utf-8-sig"))
    except UnicodeDecodeError:
        raise ValueError("record is not UTF-8, as JSON Lines must be") from None
    except json.JSONDecodeError as err:
        raise ValueError(f"invalid JSON: {err}") from None
    if not isinstance(record, dict):
        raise ValueError(f"record is a JSON {type(record).__name__}, not an object")
    html = _field(record, settings.record_html_fields)
    text = _field(record, settings.record_text_fields)
    body = next((b for b in (html, text) if b and b.strip()), None)
    if body is None:
        names = ", ".join(settings.record_html_fields + settings.record_text_fields)
        raise ValueError(f"record has neither text nor HTML: no non-empty field among {names}")
    given = {column: _field(record, getattr(settings, names)) for column, names in FEED_METADATA.items()}
    given = {k: v for k, v in given.items() if v is not None}
    if "published" in given:
        given["published"] = iso_datetime(given["published"])
    record_id = _field(record, settings.record_id_fields, (str, int))
    return {"format": "html" if body is html else "text", "encoding": "utf-8", "content": body, "sidecar": given,
            "fallback": {}, "record_id": None if record_id is None else str(record_id)}


def _field(record: dict, names: tuple[str, ...], kinds: tuple[type, ...] = (str,)):
    """The value of the first of `names` the record has, not null (null: not given); None if none has one."""
    for name in names:
        value = record.get(name)
        if value is None:
            continue
        if isinstance(value, bool) or not isinstance(value, kinds):
            raise ValueError(f"field {name} must be a string, not a JSON {type(value).__name__}")
        return value
    return None


def warc_record(data: bytes, max_bytes: int) -> dict:
    """One WARC response record (its bytes as the scan framed them): the HTTP body decoded, charset from the HTTP
    headers first; the URL given, the fetch date a fallback for `published`."""
    record = next(iter(ArchiveIterator(io.BytesIO(data))))
    # content_stream undoes chunked transfer and gzip or deflate content encoding (brotli only with the brotli package).
    body = record.content_stream().read(max_bytes + 1)
    if len(body) > max_bytes:
        raise ValueError(f"record too large: over the max_file_bytes limit of {max_bytes} bytes once decoded")
    if not body.strip():
        raise ValueError("empty record: the response has no body")
    media, charset = content_type(record)
    decoded = _decode(body, charset)
    if decoded is None:
        raise ValueError("binary record: not text in any known encoding")
    headers = record.rec_headers
    url, fetched = headers.get_header("WARC-Target-URI"), headers.get_header("WARC-Date")
    return {"format": "text" if media == "text/plain" else "html", "encoding": decoded[1], "content": decoded[0],
            "sidecar": {"url": url} if url else {}, "fallback": {"published": _date(fetched)} if fetched else {},
            "record_id": headers.get_header("WARC-Record-ID")}


def _decode(body: bytes, charset: str | None) -> tuple[str, str] | None:
    """The charset the server named, when the body decodes with it; else read's own rules (BOM, UTF-8, detection)."""
    if charset:
        try:
            return body.decode(charset), codecs.lookup(charset).name
        except (LookupError, UnicodeDecodeError):
            pass
    return decode_bytes(body)


def _date(value: str):
    """A WARC-Date as a naive UTC datetime; None when it is not one (it is only a fallback)."""
    try:
        return iso_datetime(value)
    except ValueError:
        return None

