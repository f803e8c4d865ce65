"""Synthetic orders, log files and pacing: what `orderpipe generate` writes."""

from __future__ import annotations

import json
from collections import Counter
from datetime import datetime, timedelta
from pathlib import Path

import pytest

from orderpipe.generator import LogWriter, synthetic_orders, write_orders
from orderpipe.models import RawOrder

START = datetime(2024, 6, 1, 12, 0, 0)


@pytest.fixture(scope="module")
def sample() -> list[dict]:
    """100,000 order lines with the default shares, parsed."""
    return [json.loads(line) for line in synthetic_orders(100_000, seed=7, start=START)]


def test_same_seed_same_bytes_different_seed_differs() -> None:
    first = list(synthetic_orders(3_000, seed=42, start=START))
    assert first == list(synthetic_orders(3_000, seed=42, start=START))
    assert first != list(synthetic_orders(3_000, seed=43, start=START))


@pytest.mark.parametrize("count", [0, 1, 12_345])
def test_exactly_count_newline_ended_lines(count: int) -> None:
    lines = list(synthetic_orders(count, seed=1, start=START))
    assert len(lines) == count
    assert all(line.endswith(b"\n") and line.count(b"\n") == 1 for line in lines)


def test_every_line_is_a_raw_order() -> None:
    for line in synthetic_orders(20_000, seed=3, start=START):
        order = RawOrder.model_validate_json(line)
        assert len(order.InvoiceNo.removeprefix("C")) == 6 and order.InvoiceNo[-6:].isdigit()


def test_cancellations_are_c_invoices_with_negative_quantities(sample: list[dict]) -> None:
    cancelled = [r for r in sample if r["InvoiceNo"].startswith("C")]
    assert 0.015 <= len(cancelled) / len(sample) <= 0.025
    assert all(r["Quantity"] < 0 for r in cancelled)
    assert all(r["Quantity"] > 0 for r in sample if not r["InvoiceNo"].startswith("C"))


def test_shares_of_missing_customers_and_zero_prices(sample: list[dict]) -> None:
    missing = sum(r["CustomerID"] is None for r in sample) / len(sample)
    zero = sum(r["UnitPrice"] == 0 for r in sample) / len(sample)
    assert 0.03 <= missing <= 0.07
    assert 0.003 <= zero <= 0.008


def test_shares_are_configurable() -> None:
    lines = [
        json.loads(line)
        for line in synthetic_orders(
            20_000,
            seed=5,
            start=START,
            cancel_share=0.2,
            missing_customer_share=0.0,
            zero_price_share=0.0,
        )
    ]
    cancelled = sum(r["InvoiceNo"].startswith("C") for r in lines) / len(lines)
    assert 0.17 <= cancelled <= 0.23
    assert all(r["CustomerID"] is not None and r["UnitPrice"] > 0 for r in lines)


def test_countries_mostly_uk_with_a_long_tail(sample: list[dict]) -> None:
    countries = Counter(r["Country"] for r in sample)
    assert 0.85 <= countries["United Kingdom"] / len(sample) <= 0.95
    assert len(countries) >= 25
    assert countries["Unspecified"] > 0  # not in the region table: lands in `Other`


def test_a_minority_of_lines_is_high_at_the_default_fx_rate(sample: list[dict]) -> None:
    sales = [r for r in sample if r["Quantity"] > 0 and r["UnitPrice"] > 0]
    high = sum(round(r["Quantity"] * r["UnitPrice"] * 0.012, 2) > 100 for r in sales)
    assert 0.05 <= high / len(sales) <= 0.15


def test_invoices_have_several_lines_sharing_date_and_customer(sample: list[dict]) -> None:
    invoices: dict[str, set[tuple]] = {}
    for r in sample:
        invoices.setdefault(r["InvoiceNo"], set()).add(
            (r["InvoiceDate"], r["CustomerID"], r["Country"])
        )
    assert len(sample) / len(invoices) >= 5
    assert all(len(keys) == 1 for keys in invoices.values())


def test_dates_non_decreasing_over_the_window_in_business_hours(sample: list[dict]) -> None:
    dates = [r["InvoiceDate"] for r in sample]
    assert dates == sorted(dates)
    assert all(len(d) == 19 for d in dates)
    parsed = [datetime.fromisoformat(d) for d in dates]
    assert START - timedelta(days=30) <= parsed[0] < START - timedelta(days=28)
    assert START - timedelta(days=2) < parsed[-1] <= START
    in_hours = sum(8 <= p.hour < 20 for p in parsed) / len(parsed)
    assert in_hours >= 0.9
    hours = Counter(p.hour for p in parsed)
    assert hours[13] > 10 * hours[3]  # a peak-hours query shows a shape


