"""Every sentence the clips speak, with the key a lecturer's recording of it is saved under.

    python -m scenes.narration list               # every sentence: key, recorded or not, clips
    python -m scenes.narration list --missing     # only those without a recording yet
    python -m scenes.narration list --json        # the same as a JSON array

Each clip is constructed in Manim's fast mode (nothing rendered, nothing synthesized), so the
sentences are exactly the ones a render speaks, numbers from the lab included. Record a sentence
as ``narration/recordings/<key>.wav`` (or .flac, .mp3, .m4a, .ogg); the next render uses it in
place of the synthetic voice. Recordings whose key no sentence has any more (the sentence was
reworded, a number changed) are listed at the end.
"""

from __future__ import annotations

import argparse
import importlib
import json
import sys
from pathlib import Path

from scenes.catalog import CLIPS, Clip
from scenes.narration.spoken import spoken
from scenes.narration.voices import RECORDING_SUFFIXES, RECORDINGS_DIR


def sentences_of(clip: Clip) -> list[str]:
    """The sentences ``clip`` speaks, in order, from its scene constructed in fast mode."""
    from manim import tempconfig

    from scenes.manim_guards import guarded_manim
    from scenes.render import TEX_LOCK, manim_settings

    scene_class = getattr(importlib.import_module(clip.module), clip.scene)
    settings = {**manim_settings("low", clip), "dry_run": True, "disable_caching": True}
    with tempconfig(settings), guarded_manim(TEX_LOCK, announce=lambda line: None):
        scene = scene_class(skip_animations=True)
        scene.render()
    return [sentence.speech.text for sentence in scene.sentences]


def catalogue(clips: tuple[Clip, ...], recordings: Path) -> list[dict]:
    """One entry per distinct sentence, in order of first appearance: its key, text, what the
    voice says, the clips that speak it, and its recording (None when there is none)."""
    from scenes.narration.voices import Narrator

    narrator = Narrator("voice", fast=True, recordings_dir=recordings)
    entries: dict[str, dict] = {}
    for clip in clips:
        print(f"reading the sentences of {clip.name}", file=sys.stderr, flush=True)
        for text in sentences_of(clip):
            speech = narrator.speak(text)
            entry = entries.setdefault(
                speech.key,
                {"key": speech.key, "text": text, "spoken": spoken(text), "clips": []},
            )
            if clip.name not in entry["clips"]:
                entry["clips"].append(clip.name)
            recording = narrator.recording(speech.key)
            entry["recording"] = str(recording) if recording else None
    return list(entries.values())


def unused_recordings(entries: list[dict], recordings: Path) -> list[Path]:
    keys = {entry["key"] for entry in entries}
    return sorted(
        path
        for path in recordings.glob("*")
        if path.suffix in RECORDING_SUFFIXES and path.stem not in keys
    )


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m scenes.narration",
        description=__doc__,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("command", choices=["list"])
    parser.add_argument("--missing", action="store_true", help="only sentences not recorded yet")
    parser.add_argument("--json", action="store_true", help="a JSON array instead of text")
    parser.add_argument("--recordings", type=Path, default=RECORDINGS_DIR, help="their folder")
    args = parser.parse_args(argv)
    entries = catalogue(CLIPS, args.recordings)
    shown = [e for e in entries if not (args.missing and e["recording"])]
    if args.json:
        print(json.dumps(shown, indent=2, ensure_ascii=False))
        return 0
    for entry in shown:
        state = "recorded" if entry["recording"] else "voice"
        print(f"{entry['key']}\t{state}\t{', '.join(entry['clips'])}\n    {entry['text']}")
    recorded = sum(1 for entry in entries if entry["recording"])
    print(f"\n{len(entries)} sentences, {recorded} recorded, in {args.recordings}")
    for path in unused_recordings(entries, args.recordings):
        print(f"not the key of any sentence (reworded?): {path}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
