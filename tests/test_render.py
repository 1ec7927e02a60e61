"""Rendering: one real low-quality render end to end, narrated, its manifest entry, and the
failure modes (bad names, missing LaTeX, claims that do not hold, lab computations that fail)."""

from __future__ import annotations

import itertools
import json
import subprocess
from pathlib import Path

import av
import numpy as np
import pytest
import srt
from PIL import Image

from lab.claims import Claim, Evidence, get_claim, registry
from scenes import labdata
from scenes import publish as sets
from scenes.catalog import CLIPS, find_clip
from scenes.manifest import ManifestError, build_manifest
from scenes.manifest import main as manifest_main
from scenes.quantities import BETA
from scenes.render import (
    RenderError,
    check_latex,
    main,
    render_clip,
    verify_claims,
)

ROOT = Path(__file__).resolve().parents[1]
# The shortest step clip: the end-to-end render stays a few seconds of CPU.
CLIP = "step3_reparameterisation"


def test_low_quality_render_matches_its_manifest_entry(tmp_path: Path, monkeypatch) -> None:
    monkeypatch.setenv("NARRATION", "voice")  # the offline voice (cached in build/narration)
    clip = find_clip(CLIP)
    renders, records = tmp_path / "renders", tmp_path / "records"
    said = []
    render_clip(
        clip, "low", renders, records_dir=records, publish_dir=tmp_path / "publish",
        announce=said.append,
    )  # fmt: skip
    # Progress, a line per phase (and one every 15 s while Manim renders).
    assert said[:2] == [
        f"{CLIP}: verifying the {len(clip.claims)} claims it shows",
        f"{CLIP}: rendering at low quality, narration: voice",
    ]
    # The full manifest wants every clip: with one record it refuses, naming the others.
    assert manifest_main(["--records", str(records), "--out", str(tmp_path / "m.json")]) == 1
    entry = build_manifest(records, clips=[clip])["clips"][0]

    files = {kind: renders / f"{CLIP}.{kind}" for kind in sets.CLIP_FILES}
    assert entry["files"] == {kind: str(path) for kind, path in files.items()}
    assert all(path.stat().st_size > 0 for path in files.values())
    assert (entry["name"], entry["scene"], entry["step"]) == (CLIP, clip.scene, 3)
    assert clip.chapter is not None and entry["chapter"] == clip.chapter
    assert (entry["width"], entry["height"], entry["fps"]) == (854, 480, 15)
    assert entry["claims"] == list(clip.claims)

    with av.open(str(files["mp4"])) as container:
        stream = container.streams.video[0]
        assert stream.codec_context.name == "h264"
        assert stream.codec_context.pix_fmt == "yuv420p"  # plays in browsers
        assert (stream.width, stream.height) == (854, 480)
        decoded = [frame.time for frame in container.decode(video=0)]
    assert len(decoded) == entry["frames"]
    assert entry["duration"] == round(len(decoded) / 15, 3)  # recorded to the millisecond
    assert abs(decoded[-1] + 1 / 15 - entry["duration"]) < 2 / 15
    assert 30 <= entry["duration"] <= 90

    srt_text, vtt_text = files["srt"].read_text(), files["vtt"].read_text()
    says = get_claim("step3.reparameterisation").says
    assert says in " ".join(" ".join(caption["text"].split()) for caption in entry["captions"])
    assert vtt_text.startswith("WEBVTT")
    # The entry's captions are the .srt's cues and the .vtt's, each with the numbers it states.
    cues, vtt_cues = list(srt.parse(srt_text)), vtt_text.split("\n\n")[1:]
    assert [caption["text"] for caption in entry["captions"]] == [cue.content for cue in cues]
    assert len(vtt_cues) == len(cues)
    for caption, cue, vtt_cue in zip(entry["captions"], cues, vtt_cues, strict=True):
        assert set(caption) == {"start", "end", "text", "numbers"}
        assert caption["start"] == cue.start.total_seconds()  # both to the millisecond
        assert caption["end"] == cue.end.total_seconds()
        assert vtt_cue.split("\n", 2)[2].strip() == caption["text"]
    check_the_narration(files["mp4"], entry)
    beta = labdata.prompt(0).beta
    stated = [number for caption in entry["captions"] for number in caption["numbers"]]
    assert {"text": BETA.text(beta), "kind": "lab", "what": "beta", "value": beta} in stated
    with Image.open(files["png"]) as poster:
        assert poster.size == (854, 480)
    assert not list(renders.glob(".*partial*")), "a partial file was left behind"
    assert not list((tmp_path / "publish").glob(f"{CLIP}.*[!k]")), "staging left behind"
    record = json.loads((records / f"{CLIP}.json").read_text())
    assert record["sha256"]["mp4"] == sets.digest(files["mp4"])


