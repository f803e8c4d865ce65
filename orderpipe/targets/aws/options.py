"""The aws target's own options, from one source with the global options' precedence:
`up` flags > `ORDERPIPE_AWS_<NAME>` variables > the `[aws]` table of orderpipe.toml > defaults.

Every command reads them the same way (so `status` and `transform run` see the stack `up`
built from the same configuration); flags exist on `up` only.
"""

from __future__ import annotations

import os
import re
import tomllib
from dataclasses import dataclass, fields
from pathlib import Path
from typing import Any

from orderpipe.errors import UsageError
from orderpipe.settings import CONFIG_FILE

GLUE_VERSIONS = ("6.0", "5.1")
ENV_PREFIX = "ORDERPIPE_AWS_"
_KMS_KEY_ARN = re.compile(r"arn:aws[a-z-]*:kms:[a-z0-9-]+:\d{12}:key/[A-Za-z0-9-]+")


def flag(name: str) -> str:
    return "--" + name.replace("_", "-")


@dataclass(frozen=True)
class AwsOptions:
    """The knobs of an AWS stack beyond the global settings; see `OPTION_REASONS`."""

    alarm_email: str | None = None
    glue_version: str = "6.0"
    flex: bool = False
    glue_workers: int = 4
    job_timeout_minutes: int = 60
    kms_key: str | None = None
    versioning: bool = False
    spot: bool = False
    buffer_seconds: int = 60
    buffer_mb: int = 5
    scan_cutoff_gb: int = 10
    log_retention_days: int = 14

    def __post_init__(self) -> None:
        checks = {
            "glue_version": (
                self.glue_version in GLUE_VERSIONS,
                f"must be one of {', '.join(GLUE_VERSIONS)}",
            ),
            "glue_workers": (self.glue_workers >= 2, "must be at least 2 (Glue's minimum)"),
            "job_timeout_minutes": (self.job_timeout_minutes >= 1, "must be at least 1"),
            "kms_key": (
                self.kms_key is None or bool(_KMS_KEY_ARN.fullmatch(self.kms_key)),
                "must be a KMS key ARN (arn:aws:kms:REGION:ACCOUNT:key/ID)",
            ),
            "buffer_seconds": (
                0 <= self.buffer_seconds <= 900,
                "must be between 0 and 900 (Firehose's limits)",
            ),
            "buffer_mb": (1 <= self.buffer_mb <= 128, "must be between 1 and 128 (Firehose's)"),
            "scan_cutoff_gb": (self.scan_cutoff_gb >= 1, "must be at least 1"),
            "log_retention_days": (
                self.log_retention_days in LOG_RETENTION_DAYS,
                "must be one of CloudWatch's retention periods (1, 3, 5, 7, 14, 30, 60, 90, …)",
            ),
            "alarm_email": (
                self.alarm_email is None or "@" in self.alarm_email,
                "is not an e-mail address",
            ),
        }
        for name, (ok, problem) in checks.items():
            if not ok:
                raise UsageError(f"{flag(name)} {getattr(self, name)!r} {problem}.")


LOG_RETENTION_DAYS = (1, 3, 5, 7, 14, 30, 60, 90, 120, 150, 180, 365, 400, 545, 731, 1827, 3653)

# What each option does, as `up --dry-run` shows it.
OPTION_REASONS = {
    "alarm_email": "e-mail on Firehose delivery failures and failed Glue runs (SNS, alarm, rule)",
    "glue_version": "6.0 = Spark 4.1, Python 3.13; 5.1 = Spark 3.5, Python 3.11",
    "flex": "Glue Flex: about a third cheaper per DPU-hour, on spare capacity, may start late",
    "glue_workers": "G.1X workers at most: auto scaling adds them only while the job needs them",
    "job_timeout_minutes": "a stuck run is stopped (and billed) no longer than this",
    "kms_key": "buckets encrypted with this KMS key (SSE-KMS); unset: SSE-S3",
    "versioning": "keep overwritten objects' versions on every bucket (expire after 30 days)",
    "spot": "generator on a Spot instance: up to 90% cheaper (AWS); AWS may reclaim it",
    "buffer_seconds": "Firehose writes an object after this many seconds (or --buffer-mb)",
    "buffer_mb": "Firehose writes an object after this many MiB (or --buffer-seconds)",
    "scan_cutoff_gb": "Athena cancels a query that would scan more (cost guard)",
    "log_retention_days": "Firehose error logs are kept this long",
}


@dataclass(frozen=True)
class ResolvedOptions:
    options: AwsOptions
    sources: dict[str, str]  # option -> "flag", "ORDERPIPE_AWS_X", "orderpipe.toml" or "default"


def _toml_table(path: Path) -> dict[str, Any]:
    if not path.is_file():
        return {}
    try:
        table = tomllib.loads(path.read_text(encoding="utf-8")).get("aws", {})
    except (tomllib.TOMLDecodeError, UnicodeDecodeError) as exc:
        raise UsageError(f"{path} is not valid TOML: {exc}.") from None
    if not isinstance(table, dict):
        raise UsageError(f"`aws` in {path} must be a table ([aws]).")
    return table


def load_options(flags: dict[str, Any] | None = None, cwd: Path | None = None) -> ResolvedOptions:
    """The options from flags (None = not given), environment, orderpipe.toml and defaults."""
    from pydantic import TypeAdapter, ValidationError

    names = [f.name for f in fields(AwsOptions)]
    config_path = (cwd or Path.cwd()) / CONFIG_FILE
    toml = _toml_table(config_path)
    unknown = sorted(set(toml) - set(names))
    if unknown:
        raise UsageError(
            f"[aws] in {CONFIG_FILE} has no option {unknown[0]!r}; the options are: "
            + ", ".join(names)
            + "."
        )
    values: dict[str, Any] = {}
    sources: dict[str, str] = {}
    for name in names:
        env = ENV_PREFIX + name.upper()
        given = (flags or {}).get(name)
        for source, value in (
            ("flag " + flag(name), given),
            (env, os.environ.get(env) or None),
            (CONFIG_FILE, toml.get(name)),
        ):
            if value is not None:
                values[name], sources[name] = value, source
                break
        else:
            sources[name] = "default"
    types = {f.name: str(f.type) for f in fields(AwsOptions)}
    for name, value in values.items():
        if types[name] in ("bool", "int"):
            try:
                kind = bool if types[name] == "bool" else int
                values[name] = TypeAdapter(kind).validate_python(value)
            except ValidationError as exc:
                problem = exc.errors()[0]["msg"].lower()
                raise UsageError(
                    f"{flag(name)} {value!r} (from {sources[name]}): {problem}."
                ) from None
        else:  # a TOML number such as glue_version = 5.1 is meant as text
            values[name] = str(value)
    try:
        return ResolvedOptions(AwsOptions(**values), sources)
    except UsageError as exc:  # say where the value came from
        culprit = next(n for n in values if str(exc).startswith(flag(n) + " "))
        raise UsageError(f"{str(exc).rstrip('.')} (from {sources[culprit]}).") from None


def describe(resolved: ResolvedOptions) -> list[tuple[str, str, str, str]]:
    """(flag, value, where it came from, what it does), one row per option, for `up --dry-run`."""
    rows = []
    for name, reason in OPTION_REASONS.items():
        value = getattr(resolved.options, name)
        shown = "on" if value is True else "off" if value is False else str(value or "—")
        rows.append((flag(name), shown, resolved.sources[name], reason))
    return rows
