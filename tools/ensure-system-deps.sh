#!/usr/bin/env bash
# Make sure the system libraries Manim builds against, the LaTeX it typesets with and the offline
# voice that narrates the clips (not needed when NARRATION=none) are present.
# Root on Debian/Ubuntu: installs what is missing with apt-get. Otherwise: prints the command to run.
# A fast no-op when everything is there (it looks, it does not ask apt).
# --browser: also Chromium, which the course page's test (tests/test_page.py) drives headless.
set -euo pipefail

packages=(libcairo2-dev libpango1.0-dev pkg-config texlive-latex-extra dvisvgm python3-venv)
needed_for="Manim and LaTeX"
if [ "${NARRATION:-voice}" != none ]; then
  packages+=(festival festvox-us-slt-hts espeak-ng)
  needed_for+=", the narration"
fi
browser=0
if [ "${1:-}" = "--browser" ]; then
  browser=1
  packages+=(chromium)
  needed_for+=" and the page's browser test"
fi
missing=()
have() { command -v "$1" >/dev/null 2>&1; }

have pkg-config || missing+=(pkg-config)
if ! have pkg-config || ! pkg-config --exists cairo; then missing+=(libcairo2-dev); fi
if ! have pkg-config || ! pkg-config --exists pangocairo; then missing+=(libpango1.0-dev); fi
# manim's default TeX template uses the standalone class, which texlive-latex-extra ships.
if ! have latex || ! have kpsewhich || [ -z "$(kpsewhich standalone.cls 2>/dev/null)" ]; then
  missing+=(texlive-latex-extra)
fi
have dvisvgm || missing+=(dvisvgm)
# Debian's own python3 makes virtualenvs only with python3-venv installed.
python="${PYTHON:-python3}"
"$python" -c 'import ensurepip, venv' >/dev/null 2>&1 || missing+=(python3-venv)
# The narration's voice: festival's CMU SLT HTS voice, and espeak-ng for when festival is absent.
if [ "${NARRATION:-voice}" != none ]; then
  have text2wave || missing+=(festival)
  [ -d /usr/share/festival/voices/us/cmu_us_slt_arctic_hts ] || missing+=(festvox-us-slt-hts)
  have espeak-ng || missing+=(espeak-ng)
fi
# Debian's chromium package; the test talks to it over the DevTools pipe (no chromedriver).
if [ "$browser" -eq 1 ]; then have chromium || missing+=(chromium); fi

[ ${#missing[@]} -eq 0 ] && exit 0

install_cmd="apt-get update && apt-get install -y --no-install-recommends ${missing[*]}"
if [ "$(id -u)" -ne 0 ] || ! have apt-get; then
  echo "error: missing system packages for $needed_for: ${missing[*]}" >&2
  echo "Run, as root (Debian/Ubuntu):" >&2
  echo "  sudo sh -c '$install_cmd'" >&2
  echo "(all of them: ${packages[*]})" >&2
  exit 1
fi
echo "Installing system packages: ${missing[*]}"
export DEBIAN_FRONTEND=noninteractive
apt-get update -qq
apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
echo "System packages installed."
