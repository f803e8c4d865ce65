"""Reading one JSON line with bounded work: the crawler and replay never recurse on data.

A raw record is one flat JSON object. A line that is longer than any Firehose record, or nested
deeper than any order could be, is not parsed at all: it stays just a line (the job quarantines
it as `malformed`), so no input can exhaust the stack or the memory of the reader.
"""

from __future__ import annotations

import json
import re
from typing import Any

MAX_LINE_BYTES = 1000 * 1024  # Firehose's record limit: no longer line reaches the job
MAX_DEPTH = 32  # an order is depth 1; anything far deeper is not an order
_STRING = re.compile(r'"(?:[^"\\]|\\.)*"', re.DOTALL)
_BRACKETS = re.compile(r"[\[\]{}]")


def too_deep(text: str) -> bool:
    """True when the arrays and objects of a JSON text nest deeper than MAX_DEPTH (strings
    ignored); found by counting, never by recursion."""
    if text.count("{") + text.count("[") <= MAX_DEPTH:
        return False
    depth = 0
    for bracket in _BRACKETS.findall(_STRING.sub("", text)):
        depth += 1 if bracket in "[{" else -1
        if depth > MAX_DEPTH:
            return True
    return False


def loads_bounded(line: str | bytes) -> Any:
    """The parsed JSON value of `line`, or None when it is not JSON, too long or too deep."""
    if len(line) > MAX_LINE_BYTES:
        return None
    text = line.decode("utf-8", "replace") if isinstance(line, bytes) else line
    if too_deep(text):
        return None
    try:
        return json.loads(text)
    except ValueError:
        return None
