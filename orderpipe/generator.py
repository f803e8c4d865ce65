"""Order generator: synthetic orders shaped like the Online Retail data, and their log files.

Orders are raw records (design.md §3.2), one JSON object per line. An "order" here is one order
line, as in the data set: an invoice holds several of them.

Speed comes from doing the expensive work once: Faker builds the pools (catalogue, customers) up
front, each pool entry already rendered as JSON bytes; per invoice and per line only fast random
choices and byte concatenation remain.

Prices are in Indian rupees. The default fx rate of the job (0.012) is the real INR→USD rate, so
totals in USD are plausible, and a wholesale catalogue (₹100–₹15,000 per item, bought in the
Online Retail data's own quantity mix: mostly 1–12, sometimes 24–480) puts about one line in ten
above 100 USD, i.e. tags it `High` — a meaningful minority, not the rule.
"""

from __future__ import annotations

import contextlib
import errno
import json
import math
import os
import random
import re
import time
from bisect import bisect_right
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from itertools import accumulate
from pathlib import Path
from typing import Any

from orderpipe.errors import DiskFull
from orderpipe.fsutil import ClosesOnExit
from orderpipe.replay import replay_orders

__all__ = [
    "GenerateStats",
    "LogWriter",
    "replay_orders",
    "synthetic_orders",
    "write_orders",
]

# Country → weight (share of customers' orders). United Kingdom ≈ 90 %, then the long tail of the
# Online Retail data over the region table of design.md §3.3, then a few that are not in the table
# (they land in region `Other`).
COUNTRY_WEIGHTS: dict[str, float] = {
    "United Kingdom": 900.0,
    "Germany": 14.0,
    "France": 13.0,
    "EIRE": 11.0,
    "Netherlands": 5.0,
    "Spain": 4.0,
    "Belgium": 4.0,
    "Switzerland": 3.5,
    "Portugal": 3.0,
    "Norway": 3.0,
    "Australia": 3.0,
    "Italy": 2.0,
    "Finland": 1.6,
    "Channel Islands": 1.5,
    "Cyprus": 1.5,
    "Sweden": 1.5,
    "Denmark": 1.0,
    "Japan": 1.0,
    "Austria": 1.0,
    "Poland": 0.8,
    "USA": 0.8,
    "Israel": 0.6,
    "Singapore": 0.5,
    "Iceland": 0.5,
    "Canada": 0.4,
    "Greece": 0.4,
    "Unspecified": 0.4,
    "Hong Kong": 0.4,
    "Malta": 0.3,
    "United Arab Emirates": 0.3,
    "European Community": 0.2,
    "Lithuania": 0.2,
    "RSA": 0.2,
    "Brazil": 0.1,
    "Czech Republic": 0.1,
    "Lebanon": 0.1,
    "Bahrain": 0.1,
    "Saudi Arabia": 0.1,
    "Korea": 0.1,
    "West Indies": 0.1,
    "Nigeria": 0.1,
}

# Quantity → weight, from the 2010-12 Online Retail sample (positive lines).
QUANTITY_WEIGHTS: dict[int, int] = {
    1: 13566, 2: 6231, 12: 3408, 3: 2776, 6: 2754, 4: 2511, 24: 1550, 5: 946, 8: 892,
    10: 852, 48: 380, 36: 289, 7: 259, 20: 249, 16: 226, 9: 190, 25: 156, 18: 133, 72: 125,
    32: 98, 96: 93, 11: 84, 40: 83, 30: 80, 144: 75, 60: 55, 100: 54, 120: 48, 15: 47, 14: 44,
    288: 20, 480: 10,
}  # fmt: skip

# Hour of day (UTC) → weight: a business-hours profile, 98 % of orders between 08:00 and 20:00.
HOUR_WEIGHTS: tuple[float, ...] = (
    0.1, 0.1, 0.1, 0.1, 0.1, 0.2, 0.3, 0.6,          # 00-07
    3.0, 7.0, 9.0, 11.0, 12.0, 12.5, 12.0, 10.0,    # 08-15
    8.0, 5.5, 3.5, 2.0, 0.8, 0.5, 0.3, 0.2,          # 16-23
)  # fmt: skip

NOUNS = (
    "HOLDER", "LANTERN", "MUG", "BAG", "CUSHION COVER", "FRAME", "CANDLE", "BOX", "SIGN",
    "CLOCK", "DOORSTOP", "TEA SET", "PLATE", "BUNTING", "BOTTLE", "NOTEBOOK", "WRAP", "TIN",
    "GARLAND", "ORNAMENT", "PURSE", "CHALKBOARD", "APRON", "BASKET", "MIRROR", "COASTER",
)  # fmt: skip

