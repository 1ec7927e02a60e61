"""Small media files for tests, made in a moment with PyAV."""

from __future__ import annotations

from pathlib import Path

import av
import numpy as np


def make_clip(path: Path, frames: int = 30, audio: bool = True) -> None:
    """A small H.264 clip (15 fps), with AAC audio, written as encoders do: index last."""
    with av.open(str(path), "w") as container:
        video = container.add_stream("libx264", rate=15)
        video.width, video.height, video.pix_fmt = 64, 48, "yuv420p"
        sound = container.add_stream("aac", rate=48000) if audio else None
        for i in range(frames):
            image = np.full((48, 64, 3), i * 7 % 256, np.uint8)
            container.mux(video.encode(av.VideoFrame.from_ndarray(image, format="rgb24")))
        container.mux(video.encode())
        if sound is not None:
            tone = (0.3 * np.sin(np.arange(48000 * frames // 15) / 20)).astype(np.float32)
            for start in range(0, tone.size, 1024):
                chunk = av.AudioFrame.from_ndarray(
                    tone[None, start : start + 1024], format="fltp", layout="mono"
                )
                chunk.sample_rate, chunk.pts = 48000, start
                container.mux(sound.encode(chunk))
            container.mux(sound.encode())
