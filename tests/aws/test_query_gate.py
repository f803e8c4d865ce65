"""On the aws target the read-only gate runs before Athena is asked anything."""

from __future__ import annotations

import boto3
import pytest
from moto import mock_aws

from orderpipe.settings import Settings
from orderpipe.sqlgate import QueryRefused
from orderpipe.targets.aws.session import AwsSession
from orderpipe.targets.aws.target import AwsTarget


def test_a_write_never_reaches_athena(aws_credentials: None) -> None:
    with mock_aws():
        target = AwsTarget(Settings(target="aws", stack="gate"), session=AwsSession("eu-west-1"))
        with pytest.raises(QueryRefused, match="CREATE is refused"):
            target.query("CREATE TABLE stolen AS SELECT * FROM transformed_orders")
        assert boto3.client("athena").list_query_executions()["QueryExecutionIds"] == []
