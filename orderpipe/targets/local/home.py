"""The local home: the marker `up` writes, and a `down` that deletes only what orderpipe made.

A home is a folder holding `.orderpipe-home` (JSON naming the stack). `up` marks a new or empty
folder, or one that holds only orderpipe's own layout (a home from before markers existed), and
refuses any other. `down` refuses an unmarked folder and, in a marked one, deletes orderpipe's
folders by name and leaves everything else where it is. Each step names its file operation (`api`)
and carries its parameters, which `apply` passes to that operation.
"""

from __future__ import annotations

import contextlib
import json
import shutil
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path

from orderpipe.errors import OrderpipeError, UsageError
from orderpipe.fsutil import atomic_write, not_ours, read_json
from orderpipe.layout import HomeLayout
from orderpipe.targets.base import Action

_REPAIR = "if the folder is an orderpipe home, delete the file and run `orderpipe up` again."


def marked_stack(layout: HomeLayout) -> str | None:
    """The stack named by the home's marker; None when the folder carries none."""
    data = read_json(layout.marker, "the home marker", _REPAIR)
    if data is None:
        return None
    if not isinstance(data, dict) or not isinstance(data.get("stack"), str):
        raise not_ours(layout.marker, "the home marker", _REPAIR)
    return str(data["stack"])


def _check_owner(layout: HomeLayout, owner: str | None, stack: str) -> None:
    if owner is not None and owner != stack:
        raise UsageError(
            f"{layout.root} is the home of stack {owner!r}, not {stack!r}: pass --stack {owner} "
            "or another --home."
        )


def check_stack(layout: HomeLayout, stack: str) -> None:
    """Refuse to work on another stack's home (an unmarked one is let through)."""
    _check_owner(layout, marked_stack(layout), stack)


def check_adoptable(layout: HomeLayout) -> None:
    """An unmarked folder may become a home only when it holds nothing orderpipe did not make."""
    if not layout.root.is_dir():
        return
    foreign = sorted(p.name for p in layout.root.iterdir() if p not in layout.made)
    if foreign:
        shown = ", ".join(foreign[:3]) + (", …" if len(foreign) > 3 else "")
        raise UsageError(
            f"{layout.root} already holds files orderpipe did not make ({shown}); pass --home a "
            "new or empty folder."
        )


def _step(verb: str, path: Path, api: str, reason: str = "", **params: object) -> Action:
    kind = "folder" if api in {"mkdir", "rmtree", "rmdir"} or path.is_dir() else "file"
    return Action(verb, f"{kind} {path}", api, (("path", path), *params.items()), reason)


def plan_up(layout: HomeLayout, stack: str, folders: list[Path]) -> list[Action]:
    plan = [_step("create", p, "mkdir", "missing") for p in folders if not p.is_dir()]
    owner = marked_stack(layout)
    if owner is None:
        check_adoptable(layout)
        plan.append(_step("create", layout.marker, "mark", "marks the home", stack=stack))
    else:
        _check_owner(layout, owner, stack)
    return plan


def plan_down(
    layout: HomeLayout, stack: str, state: list[Path], data: list[Path], keep_data: bool
) -> list[Action]:
    """Delete `state` and (unless keep_data) `data`, then the home if nothing else is left in it;
    a "keep" step for everything left behind. Refuses a folder without the marker."""
    home = layout.root
    if not home.is_dir() or not any(home.iterdir()):
        return []
    owner = marked_stack(layout)
    if owner is None:
        raise OrderpipeError(
            f"{home} is not an orderpipe home (it has no {layout.marker.name} marker, which "
            "`orderpipe up` writes), so `down` deleted nothing there; check --home."
        )
    _check_owner(layout, owner, stack)
    ours = [*state, *([] if keep_data else data)]
    plan = [_step("delete", p, "rmtree") for p in ours if p.exists()]
    kept = [_step("keep", p, "", "--keep-data") for p in data if keep_data and p.exists()]
    containers = sorted({p.parent for p in [*state, *data]} - {home})  # e.g. home/buckets
    known = {*state, *data, *containers, layout.marker}
    for folder in [*containers, home]:
        others = [c for c in sorted(folder.iterdir()) if c not in known] if folder.is_dir() else []
        kept += [_step("keep", c, "", "not made by `orderpipe up`") for c in others]
        if folder in containers and folder.is_dir() and not others and not keep_data:
            plan.append(_step("delete", folder, "rmdir", "now empty"))
    if not kept:  # nothing else lives here: the marker and the home itself go too
        plan.append(_step("delete", layout.marker, "unlink", "the home's marker"))
        plan.append(_step("delete", home, "rmdir", "the home itself, now empty"))
    return plan + kept


def _mark(path: Path, stack: str) -> None:
    body = {"orderpipe": "home", "stack": stack,
            "created_at": datetime.now(UTC).isoformat(timespec="seconds")}  # fmt: skip
    atomic_write(path, json.dumps(body, indent=1).encode())


def _rmdir(path: Path) -> None:
    """Only when empty: something that appeared meanwhile stays."""
    with contextlib.suppress(OSError):
        path.rmdir()


OPERATIONS: dict[str, Callable[..., None]] = {
    "mkdir": lambda path: path.mkdir(parents=True, exist_ok=True),
    "mark": _mark,
    "rmtree": lambda path: shutil.rmtree(path, ignore_errors=True),
    "unlink": lambda path: path.unlink(missing_ok=True),
    "rmdir": _rmdir,
}


def apply(action: Action) -> None:
    """Run a step's operation with its parameters ("keep" steps have none)."""
    if action.api:
        OPERATIONS[action.api](**action.kwargs)
