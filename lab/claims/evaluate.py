"""Evaluating a claim's TeX on the lab's numbers: the equation on screen is the thing checked.

``judge(tree, binding)`` reads the tree of a claim's TeX (``lab.claims.tex``) with the symbols
bound to the lab's values (``lab.claims.named.Binding``) and returns one ``Check`` per relation it
states. Symbols the lab computes (π*, Z(x), L_DPO …) are bound to the lab's results; everything
else is mathematics, done here: sums, expectations, KL, σ, log, gradients (autograd), limits.
A free variable ranges over its whole domain, so "π*(y | x) = …" must hold for every x and y.

How statements are read:
    a = b ≥ c           each neighbouring pair compared; "=" within the binding's tolerance
    β → ∞: S            S judged with β at the binding's stand-in for ∞ ("→" within the limit
                        tolerance; a quantity over training steps must have settled)
    π_θ = π_ref ⇒ S     π_θ left free by the binding: assumed, S judged with π_θ replaced by π_ref
                        (and all that derives from it); bound by the lab: the premise is checked
    r + f(x) ⇒ the same π*     π* recomputed with r replaced by r + f(x) must not move
    3 × (a ≻ b), … ⇒ S  the binding's "data" function turns the pairs into values S is judged on
    max_π J(π)          the lab's maximiser must beat the binding's probe policies
"""

from __future__ import annotations

import torch

from lab.claims import tex as t
from lab.claims.expressions import (
    Check,
    EvaluationError,
    Values,
    aligned_values,
    closest_call,
    without,
)
from lab.claims.named import Binding, Named, Table, scalar

__all__ = ["Check", "EvaluationError", "compare", "judge", "value_of"]


def judge(tree: t.Node, binding: Binding) -> list[Check]:
    return _Evaluator(binding).judge(tree)


def value_of(node: t.Node, binding: Binding) -> Named:
    """The value of an expression of a claim's TeX (a side of its equation, the body of a max)."""
    return _Evaluator(binding).value(node)


def compare(op: str, left: Named, right: Named, binding: Binding) -> Check:
    """``left op right`` judged as a relation of the TeX is (op: "=", "ge", "le", "to")."""
    return _Evaluator(binding).compare(op, left, right)


