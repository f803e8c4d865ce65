"""The Spark schema derived from the models is the one design.md §3.2 promises (pyspark's types,
no SparkSession needed)."""

from __future__ import annotations

from orderpipe import models
from orderpipe.models import QuarantinedOrder, RawOrder, TransformedOrder

RAW = (
    "struct<InvoiceNo:string,StockCode:string,Description:string,Quantity:int,"
    "InvoiceDate:string,UnitPrice:double,CustomerID:string,Country:string>"
)
TRANSFORMED = (
    "struct<orderid:string,invoiceno:string,stockcode:string,description:string,quantity:int,"
    "invoicedateonly:date,invoicehour:int,unitprice:double,customerid:string,country:string,"
    "region:string,totalamountusd:double,ordertag:string,invoicetimestamp:timestamp,"
    "recordid:string,country_partition:string,date_partition:string>"
)


def test_spark_schemas_are_the_contracted_tables() -> None:
    assert models.spark_schema(RawOrder).simpleString() == RAW
    transformed = models.spark_schema(TransformedOrder)
    assert transformed.simpleString() == TRANSFORMED
    assert [f.name for f in transformed if f.nullable] == ["description"]


def test_quarantine_keeps_every_raw_field_as_received() -> None:
    quarantine = models.spark_schema(QuarantinedOrder)
    types = {f.name: f.dataType.simpleString() for f in quarantine}
    for raw_field in RawOrder.model_fields:
        assert types[raw_field.lower()] == "string", raw_field  # as received, even "4" or "x"
    assert types["raw_line"] == "string" and types["quarantined_at"] == "timestamp"
    required = {f.name for f in quarantine if not f.nullable}
    assert {"reason", "ingested_from", "quarantined_at"} <= required
