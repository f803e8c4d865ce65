"""`generate --replay`: real order files in, one raw-record line per row out, dates normalised."""

from __future__ import annotations

import csv
import json
from pathlib import Path

import pytest
from helpers import FIRST_ORDER

from orderpipe.errors import ReplayError
from orderpipe.replay import plan_replay, replay_orders

FIXTURES = Path(__file__).resolve().parents[1] / "fixtures"
TAIL_FORMATS = ["%m/%d/%y %H:%M", "%m-%d-%y %H:%M"]


def replay(name: str | Path, *args, **kwargs) -> list[dict]:
    path = name if isinstance(name, Path) else FIXTURES / name
    lines = list(replay_orders(path, *args, **kwargs))
    assert all(line.endswith(b"\n") and line.count(b"\n") == 1 for line in lines)
    return [json.loads(line) for line in lines]


def csv_rows(path: Path) -> int:
    with path.open(encoding="latin-1", newline="") as f:
        return sum(1 for row in csv.reader(f) if row) - 1


def test_real_head_sample_is_day_first_and_cp1252() -> None:
    records = replay("retail_head_sample.csv")
    assert len(records) == 10
    assert records[0] == FIRST_ORDER
    by_stock = {r["StockCode"]: r for r in records}
    assert by_stock["82567"]["Description"] == "AIRLINE LOUNGE,METAL SIGN"
    assert by_stock["22041"]["Description"] == 'RECORD FRAME 7" SINGLE SIZE '
    assert by_stock["90214D"]["Description"] == 'LETTER "D" BLING KEY RING'
    assert by_stock["D"]["Quantity"] == -1 and by_stock["D"]["InvoiceNo"] == "C536379"
    assert by_stock["22139"]["Description"] == "" and by_stock["22139"]["UnitPrice"] == 0
    voucher = by_stock["gift_0001_40"]
    assert voucher["Description"] == "Dotcomgiftshop Gift Voucher £40.00"
    assert voucher["InvoiceDate"] == "2010-12-20 10:14:00" and voucher["CustomerID"] is None


def test_real_tail_sample_needs_the_date_formats() -> None:
    with pytest.raises(ReplayError, match="--date-format '%m-%d-%y %H:%M'"):
        replay_orders(FIXTURES / "retail_tail_sample.csv")
    records = replay("retail_tail_sample.csv", TAIL_FORMATS)
    dates = {r["InvoiceNo"]: r["InvoiceDate"] for r in records}
    assert dates["578703"] == "2011-11-25 11:02:00"  # CRLF line ends are gone
    assert dates["579003"] == "2011-11-28 08:48:00"  # one-digit hour
    assert dates["C579889"] == "2011-12-01 08:12:00"  # the '-' part of the file
    assert dates["581217"] == "2011-12-08 09:20:00"
    assert records[-1]["Country"] == "France"
    assert {r["Description"] for r in records} >= {
        "FEATHER PEN,HOT PINK",
        "Dotcomgiftshop Gift Voucher £10.00",
    }


def test_quoted_fields_and_values_that_do_not_parse_are_kept() -> None:
    records = replay("quoted_utf8.csv")
    assert [r["InvoiceNo"] for r in records] == ["600001", "600001", "600002", "600003", "600004"]
    assert records[0]["Description"] == 'CAFÉ SIGN, "OPEN" SIDE'
    assert records[1]["Description"] == "TWO\nLINES"
    assert records[0]["CustomerID"] == "17850"  # '17850.0' as pandas writes it
    bad = records[2]
    assert bad["Quantity"] == "abc" and bad["UnitPrice"] == "1,5" and bad["CustomerID"] is None
    assert records[3]["InvoiceDate"] == "yesterday" and records[3]["CustomerID"] is None
    short = records[4]
    assert short["Quantity"] == 1 and short["InvoiceDate"] is None and short["Country"] is None


def test_latin1_with_crlf() -> None:
    plan = plan_replay(FIXTURES / "latin1_crlf.csv")
    assert plan.encoding == "cp1252" and plan.rows == 2
    records = replay("latin1_crlf.csv")
    assert records[0]["Description"] == "CRÈME BRÛLÉE SET"
    assert records[0]["Country"] == "Österreich"
    assert records[1]["Description"] == "PÂTÉ DISH, SMALL"


