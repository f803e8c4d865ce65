"""Replay a real order file (CSV with a header, or NDJSON raw records) as raw-record lines.

Two passes over the file, each streaming: the first decides what the file is (CSV or NDJSON, text
encoding, InvoiceDate formats, row count), the second emits one NDJSON line per input row. Nothing
is dropped: a value that does not parse is passed on as it is, for the job to quarantine.
"""

from __future__ import annotations

import codecs
import csv
import json
import logging
import math
import re
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any

from orderpipe.errors import ReplayError

log = logging.getLogger(__name__)

FIELDS = (
    "InvoiceNo",
    "StockCode",
    "Description",
    "Quantity",
    "InvoiceDate",
    "UnitPrice",
    "CustomerID",
    "Country",
)
OUTPUT_FORMAT = "%Y-%m-%d %H:%M:%S"

# A date the detector understands: year first (ISO, 4-digit year) or year last (2 or 4 digits),
# '/' or '-' between the parts, an optional time H:MM[:SS[.fff]].
_DATE = re.compile(
    r"\s*(\d{1,4})([/-])(\d{1,2})\2(\d{1,4})"
    r"(?:(?:\s+|T)(\d{1,2}):(\d{2})(?::(\d{2})(?:\.\d+)?)?)?\s*"
)
_INT = re.compile(r"\s*[-+]?\d+(?:\.0*)?\s*")
_NUMBER = re.compile(r"\s*[-+]?(?:\d+\.?\d*|\.\d+)(?:[eE][-+]?\d+)?\s*")
_FLOAT_ID = re.compile(r"(\d+)\.0*")
_NDJSON_DATE = re.compile(r'"InvoiceDate"\s*:\s*"([^"]*)"')
_UNDEFINED_CP1252 = frozenset(b"\x81\x8d\x8f\x90\x9d")


@dataclass
class _Shape:
    """What the rows of one date shape (separator, year width) say about day/month order."""

    first_seen: str  # the shape's first value, to name the shape in messages
    example: str = ""  # a value whose order matters (day != month)
    rows: int = 0
    day_first: bool = False  # some first part above 12
    month_first: bool = False  # some second part above 12


@dataclass
class ReplayPlan:
    """What the detection pass found; `replay_orders` follows it."""

    path: Path
    kind: str  # "csv" or "ndjson"
    encoding: str
    rows: int
    date_formats: tuple[str, ...] = ()  # the user's strptime formats, if any
    # (separator, year digits) → True when day-first, for year-last dates.
    day_first: dict[tuple[str, int], bool] = field(default_factory=dict)

    def describe(self) -> str:
        """One line for the user: what will be replayed and how dates are read."""
        if self.date_formats:
            dates = "dates by " + ", ".join(self.date_formats)
        elif self.day_first:
            dates = ", ".join(
                _shape_label(shape, first) + " dates" for shape, first in self.day_first.items()
            )
        else:
            dates = "ISO dates"
        return f"{self.rows:,} rows of {self.kind.upper()} ({self.encoding}; {dates})"


def _shape_label(shape: tuple[str, int], day_first: bool) -> str:
    """The shape as users read it, e.g. `MM/DD/YY`."""
    sep, digits = shape
    order = ("DD", "MM") if day_first else ("MM", "DD")
    return sep.join((*order, "YYYY" if digits == 4 else "YY"))


def _year(text: str) -> int:
    """A 2-digit year the way strptime's %y reads it (69-99 → 1900s, 00-68 → 2000s)."""
    year = int(text)
    if len(text) <= 2:
        year += 1900 if year >= 69 else 2000
    return year


class _DateNormaliser:
    """Turns a raw InvoiceDate into `YYYY-MM-DD HH:MM:SS`, or returns it unchanged."""

    def __init__(self, plan: ReplayPlan) -> None:
        self.formats = plan.date_formats
        self.day_first = plan.day_first
        self._last: tuple[str, str] = ("", "")

    def __call__(self, value: str) -> str:
        if value == self._last[0]:  # the lines of an invoice share their date
            return self._last[1]
        result = self._by_formats(value) if self.formats else self._detected(value)
        self._last = (value, result)
        return result

    def _by_formats(self, value: str) -> str:
        text = value.strip()
        for fmt in self.formats:
            try:
                return datetime.strptime(text, fmt).strftime(OUTPUT_FORMAT)
            except ValueError:
                continue
        return value

    def _detected(self, value: str) -> str:
        m = _DATE.fullmatch(value)
        if m is None:
            return value
        a, sep, b, c, hour, minute, second = m.groups()
        try:
            if len(a) == 4:  # year first
                if len(c) > 2:
                    return value
                year, month, day = int(a), int(b), int(c)
            elif len(a) <= 2 and len(c) in (2, 4):
                first = self.day_first.get((sep, len(c)))
                if first is None:
                    return value
                day, month = (int(a), int(b)) if first else (int(b), int(a))
                year = _year(c)
            else:
                return value
            stamp = datetime(year, month, day, int(hour or 0), int(minute or 0), int(second or 0))
        except ValueError:
            return value
        return stamp.strftime(OUTPUT_FORMAT)


