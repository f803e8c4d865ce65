"""Targets run the same pipeline on different engines behind one interface (`base.Target`)."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from orderpipe.settings import Settings
    from orderpipe.targets.base import Target


def get_target(settings: Settings, **aws_options: Any) -> Target:
    """The target the settings name; its module is imported only now (boto3 is heavy).
    `aws_options` (glue_version, flex, alarm_email, …) shape what `up` builds on AWS."""
    if settings.target == "aws":
        from orderpipe.targets.aws import AwsTarget

        return AwsTarget(settings, **{k: v for k, v in aws_options.items() if v is not None})
    from orderpipe.targets.local import LocalTarget

    given = [name for name, value in aws_options.items() if value is not None]
    if given:
        from orderpipe import console

        console.info(f"aws options ({', '.join(given)}) are ignored on the local target.")
    return LocalTarget(settings)