CATALOGUE_SIZE = 3000
CUSTOMERS = 4000
FIRST_CUSTOMER_ID = 12346
# Invoice sizes: a long tail like the real data (median ≈ 9, mean ≈ 20 lines); cancellations are
# small invoices of 1-3 lines, as in the data.
INVOICE_SIZE_POOL = 4096
CANCEL_SIZES = (1, 1, 1, 2, 2, 3)


def _json_str(value: str) -> bytes:
    return json.dumps(value, ensure_ascii=False).encode()


@dataclass(frozen=True)
class _Pools:
    """Everything Faker and the slow code build once, pre-rendered as JSON fragments."""

    products: list[tuple[bytes, bytes]]  # ('"StockCode":…,"Quantity":', price)
    product_cum_weights: list[float]
    quantities: list[tuple[bytes, bytes]]  # (positive, negative)
    customers: list[tuple[bytes, bytes]]  # (tail with CustomerID, tail with null)
    customer_cum_weights: list[float]
    invoice_sizes: list[int]


def _build_pools(rng: random.Random) -> _Pools:
    from faker import Faker

    fake = Faker("en_US")  # its lorem provider has English words
    fake.seed_instance(rng.getrandbits(32))

    codes: set[str] = set()
    products: list[tuple[bytes, bytes]] = []
    while len(products) < CATALOGUE_SIZE:
        code = str(rng.randrange(10000, 100000))
        if rng.random() < 0.15:
            code += rng.choice("ABCDEFGHIJKLMNOPQRSTUVWXYZ")
        if code in codes:
            continue
        codes.add(code)
        colour = re.sub(r"(?<=[a-z])(?=[A-Z])", " ", fake.color_name())  # RoyalBlue → Royal Blue
        adjective = fake.word(part_of_speech="adjective")
        description = f"{colour} {adjective} {rng.choice(NOUNS)}".upper()
        # Log-normal around ₹400, clipped to a wholesale range; whole rupees or .50.
        rupees = min(max(math.exp(rng.gauss(math.log(400), 1.0)), 100.0), 15000.0)
        price = round(rupees * 2) / 2
        head = b'"StockCode":%s,"Description":%s,"Quantity":' % (
            _json_str(code),
            _json_str(description),
        )
        products.append((head, repr(price).encode()))
    # A few best sellers, a long tail: Zipf-like popularity over the (random) catalogue order.
    product_weights = [1.0 / (rank + 10) ** 0.9 for rank in range(len(products))]

    quantities = [(b"%d" % q, b"%d" % -q) for q in QUANTITY_WEIGHTS]
    quantity_pool = [
        pair
        for pair, weight in zip(quantities, QUANTITY_WEIGHTS.values(), strict=True)
        for _ in range(max(1, round(weight / 10)))
    ]

    customers: list[tuple[bytes, bytes]] = []
    customer_weights: list[float] = []
    total = sum(COUNTRY_WEIGHTS.values())
    for country, weight in COUNTRY_WEIGHTS.items():
        # Each country gets at least one customer; customers of a country share its weight.
        n = max(1, round(CUSTOMERS * weight / total))
        for _ in range(n):
            customer_weights.append(weight / n * rng.uniform(0.2, 1.8))
            country_json = _json_str(country)
            cid = b'"%d"' % (FIRST_CUSTOMER_ID + len(customers))
            customers.append(
                (
                    b',"CustomerID":%s,"Country":%s}\n' % (cid, country_json),
                    b',"CustomerID":null,"Country":%s}\n' % country_json,
                )
            )

    sizes = [
        min(max(1, round(math.exp(rng.gauss(math.log(9), 1.1)))), 600)
        for _ in range(INVOICE_SIZE_POOL)
    ]
    return _Pools(
        products=products,
        product_cum_weights=list(accumulate(product_weights)),
        quantities=quantity_pool,
        customers=customers,
        customer_cum_weights=list(accumulate(customer_weights)),
        invoice_sizes=sizes,
    )


class _Clock:
    """Maps a position in the run (0..1) to a timestamp over the window, by the hourly profile.

    Positions grow with the line index, so InvoiceDate never decreases, and the density of orders
    over the hours follows HOUR_WEIGHTS.
    """

    def __init__(self, end: datetime, days: int) -> None:
        if end.tzinfo is not None:
            end = end.astimezone(UTC).replace(tzinfo=None)
        self.origin = end - timedelta(days=days)
        hours = days * 24
        first_hour = self.origin.hour
        weights = [HOUR_WEIGHTS[(first_hour + h) % 24] for h in range(hours)]
        total = sum(weights)
        self.cum = [w / total for w in accumulate(weights)]
        self.seconds = days * 86400

    def at(self, position: float) -> bytes:
        slot = min(bisect_right(self.cum, position), len(self.cum) - 1)
        low = self.cum[slot - 1] if slot else 0.0
        width = self.cum[slot] - low
        fraction = (position - low) / width if width else 0.0
        offset = min(int((slot + min(max(fraction, 0.0), 1.0)) * 3600), self.seconds)
        stamp = self.origin + timedelta(seconds=offset)
        return stamp.strftime("%Y-%m-%d %H:%M:%S").encode()


