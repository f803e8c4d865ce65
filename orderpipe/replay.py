"""Replay a real order file (CSV with a header, or NDJSON raw records) as raw-record lines.

Two passes over the file, each streaming: the first decides what the file is (CSV or NDJSON, text
encoding, InvoiceDate formats, row count), the second emits one NDJSON line per input row. Nothing
is dropped: a value that does not parse is passed on as it is, for the job to quarantine — except
an InvoiceDate the job would read month-first, which is marked so that it ends as `bad_timestamp`
instead of with day and month swapped.
"""

from __future__ import annotations

import codecs
import csv
import io
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
from orderpipe.jsonlines import loads_bounded
from orderpipe.models import RawOrder

log = logging.getLogger(__name__)

FIELDS = tuple(RawOrder.model_fields)  # InvoiceNo … Country
# An InvoiceDate replay could not read that is a valid date when read month-first gets this prefix:
# the job reads M/D/YYYY H:MM, so unmarked it might store the day as the month; marked, the job
# cannot read it and quarantines it as `bad_timestamp`, the value kept after the prefix.
UNREAD_DATE = "replay could not read: "
_BOMS = (
    (codecs.BOM_UTF32_LE, "utf-32"),
    (codecs.BOM_UTF32_BE, "utf-32"),
    (codecs.BOM_UTF8, "utf-8-sig"),
    (codecs.BOM_UTF16_LE, "utf-16"),
    (codecs.BOM_UTF16_BE, "utf-16"),
)

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
    ignored_columns: tuple[str, ...] = ()  # CSV columns beyond the eight fields
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
    """Turns a raw InvoiceDate into `YYYY-MM-DD HH:MM:SS`, or passes it on unchanged — marked
    with UNREAD_DATE when the job could read it month-first."""

    def __init__(
        self, formats: Sequence[str] = (), day_first: dict[tuple[str, int], bool] | None = None
    ) -> None:
        self.formats = tuple(formats)
        self.day_first = day_first or {}
        self._last: tuple[str, str] = ("", "")

    def __call__(self, value: str) -> str:
        if value == self._last[0]:  # the lines of an invoice share their date
            return self._last[1]
        result = self.read(value)
        if result is None:
            result = UNREAD_DATE + value if _month_first_date(value) else value
        self._last = (value, result)
        return result

    def read(self, value: str) -> str | None:
        """`YYYY-MM-DD HH:MM:SS`, or None when the value fits neither the formats nor the file's
        detected shapes (year-first dates are always read: they are unambiguous)."""
        if self.formats:
            text = value.strip()
            for fmt in self.formats:
                try:
                    return _stamp(datetime.strptime(text, fmt))
                except ValueError:
                    continue
        return self._detected(value)

    def _detected(self, value: str) -> str | None:
        m = _DATE.fullmatch(value)
        if m is None:
            return None
        a, sep, b, c, hour, minute, second = m.groups()
        try:
            if len(a) == 4:  # year first
                if len(c) > 2:
                    return None
                year, month, day = int(a), int(b), int(c)
            elif len(a) <= 2 and len(c) in (2, 4):
                first = self.day_first.get((sep, len(c)))
                if first is None:
                    return None
                day, month = (int(a), int(b)) if first else (int(b), int(a))
                year = _year(c)
            else:
                return None
            stamp = datetime(year, month, day, int(hour or 0), int(minute or 0), int(second or 0))
        except ValueError:
            return None
        return _stamp(stamp)


def _month_first_date(value: str) -> bool:
    """True when `value` reads as a valid date month-first (as the job reads M/D/YYYY)."""
    m = _DATE.fullmatch(value)
    if m is None or len(m.group(1)) > 2:
        return False
    try:
        datetime(_year(m.group(4)), int(m.group(1)), int(m.group(3)))
    except ValueError:
        return False
    return True


def _stamp(moment: datetime) -> str:
    """`YYYY-MM-DD HH:MM:SS` with a four-digit year also before 1000 (strftime writes `999`)."""
    return f"{moment.year:04d}-{moment:%m-%d %H:%M:%S}"


def _decoded_lines(raw: Iterable[bytes], seen: dict[str, bool]) -> Iterator[str]:
    """Lines decoded as Latin-1 (structure and dates are ASCII) while recording in `seen` whether
    the bytes are valid UTF-8 and cp1252, to pick the encoding afterwards."""
    for line in raw:
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


def _check_formats(date_formats: Sequence[str]) -> None:
    for fmt in date_formats:
        try:
            datetime.strptime("", fmt)
        except ValueError as exc:
            if "does not match" not in str(exc):  # a bad directive (`%Q`), a stray `%`
                raise ReplayError(
                    f"--date-format {fmt!r} is not a strptime format ({exc}); use codes such as "
                    "'%d/%m/%Y %H:%M'."
                ) from None


def _sniff_encoding(head: bytes) -> str | None:
    """The encoding a byte-order mark (or UTF-16's zero bytes) announces, if any."""
    for bom, name in _BOMS:
        if head.startswith(bom):
            return name
    if len(head) >= 2 and head.count(0) * 3 >= len(head):  # ASCII text in UTF-16, no BOM
        return "utf-16-le" if head[1::2].count(0) > head[0::2].count(0) else "utf-16-be"
    return None


