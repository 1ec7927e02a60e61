"""Chapters from a clip's sections, and the remux that writes MP4s for the web: index first,
chapter markers, every video and audio packet as it was."""

from __future__ import annotations

from pathlib import Path

import av
import pytest
from media import make_clip

from scenes.chapters import Chapter, chapters_vtt, clip_chapters
from scenes.mp4 import read_chapters, top_level_boxes, write_web_mp4
from scenes.narration.cues import timestamp


def test_each_section_is_a_chapter_to_the_next_one() -> None:
    sections = [("Title", 0.0), ("Step 1: The RLHF objective", 7.5), ("Recap", 388.9334)]
    assert clip_chapters(sections, 399.9333, "DPO") == [
        Chapter("Title", 0.0, 7.5),
        Chapter("Step 1: The RLHF objective", 7.5, 388.933),
        Chapter("Recap", 388.933, 399.933),
    ]


def test_a_clip_without_sections_is_one_chapter_named_by_its_title() -> None:
    assert clip_chapters([], 61.5333, "Solve for the reward") == [
        Chapter("Solve for the reward", 0.0, 61.533)
    ]


def test_time_before_the_first_section_is_the_titles_and_empty_sections_go() -> None:
    sections = [("A", 2.0), ("B", 5.0), ("C", 5.0), ("D", 9.0)]
    assert clip_chapters(sections, 9.0, "Clip") == [
        Chapter("Clip", 0.0, 2.0),
        Chapter("A", 2.0, 5.0),
        Chapter("C", 5.0, 9.0),
    ]


def test_chapters_as_webvtt() -> None:
    chapters = [Chapter("Title", 0.0, 7.5), Chapter("Step 1 --> 2\n  <b>", 7.5, 3725.0)]
    assert chapters_vtt(chapters) == (
        "WEBVTT\n\n"
        "chapter-1\n00:00:00.000 --> 00:00:07.500\nTitle\n\n"
        "chapter-2\n00:00:07.500 --> 01:02:05.000\nStep 1 → 2 <b>\n"
    )
    assert timestamp(61.5334) == "00:01:01.533"


def packets(path: Path) -> dict[str, list[tuple]]:
    """Per stream type, every packet: its bytes, times in seconds, key flag."""
    found: dict[str, list[tuple]] = {}
    with av.open(str(path)) as container:
        for packet in container.demux(*container.streams.video, *container.streams.audio):
            if packet.dts is None:
                continue
            found.setdefault(packet.stream.type, []).append(
                (
                    bytes(packet),
                    float(packet.pts * packet.time_base),
                    float(packet.dts * packet.time_base),
                    packet.is_keyframe,
                )
            )
    return found


def describe(path: Path) -> list[tuple]:
    with av.open(str(path)) as container:
        return [
            (
                s.type,
                s.codec_context.name,
                s.codec_context.extradata,
                s.frames,
                float(s.duration * s.time_base),
                getattr(s.codec_context, "width", None),
                getattr(s.codec_context, "sample_rate", None),
            )
            for s in (*container.streams.video, *container.streams.audio)
        ]


@pytest.mark.parametrize("audio", [True, False], ids=["video+audio", "video"])
def test_the_web_mp4_has_its_index_first_chapters_and_the_same_streams(
    tmp_path: Path, audio: bool
) -> None:
    source, web = tmp_path / "manim.mp4", tmp_path / "web.mp4"
    make_clip(source, audio=audio)
    boxes = top_level_boxes(source)
    assert boxes.index("mdat") < boxes.index("moov"), "the source must show the check can fail"
    chapters = [Chapter("Title", 0.0, 0.8), Chapter("Step 1: π* — β", 0.8, 2.0)]

    write_web_mp4(source, web, chapters)

    boxes = top_level_boxes(web)
    assert boxes[0] == "ftyp" and boxes.index("moov") < boxes.index("mdat")
    assert read_chapters(web) == chapters
    assert describe(web) == describe(source)
    assert packets(web) == packets(source)
    assert sorted(packets(web)) == (["audio", "video"] if audio else ["video"])
    with av.open(str(web)) as container:
        assert sum(1 for _ in container.decode(video=0)) == 30


def test_remuxing_a_web_mp4_again_replaces_its_chapters(tmp_path: Path) -> None:
    source, first, second = tmp_path / "a.mp4", tmp_path / "b.mp4", tmp_path / "c.mp4"
    make_clip(source, audio=False)
    write_web_mp4(source, first, [Chapter("Old", 0.0, 2.0)])
    write_web_mp4(first, second, [Chapter("New", 0.0, 1.0), Chapter("Newer", 1.0, 2.0)])
    assert [chapter.title for chapter in read_chapters(second)] == ["New", "Newer"]
    assert packets(second) == packets(source)


def test_a_cut_short_mp4_is_an_error_naming_the_box(tmp_path: Path) -> None:
    source = tmp_path / "clip.mp4"
    make_clip(source, audio=False)
    data = source.read_bytes()
    source.write_bytes(data[: len(data) - 100])
    with pytest.raises(ValueError, match=r"a box of \d+ bytes at byte \d+ of"):
        top_level_boxes(source)
