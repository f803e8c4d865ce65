"""The agent under faults: partial failures, throttling, permanent errors, rotation, torn lines,
oversize lines, and Firehose's batch limits and billing."""

from __future__ import annotations

import json
import os
import signal
import threading
import time
from collections.abc import Callable, Sequence
from pathlib import Path

import pytest

import orderpipe.shipper as agent_module
from orderpipe.errors import OrderpipeError, TransientError
from orderpipe.shipper import CHECKPOINTS, ShipStats, billed, ship


def order(i: int) -> bytes:
    """A realistic ~250-byte raw order line, unique per i."""
    return (
        json.dumps(
            {
                "InvoiceNo": f"{536365 + i // 7}",
                "StockCode": f"{85123 + i % 97}A",
                "Description": "WHITE HANGING HEART T-LIGHT HOLDER" + " X" * (i % 13),
                "Quantity": 1 + i % 12,
                "InvoiceDate": f"2010-12-01 08:{i % 60:02d}:00",
                "UnitPrice": 2.55,
                "CustomerID": f"{17850 + i % 400}",
                "Country": "United Kingdom",
                "Seq": i,
            }
        ).encode()
        + b"\n"
    )


def write(path: Path, first: int, count: int) -> list[bytes]:
    chunk = [order(i) for i in range(first, first + count)]
    with path.open("ab") as handle:
        handle.write(b"".join(chunk))
    return chunk


class FakeStream:
    """A DeliveryStream that records what it accepted; `fault(call, records)` may return error
    codes for some records or raise."""

    max_batch_records = 500
    max_batch_bytes = 4 * 1024 * 1024
    max_record_bytes = 1000 * 1024

    def __init__(self, fault: Callable[[int, Sequence[bytes]], list[str | None]] | None = None):
        self.fault = fault
        self.calls: list[list[bytes]] = []
        self.accepted: list[bytes] = []
        self.closed = False

    def put_record_batch(self, records: Sequence[bytes]) -> list[str | None]:
        assert len(records) <= self.max_batch_records
        assert sum(map(len, records)) <= self.max_batch_bytes
        assert all(len(r) <= self.max_record_bytes for r in records)
        self.calls.append(list(records))
        codes = self.fault(len(self.calls), records) if self.fault else [None] * len(records)
        self.accepted += [r for r, c in zip(records, codes, strict=True) if c is None]
        return codes

    def close(self) -> None:
        self.closed = True

    def lines(self) -> list[bytes]:
        return [line + b"\n" for r in self.accepted for line in r.split(b"\n")[:-1]]


def run(stream: FakeStream, tmp_path: Path, **options) -> ShipStats:
    options.setdefault("progress", False)
    return ship(stream, tmp_path / "logs", tmp_path / "state", **options)


def offsets(tmp_path: Path) -> dict[str, int]:
    path = tmp_path / "state" / CHECKPOINTS
    if not path.exists():
        return {}
    return {e["name"]: e["offset"] for e in json.loads(path.read_text())["files"].values()}


@pytest.fixture
def logs(tmp_path: Path) -> Path:
    (tmp_path / "logs").mkdir()
    return tmp_path / "logs"


def test_ships_every_line_once_packed_within_firehose_limits(tmp_path: Path, logs: Path) -> None:
    sent = write(logs / "orders-a.ndjson", 0, 30_000) + write(logs / "orders-b.ndjson", 30_000, 5)
    stream = FakeStream()
    stats = run(stream, tmp_path)
    assert stream.lines() == sent and stream.closed
    assert all(r.endswith(b"\n") for r in stream.accepted)  # never a line split across records
    assert (stats.lines, stats.files, stats.bytes) == (30_005, 2, sum(map(len, sent)))
    assert stats.billed_bytes == sum(billed(len(r)) for r in stream.accepted)
    assert stats.billed_bytes / stats.bytes <= 1.02
    assert offsets(tmp_path) == {
        "orders-a.ndjson": (logs / "orders-a.ndjson").stat().st_size,
        "orders-b.ndjson": (logs / "orders-b.ndjson").stat().st_size,
    }
    assert run(FakeStream(), tmp_path).lines == 0  # caught up: a second run sends nothing


