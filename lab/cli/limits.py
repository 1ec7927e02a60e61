"""``dpo-lab experiment`` subcommands of the chapter "β in practice and where DPO breaks":
beta-sweep, length, unseen-mass and no-exploration (``lab.experiments``)."""

from __future__ import annotations

import argparse
import dataclasses

from lab.cli.experiment_runs import (
    add_common_options,
    add_config_options,
    run_and_write,
)
from lab.cli.options import build_config, whole_number
from lab.training.devices import single_cpu_thread


def add_beta_sweep_parser(names) -> None:
    from lab.experiments.beta_sweep import BetaSweepConfig

    parser = names.add_parser(
        "beta-sweep", help="DPO trained at each β on the same pairs, against the closed form"
    )
    add_config_options(parser, BetaSweepConfig(), {
        "betas": (float, "the β values, increasing"),
        "n_pairs": (whole_number, "pairs drawn from π_ref, the same for every β"),
        "seed": (whole_number, "draws the pairs and labels"),
        "steps": (whole_number, "gradient-descent steps per β"),
        "learning_rate": (float, "the step on the implicit reward β·θ"),
    })  # fmt: skip
    add_common_options(parser)
    parser.set_defaults(handler=cmd_beta_sweep, subparser=parser)


def cmd_beta_sweep(args: argparse.Namespace, parser: argparse.ArgumentParser) -> int:
    from lab.experiments.beta_sweep import BetaSweepConfig, beta_sweep_experiment
    from lab.report.beta_sweep import write_beta_sweep_files

    names = [field.name for field in dataclasses.fields(BetaSweepConfig)]
    given = {n: getattr(args, n) for n in names}
    given["betas"] = None if args.betas is None else tuple(args.betas)
    config = build_config(BetaSweepConfig, given, parser)

    def run():
        with single_cpu_thread():
            return beta_sweep_experiment(config)

    announce = f"DPO at {len(config.betas)} values of β, {config.steps} steps each"
    return run_and_write(args, parser, "beta_sweep.json", announce, run, write_beta_sweep_files)


def add_no_exploration_parser(names) -> None:
    from lab.experiments.no_exploration import NoExplorationConfig

    parser = names.add_parser(
        "no-exploration", help="a best response in no pair: DPO against an online method"
    )
    add_config_options(parser, NoExplorationConfig(), {
        "beta": (float, "the KL strength β of both methods"),
        "n_pairs": (whole_number, "pairs drawn from π_ref without the best response"),
        "seed": (whole_number, "draws the pairs, labels and online samples"),
        "steps": (whole_number, "DPO's gradient-descent steps"),
        "learning_rate": (float, "DPO's step on the implicit reward β·θ"),
        "online_steps": (whole_number, "the online method's steps"),
        "group_size": (whole_number, "responses it samples per step"),
        "online_learning_rate": (float, "its Adam learning rate"),
    })  # fmt: skip
    add_common_options(parser)
    parser.set_defaults(handler=cmd_no_exploration, subparser=parser)


def cmd_no_exploration(args: argparse.Namespace, parser: argparse.ArgumentParser) -> int:
    from lab.experiments.no_exploration import NoExplorationConfig, no_exploration_experiment
    from lab.report.no_exploration import write_no_exploration_files

    names = [field.name for field in dataclasses.fields(NoExplorationConfig)]
    config = build_config(NoExplorationConfig, {n: getattr(args, n) for n in names}, parser)

    def run():
        with single_cpu_thread():
            return no_exploration_experiment(config)

    announce = "DPO on pairs without the best response, and the online method"
    return run_and_write(
        args, parser, "no_exploration.json", announce, run, write_no_exploration_files
    )


def add_unseen_mass_parser(names) -> None:
    from lab.experiments.unseen_mass import UnseenMassConfig

    defaults = UnseenMassConfig()
    parser = names.add_parser(
        "unseen-mass",
        help="mass on responses no pair compared, and the chosen log-prob falling (tiny GPT-2)",
    )
    for name, what in (
        ("n_pairs", "N, pairs drawn from π_ref (and uniformly, for the broader proposal)"),
        ("seed", "draws the pairs and their labels"),
        ("steps", "Adam steps per transformer run"),
        ("more", "the more-pairs fix draws this many times N pairs from π_ref"),
    ):
        parser.add_argument(
            "--" + name.replace("_", "-"),
            type=whole_number,
            help=f"{what} (default {getattr(defaults, name)})",
        )
    add_common_options(parser)
    parser.set_defaults(handler=cmd_unseen_mass, subparser=parser)


def cmd_unseen_mass(args: argparse.Namespace, parser: argparse.ArgumentParser) -> int:
    from lab.experiments.unseen_mass import UnseenMassConfig, unseen_mass_experiment
    from lab.report.unseen_mass import write_unseen_mass_files

    given = {name: getattr(args, name) for name in ("n_pairs", "seed", "steps", "more")}
    config = build_config(UnseenMassConfig, given, parser)

    def run():
        with single_cpu_thread():  # small tensors: a second thread only waits for the first
            return unseen_mass_experiment(config)

    return run_and_write(
        args, parser, "unseen_mass.json",
        f"π_ref warmed up; four DPO runs of {config.steps} Adam steps and the tabular one …",
        run, write_unseen_mass_files,
    )  # fmt: skip


def add_length_parser(names) -> None:
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
