"""The aws options' one source (flags > ORDERPIPE_AWS_* > [aws] in orderpipe.toml > defaults)
and the stack names S3 would refuse."""

from __future__ import annotations

from pathlib import Path

import pytest
from helpers import cli

from orderpipe.errors import UsageError
from orderpipe.targets.aws.options import AwsOptions, load_options


def test_flags_beat_the_environment_which_beats_the_file(
    home: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    Path("orderpipe.toml").write_text("[aws]\nglue_version = 5.1\nflex = true\nbuffer_mb = 8\n")
    monkeypatch.setenv("ORDERPIPE_AWS_FLEX", "false")
    monkeypatch.setenv("ORDERPIPE_AWS_BUFFER_MB", "16")
    resolved = load_options({"buffer_mb": 32, "spot": None})
    assert resolved.options == AwsOptions(glue_version="5.1", flex=False, buffer_mb=32)
    assert resolved.sources["glue_version"] == "orderpipe.toml"
    assert resolved.sources["flex"] == "ORDERPIPE_AWS_FLEX"
    assert resolved.sources["buffer_mb"] == "flag --buffer-mb"
    assert resolved.sources["spot"] == "default"


@pytest.mark.parametrize(
    ("toml", "env", "message"),
    [
        ("[aws]\nflexx = true\n", {}, "[aws] in orderpipe.toml has no option 'flexx'"),
        ("", {"ORDERPIPE_AWS_SPOT": "maybe"}, "--spot 'maybe' (from ORDERPIPE_AWS_SPOT)"),
        ("[aws]\nglue_version = 4.0\n", {}, "'4.0' must be one of 6.0, 5.1 (from orderpipe.toml)"),
        ("aws = 3\n", {}, "must be a table"),
    ],
)
def test_a_bad_option_names_the_flag_and_where_it_came_from(
    home: Path, monkeypatch: pytest.MonkeyPatch, toml: str, env: dict[str, str], message: str
) -> None:
    Path("orderpipe.toml").write_text(toml)
    for name, value in env.items():
        monkeypatch.setenv(name, value)
    with pytest.raises(UsageError) as raised:
        load_options({})
    assert message in str(raised.value)


@pytest.mark.parametrize("stack", ["xn--shop", "sthree-shop", "amzn-s3-demo-x", "shop-s3alias"])
def test_stack_names_s3_reserves_are_usage_errors(home: Path, stack: str) -> None:
    assert "S3 reserves it" in cli(None, "--stack", stack, "status", code=2).stderr


def test_reuse_is_ignored_with_a_note_on_the_local_target(home: Path) -> None:
    cli(home, "up")
    result = cli(home, "query", "sql", "SELECT 1 AS x", "--reuse", "5", "--format", "json")
    assert result.json() == [{"x": 1}]
    assert "--reuse is ignored on the local target" in result.stderr
