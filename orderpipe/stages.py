"""The pipeline's stages as commands, the demo and the run loop call them: ship the logs, crawl,
transform (crawling first where the catalog is stale), each a timed stage that says what it did
in numbers. Commands parse, call these and render; they do not import each other for them."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

from orderpipe import console, runs_view
from orderpipe.job.summary import RunSummary
from orderpipe.render import byte_size
from orderpipe.targets.base import CrawlResult, JobParams, Target

if TYPE_CHECKING:
    from orderpipe.shipper import ShipStats


def ship_logs(target: Target, log_dir: Path | None = None, follow: bool = False) -> ShipStats:
    """Run the agent over the log folder into the target's delivery stream; print its numbers."""
    from orderpipe.shipper import DEAD_LETTER
    from orderpipe.shipper import ship as run_agent

    stats = run_agent(
        target.delivery_stream(),
        log_dir or target.log_dir,
        target.state.agent,
        follow=follow,
    )
    console.success(
        f"shipped {stats.lines:,} lines in {stats.records:,} records "
        f"({byte_size(stats.bytes)}, billed/payload {stats.billed_ratio:.3f}) "
        f"in {stats.seconds:.1f}s"
        + (
            f"; {stats.dead_letters} line(s) over Firehose's record limit set aside in "
            f"{target.state.agent / DEAD_LETTER}"
            if stats.dead_letters
            else ""
        )
    )
    return stats


def describe_crawl(result: CrawlResult) -> str:
    added = f"{result.partitions_added} new partition(s), {result.partitions_total} in all"
    tables = f"; new table(s): {', '.join(result.tables_added)}" if result.tables_added else ""
    note = f" ({result.message})" if result.message else ""
    return f"{result.state.lower()}: {added}{tables}{note}"


def run_transform(target: Target, params: JobParams, wait: bool = True) -> RunSummary:
    """Crawl when the catalog is stale, then run the job; each as a timed stage."""
    if target.crawl_is_stale():
        with console.stage("crawl") as stage:
            stage["detail"] = describe_crawl(target.crawl())
    with console.stage("transform") as stage:
        run = target.run_transform(params, wait=wait)
        stage["detail"] = runs_view.describe(run)
    return run
