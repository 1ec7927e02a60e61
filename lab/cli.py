"""``dpo-lab``: the lab's command line.

    dpo-lab verify [--step N] [--json]          run every claim's check and refutation
    dpo-lab train --policy tabular [--json]     DPO and the RLHF pipeline on a toy world, vs π*
    dpo-lab train --policy transformer [--json] DPO on a tiny transformer, vs π* over every response
    dpo-lab plots [--out renders]               the training runs, figures and report, as files

Exit status: 0 when every selected claim passed and was refuted (verify) or the runs finished
(train, plots), 1 when a claim did not hold, 2 for bad usage.
"""

from __future__ import annotations

import argparse
import json
import shlex
import sys
from pathlib import Path

import torch

from lab.claims import STEP_TITLES, Verdict, all_claims, steps_with_claims, verify_all
from lab.files import write_text_atomically

USAGE_ERROR = 2


def _mark(ok: bool) -> str:
    return "✓" if ok else "✗"


def _figure(value: float) -> str:
    if value != value or abs(value) in (0.0, float("inf")) or 1e-3 <= abs(value) < 1e4:
        return f"{value:.4g}"
    return f"{value:.2e}"


def _shorten(text: str, width: int) -> str:
    return text if len(text) <= width else text[: width - 1] + "…"


def format_table(verdicts: list[Verdict]) -> str:
    """One row per claim: id, step, says, headline figure, tolerance, check ✓/✗, refuted ✓/✗."""
    header = ("id", "step", "says", "measured", "tolerance", "check", "refuted")
    rows = []
    for v in verdicts:
        headline = v.check.headline
        measured = f"{headline[0]}={_figure(headline[1])}" if headline else v.check.note[:40]
        rows.append(
            (
                v.claim.id,
                str(v.claim.step),
                _shorten(v.claim.says, 60),
                measured,
                _figure(v.check.tolerance),
                _mark(v.passed),
                _mark(v.refuted),
            )
        )
    widths = [max(len(r[i]) for r in [header, *rows]) for i in range(len(header))]
    lines = [
        "  ".join(cell.ljust(w) for cell, w in zip(row, widths, strict=True)).rstrip()
        for row in [header, *rows]
    ]
    lines.insert(1, "  ".join("-" * w for w in widths))
    held = sum(v.ok for v in verdicts)
    lines.append("")
    lines.append(f"{held} of {len(verdicts)} claims hold (check passed and refutation failed).")
    for v in verdicts:
        if not v.passed:
            lines.append(f"✗ {v.claim.id}: the check failed. {v.check.note}".rstrip())
        if not v.refuted:
            lines.append(
                f"✗ {v.claim.id}: the refutation passed, so this check cannot tell right from "
                f"wrong. {v.refutation.note}".rstrip()
            )
    return "\n".join(lines)


def _single_threaded() -> None:
    """The claims and the tabular runs use tiny tensors: extra threads cost more in synchronisation
    than they save, and on a shared 2-core machine they made `verify` several times slower."""
    torch.set_num_threads(1)


def cmd_verify(args: argparse.Namespace, parser: argparse.ArgumentParser) -> int:
    _single_threaded()
    claims = all_claims()
    if args.step is not None:
        valid = steps_with_claims()
        if args.step not in valid:
            known = ", ".join(f"{s} ({STEP_TITLES[s]})" for s in valid)
            parser.error(f"no claims for step {args.step}; steps with claims: {known}")
        claims = [c for c in claims if c.step == args.step]
    verdicts = verify_all(claims)
    if args.json:
        print(json.dumps([v.as_dict() for v in verdicts], indent=2, ensure_ascii=False))
    else:
        print(format_table(verdicts))
    return 0 if all(v.ok for v in verdicts) else 1


def _experiment(args: argparse.Namespace, parser: argparse.ArgumentParser):
    """Run what the training options ask for; bad values are usage errors (exit 2)."""
    from lab.train import DEFAULT_LR, DEFAULT_STEPS, run_experiments
    from lab.world import default_world, random_world

    args.steps = DEFAULT_STEPS if args.steps is None else args.steps
    args.lr = DEFAULT_LR if args.lr is None else args.lr
    args.n_pairs = TABULAR_SAMPLE_SIZES if args.n_pairs is None else args.n_pairs
    args.seeds = TABULAR_SEEDS if args.seeds is None else args.seeds
    args.mode = args.mode or "both"
    if args.steps < 1 or any(n < 1 for n in args.n_pairs):
        parser.error("--steps and every --n-pairs must be ≥ 1")
    try:
        world = (
            default_world()
            if args.world == "default"
            else random_world(args.prompts, args.responses, args.world_seed)
        )
        return run_experiments(
            world,
            sample_sizes=tuple(args.n_pairs) if args.mode != "population" else (),
            seeds=tuple(args.seeds),
            population=args.mode != "samples",
            beta=args.beta,
            steps=args.steps,
            lr=args.lr,
            device=args.device,
            progress=None,  # a bar on stderr when it is a terminal
        )
    except ValueError as error:
        parser.error(str(error))


