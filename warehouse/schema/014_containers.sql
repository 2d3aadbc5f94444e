-- 014: JSON Lines feeds and WARC archives, read record by record (README "Feeds and crawls").
--
-- A record of a container is a document of its own: source_path is `<container>#<record>` (a line number of a
-- feed, the WARC-Record-ID of an archive), and these columns say where it came from. Files read whole leave them NULL.
ALTER TABLE documents ADD COLUMN container VARCHAR;         -- the container's path, relative to the drop folder
ALTER TABLE documents ADD COLUMN record_offset BIGINT;      -- byte offset of the record (a feed's decompressed bytes)
ALTER TABLE documents ADD COLUMN record_id VARCHAR;         -- WARC-Record-ID, or the feed record's id field

ALTER TABLE rejected_files ADD COLUMN container VARCHAR;
ALTER TABLE rejected_files ADD COLUMN record_offset BIGINT;

-- Records that are not documents (WARC requests, metadata, revisits, non-200 or non-HTML responses, blank lines).
ALTER TABLE runs ADD COLUMN records_skipped INTEGER DEFAULT 0;

-- How far each container has been read: the next run starts at scanned_bytes when the first scanned_bytes are
-- still the same (prefix_sha256), so a feed appended to daily is read from where the last run stopped. A container
-- rewritten in place is read again from its start, and its records already stored are skipped by their hash.
CREATE TABLE containers (
    source_path    VARCHAR PRIMARY KEY,
    size_bytes     BIGINT NOT NULL,          -- with mtime_ns: the state discovery skips unread when unchanged
    mtime_ns       BIGINT,
    scanned_bytes  BIGINT NOT NULL,          -- end of the last complete record read (a feed's decompressed bytes)
    n_records      BIGINT NOT NULL,          -- records (a feed's lines) before scanned_bytes
    prefix_sha256  VARCHAR NOT NULL,         -- of the first scanned_bytes
    run_id         INTEGER NOT NULL
);
