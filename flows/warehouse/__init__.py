"""Warehouse: the only package that talks to DuckDB — connection and schema, the load, and queries."""

from flows.warehouse.connection import (
    WarehouseError,
    check_settings,
    connect,
    container_states,
    fts_extension,
    known_files,
    migrate,
    migrations,
    next_run_id,
    query,
    schema_dir,
    template_hashes,
)
from flows.warehouse.load import (
    RUN_COUNTS,
    RunRecord,
    fetch_stored,
    finish_run,
    index_of,
    load_run,
    transaction,
    write_batch,
)
from flows.warehouse.outputs import EXPORTED, export, search, status
from flows.warehouse.stories import StoryData, story_data

__all__ = [
    "EXPORTED", "RUN_COUNTS", "RunRecord", "WarehouseError", "check_settings", "connect", "container_states", "export",
    "fetch_stored", "finish_run", "fts_extension", "index_of", "known_files", "load_run", "migrate", "migrations", "next_run_id",
    "query", "transaction", "schema_dir", "search", "status", "StoryData", "story_data", "template_hashes", "write_batch",
]
