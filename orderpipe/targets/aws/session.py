"""The only place boto3 clients are made: one session, one botocore Config, created lazily.

No module-level clients (they defeat moto and freeze region/profile at import). boto3's own
`AWS_ENDPOINT_URL` (and `AWS_ENDPOINT_URL_<SERVICE>`) is honoured, so an emulator can stand in.
"""

from __future__ import annotations

import logging
from functools import cached_property
from typing import Any

from orderpipe import __version__
from orderpipe.errors import OrderpipeError
from orderpipe.redact import remember
from orderpipe.targets.aws.errors import NO_CREDENTIALS, NO_REGION


class AwsSession:
    def __init__(self, region: str | None = None, profile: str | None = None) -> None:
        self._region = region
        self._profile = profile
        self._clients: dict[str, Any] = {}

    @cached_property
    def boto3_session(self) -> Any:
        import boto3
        import botocore.exceptions

        try:
            session = boto3.Session(region_name=self._region, profile_name=self._profile)
        except botocore.exceptions.ProfileNotFound:
            raise OrderpipeError(
                f"AWS profile {self._profile!r} is not configured: run `aws configure --profile "
                f"{self._profile}` or pass another --profile."
            ) from None
        if session.region_name is None:
            raise OrderpipeError(NO_REGION)
        credentials = session.get_credentials()
        if credentials is None:
            raise OrderpipeError(NO_CREDENTIALS)
        if logging.getLogger().isEnabledFor(logging.DEBUG):  # --debug: hide them in the logs
            frozen = credentials.get_frozen_credentials()
            remember(frozen.secret_key, frozen.token)
        return session

    @cached_property
    def config(self) -> Any:
        from botocore.config import Config

        return Config(
            retries={"mode": "adaptive", "max_attempts": 10},
            connect_timeout=10,
            read_timeout=60,
            user_agent_extra=f"orderpipe/{__version__}",
        )

    @property
    def region(self) -> str:
        return str(self.boto3_session.region_name)

    def client(self, service: str) -> Any:
        if service not in self._clients:
            self._clients[service] = self.boto3_session.client(service, config=self.config)
        return self._clients[service]

    @property
    def plain_http(self) -> bool:
        """S3 is reached over plain HTTP: an emulator (moto server, LocalStack) at http://…"""
        return str(self.client("s3").meta.endpoint_url).startswith("http://")

    @cached_property
    def account(self) -> str:
        return str(self.client("sts").get_caller_identity()["Account"])

    @cached_property
    def partition(self) -> str:
        return str(self.boto3_session.get_partition_for_region(self.region))