def _first_undecodable_line(path: Path, encoding: str) -> int | None:
    """The number of the first line of `path` that does not decode as `encoding`."""
    decoder = codecs.getincrementaldecoder(encoding)()
    with path.open("rb") as raw:
        for number, line in enumerate(raw, 1):
            try:
                decoder.decode(line)
            except UnicodeDecodeError:
                return number
    return None


def _text_lines(text: Iterable[str], path: Path, encoding: str) -> Iterator[str]:
    """Lines of a file opened as text, a decoding error turned into a clear one."""
    number = 0
    try:
        for number, line in enumerate(text, 1):
            yield line.lstrip("\ufeff") if number == 1 else line
    except UnicodeDecodeError as exc:  # text is decoded in blocks: find the line itself
        raise ReplayError(
            f"{path} line {_first_undecodable_line(path, encoding) or number + 1} is not valid "
            f"{encoding} ({exc.reason}); "
            "pass the file's real --encoding, or leave it out to detect it."
        ) from None


def plan_replay(
    path: Path, date_formats: Sequence[str] = (), encoding: str | None = None
) -> ReplayPlan:
    """Read the file once to detect its kind, encoding, date formats and row count."""
    path = Path(path)
    _check_formats(date_formats)
    if encoding is not None:
        try:
            codecs.lookup(encoding)
        except LookupError:
            raise ReplayError(
                f"unknown --encoding {encoding!r}; use a Python codec name such as utf-8 or cp1252."
            ) from None
    csv.field_size_limit(2**31 - 1)  # fields of any size (the default stops at 128 KiB)
    try:
        handle = path.open("rb")
    except OSError as exc:
        raise ReplayError(f"cannot read {path}: {exc.strerror}.") from None
    seen = {"utf-8": True, "cp1252": True}
    shapes: dict[tuple[str, int], _Shape] = {}
    dates = _DateCheck(date_formats)
    rows = 0
    ignored: tuple[str, ...] = ()
    with handle:
        head = handle.read(4096)
        sniffed = _sniff_encoding(head)
        if encoding is None or (sniffed == "utf-8-sig" and codecs.lookup(encoding).name == "utf-8"):
            encoding = sniffed or encoding
        first = head.decode(encoding or "latin-1", "ignore").lstrip("\ufeff \t\r\n")
        if not first:
            raise ReplayError(f"{path} is empty: there are no orders to replay.")
        kind = "ndjson" if first.startswith("{") else "csv"
        handle.seek(0)
        lines: Iterator[str]
        if encoding is None:
            lines = _decoded_lines(handle, seen)
        else:
            text = io.TextIOWrapper(handle, encoding=encoding, newline="")
            lines = _text_lines(text, path, encoding)
        if kind == "csv":
            reader = csv.reader(lines)
            try:
                header = next(reader)
                at = _header_columns(header, path)
                date_at = at[FIELDS.index("InvoiceDate")]
                ignored = tuple(name for i, name in enumerate(header) if i not in at and name)
                for row in reader:
                    if not row:
                        continue
                    rows += 1
                    if date_at < len(row):
                        dates.observe(shapes, row[date_at])
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
                m = _NDJSON_DATE.search(line, 0, 64 * 1024)  # an order's fields come early
                if m:
                    dates.observe(shapes, m.group(1))
    if rows == 0:
        raise ReplayError(f"{path} holds a header but no orders to replay.")
    if encoding is None:
        encoding = next((e for e in ("utf-8", "cp1252") if seen[e]), "latin-1")
    dates.require_some(path)
    plan = ReplayPlan(
        path=path,
        kind=kind,
        encoding=encoding,
        rows=rows,
        date_formats=tuple(date_formats),
        ignored_columns=ignored,
        day_first=_decide(path, shapes) if not date_formats else {},
    )
    log.info("replaying %s: %s", path, plan.describe())
    return plan


class _DateCheck:
    """During detection: the date shapes (no --date-format), or whether the user's formats read
    any of the file's dates (a format that reads none is surely the wrong one)."""

    def __init__(self, date_formats: Sequence[str]) -> None:
        self.formats = tuple(date_formats)
        self.normaliser = _DateNormaliser(self.formats)
        self.read_one = not self.formats
        self.example = ""

    def observe(self, shapes: dict[tuple[str, int], _Shape], value: str) -> None:
        if not self.formats:
            _observe(shapes, value)
        elif not self.read_one and value.strip():
            self.example = self.example or value.strip()
            self.read_one = self.normaliser.read(value) is not None

    def require_some(self, path: Path) -> None:
        if not self.read_one and self.example:  # (a file without dates has nothing to misread)
            given = " ".join(f"--date-format {f!r}" for f in self.formats)
            raise ReplayError(
                f"{path}: {given} reads none of the file's InvoiceDate values (like "
                f"{self.example!r}); give the format they are written in, or leave it out to "
                "detect it."
            )


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
        reader = csv.reader(_text_lines(text, plan.path, plan.encoding))
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
        for line in _text_lines(text, plan.path, plan.encoding):
            body = line.rstrip("\r\n")
            if not body.strip():
                continue
            record = loads_bounded(body)  # None: not JSON, or too long or deep to be an order
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
    return replay_lines(plan_replay(path, date_formats, encoding))


def replay_lines(plan: ReplayPlan) -> Iterator[bytes]:
    """The rows of a planned replay as raw-record NDJSON lines."""
    normalise = _DateNormaliser(plan.date_formats, plan.day_first)
    return _emit_csv(plan, normalise) if plan.kind == "csv" else _emit_ndjson(plan, normalise)
