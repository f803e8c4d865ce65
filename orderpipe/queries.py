"""Named queries from templates/queries.sql, and binding `--param k=v` as real parameters.

The SQL writes parameters as `:name`; `bind()` turns them into positional `?` placeholders with
the values in order — the form both DuckDB and Athena's ExecutionParameters take. Values are
never spliced into the SQL text.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from pathlib import Path

from orderpipe.errors import UsageError
from orderpipe.paths import TEMPLATES

QUERIES_FILE = TEMPLATES / "queries.sql"
# `:name` outside string literals ('…') and not part of a `::` cast.
_PARAM = re.compile(r"'(?:[^']|'')*'|(?<![:\w]):([a-z_][a-z0-9_]*)")

Value = int | float | str


@dataclass(frozen=True)
class NamedQuery:
    name: str
    sql: str
    help: str = ""
    defaults: dict[str, Value] = field(default_factory=dict)


def parse_value(text: str) -> Value:
    """`10` → 10, `2.5` → 2.5, anything else stays a string."""
    for kind in (int, float):
        try:
            return kind(text)
        except ValueError:
            pass
    return text


def load(path: Path = QUERIES_FILE) -> dict[str, NamedQuery]:
    queries: dict[str, NamedQuery] = {}
    for block in re.split(r"^-- name:", path.read_text(encoding="utf-8"), flags=re.M)[1:]:
        name, _, rest = block.partition("\n")
        meta = dict(re.findall(r"^-- (help|params): *(.*)$", rest, flags=re.M))
        sql = "\n".join(line for line in rest.splitlines() if not line.startswith("--"))
        defaults = {
            k.strip(): parse_value(v.strip())
            for k, _, v in (p.partition("=") for p in meta.get("params", "").split(",") if p)
        }
        queries[name.strip()] = NamedQuery(
            name.strip(), sql.strip().rstrip(";"), meta.get("help", ""), defaults
        )
    return queries


def parse_params(pairs: list[str]) -> dict[str, Value]:
    params: dict[str, Value] = {}
    for pair in pairs:
        key, sep, value = pair.partition("=")
        if not sep or not re.fullmatch(r"[a-z_][a-z0-9_]*", key):
            raise UsageError(f"--param takes key=value (a lower-case name), got {pair!r}.")
        params[key] = parse_value(value)
    return params


def bind(sql: str, params: dict[str, Value]) -> tuple[str, list[Value]]:
    """`:name` placeholders → `?`, with the values in order. Unknown or missing names fail."""
    values: list[Value] = []

    def placeholder(match: re.Match[str]) -> str:
        name = match.group(1)
        if name is None:  # a string literal: leave it alone
            return match.group(0)
        if name not in params:
            raise UsageError(f"the query needs --param {name}=VALUE.")
        values.append(params[name])
        return "?"

    return _PARAM.sub(placeholder, sql), values


def resolve(query: NamedQuery, overrides: dict[str, Value]) -> tuple[str, list[Value]]:
    unknown = set(overrides) - set(query.defaults)
    if unknown:
        known = ", ".join(sorted(query.defaults)) or "none"
        raise UsageError(
            f"query {query.name} has no parameter {', '.join(sorted(unknown))} (it takes: {known})."
        )
    return bind(query.sql, {**query.defaults, **overrides})
