"""The voice that speaks each sentence: a lecturer's recording, else an offline synthetic voice.

``NARRATION`` (environment) chooses:

    voice       (default) festival's CMU SLT HTS voice (Debian: festival festvox-us-slt-hts),
                else espeak-ng when festival is absent
    festival    festival only          espeak-ng   espeak-ng only
    none        silent: no audio; each sentence lasts its reading time (15 characters a second)

A recording at ``narration/recordings/<key>.wav`` (or .flac, .mp3, .m4a, .ogg), where ``key`` is
``sentence_key(text)``, replaces the synthetic voice for that sentence; its length sets the
timing. ``python -m scenes.narration list`` prints every sentence with its key.

Synthesized sentences are cached in ``build/narration/<engine>/``, one WAV per (spoken text,
engine, voice), written atomically; a cached WAV that does not read is discarded, in one line,
and synthesized again. Both engines are deterministic: a sentence gives the same audio, and the
same duration, every time.

In fast mode (Manim skipping animations: the tests, ``manim -s``) nothing is synthesized or read
from the cache: a sentence lasts its recording's length, else its reading time.
"""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import subprocess
import sys
import tempfile
import wave
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from lab.files import written_atomically
from scenes import style
from scenes.narration.spoken import sentence_key, slug, spoken

ROOT = Path(__file__).resolve().parents[2]
CACHE_DIR = ROOT / "build" / "narration"
RECORDINGS_DIR = ROOT / "narration" / "recordings"
RECORDING_SUFFIXES = (".wav", ".flac", ".mp3", ".m4a", ".ogg")
MODES = ("voice", "festival", "espeak-ng", "none")
# Seconds of silence after a sentence before the next one (or the end of the scene).
SENTENCE_GAP = 0.3
FESTIVAL_VOICES = Path("/usr/share/festival/voices")


class NarrationError(RuntimeError):
    """The narration cannot be spoken; the message says why in one line."""


@dataclass(frozen=True)
class Engine:
    """An offline text-to-speech program and the voice it speaks with."""

    name: str
    voice: str
    program: str
    packages: str  # Debian's, to install it

    def available(self) -> bool:
        if shutil.which(self.program) is None:
            return False
        return self.name != "festival" or any(FESTIVAL_VOICES.glob(f"*/{self.voice}"))

    def command(self, text_file: Path, wav: Path) -> list[str]:
        if self.name == "festival":
            voice = f"(voice_{self.voice})"
            return [self.program, "-eval", voice, "-o", str(wav), str(text_file)]
        return [self.program, "-v", self.voice, "-w", str(wav), "-f", str(text_file)]


FESTIVAL = Engine("festival", "cmu_us_slt_arctic_hts", "text2wave", "festival festvox-us-slt-hts")
ESPEAK = Engine("espeak-ng", "en-us", "espeak-ng", "espeak-ng")


def reading_seconds(text: str) -> float:
    """How long a caption must stay up for a student to read it."""
    return max(style.MIN_CAPTION_SECONDS, len(text) / style.READING_CHARS_PER_SECOND)


@dataclass(frozen=True)
class Speech:
    """A sentence as it is heard: its caption ``text``, what the voice says (``spoken``), the key
    of its recording, how long it lasts, the audio file (None: silent) and who speaks it
    (``voice``: "recording", "festival/<voice>", "espeak-ng/<voice>", "estimate" in fast mode,
    "none" when silent)."""

    text: str
    spoken: str
    key: str
    duration: float
    audio: Path | None
    voice: str


def narration_mode() -> str:
    """``NARRATION`` from the environment (default "voice"); NarrationError for another value."""
    mode = os.environ.get("NARRATION", "voice") or "voice"
    if mode not in MODES:
        raise NarrationError(f"unknown NARRATION {mode!r}; valid values: {', '.join(MODES)}")
    return mode


def engine_for(mode: str) -> Engine | None:
    """The engine ``mode`` speaks with, when it is installed; None for "none" or when missing."""
    wanted = {"voice": (FESTIVAL, ESPEAK), "festival": (FESTIVAL,), "espeak-ng": (ESPEAK,)}
    return next((engine for engine in wanted.get(mode, ()) if engine.available()), None)


def voice_problem(mode: str) -> str | None:
    """Why ``mode`` cannot synthesize speech here, in one line; None when it can (or is silent)."""
    if mode == "none" or engine_for(mode) is not None:
        return None
    packages = ESPEAK.packages if mode == "espeak-ng" else FESTIVAL.packages
    return (
        f"no offline voice for NARRATION={mode}: install {packages} "
        f"(sudo apt-get install {packages}), or render silent clips with NARRATION=none"
    )


