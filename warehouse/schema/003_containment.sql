-- 003: passages inside longer paragraphs (split and merged paragraphs).

-- Hashes of the normalised sentences (6 words or more) of every fingerprinted paragraph:
-- paragraphs sharing a sentence are containment candidates.
CREATE TABLE sentence_keys (
    sentence_key  BIGINT NOT NULL,
    norm_hash     BIGINT NOT NULL
);

-- Passage paragraph_id is contained in passage whole_paragraph_id: a paragraph that merged it with
-- other text. (A later paragraph that is part of an earlier passage joins that passage instead,
-- with match = 'contained' in document_paragraphs.)
CREATE TABLE passage_links (
    paragraph_id        VARCHAR NOT NULL,
    whole_paragraph_id  VARCHAR NOT NULL,
    containment         DOUBLE NOT NULL,   -- share of the part's word shingles found in the whole
    run_id              INTEGER NOT NULL
);

ALTER TABLE runs ADD COLUMN paragraphs_contained INTEGER DEFAULT 0;
