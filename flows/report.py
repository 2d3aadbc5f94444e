"""Report: one self-contained HTML page of how stories spread, its charts drawn by matplotlib as inline SVG."""

from __future__ import annotations

import functools
import html
import io
from datetime import datetime, timedelta
from pathlib import Path

from flows.warehouse.stories import StoryData, Story

# Passage text shown in the table of passages; the rest is in the warehouse.
TEXT_CHARS = 400
LABEL_CHARS = 28

CSS = """
:root { color-scheme: light; --ink: #1d2430; --muted: #5b6574; --line: #d8dde4; --tint: #f3f5f8; }
* { box-sizing: border-box; }
body { margin: 0 auto; max-width: 72rem; padding: 1rem; font: 16px/1.5 system-ui, -apple-system, "Segoe UI", sans-serif;
       color: var(--ink); }
h1 { font-size: 1.6rem; margin: .5rem 0; } h2 { font-size: 1.25rem; margin-top: 2.5rem; border-bottom: 1px solid var(--line); }
h3 { font-size: 1.05rem; margin-top: 1.75rem; }
p.note, .muted { color: var(--muted); font-size: .9rem; }
nav { display: flex; flex-wrap: wrap; gap: .25rem 1rem; }
.chart svg { max-width: 100%; width: auto; height: auto; display: block; }
.chart { margin: .75rem 0; }
.scroll { overflow-x: auto; -webkit-overflow-scrolling: touch; }
table { border-collapse: collapse; width: 100%; font-size: .9rem; }
th, td { border-bottom: 1px solid var(--line); padding: .35rem .5rem; text-align: left; vertical-align: top; }
th { background: var(--tint); }
td.n, th.n { text-align: right; font-variant-numeric: tabular-nums; } td.n { white-space: nowrap; }
td.text { min-width: 18rem; } td.folder { min-width: 9rem; }
ol.passages li { margin-bottom: .25rem; }
/* On a phone each passage is a card: its text on a line of its own, its figures under it, labelled. */
@media (max-width: 40rem) {
  body { padding: .6rem; font-size: 15px; } td.text { min-width: 14rem; }
  table.passages thead { display: none; }
  table.passages tr { display: flex; flex-wrap: wrap; gap: 0 .75rem; border-bottom: 1px solid var(--line);
                      padding: .4rem 0; }
  table.passages td { border: 0; padding: .1rem .25rem; }
  table.passages td.text { flex: 1 1 80%; min-width: 0; }
  table.passages td[data-label]::before { content: attr(data-label) " "; color: var(--muted); }
  /* a folder is a card too: its name, then one labelled figure a line */
  table.folders thead { display: none; }
  table.folders tr { display: block; border-bottom: 1px solid var(--line); padding: .4rem 0; }
  table.folders td { display: flex; gap: .4rem; border: 0; padding: .05rem .25rem; }
  table.folders td.folder { font-weight: 600; min-width: 0; overflow-wrap: anywhere; }
  table.folders td[data-label]::before { content: attr(data-label); color: var(--muted); text-align: left;
                                         white-space: normal; margin-right: auto; }
}
"""


def render_report(data: StoryData, title: str, scope: str) -> str:
    """The whole page: passages, each story's timeline, the outlet matrix, source folders and run history."""
    documents, occurrences, passages, runs = data.totals
    parts = [
        f"<h1>{_e(title)}</h1>",
        f"<p class=note>{_e(scope)}: {plural(documents, 'document')}, {plural(occurrences, 'paragraph')}, "
        f"{plural(passages, 'distinct passage')}; {plural(runs, 'run')} in the warehouse.</p>",
        "<nav><a href='#passages'>Passages</a><a href='#stories'>Timelines</a><a href='#outlets'>Outlets</a>"
        "<a href='#folders'>Source folders</a><a href='#runs'>Runs</a></nav>",
        _passages(data), _stories(data), _outlets(data), _folders(data), _runs(data),
    ]
    body = "\n".join(parts)
    return (f"<!doctype html>\n<html lang=en><head><meta charset=utf-8>"
            f"<meta name=viewport content='width=device-width, initial-scale=1'>"
            f"<title>{_e(title)}</title><style>{CSS}</style></head>\n<body>\n{body}\n</body></html>\n")


def write_report(data: StoryData, out: Path, title: str, scope: str) -> int:
    """Write the page to `out` whole (a reader never sees half a file); returns its size in bytes."""
    page = render_report(data, title, scope).encode("utf-8")
    partial = out.with_name(f".{out.name}.part")
    partial.write_bytes(page)
    partial.replace(out)
    return len(page)


