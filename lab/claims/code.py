"""Claims whose text on screen is code: the source is run, and its functions are the reading.

A code claim (``Claim(language="python")``) carries Python source where an equation claim
carries TeX; a scene typesets that source line by line, and verification runs that same source.
``read_code`` executes it in a namespace holding only ``torch`` and ``F``
(``torch.nn.functional``), the names the DPO paper's sketch assumes, and returns the functions it
defines; a check calls them on the lab's numbers, so a wrong sign on screen fails like wrong code.

``code_mutants`` makes the slips a reader might make copying such code: a minus turned plus (or
dropped where it stands alone), chosen and rejected swapped on one line, β dropped, the policy's
and the reference's names swapped on one line.
"""

from __future__ import annotations

import ast
import re
from collections.abc import Callable, Iterator
from types import MappingProxyType

import torch
import torch.nn.functional as F

from lab.claims.tex import TexError

SWAPS = (("yw", "yl"), ("pi", "ref"))


class CodeError(TexError):
    """The source on screen does not run (a syntax error, or an error while defining it)."""


def read_code(source: str) -> MappingProxyType[str, Callable]:
    """The functions ``source`` defines, by name, after running it with only torch and F."""
    try:
        tree = ast.parse(source)
    except SyntaxError as error:
        raise CodeError(f"line {error.lineno}: {error.msg}") from None
    namespace: dict[str, object] = {"torch": torch, "F": F}
    try:
        exec(compile(tree, "<claim>", "exec"), namespace)  # the repository's own claim text
    except Exception as error:
        raise CodeError(f"{type(error).__name__} while defining it: {error}") from None
    functions = {name: value for name, value in namespace.items() if callable(value)}
    return MappingProxyType({n: f for n, f in functions.items() if n not in ("torch", "F")})


def code_mutants(source: str) -> Iterator[tuple[str, str]]:
    """(kind, mutated source) for each slip, one place at a time."""
    lines = source.split("\n")
    for number, line in enumerate(lines):
        for kind, changed in _line_slips(line):
            yield kind, "\n".join([*lines[:number], changed, *lines[number + 1 :]])


def _line_slips(line: str) -> Iterator[tuple[str, str]]:
    code = line.split("#")[0]
    for match in re.finditer(r"-(?![=>])", code):
        before, after = line[: match.start()], line[match.end() :]
        if before.rstrip().endswith(("=", "(", ",", "[")):  # a leading minus
            yield "a minus dropped", before + after
        else:
            yield "a sign flipped", before + "+" + after
    for match in re.finditer(r"\bbeta \* ", code):
        yield "β dropped", line[: match.start()] + line[match.end() :]
    if "=" in code:
        target, _, value = line.partition("=")
        for one, other in SWAPS:
            swapped = _swap_words(value, one, other)
            if swapped != value:
                yield f"{one} and {other} swapped on one line", f"{target}={swapped}"


def _swap_words(text: str, one: str, other: str) -> str:
    """``one`` ↔ ``other`` where they stand as parts of a name (yw_idxs ↔ yl_idxs)."""
    pattern = re.compile(rf"(?<![A-Za-z]){one}(?![A-Za-z])|(?<![A-Za-z]){other}(?![A-Za-z])")
    return pattern.sub(lambda match: other if match.group() == one else one, text)