def test_one_line_per_record_costs_about_twenty_times_the_payload(
    tmp_path: Path, logs: Path
) -> None:
    write(logs / "orders.ndjson", 0, 1_200)
    stream = FakeStream()
    stats = run(stream, tmp_path, record_bytes=1)
    assert stats.records == 1_200
    assert [len(call) for call in stream.calls] == [500, 500, 200]
    assert stats.billed_bytes / stats.bytes > 15


def test_partial_failures_resend_only_the_failed_records(tmp_path: Path, logs: Path) -> None:
    sent = write(logs / "orders.ndjson", 0, 2_000)

    def fault(call: int, records: Sequence[bytes]) -> list[str | None]:
        codes: list[str | None] = [None] * len(records)
        if call == 1:  # FailedPutCount = 2
            codes[1], codes[3] = "ServiceUnavailableException", "InternalFailure"
        return codes

    sleeps: list[float] = []
    stream = FakeStream(fault)
    stats = run(stream, tmp_path, record_bytes=1000, sleep=sleeps.append)
    assert stream.calls[1] == [stream.calls[0][1], stream.calls[0][3]]
    assert sorted(stream.lines()) == sorted(sent)  # each line exactly once
    assert stats.retries == 1 and len(sleeps) == 1


def test_throttling_backs_off_with_growing_jittered_delays(tmp_path: Path, logs: Path) -> None:
    sent = write(logs / "orders.ndjson", 0, 100)

    def fault(call: int, records: Sequence[bytes]) -> list[str | None]:
        if call <= 4:
            raise TransientError("ThrottlingException: rate exceeded")
        return [None] * len(records)

    sleeps: list[float] = []
    stats = run(stream := FakeStream(fault), tmp_path, sleep=sleeps.append, backoff_base=1.0)
    assert stream.lines() == sent and stats.retries == 4
    for attempt, delay in enumerate(sleeps):
        assert 2**attempt / 2 <= delay <= 2**attempt


def test_retries_are_bounded_and_the_checkpoint_stays(tmp_path: Path, logs: Path) -> None:
    write(logs / "orders.ndjson", 0, 100)

    def fault(call: int, records: Sequence[bytes]) -> list[str | None]:
        return ["ServiceUnavailableException"] * len(records)

    stream = FakeStream(fault)
    with pytest.raises(TransientError, match=r"after 5 attempts .*nothing was lost"):
        run(stream, tmp_path, sleep=lambda s: None, max_attempts=5)
    assert len(stream.calls) == 5 and stream.closed
    assert offsets(tmp_path).get("orders.ndjson", 0) == 0


def test_a_permanent_error_stops_and_keeps_the_acknowledged_checkpoint(
    tmp_path: Path, logs: Path
) -> None:
    sent = write(logs / "orders.ndjson", 0, 3_000)

    def fault(call: int, records: Sequence[bytes]) -> list[str | None]:
        if call == 2:
            raise OrderpipeError("delivery stream orderpipe-orders does not exist; run up.")
        return [None] * len(records)

    first = FakeStream(fault)
    with pytest.raises(OrderpipeError, match="does not exist"):
        run(first, tmp_path, record_bytes=1000)  # ~4 records per line-batch: several batches
    acked = sum(map(len, first.accepted))
    assert acked > 0 and offsets(tmp_path)["orders.ndjson"] == acked
    second = FakeStream()
    run(second, tmp_path)
    assert first.lines() + second.lines() == sent  # resumed right after the acknowledged lines


def test_a_line_written_in_two_parts_ships_whole_once_complete(tmp_path: Path, logs: Path) -> None:
    log = logs / "orders.ndjson"
    before = write(log, 0, 10)
    line = order(10)
    with log.open("ab") as handle:
        handle.write(line[:50])
    stream = FakeStream()
    assert run(stream, tmp_path).lines == 10
    assert stream.lines() == before
    with log.open("ab") as handle:
        handle.write(line[50:])
    assert run(stream, tmp_path).lines == 1
    assert stream.lines() == [*before, line]


def test_rotation_by_rename_between_runs_loses_and_repeats_nothing(
    tmp_path: Path, logs: Path
) -> None:
    log = logs / "orders.ndjson"
    sent = write(log, 0, 100)
    stream = FakeStream()
    run(stream, tmp_path)
    sent += write(log, 100, 50)  # written after the last ship, then rotated away
    log.rename(logs / "orders.ndjson.1")
    sent += write(log, 150, 70)
    run(stream, tmp_path)
    assert sorted(stream.lines()) == sorted(sent)
    assert len(stream.lines()) == 220