class _Evaluator(Values):
    """Values, and the statements that compare them; each relation judged adds a Check."""

    def judge(self, node: t.Node) -> list[Check]:
        if isinstance(node, t.Statements):
            for item in node.items:
                self.judge(item)
        elif isinstance(node, t.Relation):
            self.relation(node)
        elif isinstance(node, t.Given):
            self.given(node)
        elif isinstance(node, t.Implies):
            self.implies(node)
        elif isinstance(node, t.Optimum) and node.kind in ("max", "min"):
            self.value(node)  # the value is what it is; the check is that it is the optimum
        else:
            raise EvaluationError(f"{type(node).__name__} is not a statement")
        return self.checks

    def relation(self, node: t.Relation) -> None:
        values = [None if isinstance(term, t.Infinity) else self.value(term) for term in node.terms]
        for op, left, right in zip(node.ops, values, values[1:], strict=False):
            if right is None and op == "to" and left is not None:
                self.checks.append(self.diverges(left))
            elif left is None or right is None:
                raise EvaluationError("∞ appears only as a limit: v → ∞")
            else:
                self.checks.append(self.compare(op, left, right))

    def diverges(self, value: Named) -> Check:
        """ "→ ∞" of a quantity over training steps: it grows as much over the last decade of steps
        (T/10 → T) as at least half of what it grew over the one before (T/100 → T/10). Growth
        like log t keeps its pace per decade; a quantity that approaches a bound slows ~10×."""
        if "step" not in value.dims or value.size("step") < 100:
            raise EvaluationError("→ ∞ needs a quantity over at least 100 training steps")
        axis, steps = value.dims.index("step"), value.size("step")
        early, middle, late = (
            value.values.select(axis, i) for i in (steps // 100, steps // 10, steps - 1)
        )
        late_growth, early_growth = late - middle, middle - early
        enough = (late_growth > self.binding.limit_tolerance) & (late_growth >= 0.5 * early_growth)
        residual = float((0.5 * early_growth - late_growth).clamp_min(0).max())
        return Check(f"→ ∞ ({self.binding.label})", bool(enough.all()), residual, 0.0)

    def compare(self, op: str, left: Named, right: Named) -> Check:
        b = self.binding
        dims, (a, c) = aligned_values(left, right)
        difference = (a - c).abs()
        if op == "=":
            allowance = (
                b.tolerance * (1 + c.abs()) if b.relative else torch.full_like(c, b.tolerance)
            )
            for estimate in (left, right):
                allowance = allowance + b.z * estimate.error_along(dims)
            passed = bool((difference <= allowance).all())
        elif op in ("ge", "le"):
            shortfall = (c - a) if op == "ge" else (a - c)
            passed = bool((shortfall <= b.tolerance).all())
            difference, allowance = shortfall.clamp_min(0), torch.full_like(c, b.tolerance)
        elif op == "to":
            passed, difference = self.limit(left, right)
            allowance = torch.full_like(difference, b.limit_tolerance)
        else:
            raise EvaluationError(f"unknown relation {op!r}")
        residual, bound = closest_call(difference, allowance)
        return Check(f"{op} ({b.label})" if b.label else op, passed, residual, bound)

    def limit(self, left: Named, right: Named) -> tuple[bool, torch.Tensor]:
        """ "→": equal within the limit tolerance; over training steps, the last step is the
        value, and it must have settled (moved no more than the tolerance over the last tenth)."""
        settled = True
        if "step" in left.dims:
            steps = left.size("step")
            last = Named(
                left.values.select(left.dims.index("step"), steps - 1), without(left.dims, "step")
            )
            before = Named(
                left.values.select(left.dims.index("step"), steps - 1 - steps // 10),
                without(left.dims, "step"),
            )
            _, (a, b) = aligned_values(last, before)
            settled = bool(((a - b).abs() <= self.binding.limit_tolerance).all())
            left = last
        _, (a, c) = aligned_values(left, right)
        difference = (a - c).abs()
        return settled and bool((difference <= self.binding.limit_tolerance).all()), difference

    def given(self, node: t.Given) -> None:
        condition = node.condition
        if not (isinstance(condition, t.Relation) and condition.ops == ("to",)):
            raise EvaluationError("a condition must be a limit, v → point")
        variable, point = condition.terms
        if not isinstance(variable, t.Sym):
            raise EvaluationError("a limit must be taken in a variable")
        key = "inf" if isinstance(point, t.Infinity) else str(self.value(point).values.item())
        if (variable.name, key) not in self.binding.limits:
            raise EvaluationError(f"no stand-in for {variable.name} → {key}")
        stand_in = scalar(self.binding.limits[(variable.name, key)])
        self.under({variable.name: stand_in}).judge(node.statement)

    def implies(self, node: t.Implies) -> None:
        if len(node.conclusions) == 1 and isinstance(node.conclusions[0], t.Same):
            self.same(node.premises, node.conclusions[0])
            return
        overrides: dict[str, object] = {}
        data = [p for p in node.premises if _is_data(p)]
        if data:
            if len(data) != len(node.premises):
                raise EvaluationError("premises mix data and equations")
            overrides = self.entry("data").apply([_data_item(p) for p in data])
        else:
            for premise in node.premises:
                if not (isinstance(premise, t.Relation) and premise.ops == ("=",)):
                    raise EvaluationError("a premise must be an equation or data")
                target, source = premise.terms
                if not isinstance(target, t.Sym):
                    raise EvaluationError("a premise sets a symbol: π_θ = …")
                if target.name in self.binding.values:  # the lab's own: a fact to check
                    self.relation(premise)
                else:  # left free: an assumption
                    overrides[target.name] = self.entry_or_value(source)
        evaluator = self.under(overrides)
        for conclusion in node.conclusions:
            evaluator.judge(conclusion)

    def same(self, premises: tuple[t.Node, ...], conclusion: t.Same) -> None:
        """ "E ⇒ the same S": E is the new value of the binding's subject (else of E's leading
        symbol); S must not move."""
        (premise,) = premises
        leading = self.binding.subject or _leading_symbol(premise)
        original = self.entry(leading)
        changed = self.value(premise)
        if isinstance(original, Table):
            changed = Table(
                Named(changed.to_dims(original.values.dims), original.values.dims), original.call
            )
        before = self.value(conclusion.target)
        after = self.under({leading: changed}).value(conclusion.target)
        self.checks.append(self.compare("=", after, before))


def _is_data(node: t.Node) -> bool:
    return isinstance(node, t.Binary) and node.op == "*" and isinstance(node.right, t.Prefer)


def _data_item(node: t.Binary) -> tuple[float, str, str]:
    """3 × (a ≻ b) → (3, "a", "b")."""
    count, preference = node.left, node.right
    if not (
        isinstance(count, t.Num)
        and isinstance(preference.winner, t.Sym)
        and isinstance(preference.loser, t.Sym)
    ):
        raise EvaluationError("data reads n × (a ≻ b)")
    return count.value, preference.winner.name, preference.loser.name


def _leading_symbol(node: t.Node) -> str:
    while isinstance(node, t.Binary | t.Neg):
        node = node.left if isinstance(node, t.Binary) else node.operand
    if isinstance(node, t.Call | t.Sym):
        return node.name
    raise EvaluationError("the premise must start with the symbol it changes")
