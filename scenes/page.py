"""The course page, renders/index.html: every clip of the manifest with what backs it.

    python -m scenes.page [--manifest renders/manifest.json] [--claims renders/claims.json]
                          [--out renders/index.html]

Per clip, in catalog order: its video (poster, a captions track, a chapters track), its chapters
and its transcript (each time a button that moves the video there), and the claims it shows with
their evidence from claims.json (the sentence, the headline figure measured, the tolerance, check
passed, refutation failed). The page is one file, written atomically; it links the clip's files
by relative paths and uses no network (no fonts, scripts or styles from elsewhere: its style and
its small script are inline), so it works served from renders/ or opened from disk.
Text from the manifest and claims.json is escaped.
"""

from __future__ import annotations

import argparse
import base64
import json
import os
import sys
from collections.abc import Sequence
from html import escape
from pathlib import Path
from urllib.parse import quote

from lab.files import write_text_atomically
from lab.report.tables import figure

HERE = Path(__file__).resolve().parent
STYLE = HERE / "page.css"
SCRIPT = HERE / "page.js"
TITLE = "DPO, derived and verified"
INTRO = (
    "A lecture that derives the Direct Preference Optimization loss in five steps. Every "
    "equation on screen is a claim that the lab checks on its own numbers, and each check is "
    "also run on a deliberately wrong variant, which must fail: below each clip, the claims it "
    "shows and what was measured."
)


class PageError(RuntimeError):
    """The page cannot be made; the message says why in one line."""


def clock(seconds: float) -> str:
    """m:ss (h:mm:ss from an hour), for times shown on the page."""
    whole = int(seconds)
    hours, rest = divmod(whole, 3600)
    minutes, secs = divmod(rest, 60)
    return f"{hours}:{minutes:02d}:{secs:02d}" if hours else f"{minutes}:{secs:02d}"


def heading(clip: dict) -> str:
    return f"Step {clip['step']} · {clip['title']}" if clip.get("step") else clip["title"]


class Links:
    """The files a page links, as relative URLs from the page's folder (paths in the manifest
    are relative to the folder ``make`` ran in, or absolute)."""

    def __init__(self, page: Path, base: Path | None = None) -> None:
        self.folder = Path(page).resolve().parent
        self.base = Path(base or Path.cwd()).resolve()

    def path(self, file: str | Path) -> Path:
        return (self.base / file).resolve()

    def url(self, file: str | Path) -> str:
        return quote(Path(os.path.relpath(self.path(file), self.folder)).as_posix())

    def data_url(self, file: str | Path) -> str:
        """The file's text as a data: URL (what a track falls back to, opened from disk)."""
        encoded = base64.b64encode(self.path(file).read_bytes()).decode("ascii")
        return f"data:text/vtt;charset=utf-8;base64,{encoded}"


def build_page(manifest: dict, claims: Sequence[dict], links: Links) -> str:
    """The page's HTML."""
    evidence = {claim["id"]: claim for claim in claims}
    clips = manifest["clips"]
    _check_inputs(clips, evidence)
    held = sum(bool(claim["passed"] and claim["refuted"]) for claim in claims)
    contents = "\n".join(
        f'<li><a href="#{escape(_anchor(clip))}">{escape(heading(clip))}</a> '
        f"({clock(clip['duration'])})</li>"
        for clip in clips
    )
    header = f"""<header>
<h1>{escape(TITLE)}</h1>
<p>{escape(INTRO)}</p>
<p class="meta">{_count(len(clips), "clip")}, {clock(manifest["total_duration"])} in all, \
rendered at {escape(str(manifest["quality"]))} quality. {held} of {len(claims)} claims hold \
(check passed, refutation failed).</p>
<nav aria-labelledby="contents"><h2 id="contents">Contents</h2>
<ol>
{contents}
</ol></nav>
</header>"""
    body = "\n".join(_clip_section(clip, evidence, links) for clip in clips)
    return _document(header, body)


def _check_inputs(clips: Sequence[dict], evidence: dict[str, dict]) -> None:
    stale = [clip["name"] for clip in clips if "chapters" not in clip]
    if stale:
        raise PageError(f"records without chapters: {', '.join(stale)} (render them again)")
    unknown = sorted({i for clip in clips for i in clip["claims"] if i not in evidence})
    if unknown:
        raise PageError(f"claims.json has no evidence for: {', '.join(unknown)}")


def _count(number: int, noun: str) -> str:
    return f"{number} {noun}{'' if number == 1 else 's'}"


def _anchor(clip: dict) -> str:
    return f"clip-{clip['name']}"


def _document(header: str, body: str) -> str:
    style, script = STYLE.read_text(encoding="utf-8"), SCRIPT.read_text(encoding="utf-8")
    if "</style" in style.lower() or "</script" in script.lower():
        raise PageError("the page's style or script would end its own element")
    return f"""<!DOCTYPE html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>{escape(TITLE)}</title>
<style>
{style}</style>
</head>
<body>
{header}
<main>
{body}
</main>
<footer><p>Made by <code>make render</code> from renders/manifest.json and \
renders/claims.json.</p></footer>
<script>
{script}</script>
</body>
</html>
"""


