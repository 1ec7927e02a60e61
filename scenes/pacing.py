"""Where a clip stands still and says nothing: the stretches of a rendered video in which the
picture does not change and the voice is silent.

    python -m scenes.pacing renders/step3_reparameterisation.mp4 [--longer-than 2]

A frame is *still* when it differs from the one before by less than a rounding error of the
encoder (compared on a small grey copy of the frame), and *silent* when the audio over that
frame's time is quieter than ``SILENCE_DBFS`` (a video without audio is silent throughout). The
lecture's rule: no still-and-silent stretch longer than two seconds.
"""

from __future__ import annotations

import argparse
import sys
from dataclasses import dataclass
from pathlib import Path

import av
import numpy as np

SILENCE_DBFS = -50.0
STILL_MEAN_DIFFERENCE = 0.5  # grey levels (0–255), averaged over a 160×90 copy of the frame
STILL_MAX_DIFFERENCE = 12


@dataclass(frozen=True)
class Stretch:
    start: float
    end: float

    @property
    def seconds(self) -> float:
        return self.end - self.start


@dataclass(frozen=True)
class Pacing:
    duration: float
    still: np.ndarray  # per frame
    silent: np.ndarray  # per frame
    fps: float

    def stretches(self, longer_than: float = 0.0) -> list[Stretch]:
        """The still-and-silent stretches, longer than ``longer_than`` seconds."""
        both = self.still & self.silent
        found, start = [], None
        for index, flag in enumerate([*both, False]):
            if flag and start is None:
                start = index
            elif not flag and start is not None:
                stretch = Stretch(start / self.fps, index / self.fps)
                if stretch.seconds > longer_than:
                    found.append(stretch)
                start = None
        return found


def pacing(video: Path) -> Pacing:
    """Still and silent, frame by frame, for the video at ``video``."""
    with av.open(str(video)) as container:
        stream = container.streams.video[0]
        fps = float(stream.guessed_rate or stream.average_rate)
        frames = [
            frame.reformat(width=160, height=90, format="gray").to_ndarray().astype(np.int16)
            for frame in container.decode(stream)
        ]
    still = np.zeros(len(frames), dtype=bool)
    for index in range(1, len(frames)):
        difference = np.abs(frames[index] - frames[index - 1])
        still[index] = (
            difference.mean() < STILL_MEAN_DIFFERENCE and difference.max() < STILL_MAX_DIFFERENCE
        )
    return Pacing(len(frames) / fps, still, _silent_frames(video, len(frames), fps), fps)


def _silent_frames(video: Path, count: int, fps: float) -> np.ndarray:
    with av.open(str(video)) as container:
        if not container.streams.audio:
            return np.ones(count, dtype=bool)
        stream = container.streams.audio[0]
        rate = stream.rate
        samples = np.concatenate(
            [
                frame.to_ndarray().astype(np.float64).reshape(-1)
                for frame in container.decode(stream)
            ]
            or [np.zeros(0)]
        )
        channels = stream.channels or 1
    mono = samples if channels == 1 else samples[: len(samples) // channels * channels]
    if channels > 1:
        mono = mono.reshape(-1, channels).mean(axis=1) if mono.size else mono
    silent = np.ones(count, dtype=bool)
    per_frame = rate / fps
    for index in range(count):
        window = mono[int(index * per_frame) : int((index + 1) * per_frame)]
        if window.size:
            rms = float(np.sqrt(np.mean(window**2)))
            silent[index] = 20 * np.log10(max(rms, 1e-12)) < SILENCE_DBFS
    return silent


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m scenes.pacing", description=__doc__)
    parser.add_argument("videos", nargs="+", type=Path)
    parser.add_argument("--longer-than", type=float, default=2.0, help="seconds (default 2)")
    args = parser.parse_args(argv)
    for video in args.videos:
        if not video.exists():
            parser.error(f"{video}: no such file")
        result = pacing(video)
        stretches = result.stretches(args.longer_than)
        total = sum(s.seconds for s in stretches)
        print(
            f"{video}: {result.duration:.1f} s; still and silent for more than "
            f"{args.longer_than:g} s: {len(stretches)} stretches, {total:.1f} s in all"
        )
        for stretch in stretches:
            print(f"  {stretch.start:7.2f} – {stretch.end:7.2f}  ({stretch.seconds:.1f} s)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
