"""One real low-quality render, end to end, into a temporary renders/ folder."""

from __future__ import annotations

from pathlib import Path

import av
import pytest

from lab.claims import get_claim
from scenes.catalog import find_clip
from scenes.render import publish, render_clip


def test_low_quality_render_writes_a_playable_clip_with_captions(tmp_path: Path) -> None:
    clip = find_clip("step4_bradley_terry")
    record = render_clip(clip, "low", tmp_path / "renders", records_dir=tmp_path / "records")

    video = tmp_path / "renders" / "step4_bradley_terry.mp4"
    captions = tmp_path / "renders" / "step4_bradley_terry.srt"
    assert record["files"] == {"mp4": str(video), "srt": str(captions)}
    assert (record["width"], record["height"], record["fps"]) == (854, 480, 15)
    assert record["claims"] == ["step4.sigmoid_identity"]

    with av.open(str(video)) as container:
        stream = container.streams.video[0]
        assert stream.codec_context.name == "h264"
        assert stream.codec_context.pix_fmt == "yuv420p"  # plays in browsers
        assert (stream.width, stream.height) == (854, 480)
        frames = sum(1 for _ in container.decode(video=0))
    assert frames > 5 * 15, "the clip should last several seconds"
    assert get_claim("step4.sigmoid_identity").says in captions.read_text()
    assert not list((tmp_path / "renders").glob(".*partial")), "a partial file was left behind"


def test_publish_leaves_the_old_file_when_the_copy_fails(tmp_path: Path) -> None:
    destination = tmp_path / "clip.mp4"
    destination.write_bytes(b"the previous good render")
    with pytest.raises(FileNotFoundError):
        publish(tmp_path / "missing.mp4", destination)
    assert destination.read_bytes() == b"the previous good render"