def _training_json(experiment, command: str) -> dict:
    from lab.report import summarise

    world = experiment.world
    return {
        "command": command,
        "world": {"prompts": list(world.prompts), "responses": [list(r) for r in world.responses]},
        "beta": experiment.beta,
        "summary": summarise(experiment.reports),
        "runs": [r.as_dict() for r in experiment.reports],
    }


def cmd_train(args: argparse.Namespace, parser: argparse.ArgumentParser) -> int:
    command = "dpo-lab " + shlex.join(sys.argv[1:] if args.argv is None else args.argv)
    if args.policy == "transformer":
        from lab import train_transformer

        return train_transformer.main(args, parser, command)
    transformer_only = [
        option
        for option, value, default in (
            ("--data", args.data, None),
            ("--pairs-from", args.pairs_from, None),
            ("--warmup-steps", args.warmup_steps, None),
            ("--batch-pairs", args.batch_pairs, None),
        )
        if value != default
    ]
    if transformer_only:
        parser.error(f"{', '.join(transformer_only)}: only with --policy transformer")

    from lab.report import format_table

    _single_threaded()
    experiment = _experiment(args, parser)
    if args.json:
        print(json.dumps(_training_json(experiment, command), indent=2, ensure_ascii=False))
    else:
        print(format_table(experiment.reports))
    if args.plots is not None:
        from lab.plots import write_figures

        for path in write_figures(experiment, Path(args.plots)):
            print(f"wrote {path}", file=sys.stderr)
    return 0


def cmd_plots(args: argparse.Namespace, parser: argparse.ArgumentParser) -> int:
    """The standard runs, written as files: figures/, training.json and lab_report.md."""
    from lab.plots import write_figures
    from lab.report import markdown_report

    _single_threaded()
    experiment = _experiment(args, parser)
    out = Path(args.out)
    command = "dpo-lab " + shlex.join(sys.argv[1:] if args.argv is None else args.argv)
    figures = write_figures(experiment, out / "figures")
    write_text_atomically(
        out / "training.json",
        json.dumps(_training_json(experiment, command), indent=2, ensure_ascii=False) + "\n",
    )
    pngs = [str(p.relative_to(out)) for p in figures if p.suffix == ".png"]
    write_text_atomically(out / "lab_report.md", markdown_report(experiment, command, pngs))
    for path in [*figures, out / "training.json", out / "lab_report.md"]:
        print(f"wrote {path}")
    return 0


# The defaults that differ between the policies are None here and resolved by each policy: a
# tabular run takes a second, a transformer run half a minute.
TABULAR_SAMPLE_SIZES = [500, 5000, 50000]
TABULAR_SEEDS = [0, 1, 2, 3, 4]


def _add_training_options(parser: argparse.ArgumentParser) -> None:
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
        "--beta", type=float, help="KL strength β (default: the world's; transformer 0.5)"
    )
    parser.add_argument(
        "--mode",
        choices=("population", "samples", "both"),
        help="train on the exact pair distribution, on sampled pairs, or both (default: both "
        "for tabular; for transformer, population, or both when --n-pairs is given)",
    )
    parser.add_argument(
        "--n-pairs",
        type=int,
        nargs="+",
        metavar="N",
        help=f"sample sizes for samples mode (default: tabular {TABULAR_SAMPLE_SIZES}, "
        "transformer [1000, 10000, 100000])",
    )
    parser.add_argument(
        "--seeds",
        type=int,
        nargs="+",
        help=f"one run per seed and sample size (default: tabular {TABULAR_SEEDS}, "
        "transformer [0])",
    )
    parser.add_argument(
        "--steps", type=int, help="Adam steps per run (default: tabular 1000, transformer 800)"
    )
    parser.add_argument(
        "--lr", type=float, help="Adam's learning rate (default: tabular 0.1, transformer 3e-3)"
    )
    parser.add_argument("--device", help="cpu or cuda (default: cuda when present)")


def _add_transformer_options(parser: argparse.ArgumentParser) -> None:
    group = parser.add_argument_group("--policy transformer only")
    group.add_argument(
        "--data", type=Path, help="train on a JSONL file of {prompt, chosen, rejected} rows"
    )
    group.add_argument(
        "--pairs-from",
        choices=("uniform", "reference"),
        help="draw a pair's two responses uniformly from every response (default) or from π_ref",
    )
    group.add_argument("--warmup-steps", type=int, help="supervised steps that make π_ref")
    group.add_argument("--batch-pairs", type=int, help="pairs per step (default: all of them)")


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
    verify.set_defaults(handler=cmd_verify, subparser=verify)

    train = commands.add_parser(
        "train", help="train DPO (tabular: and the RLHF pipeline) on a toy world; compare with π*"
    )
    train.add_argument("--policy", choices=("tabular", "transformer"), default="tabular")
    _add_training_options(train)
    _add_transformer_options(train)
    train.add_argument("--json", action="store_true", help="print JSON instead of a table")
    train.add_argument("--plots", metavar="DIR", help="also write the figures (PNG, SVG) to DIR")
    train.set_defaults(handler=cmd_train, subparser=train)

    plots = commands.add_parser(
        "plots", help="run the training and write figures/, training.json and lab_report.md"
    )
    _add_training_options(plots)
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
