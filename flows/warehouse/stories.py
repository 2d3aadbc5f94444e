"""How stories spread: the aggregates behind `docdedup report`, each a GROUP BY in DuckDB returning a few rows.

An outlet is a document's site (site_of: the cleaner's site name, else its URL's host), else its source folder.
A passage's original is its first occurrence in publication order (undated last, then run, source path and
position): the order the warehouse picks canonical paragraphs by, so "first" means the same everywhere.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date
from typing import NamedTuple

import duckdb

from flows.config import Settings

# The documents the report covers (its --since and --source) and their occurrences. Undated documents count
# from when they were ingested, so that --since never hides everything a warehouse without dates holds.
SCOPE = """
docs AS (
    SELECT doc_id, source_path, title, published, run_id, n_paragraphs, text_chars, boilerplate_chars, template_paragraphs,
           coalesce(site_of(site, url), nullif(source_of(source_path), ''), '(top level)') AS outlet,
           coalesce(nullif(source_of(source_path), ''), '(top level)') AS folder
    FROM documents
    WHERE ($since IS NULL OR coalesce(published, ingested_at) >= $since)
      AND ($source IS NULL OR source_of(source_path) = $source OR starts_with(source_path, $source || '/'))
), occ AS (
    SELECT dp.paragraph_id, dp.doc_id, dp.position, dp.match, length(dp.text) AS chars,
           d.outlet, d.folder, d.published, d.run_id, d.source_path, d.title
    FROM document_paragraphs dp JOIN docs d USING (doc_id)
)"""
FIRST = "row_number() OVER (PARTITION BY paragraph_id ORDER BY published NULLS LAST, run_id, source_path, position) = 1"

TOP_PASSAGES = f"""
WITH {SCOPE}, top AS (
    SELECT paragraph_id, count(DISTINCT outlet) AS n_outlets, count(DISTINCT doc_id) AS n_documents
    FROM occ GROUP BY paragraph_id HAVING count(DISTINCT doc_id) > 1
    ORDER BY n_outlets DESC, n_documents DESC, paragraph_id LIMIT $top
), origin AS (
    SELECT * FROM occ WHERE paragraph_id IN (SELECT paragraph_id FROM top) QUALIFY {FIRST}
)
SELECT t.paragraph_id, p.text, t.n_outlets, t.n_documents, o.outlet, o.published, o.doc_id, o.title
FROM top t JOIN paragraphs p USING (paragraph_id) JOIN origin o USING (paragraph_id)
ORDER BY t.n_outlets DESC, t.n_documents DESC, t.paragraph_id"""

# Stories: a story is the original of a set of syndicated passages (carried by more than one document), the
# document where they first appeared; ranked by the outlets, then documents, carrying any of its passages, the
# `$top` first. Then every document carrying some of them: which of the story's passages (by their position in the
# original), when. `$rows` bounds the documents shown a story.
STORIES = f"""
WITH {SCOPE}, origin AS (
    SELECT paragraph_id, doc_id AS story_doc, position AS passage FROM occ
    WHERE paragraph_id IN (SELECT paragraph_id FROM occ GROUP BY paragraph_id HAVING count(DISTINCT doc_id) > 1)
    QUALIFY {FIRST}
), ranked AS (
    SELECT g.story_doc, count(DISTINCT o.outlet) AS n_outlets, count(DISTINCT o.doc_id) AS n_documents
    FROM origin g JOIN occ o USING (paragraph_id) GROUP BY g.story_doc
    ORDER BY n_outlets DESC, n_documents DESC, g.story_doc LIMIT $top
), carried AS (
    SELECT g.story_doc, o.doc_id, o.outlet, o.published, o.title, o.run_id, o.source_path,
           list(DISTINCT g.passage ORDER BY g.passage) AS passages
    FROM origin g SEMI JOIN ranked r USING (story_doc) JOIN occ o USING (paragraph_id)
    GROUP BY ALL
)
SELECT c.story_doc, r.n_outlets, r.n_documents, c.doc_id, c.outlet, c.published, c.title, c.passages
FROM carried c JOIN ranked r USING (story_doc)
QUALIFY row_number() OVER (PARTITION BY c.story_doc
                           ORDER BY c.doc_id = c.story_doc DESC, c.published NULLS LAST, c.run_id, c.source_path) <= $rows
