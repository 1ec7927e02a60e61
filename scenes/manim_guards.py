"""Guards around Manim (0.22) for renders that are reproducible and survive interruptions.

``guarded_manim(lock_path)`` installs, for one render:

- a frame-exact clock: Manim advances its clock by an animation's run time when the animation
  comes from the cache, and by whole frames when it renders it, so a warm re-render drifted from
  a cold one (frames, durations, caption times). Here both advance by the frames written.
- whole video segments: Manim encodes each animation into ``<hash>.mp4`` under its final name,
  so a render killed mid-write left a truncated file that every later render trusted. Here a
  segment is written under a temporary name and renamed when complete; a cached segment that
  does not open as a video (left by an older run) is discarded and rendered again, in one line.
- serialised TeX: compiles and the parse of compiled SVGs (Manim writes ``<hash>_.svg`` beside
  the SVG while parsing) take a file lock across processes (``make -j``), and a TeX folder
  removed while rendering is made again instead of failing with Manim's "update dvisvgm" or
  "latex failed but did not produce a log file".
- the sound track encoded as it was recorded, and on time: Manim encodes it as AAC at PyAV's
  default, 48 kHz stereo, resampling a mono 32 kHz voice on the way — four times slower (12 s for
  the lecture's 7.6 minutes) than AAC at the track's own rate and channels (3 s, half the bytes);
  and the encoder's priming frame delayed every sound by 1024 samples.
- a quiet sound mux: Manim passes ffmpeg's command-line options (``shortest``, ``metadata``) to
  PyAV's container, which warns on every narrated render that it did not use them. (The sound
  track is made as long as the video by ``ClaimScene`` instead.)
"""

from __future__ import annotations

import fcntl
import logging
import os
from collections.abc import Callable, Iterator
from contextlib import ExitStack, contextmanager
from pathlib import Path

import av
import numpy as np
from manim import config
from manim.mobject.svg.svg_mobject import SVGMobject
from manim.mobject.text import tex_mobject
from manim.renderer.cairo_renderer import CairoRenderer
from manim.scene import scene_file_writer
from manim.scene.video_segment_encoder import VideoSegmentEncoder


class TexConversionError(RuntimeError):
    """A TeX expression did not convert to SVG, twice; the message names the expression."""


@contextmanager
def guarded_manim(lock_path: Path, announce: Callable[[str], None] = print) -> Iterator[None]:
    with ExitStack() as stack:
        stack.enter_context(_patched(CairoRenderer, "play", _frame_exact_play))
        stack.enter_context(
            _patched(scene_file_writer.SceneFileWriter, "_create_segment_encoder", _whole_segments)
        )
        stack.enter_context(
            _patched(
                scene_file_writer.SceneFileWriter,
                "is_already_cached",
                _usable_cached_segment(announce),
            )
        )
        stack.enter_context(_patched(tex_mobject, "tex_to_svg_file", _locked_tex(lock_path)))
        stack.enter_context(_patched(SVGMobject, "generate_mobject", _locked_parse(lock_path)))
        stack.enter_context(_patched(scene_file_writer, "convert_audio", _aac_as_recorded))
        stack.enter_context(_quiet_unused_mux_options())
        yield


@contextmanager
def _patched(owner, name: str, make: Callable) -> Iterator[None]:
    """``owner.name`` replaced by ``make(original)`` for the duration of the block."""
    original = getattr(owner, name)
    setattr(owner, name, make(original))
    try:
        yield
    finally:
        setattr(owner, name, original)


def _aac_as_recorded(original: Callable) -> Callable:
    def convert_audio(input_path, output_path, codec_name: str) -> None:
        if codec_name != "aac":
            return original(input_path, output_path, codec_name)
        with av.open(input_path) as source, av.open(output_path, "w") as target:
            stream = source.streams.audio[0]
            rate, channels = stream.codec_context.sample_rate, stream.codec_context.channels
            layout = "mono" if channels == 1 else "stereo"
            encoder = target.add_stream("aac", rate=rate, layout=layout)
            # The encoder starts with a frame of priming samples, which the raw AAC stream Manim
            # muxes from cannot mark as such: dropped from the start of the track instead, the
            # sound is heard on time (the track begins with silence; here, with the voice's own
            # lead-in) rather than one AAC frame (32 ms at 32 kHz) late.
            skip, written = _priming(rate, layout), 0
            for frame in source.decode(stream):
                samples = frame.to_ndarray()  # packed: (1, samples × channels)
                drop = min(skip, frame.samples)
                skip -= drop
                if drop == frame.samples:
                    continue
                trimmed = av.AudioFrame.from_ndarray(
                    samples[:, drop * channels :], format=frame.format.name, layout=layout
                )
                trimmed.sample_rate, trimmed.pts = rate, written
                written += trimmed.samples
                for packet in encoder.encode(trimmed):
                    target.mux(packet)
            for packet in encoder.encode():
                target.mux(packet)
        return None

    return convert_audio


def _priming(rate: int, layout: str) -> int:
    """Samples of priming the AAC encoder puts before the first input sample (1024 for FFmpeg's
    own encoder): minus the timestamp of its first packet."""
    import io

    probe = av.open(io.BytesIO(), "w", format="adts")
    encoder = probe.add_stream("aac", rate=rate, layout=layout)
    channels = 1 if layout == "mono" else 2
    silence = av.AudioFrame.from_ndarray(
        np.zeros((1, 1024 * channels), dtype=np.int16), format="s16", layout=layout
    )
    silence.sample_rate, silence.pts = rate, 0
    packets = [*encoder.encode(silence), *encoder.encode()]
    probe.close()
    return -min(packet.pts for packet in packets)


