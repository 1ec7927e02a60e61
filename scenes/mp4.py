"""MP4s for the web: the index first, and the clip's chapters as markers.

Manim's MP4 has its index (the ``moov`` box) after the media (``mdat``), so a browser must fetch
the end of the file before it can play the start. ``write_web_mp4`` remuxes it, packet by packet
(no re-encode: every video and audio packet is copied as it is), with FFmpeg's ``faststart``,
which puts ``moov`` before ``mdat``, and with the chapters as MP4 chapter markers — FFmpeg writes
both kinds players read: a QuickTime chapter text track and a Nero ``chpl`` list.
"""

from __future__ import annotations

import struct
from collections.abc import Sequence
from fractions import Fraction
from pathlib import Path

from scenes.chapters import Chapter

CHAPTER_TIME_BASE = Fraction(1, 1000)  # chapter times are kept to the millisecond
COPIED = ("video", "audio")  # other streams (an old chapter track) are replaced, not copied
# Container tags FFmpeg writes anew: copying them would only repeat the old values as text.
REWRITTEN_TAGS = {"major_brand", "minor_version", "compatible_brands", "encoder"}


def write_web_mp4(source: Path, destination: Path, chapters: Sequence[Chapter]) -> None:
    """``source``'s video and audio streams, unchanged, into ``destination``: index first, with
    ``chapters`` as chapter markers."""
    import av

    with (
        av.open(str(source)) as original,
        av.open(str(destination), "w", format="mp4", options={"movflags": "faststart"}) as web,
    ):
        copies = {}
        for stream in original.streams:
            if stream.type in COPIED:
                copies[stream.index] = web.add_stream_from_template(stream)
                copies[stream.index].metadata.update(stream.metadata)
        web.metadata.update(
            {key: value for key, value in original.metadata.items() if key not in REWRITTEN_TAGS}
        )
        web.set_chapters([_marker(number, chapter) for number, chapter in enumerate(chapters)])
        for packet in original.demux(*(original.streams[index] for index in copies)):
            if packet.dts is None:  # the demuxer's empty packet at the end of each stream
                continue
            packet.stream = copies[packet.stream.index]
            web.mux(packet)


def _marker(number: int, chapter: Chapter) -> dict:
    def ticks(seconds: float) -> int:
        return round(Fraction(seconds).limit_denominator(10**6) / CHAPTER_TIME_BASE)

    return {
        "id": number,
        "start": ticks(chapter.start),
        "end": ticks(chapter.end),
        "time_base": CHAPTER_TIME_BASE,
        "metadata": {"title": chapter.title},
    }


def read_chapters(video: Path) -> list[Chapter]:
    """The chapter markers of an MP4, read back."""
    import av

    with av.open(str(video)) as container:
        return [
            Chapter(
                marker["metadata"].get("title", ""),
                round(float(marker["start"] * marker["time_base"]), 3),
                round(float(marker["end"] * marker["time_base"]), 3),
            )
            for marker in container.chapters()
        ]


def top_level_boxes(video: Path) -> list[str]:
    """The types of an MP4's top-level boxes, in file order (``ftyp``, ``moov``, ``mdat`` …)."""
    boxes, offset, length = [], 0, Path(video).stat().st_size
    with Path(video).open("rb") as file:
        while offset < length:
            file.seek(offset)
            size, kind = struct.unpack(">I4s", file.read(8).ljust(8, b"\0"))
            header = 8
            if size == 1:  # a 64-bit size follows the type
                size, header = struct.unpack(">Q", file.read(8).ljust(8, b"\0"))[0], 16
            elif size == 0:  # the last box, to the end of the file
                size = length - offset
            if size < header or offset + size > length:
                raise ValueError(f"{video}: a box of {size} bytes at byte {offset} of {length}")
            boxes.append(kind.decode("latin-1"))
            offset += size
    return boxes
