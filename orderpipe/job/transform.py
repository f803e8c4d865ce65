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
  whitespace — byte for byte when the line is not UTF-8 (then it is quarantined `unreadable`).

`recordid` = lower-case hex SHA-256 of the canonical form's UTF-8 bytes. So one record shipped
twice (in another object, batch or run) gets the same id, and records that differ in any field
— e.g. two lines of one order sharing an orderid — get different ids.
"""

from __future__ import annotations

import json
import pkgutil
from functools import cache
from typing import Any

# The job parameters' defaults (design.md §3.3 rules 2 and 6); settings and the Glue job use these.
FX_RATE = 0.012  # USD per unit of the source currency (INR)
HIGH_VALUE_THRESHOLD = 100.0  # USD: a line whose total is above it is tagged High

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
    "unreadable",  # what cannot be read: a damaged object's rest, a line that is not UTF-8
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

SCHEMA_NAME = "schema.json"
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
        data = pkgutil.get_data("orderpipe.job", SCHEMA_NAME)
        if data is None:
            raise RuntimeError(
                "orderpipe/job/schema.json is missing from the job package"
            ) from None
        return dict(json.loads(data))
    return from_models()


@cache
def raw_fields() -> tuple[str, ...]:
    """The eight raw field names, InvoiceNo … Country, in the schema's order."""
    return tuple(c["name"] for c in table_specs()["raw"])


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


# One UTF-8 encoded character as hex digits, as Python's decoder accepts it (no overlong forms,
# no surrogates, nothing above U+10FFFF). Single sequences, no repetition: Java's regex recurses
# per repetition of a group, and lines can be long.
_CONT = "[89AB][0-9A-F]"
_UTF8_CHAR = (
    f"[0-7][0-9A-F]|C[2-9A-F]{_CONT}|D[0-9A-F]{_CONT}|E0[AB][0-9A-F]{_CONT}"
    f"|E[1-9A-CEF]{_CONT}{_CONT}|ED[89][0-9A-F]{_CONT}|F0[9AB][0-9A-F]{_CONT}{_CONT}"
    f"|F[1-3]{_CONT}{_CONT}{_CONT}|F48[0-9A-F]{_CONT}{_CONT}"
)
# Each byte of a line (as hex) in turn: a whole character as `HEX:`, any other byte as `:HH`.
_BYTE_TOKENS = (f"({_UTF8_CHAR})|([0-9A-F]{{2}})", "$1:$2,")
_TRAILING_SPACE_HEX = "(?:09|0A|0B|0C|0D|20)+$"  # Java's \s, as hex at byte boundaries


def _valid_utf8(value: Any, spark_version: str) -> Any:
    """Whether a line (read as the bytes it is) is UTF-8: Spark 4's built-in, or on Spark 3.5
    (Glue 5) the same test by regex: every byte belongs to a character."""
    from pyspark.sql import functions as F

    if int(spark_version.split(".")[0]) >= 4:
        return F.call_function("is_valid_utf8", value)
    hexed = F.hex(value)
    return F.length(F.regexp_replace(hexed, _BYTE_TOKENS[0], "$1")) == F.length(hexed)


def _escaped(value: Any) -> Any:
    """A line that is not UTF-8, shown as Python's `backslashreplace` shows it: its characters
    as they are, every other byte as `\\xhh`."""
    from pyspark.sql import functions as F

    tokens = F.split(F.regexp_replace(F.hex(value), *_BYTE_TOKENS), ",")
    return F.array_join(
        F.transform(
            tokens,
            lambda t: F.when(
                t.startswith(":"), F.concat(F.lit("\\x"), F.lower(F.substring(t, 2, 2)))
            ).otherwise(F.decode(F.unhex(F.substring_index(t, ":", 1)), "UTF-8")),
        ),
        "",
    )


def _bytes_id(value: Any) -> Any:
    """recordid of a line that is not UTF-8: its exact bytes in the `line:` canonical form."""
    from pyspark.sql import functions as F

    hexed = F.hex(F.concat(F.lit("v1|line:"), value))
    return F.sha2(F.unhex(F.regexp_replace(hexed, _TRAILING_SPACE_HEX, "")), 256)


