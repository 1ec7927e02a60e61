"""Reading a claim's TeX into an expression tree: ``read_tex`` and the tree's nodes.

``tree`` holds the nodes, ``tokens`` the tokenizer and cursor, ``parser`` the grammar.
"""

from lab.claims.tex.parser import read_tex, symbol_name
from lab.claims.tex.tokens import Token, tokenize
from lab.claims.tex.tree import (
    KL,
    Apply,
    Big,
    Binary,
    Call,
    Expect,
    Given,
    Grad,
    Implies,
    Index,
    Infinity,
    Length,
    Neg,
    Node,
    Num,
    Optimum,
    Prefer,
    Relation,
    Same,
    Statements,
    Sym,
    TexError,
)

__all__ = [
    "KL", "Apply", "Big", "Binary", "Call", "Expect", "Given", "Grad", "Implies", "Index",
    "Infinity", "Length", "Neg", "Node", "Num", "Optimum", "Prefer", "Relation", "Same",
    "Statements", "Sym", "TexError", "Token", "read_tex", "symbol_name", "tokenize",
]  # fmt: skip
