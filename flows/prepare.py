"""Prepare: the per-chunk work (read -> clean -> split -> fingerprint) that Prefect runs as one task."""

from __future__ import annotations

import dataclasses
import hashlib
import time
from collections import Counter
from dataclasses import dataclass, field
from typing import Iterator, Mapping

import numpy as np

from flows.clean import clean_document
from flows.config import Settings
from flows.containers import RecordSlice
from flows.discover import FoundFile
from flows.fingerprint import content_hash, fingerprint_paragraphs, sentence_keys
from flows.read import RawDocument, read_file
from flows.read_records import read_slice
from flows.records import DocumentRow, Rejection, Unchanged
from flows.split import normalize_paragraphs, split_paragraphs


@dataclass(frozen=True)
class PreparedDocument:
    """A cleaned, split and fingerprinted document, ready for dedup (rows of the arrays align with texts)."""

    row: DocumentRow
    texts: list[str]
    norms: list[str]
    norm_hashes: list[int]
    n_words: np.ndarray
    signatures: np.ndarray
    band_keys: np.ndarray
    sentence_keys: list[np.ndarray]
    # The shingle hashes of paragraph i are shingles[shingle_offsets[i]:shingle_offsets[i + 1]] (verification's sets)
    shingles: np.ndarray
    shingle_offsets: np.ndarray


@dataclass
class ChunkResult:
    """What one chunk of files became."""

    documents: list[PreparedDocument] = field(default_factory=list)
    rejections: list[Rejection] = field(default_factory=list)
    unchanged: list[Unchanged] = field(default_factory=list)
    # Seconds spent in each stage (read, clean, fingerprint), summed over the chunks merged here.
    seconds: Counter = field(default_factory=Counter)
    # Paragraphs dropped as template passages of their source (see `without_templates`).
    template_paragraphs: int = 0


def document_id(source_path: str, sha256: str) -> str:
    """Id of one file version: the same path and bytes always give the same id."""
    return hashlib.sha256(f"{source_path}\n{sha256}".encode()).hexdigest()[:16]


def prepare_files(files: list[FoundFile | RecordSlice], settings: Settings,
                  templates: Mapping[str, frozenset[int]] | None = None) -> ChunkResult:
    """Read, clean, split and fingerprint a chunk of files and slices of containers' records; a failing file or
    record becomes a rejection, never an error.

    `templates` holds each source folder's template passages (warehouse.template_hashes), dropped here."""
    out = ChunkResult()
    cleaned: list[tuple[DocumentRow, list[str]]] = []
    dropped: list[bool] = []  # whether template passages were all the file had
    clock = time.perf_counter()
    for read in _read_items(files, settings):
        clock = _lap(out.seconds, "read", clock)
        if isinstance(read, (Rejection, Unchanged)):
            (out.rejections if isinstance(read, Rejection) else out.unchanged).append(read)
            continue
        try:
            row, paragraphs = clean_and_split(read)
            kept = without_templates(row.source_path, paragraphs, templates or {})
            out.template_paragraphs += len(paragraphs) - len(kept)
            cleaned.append((dataclasses.replace(row, template_paragraphs=len(paragraphs) - len(kept)), kept))
            dropped.append(bool(paragraphs) and not kept)
        except Exception as err:  # one bad file must never stop the others
            out.rejections.append(Rejection(read.source_path, f"failed while cleaning: {type(err).__name__}: {err}",
                                            read.sha256, read.size, read.mtime_ns, read.container, read.record_offset))
        clock = _lap(out.seconds, "clean", clock)
    prepared = fingerprint_documents(cleaned, settings)
    _lap(out.seconds, "fingerprint", clock)
    for (row, _), doc, templated in zip(cleaned, prepared, dropped):
        if doc is None:
            reason = ("every paragraph is a template passage of its source folder" if templated else
                      "no article text found after removing boilerplate")
            out.rejections.append(Rejection(row.source_path, reason, row.sha256, row.size_bytes, row.mtime_ns,
                                            row.container, row.record_offset))
        else:
            out.documents.append(doc)
    return out


def _read_items(items: list[FoundFile | RecordSlice], settings: Settings) -> Iterator[RawDocument | Rejection | Unchanged]:
    """Each file read whole, each record of a slice read in turn."""
    for item in items:
        if isinstance(item, RecordSlice):
            yield from read_slice(item, settings)
        else:
            yield read_file(item, settings.max_file_bytes)


def source_folder(source_path: str) -> str:
    """The folder a file sits in, relative to the drop folder ('' at its top): its source, as in the
    warehouse's `source_of` macro."""
    return source_path.rpartition("/")[0]


def without_templates(source_path: str, paragraphs: list[str], templates: Mapping[str, frozenset[int]]) -> list[str]:
    """The paragraphs that are not a template passage of the file's source (005_templates.sql), compared by
    the hash of their normalised text, as stored in document_paragraphs.norm_hash."""
    known = templates.get(source_folder(source_path))
    if not known:
        return paragraphs
    norms = normalize_paragraphs(paragraphs)
    return [p for p, sentences in zip(paragraphs, norms) if content_hash(" ".join(sentences)) not in known]