def parse_lines(lines: Any) -> Any:
    """Raw text lines (`value`, `ingested_from`) → one row per non-blank line with the raw
    fields as text, their typed values, `recordid` and `reason` (null when the record is clean).

    Blank lines are not records and are skipped.
    """
    from pyspark.sql import functions as F

    schema = ", ".join(f"`{name}` string" for name in (*raw_fields(), _CORRUPT))
    valid = _valid_utf8(F.col("value"), lines.sparkSession.version)
    parsed = lines.where(F.trim(F.col("value")) != "").select(
        F.when(valid, F.col("value")).otherwise(_escaped(F.col("value"))).alias("value"),
        "ingested_from",
        F.from_json(
            F.when(valid, F.col("value")), schema, {"columnNameOfCorruptRecord": _CORRUPT}
        ).alias("j"),
        F.when(~valid, _bytes_id(F.col("value"))).alias("_bytes_id"),
    )
    j = F.col("j")
    qty_text, price_text = j["Quantity"], j["UnitPrice"]
    # Two projections: the checked numbers become columns once, instead of being re-evaluated
    # (regex, casts) in every branch of the canonical form that uses them.
    fields = parsed.select(
        F.col("value").alias("raw_line"),
        "ingested_from",
        *[j[name].alias(name.lower()) for name in raw_fields()],
        F.when(qty_text.rlike(_INT_TEXT), F.expr("try_cast(j.Quantity as int)")).alias(
            "quantity_int"
        ),
        F.when(
            price_text.rlike(_NUMBER_TEXT), F.expr("try_cast(j.UnitPrice as decimal(38,10))")
        ).alias("_price_dec"),
        (j.isNull() | j[_CORRUPT].isNotNull()).alias("_not_object"),
        "_bytes_id",
    )
    c = F.col
    rendered = {name: c(name.lower()) for name in raw_fields()}
    rendered["Quantity"] = F.coalesce(c("quantity_int").cast("string"), c("quantity"))
    rendered["UnitPrice"] = F.coalesce(c("_price_dec").cast("string"), c("unitprice"))
    canonical = F.when(
        c("_not_object"), F.concat(F.lit("v1|line:"), F.regexp_replace("raw_line", r"\s+$", ""))
    ).otherwise(F.concat(F.lit("v1|"), *[_rendered(rendered[name]) for name in raw_fields()]))
    typed = fields.select(
        "raw_line",
        "ingested_from",
        *[name.lower() for name in raw_fields()],
        "quantity_int",
        F.when(c("_price_dec").isNotNull(), F.expr("try_cast(unitprice as double)")).alias(
            "unitprice_double"
        ),
        parse_timestamp(c("invoicedate")).alias("invoicetimestamp"),
        F.coalesce("_bytes_id", F.sha2(canonical, 256)).alias("recordid"),
        "_not_object",
        c("_bytes_id").isNotNull().alias("_unreadable"),
    )
    return typed.withColumn("reason", _reason()).drop("_not_object", "_unreadable")


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
        ("unreadable", c("_unreadable")),
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
        *[c(name.lower()) for name in raw_fields()],
        F.when(c("reason").isin("malformed", "unreadable"), c("raw_line")).alias("raw_line"),
        "recordid",
        "ingested_from",
        F.lit(quarantined_at).cast("timestamp").alias("quarantined_at"),
        "reason",
    )
    return _project(df, QUARANTINE_TABLE)


# DuckDB: the same rules as SQL, rule for rule beside the Spark ones above ----------------------
# Macros a DuckDB connection needs before `duck_parse_sql` runs (see `duck_engine`).
DUCK_MACROS = r"""
-- Java's Double.toString of x (what Spark's JSON reader renders for a number read as text):
-- plain with at least one decimal in [1e-3, 1e7), else d.dddE±n; both from the shortest digits.
CREATE OR REPLACE MACRO java_parts(x) AS regexp_extract(CAST(abs(x) AS VARCHAR),
  '^([0-9]+)(?:\.([0-9]+))?(?:e([+-]?[0-9]+))?$', ['i', 'f', 'e']);
CREATE OR REPLACE MACRO java_digits(c) AS rtrim(ltrim(c, '0'), '0');
CREATE OR REPLACE MACRO java_exp(p) AS coalesce(TRY_CAST(p.e AS INTEGER), 0) + length(p.i) - 1
  - (length(p.i || p.f) - length(ltrim(p.i || p.f, '0')));
CREATE OR REPLACE MACRO java_format(d, k) AS CASE
  WHEN k >= 0 AND k < 7 THEN
    CASE WHEN length(d) > k + 1 THEN left(d, k + 1) ELSE rpad(d, CAST(k + 1 AS INTEGER), '0') END
    || '.' || coalesce(nullif(substr(d, k + 2), ''), '0')
  WHEN k < 0 AND k >= -3 THEN '0.' || repeat('0', CAST(-k - 1 AS BIGINT)) || d
  ELSE left(d, 1) || '.' || coalesce(nullif(substr(d, 2), ''), '0') || 'E' || CAST(k AS VARCHAR)
END;
CREATE OR REPLACE MACRO java_sci(x) AS CASE WHEN x < 0 THEN '-' ELSE '' END
  || java_format(java_digits(java_parts(x).i || java_parts(x).f), java_exp(java_parts(x)));
CREATE OR REPLACE MACRO java_double(x) AS CASE
  WHEN isnan(x) THEN '"NaN"'
  WHEN isinf(x) THEN CASE WHEN x > 0 THEN '"Infinity"' ELSE '"-Infinity"' END
  WHEN x = 0 THEN CASE WHEN starts_with(CAST(x AS VARCHAR), '-') THEN '-0.0' ELSE '0.0' END
  WHEN abs(x) >= 1e-3 AND abs(x) < 1e7 AND NOT contains(CAST(x AS VARCHAR), 'e')
    THEN CAST(x AS VARCHAR)
  ELSE java_sci(x) END;
-- A JSON field as Spark's from_json gives it for a string column: strings as they are, numbers
-- as Jackson renders them (integers as written), objects/arrays as compact JSON text.
-- DuckDB's own text of a number is Java's for integers (kept as written) and for plain decimals
-- in [1e-3, 1e7) and zero (shortest digits, at least one decimal); only others need java_double.
CREATE OR REPLACE MACRO java_same(val, kind) AS kind <> 'DOUBLE' OR regexp_full_match(val,
  '-?([0-9]+|0\.0|0\.00[1-9][0-9]*|0\.0?[1-9][0-9]*|[1-9][0-9]{0,6}\.[0-9]+)');
CREATE OR REPLACE MACRO json_text(val, kind) AS CASE
  WHEN java_same(val, kind) THEN val ELSE java_double(TRY_CAST(val AS DOUBLE)) END;
CREATE OR REPLACE MACRO blank(s) AS s IS NULL OR trim(s) = '';
CREATE OR REPLACE MACRO rendered(s) AS CASE WHEN s IS NULL THEN '~'
  ELSE CAST(length(s) AS VARCHAR) || ':' || s END;
-- Spark's round(double, 2): HALF_UP on the shortest decimal text of the double.
CREATE OR REPLACE MACRO spark_round2(x) AS CASE
  WHEN isnan(x) OR isinf(x) OR abs(x) >= 1e16 THEN x
  ELSE CAST(CAST(round(CAST(CAST(x AS VARCHAR) AS DECIMAL(38, 20)), 2) AS VARCHAR) AS DOUBLE)
END;
"""


