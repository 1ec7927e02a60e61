"""The value of an expression of a claim's TeX on the lab's numbers.

``Values`` turns a node of the tree (``lab.claims.tex``) into a ``Named`` tensor: symbols from the
binding (``lab.claims.named.Binding``), everything else computed here: sums and products over
their bounds, expectations, KL, σ, log and exp, gradients (autograd), optima. Statements (=, ≥,
→, ⇒) are judged in ``lab.claims.evaluate``.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import torch

from lab.claims import tex as t
from lab.claims.named import DTYPE, Binding, Function, Named, Search, Table, combine, scalar


class EvaluationError(ValueError):
    """The TeX reads but does not say something the binding can evaluate."""


@dataclass(frozen=True)
class Check:
    """One relation of the statement, judged: whether every element is within its allowance, and
    the closest call: the residual of the element nearest its allowance (the largest residual /
    allowance), and that allowance."""

    what: str
    passed: bool
    residual: float
    allowance: float

    @property
    def share(self) -> float:
        """residual / allowance: above 1 fails."""
        if self.residual == 0:
            return 0.0
        return self.residual / self.allowance if self.allowance > 0 else math.inf


def closest_call(difference: torch.Tensor, allowance: torch.Tensor) -> tuple[float, float]:
    """The (residual, allowance) of the element with the largest residual / allowance; elements
    with an infinite allowance are unconstrained and left out. (0, 0) when nothing is left."""
    difference, allowance = torch.broadcast_tensors(difference, allowance)
    constrained = torch.isfinite(allowance)
    difference, allowance = difference[constrained], allowance[constrained]
    if not difference.numel():
        return 0.0, 0.0
    share = torch.where(difference == 0, 0.0, difference / allowance)
    worst = int(share.argmax())
    return float(difference[worst]), float(allowance[worst])


_MATH = {"log": torch.log, "exp": torch.exp, "sigma": torch.sigmoid}


class Values:
    """The value of a node under a binding: one method per kind of node (``_sym``, ``_big`` …).
    ``checks`` collects what evaluating found on the way (an optimum that must beat probes)."""

    def __init__(self, binding: Binding, checks: list[Check] | None = None) -> None:
        self.binding = binding
        self.checks = [] if checks is None else checks

    def under(self, overrides: dict[str, object]) -> Values:
        return type(self)(self.binding.with_values(overrides), self.checks)

    def entry(self, name: str) -> object:
        try:
            return self.binding.lookup(name)
        except KeyError:
            raise EvaluationError(
                f"the claim's TeX names {name!r}, which the lab does not bind"
            ) from None

    def entry_or_value(self, node: t.Node) -> object:
        if isinstance(node, t.Sym):
            entry = self.entry(node.name)
            if isinstance(entry, Table):
                return entry
        return self.value(node)

    def value(self, node: t.Node) -> Named:
        method = getattr(self, f"_{type(node).__name__.lower()}", None)
        if method is None:
            raise EvaluationError(f"{type(node).__name__} has no value")
        return method(node)

    def _num(self, node: t.Num) -> Named:
        return scalar(node.value)

    def _sym(self, node: t.Sym) -> Named:
        entry = self.entry(node.name)
        if isinstance(entry, Table):
            return entry.canonical()
        if isinstance(entry, Named):
            return entry
        raise EvaluationError(f"{node.name!r} stands for something that has no value by itself")

    def _call(self, node: t.Call) -> Named:
        arguments = []
        for argument in (*node.args, *node.given):
            if isinstance(argument, t.Prefer):
                arguments += [self.value(argument.winner), self.value(argument.loser)]
            else:
                arguments.append(self.value(argument))
        if node.name in _MATH and node.name not in self.binding.values:
            (argument,) = arguments
            return combine(_MATH[node.name], argument)
        entry = self.entry(node.name)
        if isinstance(entry, Table):
            return entry(*arguments)
        if isinstance(entry, Function):
            return entry.apply(*arguments)
        raise EvaluationError(f"{node.name!r} is not a function")

    def _apply(self, node: t.Apply) -> Named:
        return combine(_MATH[node.function], self.value(node.argument))

    def _neg(self, node: t.Neg) -> Named:
        return combine(torch.neg, self.value(node.operand))

    def _binary(self, node: t.Binary) -> Named:
        operations = {
            "+": torch.add,
            "-": torch.sub,
            "*": torch.mul,
            "/": torch.div,
            "^": torch.pow,
        }
        return combine(operations[node.op], self.value(node.left), self.value(node.right))

    def _index(self, node: t.Index) -> Named:
        base = self.value(node.base)
        return Table(base, (base.dims[-1],))(self.value(node.index))

    def _length(self, node: t.Length) -> Named:
        if not isinstance(node.operand, t.Sym):
            raise EvaluationError("|…| is the length of a named sequence")
        return self._sym(t.Sym(node.span, f"|{node.operand.name}|"))

    def _big(self, node: t.Big) -> Named:
        domain = self.entry(node.domain.name) if isinstance(node.domain, t.Sym) else None
        given = isinstance(domain, Named) and not node.outside
        index = domain if given else self.entry(node.var)
        if not isinstance(index, Named):
            raise EvaluationError(f"{node.var!r} is not a variable to sum over")
        index = Named(index.values, (node.var,))
        inner = self.under({node.var: index})
        body = inner.value(node.body)
        inside = Named(torch.ones_like(index.values, dtype=torch.bool), (node.var,))
        if node.outside:
            inside = combine(torch.logical_and, inside, self.outside(node, domain, index))
        if node.lower is not None:
            inside = combine(
                torch.logical_and, inside, combine(torch.le, inner.value(node.lower), index)
            )
        if node.upper is not None:
            inside = combine(
                torch.logical_and, inside, combine(torch.le, index, inner.value(node.upper))
            )
        neutral = 0.0 if node.kind == "sum" else 1.0
        masked = combine(lambda keep, v: torch.where(keep, v, neutral), inside, body)
        axis = masked.dims.index(node.var)
        reduced = masked.values.sum(axis) if node.kind == "sum" else masked.values.prod(axis)
        return Named(reduced, without(masked.dims, node.var))

    def outside(self, node: t.Big, members: object, index: Named) -> Named:
        """v ∉ S: S is bound as the indicator of the set, a Table called with v (its other
        dimensions, the prompt x say, carried along: a set per prompt)."""
        if not isinstance(members, Table):
            raise EvaluationError(
                f"{node.var} ∉ S needs S bound as a set's indicator over {node.var}"
            )
        return combine(lambda member: member == 0, members(index))

    def _expect(self, node: t.Expect) -> Named:
        if node.distribution is None:
            weights = self.entry("mathbb E")
            if not isinstance(weights, Named):
                raise EvaluationError("a bare E[…] needs the binding's distribution 'mathbb E'")
            variables = weights.dims
        else:
            weights = self.value(node.distribution)
            variables = node.variables
            if len(variables) > 1 and len(variables) == len(weights.dims):
                weights = Named(weights.values, variables)  # (x, y_w, y_l) ∼ D: by position
        missing = [v for v in variables if v not in weights.dims]
        if missing:
            raise EvaluationError(
                f"E over {variables}: the distribution does not run over {missing}"
            )
        body = self.value(node.body)
        product = combine(torch.mul, weights, body)
        for variable in variables:
            product = product.summed(variable)
        return product

    def _kl(self, node: t.KL) -> Named:
        p, q = self.value(node.p), self.value(node.q)
        if "y" not in p.dims or "y" not in q.dims:
            raise EvaluationError("KL(p ‖ q) compares distributions over y")

        def terms(p: torch.Tensor, q: torch.Tensor) -> torch.Tensor:
            return torch.where(p > 0, p * (torch.log(p) - torch.log(q)), torch.zeros_like(p))

        return combine(terms, p, q).summed("y")

    def _grad(self, node: t.Grad) -> Named:
        """∇_v of the body by autograd. The result runs over the body's dimensions and the
        parameter's; where the two share a name (row b of log π(y | x) against row b of the
        logits) only the diagonal is kept: the gradient of a row's value by its own row."""
        parameter = self.entry(node.var)
        if not isinstance(parameter, Named):
            raise EvaluationError(f"∇ needs {node.var!r} to be a parameter")
        dims = self.under({node.var: parameter}).value(node.body).dims

        def body(values: torch.Tensor) -> torch.Tensor:
            result = self.under({node.var: Named(values, parameter.dims)}).value(node.body)
            return result.to_dims(dims).expand([result.size(d) for d in dims])

        jacobian = torch.autograd.functional.jacobian(body, parameter.values.detach())
        names = [*dims, *parameter.dims]
        for shared in (d for d in parameter.dims if d in dims):
            first, second = names.index(shared), len(names) - 1 - names[::-1].index(shared)
            jacobian = jacobian.diagonal(dim1=first, dim2=second)
            names = [n for i, n in enumerate(names) if i not in (first, second)] + [shared]
        return Named(jacobian, tuple(names))

    def _optimum(self, node: t.Optimum) -> Named:
        entry = self.entry(node.var)
        if isinstance(entry, Search):
            return self.search(node, entry)
        if not isinstance(entry, Named):
            raise EvaluationError(f"cannot optimise over {node.var!r}")
        body = self.under({node.var: Named(entry.values, (node.var,))}).value(node.body)
        axis = body.dims.index(node.var)
        best = body.values.amax(axis) if "max" in node.kind else body.values.amin(axis)
        if node.kind in ("max", "min"):
            return Named(best, without(body.dims, node.var))
        hits = (body.values == best.unsqueeze(axis)).to(DTYPE)
        return Named(hits / hits.sum(axis, keepdim=True), body.dims)

    def search(self, node: t.Optimum, search: Search) -> Named:
        """The lab's optimum must do at least as well as every probe policy."""
        at_candidate = self.under({node.var: search.candidate}).value(node.body)
        at_probes = self.under({node.var: search.probes}).value(node.body)
        gain = combine(torch.sub, at_probes, at_candidate)  # > 0: a probe beats the candidate
        if "min" in node.kind:
            gain = combine(torch.neg, gain)
        worst = float(gain.values.max())
        self.checks.append(
            Check(
                f"{node.kind} ({self.binding.label})",
                worst <= self.binding.tolerance,
                max(worst, 0.0),
                self.binding.tolerance,
            )
        )
        return at_candidate if node.kind in ("max", "min") else search.candidate.canonical()

    def _infinity(self, node: t.Infinity) -> Named:
        raise EvaluationError("∞ is a limit, not a value")

    def _same(self, node: t.Same) -> Named:
        raise EvaluationError("'the same' needs a premise: E ⇒ the same S")

    def _prefer(self, node: t.Prefer) -> Named:
        raise EvaluationError("a ≻ b is an argument (of p*) or data (n × (a ≻ b))")


def aligned_values(left: Named, right: Named) -> tuple[tuple[str, ...], list[torch.Tensor]]:
    dims: list[str] = []
    for tensor in (left, right):
        dims += [d for d in tensor.dims if d not in dims]
    shape = torch.broadcast_shapes(*(x.to_dims(tuple(dims)).shape for x in (left, right)))
    return tuple(dims), [x.to_dims(tuple(dims)).expand(shape).to(DTYPE) for x in (left, right)]


def without(dims: tuple[str, ...], name: str) -> tuple[str, ...]:
    return tuple(d for d in dims if d != name)
