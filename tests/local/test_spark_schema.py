"""The Spark schema derived from the models, checked on a real SparkSession."""

from __future__ import annotations

from orderpipe import models
from orderpipe.models import QuarantinedOrder, RawOrder, TransformedOrder


def test_spark_schema_matches_models(spark) -> None:
    for model in (RawOrder, TransformedOrder, QuarantinedOrder):
        schema = models.spark_schema(model)
        assert schema.fieldNames() == list(model.model_fields)
    schema = models.spark_schema(TransformedOrder)
    assert schema["quantity"].dataType.simpleString() == "int"
    assert schema["invoicedateonly"].dataType.simpleString() == "date"
    assert schema["description"].nullable and not schema["orderid"].nullable
