"""Training runs as people read them: a table (text or Markdown), a summary, JSON, and
renders/lab_report.md. Metric columns carry the names TRL's DPOTrainer logs (``rewards/margins``,
``rewards/accuracies``), so a reader of TRL logs recognises them.
"""

from __future__ import annotations

import math
from dataclasses import asdict
from typing import TYPE_CHECKING

from lab.report.tables import figure, markdown_table, text_table
from lab.training.runs import POPULATION_TARGET, RunReport, TabularExperiment, summarise

if TYPE_CHECKING:  # only a type here: importing it at run time would load transformers
    from lab.training.transformer_runs import TransformerExperiment


def _columns(reports: list[RunReport]) -> list[tuple[str, object]]:
    """(header, cell of a report) for each column; the pipeline's column only where it ran."""
    columns: list[tuple[str, object]] = [
        ("mode", lambda r: r.mode),
        ("N", lambda r: "—" if r.n_pairs is None else f"{r.n_pairs:,}"),
        ("seed", lambda r: "—" if r.seed is None else str(r.seed)),
        ("loss", lambda r: f"{r.final_loss:.6f}"),
        ("TV(π_θ,π*)", lambda r: figure(r.tv)),
        ("max|π_θ−π*|", lambda r: figure(r.max_abs_error)),
        ("KL(π_θ‖π*)", lambda r: figure(r.kl)),
        ("TV(π_ref,π*)", lambda r: figure(r.reference_tv)),
        ("rewards/margins", lambda r: f"{r.metrics['rewards/margins']:.3f}"),
        ("rewards/accuracies", lambda r: f"{r.metrics['rewards/accuracies']:.3f}"),
    ]
    if any(r.rlhf_max_abs_difference is not None for r in reports):
        columns.append(("max|DPO−RLHF|", lambda r: figure(r.rlhf_max_abs_difference)))
    columns += [
        ("MLE", lambda r: {True: "yes", False: "no", None: "—"}[r.mle_exists]),
        ("seconds", lambda r: f"{r.seconds:.2f}"),
    ]
    return columns


def _table(reports: list[RunReport]) -> tuple[list[str], list[list[str]]]:
    columns = _columns(reports)
    return [name for name, _ in columns], [[cell(r) for _, cell in columns] for r in reports]


def summary_lines(reports: list[RunReport]) -> list[str]:
    """The summary in sentences: the population's distance to π*, each N's over its seeds, how
    fast it falls, DPO against the pipeline, step 0, and what a missing MLE means."""
    summary = summarise(reports)
    lines = []
    if "population_max_abs_error" in summary:
        verdict = {True: "within", False: "missed"}.get(summary.get("population_target_met"))
        target = f": {verdict} the {POPULATION_TARGET:g} target" if verdict else ""
        lines.append(
            f"Population mode: max |π_θ − π*| = {figure(summary['population_max_abs_error'])}, "
            f"TV(π_θ, π*) = {figure(summary['population_tv'])}{target}."
        )
    for n, stats in summary["samples"].items():
        lines.append(
            f"N = {int(n):,}: max |π_θ − π*| mean {figure(stats['mean_max_abs_error'])}, "
            f"from {figure(stats['min_max_abs_error'])} to {figure(stats['max_max_abs_error'])}; "
            f"TV mean {figure(stats['mean_tv'])}; over {stats['seeds']} seed(s)."
        )
    if "error_slope_log_log" in summary:
        lines.append(
            f"The error falls like N^{summary['error_slope_log_log']:.2f} "
            "(sampling error alone would give N^-0.50)."
        )
    if "max_dpo_rlhf_difference" in summary:
        lines.append(
            "DPO vs reward model + KL-regularised RL on the same data: largest difference "
            f"{figure(summary['max_dpo_rlhf_difference'])} over all runs."
        )
    worst_loss = max(abs(r.step0["loss"] - math.log(2)) for r in reports)
    worst_reward = max(
        abs(r.step0[key]) for r in reports for key in ("rewards/chosen", "rewards/rejected")
    )
    lines.append(
        f"Step 0 (π_θ = π_ref), every run: |loss − log 2| ≤ {worst_loss:.1e}, "
        f"|mean reward| ≤ {worst_reward:.1e}."
    )
    if summary["runs_without_finite_mle"]:
        lines.append(
            f"{summary['runs_without_finite_mle']} run(s) had pairs whose Bradley–Terry MLE is "
            "not finite (some response never won or never lost): DPO's optimum lies at infinity "
            "there, and training stops wherever it stops."
        )
    return lines


