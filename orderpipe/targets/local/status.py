"""What `orderpipe status` shows for the local target: each stage, its counts, freshness. A function
of the home's parts (layout, names, catalog, runs): the target calls it, it never calls back."""

from __future__ import annotations

import time
from collections.abc import Sequence
from contextlib import suppress
from datetime import UTC, datetime
from pathlib import Path

from orderpipe.freshness import RawObject, lag_figures
from orderpipe.job.localcatalog import LocalCatalog
from orderpipe.job.summary import RunSummary
from orderpipe.job.transform import QUARANTINE_TABLE, TRANSFORMED_TABLE
from orderpipe.layout import HomeLayout, StateLayout
from orderpipe.render import byte_size
from orderpipe.results import Figure, Lag, ResourceRow, StatusReport
from orderpipe.settings import StackNames
from orderpipe.targets.local import crawler, duck, home

NOTHING_HERE = "nothing provisioned: run `orderpipe up`"


def _size(paths: list[Path]) -> int:
    return sum(p.stat().st_size for p in paths)


def _agent_rows(agent: Path, logs: list[Path]) -> list[ResourceRow]:
    """The agent: how far it shipped each log, a last line still waiting for its end, and the
    lines it set aside as over Firehose's record limit."""
    from orderpipe.errors import OrderpipeError
    from orderpipe.shipper import backlog, dead_letters

    try:
        behind = backlog(logs, agent)
    except OrderpipeError as exc:
        return [ResourceRow("agent", "checkpoints", "unreadable", str(exc))]
    if behind is None:
        return [ResourceRow("agent", "checkpoints", "never ran")]
    notes = [f"{name} ends in a line without its newline ({size:,} bytes): it ships once the "
             "writer completes it" for name, size in behind.torn]  # fmt: skip
    detail = "; ".join([f"{byte_size(behind.pending_bytes)} not shipped yet", *notes])
    state = "behind" if behind.pending_bytes else "caught up"
    count, folder = dead_letters(agent)
    return [
        ResourceRow("agent", "checkpoints", state, detail),
        ResourceRow("agent", "dead-letter", f"{count:,} line(s)",
                    f"over Firehose's record limit, kept in {folder}" if count else ""),
    ]  # fmt: skip


def _lake_figures(lake: Path, catalog: LocalCatalog, names: StackNames) -> dict[str, Figure]:
    try:
        counts = duck.run(
            lake,
            f"SELECT (SELECT count(*) FROM {TRANSFORMED_TABLE}),"
            f" (SELECT count(*) FROM {QUARANTINE_TABLE}),"
            f" (SELECT max(invoicetimestamp) FROM {TRANSFORMED_TABLE})",
            files=duck.lake_files(lake, catalog, names),
        ).rows[0]
    except Exception as exc:  # a status page must render even when the lake is odd
        return {"lake": f"unreadable: {exc}"}
    return {"transformed_rows": counts[0], "quarantined_rows": counts[1],
            "newest_order_in_table": counts[2]}  # fmt: skip


def collect(
    layout: HomeLayout, names: StackNames, catalog: LocalCatalog, runs: Sequence[RunSummary]
) -> StatusReport:
    """The report; `runs` newest first, back to the last successful run (for the lag)."""
    if not layout.root.exists():
        return StatusReport("local", home=str(layout.root), message=NOTHING_HERE)
    state = StateLayout(layout.state)
    raw_bucket, lake = layout.bucket(names.bucket("raw")), layout.bucket(names.bucket("lake"))
    logs = sorted(layout.logs.glob("*.ndjson")) if layout.logs.is_dir() else []
    raw = crawler.raw_objects(raw_bucket)
    marked = home.marked_stack(layout) is not None
    rows = [
        ResourceRow("folder", str(layout.root), "ready" if marked else "unmarked",
                    "" if marked else "not an orderpipe home: `orderpipe up` marks one"),
        ResourceRow("logs", str(layout.logs), "ready" if logs else "empty",
                    f"{len(logs)} file(s), {byte_size(_size(logs))}"),
        *_agent_rows(state.agent, logs),
        ResourceRow("bucket", raw_bucket.name, "ready",
                    f"{len(raw)} objects, {byte_size(_size(raw))}"),
    ]  # fmt: skip
    tables = catalog.tables(names.database)
    for name in (names.raw_table, TRANSFORMED_TABLE, QUARANTINE_TABLE):
        entry = tables.get(name)
        table = f"{names.database}.{name}"
        rows.append(
            ResourceRow("table", table, "registered", f"{len(entry['partitions'])} partitions")
            if entry
            else ResourceRow("table", table, "absent")
        )
    stale = raw and crawler.is_stale(raw_bucket, state.crawler)
    rows.append(ResourceRow("crawler", "local", "stale" if stale else "current"))
    figures = _lake_figures(lake, catalog, names)
    if raw:
        try:
            figures["newest_order_in_raw"] = duck.newest_raw_order(raw_bucket)
        except Exception as exc:
            figures["newest_order_in_raw"] = f"unreadable: {exc}"
    return StatusReport(
        "local",
        home=str(layout.root),
        resources=tuple(rows),
        runs=tuple(runs[:5]),
        figures=figures,
        lag=lag(raw, runs, names.delivery_stream),
    )


def lag(raw: list[Path], runs: Sequence[RunSummary], stream: str) -> Lag:
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
