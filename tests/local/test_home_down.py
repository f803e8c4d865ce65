"""`down` removes only what `up` made: the home marker, refusals, and the user's own files."""

from __future__ import annotations

from pathlib import Path

import pytest
from helpers import cli


def tree(folder: Path) -> set[str]:
    return {str(p.relative_to(folder)) for p in folder.rglob("*")}


@pytest.fixture
def project(home: Path) -> Path:
    """A user's folder that is not an orderpipe home — with a `logs` folder of its own."""
    folder = home.parent / "project"
    (folder / "logs").mkdir(parents=True)
    (folder / "notes.txt").write_text("mine")
    (folder / "logs" / "app.log").write_text("mine too")
    return folder


@pytest.mark.parametrize("keep", [[], ["--keep-data"]])
def test_down_refuses_a_folder_that_is_not_a_home(project: Path, keep: list[str]) -> None:
    before = tree(project)
    message = cli(project, "down", "--yes", *keep, code=1).said
    assert "is not an orderpipe home" in message and "deleted nothing" in message
    assert tree(project) == before


@pytest.mark.parametrize("how", ["flag", "env", "toml"])
def test_an_empty_home_is_a_usage_error_and_deletes_nothing(home: Path, how: str) -> None:
    cwd = Path.cwd()
    (cwd / "keep.txt").write_text("the folder the user stands in")
    args, env = ["down", "--yes"], {}
    if how == "flag":
        args = ["--home", "", *args]
    elif how == "env":
        env = {"ORDERPIPE_HOME": ""}
    else:
        (cwd / "orderpipe.toml").write_text('home = ""\n')
    before = tree(cwd)
    assert "must name a folder" in cli(None, *args, code=2, env=env).said
    assert tree(cwd) == before


@pytest.mark.parametrize("where", ["/", "/etc", "/usr", "~"])
def test_a_system_folder_or_the_users_home_is_refused(home: Path, where: str) -> None:
    assert "system or personal folder" in cli(Path(where), "status", code=2).said


def test_a_file_is_refused_as_home(home: Path) -> None:
    afile = home.parent / "afile"
    afile.write_text("x")
    assert "is a file" in cli(afile, "down", "--yes", code=2).said
    assert afile.read_text() == "x"


def test_up_refuses_a_folder_holding_other_files(project: Path) -> None:
    assert "already holds files orderpipe did not make" in cli(project, "up", code=2).said
    assert not (project / ".orderpipe-home").exists()


def test_a_users_file_in_a_home_survives_down(home: Path) -> None:
    cli(home, "up")
    assert (home / ".orderpipe-home").is_file()
    (home / "analysis.ipynb").write_text("mine")
    (home / "buckets" / "my-bucket").mkdir()

    kept = cli(home, "down", "--yes", "--keep-data").said
    assert "Left" in kept and "analysis.ipynb" in kept
    assert (home / "buckets" / "orderpipe-lake").is_dir() and (home / "logs").is_dir()
    assert not (home / "state").exists()

    gone = cli(home, "down", "--yes").said
    assert "analysis.ipynb" in gone and "my-bucket" in gone
    assert tree(home) == {"analysis.ipynb", ".orderpipe-home", "buckets", "buckets/my-bucket"}
    assert "nothing to do" in cli(home, "down", "--yes").said  # idempotent


def test_down_of_a_clean_home_removes_it_entirely(home: Path) -> None:
    cli(home, "up")
    cli(home, "down", "--yes")
    assert not home.exists()
    assert "nothing to do" in cli(home, "down", "--yes").said


def test_a_home_belongs_to_one_stack(home: Path) -> None:
    cli(home, "--stack", "shop", "up")
    message = cli(home, "--stack", "other", "down", "--yes", code=2).said
    assert "home of stack 'shop'" in message
    assert (home / "buckets" / "shop-raw").is_dir()


def test_a_home_from_before_markers_is_adopted_by_up(home: Path) -> None:
    (home / "state").mkdir(parents=True)
    (home / "logs").mkdir()
    assert "no .orderpipe-home marker" in cli(home, "down", "--yes", code=1).said
    cli(home, "up")
    cli(home, "down", "--yes")
    assert not home.exists()


def test_home_steps_carry_their_operation_and_parameters(home: Path) -> None:
    """The plan is data the executor runs as it is: a step's label is for people only."""
    from dataclasses import replace

    from orderpipe.settings import Settings
    from orderpipe.targets.local import LocalTarget

    target = LocalTarget(Settings(home=home, stack="shop"))
    plan = target.plan_up()
    assert {(a.api, a.kwargs["path"]) for a in plan} >= {
        ("mkdir", target.log_dir), ("mark", target.layout.marker)
    }  # fmt: skip
    assert next(a for a in plan if a.api == "mark").kwargs["stack"] == "shop"
    target.apply([replace(a, resource="label") for a in plan])
    assert target.plan_up() == [] and target.log_dir.is_dir()

    target.apply([replace(a, resource="label") for a in target.plan_down(keep_data=False)])
    assert not home.exists()
