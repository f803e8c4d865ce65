"""The read-only gate: reads pass in both dialects, every write or second statement is refused."""

from __future__ import annotations

import pytest

from orderpipe import queries
from orderpipe.sqlgate import QueryRefused, check_read_only

READS = [
    "SELECT 1",
    "WITH a AS (SELECT 1 AS x) SELECT x FROM a",
    "SELECT 1 UNION ALL SELECT 2",
    "DESCRIBE transformed_orders",
    "SHOW TABLES",
    "EXPLAIN SELECT * FROM transformed_orders",
    "EXPLAIN (FORMAT json) SELECT 1",
    "EXPLAIN (SELECT 1)",
    "SELECT 'a; DROP VIEW x' AS s;",
]
DUCKDB_READS = ["FROM transformed_orders LIMIT 3", "SUMMARIZE transformed_orders",
                "EXPLAIN ANALYZE SELECT 1", "SELECT $$ ; DROP VIEW x $$"]  # fmt: skip


@pytest.mark.parametrize("dialect", ["duckdb", "athena"])
@pytest.mark.parametrize("sql", READS)
def test_read_statements_pass(sql: str, dialect: str) -> None:
    check_read_only(sql, dialect)


@pytest.mark.parametrize("sql", DUCKDB_READS)
def test_duckdb_read_statements_pass(sql: str) -> None:
    check_read_only(sql, "duckdb")


@pytest.mark.parametrize("dialect", ["duckdb", "athena"])
def test_every_named_query_passes(dialect: str) -> None:
    for query in queries.load().values():
        check_read_only(queries.resolve(query, {})[0], dialect)


ATHENA_WRITES = [
    ("UNLOAD (SELECT * FROM t) TO 's3://elsewhere/' WITH (format = 'PARQUET')", "UNLOAD"),
    ("CREATE TABLE copy AS SELECT * FROM transformed_orders", "CREATE"),
    ("INSERT INTO transformed_orders SELECT * FROM transformed_orders", "INSERT"),
    ("DROP TABLE transformed_orders", "DROP"),
    ("ALTER TABLE transformed_orders ADD PARTITION (country_partition = 'x')", "ALTER"),
    ("MSCK REPAIR TABLE transformed_orders", "MSCK"),
    ("EXPLAIN ANALYZE INSERT INTO t SELECT 1", "INSERT"),
    ("EXPLAIN (TYPE DISTRIBUTED) DROP TABLE t", "DROP"),
]


@pytest.mark.parametrize(("sql", "keyword"), ATHENA_WRITES)
def test_athena_writes_are_refused_by_name(sql: str, keyword: str) -> None:
    with pytest.raises(QueryRefused, match=f"{keyword}.* is refused"):
        check_read_only(sql, "athena")


@pytest.mark.parametrize(
    ("sql", "reason"),
    [
        ("SELECT 1; SELECT 2", "holds 2"),
        ("SELECT 1 -- note\n; DROP VIEW x", "holds 2"),
        ("  ; -- nothing", "no SQL statement"),
        ("SELEC 1", "syntax error near '1' \\(line 1, column 7\\)"),
        ("CHECKPOINT", "CHECKPOINT is refused"),
    ],
)
def test_what_is_not_one_read_statement_says_why(sql: str, reason: str) -> None:
    with pytest.raises(QueryRefused, match=reason):
        check_read_only(sql, "duckdb")
