"""`orderpipe --target aws dashboard up/status/down` against a plain moto server (its own process):
the CloudWatch dashboard, QuickSight's data source, data sets and dashboard, the service role's
policy; and an account without QuickSight still gets the CloudWatch dashboard and a sentence.

moto 5.2.5 creates QuickSight data sets and dashboards but has no DescribeDataSet, DeleteDataSet
or DeleteDashboard: data sets read as missing there, and the dashboard's delete is planned (and
checked as planned) but not applied. Everything else is applied and checked with boto3."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any
from urllib.request import urlopen

import pytest
from moto_stack import ACCOUNT, REGION, STACK, aws, aws_cli, bucket

from orderpipe.settings import Settings
from orderpipe.targets.aws import AwsTarget
from orderpipe.targets.aws.dashboards import SUBSCRIBE

QS_ROLE = "aws-quicksight-service-role-v0"
MOTO_CANNOT_DESCRIBE = {f"{STACK}-transformed-orders", f"{STACK}-quarantined-orders"}


@pytest.fixture
def quicksight_account(endpoint: str) -> str:
    """An account with QuickSight: an admin user and QuickSight's service role."""
    user = aws(endpoint, "quicksight").register_user(
        AwsAccountId=ACCOUNT, Namespace="default", IdentityType="IAM", UserRole="ADMIN",
        Email="admin@example.com", UserName="admin", IamArn=f"arn:aws:iam::{ACCOUNT}:user/admin",
    )["User"]  # fmt: skip
    aws(endpoint, "iam").create_role(
        RoleName=QS_ROLE, Path="/service-role/",
        AssumeRolePolicyDocument=json.dumps({"Version": "2012-10-17", "Statement": [
            {"Effect": "Allow", "Principal": {"Service": "quicksight.amazonaws.com"},
             "Action": "sts:AssumeRole"}]}),
    )  # fmt: skip
    return str(user["Arn"])


def moto_models(server: str, kind: str) -> list[dict[str, Any]]:
    """moto's own view of what was created (for what its API cannot describe)."""
    with urlopen(f"{server}/moto-api/data.json", timeout=30) as answer:
        return list(json.load(answer)["quicksight"][kind])


def test_dashboard_up_status_down_against_a_plain_moto_server(
    env: dict[str, str],
    endpoint: str,
    quicksight_account: str,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    up = aws_cli(env, "dashboard", "up")
    assert "6 change(s) applied" in up.stderr and "No QuickSight admin" not in up.stderr

    body = json.loads(
        aws(endpoint, "cloudwatch").get_dashboard(DashboardName=f"{STACK}-pipeline")[
            "DashboardBody"
        ]
    )
    metrics = json.dumps([w["properties"].get("metrics") for w in body["widgets"]])
    expected = ["IncomingRecords", "DeliveryToS3.Success", "DeliveryToS3.DataFreshness",
                "glue.driver.aggregate.elapsedTime", "ProcessedBytes", "TotalExecutionTime",
                "BucketSizeBytes", f"{STACK}-orders", f"{STACK}-workgroup",
                bucket("lake")]  # fmt: skip
    assert [name for name in expected if name not in metrics] == []

    qs = aws(endpoint, "quicksight")
    source = qs.describe_data_source(AwsAccountId=ACCOUNT, DataSourceId=f"{STACK}-athena")
    assert source["DataSource"]["DataSourceParameters"] == {
        "AthenaParameters": {"WorkGroup": f"{STACK}-workgroup"}
    }
    assert {d["name"] for d in moto_models(endpoint, "QuicksightDataSet")} == {
        f"orderpipe {STACK}: transformed_orders",
        f"orderpipe {STACK}: quarantined_orders",
    }
    (dashboard,) = moto_models(endpoint, "QuicksightDashboard")
    visuals = dashboard["definition"]["Sheets"][0]["Visuals"]
    assert [next(iter(v)) for v in visuals].count("KPIVisual") == 4 and len(visuals) == 10
    assert dashboard["permissions"][0]["Principal"] == quicksight_account
    policy = aws(endpoint, "iam").get_role_policy(
        RoleName=QS_ROLE, PolicyName=f"{STACK}-quicksight-access"
    )["PolicyDocument"]
    assert f"arn:aws:s3:::{bucket('lake')}/*" in json.dumps(policy)

    status = json.loads(aws_cli(env, "dashboard", "status", "--format", "json").stdout)
    states = {r["name"]: r["state"] for r in status["resources"]}
    assert len(states) == 6 and status["notes"] == []
    assert {n: s for n, s in states.items() if n not in MOTO_CANNOT_DESCRIBE} == dict.fromkeys(
        states.keys() - MOTO_CANNOT_DESCRIBE, "ok"
    )
    again = aws_cli(env, "dashboard", "up").stderr  # nothing that moto can read changes
    for call in ("put_dashboard", "create_dashboard", "data_source", "put_role_policy"):
        assert call not in again, again

    # `orderpipe down` takes the dashboards with it: its plan, applied in this process.
    for key in ("AWS_ENDPOINT_URL", "AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY"):
        monkeypatch.setenv(key, env[key])
    target = AwsTarget(Settings(stack=STACK, region=REGION), show_progress=False)
    plan = target.plan_down(keep_data=False)
    assert [a.api for a in plan] == [
        "quicksight.delete_dashboard",
        "quicksight.delete_data_source",
        "iam.delete_role_policy",
        "cloudwatch.delete_dashboards",
    ]
    target.apply(plan[1:])
    assert aws(endpoint, "cloudwatch").list_dashboards()["DashboardEntries"] == []
    assert qs.list_data_sources(AwsAccountId=ACCOUNT)["DataSources"] == []
    iam = aws(endpoint, "iam")
    assert iam.list_role_policies(RoleName=QS_ROLE)["PolicyNames"] == []
    assert iam.get_role(RoleName=QS_ROLE)  # QuickSight's own role stays
    assert [a.api for a in target.plan_down(keep_data=False)] == ["quicksight.delete_dashboard"]


def test_report_on_aws_runs_the_named_queries_on_athena_and_prints_the_scan(
    env: dict[str, str],
    tmp_path: Path,
) -> None:
    aws_cli(env, "up")
    page = tmp_path / "report.html"
    result = aws_cli(env, "report", "--out", str(page))
    assert "7 queries" in result.stderr and "Athena scanned" in result.stderr
    html = page.read_text(encoding="utf-8")
    assert "Athena scanned" in html and f"orderpipe — {STACK} (aws)" in html


def test_without_quicksight_only_the_cloudwatch_dashboard_is_made(aws_credentials: None) -> None:
    from botocore.stub import Stubber
    from moto import mock_aws

    with mock_aws():
        target = AwsTarget(Settings(stack="shop", region=REGION), show_progress=False)
        with Stubber(target.session.client("quicksight")) as quicksight:
            # What AWS answers an account that never subscribed (moto always has QuickSight).
            quicksight.add_client_error(
                "describe_account_settings",
                "ResourceNotFoundException",
                "Account is not signed up with Amazon QuickSight.",
                404,
            )
            plan, notes = target.dashboards().plan_up()
        assert [a.api for a in plan] == ["cloudwatch.put_dashboard"] and notes == [SUBSCRIBE]
        target.apply(plan)
        cloudwatch = target.session.client("cloudwatch")
        found = cloudwatch.list_dashboards()["DashboardEntries"]
        assert [d["DashboardName"] for d in found] == ["shop-pipeline"]
