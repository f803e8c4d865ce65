"""Benchmark the agent: lines/s into the local sink and into Firehose on a loopback moto server,
packed records against one line per record, with Firehose's billed-bytes ratio, in one run.

    .venv/bin/python bench/ship.py [--lines 200000]
"""

from __future__ import annotations

import argparse
import logging
import os
import socket
import tempfile
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

from rich.table import Table

from orderpipe import console
from orderpipe.generator import synthetic_orders, write_orders
from orderpipe.shipper import ShipStats, ship
from orderpipe.targets.local.firehose import LocalFirehose

STREAM = "bench-orders"
BUCKET = "bench-raw"


class Counted:
    """Counts the PutRecordBatch calls a stream receives."""

    def __init__(self, inner: Any) -> None:
        self.inner = inner
        self.calls = 0
        self.max_batch_records = inner.max_batch_records
        self.max_batch_bytes = inner.max_batch_bytes
        self.max_record_bytes = inner.max_record_bytes

    def put_record_batch(self, records: Sequence[bytes]) -> list[str | None]:
        self.calls += 1
        return self.inner.put_record_batch(records)

    def close(self) -> None:
        self.inner.close()


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def moto_firehose() -> tuple[Any, Callable[[], int], Callable[[], None]]:
    """A moto server on loopback with a delivery stream into an S3 bucket; returns a client
    factory, a counter of delivered lines and a stopper."""
    from moto.server import ThreadedMotoServer

    from orderpipe.targets.aws.firehose import FirehoseStream
    from orderpipe.targets.aws.session import AwsSession

    logging.getLogger("werkzeug").setLevel(logging.ERROR)  # no line per request
    port = free_port()
    server = ThreadedMotoServer(ip_address="127.0.0.1", port=port, verbose=False)
    server.start()
    for name, value in {
        "AWS_ACCESS_KEY_ID": "testing",
        "AWS_SECRET_ACCESS_KEY": "testing",
        "AWS_ENDPOINT_URL": f"http://127.0.0.1:{port}",
    }.items():
        os.environ[name] = value
    os.environ.pop("AWS_PROFILE", None)
    session = AwsSession(region="eu-west-1")
    s3 = session.client("s3")
    s3.create_bucket(Bucket=BUCKET, CreateBucketConfiguration={"LocationConstraint": "eu-west-1"})
    firehose = session.client("firehose")

    def fresh_stream(name: str) -> Any:
        firehose.create_delivery_stream(
            DeliveryStreamName=name,
            DeliveryStreamType="DirectPut",
            ExtendedS3DestinationConfiguration={
                "RoleARN": "arn:aws:iam::123456789012:role/bench-firehose-role",
                "BucketARN": f"arn:aws:s3:::{BUCKET}",
                "Prefix": f"{name}/",
                "CompressionFormat": "UNCOMPRESSED",
                "BufferingHints": {"SizeInMBs": 5, "IntervalInSeconds": 60},
            },
        )
        return FirehoseStream(session, name)

    def delivered_lines(prefix: str) -> int:
        total = 0
        for page in s3.get_paginator("list_objects_v2").paginate(Bucket=BUCKET, Prefix=prefix):
            for item in page.get("Contents", []):
                total += s3.get_object(Bucket=BUCKET, Key=item["Key"])["Body"].read().count(b"\n")
        return total

    return fresh_stream, delivered_lines, server.stop


def run_case(
    stream: Any, logs: Path, state: Path, record_bytes: int | None
) -> tuple[ShipStats, int]:
    counted = Counted(stream)
    options = {} if record_bytes is None else {"record_bytes": record_bytes}
    return ship(counted, logs, state, progress=False, **options), counted.calls


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--lines", type=int, default=200_000)
    args = parser.parse_args()

    with tempfile.TemporaryDirectory(prefix="orderpipe-bench-ship-") as tmp:
        root = Path(tmp)
        logs = root / "logs"
        written = write_orders(synthetic_orders(args.lines, seed=1), logs)
        console.info(
            f"{written.orders:,} order lines, {written.bytes / 1e6:.1f} MB in {written.files} "
            f"file(s); avg {written.bytes / written.orders:.0f} bytes/line"
        )
        rows: list[tuple[str, str, ShipStats, int]] = []  # sink, mode, stats, calls
        for mode, record_bytes in (("packed", None), ("1 line/rec", 1)):
            case = root / f"local-{len(rows)}"
            stream = LocalFirehose(case / "raw", case / "spool", STREAM)
            stats, calls = run_case(stream, logs, case / "state", record_bytes)
            rows.append(("local", mode, stats, calls))

        fresh_stream, delivered_lines, stop = moto_firehose()
        try:
            for mode, record_bytes in (("packed", None), ("1 line/rec", 1)):
                name = f"{STREAM}-{len(rows)}"
                stats, calls = run_case(fresh_stream(name), logs, root / name, record_bytes)
                got = delivered_lines(f"{name}/")
                if got != written.orders:
                    console.warn(f"moto {mode}: {got:,} lines delivered, {written.orders:,} sent")
                rows.append(("moto (HTTP)", mode, stats, calls))
        finally:
            stop()

    table = Table(title=f"orderpipe ship — {written.orders:,} lines, {written.bytes / 1e6:.0f} MB")
    for column in ("sink", "packing", "lines/s", "MB/s", "records", "calls", "s", "billed"):
        table.add_column(column, justify="left" if column in ("sink", "packing") else "right")
    for sink, mode, s, calls in rows:
        table.add_row(
            sink,
            mode,
            f"{s.lines / s.seconds:,.0f}",
            f"{s.bytes / s.seconds / 1e6:,.1f}",
            f"{s.records:,}",
            f"{calls:,}",
            f"{s.seconds:.2f}",
            f"{s.billed_ratio:.3f}",
        )
    console.out.print(table)
    console.info(
        "packing: lines per Firehose record; calls: PutRecordBatch requests; "
        "billed: billed bytes (5 KB steps per record) / payload bytes."
    )


if __name__ == "__main__":
    main()
