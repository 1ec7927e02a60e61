"""Test settings shared by the whole suite.

Manim's ``frames_comparison`` needs a ``--set_test`` option (write control frames instead of
comparing) and ``--show_diff``; it also skips every snapshot when cairo is older than 1.18, and
Debian 12 ships cairo 1.16, so the minimum is lowered here (our control frames are made with 1.16).
"""

from __future__ import annotations

import importlib
import os
import shutil
import subprocess
from pathlib import Path

import pytest
import torch

os.environ.setdefault("CUDA_VISIBLE_DEVICES", "")  # tests run on the CPU, GPU or not
# Silent narration unless a test is about the voice (it sets NARRATION itself): no test needs a
# speech synthesizer, and the renders tests make are not slowed down by one.
os.environ["NARRATION"] = "none"
torch.set_num_threads(1)  # the lab's tensors are tiny: threads only add synchronisation

ROOT = Path(__file__).resolve().parents[1]
TEST_MEDIA = ROOT / "build" / "test-media"  # kept between runs: Manim caches compiled TeX here


def pytest_addoption(parser: pytest.Parser) -> None:
    parser.addoption("--set_test", action="store_true", help="write control frames, don't compare")
    parser.addoption("--show_diff", action="store_true", help="show frame differences on failure")


def pytest_configure(config: pytest.Config) -> None:
    from manim.utils.testing import frames_comparison

    frames_comparison.MIN_CAIRO_VERSION = 11600
    (ROOT / "tests" / "control_data").mkdir(exist_ok=True)


@pytest.fixture(scope="session")
def media_dir() -> Path:
    TEST_MEDIA.mkdir(parents=True, exist_ok=True)
    return TEST_MEDIA


def _construct(scene_class, media_dir: Path):
    from manim import tempconfig

    settings = {
        "dry_run": True,
        "quality": "low_quality",
        "disable_caching": True,
        "media_dir": str(media_dir),
        "verbosity": "ERROR",
        "progress_bar": "none",
    }
    with tempconfig(settings):
        scene = scene_class(skip_animations=True)
        scene.render()
    return scene


@pytest.fixture
def construct_scene(media_dir: Path):
    """Run a scene's construct in Manim's fast mode: a dry run (nothing written) that skips each
    animation to its end state and hashes nothing. The scene's clock still advances by every
    animation's full run time, at the low-quality frame rate, so ``scene.time`` is the clip's
    duration."""
    return lambda scene_class: _construct(scene_class, media_dir)


@pytest.fixture(scope="session")
def clip_scene(media_dir: Path):
    """A catalog clip's scene, constructed as ``construct_scene`` does, once per test session:
    the tests that read the same clip share it (constructing the lecture takes half a minute)."""
    constructed = {}

    def scene_of(clip):
        if clip.name not in constructed:
            scene_class = getattr(importlib.import_module(clip.module), clip.scene)
            constructed[clip.name] = _construct(scene_class, media_dir)
        return constructed[clip.name]

    return scene_of


@pytest.fixture(scope="session")
def reference_world():
    """π_ref of the token world with responses of at most 2 tokens (43 per prompt instead of 259,
    so that runs here take seconds), and that world listed response by response."""
    from lab.data.enumerated import enumerate_world
    from lab.training.policies import reference_policy
    from lab.training.transformer import TransformerConfig
    from lab.worlds.tokens import TokenWorld, build_tokenizer

    world, config = TokenWorld(max_response_tokens=2), TransformerConfig()
    tokenizer = build_tokenizer(world)
    reference = reference_policy(world, tokenizer, seed=0, warmup_steps=config.warmup_steps)
    return reference, enumerate_world(world, tokenizer, reference, config.beta)


@pytest.fixture
def project_copy(tmp_path: Path) -> Path:
    """The tracked project files, as they are in the working tree (times of change kept, so make
    sees what is up to date as it is here), in a temporary folder."""
    listed = subprocess.run(
        ["git", "ls-files", "-z"], cwd=ROOT, capture_output=True, text=True, check=True
    )
    for name in filter(None, listed.stdout.split("\0")):
        if (ROOT / name).is_file():
            (tmp_path / name).parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(ROOT / name, tmp_path / name)
    return tmp_path
