"""Settings, layered once: defaults -> [tool.docdedup] in ./pyproject.toml -> DOCDEDUP_* env -> CLI flags."""

from __future__ import annotations

import dataclasses
import os
import re
import tomllib
from dataclasses import dataclass, field, fields
from pathlib import Path
from typing import Any, Mapping


# Where the per-chunk tasks (read, clean, split, fingerprint) run; README "Scaling".
TASK_RUNNERS = ("auto", "threads", "processes", "dask")


class ConfigError(ValueError):
    """A setting has an unknown name or a value of the wrong type or range."""


@dataclass(frozen=True)
class MinHashConfig:
    """MinHash + LSH banding settings; everything a persisted signature depends on.

    A paragraph is normalised, split into word tokens and turned into the set of its
    `shingle_size`-word shingles (a paragraph shorter than that is one shingle), each hashed
    from xxh32 word hashes. The signature has `bands * rows` values, computed with
    datasketch's `affine32` permutations drawn from `seed`. Two paragraphs with Jaccard
    similarity J share at least one band with probability P(J) = 1 - (1 - J**rows)**bands;
    the S-curve's midpoint is about (1/bands)**(1/rows). With 46 bands of 3 rows,
    P(0.4) = 0.952 (the default threshold), P(0.3) = 0.71 and P(0.05) = 0.006: candidates are
    then verified with the exact Jaccard similarity, so the bands buy recall and verification
    buys precision. docs/design.md "Fingerprints" gives the benchmarks behind these defaults.
    """

    shingle_size: int = 2
    bands: int = 46
    rows: int = 3
    seed: int = 1
    scheme: str = "affine32"
    hash: str = "xxh32"

    @property
    def num_perm(self) -> int:
        """Signature length: one permutation per row of every band."""
        return self.bands * self.rows

    def candidate_probability(self, jaccard: float) -> float:
        """Probability that a pair with this Jaccard similarity shares at least one band."""
        return 1.0 - (1.0 - jaccard**self.rows) ** self.bands

    def fingerprint(self) -> str:
        """Short string naming the recipe; stored with every run and every persisted signature."""
        return (
            f"minhash:{self.scheme}:{self.hash}:w{self.shingle_size}:"
            f"b{self.bands}r{self.rows}:s{self.seed}:norm1"
        )

    @staticmethod
    def banding(fingerprint: str) -> tuple[int, int]:
        """The (bands, rows) of the recipe a `fingerprint` names."""
        found = re.search(r":b(\d+)r(\d+):", fingerprint)
        if found is None:
            raise ValueError(f"{fingerprint!r} names no MinHash banding")
        return int(found.group(1)), int(found.group(2))


@dataclass(frozen=True)
class Settings:
    """Every knob of a run; README "Configuration" lists them with their defaults."""

    raw: Path = Path("raw")
    warehouse: Path = Path("warehouse/docdedup.duckdb")
    # Files modified less than this many seconds ago may still be being written: left for the next run.
    settle_seconds: float = 1.0
    # Files larger than this are rejected unread (bytes; for .gz files, the decompressed size).
    max_file_bytes: int = 20 * 1024 * 1024
    # Files per Prefect task: big enough to amortise task overhead (a task run costs its worker, the flow process
    # and Prefect's server some tenths of a second between them), small enough to spread a batch over the workers.
    chunk_files: int = 250
    # Files deduplicated and written together; bounds a run's memory whatever its size.
    batch_files: int = 2000
    # ... and at most this many input bytes (0: no bound): memory follows what a batch holds, and files vary in size.
    batch_bytes: int = 0
    # How long a command waits for the warehouse while another process holds it (seconds; 0: fail at once).
    lock_wait_seconds: float = 600.0
    # DuckDB's memory cap during a run (it spills to disk beyond it).
    duckdb_memory: str = "1GB"
    # Verified Jaccard similarity (word shingles) at or above which two passages are one.
    threshold: float = 0.4
    # Paragraphs with fewer normalised words than this are matched exactly only.
    min_words: int = 6
    # A pair sharing an LSH band but no sentence is verified only when their MinHash signatures agree on at
    # least this share of values (the estimate of their Jaccard). Chance band hits between unrelated paragraphs
    # agree on ~0.04; a pair at Jaccard 0.15 falls below 0.06 with probability 0.002, at 0.4 never in practice.
    candidate_floor: float = 0.06
    # A paragraph is part of a passage when this share of its shingles is in it ...
    containment: float = 0.8
    # ... and it is at most this fraction of the passage's size (else it is a near-duplicate).
    part_ratio: float = 0.6
    # A passage in this many files of one source folder (0: never) ...
    template_min_docs: int = 5
    # ... and in this share of them is the source's template, dropped from its later files.
    template_share: float = 0.6
    # auto (default: processes for a run of more than one chunk on a machine of several cores, else threads),
    # threads, processes, or dask: a local cluster, or the scheduler at dask_address.
    task_runner: str = "auto"
    # Parallel chunk tasks (threads, processes or local Dask workers); 0: one thread, or one process per core.
    workers: int = 0
    # An existing Dask scheduler, e.g. tcp://10.0.0.5:8786; setting it alone selects the dask runner.
    dask_address: str = ""
    # Field names of a JSON Lines record, each list tried in order (README "Feeds and crawls"). A record with
    # markup is cleaned as HTML, else its text as text.
    record_html_fields: tuple[str, ...] = ("html", "raw_html")
    record_text_fields: tuple[str, ...] = ("text", "content", "body")
    record_url_fields: tuple[str, ...] = ("url",)
    record_title_fields: tuple[str, ...] = ("title",)
    record_published_fields: tuple[str, ...] = ("published", "date")
    record_author_fields: tuple[str, ...] = ("author",)
    record_site_fields: tuple[str, ...] = ("site",)
    record_language_fields: tuple[str, ...] = ("language",)
    record_id_fields: tuple[str, ...] = ("id",)
    minhash: MinHashConfig = field(default_factory=MinHashConfig)


