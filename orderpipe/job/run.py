"""One run of the job, whatever the engine and entry point (`run_batch`): recover a crashed run,
take the new raw input (locally the objects the bookmark file has not seen, on Glue what its
bookmarked source yields), let the engine stage the merged partitions, commit (manifest),
publish, register, record the bookmark, write the run summary (a failed run's too).

An engine is anything with `process(paths, ctx) -> counts` (see `RunContext`): it reads the
given raw objects, drops what the tables already hold, and stages one Parquet file per partition
it rewrites under `<lake>/_staging/<run_id>/<table>/…`. Everything else is shared here.
"""

from __future__ import annotations

import contextlib
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any, Protocol

from orderpipe.job import job_io
from orderpipe.job.summary import RunSummary, first_line, iso
from orderpipe.job.transform import (
    FX_RATE,
    HIGH_VALUE_THRESHOLD,
    QUARANTINE_TABLE,
    REASONS,
    TRANSFORMED_TABLE,
)

TABLES = (TRANSFORMED_TABLE, QUARANTINE_TABLE)


@dataclass(frozen=True)
class RunContext:
    files: job_io.Files
    lake_path: str
    run_id: str
    started: datetime
    fx_rate: float
    high_value_threshold: float
    full_refresh: bool
    grace_seconds: float = job_io.GRACE_SECONDS


class Engine(Protocol):
    name: str

    def files_for(self, root: str) -> job_io.Files: ...

    def process(self, paths: list[str], ctx: RunContext) -> dict[str, Any]:
        """Stage the run's partitions; return the counts `summary` needs (see `counts`)."""
        ...


def new_run_id(now: datetime) -> str:
    return f"{now.strftime('%Y%m%dT%H%M%SZ')}-{uuid.uuid4().hex[:8]}"


def counts(
    *,
    records_read: int,
    distinct: int,
    transformed: int,
    quarantined: dict[str, int],
) -> dict[str, Any]:
    """The run's numbers from what every engine can count (the same arithmetic for both)."""
    new_rows = transformed + sum(quarantined.values())
    return {
        "records_read": records_read,
        "distinct_records": distinct,
        "already_present": distinct - new_rows,
        "duplicates_dropped": records_read - new_rows,
        "transformed": transformed,
        "quarantined": quarantined,
    }


def summary(
    run_id: str, started: datetime, clock: float, engine: str, **numbers: Any
) -> RunSummary:
    """A succeeded run's summary from `counts` plus objects_read, partitions_written and the
    run's parameters (a run that read nothing counts 0 everywhere)."""
    quarantined_by = {r: int(numbers.get("quarantined", {}).get(r, 0)) for r in REASONS}
    return _finished(
        run_id,
        "SUCCEEDED",
        started,
        clock,
        engine,
        objects_read=numbers.get("objects_read", 0),
        records_read=numbers.get("records_read", 0),
        distinct_records=numbers.get("distinct_records", 0),
        already_present=numbers.get("already_present", 0),
        duplicates_dropped=numbers.get("duplicates_dropped", 0),
        transformed=numbers.get("transformed", 0),
        quarantined=quarantined_by,
        quarantined_total=sum(quarantined_by.values()),
        partitions_written=numbers.get("partitions_written", 0),
        fx_rate=numbers["fx_rate"],
        high_value_threshold=numbers["high_value_threshold"],
        full_refresh=numbers["full_refresh"],
    )


def failed_summary(
    run_id: str, started: datetime, clock: float, engine: str, error: BaseException, **params: Any
) -> RunSummary:
    """A failed run's summary: its parameters and the error's first line; no counts."""
    return _finished(run_id, "FAILED", started, clock, engine, error=first_line(error), **params)


def _finished(
    run_id: str, state: str, started: datetime, clock: float, engine: str, **fields: Any
) -> RunSummary:
    """A summary written as the run ends: its times (`clock`: its monotonic start) and state."""
    return RunSummary(
        run_id=run_id,
        state=state,
        started_at=iso(started),
        finished_at=iso(datetime.now(UTC)),
        seconds=round(time.monotonic() - clock, 3),
        engine=engine,
        **fields,
    )


def commit_and_publish(ctx: RunContext, register: job_io.Registrar | None) -> int:
    """Commit point, then publish, point the catalog at the new versions, clean up. Returns
    partitions written."""
    manifest = job_io.write_manifest(
        ctx.files, ctx.lake_path, ctx.run_id, TABLES, full_refresh=ctx.full_refresh
    )
    job_io.publish(ctx.files, ctx.lake_path, manifest)
    job_io.register_manifest(register, ctx.lake_path, manifest)
    job_io.finish(ctx.files, ctx.lake_path, ctx.run_id)
    job_io.clean_old_versions(ctx.files, ctx.lake_path, manifest, ctx.grace_seconds)
    return sum(len(p) for p in manifest["tables"].values())


