"""The ETL rules of design.md §3.3 as pure PySpark: DataFrame in, DataFrame out, no I/O.

Spark built-in functions only (no Python UDF), and ANSI-safe: every conversion uses a `try_`
form, so a bad value becomes a quarantine reason instead of a failed job. Runs on Spark 3.5
(Glue 5.x) and 4.x. Pydantic-free: on Glue the schema comes from `schema.json` in the job zip.

Record identity (`recordid`) — the canonical form, version `v1`:

* A line that is a JSON object: the eight raw fields in the order InvoiceNo, StockCode,
  Description, Quantity, InvoiceDate, UnitPrice, CustomerID, Country. Each field is rendered
  as `~` when absent or null, else as `<n>:<text>` where `<text>` is the JSON-decoded value and
  `<n>` its length in characters. Strings are taken exactly as received (no trimming);
  Quantity, when it is an integer, is written in plain decimal (`6`, `-12`); UnitPrice, when it
  is a number, with exactly ten decimals (`2.5500000000`); a value of the wrong type is taken
  as Spark renders its JSON text. The canonical form is `v1|` followed by the eight renderings,
  with no separator (the length prefixes make it unambiguous).
* Any other line (not a JSON object): `v1|line:` followed by the line without trailing
  whitespace.

`recordid` = lower-case hex SHA-256 of the canonical form's UTF-8 bytes. So one record shipped
twice (in another object, batch or run) gets the same id, and records that differ in any field
— e.g. two lines of one order sharing an orderid — get different ids.
"""

from __future__ import annotations

import json
import pkgutil
from functools import cache
from typing import Any

TRANSFORMED_TABLE = "transformed_orders"
QUARANTINE_TABLE = "quarantined_orders"

# Quarantine reasons, in the order they are checked (the first that applies wins).
REASONS = (
    "malformed",
    "missing_key",
    "cancelled",
    "non_positive_quantity",
    "non_positive_price",
    "missing_customer",
    "bad_timestamp",
)

# The two InvoiceDate shapes accepted, in Spark datetime patterns.
TIMESTAMP_PATTERNS = ("yyyy-MM-dd HH:mm:ss", "M/d/yyyy H:mm")

REGIONS: dict[str, tuple[str, ...]] = {
    "Europe": (
        "United Kingdom", "EIRE", "France", "Germany", "Netherlands", "Belgium", "Switzerland",
        "Spain", "Portugal", "Italy", "Austria", "Norway", "Sweden", "Finland", "Denmark",
        "Iceland", "Poland", "Czech Republic", "Lithuania", "Greece", "Cyprus", "Malta",
        "Channel Islands", "European Community",
    ),
    "North America": ("USA", "Canada"),
    "South America": ("Brazil",),
    "Asia": ("Japan", "Hong Kong", "Singapore"),
    "Middle East": ("Israel", "Bahrain", "Lebanon", "United Arab Emirates", "Saudi Arabia"),
    "Oceania": ("Australia",),
    "Africa": ("RSA",),
}  # fmt: skip
COUNTRY_REGION = {country: region for region, names in REGIONS.items() for country in names}
OTHER_REGION = "Other"

RAW_FIELDS = (
    "InvoiceNo", "StockCode", "Description", "Quantity",
    "InvoiceDate", "UnitPrice", "CustomerID", "Country",
)  # fmt: skip
_CORRUPT = "_corrupt_record"
_INT_TEXT = r"^-?[0-9]+$"
_NUMBER_TEXT = r"^-?[0-9]+(\.[0-9]+)?([eE][+-]?[0-9]+)?$"


@cache
def table_specs() -> dict[str, Any]:
    """Column specs per table: from the pydantic models when importable, else from the
    `schema.json` that the job package carries beside this module (Glue has no pydantic)."""
    try:
        from orderpipe.models import table_specs as from_models
    except ImportError:
        data = pkgutil.get_data("orderpipe", "schema.json")
        if data is None:
            raise RuntimeError("orderpipe/schema.json is missing from the job package") from None
        return dict(json.loads(data))
    return from_models()


def output_columns(table: str) -> list[tuple[str, str]]:
    """(name, spark type) of a table's columns, in model order, partition columns included."""
    return [(c["name"], c["spark"]) for c in table_specs()[table]]


def partition_columns(table: str) -> list[str]:
    return [c["name"] for c in table_specs()[table] if c["partition"]]