def test_given_encoding_wins_and_a_wrong_one_is_a_clear_error(tmp_path: Path) -> None:
    assert replay("latin1_crlf.csv", encoding="latin-1")[1]["Country"] == "España"
    with pytest.raises(ReplayError, match="not valid utf-8"):
        replay_orders(FIXTURES / "latin1_crlf.csv", encoding="utf-8")


@pytest.mark.parametrize(
    ("raw", "encoding", "text"),
    [
        (b"\x80 5", "cp1252", "€ 5"),  # cp1252 only
        (b"\x81\xe9", "latin-1", "\x81é"),  # undefined in cp1252
        (b"\xef\xbb\xbfCaf\xc3\xa9", "utf-8-sig", "Café"),  # UTF-8 with a BOM
    ],
)
def test_encoding_detection(tmp_path: Path, raw: bytes, encoding: str, text: str) -> None:
    path = tmp_path / "orders.csv"
    header = b"InvoiceNo,StockCode,Description,Quantity,InvoiceDate,UnitPrice,CustomerID,Country\n"
    if raw.startswith(b"\xef\xbb\xbf"):
        header, raw = b"\xef\xbb\xbf" + header, raw[3:]
    path.write_bytes(header + b"600300,1," + raw + b",1,2011-01-01 10:00:00,1.0,1,EIRE\n")
    assert plan_replay(path).encoding == encoding
    assert replay(path)[0]["Description"] == text


def test_each_date_shape_is_detected_on_its_own() -> None:
    """The fixture's Description column holds the expected InvoiceDate of each row."""
    records = replay("date_shapes.csv")
    assert len(records) == 14
    for record in records:
        assert record["InvoiceDate"] == record["Description"], record["StockCode"]


@pytest.mark.parametrize(
    ("dates", "expected"),
    [
        (["13/01/2011 09:05", "02/03/2011 10:00"], "2011-03-02 10:00:00"),
        (["01/13/2011 09:05", "02/03/2011 10:00"], "2011-02-03 10:00:00"),
        (["13-01-11 09:05", "02-03-11 10:00"], "2011-03-02 10:00:00"),
        (["01-13-11 09:05", "02-03-11 10:00"], "2011-02-03 10:00:00"),
        (["05/05/2011 09:05", "06/06/2011 10:00"], "2011-06-06 10:00:00"),  # day == month
    ],
)
def test_one_unambiguous_row_decides_the_shape(
    tmp_path: Path, dates: list[str], expected: str
) -> None:
    path = tmp_path / "orders.csv"
    rows = "".join(f"600400,1,x,1,{d},1.0,1,EIRE\n" for d in dates)
    path.write_text(
        "InvoiceNo,StockCode,Description,Quantity,InvoiceDate,UnitPrice,CustomerID,Country\n" + rows
    )
    assert replay(path)[1]["InvoiceDate"] == expected


def test_undecided_dates_ask_for_a_date_format() -> None:
    with pytest.raises(ReplayError) as caught:
        replay_orders(FIXTURES / "ambiguous_dates.csv")
    message = str(caught.value)
    assert "'01/02/2011 10:00' could be day-first or month-first" in message
    assert "--date-format '%m/%d/%Y %H:%M'" in message
    assert "--date-format '%d/%m/%Y %H:%M'" in message
    assert caught.value.exit_code == 2


def test_date_formats_take_the_first_that_parses() -> None:
    records = replay("ambiguous_dates.csv", ["%Y-%m-%d", "%d/%m/%Y %H:%M"])
    assert [r["InvoiceDate"] for r in records] == [
        "2011-02-01 10:00:00",
        "2011-04-03 11:00:00",
        "2011-05-05 12:00:00",
    ]


def test_a_row_no_format_fits_never_reaches_the_job_readable_month_first() -> None:
    records = replay("date_shapes.csv", ["%d/%m/%Y %H:%M"])
    assert len(records) == 14
    assert records[0]["InvoiceDate"] == "2011-01-13 09:05:00"
    # Not day-first, but a valid date month-first: marked, so the job quarantines it
    # (bad_timestamp) instead of guessing; the value stays readable after the mark.
    assert records[3]["InvoiceDate"] == "replay could not read: 01/13/11 09:05"
    assert records[2]["InvoiceDate"] == "31/02/2011 10:00"  # no date either way: as it is
    assert records[9]["InvoiceDate"] == "2011-04-05 06:07:08"  # year-first is never ambiguous


