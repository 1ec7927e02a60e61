"""A clip's files are published as one set: killed at any step, the publish leaves renders/ with
the old complete set or the new one (and the next run finishes a committed set), never a mix
once recovered, never nothing, never a temporary file.

The kill is real: the publish runs in a forked child that ``os._exit``s (no clean-up, no
``finally``) at its k-th file operation, for every k up to the number the publish makes."""

from __future__ import annotations

import os
import shutil
import signal
from pathlib import Path

import pytest

from scenes import publish as sets

CLIP = "step9_example"
OPERATIONS = (
    (os, "replace"),
    (os, "fsync"),
    (os, "mkdir"),
    (os, "rmdir"),
    (os, "unlink"),
    (shutil, "copyfile"),
    (shutil, "rmtree"),
)


@pytest.fixture
def folders(tmp_path: Path) -> dict[str, Path]:
    return make_folders(tmp_path)


def make_folders(root: Path) -> dict[str, Path]:
    """renders/, records/ and publish/ under ``root``, with an old complete set published."""
    folders = {name: root / name for name in ("renders", "records", "publish")}
    write_set(folders, "old")
    return folders


def write_set(folders: dict[str, Path], version: str) -> None:
    """A complete published set whose every file says ``version``."""
    paths = sets.set_paths(CLIP, folders["renders"], folders["records"])
    for kind, path in paths.items():
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(f"{version} {kind}")


def publish_new_set(folders: dict[str, Path]) -> None:
    """What a render does after Manim: recover, stage the new set, commit, install."""
    with sets.clip_lock(CLIP, folders["publish"], announce=lambda line: None):
        sets.recover(CLIP, folders["renders"], folders["records"], folders["publish"])
        staging = sets.staging_dir(CLIP, folders["publish"])
        staged = {}
        for kind in sets.CLIP_FILES:
            staged[kind] = staging / f"{CLIP}.{kind}"
            with (staging / f"{CLIP}.{kind}.source").open("w") as source:
                source.write(f"new {kind}")
            shutil.copyfile(staging / f"{CLIP}.{kind}.source", staged[kind])
            os.unlink(staging / f"{CLIP}.{kind}.source")
        staged["record"] = staging / f"{CLIP}.json"
        staged["record"].write_text("new record")
        sets.commit(CLIP, staged, folders["publish"])
        sets.install(CLIP, folders["renders"], folders["records"], folders["publish"])


def killed_at(operation: int, folders: dict[str, Path]) -> int:
    """Run the publish in a child killed at its ``operation``-th file operation (counting from
    1; 0: never). Returns how many operations the child made (it exits with that count)."""
    pid = os.fork()
    if pid == 0:  # the child: count operations, die at the chosen one
        count = [0]

        def counted(function):
            def wrapper(*args, **kwargs):
                count[0] += 1
                if count[0] == operation:
                    os._exit(137)
                return function(*args, **kwargs)

            return wrapper

        for module, name in OPERATIONS:
            setattr(module, name, counted(getattr(module, name)))
        try:
            publish_new_set(folders)
        except BaseException:
            os._exit(1)
        os._exit(min(count[0], 100))
    _, status = os.waitpid(pid, 0)
    return os.waitstatus_to_exitcode(status)


def state(folders: dict[str, Path]) -> str:
    """ "old" or "new" for a complete set of one version; else what is wrong."""
    paths = sets.set_paths(CLIP, folders["renders"], folders["records"])
    versions = {
        path.read_text().split()[0] if path.exists() else "missing" for path in paths.values()
    }
    return versions.pop() if len(versions) == 1 else "mixed: " + ", ".join(sorted(versions))


def temporary_files(folders: dict[str, Path]) -> list[str]:
    return [p.name for folder in ("renders", "records") for p in folders[folder].iterdir()
            if p.name.startswith(".")]  # fmt: skip


def test_an_uninterrupted_publish_replaces_the_set(folders) -> None:
    operations = killed_at(0, folders)
    assert 10 < operations < 100
    assert state(folders) == "new"
    assert sorted(p.name for p in folders["publish"].iterdir()) == [f"{CLIP}.lock"]


def test_a_kill_at_any_step_leaves_the_old_set_or_the_new_one(tmp_path: Path) -> None:
    total = killed_at(0, make_folders(tmp_path / "count"))
    seen = set()
    for operation in range(1, total + 1):
        folders = make_folders(tmp_path / str(operation))
        assert killed_at(operation, folders) == 137, f"the child was not killed at {operation}"
        committed = (folders["publish"] / f"{CLIP}.ready").exists()
        before = state(folders)
        # Before recovery: never nothing, never a temporary file of ours in renders/; a mix only
        # while a committed set is being installed.
        assert temporary_files(folders) == [], operation
        assert before in ("old", "new") or (committed and before.startswith("mixed")), (
            f"killed at operation {operation}: {before}"
        )
        sets.recover(CLIP, folders["renders"], folders["records"], folders["publish"])
        after = state(folders)
        assert after == ("new" if committed else before), f"killed at {operation}: {after}"
        publish = folders["publish"]
        leftovers = [p.name for p in publish.glob("*") if not p.name.endswith(".lock")]
        assert leftovers == [], f"killed at {operation}: {leftovers}"
        seen.add(after)
        # The next render then publishes the new set whatever was left.
        assert killed_at(0, folders) > 0 and state(folders) == "new"
    assert seen == {"old", "new"}, "both outcomes must occur over the kill points"


def test_ctrl_c_during_the_install_waits_for_the_renames(folders) -> None:
    """SIGINT in the middle of the install is delivered after it: the set is whole."""
    real_replace, calls = os.replace, [0]

    def interrupting_replace(source, destination):
        calls[0] += 1
        if calls[0] == 3:  # the commit's rename, then two files installed
            os.kill(os.getpid(), signal.SIGINT)
        return real_replace(source, destination)

    os.replace = interrupting_replace
    try:
        with pytest.raises(KeyboardInterrupt):
            publish_new_set(folders)
    finally:
        os.replace = real_replace
    assert calls[0] >= 6
    assert state(folders) == "new"


def test_recover_sweeps_temporary_files_of_stopped_writers_only(folders) -> None:
    renders = folders["renders"]
    dead = renders / f".{CLIP}.{2**22 + 12345}.partial.png"  # no such process
    alive = renders / f".{CLIP}.{os.getpid()}.partial.png"
    dead.write_text("half"), alive.write_text("being written")
    sets.recover(CLIP, renders, folders["records"], folders["publish"])
    assert not dead.exists() and alive.exists()


def test_commit_refuses_an_incomplete_set(folders) -> None:
    staging = sets.staging_dir(CLIP, folders["publish"])
    staged = {kind: staging / f"{CLIP}.{kind}" for kind in ("mp4", "srt")}
    for path in staged.values():
        path.write_text("new")
    with pytest.raises(ValueError, match=r"lacks vtt, chapters\.vtt, png, record"):
        sets.commit(CLIP, staged, folders["publish"])
    assert state(folders) == "old"