def check_the_narration(video: Path, entry: dict) -> None:
    """The clip's sound: AAC, as long as the video (within a frame and an AAC frame), speech
    while each sentence is spoken, silence between sentences, and each cue while it is said."""
    sentences = entry["sentences"]
    assert [s["voice"] for s in sentences] == ["festival/cmu_us_slt_arctic_hts"] * len(sentences)
    assert entry["audio"]["codec"] == "aac"
    with av.open(str(video)) as container:
        stream = container.streams.audio[0]
        assert stream.codec_context.name == "aac"
        frames = list(container.decode(stream))
    rate = frames[0].sample_rate
    sound = np.concatenate([frame.to_ndarray().mean(axis=0) for frame in frames])
    assert abs(len(sound) / rate - entry["duration"]) <= 1 / entry["fps"] + 1024 / rate
    assert entry["audio"]["duration"] == round(len(sound) / rate, 3)

    def loudness(start: float, end: float) -> float:
        return float(np.sqrt(np.mean(sound[int(start * rate) : int(end * rate)] ** 2)))

    for sentence in sentences:
        assert loudness(sentence["start"] + 0.2, sentence["end"] - 0.2) > 0.01, sentence["text"]
        cues = [c for c in entry["captions"] if sentence["start"] <= c["start"] < sentence["end"]]
        assert cues[0]["start"] == sentence["start"] and cues[-1]["end"] == sentence["end"]
        assert " ".join(c["text"].replace("\n", " ") for c in cues) == sentence["text"]
    for before, after in itertools.pairwise(sentences):
        assert after["start"] >= before["end"] + 0.3 - 1e-3  # spoken, then a gap
        assert loudness(before["end"] + 0.1, after["start"] - 0.02) < 1e-3  # past AAC's overlap
    assert loudness(sentences[-1]["end"] + 0.1, entry["duration"]) < 1e-3


def test_unknown_clip_and_quality_list_the_valid_ones(capsys) -> None:
    with pytest.raises(SystemExit) as exit_info:
        main(["step9_nothing", "--quality", "low"])
    assert exit_info.value.code == 2
    assert f"valid clips: {CLIPS[0].name}, " in capsys.readouterr().err
    with pytest.raises(SystemExit):
        main(["step1_objective", "--quality", "ultra"])
    assert "valid qualities: low, medium, high" in capsys.readouterr().err


def test_make_rejects_an_unknown_clip() -> None:
    result = subprocess.run(
        ["make", "-n", "renders/step9.mp4"], cwd=ROOT, capture_output=True, text=True
    )
    assert result.returncode != 0
    assert f"no clip 'step9' to render; valid clips: {CLIPS[0].name} " in result.stderr


def test_make_rejects_an_unknown_quality() -> None:
    result = subprocess.run(
        ["make", "-n", "render", "QUALITY=ultra"], cwd=ROOT, capture_output=True, text=True
    )
    assert result.returncode != 0
    assert "unknown QUALITY 'ultra'; valid values: low medium high" in result.stderr


def test_missing_latex_is_one_line_naming_the_packages() -> None:
    with pytest.raises(RenderError) as error:
        check_latex(which=lambda program: None)
    message = str(error.value)
    assert "\n" not in message
    assert "latex" in message and "texlive-latex-base" in message and "dvisvgm" in message


