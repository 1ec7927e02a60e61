"""Writing files so that nobody ever reads half of one."""

from __future__ import annotations

import os
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path


@contextmanager
def written_atomically(destination: Path) -> Iterator[Path]:
    """Yield a temporary path beside ``destination``; it replaces ``destination`` in one rename
    when the block succeeds, and is removed when it fails. A reader (or a second process, under
    ``make -j``) sees the old file or the new one, never a half-written one, and an interrupted
    write leaves the old file as it was. The temporary name keeps the suffix, for writers that read
    the format from it, and carries the process id, so two writers never share one."""
    destination = Path(destination)
    destination.parent.mkdir(parents=True, exist_ok=True)
    partial = destination.with_name(
        f".{destination.stem}.{os.getpid()}.partial{destination.suffix}"
    )
    try:
        yield partial
        os.replace(partial, destination)
    finally:
        partial.unlink(missing_ok=True)


def write_text_atomically(destination: Path, text: str) -> None:
    with written_atomically(destination) as partial:
        partial.write_text(text, encoding="utf-8")
