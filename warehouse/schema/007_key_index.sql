-- 007: the state of lsh_bands that the band-key index beside the warehouse must match.
--
-- Candidate search looks band keys up in a sorted index kept in <warehouse>.bands/
-- (flows/warehouse/key_index.py), not in a join that reads all of lsh_bands. Every batch that adds
-- rows to lsh_bands sets their new count and a new token here, in its own transaction; the index
-- records the state it holds, and it is rebuilt from lsh_bands whenever the two differ.
-- A later migration that rewrites lsh_bands must set a new token.
CREATE TABLE key_index_state (
    table_name  VARCHAR NOT NULL,
    n_rows      BIGINT NOT NULL,
    token       VARCHAR NOT NULL
);
INSERT INTO key_index_state SELECT 'lsh_bands', count(*), uuid()::VARCHAR FROM lsh_bands;
