"""`dpo-lab train` and `dpo-lab plots`: tables, JSON, files, and usage errors. Small runs only."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from lab.cli import main

SMALL = ["--world", "random", "--prompts", "2", "--responses", "3", "--steps", "60"]
SAMPLES = ["--n-pairs", "100", "400", "--seeds", "0", "1"]


def test_train_prints_a_table_and_a_summary(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["train", "--policy", "tabular", *SMALL, *SAMPLES]) == 0
    out = capsys.readouterr().out
    assert "population" in out and "max|π_θ−π*|" in out and "max|DPO−RLHF|" in out
    assert out.count("samples") == 4, "2 sample sizes × 2 seeds"
    assert "Population mode: max |π_θ − π*|" in out and "N = 400" in out


def test_train_json_has_the_figures_per_run(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["train", *SMALL, "--mode", "samples", *SAMPLES, "--json"]) == 0
    result = json.loads(capsys.readouterr().out)
    assert len(result["runs"]) == 4 and {r["mode"] for r in result["runs"]} == {"samples"}
    for run in result["runs"]:
        assert {"max_abs_error", "tv", "kl", "rlhf_max_abs_difference"} <= set(run)
        assert run["device"] == "cpu"
    assert set(result["summary"]["samples"]) == {"100", "400"}
    assert result["command"].startswith("dpo-lab train")


def test_train_plots_writes_png_and_svg(tmp_path: Path, capsys: pytest.CaptureFixture) -> None:
    assert main(["train", *SMALL, *SAMPLES, "--plots", str(tmp_path)]) == 0
    written = sorted(p.name for p in tmp_path.iterdir())
    expected = [
        f"{n}.{e}" for n in ("error_vs_n", "error_vs_steps", "policies") for e in ("png", "svg")
    ]
    assert written == expected
    assert (tmp_path / "policies.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    assert "<svg" in (tmp_path / "policies.svg").read_text()


def test_plots_writes_the_report_json_and_figures(tmp_path: Path) -> None:
    assert main(["plots", *SMALL, *SAMPLES, "--out", str(tmp_path)]) == 0
    report = (tmp_path / "lab_report.md").read_text()
    assert "| mode | N | seed |" in report and "![figures/policies.png]" in report
    assert json.loads((tmp_path / "training.json").read_text())["runs"]
    assert (tmp_path / "figures" / "error_vs_n.svg").exists()
    assert not list(tmp_path.rglob(".*partial*")), "a partial file was left behind"


@pytest.mark.parametrize(
    ("arguments", "message"),
    [
        (["--beta", "0"], "beta must be > 0"),
        (["--beta", "nan"], "beta must be finite"),
        (["--steps", "0"], "--steps"),
        (["--world", "random", "--responses", "1"], "≥ 2 responses"),
    ],
)
def test_bad_training_options_are_usage_errors(
    arguments: list[str], message: str, capsys: pytest.CaptureFixture[str]
) -> None:
    with pytest.raises(SystemExit) as exit_info:
        main(["train", *arguments])
    assert exit_info.value.code == 2
    assert message in capsys.readouterr().err
