"""Reading a claim's TeX: the project's notation parsed into a small expression tree.

The tree is what verification evaluates (``lab.claims.evaluate``), so the equation on screen is
the thing checked. The grammar covers the lecture's notation and nothing more; TeX outside it
raises ``TexError`` naming the place, and an unreadable claim does not hold.

    statements   := statement ("\\qquad" statement)*
    statement    := [relation ":"] implication             "β → ∞: π* → π_ref"
    implication  := list ["\\Rightarrow" list]             "π_θ = π_ref ⇒ L = log 2"
    list         := relation ("," relation)*
    relation     := expr (("=" | "\\ge" | "\\le" | "\\to") expr)*
    expr         := ["-"] term (("+" | "-") term)*
    term         := factor (factor | "\\times" factor)*   juxtaposition multiplies
    factor       := \\log f | \\exp f | \\nabla_v f | \\sum… term | \\prod… term
                    (\\sum_{v=a}^{b}, \\sum_{v \\in S}, \\sum_{v \\notin S}: v outside the set S)
                  | \\mathbb{E}…[expr] | \\max_v expr | \\arg\\max_v expr | \\frac{}{}
                  | KL(p ‖ q) | call | symbol | symbol^exponent | (expr) | …
"""

from __future__ import annotations

import re

from lab.claims.tex import tree as t
from lab.claims.tex.tokens import CALLABLE, GREEK, RELATIONS, Cursor


