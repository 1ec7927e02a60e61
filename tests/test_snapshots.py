"""A last-frame snapshot of each step (Manim's ``frames_comparison``): an accidental visual change
fails. Control frames live in tests/control_data/snapshots/; after an intended change, rewrite
them with ``pytest tests/test_snapshots.py --set_test`` and look at them before committing.

The conftest lowers ``MIN_CAIRO_VERSION`` (Debian 12 has cairo 1.16): without that, every test
here would be skipped, silently. ``test_the_snapshots_really_compare`` makes sure they do not.
"""

from __future__ import annotations

from pathlib import Path

import cairo
import pytest
from manim.utils.testing import frames_comparison as manim_frames
from manim.utils.testing.frames_comparison import frames_comparison

from scenes import (
    step1_objective,
    step2_optimal_policy,
    step3_reparameterisation,
    step4_bradley_terry,
    step5_dpo_loss,
)
from scenes.base import ClaimScene

__module_test__ = "snapshots"

ROOT = Path(__file__).resolve().parents[1]
CONTROL = ROOT / "tests" / "control_data" / __module_test__
# Compiled TeX is kept between runs (frames_comparison would recompile into a temporary folder).
CACHED = {
    "tex_dir": str(ROOT / "build" / "test-media" / "Tex"),
    "text_dir": str(ROOT / "build" / "test-media" / "texts"),
}


@frames_comparison(base_scene=ClaimScene, **CACHED)
def test_step1_last_frame(scene):
    step1_objective.present(scene)


@frames_comparison(base_scene=ClaimScene, **CACHED)
def test_step2_last_frame(scene):
    step2_optimal_policy.present(scene)


@frames_comparison(base_scene=ClaimScene, **CACHED)
def test_step3_last_frame(scene):
    step3_reparameterisation.present(scene)


@frames_comparison(base_scene=ClaimScene, **CACHED)
def test_step4_last_frame(scene):
    step4_bradley_terry.present(scene)


@frames_comparison(base_scene=ClaimScene, **CACHED)
def test_step5_last_frame(scene):
    step5_dpo_loss.present(scene)


def test_the_snapshots_really_compare(request: pytest.FixtureRequest) -> None:
    """The snapshots run here (cairo is new enough for the lowered minimum) and each has its
    control frame, so none of the tests above can pass by being skipped."""
    assert cairo.cairo_version() >= manim_frames.MIN_CAIRO_VERSION
    if request.config.getoption("--set_test"):
        pytest.skip("writing control frames")
    names = {f"step{n}_last_frame.npz" for n in range(1, 6)}
    assert names <= {path.name for path in CONTROL.glob("*.npz")}
