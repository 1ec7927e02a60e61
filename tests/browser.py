"""Headless Chromium, driven over the DevTools protocol with the standard library alone.

Chromium started with ``--remote-debugging-pipe`` reads protocol commands from its file
descriptor 3 and writes replies and events to 4, each a JSON message ended by a NUL byte: no
WebSocket, no driver binary, nothing downloaded. Debian's ``chromium`` package is enough
(``tools/ensure-system-deps.sh --browser``).

    python tests/browser.py renders/index.html /tmp/page.png     # a full-page screenshot
"""

from __future__ import annotations

import base64
import fcntl
import json
import os
import select
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from pathlib import Path

FLAGS = (
    "--headless",
    "--no-sandbox",  # root in a container has no user namespaces for the sandbox
    "--remote-debugging-pipe",
    "--no-first-run",
    "--no-default-browser-check",
    "--disable-gpu",
    "--mute-audio",
    "--hide-scrollbars",
    # Nothing of Chromium's own reaches for the network (updates, sync, safe browsing …).
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--disable-default-apps",
    "--disable-extensions",
    "--no-pings",
)


# Resolves when every video of the page has its metadata (or has failed to load).
METADATA_LOADED = """Promise.all([...document.querySelectorAll("video")].map(video =>
  video.readyState >= 1 || video.error ? null : new Promise(done => {
    video.addEventListener("loadedmetadata", done, {once: true});
    video.addEventListener("error", done, {once: true});
  })))"""


def chromium_path() -> str | None:
    return shutil.which("chromium") or shutil.which("chromium-browser")


class BrowserError(RuntimeError):
    pass


class Chromium:
    """One headless Chromium and one page in it. ``events`` keeps every event received."""

    def __init__(self, executable: str, width: int = 1280, height: int = 900) -> None:
        self.profile = tempfile.mkdtemp(prefix="chromium-profile-")
        to_browser, self._commands = os.pipe()
        self._replies, from_browser = os.pipe()

        def descriptors() -> None:  # in the child: the pipes become 3 and 4 (kept: pass_fds)
            high = [fcntl.fcntl(end, fcntl.F_DUPFD, 10) for end in (to_browser, from_browser)]
            for number, end in zip((3, 4), high, strict=True):
                os.dup2(end, number)

        self.process = subprocess.Popen(
            [executable, *FLAGS, f"--user-data-dir={self.profile}", "about:blank"],
            pass_fds=(3, 4),
            preexec_fn=descriptors,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
            start_new_session=True,  # its helpers share its process group: ended together
        )
        os.close(to_browser)
        os.close(from_browser)
        self._buffer, self._next_id, self.events = b"", 0, []
        target = self.command("Target.createTarget", url="about:blank")["targetId"]
        attached = self.command("Target.attachToTarget", targetId=target, flatten=True)
        self.session = attached["sessionId"]
        for domain in ("Page", "Runtime", "Network"):
            self.command(f"{domain}.enable", session=self.session)
        self.command(
            "Emulation.setDeviceMetricsOverride",
            session=self.session,
            width=width,
            height=height,
            deviceScaleFactor=1,
            mobile=False,
        )

    def command(self, method: str, session: str | None = None, timeout: float = 20, **params):
        self._next_id += 1
        message = {"id": self._next_id, "method": method, "params": params}
        if session:
            message["sessionId"] = session
        os.write(self._commands, json.dumps(message).encode() + b"\0")
        deadline = time.monotonic() + timeout
        while True:
            reply = self._read(deadline)
            if reply.get("id") == self._next_id:
                if "error" in reply:
                    raise BrowserError(f"{method}: {reply['error']}")
                return reply["result"]
            if "method" in reply:
                self.events.append(reply)

    def _read(self, deadline: float) -> dict:
        while b"\0" not in self._buffer:
            left = deadline - time.monotonic()
            if left <= 0 or not select.select([self._replies], [], [], left)[0]:
                raise BrowserError("Chromium did not answer in time")
            chunk = os.read(self._replies, 1 << 20)
            if not chunk:
                raise BrowserError("Chromium closed its DevTools pipe")
            self._buffer += chunk
        message, self._buffer = self._buffer.split(b"\0", 1)
        return json.loads(message)

    def open(self, url: str, timeout: float = 20) -> None:
        """Navigate to ``url`` and wait for its load event."""
        self.events.clear()
        self.command("Page.navigate", session=self.session, url=url)
        deadline = time.monotonic() + timeout
        while not any(event["method"] == "Page.loadEventFired" for event in self.events):
            message = self._read(deadline)
            if "method" in message:
                self.events.append(message)

    def evaluate(self, expression: str, timeout: float = 20):
        """The value of a JavaScript expression (a promise is awaited)."""
        result = self.command(
            "Runtime.evaluate",
            session=self.session,
            timeout=timeout,
            expression=expression,
            awaitPromise=True,
            returnByValue=True,
        )
        if "exceptionDetails" in result:
            details = result["exceptionDetails"]
            thrown = details.get("exception", {}).get("description") or details.get("text")
            raise BrowserError(f"JavaScript threw: {thrown}")
        return result["result"].get("value")

    def requested_urls(self) -> list[str]:
        return [
            event["params"]["request"]["url"]
            for event in self.events
            if event["method"] == "Network.requestWillBeSent"
        ]

    def screenshot(self, destination: Path) -> None:
        """The whole page, not only the window, as a PNG."""
        shot = self.command(
            "Page.captureScreenshot",
            session=self.session,
            format="png",
            captureBeyondViewport=True,
        )
        Path(destination).write_bytes(base64.b64decode(shot["data"]))

    def close(self) -> None:
        try:
            self.command("Browser.close", timeout=5)
        except (BrowserError, OSError):
            pass
        try:
            self.process.wait(timeout=5)
        except subprocess.TimeoutExpired:
            os.killpg(self.process.pid, signal.SIGKILL)
            self.process.wait()
        for descriptor in (self._commands, self._replies):
            os.close(descriptor)
        shutil.rmtree(self.profile, ignore_errors=True)

    def __enter__(self) -> Chromium:
        return self

    def __exit__(self, *exc_info) -> None:
        self.close()


def main(argv: list[str]) -> int:
    if len(argv) != 2:
        print("usage: python tests/browser.py PAGE.html SCREENSHOT.png", file=sys.stderr)
        return 2
    executable = chromium_path()
    if executable is None:
        print("error: no chromium (tools/ensure-system-deps.sh --browser)", file=sys.stderr)
        return 1
    with Chromium(executable) as browser:
        browser.open(Path(argv[0]).resolve().as_uri())
        browser.evaluate(METADATA_LOADED)  # each video's first frame or poster drawn
        browser.screenshot(Path(argv[1]))
    print(argv[1])
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
