"""The local crawler: discovers raw partitions and the record schema, like a Glue crawler.

It records the `raw` table in the local catalog with the partitions it found, and remembers a
fingerprint of what it saw so the job runner can crawl only when raw has changed.
"""

from __future__ import annotations

import gzip
import json
import time
import zlib
from collections.abc import Iterator
from pathlib import Path

from orderpipe.fsutil import atomic_write
from orderpipe.job.localcatalog import LocalCatalog
from orderpipe.jsonlines import MAX_LINE_BYTES, loads_bounded
from orderpipe.settings import RAW_PREFIX
from orderpipe.targets.base import CrawlResult

SAMPLE_BYTES = 8 * 1024 * 1024  # per object: a crawl reads a sample, never whole objects
_JSON_TO_GLUE = {str: "string", int: "bigint", float: "double", bool: "boolean"}


def raw_objects(raw_bucket: Path) -> list[Path]:
    """Every delivered raw object (temp files start with '.' and are skipped)."""
    root = raw_bucket / RAW_PREFIX
    if not root.is_dir():
        return []
    return sorted(p for p in root.rglob("*") if p.is_file() and not p.name.startswith("."))


def fingerprint(objects: list[Path]) -> str:
    """Changes whenever an object is added, removed or rewritten."""
    newest = max((p.stat().st_mtime_ns for p in objects), default=0)
    return f"{len(objects)}:{newest}"


def _sample_lines(path: Path, lines: int, budget: int = SAMPLE_BYTES) -> Iterator[bytes]:
    """Up to `lines` lines or `budget` bytes of one object, each line at most MAX_LINE_BYTES (a
    longer one is skipped without being held); an object that cannot be read to the end yields
    what it could."""
    opener = gzip.open if path.suffix == ".gz" else open
    try:
        with opener(path, "rb") as handle:
            for _ in range(lines):
                line = handle.readline(MAX_LINE_BYTES + 1)
                budget -= len(line)
                if not line or budget < 0:
                    return
                if len(line) <= MAX_LINE_BYTES:
                    yield line
                    continue
                while line and not line.endswith(b"\n"):  # skip the rest of the long line
                    line = handle.readline(MAX_LINE_BYTES)
                    budget -= len(line)
    except (OSError, EOFError, zlib.error):
        return  # truncated or not gzip: the job reports the object; the sample goes on


def _sample_columns(objects: list[Path], lines: int = 200) -> list[dict[str, str]]:
    """Infer columns from the first records of the newest objects, Glue-crawler style."""
    seen: dict[str, str] = {}
    for path in reversed(objects[-5:]):
        for line in _sample_lines(path, lines):
            record = loads_bounded(line)
            if not isinstance(record, dict):
                continue
            for key, value in record.items():
                kind = _JSON_TO_GLUE.get(type(value))
                if kind and seen.get(key) in (None, "bigint"):
                    seen[key] = "double" if {seen.get(key), kind} == {"bigint", "double"} else kind
    return [{"Name": name.lower(), "Type": kind} for name, kind in seen.items()]


def crawl(raw_bucket: Path, catalog: LocalCatalog, database: str, state_file: Path) -> CrawlResult:
    started = time.perf_counter()
    objects = raw_objects(raw_bucket)
    before = catalog.table(database, "raw")
    partitions = sorted(
        {
            str(p.parent.relative_to(raw_bucket / RAW_PREFIX))
            for p in objects
            if p.parent != raw_bucket
        }
    )
    tables_added: list[str] = []
    added = 0
    if objects:
        keys = [{"Name": k, "Type": "string"} for k in ("year", "month", "day", "hour")]
        new = catalog.ensure_table(
            database,
            "raw",
            location=str(raw_bucket / RAW_PREFIX),
            columns=_sample_columns(objects),
            partition_keys=keys,
            fmt="json",
        )
        tables_added = ["raw"] if new else []
        added = catalog.add_partitions(database, "raw", partitions)
    state = {"fingerprint": fingerprint(objects), "crawled_at": time.time()}
    atomic_write(state_file, json.dumps(state).encode())
    return CrawlResult(
        state="SUCCEEDED",
        tables_added=tables_added,
        partitions_added=added,
        partitions_total=len(partitions),
        seconds=time.perf_counter() - started,
        message="" if objects or before else "no raw data yet",
    )


def is_stale(raw_bucket: Path, state_file: Path) -> bool:
    """True when raw holds something the last crawl did not see. The state is only a cache: when
    it is missing, torn or foreign, the answer is "crawl", and the crawl rewrites it."""
    try:
        state = json.loads(state_file.read_bytes())
    except (OSError, ValueError):
        return True
    seen = state.get("fingerprint") if isinstance(state, dict) else None
    return bool(seen != fingerprint(raw_objects(raw_bucket)))
