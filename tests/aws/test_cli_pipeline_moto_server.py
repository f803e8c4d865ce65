"""The pipeline on the aws target as a user types it, against a moto server: `up`, `generate` on
EC2 and `--here`, `crawl`, `transform run/status`, `query`, `status`, `down` — each command a
subprocess, each effect checked with plain boto3 the way one would with the aws CLI.

The server is a plain `moto_server` process (nothing patched). moto runs no crawler, job or
query: the crawler and the job are set to finish at once through moto's state manager, and
Athena's answer is canned through moto's results API — both documented parts of moto's own API.
"""

from __future__ import annotations

import base64
import json
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from helpers import Ran
from moto_stack import ACCOUNT, REGION, STACK, aws, aws_cli, bucket, leftovers, moto_api, raw_lines

TOP_ORDERS = [
    ("invoiceno", "varchar", ["581483", "541431"]),
    ("customerid", "varchar", ["16446", "12346"]),
    ("country", "varchar", ["United Kingdom", "United Kingdom"]),
    ("invoicedate", "date", ["2011-12-09", "2011-01-18"]),
    ("lines", "bigint", ["1", "1"]),
    ("items", "bigint", ["80995", "74215"]),
    ("totalusd", "double", ["2016.77", "925.06"]),
]
SUMMARY = {
    "objects_read": 4,
    "records_read": 2000,
    "duplicates_dropped": 0,
    "distinct_records": 2000,
    "transformed": 1874,
    "quarantined": {"cancelled": 70, "missing_customer": 56},
    "quarantined_total": 126,
    "partitions_written": 31,
    "seconds": 41.5,
}


def generators(endpoint: str) -> list[dict[str, Any]]:
    pages = aws(endpoint, "ec2").describe_instances(
        Filters=[
            {"Name": "tag:orderpipe:stack", "Values": [STACK]},
            {"Name": "instance-state-name", "Values": ["pending", "running"]},
        ]
    )
    return [i for r in pages["Reservations"] for i in r["Instances"]]


