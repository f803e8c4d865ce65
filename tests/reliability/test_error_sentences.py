"""Every failure a careless user or a faulty machine causes is one sentence that says what to do:
exit 1 (2 for usage), no traceback, never "unexpected". Real files, real mounts, real DuckDB."""

from __future__ import annotations

import gzip
import json
from collections.abc import Callable
from pathlib import Path

import pytest
import typer
from helpers import ENV, cli, query_json
from typer.testing import CliRunner

from orderpipe.cli import OrderpipeGroup
from orderpipe.shipper import dead_letters

Filler = Callable[[Path], Path]


def raw_lines(home: Path) -> list[bytes]:
    objects = sorted((home / "buckets").glob("*-raw/raw/**/*.gz"))
    return [line for path in objects for line in gzip.decompress(path.read_bytes()).splitlines()]


def agent_rows(home: Path) -> dict[str, dict]:
    status = json.loads(cli(home, "status", "--format", "json").stdout)
    return {r["name"]: r for r in status["resources"] if r["kind"] == "agent"}


# disk full ------------------------------------------------------------------------------------
def test_generate_on_a_full_disk_says_so_and_leaves_whole_lines(small_disk: Path) -> None:
    home = small_disk / "home"
    result = cli(home, "generate", "--count", "20000", "--seed", "1", "--no-ship", code=1)
    assert f"the disk holding {home / 'logs'} is full" in result.said
    assert "nothing was lost" in result.said and "free some space" in result.said
    logs = sorted((home / "logs").glob("*.ndjson"))
    assert logs and all(p.read_bytes().endswith(b"\n") for p in logs if p.stat().st_size)
    for path in logs:  # whole orders only: a tailing agent never waits for a torn line
        assert all(json.loads(line) for line in path.read_bytes().splitlines())


def test_ship_on_a_full_disk_loses_nothing_and_resumes(small_disk: Path, fill: Filler) -> None:
    home = small_disk / "home"
    cli(home, "generate", "--count", "300", "--seed", "2", "--no-ship")
    filler = fill(small_disk)
    result = cli(home, "ship", code=1)
    assert "is full" in result.said and "run the command again" in result.said
    filler.unlink()
    cli(home, "ship")
    assert len(raw_lines(home)) == 300
    assert agent_rows(home)["checkpoints"]["state"] == "caught up"


def test_a_read_only_home_is_one_sentence(read_only_disk: Path) -> None:
    result = cli(read_only_disk / "home", "up", code=1)
    assert "read-only file system" in result.said and "--home" in result.said


# the agent --------------------------------------------------------------------------------------
def test_a_torn_last_line_is_reported_then_shipped_once_complete(home: Path) -> None:
    cli(home, "up")
    log = home / "logs" / "orders-1.ndjson"
    first = b'{"InvoiceNo":"1","StockCode":"A"}\n'
    log.write_bytes(first + b'{"InvoiceNo":"2",')
    assert "without a newline" in cli(home, "ship").said
    agent = agent_rows(home)["checkpoints"]
    assert agent["state"] == "caught up" and "without its newline" in agent["detail"]
    with log.open("ab") as handle:
        handle.write(b'"StockCode":"B"}\n')
    cli(home, "ship")
    assert sorted(raw_lines(home)) == [first.strip(), b'{"InvoiceNo":"2","StockCode":"B"}']
    agent = agent_rows(home)["checkpoints"]
    assert agent["state"] == "caught up" and "newline" not in agent["detail"]


def test_dead_letters_are_counted_and_invalid_utf8_passes_byte_exact(home: Path) -> None:
    cli(home, "up")
    twins = [b'{"InvoiceNo":"1","Description":"a\xff"}', b'{"InvoiceNo":"1","Description":"a\xfe"}']
    huge = b'{"InvoiceNo":"2","Description":"' + b"x" * 2_000_000 + b'"}'
    (home / "logs" / "orders-1.ndjson").write_bytes(b"\n".join([twins[0], huge, twins[1], b""]))
    result = cli(home, "ship")
    assert "1 line(s) over Firehose's record limit" in result.said
    assert sorted(raw_lines(home)) == sorted(twins)  # two lines stay two, byte for byte
    count, folder = dead_letters(home / "state" / "agent")
    assert count == 1 and [p.read_bytes() for p in folder.iterdir()] == [huge + b"\n"]
    row = agent_rows(home)["dead-letter"]
    assert row["state"] == "1 line(s)" and str(folder) in row["detail"]
    cli(home, "ship")  # shipping again changes nothing
    assert dead_letters(home / "state" / "agent")[0] == 1
    run = cli(home, "transform", "run").said  # the run's accounting names the line set aside
    assert "set aside by the agent (all runs) │ 1" in run and str(folder) in run


