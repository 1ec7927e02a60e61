"""The claims catch real bugs: with the lab's code broken one plausible way at a time, `dpo-lab
verify` fails, and the claim that catches the bug is among those that fail.

Each bug is a one-line edit of the lab's source in a copy of the project (the way a bug arrives),
then the whole of `dpo-lab verify` runs in a fresh process on the copy.
"""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]

# (name, file, the right line, the wrong line, a claim that must fail)
BUGS = [
    (
        "pairs may repeat a response",
        "lab/data/pairs.py",
        "* (1 - torch.eye(n, dtype=proposal.dtype))",
        "",
        "step4.distinct_pairs",
    ),
    (
        "a chunk stops one row short",
        "lab/core/sequences.py",
        "slice(start, min(start + rows_per_chunk, rows))",
        "slice(start, min(start + rows_per_chunk, rows) - 1)",
        "step7.prompt_masked",
    ),
    (
        "the chunked backward's sign flipped",
        "lab/core/sequences.py",
        "chunk_grad.mul_(-grad).scatter_add_(-1, labels[chunk, None], grad)",
        "chunk_grad.mul_(grad).scatter_add_(-1, labels[chunk, None], -grad)",
        "step7.chunked_gradient",
    ),
    (
        "the tabular policy starts uniform",
        "lab/training/tabular.py",
        "nn.Parameter(torch.log(pi_ref).clone())",
        "nn.Parameter(torch.zeros_like(pi_ref))",
        "step7.reference_start",
    ),
    (
        "mle_exists tests undirected connectivity",
        "lab/data/pairs.py",
        "reach = (weights > 0) | torch.eye(",
        "reach = (weights > 0) | (weights > 0).transpose(-2, -1) | torch.eye(",
        "step6.no_mle_no_limit",
    ),
    (
        "the transformer's pair weights flipped",
        "lab/data/enumerated.py",
        "return population_pair_weights(proposal, enumerated.reward)",
        "return population_pair_weights(proposal, enumerated.reward).transpose(-2, -1)",
        "step4.pair_odds",
    ),
    (
        "the transformer's sampled labels flipped",
        "lab/data/enumerated.py",
        "return pairs.weights(*proposal.shape)",
        "return pairs.weights(*proposal.shape).transpose(-2, -1)",
        "step4.pair_odds",
    ),
]

RUN_VERIFY = """
import sys
import lab
assert lab.__file__.startswith(sys.argv[1]), lab.__file__  # the broken copy, not the project
from lab.cli import main
sys.exit(main(["verify", "--json"]))
"""


def broken_copy(tmp_path: Path, file: str, right: str, wrong: str) -> Path:
    copy = tmp_path / "project"
    shutil.copytree(ROOT / "lab", copy / "lab", ignore=shutil.ignore_patterns("__pycache__"))
    source = copy / file
    text = source.read_text()
    assert text.count(right) == 1, f"{file} no longer holds {right!r}: update the bug"
    source.write_text(text.replace(right, wrong))
    return copy


@pytest.mark.parametrize(
    ("name", "file", "right", "wrong", "catcher"), BUGS, ids=[b[0] for b in BUGS]
)
def test_verify_fails_on_a_broken_lab(tmp_path, name, file, right, wrong, catcher) -> None:
    copy = broken_copy(tmp_path, file, right, wrong)
    result = subprocess.run(
        [sys.executable, "-c", RUN_VERIFY, str(copy)],
        cwd=copy,
        capture_output=True,
        text=True,
        env={"PYTHONPATH": str(copy), "PATH": "/usr/bin:/bin"},
    )
    assert result.returncode == 1, f"{name}: verify exited {result.returncode}\n{result.stderr}"
    verdicts = json.loads(result.stdout)
    failed = [v["id"] for v in verdicts if not (v["passed"] and v["refuted"])]
    assert catcher in failed, f"{name}: {catcher} still holds; failed: {failed}"