def region_expr(country: Any) -> Any:
    """Region of a country by a literal map evaluated in the JVM; unknown or null → Other."""
    from pyspark.sql import functions as F

    pairs = [F.lit(v) for item in sorted(COUNTRY_REGION.items()) for v in item]
    return F.coalesce(F.try_element_at(F.create_map(*pairs), country), F.lit(OTHER_REGION))


def parse_timestamp(text: Any) -> Any:
    """InvoiceDate → timestamp for either accepted shape; anything else → null."""
    from pyspark.sql import functions as F

    trimmed = F.trim(text)
    return F.coalesce(*[F.try_to_timestamp(trimmed, F.lit(p)) for p in TIMESTAMP_PATTERNS])


def _rendered(value: Any) -> Any:
    """One field of the canonical form: `~` for null, else `<length>:<text>`."""
    from pyspark.sql import functions as F

    return F.when(value.isNull(), F.lit("~")).otherwise(
        F.concat(F.length(value).cast("string"), F.lit(":"), value)
    )


def parse_lines(lines: Any) -> Any:
    """Raw text lines (`value`, `ingested_from`) → one row per non-blank line with the raw
    fields as text, their typed values, `recordid` and `reason` (null when the record is clean).

    Blank lines are not records and are skipped.
    """
    from pyspark.sql import functions as F

    schema = ", ".join(f"`{name}` string" for name in (*RAW_FIELDS, _CORRUPT))
    parsed = lines.where(F.trim(F.col("value")) != "").select(
        "value",
        "ingested_from",
        F.from_json("value", schema, {"columnNameOfCorruptRecord": _CORRUPT}).alias("j"),
    )
    j = F.col("j")
    qty_text, price_text = j["Quantity"], j["UnitPrice"]
    # Two projections: the checked numbers become columns once, instead of being re-evaluated
    # (regex, casts) in every branch of the canonical form that uses them.
    fields = parsed.select(
        F.col("value").alias("raw_line"),
        "ingested_from",
        *[j[name].alias(name.lower()) for name in RAW_FIELDS],
        F.when(qty_text.rlike(_INT_TEXT), F.expr("try_cast(j.Quantity as int)")).alias(
            "quantity_int"
        ),
        F.when(
            price_text.rlike(_NUMBER_TEXT), F.expr("try_cast(j.UnitPrice as decimal(38,10))")
        ).alias("_price_dec"),
        (j.isNull() | j[_CORRUPT].isNotNull()).alias("_not_object"),
    )
    c = F.col
    rendered = {name: c(name.lower()) for name in RAW_FIELDS}
    rendered["Quantity"] = F.coalesce(c("quantity_int").cast("string"), c("quantity"))
    rendered["UnitPrice"] = F.coalesce(c("_price_dec").cast("string"), c("unitprice"))
    canonical = F.when(
        c("_not_object"), F.concat(F.lit("v1|line:"), F.regexp_replace("raw_line", r"\s+$", ""))
    ).otherwise(F.concat(F.lit("v1|"), *[_rendered(rendered[name]) for name in RAW_FIELDS]))
    typed = fields.select(
        "raw_line",
        "ingested_from",
        *[name.lower() for name in RAW_FIELDS],
        "quantity_int",
        F.when(c("_price_dec").isNotNull(), F.expr("try_cast(unitprice as double)")).alias(
            "unitprice_double"
        ),
        parse_timestamp(c("invoicedate")).alias("invoicetimestamp"),
        F.sha2(canonical, 256).alias("recordid"),
        "_not_object",
    )
    return typed.withColumn("reason", _reason()).drop("_not_object")


def _blank(col: Any) -> Any:
    from pyspark.sql import functions as F

    return col.isNull() | (F.trim(col) == "")


def _reason() -> Any:
    """The first quarantine reason that applies (design.md §3.3 rule 5), else null.

    `malformed`: not a JSON object, Quantity not an integer, UnitPrice not a number, or
    Country absent/blank (a required string). InvoiceNo/StockCode absent or blank are
    `missing_key`; an absent InvoiceDate is a `bad_timestamp`.
    """
    from pyspark.sql import functions as F

    c = F.col
    malformed = (
        c("_not_object")
        | c("quantity_int").isNull()
        | c("unitprice_double").isNull()
        | _blank(c("country"))
    )
    checks = [
        ("malformed", malformed),
        ("missing_key", _blank(c("invoiceno")) | _blank(c("stockcode"))),
        ("cancelled", F.trim(c("invoiceno")).startswith("C")),
        ("non_positive_quantity", c("quantity_int") <= 0),
        ("non_positive_price", c("unitprice_double") <= 0),
        ("missing_customer", _blank(c("customerid"))),
        ("bad_timestamp", c("invoicetimestamp").isNull()),
    ]
    first, *rest = checks
    expr = F.when(first[1], F.lit(first[0]))
    for reason, condition in rest:
        expr = expr.when(condition, F.lit(reason))
    return expr.otherwise(F.lit(None).cast("string"))


