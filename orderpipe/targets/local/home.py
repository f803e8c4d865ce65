"""The local home: the marker `up` writes, and a `down` that deletes only what orderpipe made.

A home is a folder holding `.orderpipe-home` (JSON naming the stack). `up` marks a new or empty
folder, or one that holds only orderpipe's own layout (a home from before markers existed), and
refuses any other. `down` refuses an unmarked folder and, in a marked one, deletes orderpipe's
folders by name and leaves everything else where it is.
"""

from __future__ import annotations

import contextlib
import json
import shutil
from datetime import UTC, datetime
from pathlib import Path

from orderpipe.errors import OrderpipeError, UsageError
from orderpipe.fsutil import atomic_write, not_ours, read_json
from orderpipe.targets.base import Action

MARKER = ".orderpipe-home"
# Everything orderpipe itself creates directly in a home (the aws target keeps its state here too).
LAYOUT = frozenset({MARKER, "logs", "state", "buckets", "aws-state"})
_REPAIR = "if the folder is an orderpipe home, delete the file and run `orderpipe up` again."


def marker(home: Path) -> Path:
    return home / MARKER


def marked_stack(home: Path) -> str | None:
    """The stack named by the home's marker; None when the folder carries none."""
    data = read_json(marker(home), "the home marker", _REPAIR)
    if data is None:
        return None
    if not isinstance(data, dict) or not isinstance(data.get("stack"), str):
        raise not_ours(marker(home), "the home marker", _REPAIR)
    return str(data["stack"])


def check_stack(home: Path, stack: str) -> None:
    """Refuse to work on another stack's home (an unmarked one is let through)."""
    owner = marked_stack(home)
    if owner is not None and owner != stack:
        raise UsageError(
            f"{home} is the home of stack {owner!r}, not {stack!r}: pass --stack {owner} "
            "or another --home."
        )


def check_adoptable(home: Path) -> None:
    """An unmarked folder may become a home only when it holds nothing orderpipe did not make."""
    if not home.is_dir():
        return
    foreign = sorted(p.name for p in home.iterdir() if p.name not in LAYOUT)
    if foreign:
        shown = ", ".join(foreign[:3]) + (", …" if len(foreign) > 3 else "")
        raise UsageError(
            f"{home} already holds files orderpipe did not make ({shown}); pass --home a new "
            "or empty folder."
        )


def _step(verb: str, kind: str, path: Path, op: str, reason: str = "") -> Action:
    return Action(verb, f"{kind} {path}", reason=reason, params=(("op", op), ("path", str(path))))


def plan_up(home: Path, stack: str, folders: list[Path]) -> list[Action]:
    plan = [_step("create", "folder", p, "mkdir", "missing") for p in folders if not p.is_dir()]
    if marked_stack(home) is None:
        check_adoptable(home)
        plan.append(_step("create", "file", marker(home), f"mark:{stack}", "marks the home"))
    else:
        check_stack(home, stack)
    return plan


def plan_down(
    home: Path, stack: str, state: list[Path], data: list[Path], keep_data: bool
) -> list[Action]:
    """Delete `state` and (unless keep_data) `data`, then the home if nothing else is left in it;
    a "keep" step for everything left behind. Refuses a folder without the marker."""
    if not home.is_dir() or not any(home.iterdir()):
        return []
    if marked_stack(home) is None:
        raise OrderpipeError(
            f"{home} is not an orderpipe home (it has no {MARKER} marker, which `orderpipe up` "
            "writes), so `down` deleted nothing there; check --home."
        )
    check_stack(home, stack)
    ours = [*state, *([] if keep_data else data)]
    plan = [_step("delete", "folder", p, "rmtree") for p in ours if p.exists()]
    kept = [_step("keep", "folder", p, "", "--keep-data") for p in data if keep_data and p.exists()]
    containers = sorted({p.parent for p in [*state, *data]} - {home})  # e.g. home/buckets
    known = {*state, *data, *containers, marker(home)}
    for folder in [*containers, home]:
        others = [c for c in sorted(folder.iterdir()) if c not in known] if folder.is_dir() else []
        kept += [_foreign(c) for c in others]
        if folder in containers and folder.is_dir() and not others and not keep_data:
            plan.append(_step("delete", "folder", folder, "rmdir", "now empty"))
    if not kept:  # nothing else lives here: the marker and the home itself go too
        plan.append(_step("delete", "file", marker(home), "unlink", "the home's marker"))
        plan.append(_step("delete", "folder", home, "rmdir", "the home itself, now empty"))
    return plan + kept


def _foreign(path: Path) -> Action:
    kind = "folder" if path.is_dir() else "file"
    return _step("keep", kind, path, "", "not made by `orderpipe up`")


def apply(action: Action) -> None:
    op, path = action.kwargs.get("op", ""), Path(action.kwargs.get("path", ""))
    if op == "mkdir":
        path.mkdir(parents=True, exist_ok=True)
    elif op.startswith("mark:"):
        body = {"orderpipe": "home", "stack": op.removeprefix("mark:"),
                "created_at": datetime.now(UTC).isoformat(timespec="seconds")}  # fmt: skip
        atomic_write(path, json.dumps(body, indent=1).encode())
    elif op == "rmtree":
        shutil.rmtree(path, ignore_errors=True)
    elif op == "unlink":
        path.unlink(missing_ok=True)
    elif op == "rmdir":  # only when empty: something that appeared meanwhile stays
        with contextlib.suppress(OSError):
            path.rmdir()