class Narrator:
    """Turns sentences into speech for one scene, by ``mode``; ``fast``: never synthesize."""

    def __init__(
        self,
        mode: str,
        *,
        fast: bool,
        cache_dir: Path | None = None,
        recordings_dir: Path | None = None,
        announce: Callable[[str], None] | None = None,
    ) -> None:
        self.mode, self.fast = mode, fast
        self.cache_dir = cache_dir or CACHE_DIR
        self.recordings_dir = recordings_dir or RECORDINGS_DIR
        self.announce = announce or _to_stderr
        self.engine = None if mode == "none" else engine_for(mode)

    def speak(self, text: str) -> Speech:
        said, key = spoken(text), sentence_key(text)
        if self.mode == "none":
            return Speech(text, said, key, reading_seconds(text), None, "none")
        recording = self.recording(key)
        if recording is not None and self.fast:
            return Speech(text, said, key, recorded_seconds(recording), None, "recording")
        if recording is not None:
            audio = self.converted(recording)
            return Speech(text, said, key, wav_seconds(audio), audio, "recording")
        if self.fast:
            return Speech(text, said, key, reading_seconds(text), None, "estimate")
        if self.engine is None:
            raise NarrationError(voice_problem(self.mode))
        audio = self.synthesized(said)
        voice = f"{self.engine.name}/{self.engine.voice}"
        return Speech(text, said, key, wav_seconds(audio), audio, voice)

    def recording(self, key: str) -> Path | None:
        """The lecturer's recording of the sentence ``key``, if there is one."""
        found = [self.recordings_dir / f"{key}{suffix}" for suffix in RECORDING_SUFFIXES]
        return next((path for path in found if path.is_file()), None)

    def cache_path(self, said: str) -> Path:
        engine = self.engine
        digest = hashlib.sha256(json.dumps([said, engine.name, engine.voice]).encode()).hexdigest()
        return self.cache_dir / engine.name / f"{slug(said)}-{digest[:16]}.wav"

    def synthesized(self, said: str) -> Path:
        """The cached WAV of ``said``, synthesized first when it is missing or does not read."""
        path = self.cache_path(said)
        if self._readable(path):
            return path
        with tempfile.TemporaryDirectory() as scratch, written_atomically(path) as partial:
            text_file = Path(scratch) / "sentence.txt"
            text_file.write_text(said + "\n", encoding="ascii", errors="replace")
            result = subprocess.run(
                self.engine.command(text_file, partial), capture_output=True, text=True, check=False
            )
            if result.returncode != 0 or not partial.exists():
                why = (result.stderr.strip().splitlines() or ["no output"])[-1]
                raise NarrationError(f"{self.engine.program} failed on {said!r}: {why}")
            wav_seconds(partial)  # a WAV that does not read is not cached
        return path

    def converted(self, recording: Path) -> Path:
        """The recording as a 16-bit PCM WAV (what Manim mixes without ffmpeg), cached by the
        recording's content: a re-recorded sentence is converted again."""
        from manim.scene.scene_file_writer import convert_audio

        content = hashlib.sha256(recording.read_bytes()).hexdigest()[:16]
        path = self.cache_dir / "recordings" / f"{recording.stem}-{content}.wav"
        if self._readable(path):
            return path
        recorded_seconds(recording)  # one line naming the file, if it does not decode
        with written_atomically(path) as partial:
            convert_audio(recording, partial, "pcm_s16le")
            wav_seconds(partial)
        return path

    def _readable(self, path: Path) -> bool:
        """Whether a cached WAV is there and reads; one that does not is removed, saying so."""
        if not path.exists():
            return False
        try:
            wav_seconds(path)
            return True
        except NarrationError as error:
            self.announce(
                f"discarded an unreadable cache entry, computing it again: {path} ({error})"
            )
            path.unlink(missing_ok=True)
            return False


def wav_seconds(path: Path) -> float:
    """The length of a PCM WAV file, checked whole: a header that promises more samples than the
    file holds (a truncated write) or no samples at all is a NarrationError."""
    try:
        with wave.open(str(path), "rb") as audio:
            frames, rate = audio.getnframes(), audio.getframerate()
            expected = frames * audio.getsampwidth() * audio.getnchannels()
            data = audio.readframes(frames)
    except (wave.Error, EOFError, OSError) as error:
        raise NarrationError(f"not a readable WAV: {error}") from error
    if frames == 0 or len(data) < expected:
        raise NarrationError(f"truncated WAV: {len(data)} of {expected} bytes of samples")
    return frames / rate


def recorded_seconds(path: Path) -> float:
    """The length of a recording (any format PyAV decodes: WAV, FLAC, MP3, AAC, Ogg), from its
    decoded samples; a NarrationError naming the file when it does not decode."""
    import av

    try:
        with av.open(str(path)) as container:
            stream = container.streams.audio[0]
            samples = sum(frame.samples for frame in container.decode(stream))
            rate = stream.codec_context.sample_rate
    except (av.error.FFmpegError, IndexError, OSError) as error:
        raise NarrationError(f"recording {path} does not decode: {error}") from error
    if samples == 0:
        raise NarrationError(f"recording {path} has no sound")
    return samples / rate


def _to_stderr(line: str) -> None:
    print(line, file=sys.stderr, flush=True)
