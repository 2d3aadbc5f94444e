-- 011: LSH band keys are no longer stored in a table; they are computed again from the stored signatures.
--
-- lsh_bands held one row per band of every fingerprint long enough for near matching: 46 rows a paragraph: 41 million
-- rows and 347 MiB of a warehouse of a million paragraphs (a seventh of its file), written at every run and read only to
-- rebuild the band-key index beside the warehouse (flows/warehouse/key_index.py, 007). A band key is a hash of the
-- band's values of the signature (flows/fingerprint.py, band_keys), and the signature is stored with the recipe that
-- made it, bands and rows included (minhash_config): the index is now rebuilt from paragraph_fingerprints, each
-- signature's keys computed by docdedup's own code (registered by the rebuild as docdedup_band_keys).
--
-- What the table recorded beyond that, whether a fingerprint has band keys at all (not when its text has fewer than
-- Settings.min_words words, a setting that may change between runs), is kept as paragraph_fingerprints.banded.
-- The table is rebuilt with the same columns and constraints (009's) plus that one. Its rows and signatures do not
-- change, nor do the band keys, so both indexes beside the warehouse stay current: the band index keeps its state
-- in key_index_state under the name 'lsh_bands'. The signature and norm columns are stored uncompressed, as DuckDB
-- stored every run's rows of them already (random bytes, and texts each held once, with FSST off for writing:
-- connection.NO_COMPRESSION), without its analysis at each checkpoint; the norms rewritten here lose their FSST
-- compression. At a million paragraphs the warehouse uses 259 MiB less: 347 MiB freed, 88 MiB more for the norms.
-- DuckDB reuses the freed blocks for later writes; the file itself does not shrink.

CREATE TABLE paragraph_fingerprints_011 (
    norm_hash       BIGINT NOT NULL,
    paragraph_id    VARCHAR NOT NULL USING COMPRESSION uncompressed,
    n_words         INTEGER NOT NULL,
    signature       BLOB NOT NULL USING COMPRESSION uncompressed,
    minhash_config  VARCHAR NOT NULL,
    norm            VARCHAR USING COMPRESSION uncompressed,
    banded          BOOLEAN NOT NULL            -- has LSH band keys (in the band-key index)
);
INSERT INTO paragraph_fingerprints_011 BY NAME
SELECT f.*, b.norm_hash IS NOT NULL AS banded
FROM paragraph_fingerprints f
LEFT JOIN (SELECT DISTINCT norm_hash FROM lsh_bands) b USING (norm_hash);
DROP TABLE paragraph_fingerprints;
ALTER TABLE paragraph_fingerprints_011 RENAME TO paragraph_fingerprints;
DROP TABLE lsh_bands;
