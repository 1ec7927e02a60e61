"""lab.files.written_atomically: the new file in one rename, or the old one untouched."""

from __future__ import annotations

from pathlib import Path

import pytest

from lab.files import write_text_atomically, written_atomically


def test_success_replaces_the_file_and_leaves_nothing_beside_it(tmp_path: Path) -> None:
    destination = tmp_path / "deep" / "report.json"
    write_text_atomically(destination, "new")
    assert destination.read_text() == "new"
    assert sorted(p.name for p in destination.parent.iterdir()) == ["report.json"]


def test_failure_keeps_the_old_file_and_removes_the_partial(tmp_path: Path) -> None:
    destination = tmp_path / "clip.mp4"
    destination.write_text("previous good render")
    with pytest.raises(RuntimeError), written_atomically(destination) as partial:
        assert partial.suffix == ".mp4" and partial.parent == tmp_path
        partial.write_text("half a vid")
        raise RuntimeError("interrupted")
    assert destination.read_text() == "previous good render"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["clip.mp4"]
