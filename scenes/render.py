"""Render one clip into renders/: ``python -m scenes.render step4_bradley_terry --quality medium``.

Before rendering: LaTeX is checked (one line naming the packages to install if it is not there),
and the claims the clip shows are verified (``--no-verify`` skips it): a clip whose claim does
not hold is not rendered, and the error names the claim. Lab computations inside the scene name
their claim too, if they fail (``scenes.labdata``).

Manim writes into build/media (its cache lives there too; video segments are shared by all
clips of one quality, so the lecture reuses the steps' segments), under the guards of
``scenes.manim_guards`` (a frame-exact clock: warm and cold renders give the same frames; whole
video segments; serialised TeX). A clip's files are one set, published together
(``scenes.publish``): renders/ holds the previous complete set until the new one replaces it.

    <clip>.mp4   H.264, yuv420p, the narration as AAC; index first, chapter markers
    <clip>.srt, <clip>.vtt   captions
    <clip>.png   the poster frame (the moment the scene marked, else its last frame)
    <clip>.chapters.vtt   its chapters (the sections it marked), for a <track kind="chapters">

``NARRATION`` (environment) picks the voice, or ``none`` for silent clips (``scenes.narration``);
a voice that is not installed stops the render before it starts, in one line. The record (scene,
step, chapter, size, fps, duration, its audio stream, claims shown, sections, caption cues with
the numbers each states, the sentences spoken and by whom, files and their sha256) is written to
build/clips/<clip>.json;
``python -m scenes.manifest`` gathers the records into renders/manifest.json (a separate step, so
that parallel renders never write the same file). Two renders of one clip take turns; a render
interrupted at any point is finished or undone by the next one. Progress goes to stderr.
"""

from __future__ import annotations

import argparse
import importlib
import json
import os
import shutil
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from fractions import Fraction
from pathlib import Path

from lab.files import source_digest, write_text_atomically, written_atomically
from scenes import publish as sets
from scenes.caches import read_cache
from scenes.catalog import QUALITIES, CatalogError, Clip, find_clip, manim_quality
from scenes.chapters import chapters_vtt, clip_chapters
from scenes.mp4 import write_web_mp4
from scenes.narration.cues import to_srt, to_vtt
from scenes.narration.voices import NarrationError, narration_mode, voice_problem

ROOT = Path(__file__).resolve().parents[1]
MEDIA_DIR = Path("build/media")
# Outside the Tex folder: Manim's clean-up after each compile deletes every file there that is not
# .svg or .tex, and a deleted lock file would let the next process lock a fresh one beside it.
TEX_LOCK = MEDIA_DIR / "tex-compile.lock"
RECORDS_DIR = Path("build/clips")
CLAIMS_CACHE_DIR = ROOT / "build" / "cache"

# What Manim's TeX template needs (standalone class, babel, amsmath, amssymb, latex, dvisvgm),
# and the Debian/Ubuntu package that ships each.
LATEX_NEEDS: dict[str, str] = {
    "latex": "texlive-latex-base",
    "dvisvgm": "dvisvgm",
    "kpsewhich": "texlive-binaries",
    "standalone.cls": "texlive-latex-extra",
    "babel.sty": "texlive-latex-base",
    "english.ldf": "texlive-latex-base",
    "amsmath.sty": "texlive-latex-base",
    "amssymb.sty": "texlive-base",
}


class RenderError(RuntimeError):
    """A clip cannot be rendered; the message says why in one line."""


def missing_latex(which: Callable[[str], str | None] = shutil.which) -> list[str]:
    """The parts of the LaTeX toolchain that are missing (programs and TeX files)."""
    missing = [program for program in ("latex", "dvisvgm", "kpsewhich") if which(program) is None]
    if "kpsewhich" in missing:
        return missing
    files = [name for name in LATEX_NEEDS if "." in name]
    found = subprocess.run(
        ["kpsewhich", *files], capture_output=True, text=True, check=False
    ).stdout.split()
    missing += [name for name in files if not any(path.endswith("/" + name) for path in found)]
    return missing


