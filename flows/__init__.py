"""docdedup: drop folder -> clean -> split -> MinHash dedup -> DuckDB warehouse."""

__version__ = "0.1.0"