def _lines_in(folder: Path) -> list[bytes]:
    return [line for f in sorted(folder.iterdir()) for line in f.read_bytes().splitlines(True)]


def test_log_files_rotate_by_size_with_whole_lines(tmp_path: Path) -> None:
    lines = list(synthetic_orders(5_000, seed=9, start=START))
    with LogWriter(tmp_path, max_bytes=64 * 1024) as writer:
        for line in lines:
            writer.write(line)
    files = sorted(tmp_path.iterdir())
    assert files == sorted(writer.files) and len(files) >= 10
    for f in files:
        data = f.read_bytes()
        assert f.name.startswith("orders-") and f.suffix == ".ndjson"
        assert len(data) <= 64 * 1024 and data.endswith(b"\n")
    assert b"".join(f.read_bytes() for f in files) == b"".join(lines)


def test_a_line_bigger_than_the_limit_gets_a_file_of_its_own(tmp_path: Path) -> None:
    with LogWriter(tmp_path, max_bytes=10, prefix="big") as writer:
        for line in (b"1\n", b"0123456789abcdef\n", b"2\n"):
            writer.write(line)
    assert [f.read_bytes() for f in writer.files] == [b"1\n", b"0123456789abcdef\n", b"2\n"]


def test_partial_lines_are_refused(tmp_path: Path) -> None:
    with LogWriter(tmp_path) as writer, pytest.raises(ValueError):
        writer.write(b'{"InvoiceNo":')
    assert list(tmp_path.iterdir()) == []


def test_write_orders_reports_what_it_wrote(tmp_path: Path) -> None:
    seen: list[int] = []
    lines = list(synthetic_orders(25_000, seed=11, start=START))
    stats = write_orders(iter(lines), tmp_path, on_progress=seen.append, max_bytes=1_000_000)
    assert stats.orders == 25_000 and seen[-1] == 25_000 and seen == sorted(seen)
    assert stats.bytes == sum(map(len, lines)) and stats.files == len(list(tmp_path.iterdir()))
    assert stats.first_date == json.loads(lines[0])["InvoiceDate"]
    assert stats.last_date == json.loads(lines[-1])["InvoiceDate"]
    assert _lines_in(tmp_path) == lines


class FakeClock:
    """A monotonic clock that only moves when the code under test sleeps."""

    def __init__(self) -> None:
        self.now = 100.0
        self.sleeps: list[float] = []

    def __call__(self) -> float:
        return self.now

    def sleep(self, seconds: float) -> None:
        self.sleeps.append(seconds)
        self.now += seconds


def test_rate_paces_by_sleeping_not_spinning(tmp_path: Path) -> None:
    clock = FakeClock()
    lines = list(synthetic_orders(1_000, seed=2, start=START))
    stats = write_orders(lines, tmp_path, rate=200, clock=clock, sleep=clock.sleep)
    assert stats.seconds == pytest.approx(5.0, abs=0.05)  # 1,000 lines at 200/s
    assert len(clock.sleeps) == 100  # one sleep per 10-line batch, each 50 ms
    assert all(s == pytest.approx(0.05) for s in clock.sleeps)


def test_rate_only_sleeps_when_ahead_of_schedule(tmp_path: Path) -> None:
    clock = FakeClock()

    def slow_lines():
        for line in synthetic_orders(100, seed=2, start=START):
            clock.now += 1.0  # the source itself is slower than the rate
            yield line

    write_orders(slow_lines(), tmp_path, rate=20, clock=clock, sleep=clock.sleep)
    assert clock.sleeps == []


def test_lines_are_visible_before_each_pause(tmp_path: Path) -> None:
    """A shipper tailing the log sees the orders already "placed" while the generator waits."""
    clock = FakeClock()
    visible: list[int] = []

    def sleep(seconds: float) -> None:
        visible.append(len(_lines_in(tmp_path)))
        clock.sleep(seconds)

    lines = synthetic_orders(60, seed=4, start=START)
    write_orders(lines, tmp_path, rate=40, clock=clock, sleep=sleep)
    assert visible == list(range(2, 61, 2))  # batches of 2 lines, 50 ms apart


def test_synthetic_lines_are_distinct_records() -> None:
    """Every generated line is its own record, so transformed + quarantined = lines generated."""
    lines = list(synthetic_orders(50_000, seed=11))
    assert len(set(lines)) == len(lines) == 50_000