def test_a_claim_that_does_not_hold_stops_the_render(monkeypatch, tmp_path: Path) -> None:
    real = get_claim("step2.closed_form")
    failing = Evidence({"max_abs_error": 0.5}, 1e-9, False, note="π* does not sum to one")
    monkeypatch.setitem(
        registry(),
        real.id,
        Claim(real.id, real.step, real.tex, real.says, lambda tex: failing, real.refute),
    )
    with pytest.raises(RenderError, match=r"claim step2\.closed_form does not hold"):
        verify_claims(("step1.objective", "step2.closed_form"), cache_dir=tmp_path)
    assert not list(tmp_path.glob("claims-*.json")), "a failed verification caches nothing"


def test_a_failing_lab_computation_stops_the_render_naming_the_claim(
    monkeypatch, tmp_path: Path, capsys
) -> None:
    def broken(index: int = 0):
        with labdata.backed_by("step1.objective"):
            raise ValueError("pi_ref does not sum to 1 (off by 0.2)")

    monkeypatch.setattr(labdata, "prompt", broken)
    out = tmp_path / "renders"
    code = main(["step1_objective", "--quality", "low", "--no-verify", "--out", str(out)])
    assert code == 1
    err = capsys.readouterr().err
    assert "step1.objective" in err and "off by 0.2" in err
    assert not out.exists() or not list(out.iterdir()), "nothing is published"


def test_the_manifest_names_missing_records(tmp_path: Path) -> None:
    with pytest.raises(ManifestError, match=f"no render record for: {CLIPS[0].name}, "):
        build_manifest(tmp_path)


def test_the_manifest_refuses_a_record_without_captions(tmp_path: Path) -> None:
    """A record written before records had captions is stale: the clip is to be rendered again."""
    video = tmp_path / f"{CLIP}.mp4"
    video.write_bytes(b"")
    record = {"name": CLIP, "quality": "low", "duration": 1.0, "files": {"mp4": str(video)}}
    (tmp_path / f"{CLIP}.json").write_text(json.dumps(record))
    with pytest.raises(ManifestError, match=f"records without captions or sentences: {CLIP}"):
        build_manifest(tmp_path, clips=[find_clip(CLIP)])
    record["captions"] = []
    (tmp_path / f"{CLIP}.json").write_text(json.dumps(record))
    with pytest.raises(ManifestError, match=f"records without captions or sentences: {CLIP}"):
        build_manifest(tmp_path, clips=[find_clip(CLIP)])
    record.update(sentences=[], narration="none")
    (tmp_path / f"{CLIP}.json").write_text(json.dumps(record))
    assert build_manifest(tmp_path, clips=[find_clip(CLIP)])["clips"] == [record]


def test_the_manifest_refuses_clips_narrated_differently(tmp_path: Path) -> None:
    clips = [find_clip(CLIP), find_clip("step4_bradley_terry")]
    for clip, narration in zip(clips, ("voice", "none"), strict=True):
        record = {"name": clip.name, "quality": "low", "duration": 1.0, "files": {}}
        record.update(captions=[], sentences=[], narration=narration)
        (tmp_path / f"{clip.name}.json").write_text(json.dumps(record))
    with pytest.raises(ManifestError, match=r"different NARRATION: \['none', 'voice'\]"):
        build_manifest(tmp_path, clips=clips)


def test_the_tex_lock_survives_manims_tex_cleanup(tmp_path: Path) -> None:
    """Manim deletes every non-.svg/.tex file in its Tex folder after a compile; a lock file kept
    there vanished under `make -j2` and two renders compiled at once (a .dvi went missing)."""
    from manim import MathTex, config, tempconfig

    from scenes.manim_guards import guarded_manim
    from scenes.render import MEDIA_DIR, TEX_LOCK

    lock = tmp_path / TEX_LOCK.relative_to(MEDIA_DIR)
    with tempconfig({"media_dir": str(tmp_path)}), guarded_manim(lock):
        MathTex(r"x^2 + 1")  # compiles, then Manim cleans its Tex folder
        tex_dir = config.get_dir("tex_dir")
    assert list(tex_dir.glob("*.svg")), "the compile should have happened in the temporary folder"
    assert lock.exists()