def test_the_pipeline_through_the_cli_against_a_moto_server(
    env: dict[str, str],
    endpoint: str,
    immediate: None,
    tmp_path: Path,
) -> None:
    def cli(*args: str) -> Ran:
        return aws_cli(env, "--home", str(tmp_path / "home"), *args)

    cli("up")  # up twice, status and down twice: test_cli_moto_server.py

    # generate: the stack's generator instance, locked down, with the agent in its user-data.
    launched = cli("generate", "--count", "5000", "--rate", "50")
    (instance,) = generators(endpoint)
    assert instance["InstanceId"] in launched.stdout
    assert f"aws ssm start-session --target {instance['InstanceId']}" in launched.stdout
    assert instance["MetadataOptions"]["HttpTokens"] == "required"
    assert "KeyName" not in instance
    user_data = base64.b64decode(
        aws(endpoint, "ec2").describe_instance_attribute(
            InstanceId=instance["InstanceId"], Attribute="userData"
        )["UserData"]["Value"]
    ).decode()
    assert "dnf install -y aws-kinesis-agent" in user_data
    assert f'"deliveryStream": "{STACK}-orders"' in user_data
    assert "generate --no-ship --count 5000 --rate 50.0" in user_data
    assert f"s3://{bucket('scripts')}/ec2/orderpipe.tar.gz" in user_data
    groups = aws(endpoint, "ec2").describe_security_groups(
        GroupIds=[g["GroupId"] for g in instance["SecurityGroups"]]
    )["SecurityGroups"]
    assert [g["IpPermissions"] for g in groups] == [[]]

    again = cli("generate")
    assert instance["InstanceId"] in again.stdout and len(generators(endpoint)) == 1

    # generate --here: this machine's agent ships into the real (moto) delivery stream.
    here = cli("generate", "--here", "--count", "2000", "--seed", "7")
    assert "shipped 2,000 lines" in here.stderr
    lines = raw_lines(endpoint)
    assert len(lines) == 2000
    assert set(lines[0]) == {"InvoiceNo", "StockCode", "Description", "Quantity", "InvoiceDate",
                             "UnitPrice", "CustomerID", "Country"}  # fmt: skip

    crawled = cli("crawl")
    assert "succeeded" in crawled.stderr

    # transform run: moto runs no job, so there is no summary; the run still reports its end.
    run = cli("transform", "run", "--fx-rate", "0.013")
    assert "SUCCEEDED" in run.stderr and "wrote no run summary" in run.stderr
    (job_run,) = aws(endpoint, "glue").get_job_runs(JobName=f"{STACK}-transform-order-history")[
        "JobRuns"
    ]
    assert job_run["Arguments"]["--fx_rate"] == "0.013"
    assert job_run["JobRunState"] == "SUCCEEDED"
    # What the job writes at its end; `transform status` shows its numbers.
    aws(endpoint, "s3").put_object(
        Bucket=bucket("lake"), Key=f"_runs/{job_run['Id']}.json", Body=json.dumps(SUMMARY)
    )
    runs = cli("transform", "status")
    assert job_run["Id"][:12] in runs.stdout and "1,874" in runs.stdout and "126" in runs.stdout

    # query: Athena's answer canned; JSON shaped exactly as the local target prints it.
    moto_api(endpoint, "static/athena/query-results", {
        "account_id": ACCOUNT, "region": REGION,
        "results": [{
            "rows": [{"Data": [{"VarCharValue": v} for v in row]} for row in [
                [name for name, _, _ in TOP_ORDERS],
                *zip(*(values for _, _, values in TOP_ORDERS), strict=True),
            ]],
            "column_info": [{"Name": name, "Label": name, "Type": kind, "CatalogName": "hive",
                             "SchemaName": "", "TableName": "", "Precision": 0, "Scale": 0,
                             "Nullable": "UNKNOWN", "CaseSensitive": False}
                            for name, kind, _ in TOP_ORDERS],
        }],
    })  # fmt: skip
    top = cli("query", "top-orders", "--format", "json")
    assert json.loads(top.stdout) == [
        {"invoiceno": "581483", "customerid": "16446", "country": "United Kingdom",
         "invoicedate": "2011-12-09", "lines": 1, "items": 80995, "totalusd": 2016.77},
        {"invoiceno": "541431", "customerid": "12346", "country": "United Kingdom",
         "invoicedate": "2011-01-18", "lines": 1, "items": 74215, "totalusd": 925.06},
    ]  # fmt: skip
    athena = aws(endpoint, "athena")
    (execution_id,) = athena.list_query_executions(WorkGroup=f"{STACK}-workgroup")[
        "QueryExecutionIds"
    ]
    execution = athena.get_query_execution(QueryExecutionId=execution_id)
    assert execution["QueryExecution"]["QueryExecutionContext"]["Database"] == STACK
    assert "transformed_orders" in execution["QueryExecution"]["Query"]

    # status: resources, the last runs with their numbers, delivery metrics, freshness. What
    # moto does not produce by itself, the services' own calls put there: Firehose's metrics,
    # and the partitions the job registers at its end.
    delivered = datetime.now(UTC) - timedelta(minutes=3)
    firehose = [{"Name": "DeliveryStreamName", "Value": f"{STACK}-orders"}]
    aws(endpoint, "cloudwatch").put_metric_data(Namespace="AWS/Firehose", MetricData=[
        {"MetricName": "DeliveryToS3.Records", "Dimensions": firehose, "Value": 2000,
         "Timestamp": delivered},
        {"MetricName": "DeliveryToS3.Success", "Dimensions": firehose, "Value": 1.0,
         "Timestamp": delivered},
    ])  # fmt: skip
    table = aws(endpoint, "glue").get_table(DatabaseName=STACK, Name="transformed_orders")["Table"]
    aws(endpoint, "glue").batch_create_partition(
        DatabaseName=STACK, TableName="transformed_orders", PartitionInputList=[
            {"Values": ["France", day], "StorageDescriptor": {
                **table["StorageDescriptor"],
                "Location": f"s3://{bucket('lake')}/transformed_orders/"
                            f"country_partition=France/date_partition={day}/",
            }} for day in ("2011-12-08", "2011-12-09")
        ],
    )  # fmt: skip
    report = json.loads(cli("status", "--format", "json").stdout)
    assert report["target"] == "aws"
    assert {row["state"] for row in report["resources"] if row["kind"] != "ec2 instance"} == {
        "ok"
    }, report["resources"]
    assert [(r["run_id"], r["state"], r["transformed"]) for r in report["runs"]] == [
        (job_run["Id"], "SUCCEEDED", 1874)
    ]
    freshness = report["freshness"]
    assert freshness["firehose_records_last_hour"] == 2000
    assert freshness["firehose_success_last_hour"] == 1.0
    newest = datetime.strptime(freshness["newest_raw_object"], "%Y-%m-%d %H:%M:%S UTC")
    assert abs(datetime.now(UTC).replace(tzinfo=None) - newest) < timedelta(minutes=5)
    assert freshness["last_crawl"].startswith("SUCCEEDED at ")
    assert freshness["transformed_orders_partitions"] == 2
    shown = cli("status").stdout
    for text in (f"{STACK}-orders", "Last transform runs", "1,874", "newest_raw_object",
                 instance["InstanceId"]):  # fmt: skip
        assert text in shown, text

    # generate --stop terminates the generator; down would have too.
    stopped = cli("generate", "--stop")
    assert instance["InstanceId"] in stopped.stderr and generators(endpoint) == []
    cli("down", "--yes")
    assert leftovers(endpoint) == [] and generators(endpoint) == []
    mine = [{"Name": "tag:orderpipe:stack", "Values": [STACK]}]
    assert aws(endpoint, "ec2").describe_security_groups(Filters=mine)["SecurityGroups"] == []
