-- 015: what cleaning dropped from each document, for the report's Source folders table (README "Warehouse").
--
-- Counted in non-whitespace characters, so that a file's layout (hard wraps, indents, blank lines) does not count.
-- text_chars is the decoded file or record as read: an HTML page's markup included. boilerplate_chars is the part
-- of it that is in none of the cleaned paragraphs: the lines the cleaner dropped, the title, and an HTML page's
-- markup. template_paragraphs counts the cleaned paragraphs dropped as template passages of the file's source
-- folder (005_templates.sql). Rows older than this migration hold NULL: nothing recorded what cleaning dropped.
ALTER TABLE documents ADD COLUMN text_chars BIGINT;
ALTER TABLE documents ADD COLUMN boilerplate_chars BIGINT;
ALTER TABLE documents ADD COLUMN template_paragraphs INTEGER;
