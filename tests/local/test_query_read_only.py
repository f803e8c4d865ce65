"""`query sql` reads, and reads only the lake: every write or escape is refused in one sentence,
and the lake is byte-for-byte the same afterwards. Real DuckDB over real Parquet files."""

from __future__ import annotations

import hashlib
from pathlib import Path

import pytest
from helpers import cli, query_json

from orderpipe import queries
from orderpipe.settings import Settings
from orderpipe.sqlgate import QueryRefused
from orderpipe.targets.local.target import LocalTarget


def lake_fingerprint(lake: Path) -> dict[str, str]:
    return {
        str(p.relative_to(lake)): hashlib.sha256(p.read_bytes()).hexdigest()
        for p in sorted(lake.rglob("*"))
        if p.is_file()
    }


@pytest.fixture(scope="module")
def lake_home(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A home with a small transformed_orders partition, written as the job lays it out."""
    import duckdb

    home = tmp_path_factory.mktemp("readonly") / "home"
    cli(home, "up")
    part = home / "buckets/orderpipe-lake/transformed_orders"
    part = part / "country_partition=France/date_partition=2011-12-09"
    part.mkdir(parents=True)
    with duckdb.connect() as con:
        con.execute(
            "COPY (SELECT 'o' || i AS orderid, 536365 + i AS invoiceno, 2.5 * i AS totalamountusd"
            f" FROM range(5) t(i)) TO '{part}/part-0.parquet' (FORMAT parquet)"
        )
    return home


def test_reads_run_over_the_lake(lake_home: Path) -> None:
    assert query_json(lake_home, "SELECT count(*) AS n FROM transformed_orders") == [{"n": 5}]
    for sql in ("DESCRIBE transformed_orders", "SHOW TABLES", "SUMMARIZE transformed_orders",
                "EXPLAIN SELECT * FROM transformed_orders",
                "WITH t AS (SELECT * FROM transformed_orders) SELECT count(*) FROM t"):  # fmt: skip
        cli(lake_home, "query", "sql", sql)


OUTSIDE = "/tmp/orderpipe-readonly-escape.csv"
REFUSED = [
    f"COPY transformed_orders TO '{OUTSIDE}'",
    "ATTACH '/tmp/orderpipe-escape.duckdb' AS other",
    "SELECT * FROM read_csv('/etc/passwd')",
    "SELECT * FROM glob('/root/*')",
    "SELECT * FROM read_text('{lake}/../../state/../../../../etc/hostname')",
    "DROP VIEW transformed_orders",
    "CREATE TABLE stolen AS SELECT * FROM transformed_orders",
    "COPY (SELECT * FROM transformed_orders) TO '{lake}/transformed_orders'"
    " (FORMAT parquet, PARTITION_BY (orderid), OVERWRITE)",
    "COPY transformed_orders TO '{lake}/transformed_orders/country_partition=France/"
    "date_partition=2011-12-09/part-0.parquet' (FORMAT parquet)",
    "SELECT 1; DROP VIEW transformed_orders",
    "SELECT 1 -- a comment\n; DROP VIEW transformed_orders",
    "SELECT 1 /* a comment */; COPY transformed_orders TO '{lake}/x.csv'",
    "EXPLAIN ANALYZE COPY transformed_orders TO '{lake}/x.csv'",
    "SET enable_external_access = true",
    "INSTALL httpfs",
    "LOAD httpfs",
    "CALL duckdb_settings()",
    "PRAGMA database_size",
    "WITH t AS (SELECT 1) INSERT INTO transformed_orders SELECT * FROM t",
]


@pytest.mark.parametrize("sql", REFUSED)
def test_writes_and_escapes_are_refused_and_the_lake_is_unchanged(
    lake_home: Path, sql: str
) -> None:
    lake = lake_home / "buckets" / "orderpipe-lake"
    before = lake_fingerprint(lake)
    message = cli(lake_home, "query", "sql", sql.format(lake=lake), code=1).said
    assert message.startswith("Error: ") and message.count("Error:") == 1, message
    assert lake_fingerprint(lake) == before
    assert not Path(OUTSIDE).exists()


def test_named_queries_pass_the_same_gate(lake_home: Path, tmp_path: Path) -> None:
    bad = tmp_path / "queries.sql"
    bad.write_text("-- name: wipe\nDROP VIEW transformed_orders;\n", encoding="utf-8")
    (query,) = queries.load(bad).values()
    target = LocalTarget(Settings(home=lake_home))
    with pytest.raises(QueryRefused, match="DROP is refused"):
        target.query(query.sql)
