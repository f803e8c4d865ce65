"""Benchmark: synthetic orders per second on one core, beside a naive Faker-per-order generator.

Run: .venv/bin/python bench/generator.py [--count 1000000] [--naive-count 20000]

Rows: the generator alone (bytes discarded), the generator through `write_orders` into rotating log
files (what `orderpipe generate` does), and the naive generator that calls Faker and json.dumps
for every order line. Rates use CPU time of this process, so a busy machine does not skew them.
"""

from __future__ import annotations

import argparse
import json
import random
import tempfile
import time
from collections.abc import Callable, Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

from rich.console import Console
from rich.table import Table

from orderpipe.generator import COUNTRY_WEIGHTS, synthetic_orders, write_orders

START = datetime(2024, 6, 1, tzinfo=UTC)


def naive_orders(count: int, seed: int) -> Iterator[bytes]:
    """The obvious generator: Faker for every field of every line, then json.dumps."""
    from faker import Faker

    fake = Faker("en_GB")
    fake.seed_instance(seed)
    countries, weights = list(COUNTRY_WEIGHTS), list(COUNTRY_WEIGHTS.values())
    for i in range(count):
        record = {
            "InvoiceNo": str(536365 + i // 20),
            "StockCode": fake.bothify("#####?"),
            "Description": f"{fake.color_name()} {fake.word()}".upper(),
            "Quantity": fake.random_int(1, 24),
            "InvoiceDate": fake.date_time_between(START - timedelta(days=30), START).strftime(
                "%Y-%m-%d %H:%M:%S"
            ),
            "UnitPrice": float(fake.pydecimal(left_digits=4, right_digits=2, positive=True)),
            "CustomerID": str(fake.random_int(12346, 18287)),
            "Country": random.choices(countries, weights)[0],
        }
        yield json.dumps(record).encode() + b"\n"


def discard(lines: Iterator[bytes]) -> int:
    count = 0
    for _ in lines:
        count += 1
    return count


def measure(name: str, run: Callable[[], int]) -> tuple[str, int, float]:
    """(name, orders, CPU seconds) of one run."""
    started = time.process_time()
    orders = run()
    return name, orders, time.process_time() - started


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--count", type=int, default=1_000_000)
    parser.add_argument("--naive-count", type=int, default=20_000)
    args = parser.parse_args()

    def synthetic() -> Iterator[bytes]:
        return synthetic_orders(args.count, seed=1, start=START)

    with tempfile.TemporaryDirectory() as folder:
        results = [
            measure("synthetic_orders → discarded", lambda: discard(synthetic())),
            measure(
                "synthetic_orders → write_orders (log files)",
                lambda: write_orders(synthetic(), Path(folder)).orders,
            ),
            measure(
                "naive: Faker per order + json.dumps",
                lambda: discard(naive_orders(args.naive_count, seed=1)),
            ),
        ]

    naive_rate = results[-1][1] / results[-1][2]
    table = Table(title="Order generator, one core (CPU time)")
    for column in ("generator", "orders", "seconds", "orders/s", "× naive"):
        table.add_column(column, justify="left" if column == "generator" else "right")
    for name, orders, seconds in results:
        rate = orders / seconds
        speedup = f"{rate / naive_rate:.0f}×"
        table.add_row(name, f"{orders:,}", f"{seconds:.2f}", f"{rate:,.0f}", speedup)
    Console().print(table)


if __name__ == "__main__":
    main()
