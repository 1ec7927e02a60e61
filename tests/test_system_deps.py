"""tools/ensure-system-deps.sh: a quiet no-op when all is there; the exact command when not root."""

from __future__ import annotations

import os
import shutil
import subprocess
from pathlib import Path

SCRIPT = Path(__file__).resolve().parents[1] / "tools" / "ensure-system-deps.sh"


def _fake_bin(tmp_path: Path, uid: int) -> Path:
    """A PATH with bash and the basics, an `id` that reports ``uid`` and none of the packages."""
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    for tool in ("bash", "env", "cat"):
        os.symlink(shutil.which(tool), bin_dir / tool)
    (bin_dir / "id").write_text(f"#!/bin/sh\necho {uid}\n")
    (bin_dir / "id").chmod(0o755)
    return bin_dir


def test_present_packages_make_it_a_quiet_no_op() -> None:
    result = subprocess.run(["bash", str(SCRIPT)], capture_output=True, text=True, check=False)
    assert result.returncode == 0, result.stderr
    assert result.stdout == "" and result.stderr == ""


def test_missing_packages_without_root_print_the_command_to_run(tmp_path: Path) -> None:
    bin_dir = _fake_bin(tmp_path, uid=1000)
    env = {"PATH": str(bin_dir), "PYTHON": shutil.which("python3")}
    result = subprocess.run(
        [str(bin_dir / "bash"), str(SCRIPT)], capture_output=True, text=True, env=env, check=False
    )
    assert result.returncode == 1
    for package in (
        "libcairo2-dev",
        "libpango1.0-dev",
        "pkg-config",
        "texlive-latex-extra",
        "dvisvgm",
        "festival",
        "festvox-us-slt-hts",
        "espeak-ng",
    ):
        assert package in result.stderr
    assert "apt-get install -y --no-install-recommends" in result.stderr


def test_the_browser_for_the_page_test_is_checked_only_when_asked(tmp_path: Path) -> None:
    bin_dir = _fake_bin(tmp_path, uid=1000)
    env = {"PATH": str(bin_dir), "PYTHON": shutil.which("python3")}

    def missing(*flags: str) -> str:
        result = subprocess.run(
            [str(bin_dir / "bash"), str(SCRIPT), *flags],
            capture_output=True, text=True, env=env, check=False,
        )  # fmt: skip
        assert result.returncode == 1
        return result.stderr.splitlines()[0]

    assert "chromium" not in missing()
    assert missing("--browser").endswith(" chromium")
    assert "and the page's browser test" in missing("--browser")


def test_silent_narration_needs_no_voice(tmp_path: Path) -> None:
    bin_dir = _fake_bin(tmp_path, uid=1000)
    env = {"PATH": str(bin_dir), "PYTHON": shutil.which("python3"), "NARRATION": "none"}
    result = subprocess.run(
        [str(bin_dir / "bash"), str(SCRIPT)], capture_output=True, text=True, env=env, check=False
    )
    missing = result.stderr.splitlines()[0]
    assert "dvisvgm" in missing and "festival" not in missing and "espeak-ng" not in missing
