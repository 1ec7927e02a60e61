"""Narration: what the voice says for a caption, the keys of recordings, captions cut into cues and
written as SubRip and WebVTT, the voices (a recording first, a cached synthetic voice, silence),
and a scene's timing waiting for its sentences."""

from __future__ import annotations

import itertools
import json
import re
import unicodedata
import wave
from pathlib import Path

import numpy as np
import pytest
import srt
from manim import Circle, FadeIn

from scenes.base import ClaimScene
from scenes.catalog import LECTURE, find_clip
from scenes.narration import voices
from scenes.narration.cues import (
    MAX_LINE_CHARS,
    VTT_SETTINGS,
    Caption,
    sentence_cues,
    to_srt,
    to_vtt,
)
from scenes.narration.spoken import CHARACTERS, SYMBOLS, sentence_key, spoken
from scenes.narration.voices import (
    ESPEAK,
    FESTIVAL,
    SENTENCE_GAP,
    NarrationError,
    Narrator,
    engine_for,
    narration_mode,
    reading_seconds,
    voice_problem,
    wav_seconds,
)
from scenes.quantities import BETA, ERROR, RESPONSE, derivation_step, notation

# ---- what the voice says --------------------------------------------------------------------


@pytest.mark.parametrize(
    ("caption", "said"),
    [
        ("the reference policy π_ref.", "the reference policy pi ref."),
        ("π_θ's bars grow into π*'s outlines.", "pi theta's bars grow into pi star's outlines."),
        ("the implicit reward r̂ in place of r_φ", "the implicit reward r hat in place of r phi"),
        ("β log Z(x) cancels", "beta log Z of x cancels"),
        ("A reward r(x, y) scores", "A reward r of x and y scores"),
        ("tilted by exp(r/β): a higher", "tilted by exp of r over beta: a higher"),
        ("at β = 0.5, −1.94 and +0.69", "at beta equals 0.5, minus 1.94 and plus 0.69"),
        (
            "error 3.1 × 10⁻⁷ after 1,000 pairs",
            "error 3.1 times 10 to the minus 7 after 1000 pairs",
        ),
        ("RLHF's KL and DPO", "R L H F's K L and D P O"),
        ("...and renormalised by Z(x)...", "and renormalised by Z of x."),
        ("the best answer, “2 + 2 = 4”.", "the best answer, 2 plus 2 equals 4."),
        ("Bradley–Terry: the reference — DPO", "Bradley Terry: the reference, D P O"),
        ("a multiplier λ, and p*", "a multiplier lambda, and p star"),
        ("y_w ≻ y_l", "y w is preferred to y l"),
    ],
)
def test_a_caption_is_spoken_in_words(caption: str, said: str) -> None:
    assert spoken(caption) == said


def test_an_unknown_symbol_is_read_by_its_name_never_dropped() -> None:
    assert spoken("a ≈ b") == "a almost equal to b"
    assert spoken("Ω") == "omega"


def test_every_sentence_of_the_lecture_is_spoken_as_plain_words(clip_scene) -> None:
    """Every non-ASCII character the lecture's captions use is one the mapping knows (so none is
    read by its Unicode name), and what is said is ASCII."""
    lecture = clip_scene(LECTURE)
    known = set("".join(SYMBOLS)) | set(CHARACTERS) | set("⁰¹²³⁴⁵⁶⁷⁸⁹⁻…")
    for sentence in lecture.sentences:
        text = sentence.speech.text
        unknown = [
            ch
            for ch in text
            if not ch.isascii()
            and ch not in known
            and not unicodedata.name(ch).startswith("GREEK SMALL LETTER")
        ]
        assert unknown == [], text
        assert sentence.speech.spoken.isascii() and sentence.speech.spoken == spoken(text)


def test_a_sentence_key_is_readable_and_changes_with_the_text() -> None:
    text = "Read it backwards: if we knew π*, we could recover r. First, take logs."
    key = sentence_key(text)
    assert key.startswith("read-it-backwards-if-we-knew-pi-star-we-could-")
    assert re.fullmatch(r"[a-z0-9-]+-[0-9a-f]{8}", key) and len(key) <= 48 + 9
    assert sentence_key(f"  {text} ") == key  # spacing is not the text
    at_half, at_one = sentence_key("At β = 0.5."), sentence_key("At β = 1.")
    assert at_half != at_one and at_half.startswith("at-beta-equals-0-5-")


# ---- cues -----------------------------------------------------------------------------------