@pytest.mark.parametrize(
    "content", [b'{"version": 1, "files": {"1:2": {"offset": "x"}}}', b'{"files": []}', b"[1]",
                b"\x00\xff binary"],
)  # fmt: skip
def test_a_badly_structured_checkpoint_file_is_one_sentence(home: Path, content: bytes) -> None:
    cli(home, "generate", "--count", "10", "--no-ship")
    checkpoints = home / "state" / "agent" / "checkpoints.json"
    checkpoints.parent.mkdir(parents=True, exist_ok=True)
    checkpoints.write_bytes(content)
    result = cli(home, "ship", code=1)
    assert f"the agent's checkpoints in {checkpoints} are unreadable" in result.said
    assert "move the file away" in result.said
    assert agent_rows(home)["checkpoints"]["state"] == "unreadable"


# configuration and options ------------------------------------------------------------------------
@pytest.mark.parametrize(
    ("content", "where"),
    [
        (b'target = "local"\nstack = \n', "line 2"),
        (b'stack = "a"\n\xff\xfe\x00\x01', "line 2"),
        (b'target = "local"\n\nstack = "Bad_Name"\n', "stack in"),
    ],
)
def test_a_broken_or_binary_config_file_is_named_with_its_line(
    home: Path, content: bytes, where: str
) -> None:
    Path("orderpipe.toml").write_bytes(content)
    result = cli(home, "status", code=2)
    assert str(Path("orderpipe.toml").absolute()) in result.said and where in result.said
    assert "line" in result.said


@pytest.mark.parametrize("rate", ["inf", "nan", "-1", "0"])
def test_a_rate_that_is_not_a_positive_number_is_a_usage_error(home: Path, rate: str) -> None:
    for command in (["generate", "--count", "5"], ["run", "--for", "1s"]):
        result = cli(home, *command, "--rate", rate, code=2)
        assert "is not a rate" in result.said
        assert not home.exists()  # refused before anything was made


@pytest.mark.parametrize("sql", ["", "   ", " ; "])
def test_empty_sql_is_a_usage_error(home: Path, sql: str) -> None:
    result = cli(home, "query", "sql", sql, code=2)
    assert "the SQL is empty" in result.said


def test_intervals_and_other_engine_types_print_as_json(home: Path) -> None:
    sql = ("SELECT INTERVAL 1 DAY AS d, INTERVAL 90 MINUTE AS m, -INTERVAL 5 SECOND AS s, "
           "TIME '10:00' AS t, '\\xAA'::BLOB AS b, [1, 2] AS l")  # fmt: skip
    cli(home, "up")
    rows = query_json(home, sql)
    assert rows == [{"d": "P1D", "m": "PT1H30M", "s": "-PT5S", "t": "10:00:00", "b": "\\xaa",
                     "l": [1, 2]}]  # fmt: skip


# text is text --------------------------------------------------------------------------------
def test_values_names_and_paths_never_change_the_markup(tmp_path: Path) -> None:
    home = tmp_path / "h[/]ome[bold]"
    sql = "SELECT 'Evil[/]' AS country, '[red]x\\' AS \"[/]col\", 1 AS n"
    cli(home, "up")
    table = cli(home, "query", "sql", sql).stdout
    assert "Evil[/]" in table and "[red]x\\" in table and "[/]col" in table
    assert "Evil[/]" in cli(home, "query", "sql", sql, "--format", "csv").stdout
    result = cli(home, "query", "sql", "SELECT * FROM [/]", code=1)
    assert "Error: the query failed" in result.said
    result = cli(home, "query", "no[/]such", code=2)
    assert "there is no query named 'no[/]such'" in result.said
    assert str(home) in cli(home, "status").said


# AWS endpoints ----------------------------------------------------------------------------------
def test_an_unreachable_aws_endpoint_is_one_sentence(aws_credentials: None) -> None:
    """A real botocore call to a closed port reaches the CLI's error edge as one sentence."""
    import boto3
    from botocore.config import Config

    edge = typer.Typer(cls=OrderpipeGroup)

    @edge.command()
    def athena() -> None:
        config = Config(retries={"max_attempts": 1}, connect_timeout=2)
        client = boto3.client("athena", endpoint_url="http://127.0.0.1:9", config=config)
        client.list_work_groups()

    @edge.command()
    def other() -> None: ...  # two commands, so `athena` is a subcommand as in orderpipe

    result = CliRunner().invoke(edge, ["athena"], env=ENV)
    assert result.exit_code == 1 and isinstance(result.exception, SystemExit)
    said = " ".join(result.output.split())
    assert "Cannot reach AWS" in said and "AWS_ENDPOINT_URL" in said
    assert "unexpected" not in said


def test_a_failed_run_cycle_prints_its_error_as_text() -> None:
    from rich.console import Console

    from orderpipe.commands.runloop import describe_cycle
    from orderpipe.runloop import Cycle

    error = "bad Country 'Evil[/]' \\[x]"
    cycle = Cycle(number=3, seconds=1.0, shipped=5, error=error)
    screen = Console(width=200, record=True)
    screen.print(describe_cycle(cycle), highlight=False)
    assert "failed: bad Country 'Evil[/]' \\[x] — retrying" in screen.export_text()