@dataclass(frozen=True)
class Batch:
    """The raw input of one run, however it was found: how many objects, how the engine
    processes them, and what to record once the run's output is committed (a bookmark; called
    when there was nothing to read too)."""

    objects: int
    process: Callable[[RunContext], dict[str, Any]]
    committed: Callable[[RunContext], None] = lambda ctx: None


def run_batch(
    engine: Engine,
    read: Callable[[], Batch],
    *,
    lake_path: str,
    open_registrar: Callable[[], job_io.Registrar | None],
    run_id: str | None,
    fx_rate: float,
    high_value_threshold: float,
    full_refresh: bool,
    grace_seconds: float = job_io.GRACE_SECONDS,
) -> RunSummary:
    """The run protocol every entry point shares: recover a crashed run, `read` the new raw
    input, let the engine stage it, commit and publish, record the input as done, write the
    run summary to `<lake_path>/_runs/<run_id>.json` and return it — a failed run's too (state
    FAILED, its error's first line), before the error is raised again."""
    started, clock = datetime.now(UTC), time.monotonic()
    run_id = job_io.check_run_id(run_id or new_run_id(started))
    files = engine.files_for(lake_path)
    params: dict[str, Any] = {
        "fx_rate": fx_rate,
        "high_value_threshold": high_value_threshold,
        "full_refresh": full_refresh,
    }
    try:
        register = open_registrar()
        job_io.recover(files, lake_path, register)
        batch = read()
        ctx = RunContext(files, lake_path, run_id, started, **params, grace_seconds=grace_seconds)
        numbers: dict[str, Any] = {}
        if batch.objects:
            numbers = batch.process(ctx)
            numbers["partitions_written"] = commit_and_publish(ctx, register)
        batch.committed(ctx)
    except Exception as exc:
        failed = failed_summary(run_id, started, clock, engine.name, exc, **params)
        with contextlib.suppress(Exception):  # a lake that takes no summary: the error says so
            job_io.write_summary(files, lake_path, failed)
        raise
    result = summary(
        run_id, started, clock, engine.name, objects_read=batch.objects, **numbers, **params
    )
    job_io.write_summary(files, lake_path, result)
    return result


def run_job(
    engine: Engine,
    *,
    raw_path: str,
    lake_path: str,
    database: str,
    catalog_path: str | None,
    bookmark_path: str | None,
    fx_rate: float = FX_RATE,
    high_value_threshold: float = HIGH_VALUE_THRESHOLD,
    full_refresh: bool = False,
    run_id: str | None = None,
    grace_seconds: float = job_io.GRACE_SECONDS,
) -> RunSummary:
    """Run the job once with `engine` (see `run_batch`) and return the run summary.

    Incremental: only raw objects not in the bookmark file are read; the bookmark is committed
    after output and catalog are written. `full_refresh` reads all raw objects, rebuilds both
    tables and resets the bookmark. Partitions are registered in the local catalog file when
    `catalog_path` is given, else in the Glue Data Catalog when the lake is on s3://.
    """

    def read() -> Batch:
        done = set() if full_refresh else job_io.load_bookmark(bookmark_path)
        objects = job_io.list_raw_objects(engine.files_for(raw_path), raw_path)
        keys = {path: job_io.object_key(raw_path, path) for path in objects}
        todo = [path for path in objects if keys[path] not in done]

        def committed(ctx: RunContext) -> None:
            if bookmark_path is not None and todo:
                job_io.save_bookmark(bookmark_path, done | {keys[p] for p in todo})

        return Batch(len(todo), lambda ctx: engine.process(todo, ctx), committed)

    return run_batch(
        engine,
        read,
        lake_path=lake_path,
        open_registrar=lambda: registrar(database, lake_path, catalog_path),
        run_id=run_id,
        fx_rate=fx_rate,
        high_value_threshold=high_value_threshold,
        full_refresh=full_refresh,
        grace_seconds=grace_seconds,
    )


def registrar(database: str, lake_path: str, catalog_path: str | None) -> job_io.Registrar | None:
    """The local catalog file when given, else the Glue Data Catalog for a lake on s3://."""
    if catalog_path is not None:
        return job_io.local_registrar(catalog_path, database, lake_path)
    if lake_path.startswith("s3://"):
        return job_io.glue_registrar(database, lake_path)
    return None
