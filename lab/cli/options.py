"""The command line's options: one per field of the trainers' config dataclasses (help text from
the field), the run options (world, mode, sample sizes, seeds), and whole numbers read as
people write them (5000, 5e3)."""

from __future__ import annotations

import argparse
import dataclasses
import math
import types
import typing

from lab.training.tabular import TabularConfig
from lab.training.transformer import TransformerConfig

CONFIGS = {"tabular": TabularConfig, "transformer": TransformerConfig}
ALIASES = {"learning_rate": ("--lr",)}
# Run options whose defaults differ by policy (a tabular run takes a second, a transformer one
# half a minute).
SAMPLE_SIZES = {"tabular": [500, 5000, 50000], "transformer": [1000, 10000, 100000]}
SEEDS = {"tabular": [0, 1, 2, 3, 4], "transformer": [0]}
# The random world's options: given with any other world they would be silently ignored.
RANDOM_WORLD = {"prompts": 4, "responses": 6, "world_seed": 0}


def whole_number(text: str) -> int:
    """An argparse type: '5000', '5e3' or '5_000' → 5000; '1.5', 'inf' or 'many' → an error."""
    try:
        return int(text)
    except ValueError:
        pass
    try:
        value = float(text)
    except ValueError:
        value = math.nan
    if not math.isfinite(value) or value != int(value):
        raise argparse.ArgumentTypeError(f"{text!r} is not a whole number")
    return int(value)


def flag(name: str) -> str:
    """The option of a config field, as a message names it: '--steps', '--lr (--learning-rate)'."""
    option = f"--{name.replace('_', '-')}"
    aliases = ALIASES.get(name)
    return f"{aliases[0]} ({option})" if aliases else option


def _option_fields(config: type) -> dict[str, dataclasses.Field]:
    """The fields of ``config`` that are command-line options: those with help text."""
    return {f.name: f for f in dataclasses.fields(config) if "help" in f.metadata}


def _option_type(config: type, name: str) -> typing.Callable[[str], object]:
    hint = typing.get_type_hints(config)[name]
    if isinstance(hint, types.UnionType):  # float | None → float
        hint = next(arg for arg in typing.get_args(hint) if arg is not type(None))
    return whole_number if hint is int else hint


def add_config_options(parser: argparse.ArgumentParser, policies: tuple[str, ...]) -> None:
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
    return build_config(config, given, parser)


def build_config(config: type, given: dict[str, object], parser) -> object:
    """``config`` with the options in ``given`` that were set (not None). A value the config
    refuses is a usage error naming its option: "steps must be …" → "--steps must be …"."""
    try:
        return config(**{name: value for name, value in given.items() if value is not None})
    except ValueError as error:
        name, _, rest = str(error).partition(" ")
        parser.error(f"{flag(name) if name in given else name} {rest}")


def refuse_foreign_options(policy: str, args: argparse.Namespace, parser) -> None:
    """Options of the other policy's config are an error, not silently ignored."""
    own = _option_fields(CONFIGS[policy])
    foreign = {n for c in CONFIGS.values() for n in _option_fields(c)} - set(own)
    given = sorted(f"--{n.replace('_', '-')}" for n in foreign if getattr(args, n) is not None)
    if given:
        other = next(p for p in CONFIGS if p != policy)
        parser.error(f"{', '.join(given)}: only with --policy {other}")


def random_world_options(args: argparse.Namespace, parser) -> dict[str, int]:
    """--prompts, --responses and --world-seed, with their defaults: only with --world random."""
    given = [name for name in RANDOM_WORLD if getattr(args, name) is not None]
    if given and args.world != "random":
        names = ", ".join(f"--{name.replace('_', '-')}" for name in given)
        parser.error(f"{names}: only with --world random")
    values = {name: default if getattr(args, name) is None else getattr(args, name)
              for name, default in RANDOM_WORLD.items()}  # fmt: skip
    if values["prompts"] < 1 or values["responses"] < 2:
        parser.error(
            f"--prompts {values['prompts']} --responses {values['responses']}: a world needs "
            "≥ 1 prompt and ≥ 2 responses"
        )
    return values


def add_run_options(parser: argparse.ArgumentParser, policies: tuple[str, ...]) -> None:
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
    for name, what in (("prompts", "prompts"), ("responses", "responses"), ("world_seed", "seed")):
        parser.add_argument(
            f"--{name.replace('_', '-')}",
            type=whole_number,
            help=f"--world random only: its {what} (default: {RANDOM_WORLD[name]})",
        )
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
        type=whole_number,
        nargs="+",
        metavar="N",
        help=f"sample sizes for samples mode (default: {defaults(SAMPLE_SIZES)})",
    )
    parser.add_argument(
        "--seeds",
        type=whole_number,
        nargs="+",
        help=f"one run per seed and sample size (default: {defaults(SEEDS)})",
    )