def _cancel_probability(share: float, mean_size: float) -> float:
    """Per-invoice probability that makes `share` of all lines belong to cancellations."""
    if share <= 0:
        return 0.0
    mean_cancel = sum(CANCEL_SIZES) / len(CANCEL_SIZES)
    return share * mean_size / (mean_cancel * (1 - share) + share * mean_size)


def synthetic_orders(
    count: int,
    seed: int | None = None,
    *,
    cancel_share: float = 0.02,
    missing_customer_share: float = 0.05,
    zero_price_share: float = 0.005,
    start: datetime | None = None,
    days: int = 30,
) -> Iterator[bytes]:
    """`count` NDJSON order lines (bytes, `\\n`-ended) of invoices spread over `days` days.

    The same `seed` and `start` give the same bytes (`start` defaults to now, UTC, so without it
    the dates move with the clock; the orders are otherwise the same). Shares are of lines:
    cancellations are whole invoices (`C` prefix, negative quantities); missing customers are
    whole invoices (CustomerID null); zero prices are single lines.
    """
    if count < 0 or days < 1:
        raise ValueError("count must be >= 0 and days >= 1")
    rng = random.Random(seed if seed is not None else random.SystemRandom().getrandbits(64))
    pools = _build_pools(rng)
    clock = _Clock(start or datetime.now(UTC), days)
    p_cancel = _cancel_probability(cancel_share, sum(pools.invoice_sizes) / INVOICE_SIZE_POOL)

    random_ = rng.random
    choices = rng.choices
    join = b"".join
    products, product_cum = pools.products, pools.product_cum_weights
    quantities, sizes = pools.quantities, pools.invoice_sizes
    customers, customer_cum = pools.customers, pools.customer_cum_weights
    n_customers = len(customers) - 1
    invoice = rng.randrange(100000, 900000)

    done = 0
    while done < count:
        cancelled = random_() < p_cancel
        n = rng.choice(CANCEL_SIZES) if cancelled else sizes[int(random_() * INVOICE_SIZE_POOL)]
        n = min(n, count - done)
        invoice = invoice + 1 if invoice < 999999 else 100000
        # A product appears once per invoice, so no two synthetic lines are the same record.
        lines = dict.fromkeys(choices(products, cum_weights=product_cum, k=n))
        stamp = clock.at((done + random_() * len(lines)) / count)
        who = customers[min(bisect_right(customer_cum, random_() * customer_cum[-1]), n_customers)]
        tail = who[1] if random_() < missing_customer_share else who[0]
        prefix = b'{"InvoiceNo":"C%d",' % invoice if cancelled else b'{"InvoiceNo":"%d",' % invoice
        middle = b',"InvoiceDate":"' + stamp + b'","UnitPrice":'
        sign = 1 if cancelled else 0
        for head, price in lines:
            quantity = quantities[int(random_() * len(quantities))][sign]
            if random_() < zero_price_share:
                price = b"0.0"
            yield join((prefix, head, quantity, middle, price, tail))
        done += len(lines)


@dataclass
class GenerateStats:
    """What a `write_orders` run did, for the command to print."""

    orders: int
    files: int
    bytes: int
    seconds: float
    first_date: str | None  # earliest well-formed InvoiceDate written
    last_date: str | None  # latest well-formed InvoiceDate written