def _decoded_lines(
    raw: Iterable[bytes], encoding: str | None, path: Path, seen: dict[str, bool]
) -> Iterator[str]:
    """Lines as text; with no encoding given, decode as Latin-1 (structure and dates are ASCII)
    while recording in `seen` whether the bytes are valid UTF-8 and cp1252."""
    for number, line in enumerate(raw, 1):
        if encoding is not None:
            try:
                yield line.decode(encoding)
            except UnicodeDecodeError as exc:
                raise ReplayError(
                    f"{path} line {number} is not valid {encoding} ({exc.reason}); "
                    "pass the file's real --encoding, or leave it out to detect it."
                ) from None
            continue
        if not line.isascii():
            if seen["utf-8"]:
                try:
                    line.decode("utf-8")
                except UnicodeDecodeError:
                    seen["utf-8"] = False
            if seen["cp1252"] and not _UNDEFINED_CP1252.isdisjoint(line):
                seen["cp1252"] = False
        yield line.decode("latin-1")


def _header_columns(header: list[str], path: Path) -> list[int]:
    """Index of each of the eight fields in the CSV header (names matched case-insensitively)."""
    names = {name.strip().lstrip("\ufeff").lower(): i for i, name in enumerate(header)}
    missing = [f for f in FIELDS if f.lower() not in names]
    if missing:
        raise ReplayError(
            f"{path} is not an order file: its first line lacks the column(s) "
            f"{', '.join(missing)} (expected a header {','.join(FIELDS)}, or NDJSON records)."
        )
    return [names[f.lower()] for f in FIELDS]


def _ambiguity(path: Path, shape: tuple[str, int], info: _Shape, others: list[str]) -> ReplayError:
    sep, digits = shape
    year = "%Y" if digits == 4 else "%y"
    m = _DATE.fullmatch(info.example)
    time_part = ""
    if m and m.group(5):
        time_part = " %H:%M:%S" if m.group(7) else " %H:%M"
    month_first = f"%m{sep}%d{sep}{year}{time_part}"
    day_first = f"%d{sep}%m{sep}{year}{time_part}"
    also = (
        f" (the file's {' and '.join(others)} do not carry over to another shape)" if others else ""
    )
    return ReplayError(
        f"{path}: InvoiceDate values like '{info.example.strip()}' could be day-first or "
        f"month-first, and none of the file's {info.rows:,} dates of that shape has a day above "
        f"12{also}; run again with --date-format '{month_first}' (month-first) or "
        f"--date-format '{day_first}' (day-first)."
    )


def _decide(path: Path, shapes: dict[tuple[str, int], _Shape]) -> dict[tuple[str, int], bool]:
    """Day-first or month-first per shape, or the clear error when a shape does not decide."""
    decided: dict[tuple[str, int], bool] = {}
    for shape, info in shapes.items():
        if info.day_first and info.month_first:
            raise ReplayError(
                f"{path}: InvoiceDate values shaped like '{info.first_seen}' mix day-first and "
                "month-first dates; run again with one --date-format per convention "
                "(each row takes the first that parses)."
            )
        if info.day_first or info.month_first or not info.example:
            decided[shape] = info.day_first or not info.example
    for shape, info in shapes.items():
        if shape not in decided:
            others = [
                f"{_shape_label(s, first)} dates, like '{shapes[s].first_seen}',"
                for s, first in decided.items()
                if shapes[s].day_first or shapes[s].month_first
            ]
            raise _ambiguity(path, shape, info, others)
    return decided


def _observe(shapes: dict[tuple[str, int], _Shape], value: str) -> None:
    m = _DATE.fullmatch(value)
    if m is None:
        return
    a, sep, b, c = m.group(1, 2, 3, 4)
    if len(a) > 2 or len(c) not in (2, 4):
        return  # year first: nothing to decide
    info = shapes.setdefault((sep, len(c)), _Shape(first_seen=value.strip()))
    info.rows += 1
    first, second = int(a), int(b)
    if first > 12:
        info.day_first = True
    if second > 12:
        info.month_first = True
    if first != second and not info.example:
        info.example = value