def test_dates_mixing_both_orders_in_one_shape_are_refused(tmp_path: Path) -> None:
    path = tmp_path / "orders.csv"
    path.write_text(
        "InvoiceNo,StockCode,Description,Quantity,InvoiceDate,UnitPrice,CustomerID,Country\n"
        "1,1,x,1,13/01/2011 10:00,1.0,1,EIRE\n1,1,x,1,01/13/2011 10:00,1.0,1,EIRE\n"
    )
    with pytest.raises(ReplayError, match="mix day-first and month-first"):
        replay_orders(path)


def test_ndjson_records_are_normalised_and_bad_lines_passed_on() -> None:
    lines = list(replay_orders(FIXTURES / "orders.ndjson"))
    assert len(lines) == 5  # the blank line is not a record
    first, strings, not_json, array, odd = lines
    assert json.loads(first)["InvoiceDate"] == "2011-12-01 08:00:00"
    parsed = json.loads(strings)
    assert parsed["InvoiceDate"] == "2011-12-13 09:30:00"
    assert (parsed["Quantity"], parsed["UnitPrice"], parsed["CustomerID"]) == (4, 2.25, "17851")
    assert not_json == b"not json at all\n" and array == b"[1,2,3]\n"
    assert json.loads(odd) == {
        "InvoiceNo": "600012",
        "StockCode": "A3",
        "Description": "café",
        "Quantity": "x",
        "InvoiceDate": "",
        "UnitPrice": None,
        "CustomerID": None,
        "Country": "Germany",
    }


@pytest.mark.parametrize(
    ("name", "message"),
    [("empty.csv", "is empty"), ("header_only.csv", "no orders")],
)
def test_nothing_to_replay_is_an_error(name: str, message: str) -> None:
    with pytest.raises(ReplayError, match=message):
        replay_orders(FIXTURES / name)


def test_a_csv_without_the_order_header_is_an_error(tmp_path: Path) -> None:
    path = tmp_path / "other.csv"
    path.write_text("a,b,c\n1,2,3\n")
    with pytest.raises(ReplayError, match="lacks the column"):
        replay_orders(path)


def test_real_head_file_replays_every_row(shared_data: Path) -> None:
    path = shared_data / "online_retail_2010-12_head.csv"
    records = replay(path)
    assert len(records) == csv_rows(path) == 39_529
    assert all(r["InvoiceDate"].startswith("2010-12-") for r in records)
    assert records[109]["Description"] == "AIRLINE LOUNGE,METAL SIGN"
    assert records[-1] == {
        "InvoiceNo": "539650",
        "StockCode": "22593",
        "Description": "CHRISTMAS GINGHAM STAR",
        "Quantity": 5,
        "InvoiceDate": "2010-12-20 16:11:00",
        "UnitPrice": 0.85,
        "CustomerID": None,
        "Country": "United Kingdom",
    }


def test_real_tail_file_replays_every_row_with_the_date_formats(shared_data: Path) -> None:
    path = shared_data / "online_retail_2011-12_tail.csv"
    with pytest.raises(ReplayError, match="could be day-first or month-first"):
        replay_orders(path)
    records = replay(path, TAIL_FORMATS)
    assert len(records) == csv_rows(path) == 41_910
    dates = [r["InvoiceDate"] for r in records]
    assert dates[0] == "2011-11-25 11:02:00" and dates[-1] == "2011-12-09 12:50:00"
    assert dates[16384] == "2011-11-30 17:42:00" and dates[16385] == "2011-12-01 08:12:00"
    assert dates == sorted(dates)  # the file is in time order; so must the parsed dates be
    assert records[-1] == {
        "InvoiceNo": "581587",
        "StockCode": "22138",
        "Description": "BAKING SET 9 PIECE RETROSPOT ",
        "Quantity": 3,
        "InvoiceDate": "2011-12-09 12:50:00",
        "UnitPrice": 4.95,
        "CustomerID": "12680",
        "Country": "France",
    }


def test_an_unknown_encoding_is_a_usage_error() -> None:
    with pytest.raises(ReplayError, match="unknown --encoding 'klingon'"):
        replay_orders(FIXTURES / "latin1_crlf.csv", encoding="klingon")


HEADER = "InvoiceNo,StockCode,Description,Quantity,InvoiceDate,UnitPrice,CustomerID,Country"