LONG = (
    "Solved for the reward: the reward is β times the log-ratio of optimal to reference policy, "
    "plus β log Z, which the next step will make disappear from every preference we compare."
)


def test_a_short_sentence_is_one_cue_of_one_line() -> None:
    (cue,) = sentence_cues("Z(x) cancels.", (), 2.0, 1.5)
    assert (cue.start, cue.end, cue.text) == (2.0, 3.5, "Z(x) cancels.")


def test_a_long_sentence_is_cut_into_few_balanced_cues_timed_by_their_characters() -> None:
    cues = sentence_cues(LONG, (), 10.0, 12.0)
    assert len(cues) == -(-len(LONG) // (2 * MAX_LINE_CHARS + 1))  # as few as fit
    assert " ".join(c.text.replace("\n", " ") for c in cues) == LONG  # cut at word boundaries
    lengths = [len(c.text) for c in cues]
    assert max(lengths) - min(lengths) < 30  # even, but for a cut after punctuation
    for cue in cues:
        lines = cue.text.split("\n")
        assert len(lines) == 2 and max(map(len, lines)) <= MAX_LINE_CHARS
        assert abs(len(lines[0]) - len(lines[1])) <= 12  # balanced
    assert cues[0].start == 10.0 and cues[-1].end == 22.0
    assert all(a.end == b.start for a, b in itertools.pairwise(cues))
    shares = [(c.end - c.start) / 12.0 for c in cues]
    assert shares == pytest.approx([n / sum(lengths) for n in lengths])


def test_a_cut_falls_after_punctuation_when_it_can() -> None:
    text = "Raise β and the KL penalty wins: π* falls back onto π_ref, then stays there for good."
    first, _ = sentence_cues(text, (), 0.0, 5.0)
    assert first.text.replace("\n", " ").endswith("wins:")


def test_a_number_is_never_cut_and_belongs_to_the_cue_that_states_it() -> None:
    tiny, answer, step = ERROR(3.14e-7), RESPONSE("2 + 2 = 4"), derivation_step(5)
    text = (
        f"After training, the largest difference between the two is {tiny.text} on the toy "
        f"world, whose best answer is “{answer.text}”, exactly as step {step.text} promised."
    )
    cues = sentence_cues(text, (tiny, answer, step), 0.0, 9.0)
    assert len(cues) == 2
    for number in (tiny, answer, step):
        (holder,) = [c for c in cues if number in c.numbers]
        assert number.text in holder.text  # on one line, whole
    assert [len(c.numbers) for c in cues] == [1, 2]
    assert "step 5" in cues[1].text  # nor cut from the word before it


def test_a_number_stays_with_the_word_before_it() -> None:
    text = "So π* is the unique best policy. Step {step} turns this around, to solve for r."
    step = derivation_step(3)
    (cue,) = sentence_cues(text.format(step=step.text), (step,), 0.0, 5.0)
    assert "Step 3" in cue.text


def test_a_number_the_text_does_not_state_stays_with_the_last_cue() -> None:
    cues = sentence_cues(LONG, (notation("2", "a two"),), 0.0, 9.0)
    assert cues[-1].numbers == (notation("2", "a two"),)
    assert all(not c.numbers for c in cues[:-1])


NASTY = [
    Caption(0.0, 1.5, "a < b & c > d", ()),
    Caption(1.5, 3.25, "12\nfollowed by an arrow --> here", ()),
    Caption(3600.0, 3601.0006, "β = 0.5", (BETA(0.5),)),
]


def test_subrip_and_webvtt_carry_the_cues_safely() -> None:
    cues = [*sentence_cues("12\nfollowed by an arrow --> here", (), 1.5, 1.75), NASTY[0]]
    assert "-->" not in cues[0].text
    parsed = list(srt.parse(to_srt([NASTY[0], cues[0], NASTY[2]])))
    assert [p.content for p in parsed] == [NASTY[0].text, cues[0].text, "β = 0.5"]
    assert [p.start.total_seconds() for p in parsed] == [0.0, 1.5, 3600.0]
    assert parsed[2].end.total_seconds() == 3601.001  # rounded to the millisecond, as recorded
    vtt = to_vtt([NASTY[0], cues[0]])
    assert vtt.startswith("WEBVTT\n\n1\n00:00:00.000 --> 00:00:01.500 " + VTT_SETTINGS + "\n")
    assert "a &lt; b &amp; c &gt; d" in vtt
    assert vtt.count(" --> ") == 2  # the text's arrow is not a timing line
    assert to_srt([]) == "" and to_vtt([]) == "WEBVTT\n"


# ---- voices ---------------------------------------------------------------------------------


def write_wav(path: Path, seconds: float, rate: int = 16000, loud: bool = True) -> Path:
    t = np.arange(int(seconds * rate)) / rate
    samples = (0.3 * np.sin(2 * np.pi * 220 * t) * (1 if loud else 0) * 32767).astype(np.int16)
    path.parent.mkdir(parents=True, exist_ok=True)
    with wave.open(str(path), "wb") as audio:
        audio.setnchannels(1)
        audio.setsampwidth(2)
        audio.setframerate(rate)
        audio.writeframes(samples.tobytes())
    return path


@pytest.fixture
def no_synthesis(monkeypatch):
    """Any attempt to run a speech synthesizer fails the test."""

    def refuse(*args, **kwargs):
        raise AssertionError(f"a synthesizer ran: {args}")

    monkeypatch.setattr(voices.subprocess, "run", refuse)


def test_narration_takes_its_mode_from_the_environment(monkeypatch) -> None:
    monkeypatch.setenv("NARRATION", "none")
    assert narration_mode() == "none"
    monkeypatch.delenv("NARRATION")
    assert narration_mode() == "voice"
    monkeypatch.setenv("NARRATION", "robot")
    with pytest.raises(NarrationError, match="valid values: voice, festival, espeak-ng, none"):
        narration_mode()


def test_a_missing_voice_is_one_line_naming_the_packages(monkeypatch) -> None:
    monkeypatch.setattr(voices.shutil, "which", lambda program: None)
    assert engine_for("voice") is None and voice_problem("none") is None
    problem = voice_problem("voice")
    assert "\n" not in problem
    assert "festival festvox-us-slt-hts" in problem and "NARRATION=none" in problem
    with pytest.raises(NarrationError, match="no offline voice"):
        Narrator("voice", fast=False).speak("Hello.")
    # Fast mode needs no voice at all.
    assert Narrator("voice", fast=True).speak("Hello.").voice == "estimate"


def test_festival_is_the_voice_and_espeak_ng_stands_in_without_it(monkeypatch, tmp_path) -> None:
    monkeypatch.setattr(voices.shutil, "which", lambda program: f"/usr/bin/{program}")
    monkeypatch.setattr(voices, "FESTIVAL_VOICES", tmp_path)
    assert engine_for("voice") == ESPEAK and engine_for("festival") is None  # no SLT voice
    (tmp_path / "us" / FESTIVAL.voice).mkdir(parents=True)
    assert engine_for("voice") == FESTIVAL and engine_for("espeak-ng") == ESPEAK


def test_silent_and_fast_narration_last_the_reading_time(no_synthesis, tmp_path) -> None:
    text = "A sentence that takes a few seconds to read on screen."
    silent = Narrator("none", fast=False, cache_dir=tmp_path).speak(text)
    fast = Narrator("voice", fast=True, cache_dir=tmp_path, recordings_dir=tmp_path).speak(text)
    assert silent.duration == fast.duration == reading_seconds(text)
    assert silent.audio is None and fast.audio is None
    assert (silent.voice, fast.voice) == ("none", "estimate")
    assert not list(tmp_path.iterdir())


def test_a_recording_replaces_the_voice_and_sets_the_time(no_synthesis, tmp_path) -> None:
    text = "Read it backwards: if we knew π*, we could recover r."
    recordings, cache = tmp_path / "recordings", tmp_path / "cache"
    write_wav(recordings / f"{sentence_key(text)}.wav", 2.5, rate=44100)
    for fast in (True, False):
        speech = Narrator("voice", fast=fast, cache_dir=cache, recordings_dir=recordings).speak(
            text
        )
        assert speech.voice == "recording" and speech.duration == pytest.approx(2.5)
    assert wav_seconds(speech.audio) == pytest.approx(2.5)  # the render mixes a PCM copy
    # Silent clips stay silent.
    assert Narrator("none", fast=False, recordings_dir=recordings).speak(text).audio is None


def test_a_recording_that_does_not_decode_is_named(tmp_path) -> None:
    text = "Z(x) cancels."
    (tmp_path / f"{sentence_key(text)}.mp3").write_bytes(b"not audio at all")
    with pytest.raises(NarrationError, match=r"recording .*\.mp3 does not decode"):
        Narrator("voice", fast=False, cache_dir=tmp_path, recordings_dir=tmp_path).speak(text)


@pytest.mark.parametrize("engine", [FESTIVAL, ESPEAK], ids=lambda e: e.name)
def test_the_voice_is_deterministic_and_cached(engine, monkeypatch, tmp_path) -> None:
    """Explicitly about the voice: synthesizes one short sentence with each engine."""
    if not engine.available():
        pytest.fail(f"{engine.name} is not installed: make setup installs {engine.packages}")
    mode = engine.name
    text = "β log Z(x) cancels."
    first = Narrator(mode, fast=False, cache_dir=tmp_path / "a").speak(text)
    again = Narrator(mode, fast=False, cache_dir=tmp_path / "b").speak(text)
    assert first.audio.read_bytes() == again.audio.read_bytes()
    assert 0.8 < first.duration == again.duration < 5
    assert (
        first.voice == f"{engine.name}/{engine.voice}"
        and first.spoken == "beta log Z of x cancels."
    )
    calls = []
    monkeypatch.setattr(voices.subprocess, "run", lambda *a, **k: calls.append(a))
    cached = Narrator(mode, fast=False, cache_dir=tmp_path / "a").speak(text)
    assert cached.audio == first.audio and calls == []


def test_a_truncated_cached_voice_is_discarded_and_made_again(tmp_path) -> None:
    said = []
    narrator = Narrator("voice", fast=False, cache_dir=tmp_path, announce=said.append)
    if narrator.engine is None:
        pytest.fail("no offline voice installed: make setup installs festival")
    good = narrator.speak("One line.")
    data = good.audio.read_bytes()
    good.audio.write_bytes(data[: len(data) // 2])  # killed mid-write, by an older version
    again = narrator.speak("One line.")
    assert again.audio.read_bytes() == data and again.duration == good.duration
    assert len(said) == 1 and "discarded an unreadable cache entry" in said[0]


# ---- a scene's timing -----------------------------------------------------------------------


class Paced(ClaimScene):
    """Two sentences, the second over an animation timed to it."""

    def construct(self) -> None:
        self.narrate("A first sentence, at β = {beta}.", beta=BETA(0.5))
        with self.voiceover("A second sentence, over a circle.") as tracker:
            self.tracked = (tracker.start_t, tracker.duration, tracker.get_remaining_duration())
            self.play(FadeIn(Circle()), run_time=tracker.duration / 2)
        self.after_block = self.time
        self.narrate(None)


def test_a_voiceover_block_is_timed_by_its_sentence(construct_scene, monkeypatch, tmp_path):
    first, second = "A first sentence, at β = 0.5.", "A second sentence, over a circle."
    monkeypatch.setattr(voices, "RECORDINGS_DIR", tmp_path)
    monkeypatch.setenv("NARRATION", "voice")
    write_wav(tmp_path / f"{sentence_key(second)}.wav", 3.0)
    scene = construct_scene(Paced)
    one, two = scene.sentences
    assert (one.speech.voice, two.speech.voice) == ("estimate", "recording")
    start, duration, remaining = scene.tracked
    assert start == two.start >= reading_seconds(first) + SENTENCE_GAP - 1e-9
    assert duration == remaining == pytest.approx(3.0)
    assert scene.after_block == pytest.approx(two.end, abs=1 / 15)  # the block waits for it
    assert scene.time == pytest.approx(two.end + SENTENCE_GAP, abs=1 / 15)
    assert [n.text for c in scene.captions for n in c.numbers] == ["0.5"]


class Spoken(ClaimScene):
    """Two sentences over two short animations."""

    def construct(self) -> None:
        self.narrate("One circle.")
        self.play(FadeIn(Circle()), run_time=0.5)
        self.narrate("And the scene ends.")
        self.wait(0.5)


def loudness(video: Path, start: float, end: float) -> float:
    """RMS of the video's sound between ``start`` and ``end`` seconds (full scale: 1)."""
    import av

    with av.open(str(video)) as container:
        frames = list(container.decode(audio=0))
    rate = frames[0].sample_rate
    sound = np.concatenate([frame.to_ndarray().mean(axis=0) for frame in frames])
    return float(np.sqrt(np.mean(sound[int(start * rate) : int(end * rate)] ** 2)))


def heard_at(video: Path, recording: Path, near: float) -> float:
    """When the video's sound plays ``recording`` (a WAV at the track's rate), searched within
    0.3 s of ``near``: the best match of the two waveforms."""
    import av

    with av.open(str(video)) as container:
        frames = list(container.decode(audio=0))
    rate = frames[0].sample_rate
    sound = np.concatenate([frame.to_ndarray().mean(axis=0) for frame in frames])
    with wave.open(str(recording)) as audio:
        voice = np.frombuffer(audio.readframes(audio.getnframes()), dtype=np.int16) / 32768
    first = max(0, int((near - 0.3) * rate))
    window = sound[first : int((near + 0.3) * rate) + len(voice)]
    return (first + int(np.argmax(np.correlate(window, voice, mode="valid")))) / rate


def render_spoken(media: Path) -> tuple[dict, list[dict]]:
    from manim import tempconfig

    from scenes.manim_guards import guarded_manim
    from scenes.render import probe

    settings = {"quality": "low_quality", "media_dir": str(media), "verbosity": "ERROR"}
    with tempconfig({**settings, "progress_bar": "none"}), guarded_manim(media / "tex.lock"):
        scene = Spoken()
        scene.render()
    video = scene.output_plan.primary_artifact
    return {**probe(video), "path": video}, [s.record() for s in scene.sentences]


def test_a_warm_render_is_narrated_like_a_cold_one(monkeypatch, tmp_path) -> None:
    """Explicitly about the voice. Manim skips between two animations it found in its cache, and
    dropped the sounds added there: every animation cached, the clip was silent."""
    monkeypatch.setenv("NARRATION", "voice")
    cold, cold_sentences = render_spoken(tmp_path)
    warm, warm_sentences = render_spoken(tmp_path)
    assert cold == warm and cold_sentences == warm_sentences
    voice = Narrator("voice", fast=False).speak("One circle.").audio
    with wave.open(str(voice)) as recorded:  # encoded at the voice's own rate and channels
        as_recorded = {"sample_rate": recorded.getframerate(), "channels": recorded.getnchannels()}
    assert cold["audio"]["codec"] == "aac" and as_recorded.items() <= cold["audio"].items()
    for sentence in warm_sentences:  # each sentence is heard, the one after a cached animation too
        assert loudness(warm["path"], sentence["start"] + 0.1, sentence["end"] - 0.1) > 0.01
        # … when it is said, not an AAC frame late (the encoder's priming samples)
        recording = Narrator("voice", fast=False).speak(sentence["text"]).audio
        assert heard_at(warm["path"], recording, sentence["start"]) == pytest.approx(
            sentence["start"], abs=1e-3
        )
    rate = cold["audio"]["sample_rate"]
    assert abs(cold["audio"]["duration"] - cold["duration"]) <= 1 / 15 + 1024 / rate
    assert cold["duration"] == pytest.approx(warm_sentences[-1]["end"] + SENTENCE_GAP, abs=1 / 15)


def test_a_silent_render_has_no_sound_track(tmp_path) -> None:
    info, sentences = render_spoken(tmp_path)  # NARRATION=none, as the tests run
    assert info["audio"] is None
    assert [s["voice"] for s in sentences] == ["none", "none"]


def test_the_list_names_every_sentence_its_key_and_its_recording(monkeypatch, tmp_path, capsys):
    from scenes.narration import __main__ as listing

    clip = find_clip("step3_reparameterisation")
    said = "Step 2 gave the optimal policy in terms of the reward."
    write_wav(tmp_path / f"{sentence_key(said)}.wav", 1.0)
    write_wav(tmp_path / "an-old-sentence-0123abcd.wav", 1.0)
    entries = listing.catalogue((clip,), tmp_path)  # the clip constructed in fast mode, once
    assert len(entries) == 11 and all(entry["clips"] == [clip.name] for entry in entries)
    assert entries[0] == {
        "key": sentence_key(said),
        "text": said,
        "spoken": said,
        "clips": [clip.name],
        "recording": str(tmp_path / f"{sentence_key(said)}.wav"),
    }
    monkeypatch.setattr(listing, "catalogue", lambda clips, recordings: entries)
    assert listing.main(["list", "--recordings", str(tmp_path)]) == 0
    out = capsys.readouterr().out
    assert f"{sentence_key(said)}\trecorded\t{clip.name}\n    {said}\n" in out
    assert "\tvoice\tstep3_reparameterisation\n    Read it backwards: if we knew π*" in out
    assert "11 sentences, 1 recorded" in out
    assert "not the key of any sentence (reworded?): " in out and "an-old-sentence" in out
    assert listing.main(["list", "--missing", "--json", "--recordings", str(tmp_path)]) == 0
    assert json.loads(capsys.readouterr().out) == entries[1:]
