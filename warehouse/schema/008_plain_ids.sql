-- 008: the paragraph_id columns that runs update are stored uncompressed.
--
-- When a run moves stored occurrences to another passage (a cluster's canonical changed, or two clusters
-- merged), it updates paragraph_id in document_paragraphs and paragraph_fingerprints. Those rows lie all
-- over the table, so the commit's checkpoint rewrites the column in most of its row groups, and with
-- DuckDB's default choice of compression it re-ran FSST's analysis on each: about 0.4 s of a run of 1,000
-- files into a warehouse of a million paragraphs (commit 0.9 s, against 0.55 s uncompressed; README
-- "Scaling"). An id is 16 random hex digits, which compress poorly: uncompressed, the two columns take
-- 9 MB more at a million paragraphs (5,731 blocks of 256 KB in use against 5,696).
-- The tables are rebuilt with the same columns, constraints and row order, forcing the compression.

CREATE TABLE document_paragraphs_008 (
    doc_id        VARCHAR NOT NULL,
    position      INTEGER NOT NULL,
    paragraph_id  VARCHAR NOT NULL USING COMPRESSION uncompressed,
    text          VARCHAR NOT NULL,
    match         VARCHAR NOT NULL CHECK (match IN ('new', 'exact', 'near', 'contained')),
    similarity    DOUBLE NOT NULL,
    norm_hash     BIGINT NOT NULL
);
INSERT INTO document_paragraphs_008 BY NAME SELECT * FROM document_paragraphs;
DROP TABLE document_paragraphs;
ALTER TABLE document_paragraphs_008 RENAME TO document_paragraphs;

CREATE TABLE paragraph_fingerprints_008 (
    norm_hash       BIGINT NOT NULL,
    paragraph_id    VARCHAR NOT NULL USING COMPRESSION uncompressed,
    n_words         INTEGER NOT NULL,
    signature       BLOB NOT NULL,
    minhash_config  VARCHAR NOT NULL
);
INSERT INTO paragraph_fingerprints_008 BY NAME SELECT * FROM paragraph_fingerprints;
DROP TABLE paragraph_fingerprints;
ALTER TABLE paragraph_fingerprints_008 RENAME TO paragraph_fingerprints;
