-- 004: an incremental BM25 index over paragraphs.text, kept current by every batch a run writes
-- (the fts extension's own index must be rebuilt whole after every change: ~30 s per million passages).
-- Terms: lower-cased, accents stripped, split on anything but letters and digits, English stop words
-- dropped, Porter-stemmed with the fts extension's stem().

DROP SCHEMA IF EXISTS fts_main_paragraphs CASCADE;

CREATE MACRO search_terms_of(text) AS list_transform(
    list_filter(
        regexp_split_to_array(lower(strip_accents(text)), '[^\p{L}\p{N}]+'),
        t -> t <> '' AND NOT list_contains(['a', 'about', 'above', 'after', 'again', 'against', 'all', 'am', 'an', 'and', 'any', 'are', 'as', 'at', 'be', 'because', 'been', 'before', 'being', 'below', 'between', 'both', 'but', 'by', 'can', 'could', 'did', 'do', 'does', 'doing', 'down', 'during', 'each', 'few', 'for', 'from', 'further', 'had', 'has', 'have', 'having', 'he', 'her', 'here', 'hers', 'herself', 'him', 'himself', 'his', 'how', 'i', 'if', 'in', 'into', 'is', 'it', 'its', 'itself', 'just', 'me', 'more', 'most', 'my', 'myself', 'no', 'nor', 'not', 'now', 'of', 'off', 'on', 'once', 'only', 'or', 'other', 'our', 'ours', 'ourselves', 'out', 'over', 'own', 'same', 'she', 'should', 'so', 'some', 'such', 'than', 'that', 'the', 'their', 'theirs', 'them', 'themselves', 'then', 'there', 'these', 'they', 'this', 'those', 'through', 'to', 'too', 'under', 'until', 'up', 'very', 'was', 'we', 'were', 'what', 'when', 'where', 'which', 'while', 'who', 'whom', 'why', 'will', 'with', 'would', 'you', 'your', 'yours', 'yourself', 'yourselves', 's', 't'], t)
    ),
    t -> stem(t, 'porter')
);

-- The stop words again as a table, for the bulk insert of each batch.
CREATE TABLE search_stopwords AS SELECT unnest(['a', 'about', 'above', 'after', 'again', 'against', 'all', 'am', 'an', 'and', 'any', 'are', 'as', 'at', 'be', 'because', 'been', 'before', 'being', 'below', 'between', 'both', 'but', 'by', 'can', 'could', 'did', 'do', 'does', 'doing', 'down', 'during', 'each', 'few', 'for', 'from', 'further', 'had', 'has', 'have', 'having', 'he', 'her', 'here', 'hers', 'herself', 'him', 'himself', 'his', 'how', 'i', 'if', 'in', 'into', 'is', 'it', 'its', 'itself', 'just', 'me', 'more', 'most', 'my', 'myself', 'no', 'nor', 'not', 'now', 'of', 'off', 'on', 'once', 'only', 'or', 'other', 'our', 'ours', 'ourselves', 'out', 'over', 'own', 'same', 'she', 'should', 'so', 'some', 'such', 'than', 'that', 'the', 'their', 'theirs', 'them', 'themselves', 'then', 'there', 'these', 'they', 'this', 'those', 'through', 'to', 'too', 'under', 'until', 'up', 'very', 'was', 'we', 'were', 'what', 'when', 'where', 'which', 'while', 'who', 'whom', 'why', 'will', 'with', 'would', 'you', 'your', 'yours', 'yourself', 'yourselves', 's', 't']) AS word;

CREATE TABLE search_docs (
    paragraph_id  VARCHAR PRIMARY KEY,
    n_terms       INTEGER NOT NULL
);

CREATE TABLE search_terms (
    term          VARCHAR NOT NULL,
    paragraph_id  VARCHAR NOT NULL,
    tf            INTEGER NOT NULL
);

INSERT INTO search_docs SELECT paragraph_id, len(search_terms_of(text)) FROM paragraphs;
INSERT INTO search_terms SELECT term, paragraph_id, count(*)::INTEGER
FROM (SELECT paragraph_id, unnest(search_terms_of(text)) AS term FROM paragraphs) GROUP BY ALL;

-- BM25 (k1 = 1.2, b = 0.75) of every passage that has a term of the query:
--   SELECT * FROM search_passages('bridge repair') ORDER BY score DESC LIMIT 10;
CREATE MACRO search_passages(q) AS TABLE
WITH query_terms AS (SELECT DISTINCT unnest(search_terms_of(q)) AS term),
     stats AS (SELECT count(*) AS n, avg(n_terms) AS avgdl FROM search_docs),
     df AS (SELECT term, count(*) AS df FROM search_terms JOIN query_terms USING (term) GROUP BY term)
SELECT t.paragraph_id,
       sum(ln(1 + (stats.n - df.df + 0.5) / (df.df + 0.5))
           * t.tf * 2.2 / (t.tf + 1.2 * (0.25 + 0.75 * d.n_terms / stats.avgdl))) AS score
FROM search_terms t
JOIN df USING (term)
JOIN search_docs d USING (paragraph_id)
CROSS JOIN stats
GROUP BY t.paragraph_id;
