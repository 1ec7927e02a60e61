"""``dpo-lab``: the lab's command line.

    dpo-lab verify [--step N] [--json]          run every claim's check and refutation
    dpo-lab verify --mutants [--step N]         verify each claim with wrong TeX: must fail
    dpo-lab train --policy tabular [--json]     DPO and the RLHF pipeline on a toy world, vs π*
    dpo-lab train --policy transformer [--json] DPO on a tiny transformer, vs π* over every response
    dpo-lab plots [--out renders]               the tabular runs, figures and report, as files

The trainers' options come from their config dataclasses (``TabularConfig``, ``TransformerConfig``):
one option per field, its help text from the field. Exit status: 0 when every selected claim
passed and was refuted (verify) or the runs finished (train, plots), 1 when a claim did not hold,
2 for bad usage.
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import shlex
import sys
import types
import typing
from pathlib import Path

from lab.training.devices import single_cpu_thread
from lab.training.tabular import TabularConfig
from lab.training.transformer import TransformerConfig

CONFIGS = {"tabular": TabularConfig, "transformer": TransformerConfig}
ALIASES = {"learning_rate": ("--lr",)}
# Run options whose defaults differ by policy (a tabular run takes a second, a transformer one
# half a minute).
SAMPLE_SIZES = {"tabular": [500, 5000, 50000], "transformer": [1000, 10000, 100000]}
SEEDS = {"tabular": [0, 1, 2, 3, 4], "transformer": [0]}


# ---- options from the config dataclasses -------------------------------------------------------


def _option_fields(config: type) -> dict[str, dataclasses.Field]:
    """The fields of ``config`` that are command-line options: those with help text."""
    return {f.name: f for f in dataclasses.fields(config) if "help" in f.metadata}


def _option_type(config: type, name: str) -> type:
    hint = typing.get_type_hints(config)[name]
    if isinstance(hint, types.UnionType):  # float | None → float
        hint = next(arg for arg in typing.get_args(hint) if arg is not type(None))
    return hint


def _add_config_options(parser: argparse.ArgumentParser, policies: tuple[str, ...]) -> None:
    """One option per config field; a field that only some policies have goes into a group
    named after them. The help text gives each policy's default."""
    names: dict[str, list[str]] = {}
    for policy in policies:
        for name in _option_fields(CONFIGS[policy]):
            names.setdefault(name, []).append(policy)
    groups: dict[tuple[str, ...], argparse._ActionsContainer] = {}
    for name, owners in names.items():
        container = parser
        if len(owners) < len(policies):
            title = "--policy " + " and ".join(owners) + " only"
            container = groups.setdefault(tuple(owners), parser.add_argument_group(title))
        field = _option_fields(CONFIGS[owners[0]])[name]
        defaults = {policy: _default(CONFIGS[policy], name) for policy in owners}
        if len(policies) == 1 or len(set(defaults.values())) == 1:
            default = next(iter(defaults.values()))
        else:
            default = ", ".join(f"{policy} {value}" for policy, value in defaults.items())
        container.add_argument(
            f"--{name.replace('_', '-')}",
            *ALIASES.get(name, ()),
            dest=name,
            type=_option_type(CONFIGS[owners[0]], name),
            choices=field.metadata.get("choices"),
            help=f"{field.metadata['help']} (default: {default})",
        )


def _default(config: type, name: str) -> object:
    """A field's default as its help shows it; a None default is said in words (metadata)."""
    field = _option_fields(config)[name]
    return field.metadata.get("default", field.default)


def config_from_args(policy: str, args: argparse.Namespace, parser) -> object:
    """The policy's config with the options given on the command line; others keep their
    defaults. A value the config refuses is a usage error naming it (exit 2)."""
    config = CONFIGS[policy]
    given = {name: getattr(args, name) for name in _option_fields(config)}
    try:
        return config(**{name: value for name, value in given.items() if value is not None})
    except ValueError as error:  # "steps must be …" → "--steps must be …"
        name, _, rest = str(error).partition(" ")
        flag = f"--{name.replace('_', '-')}" if name in given else name
        parser.error(f"{flag} {rest}")


