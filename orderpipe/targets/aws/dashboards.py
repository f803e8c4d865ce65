"""`orderpipe dashboard up|down|status` on AWS, as plans the Executor applies.

Up: a CloudWatch dashboard of the stack's metrics; and, where the account has QuickSight, an
Athena data source on the stack's workgroup, data sets over transformed_orders and
quarantined_orders, a dashboard with the report's views, shared with the account's QuickSight
admins, and read access for QuickSight's service role to the lake and query results. Each item
is read first: missing → create, different → update, same → nothing (so a second `up` makes no
call). Down: whatever of that exists, dashboard first.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from typing import Any

from orderpipe.results import DashboardsStatus, ResourceRow
from orderpipe.targets.aws.dashboard_specs import (
    DATA_SETS,
    DEFINITION_TAG,
    DashboardSpec,
    fingerprint,
)
from orderpipe.targets.aws.errors import ACCESS_DENIED
from orderpipe.targets.aws.planner import act, delete_if
from orderpipe.targets.aws.reader import Reader, policy_document
from orderpipe.targets.base import Action

QUICKSIGHT_ROLE = "aws-quicksight-service-role-v0"
NOT_SUBSCRIBED = {"ResourceNotFoundException", "UnsupportedUserEditionException"}
SUBSCRIBE = (
    "This account has no QuickSight subscription, so only the CloudWatch dashboard is made: "
    "sign up in the QuickSight console (or `aws quicksight create-account-subscription`), "
    "then run `orderpipe --target aws dashboard up` again."
)


@dataclass
class Item:
    """One resource of the dashboards: what exists of it, and the calls that make it right."""

    kind: str
    name: str
    state: str  # ok | missing | drift | absent (nothing to make)
    actions: list[Action] = field(default_factory=list)
    detail: str = ""


class Dashboards:
    def __init__(self, reader: Reader) -> None:
        self.reader = reader
        self.session = reader.session
        self.spec = reader.spec
        self.d = DashboardSpec(reader.spec)
        self.account = reader.spec.account

    # reading -------------------------------------------------------------------------------
    def _get(self, service: str, method: str, resource: str, **kwargs: Any) -> Any:
        return self.session.call(service, method, resource=resource, missing=None, **kwargs)

    def _qs(self, method: str, resource: str, **kwargs: Any) -> Any:
        return self._get("quicksight", method, resource, AwsAccountId=self.account, **kwargs)

    def quicksight_enabled(self, denied_is_none: bool = False) -> bool:
        """Whether the account has QuickSight; `denied_is_none` for `down`: an identity that may
        not even look at QuickSight cannot have made anything there."""
        absent = NOT_SUBSCRIBED | (ACCESS_DENIED if denied_is_none else set())
        found = self.session.call(
            "quicksight",
            "describe_account_settings",
            resource="this account's QuickSight",
            answers=dict.fromkeys(absent),
            AwsAccountId=self.account,
        )
        return found is not None

    def admins(self) -> list[str]:
        """ARNs of the account's QuickSight admins (default namespace): who gets the assets."""
        users = self.session.items(
            "quicksight",
            "list_users",
            "UserList",
            resource="QuickSight users",
            AwsAccountId=self.account,
            Namespace="default",
        )
        return sorted(u["Arn"] for u in users if u.get("Role") == "ADMIN")

    def _tag(self, arn: str) -> str | None:
        """The definition fingerprint a QuickSight asset was made with."""
        answer = self._get("quicksight", "list_tags_for_resource", arn, ResourceArn=arn) or {}
        tags = answer.get("Tags") or []
        return next((t["Value"] for t in tags if t["Key"] == DEFINITION_TAG), None)

    # items ---------------------------------------------------------------------------------
    def items(self) -> tuple[list[Item], list[str]]:
        """Every resource with its state and the calls `up` would make; and notes for the user."""
        items = [self.cloudwatch()]
        if not self.quicksight_enabled():
            return items, [SUBSCRIBE]
        notes = []
        principals = self.admins()
        if not principals:
            notes.append(
                "No QuickSight admin user was found to share the dashboard with; "
                "add one in QuickSight and run `dashboard up` again."
            )
        role = self.role_policy()
        if role.state == "absent":
            notes.append(
                f"QuickSight's service role {QUICKSIGHT_ROLE} was not found: allow "
                f"QuickSight to read s3://{self.spec.bucket('lake')} and "
                f"s3://{self.spec.bucket('athena-results')} under QuickSight → "
                "Security & permissions."
            )
        items += [role, self.data_source(principals)]
        items += [self.data_set(key, principals) for key in DATA_SETS]
        items.append(self.dashboard(principals))
        return items, notes

    def cloudwatch(self) -> Item:
        name = self.d.cloudwatch_name
        body = self.d.cloudwatch_body()
        found = self._get("cloudwatch", "get_dashboard", name, DashboardName=name)
        label = f"cloudwatch dashboard {name}"
        put = act(
            "create" if found is None else "update",
            label,
            "cloudwatch.put_dashboard",
            "Firehose, Glue, Athena and lake metrics",
            DashboardName=name,
            DashboardBody=json.dumps(body),
        )
        if found is None:
            return Item("cloudwatch dashboard", name, "missing", [put])
        same = json.loads(found.get("DashboardBody") or "{}") == body
        return Item("cloudwatch dashboard", name, "ok" if same else "drift", [] if same else [put])

    def role_policy(self) -> Item:
        name = self.d.quicksight_policy
        if self._get("iam", "get_role", QUICKSIGHT_ROLE, RoleName=QUICKSIGHT_ROLE) is None:
            return Item("iam role policy", name, "absent", detail=f"no role {QUICKSIGHT_ROLE}")
        document = self.d.quicksight_role_policy()
        found = self._get("iam", "get_role_policy", name, RoleName=QUICKSIGHT_ROLE, PolicyName=name)
        put = act(
            "create" if found is None else "update",
            f"policy {name} on {QUICKSIGHT_ROLE}",
            "iam.put_role_policy",
            "QuickSight reads the lake through Athena",
            RoleName=QUICKSIGHT_ROLE,
            PolicyName=name,
            PolicyDocument=json.dumps(document),
        )
        if found is None:
            return Item("iam role policy", name, "missing", [put])
        same = policy_document(found.get("PolicyDocument")) == document
        return Item("iam role policy", name, "ok" if same else "drift", [] if same else [put])

    def data_source(self, principals: list[str]) -> Item:
        source_id = self.d.data_source_id
        params = self.d.data_source_params()
        found = self._qs("describe_data_source", source_id, DataSourceId=source_id)
        label = f"quicksight data source {source_id}"
        common = {
            "AwsAccountId": self.account,
            "DataSourceId": source_id,
            "Name": f"orderpipe {self.spec.stack} (Athena)",
            "DataSourceParameters": params,
        }
        detail = f"workgroup={self.spec.workgroup}"
        if found is None:
            create = act(
                "create",
                label,
                "quicksight.create_data_source",
                detail,
                Type="ATHENA",
                **self.d.permissions("data_source", principals),
                Tags=self.d.tags,
                **common,
            )
            return Item("quicksight data source", source_id, "missing", [create], detail)
        if (found.get("DataSource") or {}).get("DataSourceParameters") == params:
            return Item("quicksight data source", source_id, "ok", detail=detail)
        update = act("update", label, "quicksight.update_data_source", detail, **common)
        return Item("quicksight data source", source_id, "drift", [update], detail)

    def data_set(self, key: str, principals: list[str]) -> Item:
        set_id = self.d.data_set_id(key)
        arn = self.d.arn("dataset", set_id)
        params = self.d.data_set_params(key, self.d.arn("datasource", self.d.data_source_id))
        stamp = fingerprint(params)
        found = self._qs("describe_data_set", set_id, DataSetId=set_id)
        label = f"quicksight data set {set_id}"
        detail = f"table={DATA_SETS[key]}, direct query"
        tags = [*self.d.tags, {"Key": DEFINITION_TAG, "Value": stamp}]
        if found is None:
            create = act(
                "create",
                label,
                "quicksight.create_data_set",
                detail,
                AwsAccountId=self.account,
                Tags=tags,
                **self.d.permissions("data_set", principals),
                **params,
            )
            return Item("quicksight data set", set_id, "missing", [create], detail)
        arn = (found.get("DataSet") or {}).get("Arn") or arn
        if self._tag(arn) == stamp:
            return Item("quicksight data set", set_id, "ok", detail=detail)
        return Item(
            "quicksight data set",
            set_id,
            "drift",
            [
                act(
                    "update",
                    label,
                    "quicksight.update_data_set",
                    detail,
                    AwsAccountId=self.account,
                    **params,
                ),
                act("update", label, "quicksight.tag_resource", "", ResourceArn=arn, Tags=tags),
            ],
            detail,
        )

    def dashboard(self, principals: list[str]) -> Item:
        dash_id = self.d.dashboard_id
        arn = self.d.arn("dashboard", dash_id)
        definition = self.d.with_data_sets(self.d.dashboard_definition())
        stamp = fingerprint(definition)
        found = self._qs("describe_dashboard", dash_id, DashboardId=dash_id)
        label = f"quicksight dashboard {dash_id}"
        visuals = len(definition["Sheets"][0]["Visuals"])
        detail = f"{visuals} visuals: the report's views"
        common = {
            "AwsAccountId": self.account,
            "DashboardId": dash_id,
            "Name": f"orderpipe {self.spec.stack}: orders",
            "Definition": definition,
        }
        tags = [*self.d.tags, {"Key": DEFINITION_TAG, "Value": stamp}]
        if found is None:
            create = act(
                "create",
                label,
                "quicksight.create_dashboard",
                detail,
                Tags=tags,
                **self.d.permissions("dashboard", principals),
                **common,
            )
            return Item("quicksight dashboard", dash_id, "missing", [create], detail)
        arn = (found.get("Dashboard") or {}).get("Arn") or arn
        if self._tag(arn) == stamp:
            return Item("quicksight dashboard", dash_id, "ok", detail=self.console_url())
        version = int(((found.get("Dashboard") or {}).get("Version") or {}).get("VersionNumber", 0))
        return Item(
            "quicksight dashboard",
            dash_id,
            "drift",
            [
                act("update", label, "quicksight.update_dashboard", detail, **common),
                act(
                    "update",
                    label,
                    "quicksight.update_dashboard_published_version",
                    "publish it",
                    AwsAccountId=self.account,
                    DashboardId=dash_id,
                    VersionNumber=version + 1,
                ),
                act("update", label, "quicksight.tag_resource", "", ResourceArn=arn, Tags=tags),
            ],
            detail,
        )

    def console_url(self) -> str:
        region = self.spec.region
        return f"https://{region}.quicksight.aws.amazon.com/sn/dashboards/{self.d.dashboard_id}"

    # plans ---------------------------------------------------------------------------------
    def plan_up(self) -> tuple[list[Action], list[str]]:
        items, notes = self.items()
        return [a for item in items for a in item.actions], notes

    def plan_down(self) -> list[Action]:
        """What exists of the dashboards, dashboard before its data sets before their source."""
        d, account, steps = self.d, self.account, []
        if self.quicksight_enabled(denied_is_none=True):
            dash_id, source_id = d.dashboard_id, d.data_source_id
            steps += delete_if(
                self._qs("describe_dashboard", dash_id, DashboardId=dash_id),
                f"quicksight dashboard {dash_id}", "quicksight.delete_dashboard", "",
                AwsAccountId=account, DashboardId=dash_id,
            )  # fmt: skip
            for set_id in map(d.data_set_id, DATA_SETS):
                steps += delete_if(
                    self._qs("describe_data_set", set_id, DataSetId=set_id),
                    f"quicksight data set {set_id}", "quicksight.delete_data_set", "",
                    AwsAccountId=account, DataSetId=set_id,
                )  # fmt: skip
            steps += delete_if(
                self._qs("describe_data_source", source_id, DataSourceId=source_id),
                f"quicksight data source {source_id}", "quicksight.delete_data_source", "",
                AwsAccountId=account, DataSourceId=source_id,
            )  # fmt: skip
            policy = self.role_policy()
            steps += delete_if(
                policy if policy.state in {"ok", "drift"} else None,
                f"policy {d.quicksight_policy} on {QUICKSIGHT_ROLE}", "iam.delete_role_policy",
                "the role itself is QuickSight's", RoleName=QUICKSIGHT_ROLE,
                PolicyName=d.quicksight_policy,
            )  # fmt: skip
        name = d.cloudwatch_name
        return steps + delete_if(
            self._get("cloudwatch", "get_dashboard", name, DashboardName=name),
            f"cloudwatch dashboard {name}", "cloudwatch.delete_dashboards", "",
            DashboardNames=[name],
        )  # fmt: skip

    def status(self) -> DashboardsStatus:
        items, notes = self.items()
        rows = tuple(ResourceRow(i.kind, i.name, i.state, i.detail) for i in items)
        return DashboardsStatus(self.spec.stack, rows, tuple(notes))
