"""What `orderpipe status` shows for the local target: each stage, its counts, freshness."""

from __future__ import annotations

import time
from contextlib import suppress
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any

from orderpipe.freshness import RawObject, lag_figures
from orderpipe.job.summary import RunSummary
from orderpipe.job.transform import QUARANTINE_TABLE, TRANSFORMED_TABLE
from orderpipe.render import byte_size
from orderpipe.targets.local import crawler, duck, home

if TYPE_CHECKING:
    from orderpipe.targets.local.target import LocalTarget


def _size(paths: list[Path]) -> int:
    return sum(p.stat().st_size for p in paths)


def _row(kind: str, name: Any, state: str, detail: str = "") -> dict[str, str]:
    return {"kind": kind, "name": str(name), "state": state, "detail": detail}


def _agent_rows(target: LocalTarget, logs: list[Path]) -> list[dict[str, str]]:
    """The agent: how far it shipped each log, a last line still waiting for its end, and the
    lines it set aside as over Firehose's record limit."""
    from orderpipe.errors import OrderpipeError
    from orderpipe.shipper import backlog, dead_letters

    try:
        behind = backlog(logs, target.state.agent)
    except OrderpipeError as exc:
        return [_row("agent", "checkpoints", "unreadable", str(exc))]
    if behind is None:
        return [_row("agent", "checkpoints", "never ran")]
    notes = [f"{name} ends in a line without its newline ({size:,} bytes): it ships once the "
             "writer completes it" for name, size in behind.torn]  # fmt: skip
    detail = "; ".join([f"{byte_size(behind.pending_bytes)} not shipped yet", *notes])
    state = "behind" if behind.pending_bytes else "caught up"
    rows = [_row("agent", "checkpoints", state, detail)]
    count, folder = dead_letters(target.state.agent)
    rows.append(
        _row("agent", "dead-letter", f"{count:,} line(s)",
             f"over Firehose's record limit, kept in {folder}" if count else "")
    )  # fmt: skip
    return rows


def collect(target: LocalTarget) -> dict[str, Any]:
    if not target.home.exists():
        return {"target": "local", "home": str(target.home), "resources": [], "runs": [],
                "freshness": {}, "message": "nothing provisioned: run `orderpipe up`"}  # fmt: skip
    logs = sorted(target.log_dir.glob("*.ndjson")) if target.log_dir.is_dir() else []
    raw = crawler.raw_objects(target.bucket("raw"))
    marked = home.marked_stack(target.home) is not None
    rows = [
        _row("folder", target.home, "ready" if marked else "unmarked",
             "" if marked else "not an orderpipe home: `orderpipe up` marks one"),
        _row("logs", target.log_dir, "ready" if logs else "empty",
             f"{len(logs)} file(s), {byte_size(_size(logs))}"),
    ]  # fmt: skip
    rows += _agent_rows(target, logs)
    rows.append(_row("bucket", target.bucket("raw").name, "ready",
                     f"{len(raw)} objects, {byte_size(_size(raw))}"))  # fmt: skip
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
            files=target.lake_files(),
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
    runs = target.transform_runs(20)  # back to the last successful run, usually
    freshness.update(lag(raw, runs, target.names.delivery_stream))
    return {
        "target": "local",
        "home": str(target.home),
        "resources": rows,
        "runs": runs[:5],
        "freshness": freshness,
        "lag_seconds": freshness["lag_seconds"],
    }


def lag(raw: list[Path], runs: list[RunSummary], stream: str) -> dict[str, Any]:
    """Lag from the raw objects: landed at their mtime; their oldest record arrived at the
    time in their Firehose-style name (`<stream>-1-YYYY-MM-DD-HH-MM-SS-<uuid>.gz`)."""
    objects = []
    for path in raw:
        with suppress(FileNotFoundError):  # the job may be moving it meanwhile
            landed = path.stat().st_mtime
            stamp = path.name.removeprefix(f"{stream}-1-")[:19]
            try:
                arrived = datetime.strptime(stamp, "%Y-%m-%d-%H-%M-%S").replace(tzinfo=UTC)
            except ValueError:
                objects.append(RawObject(landed, landed))
            else:
                objects.append(RawObject(landed, min(landed, arrived.timestamp())))
    return lag_figures(objects, runs, now=time.time())
