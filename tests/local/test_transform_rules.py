"""Rules 1–8 of design.md §3.3 on real local Spark, through the pure transformations.

All cases go through Spark in one DataFrame (one pass), then each test looks at its rows."""

from __future__ import annotations

import datetime as dt
import hashlib
import json
from typing import Any

import pytest
from helpers import FIRST_ORDER

from orderpipe.job.transform import dedupe, parse_lines, quarantined, transformed
from orderpipe.models import QuarantinedOrder, TransformedOrder, columns

pytestmark = pytest.mark.spark


def rec(**overrides: Any) -> dict[str, Any]:
    return FIRST_ORDER | overrides


def line(**overrides: Any) -> str:
    return json.dumps(rec(**overrides), ensure_ascii=False)


# name -> (raw line, expected reason or None for a clean record)
CASES: dict[str, tuple[str, str | None]] = {
    "clean": (line(), None),
    "not_json": ("this is not json", "malformed"),
    "json_array": ('[{"InvoiceNo": "1"}]', "malformed"),
    "truncated": (line()[:40], "malformed"),
    "qty_text": (line(InvoiceNo="1", Quantity="six"), "malformed"),
    "qty_fraction": (line(InvoiceNo="2", Quantity=1.5), "malformed"),
    "qty_overflow": (line(InvoiceNo="3", Quantity=99999999999), "malformed"),
    "price_text": (line(InvoiceNo="4", UnitPrice="cheap"), "malformed"),
    "price_missing": (line(InvoiceNo="5", UnitPrice=None), "malformed"),
    "country_missing": (line(InvoiceNo="6", Country=None), "malformed"),
    "no_invoice": (line(InvoiceNo=""), "missing_key"),
    "blank_stock": (line(InvoiceNo="7", StockCode="  "), "missing_key"),
    "no_key_and_cancel_qty": (line(InvoiceNo=None, Quantity=-1), "missing_key"),
    "cancelled": (line(InvoiceNo="C536379", Quantity=-1), "cancelled"),
    "zero_qty": (line(InvoiceNo="8", Quantity=0), "non_positive_quantity"),
    "neg_qty_no_customer": (
        line(InvoiceNo="9", Quantity=-3, CustomerID=None),
        "non_positive_quantity",
    ),
    "zero_price": (line(InvoiceNo="10", UnitPrice=0.0, CustomerID=None), "non_positive_price"),
    "no_customer": (line(InvoiceNo="11", CustomerID=None), "missing_customer"),
    "empty_customer": (line(InvoiceNo="12", CustomerID=""), "missing_customer"),
    "bad_date": (line(InvoiceNo="13", InvoiceDate="09/12/11 12:50"), "bad_timestamp"),
    "impossible_date": (line(InvoiceNo="14", InvoiceDate="2011-02-30 10:00:00"), "bad_timestamp"),
    "us_date": (line(InvoiceNo="15", InvoiceDate="12/9/2011 7:05"), None),
    "iso_date": (line(InvoiceNo="15", InvoiceDate="2011-12-09 07:05:00"), None),
    "numeric_customer": (line(InvoiceNo="16", CustomerID=17850), None),
    "unicode": (
        line(InvoiceNo="17", Description="Crème brûlée — 日本の箱 🎁", Country="Österreich"),
        None,
    ),
    "no_description": (line(InvoiceNo="18", Description=None), None),
    "edge_normal": (line(InvoiceNo="19", Quantity=1, UnitPrice=8333.3333), None),
    "edge_high": (line(InvoiceNo="20", Quantity=1, UnitPrice=8333.75), None),
    "just_under": (line(InvoiceNo="21", Quantity=1000, UnitPrice=8.3325), None),
    "rounding": (line(InvoiceNo="22", Quantity=3, UnitPrice=2.55), None),
    "region_rsa": (line(InvoiceNo="23", Country="RSA"), None),
    "region_usa": (line(InvoiceNo="24", Country="USA"), None),
    "region_hk": (line(InvoiceNo="25", Country="Hong Kong"), None),
    "region_unspecified": (line(InvoiceNo="26", Country="Unspecified"), None),
    "same_order_other_qty": (line(Quantity=12), None),
}
# Copies: the same record again (other key order and spacing, Quantity as a JSON string).
DUPLICATES = [
    line(),
    json.dumps(dict(reversed(list(rec().items()))), indent=None, separators=(" ,", " : ")),
    line(Quantity="6"),
]


@pytest.fixture(scope="module")
def result(spark: Any) -> dict[str, Any]:
    rows = [(text, f"s3://raw/obj-{name}.gz") for name, (text, _) in CASES.items()]
    rows += [(text, f"s3://raw/dup-{i}.gz") for i, text in enumerate(DUPLICATES)]
    rows += [("", "s3://raw/blank.gz"), ("   ", "s3://raw/blank.gz")]
    lines = spark.createDataFrame(rows, "value string, ingested_from string")
    parsed = parse_lines(lines).cache()
    records = dedupe(parsed)
    when = dt.datetime(2026, 1, 2, 3, 4, 5, tzinfo=dt.UTC)
    good = transformed(records, fx_rate=0.012, high_value_threshold=100.0)
    bad = quarantined(records, quarantined_at=when)
    by_source = {r["ingested_from"]: r.asDict() for r in parsed.collect()}
    return {
        "parsed": by_source,
        "good": {r["recordid"]: r.asDict() for r in good.collect()},
        "bad": {r["recordid"]: r.asDict() for r in bad.collect()},
        "good_schema": good.schema,
        "bad_schema": bad.schema,
    }


def rid(result: dict[str, Any], name: str) -> str:
    return result["parsed"][f"s3://raw/obj-{name}.gz"]["recordid"]


