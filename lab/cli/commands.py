"""The commands of ``dpo-lab``: verify, train (tabular or transformer) and plots.

Each checks its options before any work (``lab.cli.options``, ``lab.cli.preflight``), prints its
table or JSON on stdout and its progress, one line per phase, on stderr.
"""

from __future__ import annotations

import argparse
import json
import shlex
import sys
from pathlib import Path

from lab.cli import options, preflight
from lab.training.devices import single_cpu_thread, stderr_line

PLOTS_FILES = ("training.json", "lab_report.md")


def cmd_verify(args: argparse.Namespace, parser: argparse.ArgumentParser) -> int:
    from lab.claims import STEP_TITLES, all_claims, steps_with_claims, verify_all
    from lab.report.claims import verdict_table

    claims = all_claims()
    if args.step is not None:
        valid = steps_with_claims()
        if args.step not in valid:
            known = ", ".join(f"{s} ({STEP_TITLES[s]})" for s in valid)
            parser.error(f"no claims for step {args.step}; steps with claims: {known}")
        claims = [c for c in claims if c.step == args.step]
    if args.mutants:  # each claim verified with its TeX made wrong (lab.claims.mutants)
        from lab.claims.mutants import mutant_score
        from lab.report.claims import mutant_table

        with single_cpu_thread():
            print(mutant_table([mutant_score(claim) for claim in claims]))
        return 0
    with single_cpu_thread():
        verdicts = verify_all(claims)
    if args.json:
        print(json.dumps([v.as_dict() for v in verdicts], indent=2, ensure_ascii=False))
    else:
        print(verdict_table(verdicts))
    return 0 if all(v.ok for v in verdicts) else 1


def command_line(args: argparse.Namespace) -> str:
    return "dpo-lab " + shlex.join(sys.argv[1:] if args.argv is None else args.argv)


def _check_n_pairs(args: argparse.Namespace, parser: argparse.ArgumentParser) -> None:
    if any(n < 1 for n in args.n_pairs or ()):
        parser.error("every --n-pairs must be ≥ 1")


def _misses(reports, args: argparse.Namespace) -> int:
    """Exit status 1, with a line on stderr for each, when a population run fell short of π*
    (``lab.training.runs.population_misses``); else 0."""
    from lab.training.runs import population_misses

    misses = population_misses(reports)
    for miss in misses:
        print(f"dpo-lab {args.command}: {miss}", file=sys.stderr)
    return 1 if misses else 0


def _tabular_plan(args: argparse.Namespace, parser: argparse.ArgumentParser) -> dict:
    """The tabular experiment the options ask for, checked: bad values are usage errors (exit 2),
    and so is a run too big for memory. Returns ``tabular_experiment``'s arguments but the world:
    the random world's options under "world" (None: the default world)."""
    _check_n_pairs(args, parser)
    random_options = options.random_world_options(args, parser)
    config = options.config_from_args("tabular", args, parser)
    preflight.check_device(args, parser)
    mode = args.mode or "both"
    sample_sizes = tuple(args.n_pairs or options.SAMPLE_SIZES["tabular"])
    sample_sizes = sample_sizes if mode != "population" else ()
    world = random_options if args.world == "random" else None
    preflight.check_tabular_fits(world, sample_sizes, parser)
    return {
        "world": world,
        "config": config,
        "sample_sizes": sample_sizes,
        "seeds": tuple(args.seeds or options.SEEDS["tabular"]),
        "population": mode != "samples",
    }


def _tabular_experiment(plan: dict, parser: argparse.ArgumentParser):
    """Run a ``_tabular_plan``, a line per phase on stderr."""
    from lab.training.runs import tabular_experiment
    from lab.worlds.tabular import default_world, random_world

    plan = dict(plan)
    sizes = plan.pop("world")
    try:
        world = (
            default_world()
            if sizes is None
            else random_world(sizes["prompts"], sizes["responses"], sizes["world_seed"])
        )
        with single_cpu_thread():
            return tabular_experiment(world, **plan, log=stderr_line)
    except ValueError as error:
        parser.error(str(error))


