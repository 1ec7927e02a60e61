"""Rendering: one real low-quality render end to end, its manifest entry, and the failure modes
(bad names, missing LaTeX, claims that do not hold, lab computations that fail)."""

from __future__ import annotations

import json
import subprocess
from pathlib import Path

import av
import pytest
import srt
from PIL import Image

from lab.claims import Claim, Evidence, get_claim, registry
from scenes import labdata
from scenes import publish as sets
from scenes.catalog import find_clip
from scenes.manifest import ManifestError, build_manifest
from scenes.manifest import main as manifest_main
from scenes.quantities import BETA
from scenes.render import (
    RenderError,
    check_latex,
    main,
    render_clip,
    srt_to_vtt,
    verify_claims,
)

ROOT = Path(__file__).resolve().parents[1]
# The shortest step clip: the end-to-end render stays a few seconds of CPU.
CLIP = "step3_reparameterisation"


def test_low_quality_render_matches_its_manifest_entry(tmp_path: Path) -> None:
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
        f"{CLIP}: rendering at low quality",
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
    assert get_claim("step3.reparameterisation").says in srt_text
    assert vtt_text.startswith("WEBVTT") and get_claim("step3.reparameterisation").says in vtt_text
    # The entry's captions are the .srt's cues, each with the numbers it states.
    cues = list(srt.parse(srt_text))
    assert [caption["text"] for caption in entry["captions"]] == [cue.content for cue in cues]
    for caption, cue in zip(entry["captions"], cues, strict=True):
        assert set(caption) == {"start", "end", "text", "numbers"}
        # The record rounds to the millisecond, SubRip truncates: they differ by at most one.
        assert caption["start"] == pytest.approx(cue.start.total_seconds(), abs=1.001e-3)
        assert caption["end"] == pytest.approx(cue.end.total_seconds(), abs=1.001e-3)
    beta = labdata.prompt(0).beta
    stated = [number for caption in entry["captions"] for number in caption["numbers"]]
    assert {"text": BETA.text(beta), "kind": "lab", "what": "beta", "value": beta} in stated
    with Image.open(files["png"]) as poster:
        assert poster.size == (854, 480)
    assert not list(renders.glob(".*partial*")), "a partial file was left behind"
    assert not list((tmp_path / "publish").glob(f"{CLIP}.*[!k]")), "staging left behind"
    record = json.loads((records / f"{CLIP}.json").read_text())
    assert record["sha256"]["mp4"] == sets.digest(files["mp4"])


def test_vtt_captions_from_srt() -> None:
    srt_text = (
        "1\n00:00:01,000 --> 00:01:02,500\nHello, β.\n\n2\n00:01:03,000 --> 00:01:04,000\nBye.\n"
    )
    assert srt_to_vtt(srt_text) == (
        "WEBVTT\n\n1\n00:00:01.000 --> 00:01:02.500\nHello, β.\n\n"
        "2\n00:01:03.000 --> 00:01:04.000\nBye.\n"
    )


def test_unknown_clip_and_quality_list_the_valid_ones(capsys) -> None:
    with pytest.raises(SystemExit) as exit_info:
        main(["step9_nothing", "--quality", "low"])
    assert exit_info.value.code == 2
    assert "valid clips: step1_objective" in capsys.readouterr().err
    with pytest.raises(SystemExit):
        main(["step1_objective", "--quality", "ultra"])
    assert "valid qualities: low, medium, high" in capsys.readouterr().err


def test_make_rejects_an_unknown_clip() -> None:
    result = subprocess.run(
        ["make", "-n", "renders/step9.mp4"], cwd=ROOT, capture_output=True, text=True
    )
    assert result.returncode != 0
    assert "no clip 'step9' to render; valid clips: step1_objective" in result.stderr


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
    with pytest.raises(ManifestError, match="no render record for: step1_objective"):
        build_manifest(tmp_path)


def test_the_manifest_refuses_a_record_without_captions(tmp_path: Path) -> None:
    """A record written before records had captions is stale: the clip is to be rendered again."""
    video = tmp_path / f"{CLIP}.mp4"
    video.write_bytes(b"")
    record = {"name": CLIP, "quality": "low", "duration": 1.0, "files": {"mp4": str(video)}}
    (tmp_path / f"{CLIP}.json").write_text(json.dumps(record))
    with pytest.raises(ManifestError, match=f"records without captions: {CLIP}"):
        build_manifest(tmp_path, clips=[find_clip(CLIP)])
    record["captions"] = []
    (tmp_path / f"{CLIP}.json").write_text(json.dumps(record))
    assert build_manifest(tmp_path, clips=[find_clip(CLIP)])["clips"] == [record]


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
