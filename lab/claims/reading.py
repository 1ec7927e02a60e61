"""What the claims share to read their TeX on the lab's numbers: bindings written with the TeX's
own symbols, the tables of a tabular world, and Evidence that joins the lab's figures with the
verdict on the TeX."""

from __future__ import annotations

import functools
import math
from collections.abc import Iterable

import torch

from lab.claims.evaluate import Check, EvaluationError, judge
from lab.claims.named import Binding, Named, Search, Table
from lab.claims.registry import Evidence
from lab.claims.tex import Node, TexError, symbol_name
from lab.worlds.tabular import World


@functools.cache
def _name(key: str) -> str:
    try:
        return symbol_name(key)
    except TexError:  # not a symbol: a binding's own key ("data", "mathbb E", "|y|")
        return key


def symbols(values: dict[str, object]) -> dict[str, object]:
    """``values`` keyed by the TeX of each symbol (r"\\pi^*", "Z", r"\\hat r_\\theta"), re-keyed by
    the canonical names the reader gives them; other keys stay as they are."""
    return {_name(tex): value for tex, value in values.items()}


def policy(values: torch.Tensor, *leading: str) -> Table:
    """π(y | x) from its table: dimensions (*leading, "x", "y"), called as π(y | x)."""
    return Table(Named(values, (*leading, "x", "y")), ("y", "x"))


def of_response(values: torch.Tensor, *leading: str) -> Table:
    """r(x, y) from its table: dimensions (*leading, "x", "y"), called as r(x, y)."""
    return Table(Named(values, (*leading, "x", "y")), ("x", "y"))


def of_prompt(values: torch.Tensor) -> Table:
    """Z(x), f(x): one value per prompt, called as Z(x)."""
    return Table(Named(values, ("x",)), ("x",))


def of_pair(values: torch.Tensor) -> Table:
    """p*(y_w ≻ y_l | x) or D(x, y_w, y_l): dimensions ("x", "y_w", "y_l")."""
    return Table(Named(values, ("x", "y_w", "y_l")), ("x", "y_w", "y_l"))


def preference(values: torch.Tensor, error: torch.Tensor | None = None) -> Table:
    """p*(y_w ≻ y_l | x) from a (prompts, responses, responses) table, called as written."""
    return Table(Named(values, ("x", "y_w", "y_l"), error), ("y_w", "y_l", "x"))


def world_binding(world: World, beta: float, values: dict[str, object], **settings) -> Binding:
    """A binding over a tabular world at ``beta``: the variables x, y, y_w, y_l, and β, π_ref and
    r bound to the world's; ``values`` adds (or replaces) symbols by their TeX."""
    base = {
        r"\beta": Named(torch.tensor(beta, dtype=torch.float64)),
        r"\pi_{\mathrm{ref}}": policy(world.pi_ref),
        "r": of_response(world.reward),
    }
    k = world.n_responses
    variables = symbols({"x": world.n_prompts, "y": k, "y_w": k, "y_l": k})
    label = settings.pop("label", f"β = {beta:g}")
    return Binding(variables, symbols({**base, **values}), label=label, **settings)


def search(candidate: torch.Tensor, probes: torch.Tensor) -> Search:
    """A max or argmax over policies: the lab's answer, and a (probe, x, y) stack to beat."""
    return Search(policy(candidate), policy(probes, "probe"))


def random_policies(world: World, count: int, generator: torch.Generator, spread: float = 1.0):
    """``count`` random policies around π_ref. Shape: (count, prompts, responses)."""
    noise = torch.randn((count, *world.pi_ref.shape), generator=generator, dtype=torch.float64)
    return torch.softmax(world.pi_ref.log() + spread * noise, dim=-1)


def tex_evidence(reading: Node, bindings: Iterable[Binding]) -> Evidence:
    """The claim's TeX evaluated with each binding: every relation it states must hold. An
    equation the lab cannot evaluate (a symbol it does not bind …) does not hold. The figure is
    the closest call over all relations (``Check``): its residual, held to its allowance."""
    checks: list[Check] = []
    try:
        for binding in bindings:
            checks += judge(reading, binding)
    except (EvaluationError, ValueError, IndexError, RuntimeError) as error:
        return Evidence(
            {"tex_holds": 0.0}, math.nan, False, note=f"the TeX does not evaluate: {error}"
        )
    failed = [check for check in checks if not check.passed]
    closest = max(checks, key=lambda check: check.share, default=None)
    residual, allowance = (closest.residual, closest.allowance) if closest else (math.nan, 0.0)
    note = (
        "TeX holds"
        if not failed
        else "TeX fails: " + "; ".join(f"{c.what} off by {c.residual:.3g}" for c in failed[:3])
    )
    return Evidence(
        {"tex_residual": residual, "tex_relations_checked": float(len(checks))},
        allowance,
        bool(checks) and not failed,
        note=note,
        bounds={"tex_residual": allowance},
    )


def joined(first: Evidence, second: Evidence) -> Evidence:
    """Two pieces of evidence as one (usually the lab's figures and the TeX's verdict): both must
    pass; the first's headline and tolerance lead, every bound is kept."""
    notes = "; ".join(note for note in (first.note, second.note) if note)
    return Evidence(
        {**first.measured, **second.measured},
        first.tolerance,
        first.passed and second.passed,
        note=notes,
        bounds={**first.bounds, **second.bounds},
    )
