"""Gather the clips' records (build/clips/<clip>.json) into renders/manifest.json.

    python -m scenes.manifest [--records build/clips] [--out renders/manifest.json]

One entry per clip of the catalog, in catalog order: name, scene class, step, chapter (its place
in the lecture; null when the lecture does not play it), title, file paths, duration in seconds,
frames, width, height, fps, its audio stream, the claim ids it shows, (for the lecture) its
sections, its caption cues: start and end in seconds, text, and the numbers the text states, each
with what it is (a lab value with its quantity and value, or a number of the notation or of the
lecture's structure), and the sentences spoken: start, end, text, recording key and voice. Run
after the clips are rendered (``make render`` does). It first finishes any publish an interrupted
render left half done (``scenes.publish.recover``); it fails, naming them, when a clip's record or
one of its files is missing, a file is not the one its record names (by sha256), a record was
written before records had captions and sentences, or clips differ in quality or narration.
"""

from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Sequence
from pathlib import Path

from lab.files import write_text_atomically
from scenes import publish as sets
from scenes.catalog import CLIPS, Clip
from scenes.render import RECORDS_DIR


class ManifestError(RuntimeError):
    pass


def build_manifest(
    records_dir: Path = RECORDS_DIR,
    clips: Sequence[Clip] = CLIPS,
    renders_dir: Path | None = None,
    publish_dir: Path = sets.PUBLISH_DIR,
) -> dict:
    if renders_dir is not None:
        for clip in clips:
            with sets.clip_lock(clip.name, publish_dir):
                done = sets.recover(clip.name, renders_dir, records_dir, publish_dir)
            if done:
                print(f"{clip.name}: {done}", file=sys.stderr)
    missing = [clip.name for clip in clips if not (records_dir / f"{clip.name}.json").exists()]
    if missing:
        raise ManifestError(f"no render record for: {', '.join(missing)} (render them first)")
    records = [json.loads((records_dir / f"{clip.name}.json").read_text()) for clip in clips]
    stale = [r["name"] for r in records if "captions" not in r or "sentences" not in r]
    if stale:
        raise ManifestError(
            f"records without captions or sentences: {', '.join(stale)} (render them again)"
        )
    absent = [path for r in records for path in r["files"].values() if not Path(path).exists()]
    if absent:
        raise ManifestError(f"rendered files are missing: {', '.join(absent)}")
    mixed = [
        f"{record['name']}.{kind}"
        for record in records
        for kind, expected in record.get("sha256", {}).items()
        if sets.digest(Path(record["files"][kind])) != expected
    ]
    if mixed:
        raise ManifestError(
            f"files that are not the ones their record names: {', '.join(mixed)} "
            "(render those clips again)"
        )
    qualities = {record["quality"] for record in records}
    if len(qualities) > 1:
        raise ManifestError(f"clips were rendered at different qualities: {sorted(qualities)}")
    narrations = {record["narration"] for record in records}
    if len(narrations) > 1:
        raise ManifestError(f"clips were rendered with different NARRATION: {sorted(narrations)}")
    return {
        "quality": qualities.pop(),
        "narration": narrations.pop(),
        "total_duration": round(sum(r["duration"] for r in records), 3),
        "clips": records,
    }


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m scenes.manifest", description=__doc__)
    parser.add_argument("--records", type=Path, default=RECORDS_DIR)
    parser.add_argument("--out", type=Path, default=Path("renders/manifest.json"))
    args = parser.parse_args(argv)
    try:
        manifest = build_manifest(args.records, renders_dir=args.out.parent)
    except ManifestError as error:
        print(f"error: {error}", file=sys.stderr)
        return 1
    write_text_atomically(args.out, json.dumps(manifest, indent=2) + "\n")
    print(f"{args.out}: {len(manifest['clips'])} clips, {manifest['total_duration']:.0f} s")
    return 0


if __name__ == "__main__":
    sys.exit(main())
