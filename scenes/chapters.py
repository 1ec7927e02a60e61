"""A clip's chapters, from the sections its scene marked: the lecture's are its clips (with a title
card and a recap); a clip without sections is one chapter, its title.

They go three places, all from one list: the MP4's chapter markers (``scenes.mp4``), the
``<clip>.chapters.vtt`` a browser's ``<track kind="chapters">`` reads, and the clip's record (the
course page lists them). Times are in seconds, to the millisecond, as the record's sections are.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import asdict, dataclass

from scenes.narration.cues import timestamp


@dataclass(frozen=True)
class Chapter:
    title: str
    start: float  # seconds
    end: float

    def record(self) -> dict:
        return asdict(self)


def clip_chapters(
    sections: Iterable[tuple[str, float]], duration: float, title: str
) -> list[Chapter]:
    """Each section a chapter, from its start to the next one's (the last to the clip's end).
    Time before the first section is a chapter named ``title``, and so is a clip without
    sections; a section of no length (it starts where the next does, or at the end) is dropped."""
    duration = round(duration, 3)
    starts = [(name, round(start, 3)) for name, start in sections]
    if not starts or starts[0][1] > 0:
        starts.insert(0, (title, 0.0))
    ends = [start for _, start in starts[1:]] + [duration]
    return [
        Chapter(name, start, end)
        for (name, start), end in zip(starts, ends, strict=True)
        if end > start
    ]


def chapters_vtt(chapters: Iterable[Chapter]) -> str:
    """WebVTT chapter cues: one per chapter, its title the cue's text."""
    lines = ["WEBVTT", ""]
    for number, chapter in enumerate(chapters, start=1):
        start, end = timestamp(chapter.start), timestamp(chapter.end)
        # A cue's text ends at a blank line and may not hold "-->": keep the title one line.
        text = " ".join(chapter.title.replace("-->", "→").split())
        lines += [f"chapter-{number}", f"{start} --> {end}", text, ""]
    return "\n".join(lines)