def duck_str(text: str) -> str:
    return "'" + text.replace("'", "''") + "'"


def duck_timestamp_sql(text: str) -> str:
    """parse_timestamp: either accepted shape, digit counts as strict as Spark's patterns."""
    t = f"trim({text})"
    return (
        f"coalesce(CASE WHEN regexp_full_match({t}, '[0-9]{{4}}-[0-9]{{2}}-[0-9]{{2}} "
        f"[0-9]{{2}}:[0-9]{{2}}:[0-9]{{2}}') THEN try_strptime({t}, '%Y-%m-%d %H:%M:%S') END, "
        f"CASE WHEN regexp_full_match({t}, '[0-9]{{1,2}}/[0-9]{{1,2}}/[0-9]{{4}} "
        f"[0-9]{{1,2}}:[0-9]{{2}}') THEN try_strptime({t}, '%m/%d/%Y %H:%M') END)"
    )


def duck_region_sql(country: str) -> str:
    """region_expr as a CASE over the same table."""
    arms = " ".join(
        f"WHEN {country} IN ({', '.join(duck_str(c) for c in names)}) THEN {duck_str(region)}"
        for region, names in REGIONS.items()
    )
    return f"CASE {arms} ELSE {duck_str(OTHER_REGION)} END"


def duck_fields_sql(lines: str) -> str:
    """Raw lines (`value`, `ingested_from`) → one row per non-blank line with the eight raw
    fields as DuckDB's text, `_kinds` (their JSON types) and `_slow`: some number's text must
    be rewritten as Java's (`duck_java_numbers_sql`, run on those rare rows only)."""
    paths = "[" + ", ".join(f"'$.\"{name}\"'" for name in raw_fields()) + "]"
    fields = ", ".join(f"vals[{i}] AS {name.lower()}" for i, name in enumerate(raw_fields(), 1))
    slow = " OR ".join(f"NOT java_same(vals[{i}], kinds[{i}])" for i in range(1, 9))
    return f"""
WITH src AS (
  SELECT value AS raw_line, ingested_from,
         coalesce(CASE WHEN json_valid(value) THEN json_type(value) = 'OBJECT' END, false) AS obj
  FROM {lines} WHERE trim(value) <> ''
), j AS (
  SELECT raw_line, ingested_from, NOT obj AS _not_object,
         CASE WHEN obj THEN json_extract_string(raw_line, {paths}) END AS vals,
         CASE WHEN obj THEN json_type(raw_line, {paths}) END AS kinds
  FROM src
)
SELECT raw_line, ingested_from, _not_object, {fields}, kinds AS _kinds,
       coalesce({slow}, false) AS _slow
FROM j
"""


