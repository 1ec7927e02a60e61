"""The TeX a claim is written in, as tokens, and the cursor the parser moves through them."""

from __future__ import annotations

import re
from dataclasses import dataclass

from lab.claims.tex.tree import TexError

_TOKEN = re.compile(
    r"(?P<command>\\[A-Za-z]+)|(?P<escape>\\[^A-Za-z])|(?P<number>\d+(?:\.\d+)?)"
    r"|(?P<letter>[A-Za-z])|(?P<space>\s+)|(?P<other>.)"
)
# Spacing and delimiter sizes: typography, not mathematics.
_SKIP = {r"\,", r"\;", r"\!", r"\ ", r"\:", r"\quad", r"\left", r"\right"}
_SIZES = {r"\big", r"\Big", r"\bigg", r"\Bigg", r"\bigl", r"\bigr", r"\Bigl", r"\Bigr"}
GREEK = {"pi", "beta", "lambda", "theta", "sigma", "phi", "ell", "alpha", "gamma", "mu", "tau"}
# Symbols that are functions when "(" follows; any other symbol before "(" multiplies.
CALLABLE = {"pi", "r", "hat r", "Z", "f", "J", "p", "mathcal L", "mathcal D", "sigma"}
RELATIONS = {"=": "=", r"\ge": "ge", r"\le": "le", r"\to": "to", r"\geq": "ge", r"\leq": "le"}


@dataclass(frozen=True)
class Token:
    text: str
    start: int
    end: int


def tokenize(tex: str) -> list[Token]:
    tokens = []
    for match in _TOKEN.finditer(tex):
        text = match.group()
        if match.lastgroup == "space" or text in _SKIP or text in _SIZES:
            continue
        tokens.append(Token(text, match.start(), match.end()))
    return tokens


class Cursor:
    """A position in the tokens of one TeX string, and the small moves every rule makes."""

    def __init__(self, tex: str) -> None:
        self.tex = tex
        self.tokens = tokenize(tex)
        self.i = 0

    # -- helpers
    def peek(self, offset: int = 0) -> str | None:
        j = self.i + offset
        return self.tokens[j].text if j < len(self.tokens) else None

    def take(self, expected: str | None = None) -> Token:
        if self.i >= len(self.tokens):
            raise self.error(f"expected {expected!r}, the TeX ended")
        token = self.tokens[self.i]
        if expected is not None and token.text != expected:
            raise self.error(f"expected {expected!r}, found {token.text!r}")
        self.i += 1
        return token

    def error(self, message: str) -> TexError:
        where = self.tokens[self.i].start if self.i < len(self.tokens) else len(self.tex)
        return TexError(
            f"{message} at character {where}: …{self.tex[max(0, where - 25) : where + 25]}…"
        )

    def start(self) -> int:
        return self.tokens[self.i].start if self.i < len(self.tokens) else len(self.tex)

    def span(self, start: int) -> tuple[int, int]:
        return (start, self.tokens[self.i - 1].end)

    def group_text(self) -> str:
        """The words of a braced group (or of one token), font commands removed."""
        if self.peek() != "{":
            return _plain(self.take().text)
        opening = self.take("{")
        depth = 1
        while True:
            token = self.take()
            depth += {"{": 1, "}": -1}.get(token.text, 0)
            if depth == 0:
                return _plain(self.tex[opening.end : token.start])

    def subscript_name(self) -> str:
        """The variable after "_": \\max_{\\pi}, \\arg\\max_y, \\nabla_\\theta."""
        self.take("_")
        if self.peek() != "{":
            return self.name_token()
        self.take("{")
        name = self.name_token()
        self.take("}")
        return name

    def power_follows(self) -> bool:
        """Whether a "^" next raises a Latin letter to a power: an exponent that is a letter, a
        number, or a braced expression starting with one (V^k, V^{L+1}); not a mark that names a
        symbol (p^*)."""
        if self.peek() != "^":
            return False
        exponent = self.peek(2) if self.peek(1) == "{" else self.peek(1)
        return exponent is not None and bool(re.fullmatch(r"[A-Za-z]|\d+(\.\d+)?", exponent))


def _plain(text: str) -> str:
    """A group's TeX as a name part: \\mathrm{ref} → ref, \\theta → theta, spaces squeezed."""
    text = re.sub(r"\\(mathrm|text|operatorname)\{([^{}]*)\}", r"\2", text)
    text = re.sub(r"\\(mathrm|text|operatorname)", "", text)
    text = text.replace("\\", "")
    return re.sub(r"\s+", " ", text).strip()
