"use strict";
// Opened from disk (file://), Chromium refuses a <track>'s file: the page's origin is "null", not
// the file's. Each track then reads the same file's text, which the page carries as a data: URL.
if (location.protocol === "file:") {
  for (const track of document.querySelectorAll("track[data-embedded]")) {
    track.src = track.dataset.embedded;
  }
}

// A chapter's or a caption's time button moves its video there (playing or paused, as it was),
// a millisecond on: at a cue's exact start Chromium still shows the cue that ends there, too.
const PAST_THE_BOUNDARY = 0.001;
document.addEventListener("click", (event) => {
  const button = event.target.closest("button[data-seek]");
  if (!button) return;
  const video = document.getElementById(button.dataset.video);
  video.currentTime = Number(button.dataset.seek) + PAST_THE_BOUNDARY;
  video.scrollIntoView({ block: "nearest" });
});

// The transcript marks the caption being shown.
for (const video of document.querySelectorAll("video")) {
  const lines = [...document.querySelectorAll(`.transcript button[data-video="${video.id}"]`)];
  video.addEventListener("timeupdate", () => {
    let current = null;
    for (const line of lines) {
      if (Number(line.dataset.seek) <= video.currentTime + 0.001) current = line;
    }
    for (const line of lines) {
      line.parentElement.classList.toggle("current", line === current);
      if (line === current) line.setAttribute("aria-current", "true");
      else line.removeAttribute("aria-current");
    }
  });
}
