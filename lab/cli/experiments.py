"""``dpo-lab experiment NAME``: the experiments behind the chapters beyond the five steps.

    dpo-lab experiment gradient [--beta B] [--steps S] [--lr LR] [--n-pairs N] [--seed K]
                                [--out renders] [--json]
    dpo-lab experiment logprobs [--prompt X] [--chosen Y] [--rejected Y] [--steps S]
                                [--warmup-steps W] [--out renders] [--json]
    dpo-lab experiment why-dpo [--vocab V] [--max-tokens L] [--out renders] [--json]
    dpo-lab experiment length [--biases B …] [--betas β …] [--steps S] [--lr LR]
                              [--out renders] [--json]

Each experiment is a subcommand with its own options (``EXPERIMENTS``: name → the function that
adds its parser). Each writes its record (``NAME.json``) and figure (``figures/…``) into
``--out``. Options are checked before any work (exit 2, naming the option); an experiment that
cannot show what it is for — pairs that no finite reward fits, a run that has not settled — says
why and exits 1.
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import sys
from collections.abc import Callable
from pathlib import Path

from lab.cli import preflight
from lab.cli.options import build_config, whole_number
from lab.experiments import ExperimentFailed
from lab.training.devices import single_cpu_thread, stderr_line


def add_experiment_parser(subcommands) -> None:
    parser = subcommands.add_parser(
        "experiment", help="run an experiment of the chapters beyond the five steps, into --out"
    )
    names = parser.add_subparsers(dest="experiment", required=True, metavar="NAME")
    for add_parser in EXPERIMENTS.values():
        add_parser(names)


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


def _add_gradient_parser(names) -> None:
    from lab.experiments.gradient import GradientConfig

    defaults = GradientConfig()
    parser = names.add_parser(
        "gradient", help="each pair's gradient weight in a DPO run, and the run without it"
    )
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
    add_common_options(parser)
    parser.set_defaults(handler=cmd_gradient, subparser=parser)


def _gradient_config(args: argparse.Namespace, parser: argparse.ArgumentParser):
    from lab.experiments.gradient import GradientConfig

    names = [field.name for field in dataclasses.fields(GradientConfig) if field.name != "prompt"]
    return build_config(GradientConfig, {name: getattr(args, name) for name in names}, parser)


def cmd_gradient(args: argparse.Namespace, parser: argparse.ArgumentParser) -> int:
    from lab.experiments.gradient import gradient_experiment
    from lab.report.gradient import write_gradient_files

    config = _gradient_config(args, parser)

    def run():
        with single_cpu_thread():
            return gradient_experiment(config)

    announce = f"DPO and its unweighted ablation, {config.steps} steps"
    return run_and_write(args, parser, "gradient.json", announce, run, write_gradient_files)


def _add_logprobs_parser(names) -> None:
    from lab.experiments.logprobs import LogprobsConfig
    from lab.training.transformer import TransformerConfig

    defaults = LogprobsConfig()
    parser = names.add_parser(
        "logprobs",
        help="one pair's tokens, their log-probs under π_ref and the trained π_θ, the four sums",
    )
    for name, what in (
        ("prompt", "the prompt, one of the token world's"),
        ("chosen", "the chosen response y_w, words of the token world"),
        ("rejected", "the rejected response y_l"),
    ):
        parser.add_argument(f"--{name}", help=f"{what} (default {getattr(defaults, name)!r})")
    training = TransformerConfig()
    parser.add_argument(
        "--steps", type=whole_number, help=f"DPO's Adam steps (default {training.steps})"
    )
    parser.add_argument(
        "--warmup-steps",
        type=whole_number,
        help=f"supervised steps that make π_ref (default {training.warmup_steps})",
    )
    add_common_options(parser)
    parser.set_defaults(handler=cmd_logprobs, subparser=parser)


def cmd_logprobs(args: argparse.Namespace, parser: argparse.ArgumentParser) -> int:
    from lab.experiments.logprobs import LogprobsConfig, logprobs_experiment
    from lab.report.logprobs import write_logprobs_files
    from lab.training.transformer import TransformerConfig
    from lab.worlds.tokens import TokenWorld

    given = {name: getattr(args, name) for name in ("prompt", "chosen", "rejected")}
    config = build_config(LogprobsConfig, given, parser)
    try:
        config.check(TokenWorld())
    except ValueError as error:
        name, _, rest = str(error).partition(" ")
        parser.error(f"--{name} {rest}")
    steps = {"steps": args.steps, "warmup_steps": args.warmup_steps}
    training = build_config(TransformerConfig, steps, parser)
    return run_and_write(
        args, parser, "logprobs.json",
        "π_ref warmed up, π_θ trained by DPO, the pair scored …",
        lambda: logprobs_experiment(config, training), write_logprobs_files,
    )  # fmt: skip


def _add_why_dpo_parser(names) -> None:
    from lab.experiments.why_dpo import WhyDpoConfig

    defaults = WhyDpoConfig()
    parser = names.add_parser(
        "why-dpo",
        help="the models RLHF and DPO hold in memory, the responses Z(x) sums over, the 2 + 2 pair",
    )
    parser.add_argument(
        "--vocab",
        type=whole_number,
        help=f"V, the tokens a response is made of (default {defaults.vocab:,}: GPT-2's)",
    )
    parser.add_argument(
        "--max-tokens",
        type=whole_number,
        help=f"L, the longest response in tokens (default {defaults.max_tokens})",
    )
    add_common_options(parser)
    parser.set_defaults(handler=cmd_why_dpo, subparser=parser)


def cmd_why_dpo(args: argparse.Namespace, parser: argparse.ArgumentParser) -> int:
    from lab.experiments.why_dpo import WhyDpoConfig, why_dpo_experiment
    from lab.report.why_dpo import write_why_dpo_files

    given = {"vocab": args.vocab, "max_tokens": args.max_tokens}
    config = build_config(WhyDpoConfig, given, parser)
    return run_and_write(
        args, parser, "why_dpo.json",
        "RLHF's and DPO's models built on the meta device, counted",
        lambda: why_dpo_experiment(config), write_why_dpo_files,
    )  # fmt: skip


def _add_length_parser(names) -> None:
    from lab.experiments.length import LengthConfig

    defaults = LengthConfig()
    parser = names.add_parser(
        "length", help="DPO on length-biased labels: longer answers; R-DPO's fix, against bias × β"
    )
    for name, what in (("biases", "length biases b of the labels"), ("betas", "KL strengths β")):
        listed = " ".join(f"{v:g}" for v in getattr(defaults, name))
        parser.add_argument(
            f"--{name}", type=float, nargs="+", metavar=name[0].upper(),
            help=f"the {what} (default {listed})",
        )  # fmt: skip
    parser.add_argument(
        "--steps", type=whole_number, help=f"Adam steps per run (default {defaults.steps})"
    )
    parser.add_argument(
        "--lr", "--learning-rate", dest="learning_rate", type=float,
        help=f"Adam's learning rate (default {defaults.learning_rate})",
    )  # fmt: skip
    add_common_options(parser)
    parser.set_defaults(handler=cmd_length, subparser=parser)


def cmd_length(args: argparse.Namespace, parser: argparse.ArgumentParser) -> int:
    from lab.experiments.length import LengthConfig, length_experiment
    from lab.report.length import write_length_files

    given = {name: getattr(args, name) for name in ("biases", "betas", "steps", "learning_rate")}
    for name in ("biases", "betas"):
        given[name] = None if given[name] is None else tuple(given[name])
    config = build_config(LengthConfig, given, parser)

    def run():
        with single_cpu_thread():
            return length_experiment(config)

    runs = len(config.betas) * (2 * len(config.biases) - (config.biases[0] == 0))
    announce = f"π_ref warmed up; {runs} tabular runs (DPO and R-DPO), {config.steps} steps each"
    return run_and_write(args, parser, "length.json", announce, run, write_length_files)


# Every experiment, in the lecture's order: its name and the function that adds its subcommand.
EXPERIMENTS: dict[str, Callable] = {
    "why-dpo": _add_why_dpo_parser,
    "gradient": _add_gradient_parser,
    "logprobs": _add_logprobs_parser,
    "length": _add_length_parser,
}