@contextmanager
def _quiet_unused_mux_options() -> Iterator[None]:
    def keep(record: logging.LogRecord) -> bool:
        return not record.getMessage().startswith("Some options were not used: {'shortest'")

    log = logging.getLogger("av.container.output")
    log.addFilter(keep)
    try:
        yield
    finally:
        log.removeFilter(keep)


# ---- the clock ------------------------------------------------------------------------------


def frames_of(duration: float, frozen: bool, frame_rate: float) -> int:
    """The frames Manim writes for an animation of ``duration`` seconds, computed as Manim does:
    a still frame (a wait) is held ``int(duration / dt)`` frames (``freeze_current_frame``), a
    moving one gets a frame per step of ``np.arange(0, duration, dt)`` (``get_time_progression``).
    """
    dt = 1 / frame_rate
    return int(duration / dt) if frozen else len(np.arange(0, duration, dt))


def _frame_exact_play(original: Callable) -> Callable:
    def play(renderer: CairoRenderer, scene, *args, **kwargs) -> None:
        start, frozen = renderer.time, []
        is_frozen = scene.is_current_animation_frozen_frame

        def recorded() -> bool:
            frozen.append(is_frozen())
            return frozen[-1]

        scene.is_current_animation_frozen_frame = recorded
        try:
            original(renderer, scene, *args, **kwargs)
        finally:
            del scene.is_current_animation_frozen_frame  # the class's method again
        if frozen and not renderer._original_skipping_status:
            frame_rate = renderer.camera.frame_rate
            renderer.time = start + frames_of(scene.duration, frozen[-1], frame_rate) / frame_rate

    return play


# ---- video segments -------------------------------------------------------------------------


class _WholeSegmentEncoder(VideoSegmentEncoder):
    """Encodes into ``.<hash>.<pid>.partial.mp4`` and renames it to ``<hash>.mp4`` when done.
    ``target`` stays the final path: Manim keys its bookkeeping of segments in flight by it."""

    def __init__(self, *, target: Path, spec) -> None:
        final = Path(target)
        partial = final.with_name(f".{final.stem}.{os.getpid()}.partial{final.suffix}")
        super().__init__(target=partial, spec=spec)
        self.partial, self.target = partial, final

    def finish(self) -> None:
        super().finish()
        os.replace(self.partial, self.target)

    def abort(self) -> None:
        final, self.target = self.target, self.partial  # remove the partial file, not the final
        try:
            super().abort()
        finally:
            self.target = final


def _whole_segments(original: Callable) -> Callable:
    def create(writer, target: Path) -> VideoSegmentEncoder:
        if writer.video_encoder is None:
            return original(writer, target)
        return _WholeSegmentEncoder(target=target, spec=writer.video_encoder)

    return create


def usable_segment(path: Path) -> bool:
    """Whether a cached segment opens as a video with frames (a truncated one does not)."""
    try:
        with av.open(str(path)) as container:
            return bool(container.streams.video) and (container.streams.video[0].frames or 0) > 0
    except (av.error.FFmpegError, OSError, ValueError):
        return False


def _usable_cached_segment(announce: Callable[[str], None]) -> Callable:
    def make(original: Callable) -> Callable:
        def is_already_cached(writer, hash_invocation: str) -> bool:
            if not original(writer, hash_invocation):
                return False
            path = writer.output_plan.segment_path(hash_invocation)
            if usable_segment(path):
                return True
            announce(f"discarded an unreadable cached video segment, rendering it again: {path}")
            path.unlink(missing_ok=True)
            return False

        return is_already_cached

    return make


# ---- TeX --------------------------------------------------------------------------------------


@contextmanager
def _holding(lock_path: Path) -> Iterator[None]:
    lock_path.parent.mkdir(parents=True, exist_ok=True)
    with lock_path.open("w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        yield


def _locked_tex(lock_path: Path, attempts: int = 3) -> Callable:
    """Under the lock, "is it cached? else compile" is one step: Manim trusts any SVG that
    exists, and writes it in place. A failed compile or conversion is tried again with the TeX
    folder made again: the folder may have been removed while rendering (Manim then blames
    LaTeX or dvisvgm). TeX that truly does not compile fails every attempt, and says so."""

    def make(original: Callable) -> Callable:
        def tex_to_svg_file(expression, *args, **kwargs) -> Path:
            with _holding(lock_path):
                for attempt in range(1, attempts + 1):
                    config.get_dir("tex_dir").mkdir(parents=True, exist_ok=True)
                    try:
                        return original(expression, *args, **kwargs)
                    except (ValueError, RuntimeError, OSError) as error:
                        if attempt == attempts:
                            raise TexConversionError(
                                f"TeX did not convert to SVG in {attempts} attempts: "
                                f"{expression!r} (in {config.get_dir('tex_dir')}): {error}"
                            ) from error
            raise AssertionError("unreachable")

        return tex_to_svg_file

    return make


def _locked_parse(lock_path: Path) -> Callable:
    """Manim parses an SVG through a ``<name>_.svg`` it writes beside it and deletes: two
    processes parsing one TeX's SVG would delete each other's. Under the lock they take turns."""

    def make(original: Callable) -> Callable:
        def generate_mobject(mobject: SVGMobject):
            with _holding(lock_path):
                return original(mobject)

        return generate_mobject

    return make
