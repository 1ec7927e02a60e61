"""``dpo-lab``: the lab's command line.

    dpo-lab verify [--step N] [--json]          run every claim's check and refutation
    dpo-lab verify --mutants [--step N]         verify each claim with wrong TeX: must fail
    dpo-lab train --policy tabular [--json]     DPO and the RLHF pipeline on a toy world, vs π*
    dpo-lab train --policy transformer [--json] DPO on a tiny transformer, vs π* over every response
    dpo-lab plots [--out renders]               the tabular runs, figures and report, as files
    dpo-lab experiment gradient [--out renders] each pair's gradient weight in a DPO run, and the
                                                same run without the weight

The trainers' options come from their config dataclasses (``TabularConfig``, ``TransformerConfig``):
one option per field, its help text from the field. Options are checked before any training:
values, the device, the output folder (made and written to at once), and whether the run fits
in memory. Results go to stdout; progress, one line per phase, to stderr.

Exit status: 0 when every selected claim passed and was refuted (verify) or the runs reached π*
(train, plots); 1 when a claim did not hold, or a population run fell short of π* (a tabular one
above 1e-6, or any one farther from π* than π_ref started); 2 for bad usage, with one line that
names the option.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from lab.cli import commands, experiments, options


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="dpo-lab", description="The DPO lab: every step of the derivation, in numbers."
    )
    subcommands = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    verify = subcommands.add_parser(
        "verify", help="run every claim's check and refutation and print a table"
    )
    verify.add_argument("--step", type=int, help="only the claims of this step")
    verify.add_argument("--json", action="store_true", help="print a JSON array instead of a table")
    mutants_help = "verify each claim with its TeX mutated; list the mutants that pass"
    verify.add_argument("--mutants", action="store_true", help=mutants_help)
    verify.set_defaults(handler=commands.cmd_verify, subparser=verify)

    train = subcommands.add_parser(
        "train", help="train DPO (tabular: and the RLHF pipeline) on a toy world; compare with π*"
    )
    train.add_argument("--policy", choices=tuple(options.CONFIGS), default="tabular")
    options.add_run_options(train, tuple(options.CONFIGS))
    options.add_config_options(train, tuple(options.CONFIGS))
    train.add_argument(
        "--data", type=Path, help="train on a JSONL file of {prompt, chosen, rejected} rows"
    )
    train.add_argument("--json", action="store_true", help="print JSON instead of a table")
    train.add_argument("--plots", metavar="DIR", help="also write the figures (PNG, SVG) to DIR")
    train.set_defaults(handler=commands.cmd_train, subparser=train)

    plots = subcommands.add_parser(
        "plots", help="run the tabular training and write figures/, training.json, lab_report.md"
    )
    options.add_run_options(plots, ("tabular",))
    options.add_config_options(plots, ("tabular",))
    plots.add_argument("--out", default="renders", help="output folder (default: renders)")
    plots.set_defaults(handler=commands.cmd_plots, subparser=plots)
    experiments.add_experiment_parser(subcommands)
    return parser


def main(argv: list[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    args.argv = argv  # for the command line recorded in reports
    return args.handler(args, args.subparser)


if __name__ == "__main__":
    sys.exit(main())
