"""The one order schema. Spark schema, Glue columns and Athena DDL are derived from here.

The Glue job cannot import pydantic (Glue 6.0 does not ship it), so `table_specs()` renders the
models as plain data; the job package carries that data as `schema.json` (see `job_package.py`).
"""

from __future__ import annotations

import datetime as dt
import types
import typing
from typing import Annotated, Any, Union

from pydantic import BaseModel, ConfigDict, Field

from orderpipe.job.transform import QUARANTINE_TABLE, TRANSFORMED_TABLE

PARTITION = {"partition": True}


class RawOrder(BaseModel):
    """One order line as the generator writes it: one JSON object per line, UTF-8."""

    model_config = ConfigDict(frozen=True)

    InvoiceNo: str = Field(description="6 digits; a leading C marks a cancellation")
    StockCode: str
    Description: str | None = Field(default=None, description="may be empty")
    Quantity: int = Field(description="negative on cancellations")
    InvoiceDate: str = Field(description="YYYY-MM-DD HH:MM:SS (M/D/YYYY H:MM also accepted)")
    UnitPrice: float = Field(description="in the source currency")
    CustomerID: str | None = None
    Country: str


class TransformedOrder(BaseModel):
    """A clean, enriched order line in `transformed_orders`."""

    orderid: str
    invoiceno: str
    stockcode: str
    description: str | None
    quantity: int
    invoicedateonly: dt.date
    invoicehour: int
    unitprice: float
    customerid: str
    country: str
    region: str
    totalamountusd: float
    ordertag: str
    invoicetimestamp: dt.datetime
    recordid: str
    country_partition: Annotated[str, Field(json_schema_extra=PARTITION)]
    date_partition: Annotated[str, Field(json_schema_extra=PARTITION)]


class QuarantinedOrder(BaseModel):
    """A rejected record in `quarantined_orders`: the raw fields as received, and why."""

    invoiceno: str | None
    stockcode: str | None
    description: str | None
    quantity: str | None
    invoicedate: str | None
    unitprice: str | None
    customerid: str | None
    country: str | None
    raw_line: str | None = Field(description="the raw text, kept for malformed lines")
    recordid: str
    ingested_from: str
    quarantined_at: dt.datetime
    reason: Annotated[str, Field(json_schema_extra=PARTITION)]


TABLE_MODELS: dict[str, type[BaseModel]] = {
    TRANSFORMED_TABLE: TransformedOrder,
    QUARANTINE_TABLE: QuarantinedOrder,
}

# Python type → (Spark type name, Glue/Athena type name)
_TYPES: dict[type, tuple[str, str]] = {
    str: ("string", "string"),
    int: ("integer", "int"),
    float: ("double", "double"),
    bool: ("boolean", "boolean"),
    dt.date: ("date", "date"),
    dt.datetime: ("timestamp", "timestamp"),
}


def _base_type(annotation: Any) -> tuple[type, bool]:
    """(python type, nullable) of a field annotation such as `str | None`."""
    origin = typing.get_origin(annotation)
    if origin is Annotated:
        return _base_type(typing.get_args(annotation)[0])
    if origin in (Union, types.UnionType):
        args = [a for a in typing.get_args(annotation) if a is not type(None)]
        return args[0], True
    return annotation, False


def columns(model: type[BaseModel]) -> list[dict[str, Any]]:
    """Every field as plain data: name, spark type, glue type, nullable, partition."""
    result = []
    for name, field in model.model_fields.items():
        py_type, nullable = _base_type(field.annotation)
        spark_type, glue_type = _TYPES[py_type]
        extra = field.json_schema_extra if isinstance(field.json_schema_extra, dict) else {}
        result.append(
            {
                "name": name,
                "spark": spark_type,
                "glue": glue_type,
                "nullable": nullable,
                "partition": bool(extra.get("partition")),
                "comment": field.description or "",
            }
        )
    return result


def table_specs() -> dict[str, Any]:
    """The whole schema as JSON-ready data, for code that cannot import pydantic."""
    specs: dict[str, Any] = {name: columns(model) for name, model in TABLE_MODELS.items()}
    specs["raw"] = columns(RawOrder)
    return specs


def spark_schema(model: type[BaseModel]) -> Any:
    """The model as a pyspark StructType (pyspark imported here, not at module load)."""
    from pyspark.sql.types import StructType

    return StructType.fromJson(spark_schema_json(columns(model)))


def spark_schema_json(cols: list[dict[str, Any]]) -> dict[str, Any]:
    return {
        "type": "struct",
        "fields": [
            {"name": c["name"], "type": c["spark"], "nullable": c["nullable"], "metadata": {}}
            for c in cols
        ],
    }


def glue_columns(model: type[BaseModel]) -> tuple[list[dict[str, str]], list[dict[str, str]]]:
    """(Columns, PartitionKeys) for a Glue `TableInput`; partition keys are not repeated."""
    data: list[dict[str, str]] = []
    parts: list[dict[str, str]] = []
    for c in columns(model):
        entry = {"Name": c["name"], "Type": c["glue"]}
        if c["comment"]:
            entry["Comment"] = c["comment"]
        (parts if c["partition"] else data).append(entry)
    return data, parts


def athena_ddl(table: str, database: str, location: str) -> str:
    """`CREATE EXTERNAL TABLE` for Athena, partition columns only in PARTITIONED BY."""
    data, parts = glue_columns(TABLE_MODELS[table])
    body = ",\n".join(f"  `{c['Name']}` {c['Type']}" for c in data)
    partitioned = ", ".join(f"`{c['Name']}` {c['Type']}" for c in parts)
    return (
        f"CREATE EXTERNAL TABLE IF NOT EXISTS `{database}`.`{table}` (\n{body}\n)\n"
        f"PARTITIONED BY ({partitioned})\n"
        "STORED AS PARQUET\n"
        f"LOCATION '{location.rstrip('/')}/'\n"
        "TBLPROPERTIES ('parquet.compression'='ZSTD')"
    )