def _passages(data: StoryData) -> str:
    head = ("<h2 id=passages>Most syndicated passages</h2><p class=note>Passages carried by more than one document, "
            "most outlets first. An outlet is a document's site, else its source folder. First appearance: the "
            "earliest publication (undated documents count last).</p>")
    if not data.passages:
        return head + "<p>No passage appears in more than one document.</p>"
    shown = {s.doc_id for s in data.stories}
    rows = "".join(
        f"<tr id='passage-{_e(p.paragraph_id)}' data-paragraph-id='{_e(p.paragraph_id)}'>"
        f"<td class=n>{i}</td><td class=text>{_e(_cut(p.text, TEXT_CHARS))}</td>"
        f"<td class='n outlets' data-label=outlets>{p.n_outlets}</td>"
        f"<td class='n documents' data-label=documents>{p.n_documents}</td>"
        f"<td>{_e(p.first_outlet)}<br><span class=muted>{_date(p.first_published)}</span></td>"
        f"<td>{_story_link(p.first_doc_id, shown)}</td></tr>"
        for i, p in enumerate(data.passages, 1))
    return (head + "<div class=scroll><table class=passages><thead><tr><th class=n>#</th><th>passage</th>"
            "<th class=n>outlets</th><th class=n>documents</th><th>first appearance</th><th></th></tr></thead>"
            f"<tbody>{rows}</tbody></table></div>")


def _story_link(doc_id: str, shown: set[str]) -> str:
    """A link to the passage's story, when that story is among those the page shows."""
    return f"<a href='#story-{_e(doc_id)}'>timeline</a>" if doc_id in shown else "<span class=muted>story not shown</span>"


def _stories(data: StoryData) -> str:
    head = ("<h2 id=stories>How each story spread</h2><p class=note>A story is the original of a set of syndicated "
            "passages: the document where they first appeared. Stories are ranked by the outlets carrying any of "
            "their passages, then by the documents. Each row of a timeline is a document carrying some of the "
            "story's passages (numbered by their place in the original), the original first: when it was "
            "published, and which passages it took.</p>")
    if not data.stories:
        return head + "<p>No passage appears in more than one document.</p>"
    return head + "".join(_story(s, i) for i, s in enumerate(data.stories, 1))


def _story(story: Story, i: int) -> str:
    original = story.appearances[0]
    shown = len(story.appearances)
    more = (f" The {shown} earliest of {story.n_documents} documents are shown." if story.n_documents > shown else "")
    texts = "".join(f"<li value={n + 1}>{_e(_cut(t, 240))}</li>" for n, t in sorted(story.texts.items()))
    return (f"<section class=story id='story-{_e(story.doc_id)}' data-outlets={story.n_outlets} "
            f"data-documents={story.n_documents}><h3>{i}. {_e(original.title or original.doc_id)}</h3>"
            f"<p class=muted>First published by {_e(original.outlet)}, {_date(original.published)}; "
            f"{plural(story.n_outlets, 'outlet')} and {plural(story.n_documents, 'document')} carry "
            f"{'its passage' if len(story.texts) == 1 else f'its {len(story.texts)} passages'}.{more}</p>"
            f"<div class='chart timeline'>{_timeline_chart(story, f'story{i}')}</div>"
            f"<details><summary>Its travelled passages</summary><ol class=passages>{texts}</ol></details></section>")


def _outlets(data: StoryData) -> str:
    head = ("<h2 id=outlets>Who republishes whom</h2><p class=note>Row: the outlet that published a passage first. "
            "Column: an outlet that carried it later. A cell counts the passages.")
    if not data.matrix:
        return head + "</p><p>No passage is shared by two outlets.</p>"
    names = {a for a, _, _ in data.matrix} | {b for _, b, _ in data.matrix}
    cut = f" The {len(names)} outlets sharing the most of {data.n_outlets}." if data.n_outlets > len(names) else ""
    return head + cut + f"</p><div class='chart heatmap'>{_heatmap_chart(data.matrix)}</div>"


# The folders table's figure columns: heading (on a phone, the cell's label), the cell's class, its value.
FOLDER_COLUMNS = [
    ("documents", "documents", lambda f: f"{f.documents:,}"),
    ("paragraphs", "paragraphs", lambda f: f"{f.paragraphs:,}"),
    ("unique text", "unique", lambda f: _pct(f.unique_share)),
    ("boilerplate dropped", "boilerplate", lambda f: _pct(f.boilerplate_share)),
    ("template paragraphs dropped", "templates",
     lambda f: f"{_count(f.template_paragraphs)} <span class=muted>{_pct(f.template_share)}</span>"),
    ("unmeasured documents", "unmeasured", lambda f: f"{f.unmeasured:,}"),
    ("template passages", "template-passages", lambda f: f"{f.template_passages:,}"),
    ("rejected: boilerplate", "rejected-boilerplate", lambda f: f"{f.rejected_boilerplate:,}"),
    ("rejected: templates", "rejected-templates", lambda f: f"{f.rejected_template:,}"),
]


