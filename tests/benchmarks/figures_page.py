"""Benchmark figures into docs/benchmarks.md: each script replaces its own section, so the page holds the latest
figures its scripts printed, with the commit they ran at, and nothing typed by hand."""

from __future__ import annotations

import re
import shlex
import subprocess
import sys
from datetime import date
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
PAGE = ROOT / "docs" / "benchmarks.md"


def commit() -> str:
    """The commit the figures were measured at, marked when the tree has uncommitted changes."""
    def git(*args: str) -> str:
        return subprocess.run(["git", *args], cwd=ROOT, capture_output=True, text=True).stdout.strip()
    head = git("rev-parse", "--short", "HEAD") or "unknown"
    return head + ("+changes" if git("status", "--porcelain", "--untracked-files=no", "flows") else "")


def command_line() -> str:
    """How this script was run, as the page shows it: from the project root, without --markdown."""
    return shlex.join(["python", f"tests/benchmarks/{Path(sys.argv[0]).name}",
                       *(a for a in sys.argv[1:] if a != "--markdown")])


def write_section(name: str, command: str, body: str, page: Path = PAGE) -> None:
    """Replace (or append) the section `name` of the page: a heading, how it was run, the body."""
    start, end = f"<!-- figures: {name} -->", f"<!-- end: {name} -->"
    section = (f"{start}\n### {name}\n\n`{command}` at `{commit()}`, {date.today().isoformat()}\n\n"
               f"{body.strip()}\n{end}")
    text = page.read_text(encoding="utf-8") if page.exists() else "# Benchmarks\n"
    pattern = re.compile(re.escape(start) + r".*?" + re.escape(end), re.S)
    text = pattern.sub(lambda _: section, text) if pattern.search(text) else text.rstrip("\n") + f"\n\n{section}\n"
    page.parent.mkdir(parents=True, exist_ok=True)
    page.write_text(text, encoding="utf-8")


def table(header: list[str], rows: list[list]) -> str:
    """A markdown table; floats to three places, None as a dash."""
    def cell(x) -> str:
        return "–" if x is None else f"{x:.3f}" if isinstance(x, float) else str(x)
    lines = ["| " + " | ".join(header) + " |", "|" + "---|" * len(header)]
    return "\n".join(lines + ["| " + " | ".join(map(cell, r)) + " |" for r in rows])
