"""scenes/catalog.py is the one list of clips: make and the lecture follow it."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

from scenes.catalog import CLIPS, LECTURE, lecture_clips

ROOT = Path(__file__).resolve().parents[1]


def run(command: list[str], cwd: Path) -> str:
    result = subprocess.run(command, cwd=cwd, capture_output=True, text=True)
    assert result.returncode == 0, f"{' '.join(command)} failed:\n{result.stderr}"
    return result.stdout


def clips_in_make_help(cwd: Path) -> list[str]:
    help_text = run(["make", "help"], cwd)
    return help_text.split("clips:", 1)[1].split()


def test_makefile_lists_the_catalog_clips() -> None:
    assert clips_in_make_help(ROOT) == [clip.name for clip in CLIPS]
    for clip in CLIPS:
        assert (ROOT / clip.source).exists()


def test_make_stops_when_it_cannot_read_the_catalog() -> None:
    result = subprocess.run(
        ["make", "help", "PYTHON=false"], cwd=ROOT, capture_output=True, text=True
    )
    assert result.returncode != 0
    assert "cannot read the clips: 'false scenes/catalog.py names' failed" in result.stderr


def test_the_catalog_needs_no_installed_package() -> None:
    # -I -S: no site-packages, no PYTHONPATH, not even the script's folder on the path: the
    # standard library alone, as make has it before the virtualenv exists.
    command = [sys.executable, "-I", "-S", "scenes/catalog.py"]
    assert run([*command, "names"], ROOT).split() == [clip.name for clip in CLIPS]
    assert run([*command, "lecture"], ROOT).split() == [clip.name for clip in lecture_clips()]


def test_chapters_number_the_lecture_clips_in_order() -> None:
    assert [clip.chapter for clip in lecture_clips()] == list(range(1, len(lecture_clips()) + 1))
    assert LECTURE not in lecture_clips() and LECTURE.chapter is None
    assert CLIPS[-1] == LECTURE  # make renders it after the clips it plays
    assert len({clip.name for clip in CLIPS}) == len(CLIPS)