def _refuse_foreign_options(policy: str, args: argparse.Namespace, parser) -> None:
    """Options of the other policy's config are an error, not silently ignored."""
    own = _option_fields(CONFIGS[policy])
    foreign = {n for c in CONFIGS.values() for n in _option_fields(c)} - set(own)
    given = sorted(f"--{n.replace('_', '-')}" for n in foreign if getattr(args, n) is not None)
    if given:
        parser.error(f"{', '.join(given)}: only with --policy {_other(policy)}")


def _other(policy: str) -> str:
    return next(p for p in CONFIGS if p != policy)


# ---- commands ------------------------------------------------------------------------------------


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


def _tabular_experiment(args: argparse.Namespace, parser: argparse.ArgumentParser):
    """Run the tabular experiment the options ask for; bad values are usage errors (exit 2)."""
    from lab.training.runs import tabular_experiment
    from lab.worlds.tabular import default_world, random_world

    config = config_from_args("tabular", args, parser)
    mode = args.mode or "both"
    try:
        world = (
            default_world()
            if args.world == "default"
            else random_world(args.prompts, args.responses, args.world_seed)
        )
        with single_cpu_thread():
            return tabular_experiment(
                world,
                config,
                sample_sizes=tuple(args.n_pairs or SAMPLE_SIZES["tabular"])
                if mode != "population"
                else (),
                seeds=tuple(args.seeds or SEEDS["tabular"]),
                population=mode != "samples",
            )
    except ValueError as error:
        parser.error(str(error))


def _command_line(args: argparse.Namespace) -> str:
    return "dpo-lab " + shlex.join(sys.argv[1:] if args.argv is None else args.argv)


def cmd_train(args: argparse.Namespace, parser: argparse.ArgumentParser) -> int:
    _refuse_foreign_options(args.policy, args, parser)
    if any(n < 1 for n in args.n_pairs or ()):
        parser.error("every --n-pairs must be ≥ 1")
    if args.policy == "transformer":
        return _train_transformer(args, parser)
    if args.data is not None:
        parser.error("--data: only with --policy transformer")
    from lab.report.training import runs_text, tabular_json

    experiment = _tabular_experiment(args, parser)
    if args.json:
        print(
            json.dumps(tabular_json(experiment, _command_line(args)), indent=2, ensure_ascii=False)
        )
    else:
        print(runs_text(experiment.reports))
    if args.plots is not None:
        from lab.report.figures import write_tabular_figures

        for path in write_tabular_figures(experiment, Path(args.plots)):
            print(f"wrote {path}", file=sys.stderr)
    return 0


def _train_transformer(args: argparse.Namespace, parser: argparse.ArgumentParser) -> int:
    """``dpo-lab train --policy transformer``. A bad preference file is a usage error too (its
    message names the file, each line and the problem)."""
    from lab.report.figures import write_transformer_figures
    from lab.report.training import runs_text, transformer_header, transformer_json
    from lab.training.transformer_runs import transformer_experiment

    if args.world != "default":
        parser.error("--policy transformer trains on its own token world: drop --world")
    if args.data is not None and (args.mode or args.n_pairs):
        parser.error("--data is its own data: drop --mode and --n-pairs")
    config = config_from_args("transformer", args, parser)
    mode = args.mode or ("both" if args.n_pairs else "population")
    sample_sizes = args.n_pairs or SAMPLE_SIZES["transformer"]
    try:
        experiment = transformer_experiment(
            config,
            population=mode != "samples",
            sample_sizes=tuple(sample_sizes) if mode != "population" else (),
            seeds=tuple(args.seeds or SEEDS["transformer"]),
            data=args.data,
        )
    except (ValueError, OSError) as error:  # PreferenceDataError is a ValueError
        parser.error(str(error))
    if args.plots is not None:
        write_transformer_figures(experiment, Path(args.plots))
    if args.json:
        report = transformer_json(experiment, _command_line(args))
        print(json.dumps(report, indent=2, ensure_ascii=False))
    else:
        print(runs_text(experiment.reports, transformer_header(experiment)))
        figures = [r.figure for r in experiment.reports if r.figure]
        if figures:
            print("figures (PNG and SVG): " + ", ".join(figures))
    return 0


