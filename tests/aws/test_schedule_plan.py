"""The schedule as a plan of data: what `schedule set` creates or replaces, and where `down`
puts the triggers and the workflow."""

from __future__ import annotations

from typing import Any

import pytest
from test_planner import StateReader, _everything, calls, spec_for  # tests/aws is on sys.path

from orderpipe.errors import NotReadyError
from orderpipe.job.summary import RunSummary
from orderpipe.results import ScheduleCost, Trigger, WorkflowRun
from orderpipe.targets.aws.schedule import describe, plan_clear, plan_set
from orderpipe.targets.aws.teardown import Teardown


def scheduled(every_cron: str, state: str = "ACTIVATED") -> dict[str, Any]:
    """A reader of a stack whose schedule triggers exist."""
    spec = spec_for()
    found = {
        "shop-every": {"Name": "shop-every", "WorkflowName": "shop-pipeline", "Type": "SCHEDULED",
                       "Schedule": every_cron, "Actions": [{"JobName": spec.job}], "State": state},
        "shop-daily-crawl": {"Name": "shop-daily-crawl", "Type": "SCHEDULED",
                             "Schedule": "cron(30 0 * * ? *)",
                             "Actions": [{"CrawlerName": spec.crawler}], "State": state},
    }  # fmt: skip
    return dict(job={}, crawler={}, workflow={"Name": "shop-pipeline"}, trigger=found.get)


def test_set_on_a_fresh_stack_makes_the_workflow_and_two_active_triggers() -> None:
    plan = plan_set(StateReader(spec_for(), job={}, crawler={}), 900)  # type: ignore[arg-type]
    assert [a.api for a in plan] == ["glue.create_workflow", "glue.create_trigger",
                                     "glue.create_trigger"]  # fmt: skip
    job, crawl = calls(plan, "glue.create_trigger")
    assert job["Schedule"] == "cron(0/15 * * * ? *)" and job["WorkflowName"] == "shop-pipeline"
    assert job["StartOnCreation"] and job["Tags"] == {"orderpipe:stack": "shop"}
    assert crawl["Schedule"] == "cron(30 0 * * ? *)" and "WorkflowName" not in crawl


def test_set_again_changes_nothing_and_a_new_interval_replaces_the_job_trigger() -> None:
    same = StateReader(spec_for(), **scheduled("cron(0/15 * * * ? *)"))
    assert plan_set(same, 900) == []  # type: ignore[arg-type]
    changed = plan_set(same, 3600)  # type: ignore[arg-type]
    assert [(a.api, a.kwargs["Name"]) for a in changed] == [
        ("glue.delete_trigger", "shop-every"), ("glue.create_trigger", "shop-every")]  # fmt: skip
    paused = StateReader(spec_for(), **scheduled("cron(0/15 * * * ? *)", "DEACTIVATED"))
    assert {a.api for a in plan_set(paused, 900)} == {"glue.start_trigger"}  # type: ignore[arg-type]


def test_set_before_up_says_to_run_up() -> None:
    with pytest.raises(NotReadyError, match="up"):
        plan_set(StateReader(spec_for()), 900)  # type: ignore[arg-type]


def test_clear_removes_the_triggers_and_down_the_workflow_before_the_job() -> None:
    reader = StateReader(spec_for(), **scheduled("cron(0 * * * ? *)"))
    assert [a.api for a in plan_clear(reader)] == ["glue.delete_trigger"] * 2  # type: ignore[arg-type]
    everything = _everything(spec_for())
    everything.state.update(workflow={}, trigger=scheduled("cron(0 * * * ? *)")["trigger"])
    order = [a.api for a in Teardown(everything).plan(keep_data=False)]  # type: ignore[arg-type]
    assert order.count("glue.delete_trigger") == 2
    assert order.index("glue.delete_trigger") < order.index("glue.delete_workflow")
    assert order.index("glue.delete_workflow") < order.index("glue.delete_job")


def test_show_gives_next_runs_last_workflow_runs_and_cost_at_list_prices() -> None:
    runs = [{"WorkflowRunId": "wr_1", "StartedOn": "2027-01-15 06:00:04+00:00", "Status": "OK"}]
    reader = StateReader(spec_for(), **scheduled("cron(0 * * * ? *)"), workflow_runs=runs)
    now = 1_800_000_000.0 + 90  # 1.5 minutes after a whole hour (UTC)
    big = [RunSummary("jr_2", "SUCCEEDED", dpu_seconds=900.0), RunSummary("jr_1", "FAILED")]
    shown = describe(reader, big, now=now)  # type: ignore[arg-type]
    assert shown.workflow == "shop-pipeline" and shown.every_seconds == 3600
    assert shown.triggers[0] == Trigger("shop-every", "cron(0 * * * ? *)", "ACTIVATED",
                                        "shop-transform-order-history",
                                        "2027-01-15 09:00:00 UTC")  # fmt: skip
    assert shown.workflow_runs == (WorkflowRun("wr_1", "2027-01-15 06:00:04", "OK"),)
    # 900 DPU-seconds at $0.44/DPU-hour, 24 runs a day and a $0.15 crawl, for 30 days
    assert shown.cost == ScheduleCost(0.11, 0.15, 24.0, round(30 * (24 * 0.11 + 0.15), 2))
    # a run below Glue's minimum (2 DPUs for a minute) is billed as the minimum
    small = describe(reader, [RunSummary("jr_3", "SUCCEEDED", dpu_seconds=30.0)], now=now)  # type: ignore[arg-type]
    assert small.cost is not None and small.cost.job_run_usd == round(120 / 3600 * 0.44, 4)
    unscheduled = describe(StateReader(spec_for(), workflow_runs=[]), [], now=now)  # type: ignore[arg-type]
    assert unscheduled.triggers == () and unscheduled.cost is None
