"""The log-probs experiment as files: logprobs.json and figures/logprobs_tokens.{png,svg}.

One panel per response of the pair: each token of s = x ∘ y after the first, with its
log-probability under π_ref and under the trained π_θ from one forward pass. The prompt's tokens
have log-probabilities too, but the mask leaves them out (drawn faint, marked "masked"); the
response's are summed into log π(y | x), given in the panel's title.
"""

from __future__ import annotations

from pathlib import Path

import matplotlib as mpl
from matplotlib.figure import Figure

from lab.experiments.logprobs import LogprobsRun
from lab.palette import PALETTE
from lab.report.figures import STYLE, save_figure, write_record

WIDTH = 0.38  # of each model's bar at a position


def _panel(axis, run: LogprobsRun, side: str) -> None:
    policy, reference = run.scored[f"policy_{side}"], run.scored[f"reference_{side}"]
    positions = range(1, len(policy.tokens))
    for model, scored, offset, colour in (
        (r"$\pi_{\mathrm{ref}}$", reference, -WIDTH / 2, PALETTE.reference),
        (r"$\pi_\theta$", policy, WIDTH / 2, PALETTE.policy),
    ):
        for t in positions:
            counted = scored.mask[t] == 1
            last = t == len(policy.tokens) - 1
            alpha = 1.0 if counted else 0.25
            label = model if last else None
            axis.bar(
                t + offset, scored.token_logps[t], WIDTH, color=colour, alpha=alpha, label=label
            )
    prompt_end = policy.mask.index(1) - 0.5
    axis.axvspan(0.5, prompt_end, color=PALETTE.muted, alpha=0.12)
    lowest = min(v for s in (policy, reference) for v in s.token_logps if v is not None)
    axis.set_ylim(lowest - 1.5, 0.2)
    axis.text(
        (0.5 + prompt_end) / 2, lowest - 1.0, "prompt: masked", ha="center", color=PALETTE.text
    )
    axis.set_xticks(list(positions), policy.tokens[1:])
    axis.axhline(0, color=PALETTE.muted, linewidth=0.8)
    axis.set_ylabel(r"$\log \pi(s_t \mid s_{<t})$")
    colour = PALETTE.chosen if side == "chosen" else PALETTE.rejected
    response = getattr(run.config, side)
    axis.set_title(
        f"{side} “{response}”: "
        rf"$\log \pi_\theta$ = {policy.total:.3f}, "
        rf"$\log \pi_{{\mathrm{{ref}}}}$ = {reference.total:.3f}",
        color=colour,
        fontsize=10,
    )
    axis.legend(loc="lower right")


def write_logprobs_files(run: LogprobsRun, directory: Path, command: str) -> list[Path]:
    """logprobs.json and figures/logprobs_tokens.{png,svg} under ``directory``."""
    directory = Path(directory)
    with mpl.rc_context(STYLE):
        figure = Figure(figsize=(11, 4.2), layout="constrained")
        axes = figure.subplots(1, 2, sharey=True)
        for axis, side in zip(axes, ("chosen", "rejected"), strict=True):
            _panel(axis, run, side)
            axis.grid(True, axis="y")
        figure.suptitle(
            f"“{run.config.prompt}”: each token's log-probability from one forward pass; "
            f"DPO loss {run.loss:.4f} at β = {run.beta:g}"
        )
        figures = save_figure(figure, directory / "figures", "logprobs_tokens")
    return [*figures, write_record(directory, "logprobs", command, run)]