def _folders(data: StoryData) -> str:
    # each figure carries its heading as data-label: on a phone the heading row is hidden and each cell shows it
    rows = "".join(
        f"<tr data-folder='{_e(f.folder)}'><td class=folder>{_e(f.folder)}</td>"
        + "".join(f"<td class='n {css}' data-label='{label}'>{value(f)}</td>" for label, css, value in FOLDER_COLUMNS)
        + "</tr>"
        for f in data.folders)
    headings = "".join(f"<th class=n>{label}</th>" for label, _, _ in FOLDER_COLUMNS)
    return ("<h2 id=folders>Source folders</h2><p class=note>Unique text: the share of a folder's paragraph text that "
            "was new to the warehouse when it came. Boilerplate dropped: the share of the characters of its files, "
            "as decoded and not counting whitespace, that are in none of the cleaned paragraphs: the lines the "
            "cleaner dropped and the title, and an HTML page's markup. Template paragraphs dropped: cleaned "
            "paragraphs left out because they are template passages of the folder, and their share of the cleaned "
            "paragraphs. Both are recorded when a file is ingested; documents ingested by a docdedup older than "
            "these counts have none and are left out of both, counted as unmeasured. Template passages: those the "
            "folder's files now repeat often enough to be dropped from its next files. Rejected: files with nothing "
            "left after boilerplate, or only template passages.</p>"
            f"<div class=scroll><table class=folders><thead><tr><th>folder</th>{headings}</tr></thead>"
            f"<tbody>{rows}</tbody></table></div>")


def _runs(data: StoryData) -> str:
    head = ("<h2 id=runs>Run history</h2><p class=note>Every ingest pass into the warehouse (not limited by the "
            "report's filters): files ingested, paragraphs and wall-clock seconds.</p>")
    if not data.runs:
        return head + "<p>No run has finished yet.</p>"
    return head + f"<div class='chart runs'>{_runs_chart(data.runs)}</div>"


# matplotlib settings of every chart: text stays text in the SVG (no font files), in the browser's sans-serif.
RC = {"svg.fonttype": "none", "font.family": "sans-serif", "font.size": 9}


def _matplotlib():
    """matplotlib, loaded only when a report is drawn (`docdedup run` never pays for it), without a display."""
    import matplotlib

    matplotlib.use("Agg")
    return matplotlib


def _chart(draw):
    """A chart function run under RC, without touching matplotlib's global settings."""
    @functools.wraps(draw)
    def drawn(*args):
        with _matplotlib().rc_context(RC):
            return draw(*args)
    return drawn


def _figure(width: float, height: float):
    from matplotlib.figure import Figure

    return Figure(figsize=(width, height), layout="constrained")


def _svg(fig, salt: str) -> str:
    """The figure as an <svg> element, its ids salted so that several charts live in one page."""
    buf = io.StringIO()
    with _matplotlib().rc_context({"svg.hashsalt": salt}):
        fig.savefig(buf, format="svg", metadata={"Date": None})
    text = buf.getvalue()
    return text[text.index("<svg"):]


@_chart
def _timeline_chart(story: Story, salt: str) -> str:
    """Left, when each document was published; right, which of the original's passages it carried."""
    from matplotlib import dates

    rows = story.appearances
    passages = sorted({n for a in rows for n in a.passages})
    column = {n: i for i, n in enumerate(passages)}
    fig = _figure(9, 0.9 + 0.26 * len(rows))
    when, which = fig.subplots(1, 2, sharey=True, width_ratios=[1, max(1.0, min(2.0, len(passages) / 6))])
    ys = list(range(len(rows)))
    dated = [(a.published, y) for a, y in zip(rows, ys) if a.published is not None]
    if dated:
        when.scatter([d for d, _ in dated], [y for _, y in dated], color="#c0392b", zorder=3)
        first, last = min(d for d, _ in dated), max(d for d, _ in dated)
        if first == last:  # matplotlib widens a single date to four years around it
            when.set_xlim(first - timedelta(days=1), last + timedelta(days=1))
            when.set_xticks([first], [_date(first)])
        else:
            when.xaxis.set_major_locator(locator := dates.AutoDateLocator())
            when.xaxis.set_major_formatter(dates.ConciseDateFormatter(locator))
    else:
        when.text(0.5, 0.5, "no publication dates", ha="center", va="center", transform=when.transAxes)
        when.set_xticks([])
    when.set_title("published", loc="left")
    when.grid(axis="x", color="#e5e5e5")
    xs, yy = zip(*[(column[n], y) for a, y in zip(rows, ys) for n in a.passages])
    which.scatter(xs, yy, marker="s", color="#2c6fbb")
    which.set_xticks(range(len(passages)), [str(n + 1) for n in passages], fontsize=7)
    which.set_xlim(-0.6, len(passages) - 0.4)
    which.set_title("passages of the original it carried", loc="left")
    when.set_yticks(ys, [_cut(f"{a.outlet} · {_date(a.published)}", 40) for a in rows])
    when.invert_yaxis()
    return _svg(fig, salt)


