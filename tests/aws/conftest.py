"""A moto server as a user starts it (`moto_server -p PORT`, its own process, nothing patched),
started once per test run and reset before each test that asks for it."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import time
import urllib.request
from collections.abc import Iterator
from pathlib import Path

import pytest
from moto_stack import REGION, moto_api

MOTO_SERVER = Path(sys.executable).with_name("moto_server")
MODELS = ("glue::crawl", "glue::job_run")  # the crawler and job runs `immediate` speeds up


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@pytest.fixture(scope="session")
def moto_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    port = free_port()
    log = (tmp_path_factory.mktemp("moto") / "moto_server.log").open("w")
    server = subprocess.Popen(
        [str(MOTO_SERVER), "-H", "127.0.0.1", "-p", str(port)], stdout=log, stderr=log
    )
    url = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 60
        while True:
            try:
                urllib.request.urlopen(f"{url}/moto-api/", timeout=2).close()
                break
            except OSError:
                assert server.poll() is None and time.monotonic() < deadline, "no moto_server"
                time.sleep(0.2)
        yield url
    finally:
        server.terminate()
        server.wait(timeout=30)
        log.close()


@pytest.fixture
def endpoint(moto_server: str, home: Path) -> str:
    """The moto server, empty: every account's resources and any transition a test set are gone."""
    moto_api(moto_server, "reset", {})
    for model in MODELS:
        moto_api(moto_server, "state-manager/unset-transition", {"model_name": model})
    return moto_server


@pytest.fixture
def env(endpoint: str) -> dict[str, str]:
    """The environment of a user whose AWS is the moto server (no profile, no other config)."""
    keep = {k: v for k, v in os.environ.items() if not k.startswith(("AWS_", "ORDERPIPE_"))}
    return {
        **keep,
        "AWS_ENDPOINT_URL": endpoint,
        "AWS_ACCESS_KEY_ID": "testing",
        "AWS_SECRET_ACCESS_KEY": "testing",
        "AWS_DEFAULT_REGION": REGION,
        "AWS_CONFIG_FILE": os.devnull,
        "AWS_SHARED_CREDENTIALS_FILE": os.devnull,
        "COLUMNS": "200",
    }


@pytest.fixture
def immediate(endpoint: str) -> None:
    """Crawls and job runs finish at once."""
    for model in MODELS:
        moto_api(endpoint, "state-manager/set-transition",
                 {"model_name": model, "transition": {"progression": "immediate"}})  # fmt: skip
