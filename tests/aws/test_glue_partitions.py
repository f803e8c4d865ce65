"""The job's Glue registrar points each partition at its newest version folder (create, then
update), and on a full refresh drops the partitions the run did not write. moto stands in for
the Glue Data Catalog."""

from __future__ import annotations

import boto3
import pytest
from moto import mock_aws

from orderpipe.job.job_io import Partition, glue_registrar

LAKE = "s3://shop-lake"
TABLE = "transformed_orders"


@pytest.fixture
def glue(aws_credentials):
    with mock_aws():
        client = boto3.client("glue", region_name="eu-west-1")
        client.create_database(DatabaseInput={"Name": "shop"})
        yield client


def locations(glue) -> dict[tuple[str, ...], str]:
    parts = glue.get_partitions(DatabaseName="shop", TableName=TABLE)["Partitions"]
    return {tuple(p["Values"]): p["StorageDescriptor"]["Location"] for p in parts}


def part(country: str, version: str) -> Partition:
    path = f"country_partition={country}/date_partition=2011-12-09"
    return Partition(path, f"{LAKE}/{TABLE}/{path}/{version}")


def test_partitions_follow_their_newest_version(glue) -> None:
    register = glue_registrar("shop", LAKE, client=glue)
    register(TABLE, [part("France", "v1"), part("EIRE", "v1")], False)
    register(TABLE, [part("France", "v2")], False)
    assert locations(glue) == {
        ("France", "2011-12-09"): part("France", "v2").location + "/",
        ("EIRE", "2011-12-09"): part("EIRE", "v1").location + "/",
    }

    register(TABLE, [part("France", "v3")], True)  # a full refresh wrote France only
    assert list(locations(glue)) == [("France", "2011-12-09")]