def dedupe(parsed: Any, cluster: tuple[str, ...] = ()) -> Any:
    """One row per recordid, with `copies` = how many times it was read. Of several copies the
    one with the smallest (ingested_from, raw_line) wins, so the choice never depends on timing
    (copies equal in both are equal in every column: all derive from the line).

    A window rather than min(struct(all columns)): one sort by recordid instead of a sort-based
    aggregate on each side of the shuffle. `cluster`: columns that are functions of the record
    (e.g. `_part`), added to the window key so a frame already hash-partitioned by them is not
    shuffled again.
    """
    from pyspark.sql import Window
    from pyspark.sql import functions as F

    # recordid first: its sort prefix tells rows apart (a `_part` prefix is shared by many).
    by_id = Window.partitionBy("recordid", *cluster)
    first = F.row_number().over(by_id.orderBy("ingested_from", "raw_line"))
    return (
        parsed.select("*", first.alias("_copy"), F.count("*").over(by_id).alias("copies"))
        .where(F.col("_copy") == 1)
        .drop("_copy")
    )


def _country_partition() -> Any:
    from pyspark.sql import functions as F

    return F.trim(F.col("country"))


def _date_partition() -> Any:
    from pyspark.sql import functions as F

    return F.date_format(F.col("invoicetimestamp"), "yyyy-MM-dd")


def output_partition() -> Any:
    """The output partition a parsed record lands in, as one string: its transformed_orders
    partition values when clean, else its reason (quarantined_orders' partition). A function of
    the record, so copies of one record always share it."""
    from pyspark.sql import functions as F

    clean = F.concat_ws("\u0000", _country_partition(), _date_partition())
    return F.when(F.col("reason").isNull(), clean).otherwise(F.col("reason"))


def _project(df: Any, table: str) -> Any:
    """The table's columns, in model order, cast to their Spark types."""
    from pyspark.sql import functions as F

    return df.select(*[F.col(name).cast(kind).alias(name) for name, kind in output_columns(table)])


def transformed(records: Any, *, fx_rate: float, high_value_threshold: float) -> Any:
    """Clean records (reason null) → `transformed_orders` rows (rules 1–4, 6, partitions)."""
    from pyspark.sql import functions as F

    c = F.col
    ts = c("invoicetimestamp")
    total = F.round(c("quantity_int") * c("unitprice_double") * F.lit(float(fx_rate)), 2)
    df = records.where(c("reason").isNull()).select(
        F.sha2(F.concat(c("invoiceno"), F.lit("-"), c("stockcode")), 256).alias("orderid"),
        "invoiceno",
        "stockcode",
        "description",
        c("quantity_int").alias("quantity"),
        F.to_date(ts).alias("invoicedateonly"),
        F.hour(ts).alias("invoicehour"),
        c("unitprice_double").alias("unitprice"),
        "customerid",
        "country",
        region_expr(F.trim(c("country"))).alias("region"),
        total.alias("totalamountusd"),
        F.when(total > F.lit(float(high_value_threshold)), F.lit("High"))
        .otherwise(F.lit("Normal"))
        .alias("ordertag"),
        ts.alias("invoicetimestamp"),
        "recordid",
        _country_partition().alias("country_partition"),
        _date_partition().alias("date_partition"),
    )
    return _project(df, TRANSFORMED_TABLE)


def quarantined(records: Any, *, quarantined_at: Any) -> Any:
    """Rejected records → `quarantined_orders` rows: raw fields as received, the raw line for
    malformed ones, the reason, the source object and the run's timestamp."""
    from pyspark.sql import functions as F

    c = F.col
    df = records.where(c("reason").isNotNull()).select(
        *[c(name.lower()) for name in RAW_FIELDS],
        F.when(c("reason") == "malformed", c("raw_line")).alias("raw_line"),
        "recordid",
        "ingested_from",
        F.lit(quarantined_at).cast("timestamp").alias("quarantined_at"),
        "reason",
    )
    return _project(df, QUARANTINE_TABLE)
