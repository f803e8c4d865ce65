"""Shared fixtures: one SparkSession for the whole run, fake AWS credentials, a temp home."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

SHARED_DATA = Path(__file__).resolve().parents[2] / "shared" / "data"
FIXTURES = Path(__file__).resolve().parent / "fixtures"


SLOW_FIXTURES = {"endpoint", "browser"}  # a moto_server process; a headless Chromium


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    """Tests taking the SparkSession are marked `spark`, those starting a moto server or a browser
    `slow`: `pytest -m "not spark and not slow"` is the quick loop."""
    for item in items:
        fixtures = set(getattr(item, "fixturenames", ()))
        if "spark" in fixtures:
            item.add_marker(pytest.mark.spark)
        if fixtures & SLOW_FIXTURES:
            item.add_marker(pytest.mark.slow)


@pytest.fixture(scope="session")
def spark(tmp_path_factory: pytest.TempPathFactory):
    from orderpipe.spark import get_spark

    session = get_spark(tmp_path_factory.mktemp("spark"), app_name="orderpipe-tests", cores="2")
    yield session
    session.stop()


@pytest.fixture
def aws_credentials(monkeypatch: pytest.MonkeyPatch) -> None:
    """Fake credentials so nothing can reach a real account; set before any client exists."""
    for name, value in {
        "AWS_ACCESS_KEY_ID": "testing",
        "AWS_SECRET_ACCESS_KEY": "testing",
        "AWS_SECURITY_TOKEN": "testing",
        "AWS_SESSION_TOKEN": "testing",
        "AWS_DEFAULT_REGION": "eu-west-1",
        "AWS_REGION": "eu-west-1",
    }.items():
        monkeypatch.setenv(name, value)
    monkeypatch.delenv("AWS_PROFILE", raising=False)


@pytest.fixture
def home(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A fresh ORDERPIPE_HOME, and a working directory with no orderpipe.toml."""
    monkeypatch.chdir(tmp_path)
    for key in list(os.environ):
        if key.startswith("ORDERPIPE_"):
            monkeypatch.delenv(key)
    return tmp_path / "home"


@pytest.fixture(scope="session")
def shared_data() -> Path:
    if not SHARED_DATA.is_dir():
        pytest.skip("../shared/data is not beside this checkout")
    return SHARED_DATA
