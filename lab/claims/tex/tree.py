"""The expression tree a claim's TeX is read into (``lab.claims.tex.parser``).

Every node records ``span``, the characters of the TeX it was read from; spans do not take part
in comparisons, so two readings of the same mathematics are equal.
"""

from __future__ import annotations

from dataclasses import dataclass, field


@dataclass(frozen=True)
class Node:
    span: tuple[int, int] = field(compare=False)


@dataclass(frozen=True)
class Num(Node):
    value: float


@dataclass(frozen=True)
class Infinity(Node):
    pass


@dataclass(frozen=True)
class Sym(Node):
    name: str  # canonical: base, then _{sub} and ^{sup}: "pi_{ref}", "pi^{*}", "y_{w}"


@dataclass(frozen=True)
class Call(Node):
    name: str
    args: tuple[Node, ...]
    given: tuple[Node, ...] = ()  # what follows \mid: π(y | x)


@dataclass(frozen=True)
class Apply(Node):
    function: str  # log, exp
    argument: Node


@dataclass(frozen=True)
class Neg(Node):
    operand: Node


@dataclass(frozen=True)
class Binary(Node):
    op: str  # + - * / ^
    left: Node
    right: Node


@dataclass(frozen=True)
class Index(Node):
    base: Node
    index: Node  # softmax(ℓ)_{s_t}: the entry s_t


@dataclass(frozen=True)
class Length(Node):
    operand: Node  # |y|


@dataclass(frozen=True)
class Prefer(Node):
    winner: Node
    loser: Node  # a ≻ b


@dataclass(frozen=True)
class Big(Node):
    kind: str  # sum, prod
    var: str
    domain: Node | None
    lower: Node | None
    upper: Node | None
    body: Node
    outside: bool = False  # \sum_{y \notin S}: the variable runs over its domain less the set S


@dataclass(frozen=True)
class Expect(Node):
    variables: tuple[str, ...]  # () for a bare E[…]
    distribution: Node | None
    body: Node


@dataclass(frozen=True)
class KL(Node):
    p: Node
    q: Node


@dataclass(frozen=True)
class Grad(Node):
    var: str
    body: Node


@dataclass(frozen=True)
class Optimum(Node):
    kind: str  # max, min, argmax, argmin
    var: str
    body: Node


@dataclass(frozen=True)
class Same(Node):
    target: Node  # \text{the same } π*


@dataclass(frozen=True)
class Relation(Node):
    ops: tuple[str, ...]  # =, ge, le, to
    terms: tuple[Node, ...]


@dataclass(frozen=True)
class Implies(Node):
    premises: tuple[Node, ...]
    conclusions: tuple[Node, ...]


@dataclass(frozen=True)
class Given(Node):
    condition: Node  # a relation: β → ∞
    statement: Node


@dataclass(frozen=True)
class Statements(Node):
    items: tuple[Node, ...]


class TexError(ValueError):
    """The TeX is outside the notation this reader knows; the message says where."""
