"""Tables and the Markdown report for training runs (``dpo-lab train``, ``dpo-lab plots``).

Column names follow the TRL DPO trainer's logged metrics where one exists (``rewards/margins``,
``rewards/accuracies``), so that a reader of TRL logs recognises them.
"""

from __future__ import annotations

import math
import statistics

from lab.train import Experiment, RunReport

COLUMNS = (
    "mode",
    "N",
    "seed",
    "loss",
    "max|π_θ−π*|",
    "TV",
    "KL",
    "max|DPO−RLHF|",
    "MLE",
    "seconds",
)


def _figure(value: float) -> str:
    if value == 0 or 1e-3 <= abs(value) < 1e4:
        return f"{value:.4g}"
    return f"{value:.2e}"


def _row(report: RunReport) -> tuple[str, ...]:
    return (
        report.mode,
        "—" if report.n_pairs is None else f"{report.n_pairs:,}",
        "—" if report.seed is None else str(report.seed),
        f"{report.final_loss:.6f}",
        _figure(report.max_abs_error),
        _figure(report.tv),
        _figure(report.kl),
        _figure(report.rlhf_max_abs_difference),
        "yes" if report.mle_exists else "no",
        f"{report.seconds:.2f}",
    )


def summarise(reports: list[RunReport]) -> dict:
    """The figures the issue asks for: the population error, the error per N over seeds (and how
    fast it falls), and the largest DPO-vs-RLHF difference."""
    summary: dict = {}
    population = [r for r in reports if r.mode == "population"]
    if population:
        summary["population_max_abs_error"] = population[0].max_abs_error
    by_n: dict[int, list[float]] = {}
    for report in reports:
        if report.n_pairs is not None:
            by_n.setdefault(report.n_pairs, []).append(report.max_abs_error)
    summary["samples"] = {
        str(n): {
            "seeds": len(errors),
            "mean_max_abs_error": statistics.fmean(errors),
            "min_max_abs_error": min(errors),
            "max_max_abs_error": max(errors),
        }
        for n, errors in sorted(by_n.items())
    }
    sizes = sorted(by_n)
    if len(sizes) >= 2:
        # slope of log(mean error) against log N between the smallest and the largest N
        first, last = statistics.fmean(by_n[sizes[0]]), statistics.fmean(by_n[sizes[-1]])
        summary["error_slope_log_log"] = math.log(last / first) / math.log(sizes[-1] / sizes[0])
    summary["max_dpo_rlhf_difference"] = max(r.rlhf_max_abs_difference for r in reports)
    summary["runs_without_finite_mle"] = sum(not r.mle_exists for r in reports)
    return summary


def _summary_lines(summary: dict) -> list[str]:
    lines = []
    if "population_max_abs_error" in summary:
        lines.append(
            "Population mode: max |π_θ − π*| = "
            f"{_figure(summary['population_max_abs_error'])} (the issue asks for ≤ 1e-6)."
        )
    for n, stats in summary["samples"].items():
        lines.append(
            f"N = {int(n):,}: max |π_θ − π*| mean {_figure(stats['mean_max_abs_error'])}, "
            f"from {_figure(stats['min_max_abs_error'])} to {_figure(stats['max_max_abs_error'])} "
            f"over {stats['seeds']} seeds."
        )
    if "error_slope_log_log" in summary:
        lines.append(
            f"The error falls like N^{summary['error_slope_log_log']:.2f} "
            "(sampling error alone would give N^-0.50)."
        )
    lines.append(
        "DPO vs reward model + KL-regularised RL on the same data: largest difference "
        f"{_figure(summary['max_dpo_rlhf_difference'])} over all runs."
    )
    if summary["runs_without_finite_mle"]:
        lines.append(
            f"{summary['runs_without_finite_mle']} run(s) had data whose Bradley–Terry MLE is not "
            "finite (a response never won or never lost): there both DPO and the reward model "
            "run off towards ±∞ and their agreement depends on how long they train."
        )
    return lines


def format_table(reports: list[RunReport]) -> str:
    """The runs as an aligned text table, then the summary."""
    rows = [COLUMNS, *(_row(r) for r in reports)]
    widths = [max(len(row[i]) for row in rows) for i in range(len(COLUMNS))]
    lines = [
        "  ".join(cell.ljust(w) for cell, w in zip(row, widths, strict=True)).rstrip()
        for row in rows
    ]
    lines.insert(1, "  ".join("-" * w for w in widths))
    return "\n".join([*lines, "", *_summary_lines(summarise(reports))])


def _markdown_row(cells: tuple[str, ...]) -> str:
    return "| " + " | ".join(cell.replace("|", "\\|") for cell in cells) + " |"


def markdown_report(experiment: Experiment, command: str, figures: list[str]) -> str:
    """renders/lab_report.md: the world, the runs, the summary, the figures."""
    world, star = experiment.world, experiment.star
    first = experiment.reports[0]
    lines = [
        "# DPO on a tabular world: the lab's training report",
        "",
        f"Written by `{command}` (device: {first.device}; β = {experiment.beta:g}; "
        f"{first.steps} Adam steps per run, full batch). Every number below is computed.",
        "",
        "Pairs: a uniform prompt, two distinct responses drawn from π_ref, labelled by "
        "Bradley–Terry with the true reward. Population mode trains on the exact expected loss; "
        "samples mode on N pairs. Each run also fits a Bradley–Terry reward model on the same "
        "data and maximises E[r̂] − β KL(π‖π_ref) with it (the RLHF pipeline).",
        "",
        "## The world",
        "",
        "| prompt | response | π_ref | r | π* |",
        "|---|---|---|---|---|",
    ]
    for x, prompt in enumerate(world.prompts):
        for y, response in enumerate(world.responses[x]):
            lines.append(
                _markdown_row(
                    (
                        prompt if y == 0 else "",
                        response,
                        f"{world.pi_ref[x, y]:.3f}",
                        f"{world.reward[x, y]:+.2f}",
                        f"{star[x, y]:.4f}",
                    )
                )
            )
    lines += ["", "## Runs", "", _markdown_row(COLUMNS), "|" + "---|" * len(COLUMNS)]
    lines += [_markdown_row(_row(r)) for r in experiment.reports]
    lines += ["", "## Summary", ""]
    lines += [f"- {line}" for line in _summary_lines(summarise(experiment.reports))]
    if figures:
        lines += ["", "## Figures", ""]
        for name in figures:
            lines += [f"![{name}]({name})", ""]
    return "\n".join(lines).rstrip() + "\n"