def check_latex(which: Callable[[str], str | None] = shutil.which) -> None:
    missing = missing_latex(which)
    if missing:
        packages = sorted({LATEX_NEEDS[name] for name in missing})
        raise RenderError(
            f"LaTeX is incomplete (missing {', '.join(missing)}): install the packages "
            f"{' '.join(packages)} (sudo apt-get install {' '.join(packages)})"
        )


def verify_claims(
    claim_ids: tuple[str, ...], cache_dir: Path = CLAIMS_CACHE_DIR, announce=None
) -> None:
    """Every claim a clip shows must hold (check passes, refutation fails) before it renders.

    Verdicts are cached per version of the lab's source, so re-renders do not re-run checks; an
    unreadable cache is discarded (saying so) and the claims are verified again.
    """
    from lab.claims import get_claim, verify  # imported late: the lab pulls in torch

    cache = cache_dir / f"claims-{source_digest(ROOT / 'lab')}.json"
    held: dict[str, bool] = read_cache(cache, _claims_held, announce) or {}
    for claim_id in claim_ids:
        if claim_id not in held:
            verdict = verify(get_claim(claim_id))
            if not verdict.ok:
                why = "its check failed" if not verdict.passed else "its refutation passed"
                note = verdict.check.note if not verdict.passed else verdict.refutation.note
                raise RenderError(f"claim {claim_id} does not hold ({why}). {note}".strip())
            held[claim_id] = True
    write_text_atomically(cache, json.dumps(held, indent=1, sort_keys=True))


def _claims_held(data: object) -> dict[str, bool]:
    if not (isinstance(data, dict) and all(value is True for value in data.values())):
        raise ValueError("not a map of claim ids to true")
    return data


def probe(video: Path) -> dict:
    """Frames, frame rate, duration, size and codec of a video, and its audio stream (None when
    silent), read back from the file."""
    import av

    with av.open(str(video)) as container:
        stream = container.streams.video[0]
        frames = stream.frames or sum(1 for _ in container.decode(video=0))
        fps = Fraction(stream.guessed_rate or stream.average_rate)
        audio = _probe_audio(container)
        return {
            "frames": frames,
            "fps": float(fps),
            "duration": round(float(frames / fps), 3),
            "width": stream.codec_context.width,
            "height": stream.codec_context.height,
            "codec": stream.codec_context.name,
            "pix_fmt": stream.codec_context.pix_fmt,
            "audio": audio,
        }


def _probe_audio(container) -> dict | None:
    """Codec, sample rate, channels and duration (from its decoded samples) of the audio."""
    if not container.streams.audio:
        return None
    stream = container.streams.audio[0]
    samples = sum(frame.samples for frame in container.decode(stream))
    rate = stream.codec_context.sample_rate
    return {
        "codec": stream.codec_context.name,
        "sample_rate": rate,
        "channels": stream.codec_context.channels,
        "duration": round(samples / rate, 3),
    }


def save_poster(video: Path, seconds: float | None, destination: Path) -> float:
    """The frame at ``seconds`` (None: the last frame) as a PNG, written atomically.
    Returns the time of the frame taken."""
    import av

    with av.open(str(video)) as container:
        stream = container.streams.video[0]
        if seconds is not None:
            container.seek(max(0, int((seconds - 2) / stream.time_base)), stream=stream)
        chosen = None
        for frame in container.decode(stream):
            if seconds is not None and chosen is not None and frame.time > seconds:
                break
            chosen = frame
        if chosen is None:
            raise RenderError(f"{video} has no frames")
        image, taken = chosen.to_image(), float(chosen.time)
    with written_atomically(destination) as partial:
        image.save(partial, format="PNG")
    return round(taken, 3)


