"""Publishing a clip's files into renders/ as one set: the old complete set or the new one.

A clip is six files: ``<clip>.mp4``, ``.srt``, ``.vtt``, ``.chapters.vtt``, ``.png`` in renders/
and its record, ``build/clips/<clip>.json``. A render makes the new set in a staging folder,
``build/publish/<clip>.staging/``, and publishes it in two moves:

1. commit: the staging folder, complete (every file written and flushed to disk), is renamed to
   ``build/publish/<clip>.ready/`` — one rename, so it either happened or did not;
2. install: each file of ``<clip>.ready/`` is renamed into place, the record last, then the
   folder is removed.

An interruption before the commit leaves renders/ as it was (the staging folder is debris, swept
on the next run); an interruption after it is finished by ``recover``, which every render and the
manifest run first: a ``.ready`` folder is always installed in full. Renames within one file
system never expose half a file, and renders/ never holds a temporary file of ours.
"""

from __future__ import annotations

import fcntl
import hashlib
import os
import shutil
import signal
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

PUBLISH_DIR = Path("build/publish")
CLIP_FILES = ("mp4", "srt", "vtt", "chapters.vtt", "png")


def set_paths(clip: str, out_dir: Path, records_dir: Path) -> dict[str, Path]:
    """Where each file of the clip's set lives once published: kind → path."""
    return {
        **{kind: Path(out_dir) / f"{clip}.{kind}" for kind in CLIP_FILES},
        "record": Path(records_dir) / f"{clip}.json",
    }


def digest(path: Path) -> str:
    """sha256 of a file's bytes: the record names the files of its set by content."""
    hasher = hashlib.sha256()
    with Path(path).open("rb") as file:
        for block in iter(lambda: file.read(1 << 20), b""):
            hasher.update(block)
    return hasher.hexdigest()


@contextmanager
def clip_lock(clip: str, publish_dir: Path = PUBLISH_DIR, announce=print) -> Iterator[None]:
    """Hold the clip's lock: two renders of one clip (two shells, ``make -j``) take turns."""
    publish_dir.mkdir(parents=True, exist_ok=True)
    with (publish_dir / f"{clip}.lock").open("w") as lock:
        try:
            fcntl.flock(lock, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            announce(f"{clip}: waiting for another render of {clip} to finish")
            fcntl.flock(lock, fcntl.LOCK_EX)
        yield


def staging_dir(clip: str, publish_dir: Path = PUBLISH_DIR) -> Path:
    """A fresh, empty staging folder for the clip's new set (debris of an earlier run removed)."""
    staging = publish_dir / f"{clip}.staging"
    shutil.rmtree(staging, ignore_errors=True)
    staging.mkdir(parents=True)
    return staging


def commit(clip: str, staged: dict[str, Path], publish_dir: Path = PUBLISH_DIR) -> Path:
    """Make the staged set the one to install: every file flushed to disk, then one rename of the
    staging folder to ``<clip>.ready``. ``staged`` maps each kind of the set to its file, which
    must lie in the staging folder."""
    staging = publish_dir / f"{clip}.staging"
    missing = [kind for kind in (*CLIP_FILES, "record") if kind not in staged]
    if missing:
        raise ValueError(f"the set of {clip} lacks {', '.join(missing)}")
    for kind, path in staged.items():
        if Path(path).parent != staging:
            raise ValueError(f"{kind} of {clip} is not in {staging}: {path}")
        _flush(path)
    _flush_directory(staging)
    ready = publish_dir / f"{clip}.ready"
    os.replace(staging, ready)
    _flush_directory(publish_dir)
    return ready


def install(clip: str, out_dir: Path, records_dir: Path, publish_dir: Path = PUBLISH_DIR) -> bool:
    """Move a committed set of the clip into place (what is left of it, after an interruption),
    the record last. Ctrl-C and SIGTERM wait until the renames are done (microseconds); only a
    SIGKILL can stop them half way, and ``recover`` finishes them. Returns whether there was a
    committed set."""
    ready = publish_dir / f"{clip}.ready"
    if not ready.is_dir():
        return False
    destinations = set_paths(clip, out_dir, records_dir)
    with _signals_deferred():
        for kind in (*CLIP_FILES, "record"):  # the record last: it names a complete set
            source = ready / destinations[kind].name
            if source.exists():
                destinations[kind].parent.mkdir(parents=True, exist_ok=True)
                _move(source, destinations[kind])
        shutil.rmtree(ready)
    return True


@contextmanager
def _signals_deferred() -> Iterator[None]:
    """SIGINT and SIGTERM noted during the block and raised again after it (Python runs signal
    handlers in the main thread only; elsewhere the block runs as it is)."""
    if threading.current_thread() is not threading.main_thread():
        yield
        return
    received: list[int] = []
    held = (signal.SIGINT, signal.SIGTERM)
    previous = {
        sig: signal.signal(sig, lambda number, frame: received.append(number)) for sig in held
    }
    try:
        yield
    finally:
        for sig, handler in previous.items():
            signal.signal(sig, handler)
        for sig in received:
            signal.raise_signal(sig)


def recover(clip: str, out_dir: Path, records_dir: Path, publish_dir: Path = PUBLISH_DIR) -> str:
    """Finish what an interrupted publish of the clip left: install a committed set, remove an
    uncommitted staging folder and temporary files in ``out_dir`` whose writer is gone. Returns
    what it did, in words ("" when there was nothing to do)."""
    done = []
    if install(clip, out_dir, records_dir, publish_dir):
        done.append("installed the set an interrupted render had committed")
    staging = publish_dir / f"{clip}.staging"
    if staging.exists():
        shutil.rmtree(staging, ignore_errors=True)
        done.append("removed an interrupted render's staging folder")
    swept = sweep_partials(Path(out_dir))
    if swept:
        done.append(f"removed {len(swept)} temporary file(s) of stopped writers")
    return "; ".join(done)


def sweep_partials(folder: Path) -> list[Path]:
    """Remove ``.<name>.<pid>.partial<suffix>`` files (``lab.files.written_atomically``) whose
    process no longer runs: a writer killed before its rename."""
    swept = []
    for path in Path(folder).glob(".*.partial*"):
        pid = path.name.split(".partial")[0].rsplit(".", 1)[-1]
        if pid.isdigit() and not _running(int(pid)):
            path.unlink(missing_ok=True)
            swept.append(path)
    return swept


def _running(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def _move(source: Path, destination: Path) -> None:
    try:
        os.replace(source, destination)
    except OSError:  # another file system: copy beside the destination, then rename
        partial = destination.with_name(f".{destination.name}.{os.getpid()}.partial")
        shutil.copyfile(source, partial)
        _flush(partial)
        os.replace(partial, destination)
        source.unlink()


def _flush(path: Path) -> None:
    with Path(path).open("rb") as file:
        os.fsync(file.fileno())


def _flush_directory(path: Path) -> None:
    descriptor = os.open(path, os.O_RDONLY)
    try:
        os.fsync(descriptor)
    finally:
        os.close(descriptor)
