"""The local stand-in for the Glue Data Catalog: one JSON file, written atomically.

Pydantic-free on purpose: the ETL job imports it (through `job_io`) when it runs on local Spark.
Partitions are stored as their Hive path (`country_partition=France/date_partition=2011-12-09`).
"""

from __future__ import annotations

import json
import os
import tempfile
import threading
from collections.abc import Iterable
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

_lock = threading.Lock()


def atomic_write(path: Path, data: bytes) -> None:
    """Write `data` to `path` so a reader sees the old file or the new one, never half of one."""
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    try:
        with os.fdopen(fd, "wb") as handle:
            handle.write(data)
            handle.flush()
            os.fsync(handle.fileno())
        os.chmod(tmp, 0o644)  # mkstemp makes 0600; these files are meant to be read
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


class LocalCatalog:
    """Databases → tables → columns, partition keys, location and partitions."""

    def __init__(self, path: Path) -> None:
        self.path = Path(path)

    def _load(self) -> dict[str, Any]:
        if not self.path.exists():
            return {"databases": {}}
        return json.loads(self.path.read_text(encoding="utf-8"))

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

    def table(self, database: str, table: str) -> dict[str, Any] | None:
        return self._tables(self._load(), database).get(table)

    def tables(self, database: str) -> dict[str, Any]:
        return self._tables(self._load(), database)

    def drop_database(self, database: str) -> bool:
        with _lock:
            data = self._load()
            gone = data["databases"].pop(database, None) is not None
            self._save(data)
            return gone
