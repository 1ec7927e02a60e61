"""``dpo-lab``: the lab's command line.

    dpo-lab verify [--step N] [--json]   run every claim's check and refutation
    dpo-lab train --policy transformer   DPO on a tiny transformer, compared with π* (--help)

Exit status: 0 when every selected claim passed and was refuted, 1 when any was not,
2 for bad usage.
"""

from __future__ import annotations

import argparse
import json
import sys

from lab.claims import STEP_TITLES, Verdict, all_claims, steps_with_claims, verify_all

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


def cmd_verify(args: argparse.Namespace, parser: argparse.ArgumentParser) -> int:
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
    add_train_command(commands)
    return parser


def add_train_command(commands) -> None:
    """``dpo-lab train``: the transformer run lives in lab/train_transformer.py."""
    from lab import train_transformer

    train = commands.add_parser("train", help="train a policy with DPO and compare it with π*")
    train.add_argument("--policy", choices=["transformer"], required=True, help="what to train")
    train_transformer.add_arguments(train)
    train.set_defaults(handler=train_transformer.main_from_args, subparser=train)


def main(argv: list[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    return args.handler(args, args.subparser)


if __name__ == "__main__":
    sys.exit(main())