# Settings keys that belong to MinHashConfig, spelled flat in files, env and CLI.
_MINHASH_KEYS = {f.name for f in fields(MinHashConfig)}
_TOP_KEYS = {f.name for f in fields(Settings)} - {"minhash"}


def _parse(name: str, raw: Any, kind: Any, source: str) -> Any:
    kind = {"Path": Path, "int": int, "float": float, "str": str, "tuple[str, ...]": tuple}.get(kind, kind)
    try:
        if kind is tuple:
            return _names(raw)
        if kind is Path:
            return Path(raw)
        if kind is int:
            if isinstance(raw, bool) or (isinstance(raw, float) and not raw.is_integer()):
                raise ValueError(raw)
            return int(raw)
        if kind is float:
            return float(raw)
        return str(raw)
    except (TypeError, ValueError):
        wanted = "a list of field names" if kind is tuple else kind.__name__
        raise ConfigError(f"{source}: {name} must be {wanted}, got {raw!r}") from None


def _names(raw: Any) -> tuple[str, ...]:
    """A list of field names: a TOML array of strings, or one string of names separated by commas (env, CLI)."""
    names = raw.split(",") if isinstance(raw, str) else raw
    if not isinstance(names, (list, tuple)) or not all(isinstance(n, str) for n in names):
        raise ValueError(raw)
    out = tuple(n.strip() for n in names if n.strip())
    if not out:
        raise ValueError(raw)
    return out


def _apply(settings: Settings, values: Mapping[str, Any], source: str) -> Settings:
    top: dict[str, Any] = {}
    mh: dict[str, Any] = {}
    types = {f.name: f.type for f in fields(Settings)} | {f.name: f.type for f in fields(MinHashConfig)}
    for key, raw in values.items():
        name = key.replace("-", "_")
        if raw is None:
            continue
        if name in _TOP_KEYS:
            top[name] = _parse(name, raw, types[name], source)
        elif name in _MINHASH_KEYS:
            mh[name] = _parse(name, raw, types[name], source)
        else:
            raise ConfigError(f"{source}: unknown setting {key!r}")
    if "dask_address" in top and "task_runner" not in top and top["dask_address"]:
        top["task_runner"] = "dask"
    out = dataclasses.replace(settings, **top)
    if mh:
        out = dataclasses.replace(out, minhash=dataclasses.replace(out.minhash, **mh))
    _validate(out, source)
    return out


def _validate(s: Settings, source: str) -> None:
    checks = [
        (0.0 < s.threshold <= 1.0, "threshold must be in (0, 1]"),
        (0.0 < s.containment <= 1.0, "containment must be in (0, 1]"),
        (0.0 <= s.candidate_floor < 1.0, "candidate_floor must be in [0, 1)"),
        (0.0 < s.part_ratio < 1.0, "part_ratio must be in (0, 1)"),
        (s.max_file_bytes > 0, "max_file_bytes must be positive"),
        (s.lock_wait_seconds >= 0, "lock_wait_seconds must be 0 or more"),
        (s.settle_seconds >= 0, "settle_seconds must be 0 or more"),
        (s.template_min_docs >= 0, "template_min_docs must be 0 (off) or more"),
        (0.0 < s.template_share <= 1.0, "template_share must be in (0, 1]"),
        (s.chunk_files > 0, "chunk_files must be positive"),
        (s.batch_files > 0, "batch_files must be positive"),
        (s.batch_bytes >= 0, "batch_bytes must be 0 or more"),
        (s.min_words >= 1, "min_words must be at least 1"),
        (s.task_runner in TASK_RUNNERS, f"task_runner must be one of {', '.join(TASK_RUNNERS)}"),
        (s.workers >= 0, "workers must be 0 (the default count) or more"),
        (not s.dask_address or s.task_runner == "dask", "dask_address needs task_runner dask"),
        (s.minhash.shingle_size >= 1, "shingle_size must be at least 1"),
        (s.minhash.bands >= 1 and s.minhash.rows >= 1, "bands and rows must be at least 1"),
        (s.minhash.scheme == "affine32", "scheme must be affine32"),
        (s.minhash.hash == "xxh32", "hash must be xxh32"),
    ]
    for ok, message in checks:
        if not ok:
            raise ConfigError(f"{source}: {message}")


def load_settings(
    cli: Mapping[str, Any] | None = None,
    env: Mapping[str, str] | None = None,
    project_file: Path | None = Path("pyproject.toml"),
) -> Settings:
    """Build the settings of this invocation from every layer, later layers winning."""
    settings = Settings()
    if project_file is not None and project_file.is_file():
        with project_file.open("rb") as fh:
            table = tomllib.load(fh).get("tool", {}).get("docdedup", {})
        settings = _apply(settings, table, source=f"{project_file} [tool.docdedup]")
    env = os.environ if env is None else env
    prefix = "DOCDEDUP_"
    from_env = {
        k[len(prefix):].lower(): v
        for k, v in env.items()
        if k.startswith(prefix) and k[len(prefix):].lower() in (_TOP_KEYS | _MINHASH_KEYS)
    }
    settings = _apply(settings, from_env, source="environment")
    return _apply(settings, cli or {}, source="command line")

