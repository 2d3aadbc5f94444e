"""Prepare: the per-chunk work (read -> clean -> split -> fingerprint) that Prefect runs as one task."""

from __future__ import annotations

import hashlib
from dataclasses import dataclass, field

import numpy as np

from flows.clean import clean_document
from flows.config import Settings
from flows.discover import FoundFile, Rejection
from flows.fingerprint import content_hash, fingerprint_paragraphs, sentence_keys
from flows.read import RawDocument, Unchanged, read_file
from flows.split import normalize, split_paragraphs
from flows.warehouse import DocumentRow


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


@dataclass
class ChunkResult:
    """What one chunk of files became."""

    documents: list[PreparedDocument] = field(default_factory=list)
    rejections: list[Rejection] = field(default_factory=list)
    unchanged: list[Unchanged] = field(default_factory=list)


def document_id(source_path: str, sha256: str) -> str:
    """Id of one file version: the same path and bytes always give the same id."""
    return hashlib.sha256(f"{source_path}\n{sha256}".encode()).hexdigest()[:16]


def prepare_files(files: list[FoundFile], settings: Settings) -> ChunkResult:
    """Read, clean, split and fingerprint a chunk of files; a failing file becomes a rejection, never an error."""
    out = ChunkResult()
    for found in files:
        read = read_file(found, settings.max_file_bytes)
        if isinstance(read, (Rejection, Unchanged)):
            (out.rejections if isinstance(read, Rejection) else out.unchanged).append(read)
            continue
        try:
            doc = prepare_document(read, settings)
        except Exception as err:  # one bad file must never stop the others
            doc = Rejection(read.source_path, f"failed while cleaning: {type(err).__name__}: {err}",
                            read.sha256, read.size, read.mtime_ns)
        (out.rejections if isinstance(doc, Rejection) else out.documents).append(doc)
    return out


def prepare_document(raw: RawDocument, settings: Settings) -> PreparedDocument | Rejection:
    """Clean, split, normalise and fingerprint one decoded document."""
    clean = clean_document(raw)
    texts = split_paragraphs(clean.body)
    norms = [normalize(t) for t in texts]
    keep = [i for i, n in enumerate(norms) if n]  # paragraphs of punctuation only carry no text
    texts, norms = [texts[i] for i in keep], [norms[i] for i in keep]
    if not texts:
        return Rejection(raw.source_path, "no article text found after removing boilerplate",
                         raw.sha256, raw.size, raw.mtime_ns)
    fp = fingerprint_paragraphs(norms, settings.minhash)
    row = DocumentRow(
        doc_id=document_id(raw.source_path, raw.sha256),
        source_path=raw.source_path,
        sha256=raw.sha256,
        size_bytes=raw.size,
        mtime_ns=raw.mtime_ns,
        format=raw.format,
        encoding=raw.encoding,
        cleaner=clean.method,
        title=clean.title,
        author=clean.author,
        published=clean.published,
        site=clean.site,
        url=clean.url,
        language=clean.language,
        n_paragraphs=len(texts),
    )
    return PreparedDocument(row, texts, norms, [content_hash(n) for n in norms], fp.n_words, fp.signatures,
                            fp.band_keys, [sentence_keys(t, settings.min_words) for t in texts])


def merge_chunks(chunks: list[ChunkResult], discovery_rejections: list[Rejection]) -> ChunkResult:
    """One result for the whole run: every chunk's documents, rejections and unchanged files."""
    out = ChunkResult(rejections=list(discovery_rejections))
    for c in chunks:
        out.documents.extend(c.documents)
        out.rejections.extend(c.rejections)
        out.unchanged.extend(c.unchanged)
    return out
