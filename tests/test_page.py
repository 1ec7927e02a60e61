"""The course page (scenes/page.py), built from a real low-quality render of step 3 and a short
clip with three chapters, then opened in headless Chromium, from disk and served: videos load at
their recorded length, caption and chapter tracks load their cues, chapter and transcript buttons
seek to within a frame, and the page is readable (names for every video and control, headings in
order, text contrast ≥ 4.5:1) and fetches nothing from the network.

Chromium comes from Debian (``tools/ensure-system-deps.sh --browser``; ``make test`` runs it). The
browser test is skipped, saying so, only where it cannot be installed (not root, or no apt-get);
as root without it, the test fails and names the command.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import sys
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from functools import partial
from html.parser import HTMLParser
from http.server import SimpleHTTPRequestHandler, ThreadingHTTPServer
from itertools import pairwise
from pathlib import Path

import pytest
from browser import Chromium, chromium_path
from media import make_clip

from lab.claims import get_claim, verify
from scenes.catalog import find_clip
from scenes.chapters import chapters_vtt, clip_chapters
from scenes.manifest import build_manifest
from scenes.mp4 import read_chapters, top_level_boxes, write_web_mp4
from scenes.narration.cues import Caption, to_srt, to_vtt
from scenes.page import STYLE, Links, PageError, build_page, write_page
from scenes.render import render_clip, save_poster

CLIP = "step3_reparameterisation"
DEMO_CLAIMS = ("step4.sigmoid_identity", "step4.only_differences")


@pytest.fixture(scope="module")
def site(tmp_path_factory) -> dict:
    """renders/ with step 3 (rendered for real at low quality) and a 3 s clip with three
    chapters (an encoded test pattern, published the way renders are), its manifest, claims.json
    (the clips' claims, verified) and index.html."""
    root = tmp_path_factory.mktemp("site")
    renders, records = root / "renders", root / "records"
    record = render_clip(
        find_clip(CLIP), "low", renders, records_dir=records, publish_dir=root / "publish",
        announce=lambda line: None,
    )  # fmt: skip
    manifest = build_manifest(records, clips=[find_clip(CLIP)])
    manifest["clips"].append(_demo_clip(renders, root / "source.mp4"))
    manifest["total_duration"] = sum(clip["duration"] for clip in manifest["clips"])
    ids = [*record["claims"], *DEMO_CLAIMS]
    claims = [verify(get_claim(claim_id)).as_dict() for claim_id in ids]
    (renders / "manifest.json").write_text(json.dumps(manifest), encoding="utf-8")
    (renders / "claims.json").write_text(json.dumps(claims), encoding="utf-8")
    page = renders / "index.html"
    write_page(renders / "manifest.json", renders / "claims.json", page)
    return {"page": page, "renders": renders, "manifest": manifest, "claims": claims}


def _demo_clip(renders: Path, source: Path) -> dict:
    name = "three_chapters"
    make_clip(source, frames=45, audio=True)  # 3 s at 15 fps
    sections = [("Opening", 0.0), ("Middle", 1.0), ("End", 2.2)]
    chapters = clip_chapters(sections, 3.0, "Three chapters")
    files = {kind: renders / f"{name}.{kind}" for kind in ("mp4", "srt", "vtt", "chapters.vtt")}
    write_web_mp4(source, files["mp4"], chapters)
    cues = [
        Caption(0.2, 1.4, "First <line> & “quotes”.", ()),
        Caption(1.6, 2.9, "Second line.", ()),
    ]
    files["srt"].write_text(to_srt(cues), encoding="utf-8")
    files["vtt"].write_text(to_vtt(cues), encoding="utf-8")
    files["chapters.vtt"].write_text(chapters_vtt(chapters), encoding="utf-8")
    files["png"] = renders / f"{name}.png"
    save_poster(files["mp4"], 1.5, files["png"])
    captions = [cue.record() for cue in cues]
    return {
        "name": name, "title": "Three chapters", "step": None, "chapter": None,
        "width": 64, "height": 48, "fps": 15.0, "frames": 45, "duration": 3.0,
        "claims": list(DEMO_CLAIMS), "sections": [{"name": n, "start": s} for n, s in sections],
        "chapters": [chapter.record() for chapter in chapters], "captions": captions,
        "files": {kind: str(path) for kind, path in files.items()},
    }  # fmt: skip


# ---- the page's HTML, read without a browser ------------------------------------------------


class Elements(HTMLParser):
    """Every start tag's name and attributes, and the text of every heading."""

    def __init__(self, html: str) -> None:
        super().__init__()
        self.tags: list[tuple[str, dict]] = []
        self.feed(html)

    def handle_starttag(self, tag: str, attrs: list) -> None:
        self.tags.append((tag, dict(attrs)))

    def all(self, tag: str) -> list[dict]:
        return [attrs for name, attrs in self.tags if name == tag]


def test_the_rendered_clip_is_a_web_mp4_with_its_chapters(site) -> None:
    clip = site["manifest"]["clips"][0]
    video = Path(clip["files"]["mp4"])
    boxes = top_level_boxes(video)
    assert boxes.index("moov") < boxes.index("mdat")  # faststart
    assert [c.record() for c in read_chapters(video)] == clip["chapters"]
    assert clip["chapters"] == [
        {"title": "Solve for the reward", "start": 0.0, "end": round(clip["duration"], 3)}
    ]
    assert "-->" in Path(clip["files"]["chapters.vtt"]).read_text(encoding="utf-8")


def test_every_clip_has_its_video_tracks_and_poster_by_relative_paths(site) -> None:
    html = site["page"].read_text(encoding="utf-8")
    elements = Elements(html)
    videos = elements.all("video")
    assert [v["id"] for v in videos] == [f"{c['name']}-video" for c in site["manifest"]["clips"]]
    for video, clip in zip(videos, site["manifest"]["clips"], strict=True):
        assert "controls" in video and video["preload"] == "metadata"
        assert video["poster"] == f"{clip['name']}.png"
        assert video["aria-label"].startswith("Video: ")
    tracks = elements.all("track")
    assert [(t["kind"], t["src"]) for t in tracks[:2]] == [
        ("captions", f"{CLIP}.vtt"),
        ("chapters", f"{CLIP}.chapters.vtt"),
    ]
    assert all(t["srclang"] == "en" and t["data-embedded"].startswith("data:") for t in tracks)
    assert "default" in tracks[0] and "default" not in tracks[1]
    links = [a.get("src") or a.get("href") or a.get("poster") for _, a in elements.tags]
    assert not [link for link in links if link and re.match(r"^(/|[a-z]+:)", link)]
    assert not re.search(r"(src|href)=\"(https?:)?//", html), "nothing from the network"


def test_text_from_the_manifest_and_claims_is_escaped(tmp_path: Path) -> None:
    for kind in ("mp4", "srt", "vtt", "chapters.vtt", "png"):
        (tmp_path / f"x.{kind}").write_text("WEBVTT\n")
    hostile = '<script>alert("x")</script> & "quoted"'
    clip = {
        "name": "x", "title": hostile, "step": None, "chapter": None, "width": 8, "height": 8,
        "duration": 1.0, "claims": ["c.1"], "captions": [{"start": 0.0, "text": hostile}],
        "chapters": [{"title": hostile, "start": 0.0, "end": 1.0}],
        "files": {kind: str(tmp_path / f"x.{kind}") for kind in ("mp4", "srt", "vtt",
                                                                "chapters.vtt", "png")},
    }  # fmt: skip
    claim = {"id": "c.1", "says": hostile, "measured": {hostile: 1.5}, "tolerance": 0.1,
             "passed": True, "refuted": False}  # fmt: skip
    manifest = {"quality": "low", "total_duration": 1.0, "clips": [clip]}
    html = build_page(manifest, [claim], Links(tmp_path / "index.html"))
    assert "<script>alert" not in html and html.count("<script>") == 1
    # The title (heading, contents, the video's name and title), a chapter, a caption, the
    # claim's sentence and its figure's name.
    assert html.count("&lt;script&gt;alert(&quot;x&quot;)&lt;/script&gt; &amp;") == 8
    assert "✗</span> not refuted" in html


def test_stale_records_and_claims_without_evidence_are_named(tmp_path: Path) -> None:
    clip = {"name": "x", "claims": ["c.1"], "chapters": []}
    with pytest.raises(PageError, match=r"records without chapters: y \(render them again\)"):
        build_page({"clips": [clip, {"name": "y", "claims": []}]}, [], Links(tmp_path / "i"))
    with pytest.raises(PageError, match=r"claims\.json has no evidence for: c\.1"):
        build_page({"clips": [clip]}, [], Links(tmp_path / "i"))


def contrast(foreground: tuple[float, ...], background: tuple[float, ...]) -> float:
    """WCAG 2's contrast ratio of two sRGB colours (0–255 channels)."""

    def luminance(rgb: tuple[float, ...]) -> float:
        linear = [c / 12.92 if c <= 0.04045 else ((c + 0.055) / 1.055) ** 2.4 for c in
                  (channel / 255 for channel in rgb[:3])]  # fmt: skip
        return 0.2126 * linear[0] + 0.7152 * linear[1] + 0.0722 * linear[2]

    light, dark = sorted((luminance(foreground), luminance(background)), reverse=True)
    return (light + 0.05) / (dark + 0.05)


def hex_colour(text: str) -> tuple[int, int, int]:
    return tuple(int(text.lstrip("#")[i : i + 2], 16) for i in (0, 2, 4))


def test_every_text_colour_on_every_background_has_contrast_of_4_5() -> None:
    css = STYLE.read_text(encoding="utf-8")
    root = re.search(r":root\s*\{([^}]*)\}", css).group(1)
    defined = dict(re.findall(r"--((?:fg|bg)-[a-z]+):\s*(#[0-9a-fA-F]{6});", root))
    foregrounds = {k: hex_colour(v) for k, v in defined.items() if k.startswith("fg-")}
    backgrounds = {k: hex_colour(v) for k, v in defined.items() if k.startswith("bg-")}
    assert len(foregrounds) >= 3 and len(backgrounds) >= 2
    low = {
        (fg, bg): round(contrast(fg_rgb, bg_rgb), 2)
        for fg, fg_rgb in foregrounds.items()
        for bg, bg_rgb in backgrounds.items()
        if contrast(fg_rgb, bg_rgb) < 4.5
    }
    assert not low, f"text colours below 4.5:1: {low}"
    # Every colour the page sets is one of these: no literal colour outside :root.
    rest = css.replace(root, "")
    assert not re.findall(r"#[0-9a-fA-F]{3,8}\b|rgba?\(|hsla?\(", rest)
    assert all(v.startswith("var(--fg-") for v in re.findall(r"(?<![-\w])color:\s*([^;]+);", rest))
    assert all(v.startswith("var(--bg-") for v in re.findall(r"background:\s*([^;]+);", rest))


def test_the_contrast_check_can_fail() -> None:
    assert contrast((119, 119, 119), (255, 255, 255)) == pytest.approx(4.48, abs=0.01)
    assert contrast((0, 0, 0), (255, 255, 255)) == pytest.approx(21)


# ---- the page in Chromium ----------------------------------------------------------------------


def chromium_or_skip() -> str:
    executable = chromium_path()
    if executable:
        return executable
    if os.geteuid() != 0 or shutil.which("apt-get") is None:
        pytest.skip(
            "Chromium is not installed and cannot be installed here (needs root and apt-get): "
            "sudo tools/ensure-system-deps.sh --browser"
        )
    pytest.fail("Chromium is missing: run tools/ensure-system-deps.sh --browser (make test does)")


# Per video: its metadata and each track's cues (a track not shown is set to "hidden" to load).
MEDIA = """(async () => {
  const pause = ms => new Promise(done => setTimeout(done, ms));
  const found = [];
  for (const video of document.querySelectorAll("video")) {
    for (let waited = 0; video.readyState < 1 && waited < 10000; waited += 50) await pause(50);
    const tracks = [];
    for (const element of video.querySelectorAll("track")) {
      if (element.track.mode === "disabled") element.track.mode = "hidden";
      for (let waited = 0; element.readyState < 2 && waited < 5000; waited += 50) await pause(50);
      const cues = element.track.cues ? [...element.track.cues] : [];
      tracks.push({kind: element.kind, mode: element.track.mode, readyState: element.readyState,
                   starts: cues.map(cue => cue.startTime), texts: cues.map(cue => cue.text)});
    }
    found.push({id: video.id, readyState: video.readyState, duration: video.duration,
                source: video.currentSrc, tracks});
  }
  return found;
})()"""

# Each time button in turn: the video moved away from its time first, then the button clicked.
SEEKS = """(async selector => {
  const seek = (video, act) => new Promise((done, fail) => {
    const timer = setTimeout(() => fail(new Error("no seeked event: " + video.id)), 5000);
    video.addEventListener("seeked", () => { clearTimeout(timer); done(); }, {once: true});
    act();
  });
  const found = [];
  for (const button of document.querySelectorAll(selector)) {
    const video = document.getElementById(button.dataset.video);
    const target = Number(button.dataset.seek);
    const away = (target + video.duration / 2) % video.duration;
    await seek(video, () => { video.currentTime = away; });
    const before = video.currentTime;
    await seek(video, () => button.click());
    const captions = [...video.textTracks].find(track => track.kind === "captions");
    found.push({video: video.id, target, before, at: video.currentTime,
                marked: button.parentElement.classList.contains("current"),
                showing: captions.activeCues ? captions.activeCues.length : null});
  }
  return found;
})"""

# Accessibility basics, and each rendered text's colour on the background behind it.
READABLE = """(() => {
  const named = element => (element.getAttribute("aria-label") || element.title ||
    element.getAttribute("alt") || element.textContent || "").trim() !== "" ||
    (element.labels && element.labels.length > 0);
  const controls = [...document.querySelectorAll("video, img, button, input, select, textarea")];
  const behind = element => {
    for (let node = element; node; node = node.parentElement) {
      const colour = getComputedStyle(node).backgroundColor;
      if (!/rgba\\(.*,\\s*0\\)$/.test(colour) && colour !== "transparent") return colour;
    }
    return "rgb(255, 255, 255)";
  };
  const texts = [];
  for (const element of document.body.querySelectorAll("*")) {
    const own = [...element.childNodes].some(n => n.nodeType === 3 && n.textContent.trim());
    if (!own || element.getClientRects().length === 0 || element.closest("video, script, style"))
      continue;
    texts.push([getComputedStyle(element).color, behind(element), element.tagName]);
  }
  return {
    lang: document.documentElement.lang,
    headings: [...document.querySelectorAll("h1, h2, h3, h4, h5, h6")].map(h => +h.tagName[1]),
    unnamed: controls.filter(c => !named(c)).map(c => c.outerHTML.slice(0, 80)),
    images: [...document.images].filter(i => !i.hasAttribute("alt")).map(i => i.src),
    texts,
  };
})()"""


def rgb(css_colour: str) -> tuple[float, ...]:
    channels = tuple(float(x) for x in re.findall(r"[\d.]+", css_colour))
    assert len(channels) == 3 or channels[3] == 1, f"a translucent text colour: {css_colour}"
    return channels[:3]


@contextmanager
def served(folder: Path) -> Iterator[str]:
    """``folder`` served over HTTP on 127.0.0.1, as a static host would."""

    class Quiet(SimpleHTTPRequestHandler):
        def log_message(self, *args) -> None:
            pass

    class Server(ThreadingHTTPServer):
        def handle_error(self, request, client_address) -> None:
            if not isinstance(sys.exc_info()[1], ConnectionError):  # a video read in part
                super().handle_error(request, client_address)

    server = Server(("127.0.0.1", 0), partial(Quiet, directory=str(folder)))
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}"
    finally:
        server.shutdown()
        server.server_close()


