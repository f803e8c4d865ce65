"""State files a later command reads: torn or foreign ones give one sentence naming the file and
the repair, never a traceback; cache-like ones repair themselves; writes are whole."""

from __future__ import annotations

import json
import stat
import subprocess
import sys
from pathlib import Path

import pytest
from helpers import cli

from orderpipe.fsutil import StateFileError
from orderpipe.job.job_io import load_bookmark

TORN = b'{"databases": {"orderpipe": {"tables": {"raw": {"partit'


@pytest.fixture
def ready(home: Path) -> Path:
    cli(home, "up")
    return home


@pytest.mark.parametrize(
    ("relative", "content", "args", "words"),
    [
        ("state/catalog.json", TORN, ["status"], "the local catalog"),
        ("state/catalog.json", b"[1, 2]", ["crawl"], "the local catalog"),
        ("state/catalog.json", b"\xff\xfe\x00", ["status"], "the local catalog"),
        (".orderpipe-home", b'{"stack": ', ["query", "sql", "SELECT 1"], "the home marker"),
        (".orderpipe-home", b'"a string"', ["down", "--yes"], "the home marker"),
    ],
)
def test_a_torn_or_foreign_state_file_is_one_sentence(
    ready: Path, relative: str, content: bytes, args: list[str], words: str
) -> None:
    path = ready / relative
    path.write_bytes(content)
    message = cli(ready, *args, code=1).said
    assert message.startswith("Error: ") and message.count("Error:") == 1
    assert f"{words} {path}" in message and ("delete" in message or "run" in message)
    assert path.read_bytes() == content  # reported, not silently replaced


def test_a_torn_run_summary_is_listed_as_unreadable_and_hides_no_other_run(ready: Path) -> None:
    runs = ready / "buckets" / "orderpipe-lake" / "_runs"
    runs.mkdir(parents=True)
    first = {"run_id": "jr_1", "state": "SUCCEEDED", "started_at": "2026-05-01T12:00:00Z",
             "records_read": 10, "transformed": 9}  # an older summary: fewer keys  # fmt: skip
    (runs / "jr_1.json").write_text(json.dumps(first))
    (runs / "jr_2.json").write_bytes(b'{"run_id": "jr_2", "sta')
    (ready / "state" / "runs.jsonl").write_bytes(b"the history of old versions: ignored\n")
    for args in (["transform", "status"], ["status"]):
        shown = cli(ready, *args, env={"COLUMNS": "300"}).said  # the path fits its cell
        assert "jr_1" in shown and "SUCCEEDED" in shown
        assert f"UNREADABLE: {runs / 'jr_2.json'} is not a run summary" in shown
    assert shown.index("jr_2") < shown.index("jr_1")  # written after jr_1 started: listed first


def test_a_torn_crawler_state_only_means_crawl_again(ready: Path) -> None:
    state = ready / "state" / "crawler.json"
    state.write_bytes(b'{"fingerpr')
    cli(ready, "crawl")
    assert "fingerprint" in json.loads(state.read_text())


def test_a_torn_bookmark_names_itself(tmp_path: Path) -> None:
    bookmark = tmp_path / "job.json"
    bookmark.write_bytes(b'{"version": 1, "objects": ["raw/a.gz", "ra')
    with pytest.raises(StateFileError, match=f"the job bookmark {bookmark} is unreadable"):
        load_bookmark(str(bookmark))


def test_files_follow_the_users_umask(home: Path) -> None:
    """Under `umask 077` nothing the pipeline writes is readable by others (it was forced 0644)."""
    orderpipe = Path(sys.executable).parent / "orderpipe"
    script = f"umask 077 && {orderpipe} --home {home} generate --count 300"
    subprocess.run(["sh", "-c", script + " && " + script.replace("generate --count 300", "crawl")],
                   check=True, capture_output=True)  # fmt: skip
    files = [p for p in home.rglob("*") if p.is_file()]
    assert len(files) > 5
    assert {
        p.name: oct(stat.S_IMODE(p.stat().st_mode)) for p in files if p.stat().st_mode & 0o077
    } == {}
