"""`dpo-lab train` and `dpo-lab plots` given bad input: a one-line usage error (exit 2) naming the
option, before any training; a run that misses its target says so (exit 1); progress on stderr."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

import lab.training.budget
import lab.training.runs
import lab.training.transformer_runs
from lab.cli import main
from lab.data.jsonl import EXAMPLE_FILE

SMALL = ["--world", "random", "--prompts", "2", "--responses", "3", "--steps", "400"]
QUICK = ["--policy", "transformer", "--steps", "3", "--warmup-steps", "5"]


def usage_error(arguments: list[str], capsys: pytest.CaptureFixture[str]) -> str:
    """The one error line of a usage error (exit 2)."""
    with pytest.raises(SystemExit) as exit_info:
        main(arguments)
    assert exit_info.value.code == 2
    err = capsys.readouterr().err
    assert "Traceback" not in err
    return err.strip().splitlines()[-1]


@pytest.fixture
def no_training(monkeypatch: pytest.MonkeyPatch) -> None:
    """Training must not start: the checks come first."""

    def refuse(*args, **kwargs):
        raise AssertionError("training started before the options were checked")

    monkeypatch.setattr(lab.training.runs, "tabular_experiment", refuse)
    monkeypatch.setattr(lab.training.transformer_runs, "transformer_experiment", refuse)


# ---- 1. errors instead of tracebacks -------------------------------------------------------------


@pytest.mark.parametrize(
    "arguments",
    [["train"], ["train", "--policy", "transformer"], ["plots"]],
    ids=["tabular", "transformer", "plots"],
)
def test_an_unknown_device_is_named(arguments, capsys, no_training) -> None:
    line = usage_error([*arguments, "--device", "tpu"], capsys)
    assert line.endswith("--device must be one of cpu, cuda, got 'tpu'")


def test_cuda_without_a_gpu_is_named(capsys, no_training) -> None:
    line = usage_error(["train", "--device", "cuda"], capsys)
    assert "--device cuda: torch sees no GPU" in line and "--device cpu" in line


@pytest.mark.parametrize("value", ["0", "-1"])
def test_a_batch_size_below_one_is_named(value: str, capsys, no_training) -> None:
    line = usage_error(["train", *QUICK, "--batch-pairs", value], capsys)
    assert line.endswith(f"--batch-pairs must be a whole number ≥ 1, got {value}")


@pytest.mark.parametrize("value", ["1.5", "many", "inf"])
def test_a_count_that_is_not_a_whole_number_is_named(value: str, capsys) -> None:
    line = usage_error(["train", "--n-pairs", value], capsys)
    assert f"--n-pairs: {value!r} is not a whole number" in line


def test_n_pairs_in_scientific_notation_is_read_then_refused_for_memory(
    capsys, no_training
) -> None:
    """1e12 pairs is a whole number; it is the memory that cannot hold it."""
    line = usage_error(["train", "--n-pairs", "1e12"], capsys)
    assert "--n-pairs 1000000000000: the run needs about" in line
    assert "TiB of memory" in line and "available" in line and "fewer pairs" in line


def test_a_transformer_run_too_big_for_memory_is_refused(capsys, no_training) -> None:
    line = usage_error(["train", *QUICK, "--n-pairs", "1e12"], capsys)
    assert "--n-pairs 1000000000000: the run needs about" in line and "available" in line


def test_a_minibatch_too_big_for_memory_is_refused(capsys, no_training) -> None:
    line = usage_error(["train", *QUICK, "--batch-pairs", "1e12"], capsys)
    assert "--batch-pairs 1000000000000: the run needs about" in line and "fewer pairs" in line


@pytest.mark.parametrize(("prompts", "responses"), [("0", "6"), ("4", "1"), ("4", "-5")])
def test_a_random_world_too_small_names_its_options(prompts, responses, capsys) -> None:
    arguments = ["train", "--world", "random", "--prompts", prompts, "--responses", responses]
    line = usage_error(arguments, capsys)
    assert line.endswith(
        f"--prompts {prompts} --responses {responses}: a world needs ≥ 1 prompt and ≥ 2 responses"
    )


def test_a_random_world_too_big_for_memory_is_refused(capsys, no_training) -> None:
    arguments = ["train", "--world", "random", "--prompts", "100000", "--responses", "100000"]
    line = usage_error(arguments, capsys)
    assert "--prompts 100000 --responses 100000: the run needs about" in line
    assert "prompts × responses² = 1e+15" in line and "available" in line


def test_the_memory_estimate_is_compared_with_what_is_available(
    capsys, monkeypatch, no_training
) -> None:
    monkeypatch.setattr(lab.training.budget, "available_memory_bytes", lambda: 100 * 2**20)
    arguments = ["train", "--world", "random", "--prompts", "40", "--responses", "100"]
    line = usage_error([*arguments, "--mode", "population"], capsys)
    assert "the run needs about 170 MiB of memory" in line
    assert "100 MiB is available" in line


def test_samples_beyond_what_torch_can_draw_from_are_refused(capsys, no_training) -> None:
    arguments = ["train", "--world", "random", "--prompts", "2", "--responses", "3000"]
    line = usage_error([*arguments, "--mode", "samples", "--n-pairs", "10"], capsys)
    assert "18,000,000 ordered pairs" in line and "2^24" in line and "--mode population" in line


@pytest.mark.parametrize("option", ["plots --out", "train --plots"])
def test_an_output_folder_that_cannot_be_made_is_refused_before_training(
    option: str, capsys, no_training
) -> None:
    command, flag = option.split()
    line = usage_error([command, flag, "/proc/x"], capsys)
    assert f"{flag} /proc/x: cannot create the folder" in line


@pytest.mark.parametrize("option", ["plots --out", "train --plots"])
def test_an_output_folder_that_is_a_file_is_refused_before_training(
    option: str, tmp_path: Path, capsys, no_training
) -> None:
    command, flag = option.split()
    existing = tmp_path / "notes.txt"
    existing.write_text("keep me")
    line = usage_error([command, flag, str(existing)], capsys)
    assert f"{flag} {existing}: is a file, not a folder" in line
    assert existing.read_text() == "keep me"


def test_a_report_path_taken_by_a_folder_is_refused_before_training(
    tmp_path: Path, capsys, no_training
) -> None:
    (tmp_path / "figures").write_text("a file where plots writes a folder")
    line = usage_error(["plots", "--out", str(tmp_path)], capsys)
    assert f"--out {tmp_path}: {tmp_path / 'figures'} is a file, not a folder" in line


# ---- 2. clear errors -----------------------------------------------------------------------------


@pytest.mark.parametrize("policy", ["tabular", "transformer"])
@pytest.mark.parametrize("value", ["inf", "nan", "0", "-0.1"])
def test_a_learning_rate_must_be_finite_and_positive(policy, value, capsys, no_training) -> None:
    line = usage_error(["train", "--policy", policy, "--lr", value], capsys)
    assert "--lr (--learning-rate) must be a finite number > 0" in line


def test_a_learning_rate_beyond_float32_is_refused_for_the_transformer(capsys) -> None:
    line = usage_error(["train", *QUICK, "--lr", "1e300"], capsys)
    assert "--lr (--learning-rate) must be at most 3.4e+38" in line and "float32" in line


def test_a_diverging_transformer_run_names_the_learning_rate(capsys) -> None:
    line = usage_error(["train", *QUICK, "--lr", "1e30"], capsys)
    assert "--lr 1e+30: training diverged at step" in line and "use a smaller --lr" in line


@pytest.mark.parametrize(
    ("content", "problem"),
    [
        ('{"prompt": "2 + 2 =", "chosen": "4", "rejected": "5 caf\xe9"}\n'.encode("latin-1"),
         "not UTF-8 (byte 0xe9 at column 56)"),
        (b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR\x00\x00", "not UTF-8 (byte 0x89 at column 1)"),
    ],
    ids=["latin-1", "binary"],
)  # fmt: skip
def test_a_preference_file_that_is_not_utf8_names_file_and_line(
    content: bytes, problem: str, tmp_path: Path, capsys
) -> None:
    path = tmp_path / "prefs.jsonl"
    good = b'{"prompt": "2 + 2 =", "chosen": "4", "rejected": "5"}\n'
    path.write_bytes(good + content)
    with pytest.raises(SystemExit) as exit_info:
        main(["train", *QUICK, "--data", str(path)])
    assert exit_info.value.code == 2
    err = capsys.readouterr().err
    assert f"{path}:2: {problem}: preference files are UTF-8 JSONL" in err
    assert "Traceback" not in err and "codec" not in err


# ---- 3. nothing silent ---------------------------------------------------------------------------


def test_a_missed_population_target_exits_one_and_says_so(capsys) -> None:
    """At β = 1e9, π* is π_ref to within 4e-10 and Adam's steps overshoot it: the run ends
    2e-6 from π*, above the 1e-6 a population run should reach."""
    assert main(["train", "--mode", "population", "--beta", "1e9"]) == 1
    captured = capsys.readouterr()
    assert "missed the 1e-06 target" in captured.out
    assert "dpo-lab train: the population run missed the 1e-06 target" in captured.err


def test_a_met_population_target_exits_zero(capsys) -> None:
    assert main(["train", *SMALL, "--mode", "population", "--json"]) == 0
    summary = json.loads(capsys.readouterr().out)["summary"]
    assert summary["population_target"] == 1e-6 and summary["population_target_met"] is True


@pytest.mark.parametrize("option", ["--prompts", "--responses", "--world-seed"])
def test_random_world_options_need_the_random_world(option: str, capsys, no_training) -> None:
    line = usage_error(["train", option, "3"], capsys)
    assert line.endswith(f"{option}: only with --world random")


def test_random_world_options_are_refused_for_the_transformer(capsys, no_training) -> None:
    line = usage_error(["train", *QUICK, "--prompts", "3"], capsys)
    assert line.endswith("--prompts: only with --world random")


def test_ties_in_a_preference_file_are_skipped_with_a_warning(tmp_path: Path, capsys) -> None:
    path = tmp_path / "prefs.jsonl"
    rows = [("4", "5"), ("4", "4"), ("2 2", "5"), ("5", " 5 ")]
    path.write_text(
        "".join(
            json.dumps({"prompt": "2 + 2 =", "chosen": c, "rejected": r}) + "\n" for c, r in rows
        )
    )
    assert main(["train", *QUICK, "--data", str(path), "--json"]) == 0
    captured = capsys.readouterr()
    (run,) = json.loads(captured.out)["runs"]
    assert run["n_pairs"] == 2
    warning = f"{path}: skipped 2 row(s) whose chosen and rejected are the same response"
    assert f"warning: {warning} (lines 2, 4)" in captured.err


def test_the_report_of_a_preference_file_describes_its_rows(capsys) -> None:
    assert main(["train", *QUICK, "--data", str(EXAMPLE_FILE)]) == 0
    out = capsys.readouterr().out
    assert "drawn uniformly" not in out and "drawn from π_ref" not in out
    assert f"pairs: the 48 rows of {EXAMPLE_FILE}" in out


# ---- 4. progress on stderr -----------------------------------------------------------------------


def test_a_piped_tabular_run_reports_each_phase_on_stderr() -> None:
    arguments = ["train", *SMALL, "--n-pairs", "100", "--seeds", "0", "--json"]
    result = subprocess.run(
        [sys.executable, "-m", "lab.cli", *arguments], capture_output=True, text=True, check=False
    )
    assert result.returncode == 0, result.stderr
    json.loads(result.stdout)  # stdout is the JSON alone
    lines = result.stderr.splitlines()
    assert "training population run 1/2 (DPO, 400 Adam steps) …" in lines
    assert "training run 2/2: N=100 seed=0 (DPO, 400 Adam steps) …" in lines
    assert lines.count("  reward model + KL-RL …") == 2


def test_a_transformer_run_reports_its_phases_and_steps(capsys) -> None:
    assert main(["train", *QUICK, "--steps", "10"]) == 0
    err = capsys.readouterr().err.splitlines()
    assert "warming up π_ref: 5 supervised steps …" in err
    assert "training population run 1/1 (DPO, 10 Adam steps) …" in err
    assert any(line.startswith("  transformer: step 10/10, loss ") for line in err)