def duck_java_numbers_sql(fields: str) -> str:
    """Rewrite, in place, number texts that Spark's JSON reader renders differently."""
    sets = ", ".join(
        f"{name.lower()} = json_text({name.lower()}, _kinds[{i}])"
        for i, name in enumerate(raw_fields(), 1)
    )
    return f"UPDATE {fields} SET {sets} WHERE _slow"


def duck_parse_sql(fields: str) -> str:
    """parse_lines + _reason, on `duck_fields_sql` rows: the raw fields as text, their typed
    values, `recordid` and `reason`."""
    render = {name: name.lower() for name in raw_fields()}
    render["Quantity"] = "coalesce(CAST(quantity_int AS VARCHAR), quantity)"
    render["UnitPrice"] = "coalesce(CAST(_price_dec AS VARCHAR), unitprice)"
    canonical = " || ".join(f"rendered({render[name]})" for name in raw_fields())
    reasons = {
        "malformed": "_not_object OR quantity_int IS NULL OR unitprice_double IS NULL"
        " OR blank(country)",
        "missing_key": "blank(invoiceno) OR blank(stockcode)",
        "cancelled": "starts_with(trim(invoiceno), 'C')",
        "non_positive_quantity": "quantity_int <= 0",
        "non_positive_price": "unitprice_double <= 0",
        "missing_customer": "blank(customerid)",
        "bad_timestamp": "invoicetimestamp IS NULL",
    }
    reason = " ".join(f"WHEN {check} THEN '{r}'" for r, check in reasons.items())
    return f"""
WITH n AS (
  SELECT * EXCLUDE (_kinds, _slow),
    CASE WHEN regexp_full_match(quantity, '{_INT_TEXT[1:-1]}')
      THEN TRY_CAST(quantity AS INTEGER) END AS quantity_int,
    CASE WHEN regexp_full_match(unitprice, '{_NUMBER_TEXT[1:-1]}')
      THEN TRY_CAST(unitprice AS DECIMAL(38, 10)) END AS _price_dec
  FROM {fields}
), t AS (
  SELECT * EXCLUDE (_price_dec),
    CASE WHEN _price_dec IS NOT NULL THEN TRY_CAST(unitprice AS DOUBLE) END AS unitprice_double,
    {duck_timestamp_sql("invoicedate")} AS invoicetimestamp,
    sha256(CASE WHEN _not_object
      THEN 'v1|line:' || regexp_replace(raw_line, '[ \\t\\n\\v\\f\\r]+$', '')
      ELSE 'v1|' || {canonical} END) AS recordid
  FROM n
), r AS (
  SELECT * EXCLUDE (_not_object), CASE {reason} END AS reason FROM t
)
SELECT * FROM r
"""


def duck_dedupe_sql(parsed: str) -> str:
    """dedupe: one row per recordid with `copies`; the smallest (ingested_from, raw_line) wins."""
    return f"""
SELECT * EXCLUDE (_copy) FROM (
  SELECT *, row_number() OVER (PARTITION BY recordid ORDER BY ingested_from, raw_line) AS _copy,
         count(*) OVER (PARTITION BY recordid) AS copies
  FROM {parsed}) WHERE _copy = 1
"""


def duck_transformed_sql(records: str, *, fx_rate: float, high_value_threshold: float) -> str:
    """transformed: clean records → `transformed_orders` columns (partitions included)."""
    total = f"spark_round2(quantity_int * unitprice_double * CAST({float(fx_rate)!r} AS DOUBLE))"
    return f"""
SELECT sha256(invoiceno || '-' || stockcode) AS orderid, invoiceno, stockcode, description,
  quantity_int AS quantity, CAST(invoicetimestamp AS DATE) AS invoicedateonly,
  CAST(hour(invoicetimestamp) AS INTEGER) AS invoicehour, unitprice_double AS unitprice,
  customerid, country, {duck_region_sql("trim(country)")} AS region,
  _total AS totalamountusd,
  CASE WHEN _total > CAST({float(high_value_threshold)!r} AS DOUBLE) THEN 'High' ELSE 'Normal' END
    AS ordertag,
  CAST(invoicetimestamp AS TIMESTAMPTZ) AS invoicetimestamp, recordid,
  trim(country) AS country_partition, strftime(invoicetimestamp, '%Y-%m-%d') AS date_partition
FROM (SELECT *, {total} AS _total FROM {records} WHERE reason IS NULL)
"""


def duck_quarantined_sql(records: str, *, quarantined_at: str) -> str:
    """quarantined: rejected records → `quarantined_orders` columns."""
    raw = ", ".join(name.lower() for name in raw_fields())
    return f"""
SELECT {raw}, CASE WHEN reason = 'malformed' THEN raw_line END AS raw_line, recordid,
  ingested_from, CAST({duck_str(quarantined_at)} AS TIMESTAMPTZ) AS quarantined_at, reason
FROM {records} WHERE reason IS NOT NULL
"""
