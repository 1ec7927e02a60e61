"""What every ``dpo-lab experiment`` subcommand shares: the --out and --json options, options
read from a config's fields, and ``run_and_write`` (check --out, run, write, print the summary)."""

from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Callable
from pathlib import Path

from lab.cli import preflight
from lab.experiments import ExperimentFailed
from lab.training.devices import stderr_line


def add_common_options(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--out", default="renders", help="output folder (default: renders)")
    parser.add_argument("--json", action="store_true", help="print the summary as JSON")


def run_and_write(
    args: argparse.Namespace,
    parser: argparse.ArgumentParser,
    record: str,
    announce: str,
    run: Callable[[], object],
    write: Callable[[object, Path, str], list[Path]],
) -> int:
    """What every experiment's command does once its options are read: check --out (``record``
    is the JSON it writes there), say what runs, ``run()`` it, and ``write`` its files. An
    ``ExperimentFailed`` is exit 1 with its reason on stderr, and nothing written. Prints the
    run's summary (a table, or JSON with --json), then the files written."""
    from lab.cli.commands import command_line

    out = preflight.check_output_folder(args.out, "--out", parser, ("figures",), (record,))
    stderr_line(f"experiment {args.experiment}: {announce}")
    try:
        result = run()
    except ExperimentFailed as error:
        print(f"dpo-lab experiment {args.experiment}: {error}", file=sys.stderr)
        return 1
    written = write(result, out, command_line(args))
    summary = result.summary()
    if args.json:
        print(json.dumps(summary, indent=2))
    else:
        for name, value in summary.items():
            print(f"{name:>24}  {value:.6g}")
    for path in written:
        print(f"wrote {path}")
    return 0


def add_config_options(parser: argparse.ArgumentParser, defaults, options: dict) -> None:
    """One option per config field: name → (type, help); the help ends with the default."""
    for name, (kind, what) in options.items():
        shown = getattr(defaults, name)
        listed = isinstance(shown, tuple)  # several values, space-separated: --betas 0.1 0.5 1
        shown = " ".join(f"{v:g}" for v in shown) if listed else shown
        flags = ["--lr", "--learning-rate"] if name == "learning_rate" else []
        flags = flags or [f"--{name.replace('_', '-')}"]
        parser.add_argument(
            *flags, dest=name, type=kind, nargs="+" if listed else None,
            help=f"{what} (default {shown})",
        )  # fmt: skip
