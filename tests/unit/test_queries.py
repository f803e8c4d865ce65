"""Named queries: each parses as Athena (Trino) SQL, and parameters are bound, never spliced."""

from __future__ import annotations

import pytest
import sqlglot

from orderpipe import queries
from orderpipe.errors import UsageError

REQUIRED = {"top-orders", "regional-revenue", "peak-hours", "country-performance",
            "missing-data", "duplicates"}  # fmt: skip


def test_the_six_named_queries_exist() -> None:
    assert set(queries.load()) >= REQUIRED


# The columns users script against (`--format json` keys) and `orderpipe report` reads.
COLUMNS = {
    "top-orders": "invoiceno customerid country invoicedate lines items totalusd",
    "regional-revenue": "region invoices customers revenueusd revenuepct",
    "peak-hours": "hour invoices lines revenueusd",
    "country-performance": "country region invoices revenueusd avginvoiceusd highpct",
    "missing-data": "reason records example",
    "duplicates": "orderid invoiceno stockcode rows_ distinctrecords",
    "kpis": "revenueusd invoices customers avginvoiceusd lines highpct quarantined quarantinepct"
    " firstday lastday",
    "daily-revenue": "orderdate invoices customers revenueusd",
}


def test_each_named_query_parses_as_athena_sql_with_its_columns() -> None:
    assert set(COLUMNS) == set(queries.load())
    for name, named in queries.load().items():
        sql, values = queries.resolve(named, {})
        parsed = sqlglot.parse_one(sql, read="athena", error_level=sqlglot.ErrorLevel.RAISE)
        assert [c.lower() for c in parsed.named_selects] == COLUMNS[name].split(), name
        assert sql.count("?") == len(values)


def test_params_become_placeholders_not_text() -> None:
    sql, values = queries.bind(
        "SELECT * FROM t WHERE c = :country AND n > :n", {"country": "x' OR 1=1 --", "n": 3}
    )
    assert "OR 1=1" not in sql and sql.count("?") == 2
    assert values == ["x' OR 1=1 --", 3]


def test_colons_inside_strings_and_casts_are_left_alone() -> None:
    sql, values = queries.bind("SELECT ':x', a::int FROM t WHERE b = :x", {"x": 1})
    assert sql == "SELECT ':x', a::int FROM t WHERE b = ?" and values == [1]


def test_unknown_and_malformed_params_are_usage_errors() -> None:
    top = queries.load()["top-orders"]
    with pytest.raises(UsageError, match="has no parameter"):
        queries.resolve(top, {"country": "France"})
    with pytest.raises(UsageError):
        queries.parse_params(["novalue"])
    assert queries.parse_params(["limit=5", "name=a=b"]) == {"limit": 5, "name": "a=b"}
