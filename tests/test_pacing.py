"""scenes.pacing finds the stretches where the picture is still and the voice silent."""

from __future__ import annotations

from fractions import Fraction
from pathlib import Path

import av
import numpy as np
import pytest

from scenes.pacing import main, pacing

FPS, RATE = 10, 44_100


def write_video(path: Path, moving_from: float, seconds: float, tone: tuple[float, float] | None):
    """A 64×36 video, still until ``moving_from`` then changing every frame, with a 440 Hz tone
    over ``tone`` (start, end) seconds and silence elsewhere; no audio stream when ``tone`` is
    None."""
    with av.open(str(path), "w") as container:
        video = container.add_stream("libx264", rate=FPS)
        video.width, video.height, video.pix_fmt = 64, 36, "yuv420p"
        audio = container.add_stream("aac", rate=RATE) if tone else None
        for index in range(int(seconds * FPS)):
            pixels = np.full((36, 64, 3), 40, dtype=np.uint8)
            if index / FPS >= moving_from:
                pixels[:, : (index * 7) % 64] = 220
            frame = av.VideoFrame.from_ndarray(pixels, format="rgb24")
            container.mux(video.encode(frame))
        container.mux(video.encode())
        if audio is not None:
            t = np.arange(int(seconds * RATE)) / RATE
            wave = np.where((t >= tone[0]) & (t < tone[1]), 0.3 * np.sin(2 * np.pi * 440 * t), 0)
            samples = wave.astype(np.float32)
            for start in range(0, len(samples), 1024):
                chunk = samples[None, start : start + 1024]
                frame = av.AudioFrame.from_ndarray(chunk, format="fltp", layout="mono")
                frame.sample_rate, frame.pts = RATE, start
                frame.time_base = Fraction(1, RATE)
                container.mux(audio.encode(frame))
            container.mux(audio.encode())


def test_still_and_silent_stretches(tmp_path: Path) -> None:
    video = tmp_path / "clip.mp4"
    write_video(video, moving_from=4.0, seconds=5.0, tone=(0.0, 0.5))
    (stretch,) = pacing(video).stretches(longer_than=2.0)
    assert stretch.start == pytest.approx(0.5, abs=0.15)
    assert stretch.end == pytest.approx(4.0, abs=0.15)
    assert pacing(video).stretches(longer_than=4.0) == []


def test_a_video_without_audio_is_silent_throughout(tmp_path: Path, capsys) -> None:
    video = tmp_path / "silent.mp4"
    write_video(video, moving_from=3.0, seconds=4.0, tone=None)
    (stretch,) = pacing(video).stretches(longer_than=2.0)
    assert stretch.start == pytest.approx(0.1, abs=0.15) and stretch.end == pytest.approx(3.0, 0.1)
    assert main([str(video)]) == 0
    assert "1 stretches, 2.9 s in all" in capsys.readouterr().out