ORDER BY r.n_outlets DESC, r.n_documents DESC, c.story_doc,
         c.doc_id = c.story_doc DESC, c.published NULLS LAST, c.run_id, c.source_path"""

# Who republishes whom: for each passage carried by more than one outlet, the outlet of its original against
# every other outlet that carried it later; only the `$outlets` outlets sharing the most passages.
OUTLET_MATRIX = f"""
WITH {SCOPE}, origin AS (
    SELECT paragraph_id, outlet AS first_outlet FROM occ
    WHERE paragraph_id IN (SELECT paragraph_id FROM occ GROUP BY paragraph_id HAVING count(DISTINCT outlet) > 1)
    QUALIFY {FIRST}
), pairs AS (
    SELECT f.first_outlet, o.outlet AS later_outlet, count(DISTINCT o.paragraph_id) AS passages
    FROM occ o JOIN origin f USING (paragraph_id) WHERE o.outlet <> f.first_outlet GROUP BY ALL
), busiest AS (
    SELECT outlet, sum(passages) AS n FROM (
        SELECT first_outlet AS outlet, passages FROM pairs UNION ALL SELECT later_outlet, passages FROM pairs)
    GROUP BY outlet ORDER BY n DESC, outlet LIMIT $outlets
)
SELECT first_outlet, later_outlet, passages,
       (SELECT count(*) FROM (SELECT first_outlet FROM pairs UNION SELECT later_outlet FROM pairs)) AS n_outlets
FROM pairs
WHERE first_outlet IN (SELECT outlet FROM busiest) AND later_outlet IN (SELECT outlet FROM busiest)
ORDER BY first_outlet, later_outlet"""

# Per source folder: its documents' paragraph text new to the warehouse, and what cleaning dropped from them
# (015_cleaning_counts.sql; documents loaded before it recorded nothing and are counted apart, as unmeasured).
FOLDERS = f"""
WITH {SCOPE}, texts AS (
    SELECT folder, count(*) AS paragraphs, sum(chars) AS chars, sum(chars) FILTER (WHERE match = 'new') AS unique_chars
    FROM occ GROUP BY folder
), files AS (
    SELECT folder, count(*) AS documents, count(*) FILTER (WHERE text_chars IS NULL) AS unmeasured,
           sum(boilerplate_chars) / nullif(sum(text_chars), 0) AS boilerplate_share,
           sum(template_paragraphs) AS template_paragraphs,
           sum(template_paragraphs) / nullif(sum(n_paragraphs + template_paragraphs), 0) AS template_share
    FROM docs GROUP BY folder
), templates AS (
    SELECT coalesce(nullif(source, ''), '(top level)') AS folder, count(*) AS template_passages
    FROM template_passages($min_docs, $share) GROUP BY ALL
), rejected AS (
    SELECT coalesce(nullif(source_of(source_path), ''), '(top level)') AS folder,
           count(DISTINCT source_path) FILTER (WHERE reason LIKE '%boilerplate%') AS rejected_boilerplate,
           count(DISTINCT source_path) FILTER (WHERE reason LIKE '%template passage%') AS rejected_template
    FROM rejected_files
    WHERE ($since IS NULL OR rejected_at >= $since)
      AND ($source IS NULL OR source_of(source_path) = $source OR starts_with(source_path, $source || '/'))
    GROUP BY ALL
)
SELECT folder, documents, unmeasured, coalesce(paragraphs, 0), coalesce(unique_chars, 0) / chars,
       boilerplate_share, template_paragraphs, template_share, coalesce(template_passages, 0),
       coalesce(rejected_boilerplate, 0), coalesce(rejected_template, 0)
