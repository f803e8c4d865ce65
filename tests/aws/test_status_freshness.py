"""What `status --target aws` adds beyond resources: delivery metrics from CloudWatch, the
newest raw object, and a page that still renders when one of those readings is refused."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime, timedelta

import boto3
import pytest
from botocore.stub import Stubber
from moto import mock_aws

from orderpipe.settings import Settings
from orderpipe.targets.aws.reader import Reader
from orderpipe.targets.aws.resources import StackSpec
from orderpipe.targets.aws.session import AwsSession
from orderpipe.targets.aws.status import freshness, last_hour_metrics, newest_object

REGION = "eu-west-1"
SPEC = StackSpec(settings=Settings(stack="fr"), account="123456789012", region=REGION)


@pytest.fixture
def reader(aws_credentials: None) -> Iterator[Reader]:
    with mock_aws():
        yield Reader(AwsSession(region=REGION), SPEC)


def test_firehose_deliveries_of_the_last_hour_are_summed_and_an_idle_stream_has_no_data(
    reader: Reader,
) -> None:
    now = datetime.now(UTC)
    assert last_hour_metrics(reader, now)["firehose_records_last_hour"] == "no data"

    stream = [{"Name": "DeliveryStreamName", "Value": SPEC.stream}]
    boto3.client("cloudwatch").put_metric_data(
        Namespace="AWS/Firehose",
        MetricData=[
            {"MetricName": "DeliveryToS3.Records", "Dimensions": stream, "Value": value,
             "Timestamp": now - timedelta(minutes=minutes)}
            for value, minutes in ((1200, 40), (300, 10), (999, 90))  # the last: too old
        ] + [
            {"MetricName": "DeliveryToS3.Success", "Dimensions": stream, "Value": 1.0,
             "Timestamp": now - timedelta(minutes=10)}
        ],
    )  # fmt: skip

    metrics = last_hour_metrics(reader, now)
    assert metrics["firehose_records_last_hour"] == 1500
    assert metrics["firehose_success_last_hour"] == 1.0


def test_the_newest_raw_object_is_found_in_the_newest_partition(reader: Reader) -> None:
    s3 = boto3.client("s3")
    bucket = SPEC.bucket("raw")
    s3.create_bucket(Bucket=bucket, CreateBucketConfiguration={"LocationConstraint": REGION})
    assert newest_object(reader, "raw", "raw/") is None
    for key in ("raw/year=2026/month=01/day=31/hour=23/a.gz", "raw/year=2026/month=02/x.gz"):
        s3.put_object(Bucket=bucket, Key=key, Body=b"{}\n")

    newest = newest_object(reader, "raw", "raw/")
    assert newest is not None and newest["Key"] == "raw/year=2026/month=02/x.gz"


def test_a_refused_reading_is_named_and_the_rest_still_shows(reader: Reader) -> None:
    cloudwatch = reader.session.client("cloudwatch")
    with Stubber(cloudwatch) as stub:
        stub.add_client_error(
            "get_metric_data", "AccessDenied", "not authorized to perform cloudwatch:GetMetricData"
        )
        found = freshness(reader, {"LastCrawl": {"Status": "SUCCEEDED", "StartTime": None}})

    assert found["metrics"].startswith("unreadable: ")
    assert "cloudwatch" in found["metrics"].lower()
    assert found["last_crawl"] == "SUCCEEDED at ?"
