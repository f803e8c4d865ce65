"""The pydantic models are the one schema; every projection must agree with them."""

from __future__ import annotations

import sqlglot

from orderpipe import models
from orderpipe.models import TransformedOrder


def test_transformed_columns_follow_the_contract() -> None:
    names = [c["name"] for c in models.columns(TransformedOrder)]
    assert names == [
        "orderid", "invoiceno", "stockcode", "description", "quantity", "invoicedateonly",
        "invoicehour", "unitprice", "customerid", "country", "region", "totalamountusd",
        "ordertag", "invoicetimestamp", "recordid", "country_partition", "date_partition",
    ]  # fmt: skip


def test_glue_columns_keep_partition_keys_apart() -> None:
    cols, parts = models.glue_columns(TransformedOrder)
    assert [p["Name"] for p in parts] == ["country_partition", "date_partition"]
    assert not {c["Name"] for c in cols} & {p["Name"] for p in parts}
    types = {c["Name"]: c["Type"] for c in cols}
    assert types["quantity"] == "int" and types["invoicedateonly"] == "date"
    assert types["invoicetimestamp"] == "timestamp" and types["totalamountusd"] == "double"


def test_athena_ddl_parses_and_does_not_repeat_partition_columns() -> None:
    ddl = models.athena_ddl("transformed_orders", "orderpipe", "s3://lake/transformed_orders")
    tree = sqlglot.parse_one(ddl, read="athena")
    body = ddl.split("PARTITIONED BY")[0]
    assert "country_partition" not in body and "date_partition" not in body
    assert "PARTITIONED BY (`country_partition` string, `date_partition` string)" in ddl
    assert tree.find(sqlglot.exp.Create) is not None


def test_table_specs_are_plain_json_for_the_glue_job() -> None:
    import json

    specs = models.table_specs()
    assert json.loads(json.dumps(specs)) == specs
    assert set(specs) == {"raw", "transformed_orders", "quarantined_orders"}
    raw = [(c["name"], c["glue"]) for c in specs["raw"]]
    assert raw == [
        ("InvoiceNo", "string"), ("StockCode", "string"), ("Description", "string"),
        ("Quantity", "int"), ("InvoiceDate", "string"), ("UnitPrice", "double"),
        ("CustomerID", "string"), ("Country", "string"),
    ]  # design §3.2's raw record, in its order  # fmt: skip