def check_media(found: list[dict], clips: list[dict], renders: Path) -> None:
    assert [video["id"] for video in found] == [f"{clip['name']}-video" for clip in clips]
    for video, clip in zip(found, clips, strict=True):
        assert video["readyState"] >= 1, f"{clip['name']}: no metadata ({video['source']})"
        assert abs(video["duration"] - clip["duration"]) <= 1 / clip["fps"], clip["name"]
        captions, chapters = video["tracks"]
        assert (captions["kind"], captions["mode"]) == ("captions", "showing")
        assert (chapters["kind"], chapters["mode"]) == ("chapters", "hidden")
        vtt = (renders / Path(clip["files"]["vtt"]).name).read_text(encoding="utf-8")
        assert captions["readyState"] == 2 and len(captions["starts"]) == vtt.count(" --> ") > 0
        assert chapters["readyState"] == 2
        assert chapters["texts"] == [chapter["title"] for chapter in clip["chapters"]]
        starts = [chapter["start"] for chapter in clip["chapters"]]
        assert chapters["starts"] == pytest.approx(starts, abs=1e-3)


def check_seeks(found: list[dict], clips: list[dict], kind: str) -> None:
    for clip in clips:
        seeks = [seek for seek in found if seek["video"] == f"{clip['name']}-video"]
        expected = [entry["start"] for entry in clip[kind]]
        assert [seek["target"] for seek in seeks] == pytest.approx(expected, abs=1e-3)
        for seek in seeks:
            assert abs(seek["before"] - seek["target"]) > 0.5, "the seek did not have to move"
            assert abs(seek["at"] - seek["target"]) <= 1 / clip["fps"], (clip["name"], seek)
            if kind == "captions":  # one caption on screen, and the transcript marks it
                assert seek["showing"] == 1 and seek["marked"], seek