def good_row(result: dict[str, Any], name: str) -> dict[str, Any]:
    return result["good"][rid(result, name)]


@pytest.mark.parametrize("name", list(CASES))
def test_each_record_gets_the_first_reason_that_applies(result: dict[str, Any], name: str) -> None:
    expected = CASES[name][1]
    recordid = rid(result, name)
    if expected is None:
        assert recordid in result["good"] and recordid not in result["bad"]
    else:
        assert result["bad"][recordid]["reason"] == expected
        assert recordid not in result["good"]


def test_every_quarantine_reason_is_exercised(result: dict[str, Any]) -> None:
    reasons = {r["reason"] for r in result["bad"].values()}
    assert reasons == {
        "malformed", "missing_key", "cancelled", "non_positive_quantity",
        "non_positive_price", "missing_customer", "bad_timestamp",
    }  # fmt: skip


def test_malformed_rows_keep_the_raw_line_and_their_source(result: dict[str, Any]) -> None:
    row = result["bad"][rid(result, "not_json")]
    assert row["raw_line"] == "this is not json"
    assert row["ingested_from"] == "s3://raw/obj-not_json.gz"
    assert row["quarantined_at"] == dt.datetime(2026, 1, 2, 3, 4, 5)
    cancelled = result["bad"][rid(result, "cancelled")]
    assert cancelled["raw_line"] is None
    assert (cancelled["invoiceno"], cancelled["quantity"]) == ("C536379", "-1")


def test_orderid_amount_tag_and_time_columns(result: dict[str, Any]) -> None:
    row = good_row(result, "rounding")
    assert row["orderid"] == hashlib.sha256(b"22-85123A").hexdigest()
    assert row["totalamountusd"] == 0.09  # 3 × 2.55 × 0.012 = 0.0918
    assert row["invoicedateonly"] == dt.date(2010, 12, 1)
    assert row["invoicehour"] == 8
    assert row["invoicetimestamp"] == dt.datetime(2010, 12, 1, 8, 26)
    assert (row["country_partition"], row["date_partition"]) == ("United Kingdom", "2010-12-01")


def test_threshold_compares_the_rounded_amount(result: dict[str, Any]) -> None:
    # 8333.3333 × 0.012 = 99.9999996 → stored 100.0, which is not > 100: Normal.
    for name, amount, tag in [
        ("edge_normal", 100.0, "Normal"),
        ("edge_high", 100.01, "High"),  # 8333.75 × 0.012 = 100.005 → 100.01
        ("just_under", 99.99, "Normal"),
    ]:
        row = good_row(result, name)
        assert (row["totalamountusd"], row["ordertag"]) == (amount, tag), name


def test_both_invoice_date_shapes_give_the_same_time(result: dict[str, Any]) -> None:
    us, iso = good_row(result, "us_date"), good_row(result, "iso_date")
    for key in ("invoicedateonly", "invoicehour", "invoicetimestamp", "date_partition"):
        assert us[key] == iso[key]
    assert us["invoicehour"] == 7 and us["date_partition"] == "2011-12-09"


@pytest.mark.parametrize(
    ("name", "region"),
    [("clean", "Europe"), ("region_rsa", "Africa"), ("region_usa", "North America"),
     ("region_hk", "Asia"), ("region_unspecified", "Other"), ("unicode", "Other")],
)  # fmt: skip
def test_region_from_country(result: dict[str, Any], name: str, region: str) -> None:
    assert good_row(result, name)["region"] == region


def test_values_types_and_unicode_survive(result: dict[str, Any]) -> None:
    row = good_row(result, "unicode")
    assert row["description"] == "Crème brûlée — 日本の箱 🎁"
    assert row["country_partition"] == "Österreich"
    assert good_row(result, "numeric_customer")["customerid"] == "17850"
    assert good_row(result, "no_description")["description"] is None


def test_output_schema_is_the_models(result: dict[str, Any]) -> None:
    for schema, model in (
        (result["good_schema"], TransformedOrder),
        (result["bad_schema"], QuarantinedOrder),
    ):
        assert [(f.name, f.dataType.typeName()) for f in schema.fields] == [
            (c["name"], c["spark"]) for c in columns(model)
        ]


def test_copies_of_one_record_collapse_to_one_row(result: dict[str, Any]) -> None:
    ids = {result["parsed"][f"s3://raw/dup-{i}.gz"]["recordid"] for i in range(len(DUPLICATES))}
    assert ids == {rid(result, "clean")}
    assert sum(1 for r in result["good"].values() if r["recordid"] in ids) == 1


def test_distinct_records_sharing_an_orderid_are_all_kept(result: dict[str, Any]) -> None:
    a, b = good_row(result, "clean"), good_row(result, "same_order_other_qty")
    assert a["orderid"] == b["orderid"] and a["recordid"] != b["recordid"]


def test_recordid_follows_the_documented_canonical_form(result: dict[str, Any]) -> None:
    def field(value: str | None) -> str:
        return "~" if value is None else f"{len(value)}:{value}"

    fields = ["536365", "85123A", "WHITE HANGING HEART T-LIGHT HOLDER", "6",
              "2010-12-01 08:26:00", "2.5500000000", "17850", "United Kingdom"]  # fmt: skip
    canonical = "v1|" + "".join(field(v) for v in fields)
    assert rid(result, "clean") == hashlib.sha256(canonical.encode()).hexdigest()
    assert rid(result, "not_json") == hashlib.sha256(b"v1|line:this is not json").hexdigest()


def test_accounting_blank_lines_are_not_records(result: dict[str, Any]) -> None:
    distinct_in = len({r["recordid"] for r in result["parsed"].values()})
    assert "s3://raw/blank.gz" not in result["parsed"]
    assert distinct_in == len(result["good"]) + len(result["bad"])
