"""`schedule set/show/clear` and `run` on the aws target as a user types them, against a moto
server: a Glue workflow whose scheduled trigger runs the job, a daily crawl, `run` shipping while
the schedule runs the job, and `down` removing it all."""

from __future__ import annotations

import json
from pathlib import Path

from moto_stack import STACK, aws, aws_cli, leftovers, raw_lines


def triggers(endpoint: str) -> dict[str, dict]:
    glue = aws(endpoint, "glue")
    names = glue.list_triggers()["TriggerNames"]
    return {name: glue.get_trigger(Name=name)["Trigger"] for name in names}


def test_schedule_set_show_clear_and_down_against_a_moto_server(
    env: dict[str, str],
    endpoint: str,
    immediate: None,
    tmp_path: Path,
) -> None:
    aws_cli(env, "up")
    aws_cli(env, "schedule", "set", "--every", "15m")
    found = triggers(endpoint)
    job, crawl = found[f"{STACK}-every"], found[f"{STACK}-daily-crawl"]
    assert job["Type"] == "SCHEDULED" and job["Schedule"] == "cron(0/15 * * * ? *)"
    assert job["WorkflowName"] == f"{STACK}-pipeline" and job["State"] == "ACTIVATED"
    assert job["Actions"] == [{"JobName": f"{STACK}-transform-order-history"}]
    assert crawl["Schedule"] == "cron(30 0 * * ? *)"
    assert crawl["Actions"] == [{"CrawlerName": f"{STACK}-raw-crawler"}]
    assert aws(endpoint, "glue").get_workflow(Name=f"{STACK}-pipeline")["Workflow"]

    again = aws_cli(env, "schedule", "set", "--every", "15m")
    assert "nothing to do" in again.stderr
    aws_cli(env, "schedule", "set", "--every", "1h")
    assert triggers(endpoint)[f"{STACK}-every"]["Schedule"] == "cron(0 * * * ? *)"

    shown = aws_cli(env, "schedule", "show").stdout
    for expected in ("cron(0 * * * ? *)", "next run", "per month (30 days), USD", "UTC"):
        assert expected in shown, shown

    # run: the agent ships to Firehose; the job is left to the schedule.
    home = str(tmp_path / "home")
    ran = aws_cli(env, "--home", home, "run", "--rate", "40", "--every", "2s", "--for", "4s")
    assert "left to the target's schedule (every 3,600s)" in ran.stderr, ran.stderr
    logged = sum(p.read_text().count("\n") for p in (tmp_path / "home" / "logs").glob("*.ndjson"))
    assert logged >= 100 and len(raw_lines(endpoint)) == logged

    report = json.loads(aws_cli(env, "status", "--format", "json").stdout)
    rows = {r["name"]: r for r in report["resources"]}
    assert rows[f"{STACK}-every"]["state"] == "ACTIVATED"
    # No job run has read the raw objects yet: they wait, plus Firehose's 60 s buffer.
    assert report["lag_seconds"] >= 60 and report["freshness"]["raw_objects_waiting"] >= 1

    odd = aws_cli(env, "schedule", "set", "--every", "7m", code=2)
    assert "5m, 10m" in odd.stderr

    assert "removed 2 trigger(s)" in aws_cli(env, "schedule", "clear").stderr
    assert triggers(endpoint) == {}

    # Without a schedule, each cycle of `run` starts the job itself; the last one reads it all.
    ran = aws_cli(env, "--home", home, "run", "--rate", "40", "--every", "2s", "--for", "3s")
    assert "SUCCEEDED" in ran.stderr and "retrying" not in ran.stderr, ran.stderr
    assert aws(endpoint, "glue").get_job_runs(JobName=f"{STACK}-transform-order-history")["JobRuns"]
    report = json.loads(aws_cli(env, "status", "--format", "json").stdout)
    assert report["lag_seconds"] == 0 and report["freshness"]["raw_objects_waiting"] == 0

    aws_cli(env, "schedule", "set", "--every", "30m")
    aws_cli(env, "down", "--yes")
    assert triggers(endpoint) == {}
    assert aws(endpoint, "glue").list_workflows()["Workflows"] == []
    assert leftovers(endpoint) == []
