"""Reading the render's caches (build/cache): an entry that does not load is discarded, with one
line saying so, and the caller computes it again. A cache never stops a render."""

from __future__ import annotations

import json
import sys
from collections.abc import Callable
from pathlib import Path
from typing import TypeVar

T = TypeVar("T")


def read_cache(
    path: Path, parse: Callable[[object], T], announce: Callable[[str], None] | None = None
) -> T | None:
    """``parse`` of the JSON in ``path``; None when there is no entry, or when the entry does not
    read (truncated, not UTF-8, not JSON, or refused by ``parse`` with ValueError, TypeError or
    KeyError): such an entry is removed, and ``announce`` (default: stderr) told why."""
    if not path.exists():
        return None
    try:
        return parse(json.loads(path.read_text(encoding="utf-8")))
    except (OSError, UnicodeDecodeError, ValueError, TypeError, KeyError) as error:
        reason = str(error).splitlines()[0] if str(error) else type(error).__name__
        (announce or _to_stderr)(
            f"discarded an unreadable cache entry, computing it again: {path} ({reason})"
        )
        path.unlink(missing_ok=True)
        return None


def _to_stderr(line: str) -> None:
    print(line, file=sys.stderr, flush=True)
