"""The only place boto3 clients are made and called: one session, one botocore Config.

Every AWS call goes through `call`, `items` or `pages`: any botocore error becomes one sentence
naming the call and the resource (errors.translate), and the answers that are normal for a
call — "not found" for a lookup, "already running" for a start — are declared there
(`missing=`, `answers=`) instead of caught by hand.

No module-level clients (they defeat moto and freeze region/profile at import). boto3's own
`AWS_ENDPOINT_URL` (and `AWS_ENDPOINT_URL_<SERVICE>`) is honoured, so an emulator can stand in.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Collection, Mapping
from functools import cached_property
from typing import Any

from orderpipe import __version__
from orderpipe.errors import OrderpipeError
from orderpipe.redact import remember
from orderpipe.targets.aws.errors import (
    NO_CREDENTIALS,
    NO_REGION,
    error_code,
    error_message,
    is_not_found,
    translate,
)

RAISE: Any = object()  # `missing=RAISE`: "not found" is an error like any other


class AwsSession:
    def __init__(
        self, region: str | None = None, profile: str | None = None, max_attempts: int = 10
    ) -> None:
        self._region = region
        self._profile = profile
        self._max_attempts = max_attempts  # botocore's own retries (adaptive) per call
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
            retries={"mode": "adaptive", "max_attempts": self._max_attempts},
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
        identity = self.call("sts", "get_caller_identity", resource="the caller's account")
        return str(identity["Account"])

    def call(
        self,
        service: str,
        method: str,
        /,
        *,
        resource: str = "",
        missing: Any = RAISE,
        answers: Mapping[str, Any] | None = None,
        transient: Collection[str] = (),
        **params: Any,
    ) -> Any:
        """`client(service).<method>(**params)`'s response. An error code in `answers` returns
        its value instead (a callable value is given AWS's message and answers for it); AWS
        saying the resource does not exist (any of its spellings) returns `missing`. An answer
        that is an exception is raised. Any other botocore error (or the answer RAISE) becomes
        our one sentence naming `service.method` and `resource`; `transient` codes make it a
        TransientError (worth a retry later)."""
        return self._settle(
            lambda: getattr(self.client(service), method)(**params),
            f"{service}.{method}",
            resource,
            missing,
            answers,
            transient,
        )

    def items(
        self,
        service: str,
        method: str,
        key: str,
        /,
        *,
        resource: str = "",
        missing: Any = RAISE,
        answers: Mapping[str, Any] | None = None,
        **params: Any,
    ) -> Any:
        """Every item under `key` across all pages of a list/describe call (as `call`)."""
        return self._settle(
            lambda: [
                item
                for page in self._paginate(service, method, params)
                for item in page.get(key) or []
            ],
            f"{service}.{method}",
            resource,
            missing,
            answers,
            (),
        )

    def pages(
        self, service: str, method: str, /, *, resource: str = "", **params: Any
    ) -> list[dict[str, Any]]:
        """Every page of a list/describe call, for answers with more than one list in them."""
        found: list[dict[str, Any]] = self._settle(
            lambda: list(self._paginate(service, method, params)),
            f"{service}.{method}",
            resource,
            RAISE,
            None,
            (),
        )
        return found

    def _paginate(self, service: str, method: str, params: dict[str, Any]) -> Any:
        return self.client(service).get_paginator(method).paginate(**params)

    @staticmethod
    def _settle(
        request: Callable[[], Any],
        api: str,
        resource: str,
        missing: Any,
        answers: Mapping[str, Any] | None,
        transient: Collection[str],
    ) -> Any:
        import botocore.exceptions as bx

        try:
            return request()
        except (bx.BotoCoreError, bx.ClientError) as exc:
            code = error_code(exc)
            answer = RAISE
            if answers and code in answers:
                answer = answers[code]
            elif is_not_found(exc):
                answer = missing
            if callable(answer) and not isinstance(answer, BaseException):
                answer = answer(error_message(exc))  # an answer that depends on what AWS said
            if answer is RAISE:
                raise translate(exc, api, resource, transient) from exc
            if isinstance(answer, BaseException):
                raise answer from exc
            return answer

    @cached_property
    def partition(self) -> str:
        return str(self.boto3_session.get_partition_for_region(self.region))