def manim_settings(quality: str, clip: Clip) -> dict:
    return {
        "quality": manim_quality(quality),
        "media_dir": str(MEDIA_DIR),
        # Pango's text cache has the same write-in-place race as TeX's; text is quick to redo.
        "text_dir": str(MEDIA_DIR / "texts" / clip.name),
        # One segment cache per quality for all clips: the lecture replays the steps' segments.
        "partial_movie_dir": "{media_dir}/segments/{quality}",
        "max_files_cached": -1,
        "progress_bar": "none",
        "verbosity": "WARNING",
    }


def render_clip(
    clip: Clip,
    quality: str,
    out_dir: Path,
    records_dir: Path = RECORDS_DIR,
    *,
    verify: bool = True,
    publish_dir: Path = sets.PUBLISH_DIR,
    announce: Callable[[str], None] | None = None,
) -> dict:
    """Render ``clip`` with Manim and publish its set (video, captions, poster, record)."""
    say = announce or _to_stderr
    with sets.clip_lock(clip.name, publish_dir, announce=say):
        done = sets.recover(clip.name, out_dir, records_dir, publish_dir)
        if done:
            say(f"{clip.name}: {done}")
        check_latex()
        mode = _narration_mode()
        if verify:
            say(f"{clip.name}: verifying the {len(clip.claims)} claims it shows")
            verify_claims(clip.claims, announce=say)
        say(f"{clip.name}: rendering at {quality} quality, narration: {mode}")
        scene = _render_scene(clip, quality, say)
        staging = sets.staging_dir(clip.name, publish_dir)
        staged, record = _stage(clip, quality, scene, staging, out_dir, records_dir)
        sets.commit(clip.name, staged, publish_dir)
        sets.install(clip.name, out_dir, records_dir, publish_dir)
    return record


def _narration_mode() -> str:
    """NARRATION, checked: a known value, and a voice that is installed."""
    try:
        mode = narration_mode()
    except NarrationError as error:
        raise RenderError(str(error)) from error
    problem = voice_problem(mode)
    if problem:
        raise RenderError(problem)
    return mode


def _render_scene(clip: Clip, quality: str, say: Callable[[str], None]):
    from manim import tempconfig  # imported late: `--help` should not wait for manim

    from scenes.manim_guards import guarded_manim

    module = importlib.import_module(clip.module)
    scene_class = getattr(module, clip.scene)
    with (
        tempconfig(manim_settings(quality, clip)),
        guarded_manim(TEX_LOCK, announce=say),
        _progress(clip.name, say),
    ):
        from manim import config

        sets.sweep_partials(config.get_dir("partial_movie_dir"))  # segments of killed renders
        scene = scene_class()
        scene.render()
    return scene


@contextmanager
def _progress(name: str, say: Callable[[str], None], every: float = 15.0) -> Iterator[None]:
    """A line every ``every`` seconds while Manim renders: animations played, video so far."""
    from manim.renderer.cairo_renderer import CairoRenderer

    original, started = CairoRenderer.play, time.monotonic()
    last = [started]

    def play(renderer, scene, *args, **kwargs):
        original(renderer, scene, *args, **kwargs)
        now = time.monotonic()
        if now - last[0] >= every:
            last[0] = now
            say(
                f"{name}: {renderer.num_plays} animations, {renderer.time:.0f} s of video "
                f"({now - started:.0f} s)"
            )

    CairoRenderer.play = play
    try:
        yield
    finally:
        CairoRenderer.play = original


