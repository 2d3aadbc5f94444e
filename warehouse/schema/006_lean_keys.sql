-- 006: writes whose cost follows the run, not the warehouse.
--
-- No ART index on the tables that grow with every paragraph.
-- DuckDB rewrites a table's whole ART index at every checkpoint after a change, so the PRIMARY KEYs of
-- paragraphs, document_paragraphs, paragraph_fingerprints and search_docs made each run's commit cost
-- grow with the warehouse (about 0.4 s per million-row index). Their uniqueness holds by construction:
-- a document's rows come from that document only (documents keeps its keys), a passage's row is
-- deleted before it is written again, a fingerprint is written only for a text the warehouse did not
-- hold, and tests/test_pipeline.py checks every key after repeated and overlapping runs.
-- The tables are rebuilt with the same columns and constraints, minus the key.

CREATE TABLE paragraphs_006 (
    paragraph_id    VARCHAR NOT NULL,
    text            VARCHAR NOT NULL,
    first_doc_id    VARCHAR NOT NULL,
    first_position  INTEGER NOT NULL,
    n_occurrences   INTEGER NOT NULL,
    n_documents     INTEGER NOT NULL,
    norm_hash       BIGINT NOT NULL
);
INSERT INTO paragraphs_006 BY NAME SELECT * FROM paragraphs;
DROP TABLE paragraphs;
ALTER TABLE paragraphs_006 RENAME TO paragraphs;

CREATE TABLE document_paragraphs_006 (
    doc_id        VARCHAR NOT NULL,
    position      INTEGER NOT NULL,
    paragraph_id  VARCHAR NOT NULL,
    text          VARCHAR NOT NULL,
    match         VARCHAR NOT NULL CHECK (match IN ('new', 'exact', 'near', 'contained')),
    similarity    DOUBLE NOT NULL,
    norm_hash     BIGINT NOT NULL
);
INSERT INTO document_paragraphs_006 BY NAME SELECT * FROM document_paragraphs ORDER BY doc_id, position;
DROP TABLE document_paragraphs;
ALTER TABLE document_paragraphs_006 RENAME TO document_paragraphs;

CREATE TABLE paragraph_fingerprints_006 (
    norm_hash       BIGINT NOT NULL,
    paragraph_id    VARCHAR NOT NULL,
    n_words         INTEGER NOT NULL,
    signature       BLOB NOT NULL,
    minhash_config  VARCHAR NOT NULL
);
INSERT INTO paragraph_fingerprints_006 BY NAME SELECT * FROM paragraph_fingerprints;
DROP TABLE paragraph_fingerprints;
ALTER TABLE paragraph_fingerprints_006 RENAME TO paragraph_fingerprints;

CREATE TABLE search_docs_006 (
    paragraph_id  VARCHAR NOT NULL,
    n_terms       INTEGER NOT NULL
);
INSERT INTO search_docs_006 BY NAME SELECT * FROM search_docs;
DROP TABLE search_docs;
ALTER TABLE search_docs_006 RENAME TO search_docs;

-- A retired passage (merged into an earlier one) leaves search_docs, and its rows in search_terms stay
-- behind: deleting them meant scanning the whole index in every run. Search counts only the rows of
-- passages in search_docs, so the stale rows change no score.
CREATE OR REPLACE MACRO search_passages(q) AS TABLE
WITH query_terms AS (SELECT DISTINCT unnest(search_terms_of(q)) AS term),
     stats AS (SELECT count(*) AS n, avg(n_terms) AS avgdl FROM search_docs),
     hits AS (SELECT t.term, t.paragraph_id, t.tf, d.n_terms
              FROM search_terms t JOIN query_terms USING (term) JOIN search_docs d USING (paragraph_id)),
     df AS (SELECT term, count(*) AS df FROM hits GROUP BY term)
SELECT h.paragraph_id,
       sum(ln(1 + (stats.n - df.df + 0.5) / (df.df + 0.5))
           * h.tf * 2.2 / (h.tf + 1.2 * (0.25 + 0.75 * h.n_terms / stats.avgdl))) AS score
FROM hits h
JOIN df USING (term)
CROSS JOIN stats
GROUP BY h.paragraph_id;