def check_readable(found: dict) -> None:
    assert found["lang"] == "en"
    levels = found["headings"]
    assert levels[0] == 1 and all(b <= a + 1 for a, b in pairwise(levels))
    assert not found["unnamed"], f"without a name: {found['unnamed']}"
    assert not found["images"], f"images without alt text: {found['images']}"
    assert len(found["texts"]) > 50
    low = {(fg, bg, tag) for fg, bg, tag in found["texts"] if contrast(rgb(fg), rgb(bg)) < 4.5}
    assert not low, f"text below 4.5:1 contrast: {low}"


def test_the_page_in_chromium_from_disk_and_served(site, tmp_path: Path) -> None:
    executable = chromium_or_skip()
    clips, renders = site["manifest"]["clips"], site["renders"]
    started = time.monotonic()
    with Chromium(executable) as browser:
        browser.open(site["page"].as_uri())
        check_media(browser.evaluate(MEDIA), clips, renders)
        check_seeks(browser.evaluate(f"{SEEKS}('.chapters button')"), clips, "chapters")
        check_seeks(browser.evaluate(f"{SEEKS}('.transcript button')"), clips, "captions")
        check_readable(browser.evaluate(READABLE))
        offline = [u for u in browser.requested_urls() if not u.startswith(("file:", "data:"))]
        assert not offline, f"the page reached for the network: {offline}"
        browser.screenshot(tmp_path / "page.png")
        with served(renders) as base:
            browser.open(f"{base}/index.html")
            check_media(browser.evaluate(MEDIA), clips, renders)
            elsewhere = [u for u in browser.requested_urls() if not u.startswith((base, "data:"))]
            assert not elsewhere, f"the page reached beyond its folder: {elsewhere}"
    assert (tmp_path / "page.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    print(f"browser checks: {time.monotonic() - started:.1f} s; screenshot {tmp_path}/page.png")