def _lap(seconds: Counter, stage: str, since: float) -> float:
    """Add the time since `since` to `stage`; the new start."""
    now = time.perf_counter()
    seconds[stage] += now - since
    return now


_ROW_FIELDS = frozenset(DocumentRow.__dataclass_fields__)


def clean_and_split(raw: RawDocument) -> tuple[DocumentRow, list[str]]:
    """A decoded file's warehouse row (n_paragraphs filled later) and its cleaned paragraphs."""
    clean = clean_document(raw)
    # The metadata the cleaner found: its fields that the row has by the same name (title, author, published, ...).
    metadata = {f.name: getattr(clean, f.name) for f in dataclasses.fields(clean) if f.name in _ROW_FIELDS}
    paragraphs = split_paragraphs(clean.body)
    text_chars = visible_chars(raw.content)
    # Never below 0: the HTML cleaner writes a few characters of its own (a list item's dash).
    boilerplate_chars = max(text_chars - sum(map(visible_chars, paragraphs)), 0)
    row = DocumentRow(doc_id=document_id(raw.source_path, raw.sha256), source_path=raw.source_path, sha256=raw.sha256,
                      size_bytes=raw.size, mtime_ns=raw.mtime_ns, format=raw.format, encoding=raw.encoding,
                      cleaner=clean.method, n_paragraphs=0, container=raw.container,
                      record_offset=raw.record_offset, record_id=raw.record_id, text_chars=text_chars,
                      boilerplate_chars=boilerplate_chars, **metadata)
    return row, paragraphs


def visible_chars(text: str) -> int:
    """Non-whitespace characters: what cleaning kept or dropped, whatever the file's wrapping and indents."""
    return sum(map(len, text.split()))


def fingerprint_documents(items: list[tuple[DocumentRow, list[str]]], settings: Settings) -> list[PreparedDocument | None]:
    """Normalise the paragraphs of many documents and fingerprint them in one vectorised call.

    Paragraphs without a word (punctuation only) are dropped; a document left with none is None.
    Files of one story repeat paragraphs verbatim, and typographic variants of a paragraph normalise alike: each
    distinct text is normalised once, and each distinct normalised text fingerprinted once, then handed to every
    paragraph that has it (the syndication benchmark's 13,271 paragraphs hold 9,720 distinct texts, 8,328 distinct
    normalised ones; only repeats inside one call count, which in a run is one chunk of files).
    """
    distinct = list(dict.fromkeys(t for _, texts in items for t in texts))
    sentences_of = dict(zip(distinct, normalize_paragraphs(distinct)))
    norm_of = {t: " ".join(sentences) for t, sentences in sentences_of.items() if sentences}
    norms = list(dict.fromkeys(norm_of.values()))
    row_of = {n: i for i, n in enumerate(norms)}
    kept = [(row, [t for t in texts if t in norm_of]) for row, texts in items]
    # Each kept paragraph's row among the distinct norms, all documents in turn.
    rows = np.fromiter((row_of[norm_of[t]] for _, texts in kept for t in texts), dtype=np.int64)
    fp = fingerprint_paragraphs(norms, settings.minhash)
    hash_of = dict(zip(norms, map(content_hash, norms)))
    keys_of = dict(zip(norm_of, sentence_keys([sentences_of[t] for t in norm_of], settings.min_words)))
    # The shingle runs of the kept paragraphs, one after another: paragraph i's are shingles[offsets[i]:offsets[i + 1]].
    lengths = fp.offsets[rows + 1] - fp.offsets[rows]
    offsets = np.concatenate(([0], np.cumsum(lengths))).astype(np.int64)
    shingles = fp.shingles[np.repeat(fp.offsets[rows] - offsets[:-1], lengths) + np.arange(offsets[-1])]
    n_words, signatures, band_keys = fp.n_words[rows], fp.signatures[rows], fp.band_keys[rows]
    out: list[PreparedDocument | None] = []
    start = 0
    for row, texts in kept:
        if not texts:
            out.append(None)
            continue
        end = start + len(texts)
        doc_norms = [norm_of[t] for t in texts]
        out.append(PreparedDocument(
            dataclasses.replace(row, n_paragraphs=len(texts)), texts, doc_norms, [hash_of[n] for n in doc_norms],
            n_words[start:end], signatures[start:end], band_keys[start:end], [keys_of[t] for t in texts],
            shingles[offsets[start]:offsets[end]], offsets[start:end + 1] - offsets[start],
        ))
        start = end
    return out


def merge_chunks(chunks: list[ChunkResult], discovery_rejections: list[Rejection]) -> ChunkResult:
    """One result for the whole run: every chunk's documents, rejections and unchanged files."""
    out = ChunkResult(rejections=list(discovery_rejections))
    for c in chunks:
        out.documents.extend(c.documents)
        out.rejections.extend(c.rejections)
        out.unchanged.extend(c.unchanged)
        out.seconds.update(c.seconds)
        out.template_paragraphs += c.template_paragraphs
    return out
