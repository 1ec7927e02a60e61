"""The β sweep as files: beta_sweep.json and figures/beta_sweep.{png,svg}.

Two panels sharing a log-β axis: the expected reward E[r] and KL(π ‖ π_ref), each averaged over
the prompts; the closed form π* as a line over a dense grid of β, the trained policies as dots,
π_ref's expected reward as a dotted floor, and the common default β = 0.1 as a dashed line when
the sweep spans it.
"""

from __future__ import annotations

from pathlib import Path

import matplotlib as mpl
from matplotlib.figure import Figure

from lab.core.dpo import expected_reward
from lab.experiments.beta_sweep import DEFAULT_BETA, BetaSweep
from lab.palette import PALETTE
from lab.report.figures import STYLE, save_figure, write_record


def _panel(axis, sweep: BetaSweep, name: str, curve: list[float], ylabel: str) -> None:
    betas = sweep.config.betas
    trained = getattr(sweep, name)(sweep.trained).mean(-1).tolist()
    axis.plot(
        sweep.curve_betas, curve, color=PALETTE.optimal, linewidth=2, label=r"$\pi^*$ (closed form)"
    )
    axis.plot(
        betas,
        trained,
        "o",
        color=PALETTE.policy,
        markersize=7,
        label=rf"$\pi_\theta$ (DPO, {sweep.config.n_pairs} pairs)",
    )
    if min(betas) <= DEFAULT_BETA <= max(betas):
        axis.axvline(
            DEFAULT_BETA,
            color=PALETTE.beta,
            linestyle="--",
            linewidth=1.2,
            label=f"common default β = {DEFAULT_BETA:g}",
        )
    axis.set_xscale("log")
    axis.set_xlabel(r"$\beta$ (log scale)")
    axis.set_ylabel(ylabel)
    axis.grid(True, which="major")


def write_beta_sweep_files(sweep: BetaSweep, directory: Path, command: str) -> list[Path]:
    """beta_sweep.json and figures/beta_sweep.{png,svg} under ``directory``."""
    directory = Path(directory)
    curve = sweep.curve()
    with mpl.rc_context(STYLE):
        figure = Figure(figsize=(12, 4.6), layout="constrained")
        left, right = figure.subplots(1, 2, sharex=True)
        _panel(left, sweep, "reward", curve["reward"], r"expected reward $\mathrm{E}_\pi[r]$")
        reference = expected_reward(sweep.world.pi_ref, sweep.world.reward).mean().item()
        left.axhline(
            reference,
            color=PALETTE.reference,
            linestyle=":",
            label=r"$\pi_{\mathrm{ref}}$ (the limit β → ∞)",
        )
        left.set_title("small β: more reward …", fontsize=10)
        _panel(
            right, sweep, "kl", curve["kl"], r"$\mathrm{KL}(\pi \,\|\, \pi_{\mathrm{ref}})$ (nats)"
        )
        right.set_title("… bought with distance from π_ref", fontsize=10)
        left.legend(loc="center left")
        figure.suptitle(
            "DPO trained at each β on the same pairs, against the closed-form optimum "
            f"(means over the {sweep.world.n_prompts} prompts)"
        )
        figures = save_figure(figure, directory / "figures", "beta_sweep")
    return [*figures, write_record(directory, "beta_sweep", command, sweep)]
