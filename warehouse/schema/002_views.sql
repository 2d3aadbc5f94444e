-- 002: views for people (README "Views"). Read them, export them; they hold no data of their own.

-- A document's site: the site name found by the cleaner, else the host of its URL, else NULL.
CREATE MACRO site_of(site, url) AS
    coalesce(site, nullif(regexp_extract(url, '^[a-zA-Z][a-zA-Z0-9+.-]*://(?:www\.)?([^/:?#]+)', 1), ''));

-- Each passage that appeared more than once, with how widely and when it travelled
-- (first/last_seen: publication dates of its dated appearances; first/last_ingested: when we got them).
CREATE VIEW duplicate_groups AS
SELECT
    p.paragraph_id,
    p.text                                           AS canonical_text,
    p.n_occurrences,
    count(DISTINCT dp.doc_id)                        AS n_documents,
    count(DISTINCT site_of(d.site, d.url))           AS n_sites,
    min(d.published)                                 AS first_seen,
    max(d.published)                                 AS last_seen,
    min(d.ingested_at)                               AS first_ingested,
    max(d.ingested_at)                               AS last_ingested,
    p.first_doc_id
FROM paragraphs p
JOIN document_paragraphs dp USING (paragraph_id)
JOIN documents d ON d.doc_id = dp.doc_id
WHERE p.n_occurrences > 1
GROUP BY p.paragraph_id, p.text, p.n_occurrences, p.first_doc_id;

-- Pairs of documents that share passages; share_a is the fraction of document a's paragraphs
-- whose passage also appears in document b (and share_b the reverse). doc_id_a < doc_id_b.
CREATE VIEW document_overlap AS
WITH per_doc AS (
    SELECT doc_id, paragraph_id, count(*) AS n
    FROM document_paragraphs
    GROUP BY doc_id, paragraph_id
), pairs AS (
    SELECT a.doc_id AS doc_id_a, b.doc_id AS doc_id_b,
           count(*) AS shared_passages, sum(a.n) AS paragraphs_a, sum(b.n) AS paragraphs_b
    FROM per_doc a JOIN per_doc b ON a.paragraph_id = b.paragraph_id AND a.doc_id < b.doc_id
    GROUP BY a.doc_id, b.doc_id
)
SELECT
    pairs.doc_id_a,
    pairs.doc_id_b,
    da.source_path                                   AS source_path_a,
    db.source_path                                   AS source_path_b,
    da.title                                         AS title_a,
    db.title                                         AS title_b,
    pairs.shared_passages,
    round(pairs.paragraphs_a / da.n_paragraphs, 4)   AS share_a,
    round(pairs.paragraphs_b / db.n_paragraphs, 4)   AS share_b
FROM pairs
JOIN documents da ON da.doc_id = pairs.doc_id_a
JOIN documents db ON db.doc_id = pairs.doc_id_b;

-- Every appearance of every passage in time order (appearance 1 published first).
CREATE VIEW passage_timeline AS
SELECT
    dp.paragraph_id,
    row_number() OVER (
        PARTITION BY dp.paragraph_id
        ORDER BY d.published NULLS LAST, d.run_id, d.source_path, dp.position
    )                                                AS appearance,
    d.published,
    site_of(d.site, d.url)                           AS site,
    d.title,
    d.source_path,
    d.url,
    dp.doc_id,
    dp.position,
    dp.match,
    dp.similarity,
    dp.text
FROM document_paragraphs dp
JOIN documents d ON d.doc_id = dp.doc_id;

-- Per site: documents, paragraphs, and how much of its text was original (first appearance) or reused.
CREATE VIEW source_stats AS
SELECT
    coalesce(site_of(d.site, d.url), '(unknown)')   AS site,
    count(DISTINCT d.doc_id)                         AS documents,
    count(*)                                         AS paragraphs,
    count(*) FILTER (WHERE dp.match = 'new')         AS original_paragraphs,
    count(*) FILTER (WHERE dp.match <> 'new')        AS reused_paragraphs,
    round(count(*) FILTER (WHERE dp.match = 'new') / count(*), 4) AS original_share,
    round(sum(length(dp.text)) FILTER (WHERE dp.match = 'new') / sum(length(dp.text)), 4) AS original_text_share
FROM document_paragraphs dp
JOIN documents d ON d.doc_id = dp.doc_id
GROUP BY 1;

-- Each document's text with reused passages removed: only the paragraphs it was first to carry.
CREATE VIEW unique_text AS
SELECT
    d.doc_id,
    d.source_path,
    d.title,
    d.n_paragraphs,
    count(dp.position) FILTER (WHERE dp.match = 'new')                                   AS n_unique_paragraphs,
    coalesce(string_agg(dp.text, chr(10) || chr(10) ORDER BY dp.position) FILTER (WHERE dp.match = 'new'), '') AS text
FROM documents d
LEFT JOIN document_paragraphs dp ON dp.doc_id = d.doc_id
GROUP BY d.doc_id, d.source_path, d.title, d.n_paragraphs;
