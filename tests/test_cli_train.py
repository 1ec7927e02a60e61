"""`dpo-lab train` and `dpo-lab plots`: tables, JSON, files, and usage errors. Small runs only."""

from __future__ import annotations

import json
import math
from pathlib import Path

import pytest

from lab.cli import main
from lab.data.jsonl import EXAMPLE_FILE
from lab.training.weighted_loss import METRIC_NAMES

# 400 steps: the population run reaches its 1e-6 target (60 would miss it, and exit 1)
SMALL = ["--world", "random", "--prompts", "2", "--responses", "3", "--steps", "400"]
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


QUICK = ["train", "--policy", "transformer", "--steps", "3", "--warmup-steps", "5"]


def test_cli_json_reports_distances_and_trl_metrics(capsys, tmp_path: Path) -> None:
    assert main([*QUICK, "--json", "--plots", str(tmp_path)]) == 0
    report = json.loads(capsys.readouterr().out)
    assert report["command"].startswith("dpo-lab train --policy transformer")
    (run,) = report["runs"]
    assert run["mode"] == "population" and run["n_pairs"] is None
    assert run["distinct_pairs"] > 100_000 and run["mle_exists"] is True
    for key in ("max_abs_error", "tv", "kl"):
        assert isinstance(run[key], float) and run[key] >= 0
    assert report["summary"]["population_tv"] == run["tv"]
    assert set(run["metrics"]) == set(METRIC_NAMES)
    assert abs(run["step0"]["loss"] - math.log(2)) < 1e-6
    assert (tmp_path / "transformer_policies.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    assert "<svg" in (tmp_path / "transformer_policies.svg").read_text()


def test_cli_finite_sample_runs_and_a_table(capsys) -> None:
    arguments = [*QUICK, "--mode", "samples", "--n-pairs", "100", "1000", "--seeds", "0", "1"]
    assert main(arguments) == 0
    out = capsys.readouterr().out
    assert out.count("samples") == 4  # 2 sizes × 2 seeds, no population row
    assert "population" not in out
    assert "TV(π_θ,π*)" in out and "|loss − log 2| ≤" in out
    assert "no" in out.split("MLE")[1]  # 100 pairs over 259 responses: the MLE cannot exist


def test_n_pairs_alone_adds_sample_runs_to_the_population(capsys) -> None:
    assert main([*QUICK, "--n-pairs", "50", "--json"]) == 0
    modes = [run["mode"] for run in json.loads(capsys.readouterr().out)["runs"]]
    assert modes == ["population", "samples"]


def test_cli_trains_on_a_preference_file(capsys) -> None:
    assert main([*QUICK, "--data", str(EXAMPLE_FILE), "--json"]) == 0
    (run,) = json.loads(capsys.readouterr().out)["runs"]
    assert run["mode"] == "file" and run["n_pairs"] == 48
    assert run["tv"] is not None  # the example's prompts are the world's


def test_cli_names_the_bad_line_of_a_preference_file(capsys, tmp_path: Path) -> None:
    path = tmp_path / "bad.jsonl"
    path.write_text('{"prompt": "2 + 2 =", "chosen": "four", "rejected": "5"}\n')
    with pytest.raises(SystemExit) as exit_info:
        main([*QUICK, "--data", str(path)])
    assert exit_info.value.code == 2
    assert f"{path}:1: 'chosen' has tokens the vocabulary lacks: 'four'" in capsys.readouterr().err


@pytest.mark.parametrize(
    ("arguments", "message"),
    [
        (["--n-pairs", "0"], "every --n-pairs must be ≥ 1"),
        (["--beta", "-1"], "beta must be > 0"),
        (["--world", "random"], "drop --world"),
        (["--data", "x.jsonl", "--n-pairs", "10"], "drop --mode and --n-pairs"),
        (["--data", "absent.jsonl"], "absent.jsonl"),
    ],
)
def test_cli_usage_errors_exit_two(arguments, message, capsys) -> None:
    with pytest.raises(SystemExit) as exit_info:
        main([*QUICK, *arguments])
    assert exit_info.value.code == 2
    assert message in capsys.readouterr().err


def test_transformer_options_are_refused_for_the_tabular_policy(capsys) -> None:
    with pytest.raises(SystemExit) as exit_info:
        main(["train", "--policy", "tabular", "--data", "x.jsonl"])
    assert exit_info.value.code == 2
    assert "--data: only with --policy transformer" in capsys.readouterr().err