class _Parser(Cursor):
    # -- statements
    def statements(self) -> t.Node:
        begin = self.start()
        items = [self.statement()]
        while self.peek() == r"\qquad":
            self.take()
            items.append(self.statement())
        if self.peek() is not None:
            raise self.error(f"unexpected {self.peek()!r}")
        return items[0] if len(items) == 1 else t.Statements(self.span(begin), tuple(items))

    def statement(self) -> t.Node:
        begin = self.start()
        first = self.relation()
        if self.peek() == ":":
            self.take()
            statement = self.implication()
            return t.Given(self.span(begin), first, statement)
        return self.implication(first, begin)

    def implication(self, first: t.Node | None = None, begin: int | None = None) -> t.Node:
        begin = self.start() if begin is None else begin
        premises = self.relation_list(first)
        if self.peek() != r"\Rightarrow":
            return premises[0] if len(premises) == 1 else t.Statements(self.span(begin), premises)
        self.take()
        conclusions = self.relation_list()
        return t.Implies(self.span(begin), premises, conclusions)

    def relation_list(self, first: t.Node | None = None) -> tuple[t.Node, ...]:
        items = [first if first is not None else self.relation()]
        while self.peek() == ",":
            self.take()
            items.append(self.relation())
        return tuple(items)

    def relation(self) -> t.Node:
        begin = self.start()
        terms, ops = [self.expr()], []
        while self.peek() in RELATIONS:
            ops.append(RELATIONS[self.take().text])
            terms.append(self.expr())
        self.skip_annotation()
        if not ops:
            return terms[0]
        return t.Relation(self.span(begin), tuple(ops), tuple(terms))

    def skip_annotation(self) -> None:
        """\\text{(…)} after a statement: words for the viewer, not mathematics."""
        while self.peek() == r"\text" and self.peek(2) == "(":
            self.take()
            self.group_text()

    # -- expressions
    def expr(self) -> t.Node:
        begin = self.start()
        if self.peek() == "-":
            self.take()
            operand = self.term()
            node = t.Neg(self.span(begin), operand)
        else:
            node = self.term()
        while self.peek() in ("+", "-"):
            op = self.take().text
            right = self.term()
            node = t.Binary(self.span(begin), op, node, right)
        return node

    def term(self) -> t.Node:
        begin = self.start()
        node = self.factor()
        while self.starts_factor():
            if self.peek() in (r"\times", r"\cdot"):
                self.take()
            right = self.factor()
            node = t.Binary(self.span(begin), "*", node, right)
        return node

    def starts_factor(self) -> bool:
        token = self.peek()
        if token is None or token in RELATIONS:
            return False
        stops = {"+", "-", ")", "]", "}", ",", ";", ":", "|", r"\mid", r"\|", r"\Rightarrow",
                 r"\qquad", r"\succ", r"\sim", r"\in", r"\notin"}  # fmt: skip
        if token in stops:
            return False
        return not (token == r"\text" and self.peek(2) == "(")

    def factor(self) -> t.Node:
        begin = self.start()
        token = self.peek()
        if token in (r"\log", r"\ln", r"\exp"):
            self.take()
            name = "exp" if token == r"\exp" else "log"
            argument = self.factor()
            return t.Apply(self.span(begin), name, argument)
        if token == r"\nabla":
            self.take()
            var = self.subscript_name()
            body = self.factor()
            return t.Grad(self.span(begin), var, body)
        if token in (r"\sum", r"\prod"):
            return self.big(token[1:])
        if token == r"\mathbb":
            return self.expectation()
        if token in (r"\max", r"\min", r"\arg"):
            return self.optimum()
        if token == r"\frac":
            self.take()
            numerator, denominator = self.braced(), self.braced()
            return t.Binary(self.span(begin), "/", numerator, denominator)
        if token == r"\text":
            return self.text()
        return self.postfix(self.primary(), begin)

    def braced(self) -> t.Node:
        self.take("{")
        node = self.expr()
        self.take("}")
        return node

    def big(self, kind: str) -> t.Node:
        begin = self.start()
        self.take()
        var, domain, lower, upper, outside = "", None, None, None, False
        if self.peek() == "_":
            self.take()
            if self.peek() == "{":
                self.take("{")
                var = self.name_token()
                if self.peek() in (r"\in", r"\notin"):
                    outside = self.take().text == r"\notin"
                    domain = self.expr()
                elif self.peek() == "=":
                    self.take()
                    lower = self.expr()
                self.take("}")
            else:
                var = self.name_token()
        if self.peek() == "^":
            self.take()
            upper = self.braced() if self.peek() == "{" else self.primary()
        if not var:
            raise self.error(f"\\{kind} needs a variable to run over")
        body = self.term()
        return t.Big(self.span(begin), kind, var, domain, lower, upper, body, outside)

    def expectation(self) -> t.Node:
        begin = self.start()
        self.take(r"\mathbb")
        if self.group_text() != "E":
            raise self.error("only \\mathbb{E} is read")
        variables, distribution = (), None
        if self.peek() == "_":
            self.take()
            self.take("{")
            if self.peek() == "(":
                self.take("(")
                names = [self.name_token()]
                while self.peek() == ",":
                    self.take()
                    names.append(self.name_token())
                self.take(")")
                variables = tuple(names)
            else:
                variables = (self.name_token(),)
            self.take(r"\sim")
            distribution = self.expr()
            self.take("}")
        self.take("[")
        body = self.expr()
        self.take("]")
        return t.Expect(self.span(begin), variables, distribution, body)

    def optimum(self) -> t.Node:
        begin = self.start()
        kind = ""
        if self.peek() == r"\arg":
            self.take()
            kind = "arg"
        kind += self.take().text[1:]
        if kind not in ("max", "min", "argmax", "argmin"):
            raise self.error(f"unknown optimum {kind!r}")
        var = self.subscript_name()
        body = self.expr()
        return t.Optimum(self.span(begin), kind, var, body)

    def text(self) -> t.Node:
        begin = self.start()
        self.take(r"\text")
        words = self.group_text().strip()
        if words == "the same":
            target = self.factor()
            return t.Same(self.span(begin), target)
        raise self.error(f"unknown words \\text{{{words}}}")

    def name_token(self) -> str:
        """A variable's name: a letter or Greek letter with a subscript (y, y_w, \\pi_\\theta)."""
        symbol = self.primary()
        if not isinstance(symbol, t.Sym):
            raise self.error("expected a variable")
        return symbol.name

    def primary(self) -> t.Node:
        begin = self.start()
        token = self.peek()
        if token is None:
            raise self.error("expected an expression, the TeX ended")
        if re.fullmatch(r"\d+(\.\d+)?", token):
            self.take()
            return t.Num(self.span(begin), float(token))
        if token == r"\infty":
            self.take()
            return t.Infinity(self.span(begin))
        if token in ("(", "["):
            self.take()
            node = self.argument()
            self.take(")" if token == "(" else "]")
            return node
        if token == "{":
            return self.braced()
        if token == "|":
            self.take()
            node = self.expr()
            self.take("|")
            return t.Length(self.span(begin), node)
        if token == r"\mathrm" and self.peek(2) == "K" and self.peek(3) == "L":
            return self.kl()
        return self.symbol()

    def argument(self) -> t.Node:
        """An expression that may be a preference, a ≻ b."""
        begin = self.start()
        node = self.expr()
        if self.peek() == r"\succ":
            self.take()
            loser = self.expr()
            return t.Prefer(self.span(begin), node, loser)
        return node

    def kl(self) -> t.Node:
        begin = self.start()
        self.take(r"\mathrm")
        self.group_text()
        self.take("(")
        p = self.expr()
        self.take(r"\|")
        q = self.expr()
        self.take(")")
        return t.KL(self.span(begin), p, q)

    def symbol(self) -> t.Node:
        begin = self.start()
        token = self.take()
        hat = token.text == r"\hat"
        if hat:
            token = self.take()
        if token.text in (r"\mathcal", r"\mathrm", r"\operatorname"):
            base = ("mathcal " if token.text == r"\mathcal" else "") + self.group_text()
        elif token.text.startswith("\\") and token.text[1:] in GREEK:
            base = token.text[1:]
        elif len(token.text) == 1 and token.text.isalpha():
            base = token.text
        else:
            self.i -= 1
            raise self.error(f"unexpected {token.text!r}")
        base = ("hat " if hat else "") + base
        sub = sup = ""
        power = base == "e" or (len(base) == 1 and self.power_follows())
        while self.peek() in ("_", "^") and not (self.peek() == "^" and power):
            mark = self.take().text
            text = self.group_text()
            sub, sup = (text, sup) if mark == "_" else (sub, text)
        name = base + (f"_{{{sub}}}" if sub else "") + (f"^{{{sup}}}" if sup else "")
        if base == "e" and self.peek() == "^":  # e^{A}
            self.take()
            exponent = self.braced() if self.peek() == "{" else self.primary()
            return t.Apply(self.span(begin), "exp", exponent)
        if power and self.peek() == "^":  # V^k, V^{L+1}: a power of a Latin letter
            symbol = t.Sym(self.span(begin), name)
            self.take()
            exponent = self.braced() if self.peek() == "{" else self.primary()
            return t.Binary(self.span(begin), "^", symbol, exponent)
        if base in CALLABLE and self.peek() == "(":
            return self.call(name, begin)
        if base == "softmax" and self.peek() == "(":
            return self.call(name, begin)
        return t.Sym(self.span(begin), name)

    def call(self, name: str, begin: int) -> t.Node:
        self.take("(")
        args, given = [self.argument()], []
        target = args
        while self.peek() in (",", ";", r"\mid"):
            if self.take().text == r"\mid":
                target = given
            target.append(self.argument())
        self.take(")")
        return t.Call(self.span(begin), name, tuple(args), tuple(given))

    def postfix(self, node: t.Node, begin: int) -> t.Node:
        while self.peek() == "_" and isinstance(node, t.Call):
            self.take()
            index = self.braced() if self.peek() == "{" else self.primary()
            node = t.Index(self.span(begin), node, index)
        return node


def read_tex(tex: str) -> t.Node:
    """The expression tree of ``tex``; ``TexError`` where it leaves the lecture's notation."""
    return _Parser(tex).statements()


def symbol_name(tex: str) -> str:
    """The canonical name of a symbol written in TeX: symbol_name(r"\\pi_{\\mathrm{ref}}") is
    "pi_{ref}". Bindings use it, so that they name symbols the way the claims write them."""
    node = read_tex(tex)
    if not isinstance(node, t.Sym):
        raise t.TexError(f"{tex!r} is not a symbol")
    return node.name
