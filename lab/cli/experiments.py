"""``dpo-lab experiment NAME``: the experiments behind the chapters beyond the five steps.

    dpo-lab experiment gradient [--beta B] [--steps S] [--lr LR] [--n-pairs N] [--seed K]
                                [--out renders] [--json]

Each writes its record (``NAME.json``) and figure (``figures/…``) into ``--out``. Options are
checked before any work (exit 2, naming the option); an experiment that cannot show what it is
for — pairs that no finite reward fits, a run that has not settled — says why and exits 1.
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import sys

from lab.cli import preflight
from lab.cli.options import build_config, whole_number
from lab.training.devices import single_cpu_thread, stderr_line

EXPERIMENTS = ("gradient",)


def add_experiment_parser(subcommands) -> None:
    from lab.experiments.gradient import GradientConfig

    defaults = GradientConfig()
    parser = subcommands.add_parser(
        "experiment", help="run an experiment of the chapters beyond the five steps, into --out"
    )
    parser.add_argument("name", choices=EXPERIMENTS, help="which experiment")
    parser.add_argument("--beta", type=float, help=f"the KL strength β (default {defaults.beta})")
    parser.add_argument(
        "--steps", type=whole_number, help=f"gradient-descent steps (default {defaults.steps})"
    )
    parser.add_argument(
        "--lr",
        "--learning-rate",
        dest="learning_rate",
        type=float,
        help=f"the step size (default {defaults.learning_rate})",
    )
    parser.add_argument(
        "--n-pairs", type=whole_number, help=f"pairs drawn from π_ref (default {defaults.n_pairs})"
    )
    parser.add_argument(
        "--seed", type=whole_number, help=f"draws the pairs and labels (default {defaults.seed})"
    )
    parser.add_argument("--out", default="renders", help="output folder (default: renders)")
    parser.add_argument("--json", action="store_true", help="print the summary as JSON")
    parser.set_defaults(handler=cmd_experiment, subparser=parser)


def _gradient_config(args: argparse.Namespace, parser: argparse.ArgumentParser):
    from lab.experiments.gradient import GradientConfig

    names = [field.name for field in dataclasses.fields(GradientConfig) if field.name != "prompt"]
    return build_config(GradientConfig, {name: getattr(args, name) for name in names}, parser)


def cmd_experiment(args: argparse.Namespace, parser: argparse.ArgumentParser) -> int:
    from lab.cli.commands import command_line
    from lab.experiments.gradient import ExperimentFailed, gradient_experiment
    from lab.report.gradient import write_gradient_files

    config = _gradient_config(args, parser)
    out = preflight.check_output_folder(args.out, "--out", parser, ("figures",), ("gradient.json",))
    stderr_line(f"experiment gradient: DPO and its unweighted ablation, {config.steps} steps")
    try:
        with single_cpu_thread():
            run = gradient_experiment(config)
    except ExperimentFailed as error:
        print(f"dpo-lab experiment gradient: {error}", file=sys.stderr)
        return 1
    written = write_gradient_files(run, out, command_line(args))
    summary = run.summary()
    if args.json:
        print(json.dumps(summary, indent=2))
    else:
        for name, value in summary.items():
            print(f"{name:>24}  {value:.6g}")
    for path in written:
        print(f"wrote {path}")
    return 0