def test_a_file_rewritten_in_place_is_shipped_as_a_new_file(tmp_path: Path, logs: Path) -> None:
    log = logs / "orders.ndjson"
    write(log, 0, 100)
    run(stream := FakeStream(), tmp_path)
    with log.open("r+b") as handle:  # same inode, different content (e.g. a recycled inode)
        new = [order(i) for i in range(1000, 1200)]
        handle.write(b"".join(new))
    run(stream, tmp_path)
    assert stream.lines()[100:] == new


def test_an_oversize_line_goes_to_dead_letter_and_the_rest_flows(
    tmp_path: Path, logs: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    log = logs / "orders.ndjson"
    sent = write(log, 0, 5)
    huge = b'{"Description": "' + b"x" * 2_000_000 + b'"}\n'
    with log.open("ab") as handle:
        handle.write(huge)
    sent += write(log, 5, 5)
    stream = FakeStream()
    stats = run(stream, tmp_path)
    assert stream.lines() == sent and stats.dead_letters == 1
    [dead] = (tmp_path / "state" / "dead-letter").iterdir()
    assert dead.read_bytes() == huge
    warning = " ".join(capsys.readouterr().err.split())
    assert "orders.ndjson (byte 1,190) is over Firehose's 1,024,000-byte record limit" in warning
    assert offsets(tmp_path)["orders.ndjson"] == log.stat().st_size


@pytest.mark.parametrize("idle_close", [300.0, -1.0], ids=["files-kept-open", "files-reopened"])
def test_follow_tails_growth_and_rotation_then_stops_cleanly(
    tmp_path: Path, logs: Path, idle_close: float, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(agent_module, "IDLE_CLOSE_SECONDS", idle_close)
    log = logs / "orders.ndjson"
    sent: list[bytes] = []
    stop = threading.Event()
    stream = FakeStream()
    result: list[ShipStats] = []
    shipper = threading.Thread(
        target=lambda: result.append(
            run(stream, tmp_path, follow=True, stop=stop, poll_interval=0.01, linger_seconds=0)
        )
    )
    shipper.start()
    for round_ in range(6):
        for _ in range(5):
            sent += write(log, len(sent), 40)
            time.sleep(0.005)
        if round_ % 2:  # classic rotation while the agent is tailing
            log.rename(logs / f"orders.ndjson.{round_}")
    with log.open("ab") as handle:
        handle.write(order(len(sent))[:30])  # a torn last line is left for later
    deadline = time.monotonic() + 10
    while len(stream.lines()) < len(sent) and time.monotonic() < deadline:
        time.sleep(0.01)
    stop.set()
    shipper.join(10)
    assert not shipper.is_alive() and stream.closed
    assert sorted(stream.lines()) == sorted(sent)
    assert result[0].lines == len(sent)


class CtrlCWhenIdle(threading.Event):
    """The agent's stop event; its first idle wait (all lines read, the record lingering) is
    when Ctrl-C arrives — on progress, not on a timer that a slow machine may beat."""

    def wait(self, timeout: float | None = None) -> bool:
        if not getattr(self, "pressed", False):
            self.pressed = True
            os.kill(os.getpid(), signal.SIGINT)
        return super().wait(timeout)


def test_ctrl_c_while_following_flushes_and_checkpoints(tmp_path: Path, logs: Path) -> None:
    sent = write(logs / "orders.ndjson", 0, 20)
    stream = FakeStream()
    stop = CtrlCWhenIdle()
    stats = run(stream, tmp_path, follow=True, stop=stop, poll_interval=60, linger_seconds=60)
    assert stop.pressed and stop.is_set()
    assert stats.lines == 20 and stream.lines() == sent and stream.closed  # the lingering record
    assert offsets(tmp_path)["orders.ndjson"] == (logs / "orders.ndjson").stat().st_size


def test_two_agents_on_one_state_folder_are_refused(tmp_path: Path, logs: Path) -> None:
    write(logs / "orders.ndjson", 0, 5)
    blocked: list[BaseException] = []

    def fault(call: int, records: Sequence[bytes]) -> list[str | None]:
        try:
            run(FakeStream(), tmp_path)
        except OrderpipeError as exc:
            blocked.append(exc)
        return [None] * len(records)

    run(FakeStream(fault), tmp_path)
    assert "already shipping" in str(blocked[0])
