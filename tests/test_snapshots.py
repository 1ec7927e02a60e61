"""A last-frame snapshot of each clip of the catalog but the lecture (Manim's
``frames_comparison``), and a mid-clip snapshot at each of a clip's key moments (the names in its
module's ``MOMENTS``, marked in the scene with ``scene.moment(name)``): an accidental visual change
fails. Control frames live in tests/control_data/snapshots/; after an intended change (or for a
new clip), write them with ``.venv/bin/python -m pytest tests/test_snapshots.py --set_test`` and
look at them before committing.

The conftest lowers ``MIN_CAIRO_VERSION`` (Debian 12 has cairo 1.16): without that, every test
here would be skipped, silently. ``test_the_snapshots_really_compare`` makes sure they do not.
"""

from __future__ import annotations

import importlib
from pathlib import Path

import cairo
import pytest
from manim.utils.testing import frames_comparison as manim_frames
from manim.utils.testing.frames_comparison import frames_comparison

from scenes.base import ClaimScene, MomentReached
from scenes.catalog import CLIPS, LECTURE, find_clip

__module_test__ = "snapshots"

ROOT = Path(__file__).resolve().parents[1]
CONTROL = ROOT / "tests" / "control_data" / __module_test__
# Compiled TeX is kept between runs (frames_comparison would recompile into a temporary folder).
CACHED = {
    "tex_dir": str(ROOT / "build" / "test-media" / "Tex"),
    "text_dir": str(ROOT / "build" / "test-media" / "texts"),
}
# Every clip with a present() function; the lecture only replays them.
SNAPSHOTS = [clip.name for clip in CLIPS if clip != LECTURE]
# (clip, moment) for every key moment a clip module lists in MOMENTS.
MOMENTS = [
    (name, moment)
    for name in SNAPSHOTS
    for moment in getattr(importlib.import_module(find_clip(name).module), "MOMENTS", ())
]


def control_file(name: str) -> str:
    """The control frame's file name, as frames_comparison derives it from the test's name and
    its parameter."""
    return f"last_frame_clip[{name}].npz"


def moment_control_file(name: str, moment: str) -> str:
    """The control frame of a key moment (frames_comparison joins two parameters with "__")."""
    return f"moment_clip[{name}]__moment[{moment}].npz"


@pytest.mark.parametrize("clip", SNAPSHOTS)
@frames_comparison(base_scene=ClaimScene, **CACHED)
def test_last_frame(scene, clip):
    importlib.import_module(find_clip(clip).module).present(scene)


@pytest.mark.parametrize(("clip", "moment"), MOMENTS)
@frames_comparison(base_scene=ClaimScene, **CACHED)
def test_moment(scene, clip, moment):
    scene.stop_at_moment = moment
    with pytest.raises(MomentReached):
        importlib.import_module(find_clip(clip).module).present(scene)
    # The whole frame, drawn here: frames_comparison would redraw only what the last animation
    # moved, over a background it resets.
    scene.renderer.static_image = None
    scene.renderer.update_frame(scene, ignore_skipping=True)
    scene.animations = None


def test_the_snapshots_really_compare(request: pytest.FixtureRequest) -> None:
    """The snapshots run here (cairo is new enough for the lowered minimum) and each has its
    control frame, so none of the tests above can pass by being skipped."""
    assert cairo.cairo_version() >= manim_frames.MIN_CAIRO_VERSION
    if request.config.getoption("--set_test"):
        pytest.skip("writing control frames")
    names = {control_file(name) for name in SNAPSHOTS}
    names |= {moment_control_file(name, moment) for name, moment in MOMENTS}
    missing = sorted(names - {path.name for path in CONTROL.glob("*.npz")})
    assert not missing, (
        f"no control frame for {', '.join(missing)}: write them with "
        "`.venv/bin/python -m pytest tests/test_snapshots.py --set_test` and look at them"
    )
