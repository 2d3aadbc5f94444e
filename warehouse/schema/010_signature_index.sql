-- 010: the state of paragraph_fingerprints that the signature index beside the warehouse must match.
--
-- The candidate floor compares the signatures of stored paragraphs that share a band key with new ones. They are
-- looked up in a sorted copy of (norm_hash, signature) kept in <warehouse>.signatures/ (flows/warehouse/key_index.py,
-- SIGNATURES), like the band keys in <warehouse>.bands/ (007): every batch that adds fingerprints sets their new
-- count and a new token here, in its own transaction, and the index is rebuilt from paragraph_fingerprints whenever
-- the two differ. The first run after this migration builds it. A later migration that rewrites
-- paragraph_fingerprints must set a new token.
INSERT INTO key_index_state SELECT 'paragraph_fingerprints', count(*), uuid()::VARCHAR FROM paragraph_fingerprints;