def plan_replay(
    path: Path, date_formats: Sequence[str] = (), encoding: str | None = None
) -> ReplayPlan:
    """Read the file once to detect its kind, encoding, date formats and row count."""
    path = Path(path)
    if encoding is not None:
        try:
            codecs.lookup(encoding)
        except LookupError:
            raise ReplayError(
                f"unknown --encoding {encoding!r}; use a Python codec name such as utf-8 or cp1252."
            ) from None
    try:
        handle = path.open("rb")
    except OSError as exc:
        raise ReplayError(f"cannot read {path}: {exc.strerror}.") from None
    seen = {"utf-8": True, "cp1252": True}
    shapes: dict[tuple[str, int], _Shape] = {}
    rows = 0
    with handle:
        head = handle.read(4096)
        bom = head.startswith(b"\xef\xbb\xbf")
        first = head.lstrip(b"\xef\xbb\xbf \t\r\n")
        if not first:
            raise ReplayError(f"{path} is empty: there are no orders to replay.")
        kind = "ndjson" if first.startswith(b"{") else "csv"
        handle.seek(len(b"\xef\xbb\xbf") if bom else 0)
        lines = _decoded_lines(handle, encoding, path, seen)
        if kind == "csv":
            reader = csv.reader(lines)
            try:
                date_at = _header_columns(next(reader), path)[FIELDS.index("InvoiceDate")]
                for row in reader:
                    if not row:
                        continue
                    rows += 1
                    if not date_formats and date_at < len(row):
                        _observe(shapes, row[date_at])
            except csv.Error as exc:
                raise ReplayError(
                    f"{path} line {reader.line_num} is not readable CSV ({exc}); "
                    "check the file is an order CSV with a header."
                ) from None
        else:
            for line in lines:
                if not line.strip():
                    continue
                rows += 1
                m = _NDJSON_DATE.search(line)
                if m and not date_formats:
                    _observe(shapes, m.group(1))
    if rows == 0:
        raise ReplayError(f"{path} holds a header but no orders to replay.")
    if encoding is None:
        encoding = next((e for e in ("utf-8", "cp1252") if seen[e]), "latin-1")
        if bom and encoding == "utf-8":
            encoding = "utf-8-sig"
    plan = ReplayPlan(
        path=path,
        kind=kind,
        encoding=encoding,
        rows=rows,
        date_formats=tuple(date_formats),
        day_first=_decide(path, shapes) if not date_formats else {},
    )
    log.info("replaying %s: %s", path, plan.describe())
    return plan


def _quantity(value: Any) -> Any:
    if isinstance(value, str) and _INT.fullmatch(value):
        return int(value.strip().split(".")[0])
    return value


def _price(value: Any) -> Any:
    if isinstance(value, str) and _NUMBER.fullmatch(value):
        number = float(value)
        return number if math.isfinite(number) else value
    return value


def _customer(value: Any) -> Any:
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    if isinstance(value, int) and not isinstance(value, bool):
        return str(value)
    if isinstance(value, str):
        text = value.strip()
        if not text:
            return None
        m = _FLOAT_ID.fullmatch(text)
        return m.group(1) if m else text
    return value


_ENCODER = json.JSONEncoder(ensure_ascii=False, separators=(",", ":"))


def _dump(record: dict[str, Any]) -> bytes:
    return _ENCODER.encode(record).encode() + b"\n"


def _emit_csv(plan: ReplayPlan, normalise: _DateNormaliser) -> Iterator[bytes]:
    with plan.path.open(encoding=plan.encoding, newline="") as text:
        reader = csv.reader(text)
        at = _header_columns(next(reader), plan.path)
        for row in reader:
            if not row:
                continue
            values = [row[i] if i < len(row) else None for i in at]
            invoice, stock, description, quantity, date, price, customer, country = values
            yield _dump(
                {
                    "InvoiceNo": invoice,
                    "StockCode": stock,
                    "Description": description,
                    "Quantity": _quantity(quantity),
                    "InvoiceDate": normalise(date) if date is not None else None,
                    "UnitPrice": _price(price),
                    "CustomerID": _customer(customer),
                    "Country": country,
                }
            )


def _emit_ndjson(plan: ReplayPlan, normalise: _DateNormaliser) -> Iterator[bytes]:
    with plan.path.open(encoding=plan.encoding, newline="") as text:
        for line in text:
            body = line.rstrip("\r\n")
            if not body.strip():
                continue
            try:
                record = json.loads(body)
            except ValueError:
                record = None
            if not isinstance(record, dict):
                yield body.encode() + b"\n"  # passed on as it is; the job quarantines it
                continue
            if isinstance(record.get("InvoiceDate"), str):
                record["InvoiceDate"] = normalise(record["InvoiceDate"])
            if "Quantity" in record:
                record["Quantity"] = _quantity(record["Quantity"])
            if "UnitPrice" in record:
                record["UnitPrice"] = _price(record["UnitPrice"])
            if "CustomerID" in record:
                record["CustomerID"] = _customer(record["CustomerID"])
            yield _dump(record)


def replay_orders(
    path: Path, date_formats: Sequence[str] = (), encoding: str | None = None
) -> Iterator[bytes]:
    """Every row of a CSV/NDJSON order file as a raw-record NDJSON line, dates normalised.

    Detection runs now, so a file that cannot be replayed raises `ReplayError` at the call; the
    returned iterator then streams the rows.
    """
    plan = plan_replay(path, date_formats, encoding)
    normalise = _DateNormaliser(plan)
    return _emit_csv(plan, normalise) if plan.kind == "csv" else _emit_ndjson(plan, normalise)
