"""The local stand-in for the Glue Data Catalog: one JSON file, written atomically.

Pydantic-free on purpose: the ETL job imports it (through `job_io`) when it runs on local Spark.
Partitions are stored as their Hive path (`country_partition=France/date_partition=2011-12-09`).
"""

from __future__ import annotations

import json
import threading
from collections.abc import Iterable
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from orderpipe.fsutil import atomic_write, not_ours, read_json

_REPAIR = "delete it, then run `orderpipe crawl` and `orderpipe transform run --full-refresh`."
_lock = threading.Lock()


class LocalCatalog:
    """Databases → tables → columns, partition keys, location and partitions."""

    def __init__(self, path: Path) -> None:
        self.path = Path(path)

    def _load(self) -> dict[str, Any]:
        data = read_json(self.path, "the local catalog", _REPAIR)
        if data is None:
            return {"databases": {}}
        if not isinstance(data, dict) or not isinstance(data.get("databases"), dict):
            raise not_ours(self.path, "the local catalog", _REPAIR)
        return data

    def _save(self, data: dict[str, Any]) -> None:
        atomic_write(self.path, json.dumps(data, indent=1, sort_keys=True).encode())

    def _tables(self, data: dict[str, Any], database: str) -> dict[str, Any]:
        return data["databases"].setdefault(database, {"tables": {}})["tables"]

    def ensure_table(
        self,
        database: str,
        table: str,
        *,
        location: str,
        columns: list[dict[str, str]],
        partition_keys: list[dict[str, str]],
        fmt: str,
    ) -> bool:
        """Create or update a table's definition, keeping its partitions. True if it was new."""
        with _lock:
            data = self._load()
            tables = self._tables(data, database)
            new = table not in tables
            entry = tables.setdefault(table, {"partitions": []})
            entry.update(
                location=location,
                columns=columns,
                partition_keys=partition_keys,
                format=fmt,
                updated_at=datetime.now(UTC).isoformat(timespec="seconds"),
            )
            self._save(data)
            return new

    def add_partitions(self, database: str, table: str, partitions: Iterable[str]) -> int:
        """Register partitions (Hive paths) not yet known; returns how many were new."""
        with _lock:
            data = self._load()
            entry = self._tables(data, database).get(table)
            if entry is None:
                raise KeyError(f"table {database}.{table} is not in the catalog")
            known = set(entry["partitions"])
            fresh = sorted(set(partitions) - known)
            if fresh:
                entry["partitions"] = sorted(known | set(fresh))
                self._save(data)
            return len(fresh)

    def set_partitions(
        self, database: str, table: str, locations: dict[str, str], *, replace_all: bool = False
    ) -> None:
        """Point partitions (Hive paths) at their locations in one atomic write; with
        `replace_all`, partitions not given are dropped."""
        with _lock:
            data = self._load()
            entry = self._tables(data, database).get(table)
            if entry is None:
                raise KeyError(f"table {database}.{table} is not in the catalog")
            old = {} if replace_all else entry.get("locations", {})
            listed = set() if replace_all else set(entry["partitions"])
            entry["locations"] = dict(sorted((old | locations).items()))
            entry["partitions"] = sorted(listed | set(locations))
            self._save(data)

    def table(self, database: str, table: str) -> dict[str, Any] | None:
        return self._tables(self._load(), database).get(table)

    def tables(self, database: str) -> dict[str, Any]:
        return self._tables(self._load(), database)