def runs_text(reports: list[RunReport], header_lines: list[str] = ()) -> str:
    """The runs as an aligned text table between a header and the summary."""
    header, rows = _table(reports)
    return "\n".join([*header_lines, text_table(header, rows), "", *summary_lines(reports)])


def tabular_json(experiment: TabularExperiment, command: str) -> dict:
    world = experiment.world
    return {
        "command": command,
        "policy": "tabular",
        "world": {"prompts": list(world.prompts), "responses": [list(r) for r in world.responses]},
        "beta": experiment.beta,
        "summary": summarise(experiment.reports),
        "runs": [r.as_dict() for r in experiment.reports],
    }


def transformer_json(experiment: TransformerExperiment, command: str) -> dict:
    config, world = experiment.config, experiment.enumerated.world
    return {
        "command": command,
        "policy": "transformer",
        "config": asdict(config)
        | {"parameters": experiment.parameters, "device": experiment.device},
        "world": {
            "prompts": list(world.prompts),
            "responses_per_prompt": len(experiment.enumerated.responses),
            "vocabulary": list(world.vocabulary),
            "max_response_tokens": world.max_response_tokens,
        },
        "data": None if experiment.data is None else str(experiment.data),
        "notes": experiment.notes,
        "summary": summarise(experiment.reports),
        "runs": [r.as_dict() for r in experiment.reports],
    }


def transformer_header(experiment: TransformerExperiment) -> list[str]:
    """What the transformer runs trained: the model, the world, π_ref, the data."""
    config, world = experiment.config, experiment.enumerated.world
    model = config.model
    if experiment.data is not None:
        pairs = f"pairs: the {experiment.reports[0].n_pairs} rows of {experiment.data}"
    else:
        drawn = "uniformly" if config.pairs_from == "uniform" else "from π_ref"
        pairs = f"a pair's two responses drawn {drawn}"
    return [
        f"DPO on a tiny transformer: GPT-2, {model.n_layer} layers × {model.n_embd}, "
        f"{experiment.parameters:,} parameters, on {experiment.device}",
        f"world: prompts {', '.join(map(repr, world.prompts))}; "
        f"{len(experiment.enumerated.responses)} responses each (≤ {world.max_response_tokens} "
        "tokens)",
        f"π_ref: the model after {config.warmup_steps} supervised warm-up steps; "
        f"β = {config.beta}; {config.steps} Adam steps at lr {config.learning_rate}; {pairs}",
        *experiment.notes,
        "",
    ]


def tabular_markdown(experiment: TabularExperiment, command: str, figures: list[str]) -> str:
    """renders/lab_report.md: the world, the runs, the summary, the figures."""
    world, star = experiment.world, experiment.star
    first = experiment.reports[0]
    world_rows = [
        [
            prompt if y == 0 else "",
            response,
            f"{world.pi_ref[x, y]:.3f}",
            f"{world.reward[x, y]:+.2f}",
            f"{star[x, y]:.4f}",
        ]
        for x, prompt in enumerate(world.prompts)
        for y, response in enumerate(world.responses[x])
    ]
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
        markdown_table(["prompt", "response", "π_ref", "r", "π*"], world_rows),
        "",
        "## Runs",
        "",
        markdown_table(*_table(experiment.reports)),
        "",
        "## Summary",
        "",
        *(f"- {line}" for line in summary_lines(experiment.reports)),
    ]
    if figures:
        lines += ["", "## Figures", ""]
        for name in figures:
            lines += [f"![{name}]({name})", ""]
    return "\n".join(lines).rstrip() + "\n"
