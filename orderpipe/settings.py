"""One settings object: flags > ORDERPIPE_* environment > orderpipe.toml > defaults.

Every resource name derives from the stack (and, on AWS, the account and region), so any
machine finds the same resources with no local state.
"""

from __future__ import annotations

import contextlib
import os
import re
from dataclasses import dataclass
from enum import StrEnum
from pathlib import Path
from typing import Any

from pydantic import Field, field_validator
from pydantic_settings import (
    BaseSettings,
    PydanticBaseSettingsSource,
    SettingsConfigDict,
    TomlConfigSettingsSource,
)

from orderpipe.errors import UsageError
from orderpipe.job.transform import FX_RATE, HIGH_VALUE_THRESHOLD

CONFIG_FILE = "orderpipe.toml"
# S3 refuses bucket names with these (general purpose bucket naming rules).
RESERVED_BUCKET_PREFIXES = ("xn--", "sthree-", "amzn-s3-demo-")
RESERVED_BUCKET_SUFFIXES = ("-s3alias", "--ol-s3", "--x-s3", "--table-s3", ".mrap")
# Folders a home must never be: `down` would empty them.
_SYSTEM_FOLDERS = {
    Path(p)
    for p in ("/", "/bin", "/boot", "/dev", "/etc", "/home", "/lib", "/lib64", "/media", "/mnt",
              "/opt", "/proc", "/root", "/run", "/sbin", "/srv", "/sys", "/tmp", "/usr", "/var",
              "/Applications", "/Library", "/System", "/Users", "/Volumes", "/private")
}  # fmt: skip


class TargetName(StrEnum):
    local = "local"
    aws = "aws"


class EngineName(StrEnum):
    """The local target's ETL engine (the aws target always runs the Glue job, on Spark)."""

    duckdb = "duckdb"
    spark = "spark"


class Settings(BaseSettings):
    """Global options shared by every command."""

    model_config = SettingsConfigDict(
        env_prefix="ORDERPIPE_", toml_file=CONFIG_FILE, extra="ignore", frozen=True
    )

    target: TargetName = TargetName.local
    stack: str = "orderpipe"
    home: Path = Path(".orderpipe")
    region: str | None = None
    profile: str | None = None
    debug: bool = False
    fx_rate: float = Field(default=FX_RATE, gt=0)
    high_value_threshold: float = HIGH_VALUE_THRESHOLD
    engine: EngineName = EngineName.duckdb

    @field_validator("stack")
    @classmethod
    def _valid_stack(cls, value: str) -> str:
        if not re.fullmatch(r"[a-z][a-z0-9-]{0,19}", value):
            raise ValueError(
                "must start with a letter and hold at most 20 lower-case letters, digits or "
                "hyphens (it prefixes S3 bucket names)"
            )
        reserved = [p for p in RESERVED_BUCKET_PREFIXES if value.startswith(p)]
        reserved += [s for s in RESERVED_BUCKET_SUFFIXES if value.endswith(s)]
        if reserved:
            raise ValueError(f"must not use {reserved[0]!r}: S3 reserves it in bucket names")
        return value

    @field_validator("home", mode="before")
    @classmethod
    def _valid_home(cls, value: Any) -> Any:
        if isinstance(value, str | Path) and not str(value).strip():
            raise ValueError("must name a folder (an empty value would mean the current one)")
        return value

    @field_validator("home")
    @classmethod
    def _safe_home(cls, value: Path) -> Path:
        where = value.expanduser().resolve()
        if where in _SYSTEM_FOLDERS or where == Path.home().resolve():
            raise ValueError(f"{where} is a system or personal folder; use a folder of its own")
        if where.exists() and not where.is_dir():
            raise ValueError(f"{where} is a file; the home must be a folder")
        return value

    @classmethod
    def settings_customise_sources(
        cls,
        settings_cls: type[BaseSettings],
        init_settings: PydanticBaseSettingsSource,
        env_settings: PydanticBaseSettingsSource,
        dotenv_settings: PydanticBaseSettingsSource,
        file_secret_settings: PydanticBaseSettingsSource,
    ) -> tuple[PydanticBaseSettingsSource, ...]:
        return (init_settings, env_settings, TomlConfigSettingsSource(settings_cls))

    @property
    def names(self) -> StackNames:
        return StackNames(self.stack)


def load_settings(**flags: Any) -> Settings:
    """Settings from flags given on the command line (None means 'not given')."""
    return Settings(**{k: v for k, v in flags.items() if v is not None})


def setting_source(name: str, flags: dict[str, Any]) -> str:
    """Where a global setting's value came from, for an error about it: the flag, the variable,
    or orderpipe.toml and its line."""
    if flags.get(name) is not None:
        return f"--{name.replace('_', '-')}"
    variable = f"ORDERPIPE_{name.upper()}"
    if variable in os.environ:
        return variable
    path = Path(CONFIG_FILE).absolute()
    with contextlib.suppress(OSError, UnicodeDecodeError):
        for number, line in enumerate(path.read_text(encoding="utf-8").splitlines(), 1):
            if re.match(rf"\s*{re.escape(name)}\s*=", line):
                return f"{name} in {path} line {number}"
    return name


def config_file_error(exc: ValueError | OSError) -> UsageError:
    """One sentence naming orderpipe.toml, and the line, for a file that cannot be read as TOML."""
    path = Path(CONFIG_FILE).absolute()
    if isinstance(exc, UnicodeDecodeError):
        line = path.read_bytes()[: exc.start].count(b"\n") + 1
        reason = f"is not UTF-8 text (byte 0x{exc.object[exc.start]:02x} on line {line})"
    elif isinstance(exc, OSError):
        reason = f"cannot be read ({exc.strerror or exc})"
    else:  # tomllib.TOMLDecodeError says "… (at line L, column C)"
        reason = f"is not valid TOML: {exc}"
    return UsageError(f"{path} {reason}; fix the file or move it away, then run again.")


@dataclass(frozen=True)
class StackNames:
    """Names of everything a stack owns, derived from the stack name alone (plus account/region
    for globally unique S3 bucket names)."""

    stack: str

    @property
    def database(self) -> str:
        # Athena rejects hyphens in database names.
        return self.stack.replace("-", "_")

    @property
    def delivery_stream(self) -> str:
        return f"{self.stack}-orders"

    @property
    def crawler(self) -> str:
        return f"{self.stack}-raw-crawler"

    @property
    def job(self) -> str:
        return f"{self.stack}-transform-order-history"

    @property
    def workgroup(self) -> str:
        return f"{self.stack}-workgroup"

    @property
    def raw_table(self) -> str:
        return "raw"

    def bucket(self, role: str, account: str | None = None, region: str | None = None) -> str:
        """`role` is raw, lake, scripts or athena-results. Locally the bucket is a folder."""
        if account is None:
            return f"{self.stack}-{role}"
        return f"{self.stack}-{role}-{account}-{region}"

    def role(self, service: str) -> str:
        return f"{self.stack}-{service}-role"

    @property
    def tag(self) -> dict[str, str]:
        return {"orderpipe:stack": self.stack}


BUCKET_ROLES = ("raw", "lake", "scripts", "athena-results")
RAW_PREFIX = "raw/"
FIREHOSE_PREFIX = (
    "raw/year=!{timestamp:yyyy}/month=!{timestamp:MM}/day=!{timestamp:dd}/hour=!{timestamp:HH}/"
)
FIREHOSE_ERROR_PREFIX = (
    "errors/!{firehose:error-output-type}/"
    "year=!{timestamp:yyyy}/month=!{timestamp:MM}/day=!{timestamp:dd}/"
)
