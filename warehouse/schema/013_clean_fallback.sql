-- 013: documents.clean_fallback, true when the cleaner kept nothing of the file and its body is the most
-- article-like span of the page instead (flows.clean.text.fallback_text): such a file used to be rejected with
-- "no article text found after removing boilerplate", its prose lost. Older rows were cleaned normally.
ALTER TABLE documents ADD COLUMN clean_fallback BOOLEAN DEFAULT false;
