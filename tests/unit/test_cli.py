"""The CLI frame: help, usage errors, one-sentence errors, config precedence, lazy imports."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest
from helpers import cli

from orderpipe.cli import app


def test_help_lists_every_command_with_its_own_help_line() -> None:
    """Each command on a line of its own, beside the first line of its own help."""
    import typer.main

    commands = typer.main.get_command(app).commands  # type: ignore[attr-defined]
    assert set(commands) == {
        "up", "down", "status", "generate", "ship", "crawl", "run", "demo", "transform",
        "schedule", "report", "query", "dashboard",
    }  # fmt: skip
    lines = [line.strip("│ ") for line in cli(None, "--help").stdout.splitlines()]
    for name, command in commands.items():
        first_line = (command.help or "").splitlines()[0]
        assert f"{name:<10} {first_line}" in lines, name


def test_help_does_not_import_heavy_modules() -> None:
    code = (
        "import sys\n"
        "from orderpipe.cli import app\n"
        "try:\n    app(['--help'])\nexcept SystemExit:\n    pass\n"
        "heavy = [m for m in ('boto3', 'botocore', 'pyspark', 'duckdb', 'faker',"
        " 'orderpipe.targets.base', 'orderpipe.shipper', 'orderpipe.runloop')"
        " if m in sys.modules]\n"
        "print('HEAVY', heavy)\n"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert "HEAVY []" in out.stdout


def test_unknown_option_is_a_usage_error_without_traceback() -> None:
    assert "No such option: --no-such-flag" in cli(None, "up", "--no-such-flag", code=2).stderr


def test_bad_stack_name_is_a_usage_error(home: Path) -> None:
    assert "stack" in cli(None, "--stack", "Bad_Name", "status", code=2).stderr


def test_our_errors_are_one_sentence_and_exit_1(home: Path) -> None:
    result = cli(home, "query", "top-orders", code=1)
    assert "no pipeline at" in result.stderr and result.stdout == ""


def test_debug_shows_the_traceback_on_stderr(home: Path) -> None:
    result = cli(home, "--debug", "query", "top-orders", code=1)
    assert "Traceback" in result.stderr and "no pipeline at" in result.stderr


def test_unknown_query_lists_the_known_ones(home: Path) -> None:
    result = cli(home, "query", "no-such-query", code=2)
    assert "top-orders" in result.stderr and "duplicates" in result.stderr


@pytest.mark.parametrize("bad", ["limit", "=3", "Limit=3"])
def test_bad_param_is_a_usage_error(home: Path, bad: str) -> None:
    cli(home, "query", "top-orders", "--param", bad, code=2)


def test_config_precedence_flag_over_env_over_file_over_default(home: Path) -> None:
    from orderpipe.settings import load_settings

    assert load_settings().stack == "orderpipe"
    Path("orderpipe.toml").write_text('stack = "fromfile"\nregion = "eu-west-1"\n')
    assert load_settings().stack == "fromfile"
    os.environ["ORDERPIPE_STACK"] = "fromenv"
    try:
        assert load_settings().stack == "fromenv"
        assert load_settings(stack="fromflag").stack == "fromflag"
        assert load_settings().region == "eu-west-1"
    finally:
        del os.environ["ORDERPIPE_STACK"]


def test_status_json_is_pure_json_on_stdout(home: Path) -> None:
    cli(home, "up")
    report = cli(home, "status", "--format", "json").json()
    assert report["target"] == "local"
    assert any(r["kind"] == "bucket" for r in report["resources"])


def test_up_twice_then_down_twice(home: Path) -> None:
    cli(home, "up")
    assert (home / "logs").is_dir()
    assert "nothing to do" in cli(home, "up").stderr
    cli(home, "down", "--yes")
    assert not home.exists()
    assert "nothing to do" in cli(home, "down", "--yes").stderr


def test_down_asks_and_keeps_everything_on_no(home: Path) -> None:
    cli(home, "up")
    cli(home, "down", input="n\n", code=1)
    assert (home / "logs").is_dir()


def test_down_keep_data_keeps_buckets_and_logs(home: Path) -> None:
    cli(home, "up")
    (home / "state" / "catalog.json").write_text("{}")
    cli(home, "down", "--yes", "--keep-data")
    assert (home / "logs").is_dir() and (home / "buckets").is_dir()
    assert not (home / "state").exists()


def test_status_format_takes_only_table_or_json(home: Path) -> None:
    result = cli(home, "status", "--format", "csv", code=2)
    assert "'csv' is not one of 'table', 'json'" in result.stderr


def test_up_dry_run_prints_the_plan_and_creates_nothing(home: Path) -> None:
    result = cli(home, "up", "--dry-run")
    assert "7 change(s) planned; --dry-run" in result.stderr and "orderpipe-raw" in result.stderr
    assert not home.exists()


def test_query_list_names_each_query_with_its_parameters() -> None:
    from orderpipe import queries

    listed = cli(None, "query", "list").stdout
    rows = {line.split("│")[1].strip(): line for line in listed.splitlines() if "│" in line}
    assert set(rows) == set(queries.load())
    assert "limit=10" in rows["top-orders"]


def test_home_and_target_flags_beat_their_environment_variables(
    home: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from orderpipe.settings import load_settings

    env_home = home.parent / "from-env"
    cli(None, "up", env={"ORDERPIPE_HOME": str(env_home)})
    assert (env_home / "logs").is_dir() and not home.exists()
    cli(home, "up", env={"ORDERPIPE_HOME": str(env_home)})
    assert (home / "logs").is_dir()

    Path("orderpipe.toml").write_text('target = "aws"\n')
    assert load_settings().target == "aws"
    monkeypatch.setenv("ORDERPIPE_TARGET", "local")
    assert load_settings().target == "local"  # the variable beats the file
    assert load_settings(target="aws").target == "aws"  # the flag beats the variable
    result = cli(home, "--target", "local", "status", "--format", "json",
                 env={"ORDERPIPE_TARGET": "aws"})  # fmt: skip
    assert result.json()["target"] == "local"
