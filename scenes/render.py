"""Render one clip into renders/: ``python -m scenes.render step4_bradley_terry --quality medium``.

Manim writes into build/media (its cache lives there too); the finished video and captions are
then moved into renders/ in one step each, so an interrupted render never leaves a half-written
file in renders/. A JSON record of the clip (scene, step, claims shown, files) is written beside
them in build/clips/, for the manifest.
"""

from __future__ import annotations

import argparse
import importlib
import json
import os
import shutil
import sys
from pathlib import Path

from scenes.catalog import QUALITIES, CatalogError, Clip, find_clip, manim_quality

MEDIA_DIR = Path("build/media")
RECORDS_DIR = Path("build/clips")


def publish(source: Path, destination: Path) -> None:
    """Copy ``source`` to ``destination`` atomically: a temporary file beside it, then a rename."""
    destination.parent.mkdir(parents=True, exist_ok=True)
    partial = destination.with_name(f".{destination.name}.partial")
    shutil.copyfile(source, partial)
    os.replace(partial, destination)


def render_clip(clip: Clip, quality: str, out_dir: Path, records_dir: Path = RECORDS_DIR) -> dict:
    """Render ``clip`` with Manim and publish its video and captions into ``out_dir``."""
    from manim import config, tempconfig  # imported late: `--help` should not wait for manim

    settings = {
        "quality": manim_quality(quality),
        "media_dir": str(MEDIA_DIR),
        "progress_bar": "none",
        "verbosity": "WARNING",
    }
    module = importlib.import_module(clip.module)
    scene_class = getattr(module, clip.scene)
    with tempconfig(settings):
        scene = scene_class()
        scene.render()
        width, height, fps = config.pixel_width, config.pixel_height, config.frame_rate
    video = scene.output_plan.primary_artifact
    captions = scene.output_plan.subcaption_file
    files = {"mp4": out_dir / f"{clip.name}.mp4"}
    publish(video, files["mp4"])
    if captions is not None and captions.exists():
        files["srt"] = out_dir / f"{clip.name}.srt"
        publish(captions, files["srt"])
    record = {
        "name": clip.name,
        "scene": clip.scene,
        "step": clip.step,
        "quality": quality,
        "width": width,
        "height": height,
        "fps": fps,
        "claims": scene.shown_claims,
        "files": {kind: str(path) for kind, path in files.items()},
    }
    records_dir.mkdir(parents=True, exist_ok=True)
    (records_dir / f"{clip.name}.json").write_text(json.dumps(record, indent=2) + "\n")
    return record


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m scenes.render", description=__doc__)
    parser.add_argument("clip", help="clip name, e.g. step4_bradley_terry")
    parser.add_argument("--quality", default="medium", help=f"one of: {', '.join(QUALITIES)}")
    parser.add_argument("--out", type=Path, default=Path("renders"), help="output folder")
    args = parser.parse_args(argv)
    try:
        clip = find_clip(args.clip)
        manim_quality(args.quality)
    except CatalogError as error:
        parser.error(str(error))
    record = render_clip(clip, args.quality, args.out)
    print(f"rendered {clip.name}: " + ", ".join(record["files"].values()))
    return 0


if __name__ == "__main__":
    sys.exit(main())
