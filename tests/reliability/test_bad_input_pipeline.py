"""Bad input through the real local pipeline: the crawler never recurses on data, replayed dates
are never swapped, and a stored value with markup prints as it is."""

from __future__ import annotations

import gzip
from collections.abc import Callable
from pathlib import Path

from helpers import cli, query_json

from orderpipe.settings import load_settings
from orderpipe.targets import get_target

HEADER = "InvoiceNo,StockCode,Description,Quantity,InvoiceDate,UnitPrice,CustomerID,Country"
NESTED = '{"InvoiceNo": ' + "[" * 100_000 + "]" * 100_000 + "}"  # 200 KB, depth 100,000


def test_crawl_survives_nested_huge_and_truncated_objects(home: Path) -> None:
    cli(home, "up")
    good = b'{"InvoiceNo":"1","StockCode":"A","Quantity":2,"UnitPrice":1.5,"Country":"EIRE"}'
    (home / "logs" / "orders-1.ndjson").write_bytes(b"\n".join([NESTED.encode(), good, b""]))
    cli(home, "ship")
    raw = next((home / "buckets").glob("*-raw/raw/**/*.gz"))
    truncated = raw.with_name("truncated.gz")
    data = gzip.compress(b"\n".join([good] * 5000))
    truncated.write_bytes(data[: len(data) // 2])
    huge = raw.with_name("huge")  # a line over any Firehose record, then a good one
    huge.write_bytes(b'{"Description":"' + b"x" * 3_000_000 + b'"}\n' + good + b"\n")
    result = cli(home, "crawl")
    assert "succeeded" in result.output
    target = get_target(load_settings(home=home))
    raw_table = target.catalog.table(target.names.database, "raw")
    columns = {c["Name"]: c["Type"] for c in raw_table["columns"]}
    assert columns == {"invoiceno": "string", "stockcode": "string", "quantity": "bigint",
                       "unitprice": "double", "country": "string"}  # fmt: skip


def test_bad_rows_end_in_quarantine_and_markup_in_values_prints(home: Path, tmp_path: Path) -> None:
    orders = tmp_path / "orders.csv"
    orders.write_text(
        f"{HEADER}\n"
        "100001,A,ok,2,01/02/2011 10:00,3.0,1,United Kingdom\n"
        "100002,B,markup,1,03/02/2011 11:00,5.0,2,Evil[/]\n"
        "100003,C,not day-first,1,12/13/2011 10:00,5.0,3,France\n"  # Dec 13 only month-first
    )
    cli(home, "generate", "--replay", str(orders), "--date-format", "%d/%m/%Y %H:%M")
    with (home / "logs" / "orders-nested.ndjson").open("w") as log:
        log.write(NESTED + "\n")
    cli(home, "ship")
    cli(home, "transform", "run")

    stored = query_json(home, "SELECT invoiceno, country, CAST(invoicetimestamp AS VARCHAR) AS t "
                              "FROM transformed_orders ORDER BY 1")  # fmt: skip
    assert stored == [
        {"invoiceno": "100001", "country": "United Kingdom", "t": "2011-02-01 10:00:00"},
        {"invoiceno": "100002", "country": "Evil[/]", "t": "2011-02-03 11:00:00"},
    ]
    reasons = query_json(home, "SELECT reason, count(*) AS n FROM quarantined_orders GROUP BY 1")
    assert {r["reason"]: r["n"] for r in reasons} == {"bad_timestamp": 1, "malformed": 1}

    table = cli(home, "query", "country-performance").stdout
    assert "Evil[/]" in table and "United Kingdom" in table
    assert "Evil[/]" in cli(home, "query", "country-performance", "--chart").stdout


def test_transform_on_a_full_disk_is_one_sentence(
    small_disk: Path, fill: Callable[[Path], Path]
) -> None:
    home = small_disk / "home"
    cli(home, "generate", "--count", "200", "--seed", "3")
    cli(home, "crawl")  # so the job itself meets the full disk, writing the lake
    fill(small_disk)
    result = cli(home, "transform", "run", code=1)
    assert f"the disk holding {home} is full" in result.said
    assert "run the command again" in result.said