def cmd_train(args: argparse.Namespace, parser: argparse.ArgumentParser) -> int:
    options.refuse_foreign_options(args.policy, args, parser)
    if args.policy == "transformer":
        return _train_transformer(args, parser)
    if args.data is not None:
        parser.error("--data: only with --policy transformer")
    from lab.report.training import runs_text, tabular_json

    plan = _tabular_plan(args, parser)
    if args.plots is not None:
        preflight.check_output_folder(args.plots, "--plots", parser)
    experiment = _tabular_experiment(plan, parser)
    if args.json:
        print(
            json.dumps(tabular_json(experiment, command_line(args)), indent=2, ensure_ascii=False)
        )
    else:
        print(runs_text(experiment.reports))
    if args.plots is not None:
        from lab.report.figures import write_tabular_figures

        for path in write_tabular_figures(experiment, Path(args.plots)):
            print(f"wrote {path}", file=sys.stderr)
    return _misses(experiment.reports, args)


def _train_transformer(args: argparse.Namespace, parser: argparse.ArgumentParser) -> int:
    """``dpo-lab train --policy transformer``. A bad preference file is a usage error too (its
    message names the file, each line and the problem)."""
    from lab.training import transformer_runs
    from lab.training.transformer import TrainingDiverged

    if args.world != "default":
        parser.error("--policy transformer trains on its own token world: drop --world")
    options.random_world_options(args, parser)
    _check_n_pairs(args, parser)
    if args.data is not None and (args.mode or args.n_pairs):
        parser.error("--data is its own data: drop --mode and --n-pairs")
    config = options.config_from_args("transformer", args, parser)
    preflight.check_device(args, parser)
    mode = args.mode or ("both" if args.n_pairs else "population")
    sample_sizes = args.n_pairs or options.SAMPLE_SIZES["transformer"]
    sample_sizes = tuple(sample_sizes) if mode != "population" else ()
    preflight.check_transformer_fits(sample_sizes, config.batch_pairs, parser)
    if args.plots is not None:
        preflight.check_output_folder(args.plots, "--plots", parser)
    try:
        experiment = transformer_runs.transformer_experiment(
            config,
            population=mode != "samples",
            sample_sizes=sample_sizes,
            seeds=tuple(args.seeds or options.SEEDS["transformer"]),
            data=args.data,
            log=stderr_line,
        )
    except TrainingDiverged as error:
        parser.error(
            f"--lr {error.learning_rate:g}: training diverged at step {error.step} of "
            f"{error.steps} (the policy's log-probs became NaN or infinite): use a smaller --lr"
        )
    except (ValueError, OSError) as error:  # PreferenceDataError is a ValueError
        parser.error(str(error))
    return _report_transformer(experiment, args)


def _report_transformer(experiment, args: argparse.Namespace) -> int:
    from lab.report.figures import write_transformer_figures
    from lab.report.training import runs_text, transformer_header, transformer_json

    for warning in experiment.warnings:
        print(f"dpo-lab train: warning: {warning}", file=sys.stderr)
    if args.plots is not None:
        write_transformer_figures(experiment, Path(args.plots))
    if args.json:
        report = transformer_json(experiment, command_line(args))
        print(json.dumps(report, indent=2, ensure_ascii=False))
    else:
        print(runs_text(experiment.reports, transformer_header(experiment)))
        figures = [r.figure for r in experiment.reports if r.figure]
        if figures:
            print("figures (PNG and SVG): " + ", ".join(figures))
    return _misses(experiment.reports, args)


def cmd_plots(args: argparse.Namespace, parser: argparse.ArgumentParser) -> int:
    """The standard tabular runs, written as files: figures/, training.json and lab_report.md."""
    from lab.files import write_text_atomically
    from lab.report.figures import write_tabular_figures
    from lab.report.training import tabular_json, tabular_markdown

    plan = _tabular_plan(args, parser)
    out = preflight.check_output_folder(args.out, "--out", parser, ("figures",), PLOTS_FILES)
    experiment = _tabular_experiment(plan, parser)
    command = command_line(args)
    figures = write_tabular_figures(experiment, out / "figures")
    write_text_atomically(
        out / "training.json",
        json.dumps(tabular_json(experiment, command), indent=2, ensure_ascii=False) + "\n",
    )
    pngs = [str(p.relative_to(out)) for p in figures if p.suffix == ".png"]
    write_text_atomically(out / "lab_report.md", tabular_markdown(experiment, command, pngs))
    for path in [*figures, out / "training.json", out / "lab_report.md"]:
        print(f"wrote {path}")
    return _misses(experiment.reports, args)
