"""Files: written so that nobody ever reads half of one; sources digested for cache keys."""

from __future__ import annotations

import hashlib
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


def source_digest(*directories: Path) -> str:
    """A short digest of every Python source under ``directories``: names and contents. Caches
    keyed by it go stale exactly when code they depend on changes."""
    digest = hashlib.sha256()
    for directory in directories:
        for path in sorted(Path(directory).rglob("*.py")):
            digest.update(str(path.relative_to(directory)).encode() + b"\0" + path.read_bytes())
    return digest.hexdigest()[:16]