def _clip_section(clip: dict, evidence: dict[str, dict], links: Links) -> str:
    name, title = clip["name"], heading(clip)
    files = clip["files"]
    where = (
        f"chapter {clip['chapter']} of the lecture"
        if clip.get("chapter")
        else "not played in the lecture"
    )
    return f"""<section class="clip" id="{escape(_anchor(clip))}" \
aria-labelledby="{escape(name)}-title">
<h2 id="{escape(name)}-title">{escape(title)}</h2>
<p class="meta">{clock(clip["duration"])} · {where} · {_count(len(clip["claims"]), "claim")}</p>
{_video(clip, links)}
<p class="files">Files: <a href="{links.url(files["mp4"])}">video (MP4)</a> · captions \
(<a href="{links.url(files["vtt"])}">WebVTT</a>, <a href="{links.url(files["srt"])}">SubRip</a>) · \
<a href="{links.url(files["chapters.vtt"])}">chapters (WebVTT)</a> · \
<a href="{links.url(files["png"])}">poster (PNG)</a></p>
<h3 id="{escape(name)}-chapters">Chapters</h3>
<ol class="chapters" aria-labelledby="{escape(name)}-chapters">
{_times(name, [(c["start"], c["title"]) for c in clip["chapters"]])}
</ol>
<h3 id="{escape(name)}-transcript">Transcript</h3>
<ol class="transcript" tabindex="0" aria-labelledby="{escape(name)}-transcript">
{_times(name, [(c["start"], c["text"]) for c in clip["captions"]])}
</ol>
{_claims_table(clip, evidence)}
</section>"""


def _video(clip: dict, links: Links) -> str:
    name, files = clip["name"], clip["files"]
    label = f"Video: {heading(clip)} ({clock(clip['duration'])})"
    tracks = [
        ("captions", "English", files["vtt"], " default"),
        ("chapters", "Chapters", files["chapters.vtt"], ""),
    ]
    track_tags = "\n".join(
        f'<track kind="{kind}" srclang="en" label="{track_label}" src="{links.url(file)}" '
        f'data-embedded="{links.data_url(file)}"{default}>'
        for kind, track_label, file, default in tracks
    )
    return f"""<video id="{escape(name)}-video" controls preload="metadata" \
width="{int(clip["width"])}" height="{int(clip["height"])}" poster="{links.url(files["png"])}" \
aria-label="{escape(label)}" title="{escape(heading(clip))}">
<source src="{links.url(files["mp4"])}" type="video/mp4">
{track_tags}
<p>This browser does not play the video: <a href="{links.url(files["mp4"])}">download it</a>.</p>
</video>"""


def _times(name: str, entries: Sequence[tuple[float, str]]) -> str:
    """One list item per entry: a button that moves the video to its time, then its text."""
    return "\n".join(
        f'<li><button type="button" class="seek" data-video="{escape(name)}-video" '
        f'data-seek="{start:.3f}"><span class="visually-hidden">Play from </span>'
        f'<time datetime="PT{start:.3f}S">{clock(start)}</time></button> '
        f"<span>{escape(text)}</span></li>"
        for start, text in entries
    )


def _claims_table(clip: dict, evidence: dict[str, dict]) -> str:
    name = clip["name"]
    rows = "\n".join(_claim_row(evidence[claim_id]) for claim_id in clip["claims"])
    return f"""<h3 id="{escape(name)}-claims">Claims it shows</h3>
<table aria-labelledby="{escape(name)}-claims">
<caption>Each claim's check on the lab's numbers, and the same check on a wrong variant \
(refuted: it failed, as it must).</caption>
<thead><tr><th scope="col">Claim</th><th scope="col">Says</th><th scope="col">Measured</th>\
<th scope="col">Tolerance</th><th scope="col">Check</th><th scope="col">Refuted</th></tr></thead>
<tbody>
{rows}
</tbody>
</table>"""


def _claim_row(claim: dict) -> str:
    headline = next(iter(claim.get("measured", {}).items()), None)
    measured = "—"
    if headline:  # a long name may break after its underscores
        name = escape(headline[0]).replace("_", "_<wbr>")
        measured = f"<code>{name}</code> = {escape(figure(headline[1]))}"
    return (
        f'<tr><th scope="row"><code>{escape(claim["id"])}</code></th>'
        f'<td class="says">{escape(claim["says"])}</td>'
        f'<td class="measured">{measured}</td>'
        f'<td class="figure">{escape(figure(claim.get("tolerance")))}</td>'
        f'<td class="mark">{_mark(claim["passed"], "passed", "failed")}</td>'
        f'<td class="mark">{_mark(claim["refuted"], "refuted", "not refuted")}</td></tr>'
    )


def _mark(ok: bool, yes: str, no: str) -> str:
    symbol, word, kind = ("✓", yes, "ok") if ok else ("✗", no, "bad")
    return f'<span class="{kind}"><span aria-hidden="true">{symbol}</span> {word}</span>'


def write_page(manifest_path: Path, claims_path: Path, out: Path) -> str:
    try:
        manifest = json.loads(Path(manifest_path).read_text(encoding="utf-8"))
        claims = json.loads(Path(claims_path).read_text(encoding="utf-8"))
    except (OSError, json.JSONDecodeError) as error:
        raise PageError(f"cannot read the page's inputs: {error}") from error
    html = build_page(manifest, claims, Links(out))
    write_text_atomically(out, html)
    return html


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m scenes.page", description=__doc__)
    parser.add_argument("--manifest", type=Path, default=Path("renders/manifest.json"))
    parser.add_argument("--claims", type=Path, default=Path("renders/claims.json"))
    parser.add_argument("--out", type=Path, default=Path("renders/index.html"))
    args = parser.parse_args(argv)
    try:
        write_page(args.manifest, args.claims, args.out)
    except (PageError, OSError) as error:
        print(f"error: {error}", file=sys.stderr)
        return 1
    print(f"{args.out}: the course page")
    return 0


if __name__ == "__main__":
    sys.exit(main())
