"""What `orderpipe status` shows for the local target: each stage, its counts, freshness."""

from __future__ import annotations

import json
from pathlib import Path
from typing import TYPE_CHECKING, Any

from orderpipe.settings import QUARANTINE_TABLE, TRANSFORMED_TABLE
from orderpipe.targets.local import crawler, duck

if TYPE_CHECKING:
    from orderpipe.targets.local.target import LocalTarget


def _size(paths: list[Path]) -> int:
    return sum(p.stat().st_size for p in paths)


def _human(n: float) -> str:
    for unit in ("B", "KB", "MB", "GB"):
        if n < 1024 or unit == "GB":
            return f"{n:,.0f} {unit}" if unit == "B" else f"{n:,.1f} {unit}"
        n /= 1024
    return ""


def _row(kind: str, name: Any, state: str, detail: str = "") -> dict[str, str]:
    return {"kind": kind, "name": str(name), "state": state, "detail": detail}


def _unshipped_bytes(target: LocalTarget, logs: list[Path]) -> int | None:
    """Bytes of the log folder past the agent's checkpoints (None if it never ran)."""
    checkpoints = target.state_dir / "agent" / "checkpoints.json"
    if not checkpoints.exists():
        return None
    try:
        data = json.loads(checkpoints.read_text())
    except ValueError:
        return None
    files = data.get("files", data) if isinstance(data, dict) else {}
    shipped = sum(int(v.get("offset", 0)) for v in files.values() if isinstance(v, dict))
    return max(0, _size(logs) - shipped)


def collect(target: LocalTarget) -> dict[str, Any]:
    if not target.home.exists():
        return {"target": "local", "home": str(target.home), "resources": [], "runs": [],
                "freshness": {}, "message": "nothing provisioned: run `orderpipe up`"}  # fmt: skip
    logs = sorted(target.log_dir.glob("*.ndjson")) if target.log_dir.is_dir() else []
    raw = crawler.raw_objects(target.bucket("raw"))
    rows = [
        _row("folder", target.home, "ready"),
        _row("logs", target.log_dir, "ready" if logs else "empty",
             f"{len(logs)} file(s), {_human(_size(logs))}"),
    ]  # fmt: skip
    pending = _unshipped_bytes(target, logs)
    rows.append(
        _row("agent", "checkpoints", "never ran" if pending is None else
             ("caught up" if pending == 0 else "behind"),
             "" if pending is None else f"{_human(pending)} not shipped yet")
    )  # fmt: skip
    rows.append(_row("bucket", target.bucket("raw").name, "ready",
                     f"{len(raw)} objects, {_human(_size(raw))}"))  # fmt: skip
    tables = target.catalog.tables(target.names.database)
    for name in ("raw", TRANSFORMED_TABLE, QUARANTINE_TABLE):
        entry = tables.get(name)
        rows.append(_row("table", f"{target.names.database}.{name}",
                         "registered" if entry else "absent",
                         f"{len(entry['partitions'])} partitions" if entry else ""))  # fmt: skip
    rows.append(_row("crawler", "local", "stale" if raw and target.crawl_is_stale() else "current"))
    freshness: dict[str, Any] = {}
    try:
        counts = duck.run(
            target.bucket("lake"),
            f"SELECT (SELECT count(*) FROM {TRANSFORMED_TABLE}),"
            f" (SELECT count(*) FROM {QUARANTINE_TABLE}),"
            f" (SELECT max(invoicetimestamp) FROM {TRANSFORMED_TABLE})",
        ).rows[0]
        freshness = {"transformed_rows": counts[0], "quarantined_rows": counts[1],
                     "newest_order_in_table": counts[2]}  # fmt: skip
    except Exception as exc:  # a status page must render even when the lake is odd
        freshness = {"lake": f"unreadable: {exc}"}
    if raw:
        try:
            freshness["newest_order_in_raw"] = duck.newest_raw_order(target.bucket("raw"))
        except Exception as exc:
            freshness["newest_order_in_raw"] = f"unreadable: {exc}"
    return {
        "target": "local",
        "home": str(target.home),
        "resources": rows,
        "runs": target.transform_runs(5),
        "freshness": freshness,
    }
