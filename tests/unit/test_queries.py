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


@pytest.mark.parametrize("name", sorted(queries.load()))
def test_each_named_query_parses_as_athena_sql(name: str) -> None:
    sql, values = queries.resolve(queries.load()[name], {})
    assert sqlglot.parse_one(sql, read="athena") is not None
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