@pytest.mark.parametrize("fmt", ["%Q", "%d/%m/%Y %", "%H:%M %Q"])
def test_a_date_format_with_an_unknown_directive_is_a_usage_error(fmt: str) -> None:
    with pytest.raises(ReplayError, match="is not a strptime format") as caught:
        plan_replay(FIXTURES / "retail_head_sample.csv", [fmt])
    assert caught.value.exit_code == 2


def test_a_date_format_that_reads_none_of_the_dates_is_a_usage_error() -> None:
    # The real head sample is day-first; '%Y.%m.%d' fits none of it.
    with pytest.raises(ReplayError, match="reads none of the file's InvoiceDate") as caught:
        plan_replay(FIXTURES / "retail_head_sample.csv", ["%Y.%m.%d"])
    assert caught.value.exit_code == 2


def test_years_before_1000_keep_four_digits(tmp_path: Path) -> None:
    path = tmp_path / "old.csv"
    path.write_text(
        f"{HEADER}\n1,A,x,1,0999-01-02 03:04:05,1.0,1,EIRE\n2,A,x,1,0001-01-01,1,1,EIRE\n"
    )
    assert [r["InvoiceDate"] for r in replay(path)] == [
        "0999-01-02 03:04:05",
        "0001-01-01 00:00:00",
    ]
    by_format = replay(path, ["%Y-%m-%d %H:%M:%S"])
    assert by_format[0]["InvoiceDate"] == "0999-01-02 03:04:05"


@pytest.mark.parametrize(
    ("encoding", "given"),
    [("utf-16", None), ("utf-16", "utf-16"), ("utf-16-le", None), ("utf-16-le", "utf-16-le"),
     ("utf-8-sig", None), ("utf-8-sig", "utf-8")],
)  # fmt: skip
def test_utf16_and_bom_files_replay(tmp_path: Path, encoding: str, given: str | None) -> None:
    rows = [f"{HEADER}", "1,A,Café “x”,1,2011-01-02 03:04:05,1.0,1,Österreich"]
    for kind, text in (("csv", "\r\n".join(rows) + "\r\n"), ("ndjson", NDJSON_CAFE)):
        path = tmp_path / f"orders.{kind}"
        path.write_bytes(text.encode(encoding))
        records = replay(path, encoding=given)
        assert len(records) == 1 and records[0]["Description"] == "Café “x”", kind
        assert records[0]["InvoiceDate"] == "2011-01-02 03:04:05"


NDJSON_CAFE = json.dumps(
    {"InvoiceNo": "1", "StockCode": "A", "Description": "Café “x”", "Quantity": 1,
     "InvoiceDate": "02/01/2011 03:04", "UnitPrice": 1.0, "CustomerID": "1", "Country": "EIRE"},
    ensure_ascii=False,
).replace("02/01/2011 03:04", "2011-01-02 03:04:05") + "\n"  # fmt: skip


def test_csv_fields_of_any_size_and_extra_columns_are_named(tmp_path: Path) -> None:
    big = "x" * 300_000  # over the csv module's default 128 KiB field limit
    path = tmp_path / "big.csv"
    path.write_text(f"{HEADER},Note,\n1,A,{big},1,2011-01-02 03:04:05,1.0,1,EIRE,hi,\n")
    assert plan_replay(path).ignored_columns == ("Note",)
    assert replay(path)[0]["Description"] == big


def test_a_deeply_nested_ndjson_line_is_passed_on_as_a_line(tmp_path: Path) -> None:
    nested = '{"InvoiceNo": ' + "[" * 200_000 + "]" * 200_000 + "}"
    good = NDJSON_CAFE.strip()
    path = tmp_path / "nested.ndjson"
    path.write_text(f"{good}\n{nested}\n{good}\n")
    lines = list(replay_orders(path))
    assert len(lines) == 3
    assert lines[1] == nested.encode() + b"\n"  # as it is: the job quarantines it (malformed)
    assert json.loads(lines[2])["Description"] == "Café “x”"


def test_brackets_inside_strings_are_text_not_nesting(tmp_path: Path) -> None:
    record = json.loads(NDJSON_CAFE)
    record["Description"] = "[{" * 100 + '\\"]'
    record["Quantity"] = "2"  # replay makes it a number only when it reads the record
    path = tmp_path / "brackets.ndjson"
    path.write_text(json.dumps(record) + "\n")
    (out,) = replay(path)
    assert out == {**record, "Quantity": 2}  # read as a record, not passed on as a line