FROM files LEFT JOIN texts USING (folder) LEFT JOIN templates USING (folder) LEFT JOIN rejected USING (folder)
ORDER BY documents DESC, folder"""

RUNS = """
SELECT * FROM (
    SELECT run_id, started_at, files_new, paragraphs_total, epoch(finished_at - started_at) AS seconds
    FROM runs ORDER BY run_id DESC LIMIT $runs
) ORDER BY run_id"""

TOTALS = f"""
WITH {SCOPE}
SELECT (SELECT count(*) FROM docs), count(*), count(DISTINCT paragraph_id), (SELECT count(*) FROM runs) FROM occ"""


@dataclass(frozen=True)
class Passage:
    """One of the most syndicated passages and where it first appeared."""

    paragraph_id: str
    text: str
    n_outlets: int
    n_documents: int
    first_outlet: str
    first_published: object
    first_doc_id: str
    first_title: str | None


@dataclass(frozen=True)
class Appearance:
    """A document carrying some of a story's passages (numbered by their position in the original)."""

    doc_id: str
    outlet: str
    published: object
    title: str | None
    passages: list[int]


@dataclass
class Story:
    """An original document and, first among them, the documents that carried its travelled passages."""

    doc_id: str
    n_outlets: int
    n_documents: int  # all that carry its passages, the original included (appearances holds at most `rows`)
    appearances: list[Appearance] = field(default_factory=list)
    # The opening words of each travelled passage, by its position in the original.
    texts: dict[int, str] = field(default_factory=dict)


class Folder(NamedTuple):
    """A source folder's documents and what cleaning kept and dropped of them (shares: None when unknown)."""

    folder: str
    documents: int
    unmeasured: int  # documents loaded before migration 015: what cleaning dropped of them is unknown
    paragraphs: int
    unique_share: float | None
    boilerplate_share: float | None  # of the measured documents' characters (see 015_cleaning_counts.sql)
    template_paragraphs: int | None  # dropped from the measured documents
    template_share: float | None     # of the measured documents' cleaned paragraphs
    template_passages: int
    rejected_boilerplate: int
    rejected_template: int


@dataclass
class StoryData:
    """Everything the report shows, already aggregated."""

    passages: list[Passage]
    stories: list[Story]
    matrix: list[tuple[str, str, int]]  # (first outlet, later outlet, shared passages)
    n_outlets: int                      # outlets sharing a passage with another, before the matrix's cut
    folders: list[Folder]
    runs: list[tuple]                   # (run_id, started_at, files_new, paragraphs_total, seconds)
    totals: tuple[int, int, int, int]   # documents, occurrences, passages in scope; runs


def story_data(con: duckdb.DuckDBPyConnection, settings: Settings, since: date | None = None,
               source: str | None = None, top: int = 20, rows: int = 40, outlets: int = 20,
               runs: int = 200) -> StoryData:
    """The report's figures for the documents published (else ingested) since `since` under folder `source`:
    the `top` most syndicated passages and the `top` most syndicated stories, `rows` documents a story."""
    scope = {"since": since, "source": source}
    passages = [Passage(*r) for r in con.execute(TOP_PASSAGES, {**scope, "top": top}).fetchall()]
    stories: dict[str, Story] = {}
    for story_doc, n_outlets, n_documents, *appearance in con.execute(
            STORIES, {**scope, "top": top, "rows": rows}).fetchall():
        story = stories.setdefault(story_doc, Story(story_doc, n_outlets, n_documents))
        story.appearances.append(Appearance(*appearance))
    if stories:
        for doc_id, position, text in con.execute(
                "SELECT doc_id, position, left(text, 240) FROM document_paragraphs WHERE list_contains($stories, doc_id)",
                {"stories": list(stories)}).fetchall():
            if position in stories[doc_id].appearances[0].passages:
                stories[doc_id].texts[position] = text
    matrix = con.execute(OUTLET_MATRIX, {**scope, "outlets": outlets}).fetchall()
    folders = con.execute(FOLDERS, {**scope, "min_docs": max(settings.template_min_docs, 1),
                                    "share": settings.template_share}).fetchall()
    return StoryData(
        passages=passages,
        stories=list(stories.values()),
        matrix=[(a, b, n) for a, b, n, _ in matrix],
        n_outlets=matrix[0][3] if matrix else 0,
        folders=[Folder(*f) for f in folders],
        runs=con.execute(RUNS, {"runs": runs}).fetchall(),
        totals=con.execute(TOTALS, scope).fetchone(),
    )
