-- 012: every stored paragraph long enough for near matching gets its head and tail keys in sentence_keys.
--
-- A paragraph's containment keys were the hashes of its long sentences. A paragraph merged with the next one
-- shares no sentence with the first when nothing but a space separates them (a heading run into its paragraph),
-- so the merge was not found and joined the larger part as a near-duplicate. Its first and last words are now
-- keys too (flows.recipes.edge_texts), and the stored paragraphs get them here, so that new text meets old as
-- it meets text of its own run. The keys are computed from paragraph_fingerprints.norm by docdedup's own
-- recipe, registered by the migration as docdedup_edge_keys, for the variants that have band keys (`banded`, long
-- enough for near matching, which are the ones a run gives sentence keys).
INSERT INTO sentence_keys
SELECT DISTINCT unnest(docdedup_edge_keys(f.norm)) AS sentence_key, f.norm_hash
FROM paragraph_fingerprints f
WHERE f.banded AND f.norm IS NOT NULL;
