-- 009: every stored variant keeps its normalised text (paragraph_fingerprints.norm).
--
-- A run verifies its candidates on the word shingles of normalised texts. For the stored side it used to
-- read one occurrence's text of every variant of the passages it touched and normalise it again: at a
-- million stored paragraphs, a run of 1,000 files normalised some 8,700 stored texts, about 0.55 s of its
-- planning, and read them through a join with all of document_paragraphs. The normalised text depends only
-- on the text and the normalising recipe, which is part of minhash_config ("norm1"), as is the norm_hash
-- derived from it: it is written once with the fingerprint and never changes.
--
-- The table is rebuilt with the same columns and constraints (008's uncompressed paragraph_id included; rows in
-- the join's order, which nothing relies on), each
-- row's norm computed from one of its occurrences by docdedup's own normaliser, registered by the migration
-- as docdedup_normalize. It takes about 1 minute per million stored variants. A fingerprint without an
-- occurrence (docdedup never writes one) would keep a NULL norm; runs skip such variants, as the join with
-- document_paragraphs did.

CREATE TABLE paragraph_fingerprints_009 (
    norm_hash       BIGINT NOT NULL,
    paragraph_id    VARCHAR NOT NULL USING COMPRESSION uncompressed,
    n_words         INTEGER NOT NULL,
    signature       BLOB NOT NULL,
    minhash_config  VARCHAR NOT NULL,
    norm            VARCHAR
);
INSERT INTO paragraph_fingerprints_009 BY NAME
SELECT f.*, docdedup_normalize(t.text) AS norm
FROM paragraph_fingerprints f
LEFT JOIN (SELECT norm_hash, any_value(text) AS text FROM document_paragraphs GROUP BY norm_hash) t USING (norm_hash);
DROP TABLE paragraph_fingerprints;
ALTER TABLE paragraph_fingerprints_009 RENAME TO paragraph_fingerprints;
