"""`status --format json` keeps its shape on both targets (design.md §3.1): the keys below were
written down from the output before the report became a typed StatusReport (scripts read them),
plus `message` and `lag_seconds`, now present in every report of every target."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from helpers import cli

ROW = {"kind", "name", "state", "detail"}
LAG = {"lag_seconds", "raw_objects_waiting", "newest_queryable_at"}
RUN = {"run_id", "started_at", "state", "records_read", "transformed", "quarantined_total"}
COMMON = {"target", "resources", "runs", "freshness", "lag_seconds", "message"}
LOCAL = {*COMMON, "home"}
LOCAL_FRESHNESS = {"transformed_rows", "quarantined_rows", "newest_order_in_table",
                   "newest_order_in_raw", *LAG}  # fmt: skip
AWS = {*COMMON, "stack", "account", "region"}
AWS_METRICS = {"firehose_records_last_hour", "firehose_success_last_hour",
               "athena_scanned_bytes_last_hour"}  # fmt: skip
AWS_FRESHNESS = {*AWS_METRICS, *LAG, "newest_raw_object", "raw_partitions", "last_crawl",
                 "transformed_orders_partitions", "quarantined_orders_partitions"}  # fmt: skip


def status(*args: str) -> dict[str, Any]:
    report: dict[str, Any] = cli(None, *args, "status", "--format", "json").json()
    return report


def test_local_status_json_keeps_its_keys(home: Path) -> None:
    empty = status("--home", str(home))
    assert set(empty) == LOCAL and empty["lag_seconds"] is None
    assert empty["resources"] == [] and "orderpipe up" in empty["message"]

    for command in (["generate", "--count", "200", "--seed", "3"], ["transform", "run"]):
        cli(home, *command)
    report = status("--home", str(home))
    assert set(report) == LOCAL and report["target"] == "local" and report["message"] == ""
    assert {frozenset(row) for row in report["resources"]} == {frozenset(ROW)}
    assert set(report["freshness"]) == LOCAL_FRESHNESS
    assert report["lag_seconds"] == report["freshness"]["lag_seconds"] == 0
    assert report["freshness"]["transformed_rows"] + report["freshness"]["quarantined_rows"] == 200
    (run,) = report["runs"]
    assert set(run) >= RUN and run["state"] == "SUCCEEDED"


def test_aws_status_json_keeps_its_keys(
    aws_credentials: None, home: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from moto import mock_aws

    monkeypatch.setenv(
        "AWS_ENDPOINT_URL_S3", "http://s3.eu-west-1.amazonaws.com"
    )  # see test_provision
    where = ("--target", "aws", "--stack", "keys", "--home", str(home))
    with mock_aws():
        before = status(*where)
        assert set(before) == AWS and before["lag_seconds"] is None
        assert set(before["freshness"]) == AWS_METRICS  # no raw bucket: no lag figures
        assert {frozenset(row) for row in before["resources"]} == {frozenset(ROW | {"settings"})}
        assert "run `orderpipe --target aws up`" in before["message"]

        cli(None, *where, "up")
        after = status(*where)
    assert set(after) == AWS and after["message"] == "" and after["runs"] == []
    assert set(after["freshness"]) == AWS_FRESHNESS
    assert after["lag_seconds"] == after["freshness"]["lag_seconds"] == 0
    assert {row["state"] for row in after["resources"]} == {"ok"}
    bucket = next(row for row in after["resources"] if row["kind"] == "bucket")
    assert bucket["settings"]["encryption"] == "AES256" and "encryption=AES256" in bucket["detail"]
