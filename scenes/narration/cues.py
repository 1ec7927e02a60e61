"""Captions from the narration: each sentence cut into cues, timed by its voice, written as SubRip
and WebVTT.

A cue is at most two lines of at most 42 characters (the common broadcast and streaming rule).
A sentence is cut at word boundaries into as few cues as fit, as even in length as possible,
preferring cuts after punctuation; a cue longer than a line is broken into two lines of balanced
length. A number the sentence states (a ``Stated``) is never cut in two ("3.1 × 10⁻⁷", "2 + 2 =
4") nor from the word before it ("step 3"), and belongs to the cue whose text states it. The
cues share the sentence's spoken time in proportion to their characters: the first starts when the
voice starts, the last ends when it ends.

WebVTT cues carry ``line:96%,end``: the caption's box sits on the bottom edge of the frame. Over
every second of every clip, the bottom eighth of the frame is where there is least on screen (the
heading fills the top, the equations and tables the middle and lower middle).
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import timedelta

from scenes.quantities import Stated, number_spans

MAX_LINE_CHARS = 42
MAX_LINES = 2
VTT_SETTINGS = "line:96%,end"
# Cutting a sentence elsewhere than after punctuation costs as much as a cue this many characters
# longer than it needs to be (lengths are compared by their squares).
UNPUNCTUATED_CUT = 20


@dataclass(frozen=True)
class Caption:
    """One cue: its time on screen (seconds), its text (lines joined by a line break) and the
    numbers the text states."""

    start: float
    end: float
    text: str
    numbers: tuple[Stated, ...]

    def record(self) -> dict:
        return {
            "start": round(self.start, 3),
            "end": round(self.end, 3),
            "text": self.text,
            "numbers": [number.record() for number in self.numbers],
        }


def legal_text(text: str) -> str:
    """A caption's text as both formats can carry it: one line of words (breaks are the cues'),
    and no "-->", which both read as a timing line."""
    return " ".join(text.replace("-->", "→").split())


def sentence_cues(
    text: str, numbers: Sequence[Stated], start: float, duration: float
) -> list[Caption]:
    """The sentence ``text`` (stating ``numbers``, in order) as cues spread over ``duration``
    seconds from ``start``."""
    text = legal_text(text)
    spans = number_spans(text, numbers)
    words = _words(text, [span for span in spans if span is not None])
    groups = _groups(text, words)
    total = sum(len(cue) for cue, _ in groups)
    cues, elapsed = [], 0
    for index, (cue, cue_words) in enumerate(groups):
        last = index == len(groups) - 1
        begin, end = cue_words[0][0], cue_words[-1][1]
        stated = tuple(
            number
            for number, span in zip(numbers, spans, strict=True)
            # A number the text does not state stays with the last cue, where checks find it.
            if (span is None and last) or (span is not None and begin <= span[0] < end)
        )
        cue_start = start + duration * elapsed / total
        elapsed += len(cue)
        cue_end = start + duration if last else start + duration * elapsed / total
        lines = _split_lines(text, cue_words) or [cue]
        cues.append(Caption(cue_start, cue_end, "\n".join(lines), stated))
    return cues


def _words(text: str, unbreakable: Sequence[tuple[int, int]]) -> list[tuple[int, int]]:
    """(start, end) of each word of ``text``; a space inside an ``unbreakable`` span, or just
    before one ("step 3", "= 0.5": a number stays with the word before it), is not a word
    boundary."""
    inside = {i for begin, end in unbreakable for i in range(begin - 1, end)}
    words, begin = [], 0
    for i, ch in enumerate(text):
        if ch == " " and i not in inside:
            words.append((begin, i))
            begin = i + 1
    words.append((begin, len(text)))
    return [(b, e) for b, e in words if e > b]


def _groups(text: str, words: list[tuple[int, int]]) -> list[tuple[str, list[tuple[int, int]]]]:
    """The words cut into cues: as few as fit, then even lengths, then cuts after punctuation.
    Each cue as its text and its words."""
    n = len(words)
    # best[j]: (cues, cost, previous cut) for the first j words.
    best: list[tuple[int, float, int]] = [(0, 0.0, 0)] + [(n + 1, float("inf"), 0)] * n
    for j in range(1, n + 1):
        for i in range(j - 1, -1, -1):
            begin, end = words[i][0], words[j - 1][1]
            if i < j - 1 and _split_lines(text, words[i:j]) is None:
                break  # longer ones will not fit either
            cost = best[i][1] + (end - begin) ** 2
            if j < n and not re.search(r"[,.:;!?]$", text[begin:end]):
                cost += UNPUNCTUATED_CUT**2
            candidate = (best[i][0] + 1, cost, i)
            if candidate[:2] < best[j][:2]:
                best[j] = candidate
    cuts, j = [], n
    while j > 0:
        i = best[j][2]
        cuts.append(words[i:j])
        j = i
    return [(text[cue[0][0] : cue[-1][1]], cue) for cue in reversed(cuts)]


def _split_lines(text: str, words: list[tuple[int, int]]) -> list[str] | None:
    """The cue made of ``words`` (of ``text``) as one line, or two lines of balanced length (the
    longer as short as it can be; then the first line the shorter), broken between two words;
    None when it does not fit in two. A single word longer than a line stays whole."""
    begin, end = words[0][0], words[-1][1]
    if end - begin <= MAX_LINE_CHARS or len(words) == 1:
        return [text[begin:end]]

    def lengths(k: int) -> tuple[int, int]:  # the two lines when broken before word k
        return words[k - 1][1] - begin, end - words[k][0]

    k = min(range(1, len(words)), key=lambda k: (max(lengths(k)), lengths(k)[0] > lengths(k)[1]))
    if max(lengths(k)) > MAX_LINE_CHARS:
        return None
    return [text[begin : words[k - 1][1]], text[words[k][0] : end]]


def to_srt(captions: Sequence[Caption]) -> str:
    """SubRip: numbered cues, ``HH:MM:SS,mmm --> HH:MM:SS,mmm``, plain text."""
    blocks = [
        f"{i}\n{timestamp(c.start, ',')} --> {timestamp(c.end, ',')}\n{c.text}\n"
        for i, c in enumerate(captions, start=1)
    ]
    return "\n".join(blocks)


def to_vtt(captions: Sequence[Caption]) -> str:
    """WebVTT, for a browser's <track>: the same cues, ``&``, ``<`` and ``>`` escaped, each placed
    at the bottom edge (``VTT_SETTINGS``)."""
    blocks = [
        f"{i}\n{timestamp(c.start)} --> {timestamp(c.end)} {VTT_SETTINGS}\n{_escaped(c.text)}\n"
        for i, c in enumerate(captions, start=1)
    ]
    return "\n".join(["WEBVTT\n", *blocks])


def _escaped(text: str) -> str:
    return text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")


def timestamp(seconds: float, separator: str = ".") -> str:
    """``HH:MM:SS<separator>mmm``, to the millisecond (rounded, as the record is): WebVTT's
    timestamp, or SubRip's with ``separator=","``."""
    milliseconds = round(timedelta(seconds=seconds) / timedelta(milliseconds=1))
    hours, milliseconds = divmod(milliseconds, 3_600_000)
    minutes, milliseconds = divmod(milliseconds, 60_000)
    whole, milliseconds = divmod(milliseconds, 1000)
    return f"{hours:02d}:{minutes:02d}:{whole:02d}{separator}{milliseconds:03d}"
