"""``dpo-lab experiment NAME``: the experiments behind the chapters beyond the five steps.

    dpo-lab experiment gradient [--beta B] [--steps S] [--lr LR] [--n-pairs N] [--seed K]
                                [--out renders] [--json]
    dpo-lab experiment logprobs [--prompt X] [--chosen Y] [--rejected Y] [--steps S]
                                [--warmup-steps W] [--out renders] [--json]
    dpo-lab experiment why-dpo [--vocab V] [--max-tokens L] [--out renders] [--json]
    dpo-lab experiment beta-sweep [--betas B1,B2,…] [--n-pairs N] [--seed K] [--steps S] [--lr LR]
                                  [--out renders] [--json]
    dpo-lab experiment no-exploration [--beta B] [--n-pairs N] [--seed K] [--steps S] [--lr LR]
                                      [--online-steps S] [--group-size G]
                                      [--online-learning-rate LR]
                                      [--out renders] [--json]
    dpo-lab experiment unseen-mass [--n-pairs N] [--seed K] [--steps S] [--more M]
                                   [--out renders] [--json]
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
from collections.abc import Callable

from lab.cli import limits
from lab.cli.experiment_runs import add_common_options, run_and_write
from lab.cli.options import build_config, whole_number
from lab.training.devices import single_cpu_thread


def add_experiment_parser(subcommands) -> None:
    parser = subcommands.add_parser(
        "experiment", help="run an experiment of the chapters beyond the five steps, into --out"
    )
    names = parser.add_subparsers(dest="experiment", required=True, metavar="NAME")
    for add_parser in EXPERIMENTS.values():
        add_parser(names)


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


# Every experiment, in the lecture's order: its name and the function that adds its subcommand.
EXPERIMENTS: dict[str, Callable] = {
    "why-dpo": _add_why_dpo_parser,
    "gradient": _add_gradient_parser,
    "logprobs": _add_logprobs_parser,
    "beta-sweep": limits.add_beta_sweep_parser,
    "length": limits.add_length_parser,
    "unseen-mass": limits.add_unseen_mass_parser,
    "no-exploration": limits.add_no_exploration_parser,
}
