"""Targets run the same pipeline on different engines behind one interface (`base.Target`)."""

from __future__ import annotations

from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from orderpipe.settings import Settings
    from orderpipe.targets.base import Target


def get_target(settings: Settings) -> Target:
    """The target the settings name; its module is imported only now (boto3 is heavy)."""
    if settings.target == "aws":
        from orderpipe.targets.aws import AwsTarget

        return AwsTarget(settings)
    from orderpipe.targets.local import LocalTarget

    return LocalTarget(settings)
