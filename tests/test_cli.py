"""`dpo-lab verify`: the table, the JSON, and the exit codes."""

from __future__ import annotations

import json
import subprocess
import sys

import pytest

from lab.cli import main


def test_verify_prints_a_table_and_exits_zero(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["verify"]) == 0
    out = capsys.readouterr().out
    assert "step4.sigmoid_identity" in out
    assert "✓" in out and "✗" not in out
    assert "claims hold" in out


def test_verify_json_has_the_documented_keys(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["verify", "--json", "--step", "4"]) == 0
    rows = json.loads(capsys.readouterr().out)
    assert rows and all(row["step"] == 4 for row in rows)
    for row in rows:
        assert {"id", "step", "says", "tex", "passed", "refuted", "measured", "tolerance"} <= set(
            row
        )
        assert row["passed"] is True and row["refuted"] is True
        assert all(isinstance(v, float) for v in row["measured"].values())


def test_unknown_step_is_a_usage_error_naming_the_valid_steps(
    capsys: pytest.CaptureFixture[str],
) -> None:
    with pytest.raises(SystemExit) as exit_info:
        main(["verify", "--step", "9"])
    assert exit_info.value.code == 2
    err = capsys.readouterr().err
    assert "no claims for step 9" in err and "steps with claims: " in err and "4" in err


def test_failing_claim_makes_verify_exit_one(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    import lab.claims
    from lab.claims import Claim, Evidence

    broken = Claim(
        "test.broken",
        4,
        "x",
        "a claim that does not hold",
        lambda: Evidence({"error": 1.0}, 0.1, False),
        lambda: Evidence({"error": 1.0}, 0.1, False),
    )
    monkeypatch.setattr(lab.claims, "all_claims", lambda: [broken])
    assert main(["verify"]) == 1
    assert "✗ test.broken: the check failed" in capsys.readouterr().out


def test_console_script_entry_point_runs() -> None:
    result = subprocess.run(
        [sys.executable, "-m", "lab.cli", "verify", "--step", "4"],
        capture_output=True,
        text=True,
        check=False,
    )
    assert result.returncode == 0, result.stderr
    assert "step4.sigmoid_identity" in result.stdout
