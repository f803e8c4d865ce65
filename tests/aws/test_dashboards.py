"""`orderpipe --target aws dashboard up/status/down` in a subprocess against a moto server: the
CloudWatch dashboard, and QuickSight's data source, data sets and dashboard; `down` removes them.
And an account without QuickSight still gets the CloudWatch dashboard and a sentence on why."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from moto_patches import moto_tls, quicksight_gaps  # noqa: F401 (moto_tls: a fixture)
from test_cli_moto_server import (  # noqa: F401 (fixtures)
    ACCOUNT,
    REGION,
    STACK,
    aws,
    bucket,
    endpoint,
    env,
    orderpipe,
)

from orderpipe.settings import Settings
from orderpipe.targets.aws import AwsTarget
from orderpipe.targets.aws.dashboards import SUBSCRIBE

QS_ROLE = "aws-quicksight-service-role-v0"


@pytest.fixture
def quicksight_account(endpoint: str, monkeypatch: pytest.MonkeyPatch) -> str:  # noqa: F811
    """An account with QuickSight: an admin user and QuickSight's service role."""
    quicksight_gaps(monkeypatch)
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


def quicksight_dashboard(dashboard_id: str) -> Any:
    """moto keeps the definition but has no DescribeDashboardDefinition: read its store."""
    from moto.quicksight.models import quicksight_backends

    return quicksight_backends[ACCOUNT][REGION].dashboards[dashboard_id]


def test_dashboard_up_status_down_against_a_moto_server(
    env: dict[str, str],  # noqa: F811
    endpoint: str,  # noqa: F811
    quicksight_account: str,
) -> None:
    up = orderpipe(env, "dashboard", "up")
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
    for table in ("transformed-orders", "quarantined-orders"):
        qs.describe_data_set(AwsAccountId=ACCOUNT, DataSetId=f"{STACK}-{table}")
    dashboard = quicksight_dashboard(f"{STACK}-orders")
    visuals = dashboard.definition["Sheets"][0]["Visuals"]
    assert [next(iter(v)) for v in visuals].count("KPIVisual") == 4 and len(visuals) == 10
    assert dashboard.permissions[0]["Principal"] == quicksight_account
    policy = aws(endpoint, "iam").get_role_policy(
        RoleName=QS_ROLE, PolicyName=f"{STACK}-quicksight-access"
    )["PolicyDocument"]
    assert f"arn:aws:s3:::{bucket('lake')}/*" in json.dumps(policy)

    assert "up to date" in orderpipe(env, "dashboard", "up").stderr  # nothing changes twice
    status = json.loads(orderpipe(env, "dashboard", "status", "--format", "json").stdout)
    assert {r["state"] for r in status["resources"]} == {"ok"}, status
    assert len(status["resources"]) == 6 and status["notes"] == []

    orderpipe(env, "down", "--yes")  # the stack's `down` takes the dashboards with it
    assert aws(endpoint, "cloudwatch").list_dashboards()["DashboardEntries"] == []
    assert qs.list_data_sources(AwsAccountId=ACCOUNT)["DataSources"] == []
    assert qs.list_dashboards(AwsAccountId=ACCOUNT)["DashboardSummaryList"] == []
    iam = aws(endpoint, "iam")
    assert iam.list_role_policies(RoleName=QS_ROLE)["PolicyNames"] == []
    assert iam.get_role(RoleName=QS_ROLE)  # QuickSight's own role stays
    assert "nothing to do" in orderpipe(env, "dashboard", "down").stderr


def test_report_on_aws_runs_the_named_queries_on_athena_and_prints_the_scan(
    env: dict[str, str],  # noqa: F811
    tmp_path: Path,
) -> None:
    orderpipe(env, "up")
    page = tmp_path / "report.html"
    result = orderpipe(env, "report", "--out", str(page))
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
