-- 005: template passages, learned from the corpus.
-- A source is the folder a file sits in, relative to the drop folder (files at its top have none).
-- A passage that recurs in at least `min_docs` files of one source, and in at least the share `share`
-- of that source's files, is the source's template (a newsletter line, a standing disclaimer), even if
-- it reads like prose: later runs drop it from that source's new files. Syndicated passages recur
-- across sources, not within one, and stay.
CREATE MACRO source_of(source_path) AS regexp_extract(source_path, '^(.*)/[^/]*$', 1);

-- The template passages of the sources in the list `sources` (NULL: of every source). A run asks only
-- for the sources of its own files, so its cost follows those sources, not the whole warehouse.
CREATE MACRO template_passages_in(sources, min_docs, share) AS TABLE
    WITH docs AS (
        SELECT doc_id, source_path, source_of(source_path) AS source FROM documents
        WHERE source_of(source_path) <> '' AND (sources IS NULL OR list_contains(sources, source_of(source_path)))
    ), counted AS (
        SELECT source, count(DISTINCT source_path) AS n_files FROM docs GROUP BY source
    )
    SELECT * FROM (
        SELECT d.source, dp.norm_hash, count(DISTINCT d.source_path) AS n_files, s.n_files AS source_files,
               min(dp.text) AS text
        FROM document_paragraphs dp JOIN docs d USING (doc_id) JOIN counted s USING (source)
        GROUP BY d.source, dp.norm_hash, s.n_files
    )
    WHERE n_files >= min_docs AND n_files >= share * source_files;

CREATE MACRO template_passages(min_docs, share) AS TABLE
    SELECT * FROM template_passages_in(NULL, min_docs, share);
