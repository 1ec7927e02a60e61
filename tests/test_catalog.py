"""scenes/catalog.py is the one list of clips: make, the lecture and the snapshot tests follow it,
and a new clip needs only its scene file and its catalog entry."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

from scenes.catalog import CLIPS, LECTURE, find_clip, lecture_clips

ROOT = Path(__file__).resolve().parents[1]

NEW_CLIP = "throwaway_topic"
NEW_ENTRY = f'    Clip("{NEW_CLIP}", "ThrowawayTopic", "A throwaway topic"),\n'
NEW_SCENE = f'''"""A topic clip that only exists in a test."""

from scenes.base import ClaimScene
from scenes.catalog import find_clip
from scenes.widgets import heading

CLIP = find_clip("{NEW_CLIP}")


def present(scene: ClaimScene) -> None:
    scene.add(heading(scene, CLIP))


class ThrowawayTopic(ClaimScene):
    def construct(self) -> None:
        present(self)
'''
PRINT_CHAPTERS = """
import scenes.catalog
print(scenes.catalog.__file__)
for clip in scenes.catalog.lecture_clips():
    print(clip.chapter, clip.name)
"""


def completed(command: list[str], cwd: Path) -> subprocess.CompletedProcess:
    # Under `make test`, the outer make's flags would reach an inner make through the
    # environment (and make it print "Entering directory" lines): run it as a user would.
    outer_make = ("MAKEFLAGS", "MFLAGS", "MAKELEVEL")
    env = {name: value for name, value in os.environ.items() if name not in outer_make}
    return subprocess.run(command, cwd=cwd, env=env, capture_output=True, text=True)


def run(command: list[str], cwd: Path) -> str:
    result = completed(command, cwd)
    assert result.returncode == 0, f"{' '.join(command)} failed:\n{result.stderr}"
    return result.stdout


def clips_in_make_help(cwd: Path) -> list[str]:
    help_text = run(["make", "help"], cwd)
    return help_text.split("clips:", 1)[1].split()


def prerequisites(database: str, target: str) -> tuple[list[str], list[str]]:
    """A target's normal and order-only prerequisites, read from `make -p`'s database."""
    line = next(line for line in database.splitlines() if line.startswith(f"{target}: "))
    normal, _, order_only = line.removeprefix(f"{target}: ").partition("|")
    return normal.split(), order_only.split()


def test_makefile_lists_the_catalog_clips() -> None:
    assert clips_in_make_help(ROOT) == [clip.name for clip in CLIPS]
    for clip in CLIPS:
        assert (ROOT / clip.source).exists()


def test_make_stops_when_it_cannot_read_the_catalog() -> None:
    result = completed(["make", "help", "PYTHON=false"], ROOT)
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


def test_a_new_clip_needs_only_its_scene_and_its_catalog_entry(project_copy: Path) -> None:
    second = lecture_clips()[1].name
    catalog = project_copy / "scenes" / "catalog.py"
    text = catalog.read_text()
    at = text.rindex("    Clip(", 0, text.index(f'"{second}"'))  # the start of second's entry
    catalog.write_text(text[:at] + NEW_ENTRY + text[at:])
    (project_copy / "scenes" / f"{NEW_CLIP}.py").write_text(NEW_SCENE)
    names = [clip.name for clip in CLIPS]
    names.insert(names.index(second), NEW_CLIP)
    played = [clip.name for clip in lecture_clips()]
    played.insert(1, NEW_CLIP)

    assert clips_in_make_help(project_copy) == names

    # `make -pn`: the commands `make render` would run, then make's database of rules.
    dry_run, database = run(["make", "-pn", "render"], project_copy).split("# Make data base")
    commands = [line for line in dry_run.splitlines() if "-m scenes." in line]
    renders = [line for line in commands if "-m scenes.render " in line]
    rendered = [line.split("-m scenes.render ")[1].split()[0] for line in renders]
    assert NEW_CLIP in rendered
    assert rendered.index(NEW_CLIP) < rendered.index("lecture")
    # The manifest after every clip, and the course page after the manifest.
    assert [line.split("-m ")[1].split()[0] for line in commands[len(renders) :]] == [
        "scenes.manifest",
        "scenes.page",
    ]
    manifest_needs, _ = prerequisites(database, "renders/manifest.json")
    assert f"build/clips/{NEW_CLIP}.json" in manifest_needs
    lecture_needs, lecture_after = prerequisites(database, "renders/lecture.mp4")
    assert f"scenes/{NEW_CLIP}.py" in lecture_needs
    assert f"build/clips/{NEW_CLIP}.json" in lecture_after

    # The Lecture plays lecture_clips(): the new clip is chapter 2, and the rest move down.
    chapters = run([sys.executable, "-c", PRINT_CHAPTERS], project_copy).splitlines()
    assert Path(chapters[0]).is_relative_to(project_copy)  # the copy's catalog, not ours
    assert chapters[1:] == [f"{number} {name}" for number, name in enumerate(played, start=1)]

    collect = "pytest --collect-only -q -p no:cacheprovider tests/test_snapshots.py".split()
    collected = run([sys.executable, "-m", *collect], project_copy).splitlines()
    assert f"tests/test_snapshots.py::test_last_frame[{NEW_CLIP}]" in collected


def test_every_claim_of_the_chapters_beyond_the_steps_is_shown_by_a_clip() -> None:
    """The claims of the why-DPO chapter, the gradient and the sequences (steps 0, 6 and 7) exist
    for the lecture: each one is on screen in some clip, so none is verified and never shown."""
    from lab.claims import all_claims

    shown = {claim_id for clip in CLIPS for claim_id in clip.claims}
    beyond = [claim.id for claim in all_claims() if claim.step in (0, 6, 7, 8)]
    assert len(beyond) >= 13
    assert [claim_id for claim_id in beyond if claim_id not in shown] == []


def test_plain_titles_hold_no_tex() -> None:
    """Captions, chapter names and the voice take a clip's plain title: no TeX may be left in it
    ("Next, \\beta in practice" would be read out as a backslash)."""
    for clip in CLIPS:
        assert not set(clip.plain_title) & set("\\$^_{}"), (clip.name, clip.plain_title)
    limits = find_clip("limits")
    assert limits.plain_title == "β in practice and where DPO breaks"
