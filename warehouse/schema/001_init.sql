-- 001: the warehouse contract (README "Warehouse") plus the fingerprint store behind incremental dedup.

CREATE TABLE runs (
    run_id            INTEGER PRIMARY KEY,      -- 1, 2, 3, ... in the order runs committed
    started_at        TIMESTAMP NOT NULL,
    finished_at       TIMESTAMP NOT NULL,
    raw_dir           VARCHAR,
    files_new         INTEGER NOT NULL,         -- ingested as documents
    files_unchanged   INTEGER NOT NULL,         -- already in the warehouse with the same content
    files_rejected    INTEGER NOT NULL,
    paragraphs_total  INTEGER NOT NULL,
    paragraphs_new    INTEGER NOT NULL,         -- first appearance of a passage
    paragraphs_exact  INTEGER NOT NULL,         -- same text as a known passage after normalisation
    paragraphs_near   INTEGER NOT NULL,         -- near-duplicate of a known passage
    threshold         DOUBLE NOT NULL,
    minhash_config    VARCHAR NOT NULL,
    docdedup_version  VARCHAR NOT NULL
);

CREATE TABLE documents (
    doc_id        VARCHAR PRIMARY KEY,          -- hash of (source_path, sha256): one row per file version
    source_path   VARCHAR NOT NULL,             -- relative to the drop folder, '/' separators
    sha256        VARCHAR NOT NULL,
    size_bytes    BIGINT NOT NULL,
    mtime_ns      BIGINT,
    version       INTEGER NOT NULL,             -- 1 for the first content seen at this path, then 2, ...
    format        VARCHAR NOT NULL,             -- 'text' | 'html'
    encoding      VARCHAR,
    cleaner       VARCHAR,                      -- which extraction produced the body
    title         VARCHAR,
    author        VARCHAR,
    published     TIMESTAMP,
    site          VARCHAR,
    url           VARCHAR,
    language      VARCHAR,
    n_paragraphs  INTEGER NOT NULL,
    ingested_at   TIMESTAMP NOT NULL,
    run_id        INTEGER NOT NULL,
    UNIQUE (source_path, sha256)
);

CREATE TABLE paragraphs (
    paragraph_id    VARCHAR PRIMARY KEY,        -- derived from the canonical occurrence (doc_id, position)
    text            VARCHAR NOT NULL,           -- the canonical occurrence's text
    first_doc_id    VARCHAR NOT NULL,
    first_position  INTEGER NOT NULL,
    n_occurrences   INTEGER NOT NULL,
    n_documents     INTEGER NOT NULL,
    norm_hash       BIGINT NOT NULL             -- hash of the canonical's normalised text
);

CREATE TABLE document_paragraphs (
    doc_id        VARCHAR NOT NULL,
    position      INTEGER NOT NULL,             -- 0-based, in document order
    paragraph_id  VARCHAR NOT NULL,             -- its passage (cluster canonical)
    text          VARCHAR NOT NULL,             -- as it stands in this document
    match         VARCHAR NOT NULL CHECK (match IN ('new', 'exact', 'near', 'contained')),
    similarity    DOUBLE NOT NULL,              -- Jaccard of word shingles with the canonical
    norm_hash     BIGINT NOT NULL,
    PRIMARY KEY (doc_id, position)
);

CREATE TABLE rejected_files (
    source_path  VARCHAR NOT NULL,
    sha256       VARCHAR,                       -- NULL when the file could not be read
    size_bytes   BIGINT,
    mtime_ns     BIGINT,
    reason       VARCHAR NOT NULL,
    rejected_at  TIMESTAMP NOT NULL,
    run_id       INTEGER NOT NULL
);

-- One row per distinct normalised paragraph text: its cluster and MinHash signature.
CREATE TABLE paragraph_fingerprints (
    norm_hash       BIGINT PRIMARY KEY,
    paragraph_id    VARCHAR NOT NULL,
    n_words         INTEGER NOT NULL,
    signature       BLOB NOT NULL,              -- uint32 little-endian x num_perm
    minhash_config  VARCHAR NOT NULL            -- recipe that made the signature (MinHashConfig.fingerprint)
);

-- LSH band keys of every fingerprint long enough for near matching.
CREATE TABLE lsh_bands (
    band_key   BIGINT NOT NULL,
    norm_hash  BIGINT NOT NULL
);
