"""Renders that survive what goes wrong: a truncated video segment, a truncated cache entry, the
TeX folder removed mid-render, two renders of one clip at once, make interrupted or failing; and
renders that are reproducible: cold and warm renders give the same frames and caption times."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import pytest
from manim import Circle, Create, FadeIn, FadeOut, MathTex, Square, config, tempconfig

from scenes import labdata
from scenes import publish as sets
from scenes.base import ClaimScene
from scenes.caches import read_cache
from scenes.catalog import CLIPS, find_clip
from scenes.manifest import ManifestError, build_manifest
from scenes.manim_guards import TexConversionError, guarded_manim, usable_segment
from scenes.render import probe, verify_claims

ROOT = Path(__file__).resolve().parents[1]


class Drift(ClaimScene):
    """Run times that are not whole frames, waits, captions that wait for their reading time:
    what made a warm render drift from a cold one."""

    def construct(self) -> None:
        circle, square = Circle(), Square()
        self.narrate("A first line, long enough to need some reading time.")
        self.play(FadeIn(circle), run_time=0.55)
        self.narrate("A second line.")
        self.wait(0.37)
        self.play(FadeOut(circle), run_time=0.55)
        self.narrate("A third line, also long enough to wait for.")
        self.play(Create(square), run_time=0.71)
        self.wait(0.37)
        self.narrate(None)


def render(media: Path, scene_class=Drift, announce=lambda line: None):
    settings = {
        "quality": "low_quality",
        "media_dir": str(media),
        "progress_bar": "none",
        "verbosity": "ERROR",
        "max_files_cached": -1,
    }
    with tempconfig(settings), guarded_manim(media / "tex.lock", announce=announce):
        scene = scene_class()
        scene.render()
    video = scene.output_plan.primary_artifact
    captions = [(round(c.start, 3), round(c.end, 3)) for c in scene.captions]
    return probe(video)["frames"], round(scene.renderer.time, 6), captions, video


def test_cold_and_warm_renders_give_the_same_frames_and_caption_times(tmp_path: Path) -> None:
    cold = render(tmp_path / "a")
    second_cold = render(tmp_path / "b")
    warm = render(tmp_path / "b")  # every animation from the cache
    assert cold[:3] == second_cold[:3] == warm[:3]
    frames, clock, _, _ = cold
    assert frames == round(clock * 15)  # the clock counts the frames written


def test_a_truncated_cached_segment_is_rendered_again(tmp_path: Path) -> None:
    frames, *_ = render(tmp_path)
    cached = sorted(tmp_path.rglob("partial_movie_files/*/*.mp4"))
    assert cached, "the render should have cached its segments"
    victim = cached[0]
    victim.write_bytes(victim.read_bytes()[:48])  # what a SIGKILL mid-write left behind
    assert not usable_segment(victim)
    said = []
    assert render(tmp_path, announce=said.append)[0] == frames
    assert any("discarded an unreadable cached video segment" in line for line in said)
    assert usable_segment(victim)


def test_segments_are_written_under_a_temporary_name(tmp_path: Path) -> None:
    render(tmp_path)
    names = [p.name for p in tmp_path.rglob("*") if p.is_file()]
    assert not [n for n in names if ".partial" in n], "a temporary segment was left behind"


def test_a_truncated_cache_entry_is_discarded_and_computed_again(tmp_path: Path) -> None:
    entry = tmp_path / "entry.json"
    entry.write_text('{"snapshots": [{"st')  # a kill mid-write
    said = []
    assert read_cache(entry, dict, said.append) is None
    assert not entry.exists()
    assert said == [
        f"discarded an unreadable cache entry, computing it again: {entry} "
        "(Unterminated string starting at: line 1 column 17 (char 16))"
    ]
    entry.write_bytes(b"\xff\xfe not utf-8")
    assert read_cache(entry, dict, said.append) is None and "codec" in said[-1]
    entry.write_text(json.dumps({"a": 1}))
    assert read_cache(entry, dict, said.append) == {"a": 1}


def test_a_truncated_training_cache_is_trained_again(monkeypatch, tmp_path: Path, capsys) -> None:
    trained = labdata.Training(
        beta=0.5, optimal=[[1.0]], loss_at_reference=0.69, snapshots=[], rlhf_max_abs_difference=0
    )
    monkeypatch.setattr(labdata, "_train", lambda: trained)
    key = labdata._training_key()
    (tmp_path / f"step5-training-{key}.json").write_text('{"beta": 0.5, "opt')
    assert labdata.training(cache_dir=tmp_path) == trained
    assert "discarded an unreadable cache entry" in capsys.readouterr().err
    assert labdata.training(cache_dir=tmp_path) == trained  # now from the rewritten entry


def test_a_truncated_claims_cache_is_verified_again(tmp_path: Path) -> None:
    verify_claims(("step4.sigmoid_identity",), cache_dir=tmp_path)
    (cache,) = tmp_path.glob("claims-*.json")
    cache.write_text('{"step4.sigmoid_id')
    said = []
    verify_claims(("step4.sigmoid_identity",), cache_dir=tmp_path, announce=said.append)
    assert len(said) == 1 and "discarded an unreadable cache entry" in said[0]
    assert json.loads(cache.read_text()) == {"step4.sigmoid_identity": True}


@pytest.mark.parametrize("stage", ["compile_tex", "convert_to_svg"])
def test_the_tex_folder_removed_mid_render_is_made_again(monkeypatch, tmp_path, stage) -> None:
    """Removed before LaTeX runs, Manim said "latex failed but did not produce a log file";
    removed before dvisvgm, "update dvisvgm". Either way the folder is made again."""
    from manim.utils import tex_file_writing

    real, removals = getattr(tex_file_writing, stage), []

    def after_removal(path, *args, **kwargs):
        if not removals:  # the folder vanishes once, just before this stage
            removals.append(path)
            for child in path.parent.iterdir():
                child.unlink()
            path.parent.rmdir()
        return real(path, *args, **kwargs)

    monkeypatch.setattr(tex_file_writing, stage, after_removal)
    with tempconfig({"media_dir": str(tmp_path)}), guarded_manim(tmp_path / "tex.lock"):
        MathTex(r"a^2 + b^2 = c^2 + 7")
        assert removals and list(config.get_dir("tex_dir").glob("*.svg"))

        monkeypatch.setattr(tex_file_writing, "convert_to_svg", _never_converts)
        with pytest.raises(TexConversionError, match=r"did not convert to SVG in 3 attempts: .*q"):
            MathTex(r"q^3")


def _never_converts(dvi_file, *args, **kwargs):
    raise ValueError("Your installation does not support converting .dvi files to SVG ... dvisvgm")


def test_a_second_render_of_a_clip_waits_for_the_first(tmp_path: Path) -> None:
    holder = subprocess.Popen(
        [sys.executable, "-c", HOLD_LOCK, str(tmp_path)], stdout=subprocess.PIPE, text=True
    )
    assert holder.stdout.readline().strip() == "holding"
    said, started = [], time.monotonic()
    with sets.clip_lock("step1_objective", tmp_path, announce=said.append):
        waited = time.monotonic() - started
    holder.wait()
    assert said == ["step1_objective: waiting for another render of step1_objective to finish"]
    assert waited >= 0.4


HOLD_LOCK = textwrap.dedent(
    """
    import sys, time
    from pathlib import Path
    from scenes.publish import clip_lock
    with clip_lock("step1_objective", Path(sys.argv[1])):
        print("holding", flush=True)
        time.sleep(0.5)
    """
)


def test_the_manifest_finishes_a_committed_set_and_refuses_a_mixed_one(tmp_path: Path) -> None:
    clip = find_clip("step3_reparameterisation")
    renders, records, publish = tmp_path / "renders", tmp_path / "records", tmp_path / "publish"
    staging = sets.staging_dir(clip.name, publish)
    paths = sets.set_paths(clip.name, renders, records)
    staged = {kind: staging / paths[kind].name for kind in paths}
    for kind in sets.CLIP_FILES:
        staged[kind].write_text(f"new {kind}")
    record = {
        "name": clip.name,
        "quality": "low",
        "duration": 1.0,
        "captions": [],
        "sentences": [],
        "narration": "none",
        "files": {kind: str(paths[kind]) for kind in sets.CLIP_FILES},
        "sha256": {kind: sets.digest(staged[kind]) for kind in sets.CLIP_FILES},
    }
    staged["record"].write_text(json.dumps(record))
    sets.commit(clip.name, staged, publish)  # … and the render was killed here
    manifest = build_manifest(records, [clip], renders_dir=renders, publish_dir=publish)
    assert manifest["clips"] == [record]
    paths["png"].write_text("a poster from another render")
    with pytest.raises(ManifestError, match=r"not the ones their record names: .*\.png"):
        build_manifest(records, [clip], renders_dir=renders, publish_dir=publish)


FAILING_RENDER = """#!/bin/bash
# Stands in for python: touches the clip's files as a render would, then fails or hangs.
for kind in mp4 srt vtt png; do echo "half-made" > "renders/$3.$kind"; done
if [ "$MODE" = hang ]; then sleep 30; fi
exit 1
"""


@pytest.mark.parametrize("mode", ["fail", "interrupt"])
def test_make_never_deletes_a_clips_files(project_copy: Path, mode: str) -> None:
    """make deleted a clip's files when its recipe failed or was interrupted (.DELETE_ON_ERROR,
    or make's own clean-up on SIGINT). The publish replaces them as a set; make must not touch
    them."""
    clip = "step3_reparameterisation"
    for kind in sets.CLIP_FILES:
        (project_copy / "renders" / f"{clip}.{kind}").write_text("the last good render")
    os.utime(project_copy / "scenes" / f"{clip}.py")  # newer: the clip is out of date
    fake = project_copy / "fake-python"
    fake.write_text(FAILING_RENDER)
    fake.chmod(0o755)
    command = ["make", f"renders/{clip}.mp4", f"PY={fake}", f"VENV={ROOT / '.venv'}"]
    env = {**os.environ, "MODE": "hang" if mode == "interrupt" else "fail"}
    for name in ("MAKEFLAGS", "MFLAGS", "MAKELEVEL"):
        env.pop(name, None)
    make = subprocess.Popen(
        command, cwd=project_copy, env=env, start_new_session=True, stderr=subprocess.PIPE
    )
    if mode == "interrupt":
        time.sleep(1.5)
        os.killpg(make.pid, signal.SIGINT)
    _, stderr = make.communicate(timeout=60)
    assert make.returncode != 0
    assert b"Deleting file" not in stderr
    for kind in sets.CLIP_FILES:
        assert (project_copy / "renders" / f"{clip}.{kind}").exists(), kind


def test_make_names_the_clips_for_an_unknown_target_or_file() -> None:
    def make(target: str) -> str:
        result = subprocess.run(["make", "-n", target], cwd=ROOT, capture_output=True, text=True)
        assert result.returncode != 0
        return result.stderr

    assert f"no target 'nosuchclip'; clips: {CLIPS[0].name} " in make("nosuchclip")
    assert (
        "renders/step1_objective.gif is not a file of a clip; its files are "
        "renders/step1_objective.mp4" in make("renders/step1_objective.gif")
    )


def test_parsing_a_compiled_svg_waits_for_the_tex_lock(tmp_path: Path) -> None:
    """Manim parses an SVG through a ``<hash>_.svg`` it writes beside it and deletes; two renders
    parsing one TeX at once deleted each other's file. The parse takes the TeX lock."""
    from manim import SVGMobject

    lock = tmp_path / "tex.lock"
    with tempconfig({"media_dir": str(tmp_path)}), guarded_manim(lock):
        MathTex(r"\alpha + 11")
        (svg,) = config.get_dir("tex_dir").glob("*.svg")
    holder = subprocess.Popen(
        [sys.executable, "-c", HOLD_TEX_LOCK, str(lock)], stdout=subprocess.PIPE, text=True
    )
    assert holder.stdout.readline().strip() == "holding"
    started = time.monotonic()
    with guarded_manim(lock):
        SVGMobject(svg)  # the parse alone, no compile: it waits for the lock
    waited = time.monotonic() - started
    holder.wait()
    assert waited >= 0.4


HOLD_TEX_LOCK = textwrap.dedent(
    """
    import fcntl, sys, time
    with open(sys.argv[1], "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        print("holding", flush=True)
        time.sleep(0.5)
    """
)