def cmd_plots(args: argparse.Namespace, parser: argparse.ArgumentParser) -> int:
    """The standard tabular runs, written as files: figures/, training.json and lab_report.md."""
    from lab.files import write_text_atomically
    from lab.report.figures import write_tabular_figures
    from lab.report.training import tabular_json, tabular_markdown

    experiment = _tabular_experiment(args, parser)
    out = Path(args.out)
    command = _command_line(args)
    figures = write_tabular_figures(experiment, out / "figures")
    write_text_atomically(
        out / "training.json",
        json.dumps(tabular_json(experiment, command), indent=2, ensure_ascii=False) + "\n",
    )
    pngs = [str(p.relative_to(out)) for p in figures if p.suffix == ".png"]
    write_text_atomically(out / "lab_report.md", tabular_markdown(experiment, command, pngs))
    for path in [*figures, out / "training.json", out / "lab_report.md"]:
        print(f"wrote {path}")
    return 0


# ---- the parser ----------------------------------------------------------------------------------


def _add_run_options(parser: argparse.ArgumentParser, policies: tuple[str, ...]) -> None:
    """What to train on, and how many runs: not settings of a trainer."""

    def defaults(table: dict[str, list[int]]) -> str:
        if len(policies) == 1:
            return str(table[policies[0]])
        return ", ".join(f"{policy} {table[policy]}" for policy in policies)

    parser.add_argument(
        "--world",
        choices=("default", "random"),
        default="default",
        help="the 'What is 2 + 2?' world, or a seeded random one (tabular)",
    )
    parser.add_argument("--prompts", type=int, default=4, help="random world: prompts")
    parser.add_argument("--responses", type=int, default=6, help="random world: responses")
    parser.add_argument("--world-seed", type=int, default=0, help="random world: seed")
    parser.add_argument(
        "--mode",
        choices=("population", "samples", "both"),
        help="train on the exact pair distribution, on sampled pairs, or both (default: both"
        + (
            "; for transformer, population, or both when --n-pairs is given)"
            if len(policies) > 1
            else ")"
        ),
    )
    parser.add_argument(
        "--n-pairs",
        type=int,
        nargs="+",
        metavar="N",
        help=f"sample sizes for samples mode (default: {defaults(SAMPLE_SIZES)})",
    )
    parser.add_argument(
        "--seeds",
        type=int,
        nargs="+",
        help=f"one run per seed and sample size (default: {defaults(SEEDS)})",
    )


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="dpo-lab", description="The DPO lab: every step of the derivation, in numbers."
    )
    commands = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    verify = commands.add_parser(
        "verify", help="run every claim's check and refutation and print a table"
    )
    verify.add_argument("--step", type=int, help="only the claims of this step")
    verify.add_argument("--json", action="store_true", help="print a JSON array instead of a table")
    mutants_help = "verify each claim with its TeX mutated; list the mutants that pass"
    verify.add_argument("--mutants", action="store_true", help=mutants_help)
    verify.set_defaults(handler=cmd_verify, subparser=verify)

    train = commands.add_parser(
        "train", help="train DPO (tabular: and the RLHF pipeline) on a toy world; compare with π*"
    )
    train.add_argument("--policy", choices=tuple(CONFIGS), default="tabular")
    _add_run_options(train, tuple(CONFIGS))
    _add_config_options(train, tuple(CONFIGS))
    train.add_argument(
        "--data", type=Path, help="train on a JSONL file of {prompt, chosen, rejected} rows"
    )
    train.add_argument("--json", action="store_true", help="print JSON instead of a table")
    train.add_argument("--plots", metavar="DIR", help="also write the figures (PNG, SVG) to DIR")
    train.set_defaults(handler=cmd_train, subparser=train)

    plots = commands.add_parser(
        "plots", help="run the tabular training and write figures/, training.json, lab_report.md"
    )
    _add_run_options(plots, ("tabular",))
    _add_config_options(plots, ("tabular",))
    plots.add_argument("--out", default="renders", help="output folder (default: renders)")
    plots.set_defaults(handler=cmd_plots, subparser=plots)
    return parser


def main(argv: list[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    args.argv = argv  # for the command line recorded in reports
    return args.handler(args, args.subparser)


if __name__ == "__main__":
    sys.exit(main())