def _stage(
    clip: Clip, quality: str, scene, staging: Path, out_dir: Path, records_dir: Path
) -> tuple[dict[str, Path], dict]:
    """The clip's new set, written into ``staging``: video, captions, poster and the record,
    which names the published paths and each file's sha256."""
    video = scene.output_plan.primary_artifact
    info = probe(video)
    staged = {kind: staging / f"{clip.name}.{kind}" for kind in sets.CLIP_FILES}
    chapters = clip_chapters(scene.sections_at, info["duration"], clip.plain_title)
    write_web_mp4(video, staged["mp4"], chapters)  # index first, chapter markers: a remux
    # Both caption files are written from the scene's cues, as the record is: the three agree.
    staged["srt"].write_text(to_srt(scene.captions), encoding="utf-8")
    staged["vtt"].write_text(to_vtt(scene.captions), encoding="utf-8")
    staged["chapters.vtt"].write_text(chapters_vtt(chapters), encoding="utf-8")
    poster_seconds = save_poster(staged["mp4"], scene.poster_at, staged["png"])
    published = sets.set_paths(clip.name, out_dir, records_dir)
    record = {
        "name": clip.name,
        "scene": clip.scene,
        "step": clip.step,
        "chapter": clip.chapter,
        "title": clip.plain_title,
        "quality": quality,
        "width": info["width"],
        "height": info["height"],
        "fps": info["fps"],
        "frames": info["frames"],
        "duration": info["duration"],
        "audio": info["audio"],
        "poster_seconds": poster_seconds,
        "claims": scene.shown_claims,
        "sections": [{"name": name, "start": round(start, 3)} for name, start in scene.sections_at],
        "chapters": [chapter.record() for chapter in chapters],
        "captions": [caption.record() for caption in scene.captions],
        "narration": scene.narrator.mode,
        "sentences": [sentence.record() for sentence in scene.sentences],
        "files": {kind: str(published[kind]) for kind in sets.CLIP_FILES},
        "sha256": {kind: sets.digest(staged[kind]) for kind in sets.CLIP_FILES},
    }
    staged["record"] = staging / published["record"].name
    staged["record"].write_text(json.dumps(record, indent=2) + "\n", encoding="utf-8")
    return staged, record


def _to_stderr(line: str) -> None:
    print(line, file=sys.stderr, flush=True)


def _reproducible_hashing() -> None:
    """Re-run this command with ``PYTHONHASHSEED=0`` unless it already has it.

    TransformMatchingTex pairs parts by iterating over a set of TeX strings; with Python's
    per-process string hashing, that order, and so the cache key of every such animation,
    changes from one run to the next, and Manim re-renders them every time. A fixed seed makes
    a re-render find them in the cache (and makes renders reproducible).
    """
    if os.environ.get("PYTHONHASHSEED") == "0":
        return
    env = {**os.environ, "PYTHONHASHSEED": "0"}
    os.execve(sys.executable, [sys.executable, "-m", "scenes.render", *sys.argv[1:]], env)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m scenes.render",
        description=__doc__,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("clip", help="clip name, e.g. step4_bradley_terry")
    parser.add_argument("--quality", default="medium", help=f"one of: {', '.join(QUALITIES)}")
    parser.add_argument("--out", type=Path, default=Path("renders"), help="output folder")
    parser.add_argument(
        "--no-verify", action="store_true", help="skip verifying the clip's claims first"
    )
    args = parser.parse_args(argv)
    try:
        clip = find_clip(args.clip)
        manim_quality(args.quality)
    except CatalogError as error:
        parser.error(str(error))
    try:
        record = render_clip(clip, args.quality, args.out, verify=not args.no_verify)
    except RenderError as error:
        print(f"error: {clip.name}: {error}", file=sys.stderr)
        return 1
    except Exception as error:
        from scenes.labdata import LabComputationError
        from scenes.manim_guards import TexConversionError

        if isinstance(error, LabComputationError | TexConversionError | NarrationError):
            print(f"error: {clip.name}: {error}", file=sys.stderr)
            return 1
        raise
    print(
        f"rendered {clip.name}: {record['duration']:.1f} s, "
        f"{record['width']}×{record['height']} at {record['fps']:g} fps → {record['files']['mp4']}"
    )
    return 0


if __name__ == "__main__":
    _reproducible_hashing()
    sys.exit(main())
