"""Render one clip into renders/: ``python -m scenes.render step4_bradley_terry --quality medium``.

Before rendering: LaTeX is checked (one line naming the packages to install if it is not there),
and the claims the clip shows are verified (``--no-verify`` skips it): a clip whose claim does
not hold is not rendered, and the error names the claim. Lab computations inside the scene name
their claim too, if they fail (``scenes.labdata``).

Manim writes into build/media (its cache lives there too; video segments are shared by all
clips of one quality, so the lecture reuses the steps' segments). The finished files are then
copied into renders/ one by one, each through a temporary file and a rename, so an interrupted
render never leaves a half-written file in renders/:

    <clip>.mp4   H.264, yuv420p            <clip>.srt, <clip>.vtt   captions
    <clip>.png   the poster frame (the moment the scene marked, else its last frame)

Last, a JSON record of the clip (scene, step, chapter, size, fps, duration, claims shown,
sections, captions with the numbers each states, files) is written to build/clips/<clip>.json;
``python -m scenes.manifest`` gathers the records into renders/manifest.json (a separate step, so
that parallel renders never write the same file).
"""

from __future__ import annotations

import argparse
import fcntl
import importlib
import json
import os
import shutil
import subprocess
import sys
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from fractions import Fraction
from pathlib import Path

from lab.files import source_digest, write_text_atomically, written_atomically
from scenes.catalog import QUALITIES, CatalogError, Clip, find_clip, manim_quality

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


def verify_claims(claim_ids: tuple[str, ...], cache_dir: Path = CLAIMS_CACHE_DIR) -> None:
    """Every claim a clip shows must hold (check passes, refutation fails) before it renders.

    Verdicts are cached per version of the lab's source, so re-renders do not re-run checks.
    """
    from lab.claims import get_claim, verify  # imported late: the lab pulls in torch

    cache = cache_dir / f"claims-{source_digest(ROOT / 'lab')}.json"
    held: dict[str, bool] = json.loads(cache.read_text()) if cache.exists() else {}
    for claim_id in claim_ids:
        if claim_id not in held:
            verdict = verify(get_claim(claim_id))
            if not verdict.ok:
                why = "its check failed" if not verdict.passed else "its refutation passed"
                note = verdict.check.note if not verdict.passed else verdict.refutation.note
                raise RenderError(f"claim {claim_id} does not hold ({why}). {note}".strip())
            held[claim_id] = True
    write_text_atomically(cache, json.dumps(held, indent=1, sort_keys=True))


def publish(source: Path, destination: Path) -> None:
    """Copy ``source`` to ``destination`` atomically: a temporary file beside it, then a rename."""
    with written_atomically(destination) as partial:
        shutil.copyfile(source, partial)


def srt_to_vtt(srt_text: str) -> str:
    """WebVTT captions from SubRip ones (the format browsers' <track> elements read)."""
    import srt

    cues = ["WEBVTT", ""]
    for subtitle in srt.parse(srt_text):
        start, end = (_vtt_time(t.total_seconds()) for t in (subtitle.start, subtitle.end))
        cues += [str(subtitle.index), f"{start} --> {end}", subtitle.content, ""]
    return "\n".join(cues)


def _vtt_time(seconds: float) -> str:
    milliseconds = round(seconds * 1000)
    hours, milliseconds = divmod(milliseconds, 3_600_000)
    minutes, milliseconds = divmod(milliseconds, 60_000)
    seconds, milliseconds = divmod(milliseconds, 1000)
    return f"{hours:02d}:{minutes:02d}:{seconds:02d}.{milliseconds:03d}"


def probe(video: Path) -> dict:
    """Frames, frame rate, duration, size and codec of a video, read back from the file."""
    import av

    with av.open(str(video)) as container:
        stream = container.streams.video[0]
        frames = stream.frames or sum(1 for _ in container.decode(video=0))
        fps = Fraction(stream.guessed_rate or stream.average_rate)
        return {
            "frames": frames,
            "fps": float(fps),
            "duration": round(float(frames / fps), 3),
            "width": stream.codec_context.width,
            "height": stream.codec_context.height,
            "codec": stream.codec_context.name,
            "pix_fmt": stream.codec_context.pix_fmt,
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


@contextmanager
def tex_compiles_serialised(lock_path: Path) -> Iterator[None]:
    """Serialise Manim's TeX compiles across processes (``make -j``) with a file lock.

    Manim caches each compiled expression as an SVG in its Tex folder, but writes it in place
    and trusts any file that exists: a second render could read an SVG the first is still
    writing. Under the lock, "is it cached? else compile" happens as one step.
    """
    from manim.mobject.text import tex_mobject

    original = tex_mobject.tex_to_svg_file

    def locked(*args, **kwargs):
        lock_path.parent.mkdir(parents=True, exist_ok=True)
        with lock_path.open("w") as lock:
            fcntl.flock(lock, fcntl.LOCK_EX)
            return original(*args, **kwargs)

    tex_mobject.tex_to_svg_file = locked
    try:
        yield
    finally:
        tex_mobject.tex_to_svg_file = original


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
) -> dict:
    """Render ``clip`` with Manim and publish its video, captions and poster into ``out_dir``."""
    check_latex()
    if verify:
        verify_claims(clip.claims)
    from manim import tempconfig  # imported late: `--help` should not wait for manim

    module = importlib.import_module(clip.module)
    scene_class = getattr(module, clip.scene)
    with tempconfig(manim_settings(quality, clip)), tex_compiles_serialised(TEX_LOCK):
        scene = scene_class()
        scene.render()
    video = scene.output_plan.primary_artifact
    captions = scene.output_plan.subcaption_file
    info = probe(video)

    files = {kind: out_dir / f"{clip.name}.{kind}" for kind in ("mp4", "srt", "vtt", "png")}
    srt_text = captions.read_text(encoding="utf-8") if captions and captions.exists() else ""
    publish(video, files["mp4"])
    write_text_atomically(files["srt"], srt_text)
    write_text_atomically(files["vtt"], srt_to_vtt(srt_text))
    poster_seconds = save_poster(files["mp4"], scene.poster_at, files["png"])
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
        "poster_seconds": poster_seconds,
        "claims": scene.shown_claims,
        "sections": [{"name": name, "start": round(start, 3)} for name, start in scene.sections_at],
        "captions": [caption.record() for caption in scene.captions],
        "files": {kind: str(path) for kind, path in files.items()},
    }
    records_dir.mkdir(parents=True, exist_ok=True)
    write_text_atomically(records_dir / f"{clip.name}.json", json.dumps(record, indent=2) + "\n")
    return record


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

        if isinstance(error, LabComputationError):
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