class LogWriter(ClosesOnExit):
    """Appends whole NDJSON lines to size-rotated log files that a shipper tails.

    Files are `<prefix>-<UTC time>-<pid>.ndjson`, named in creation order and never renamed.
    Lines are buffered and written in whole-line chunks, so a closed file always ends with a
    complete line; `flush()` makes buffered lines visible (the pacer calls it before sleeping).
    """

    def __init__(
        self,
        log_dir: Path,
        max_bytes: int = 32 * 1024 * 1024,
        prefix: str = "orders",
        *,
        buffer_bytes: int = 256 * 1024,
    ) -> None:
        if max_bytes < 1:
            raise ValueError("max_bytes must be positive")
        self.log_dir = Path(log_dir)
        self.max_bytes = max_bytes
        self.prefix = prefix
        self.buffer_bytes = buffer_bytes
        self.files: list[Path] = []
        self.bytes_written = 0
        self._file: Any = None
        self._size = 0  # bytes in the current file, buffered ones included
        self._buffer: list[bytes] = []
        self._buffered = 0
        self._last_name = ""

    def write(self, line: bytes) -> None:
        """Queue one `\\n`-ended line; rotate first when it would overflow the current file."""
        if line[-1:] != b"\n":
            raise ValueError("a log line must end with a newline")
        n = len(line)
        if self._size and self._size + n > self.max_bytes:
            self._close_file()
        self._buffer.append(line)
        self._buffered += n
        self._size += n
        if self._buffered >= self.buffer_bytes:
            self.flush()

    def flush(self) -> None:
        """Write the buffered lines (all whole) to the current file."""
        if not self._buffer:
            return
        if self._file is None:
            self._open_file()
        data = b"".join(self._buffer)
        view = memoryview(data)
        before = self._file.tell()
        try:
            while view:
                view = view[self._file.write(view) :]
        except OSError as exc:
            # Never leave a torn last line (a tailing agent would wait for its end forever).
            with contextlib.suppress(OSError):
                os.ftruncate(self._file.fileno(), before)
            self._buffer.clear()  # not written: closing must not try again
            self._buffered = 0
            if exc.errno in (errno.ENOSPC, errno.EDQUOT):
                raise DiskFull(
                    f"the disk holding {self.log_dir} is full (no space left on device): the "
                    f"{self.bytes_written:,} bytes of orders written before are whole lines and "
                    "nothing was lost; free some space there, then run `orderpipe ship` to "
                    "deliver them and generate again."
                ) from exc
            raise
        self.bytes_written += len(data)
        self._buffer.clear()
        self._buffered = 0

    def close(self) -> None:
        self._close_file()

    def _close_file(self) -> None:
        self.flush()
        if self._file is not None:
            self._file.close()
            self._file = None
        self._size = 0

    def _open_file(self) -> None:
        self.log_dir.mkdir(parents=True, exist_ok=True)
        now = datetime.now(UTC)
        while True:
            name = f"{self.prefix}-{now:%Y%m%dT%H%M%S%f}-{os.getpid()}.ndjson"
            if name > self._last_name:  # names sort in creation order, even within a µs
                try:
                    self._file = open(self.log_dir / name, "xb", buffering=0)  # noqa: SIM115
                    break
                except FileExistsError:
                    pass
            now += timedelta(microseconds=1)
        self._last_name = name
        self.files.append(self.log_dir / name)


_DATE_KEY = b'"InvoiceDate":"'


def _is_stamp(value: bytes) -> bool:
    """`YYYY-MM-DD HH:MM:SS"` (with its closing quote), as the generator and replay write it."""
    return len(value) == 20 and value[19] == 0x22 and value[:4].isdigit() and value[4] == 0x2D


def write_orders(
    lines: Iterable[bytes],
    log_dir: Path,
    *,
    rate: float | None = None,
    on_progress: Callable[[int], None] | None = None,
    max_bytes: int = 32 * 1024 * 1024,
    clock: Callable[[], float] = time.monotonic,
    sleep: Callable[[float], None] = time.sleep,
) -> GenerateStats:
    """Write `lines` to rotating log files in `log_dir`, at most `rate` lines per second.

    Pacing sleeps until each batch is due on the monotonic clock (no busy-waiting), flushing
    first so a tailing shipper sees orders as they are "placed". `on_progress` receives the
    number of lines written so far, every batch and at the end.
    """
    if rate is not None and rate <= 0:
        raise ValueError("rate must be positive")
    batch = max(1, min(int(rate / 20), 10_000)) if rate else 10_000
    started = clock()
    count = 0
    first = last = previous = b""
    with LogWriter(log_dir, max_bytes=max_bytes) as writer:
        write = writer.write
        for line in lines:
            write(line)
            count += 1
            at = line.find(_DATE_KEY) + len(_DATE_KEY)
            stamp = line[at : at + 20]
            if stamp != previous:  # the lines of an invoice share their date: skip the checks
                previous = stamp
                if at >= len(_DATE_KEY) and _is_stamp(stamp):
                    if not first or stamp < first:
                        first = stamp
                    if stamp > last:
                        last = stamp
            if count % batch == 0:
                if rate:
                    wait = started + count / rate - clock()
                    if wait > 0:
                        writer.flush()
                        sleep(wait)
                if on_progress:
                    on_progress(count)
    if on_progress:
        on_progress(count)
    return GenerateStats(
        orders=count,
        files=len(writer.files),
        bytes=writer.bytes_written,
        seconds=clock() - started,
        first_date=first[:19].decode() if first else None,
        last_date=last[:19].decode() if last else None,
    )