@_chart
def _heatmap_chart(matrix: list[tuple[str, str, int]]) -> str:
    """Outlet of the original (rows) against the outlets that carried its passages later (columns)."""
    import numpy as np

    firsts, laters = sorted({a for a, _, _ in matrix}), sorted({b for _, b, _ in matrix})
    counts = np.zeros((len(firsts), len(laters)))
    for a, b, n in matrix:
        counts[firsts.index(a), laters.index(b)] = n
    fig = _figure(3 + 0.42 * len(laters), 2.4 + 0.3 * len(firsts))
    ax = fig.subplots()
    # pcolormesh draws one path a cell (an image would be a PNG inside the SVG)
    mesh = ax.pcolormesh(np.ma.masked_equal(counts, 0), cmap="Blues", edgecolors="white", linewidth=0.5,
                         vmin=0, vmax=counts.max())
    for (r, c), n in np.ndenumerate(counts):
        if n:
            ax.text(c + 0.5, r + 0.5, f"{int(n)}", ha="center", va="center", fontsize=7,
                    color="white" if n > counts.max() / 2 else "#1d2430")
    ax.set_xticks([i + 0.5 for i in range(len(laters))], [_cut(n, LABEL_CHARS) for n in laters], rotation=50, ha="right")
    ax.set_yticks([i + 0.5 for i in range(len(firsts))], [_cut(n, LABEL_CHARS) for n in firsts])
    ax.invert_yaxis()
    ax.set_xlabel("carried it later")
    ax.set_ylabel("published first")
    fig.colorbar(mesh, ax=ax, label="shared passages", shrink=0.8)
    return _svg(fig, "outlets")


@_chart
def _runs_chart(runs: list[tuple]) -> str:
    """Files, paragraphs and seconds of each run, one panel each over the run id."""
    ids = [r[0] for r in runs]
    fig = _figure(9, 4.2)
    panels = fig.subplots(3, 1, sharex=True)
    for ax, values, label, color in zip(panels, ([r[2] for r in runs], [r[3] for r in runs], [r[4] for r in runs]),
                                        ("files", "paragraphs", "seconds"), ("#2c6fbb", "#27ae60", "#c0392b")):
        ax.bar(ids, values, color=color, width=0.8)
        ax.set_ylabel(label)
        ax.grid(axis="y", color="#e5e5e5")
    # at least ten runs' room, so that a lone run is a bar, not a wall
    panels[-1].set_xlim(ids[0] - 0.6, max(ids[-1], ids[0] + 9) + 0.6)
    panels[-1].set_xlabel("run")
    if len(ids) <= 20:
        panels[-1].set_xticks(ids)
    return _svg(fig, "runs")


def _e(value: object) -> str:
    return html.escape(str(value), quote=True)


def _cut(text: str, limit: int) -> str:
    return text if len(text) <= limit else text[: limit - 1] + "…"


def _date(value: object) -> str:
    if value is None:
        return "undated"
    if isinstance(value, datetime) and (value.hour, value.minute, value.second) == (0, 0, 0):
        return value.date().isoformat()
    return value.strftime("%Y-%m-%d %H:%M") if isinstance(value, datetime) else str(value)


def plural(count: int, noun: str) -> str:
    """A count and its noun, plural unless one ("1 run", "2 runs", "3 stories")."""
    if count == 1:
        return f"{count:,} {noun}"
    return f"{count:,} {noun[:-1]}ies" if noun.endswith("y") else f"{count:,} {noun}s"


def _count(value: int | None) -> str:
    return "–" if value is None else f"{value:,}"


def _pct(share: float | None) -> str:
    return "–" if share is None else f"{100 * share:.1f}%"
