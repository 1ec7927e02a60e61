"""What the voice says for a caption, and the key that names a sentence.

Captions are written for the eye: "π_ref", "r̂", "β log Z(x)", "−1.94", "3.1 × 10⁻⁷". An offline
voice reads plain ASCII and would spell most of that, or skip it. ``spoken(text)`` rewrites a
caption into words for the ear — "pi ref", "r hat", "beta log Z of x", "minus 1.94", "3.1 times
10 to the minus 7" — and is applied to the spoken text only: the caption keeps its symbols.
Whatever non-ASCII is left is read by its Unicode name, so nothing is ever dropped silently.

``sentence_key(text)`` names a sentence for a lecturer's recording: a readable slug of what is said,
and a short hash of the caption's exact text, so that a changed sentence (another number, another
word) asks for a new recording instead of playing an old one.
"""

from __future__ import annotations

import hashlib
import re
import unicodedata

# Symbols written as a letter with a subscript or a mark, read as two words.
SYMBOLS: dict[str, str] = {
    "π_ref": "pi ref",
    "π_θ": "pi theta",
    "π*": "pi star",
    "r̂": "r hat",  # r + combining circumflex
    "r_φ": "r phi",
}
# Single characters, read as words. Greek letters not listed here are read by their name.
CHARACTERS: dict[str, str] = {
    "−": " minus ",  # the maths minus the captions write
    "+": " plus ",
    "=": " equals ",
    "×": " times ",
    "/": " over ",
    "≻": " is preferred to ",
    "→": " to ",
    "≥": " is at least ",
    "≤": " is at most ",
    "·": " times ",
    "–": " ",  # Bradley–Terry: one name
    "—": ", ",  # a pause
    "“": "",
    "”": "",
    "‘": "'",
    "’": "'",
    "_": " ",
    "*": " star",
}
SUPERSCRIPT_DIGITS = str.maketrans("⁰¹²³⁴⁵⁶⁷⁸⁹", "0123456789")
KEY_SLUG_CHARS = 48  # the readable part of a key, at most
KEY_HASH_CHARS = 8


def spoken(text: str) -> str:
    """``text`` as the voice should say it: plain ASCII words, one space between them."""
    said = _pauses(text)
    for symbol, words in SYMBOLS.items():
        said = said.replace(symbol, f" {words} ")
    said = _applications(said)
    said = re.sub(r"(\d),(\d{3})\b", r"\1\2", said)  # 1,000: a thousand, not "1, 0"
    said = re.sub(r"10([⁻]?[⁰¹²³⁴⁵⁶⁷⁸⁹]+)", _power_of_ten, said)
    said = re.sub(r"\b([A-Z]{2,})(?=\b|')", lambda m: " ".join(m.group(1)), said)  # K L, D P O
    said = "".join(CHARACTERS.get(ch, ch) for ch in said)
    said = "".join(ch if ch.isascii() else f" {_name(ch)} " for ch in said)
    said = re.sub(r"\s+([,.:;!?']|-(?=[a-z]))", r"\1", said)  # "pi theta's", "beta-scaled"
    return re.sub(r"\s+", " ", said).strip(" ,")


def _pauses(text: str) -> str:
    """An ellipsis that joins two captions is not read: it is dropped at either end of a sentence
    and is a comma inside one."""
    said = re.sub(r"^\s*(\.\.\.|…)", "", text)
    said = re.sub(r"(\.\.\.|…)\s*$", ".", said)
    return re.sub(r"(\.\.\.|…)", ",", said)


def _applications(text: str) -> str:
    """f(x) → "f of x", r(x, y) → "r of x and y", exp(r/β) → "exp of r/β" (a letter, or exp or
    log, right before the parenthesis: prose has a space there)."""

    def of(match: re.Match) -> str:
        arguments = " and ".join(part.strip() for part in match.group(2).split(","))
        return f"{match.group(1)} of {arguments}"

    return re.sub(r"(?<![A-Za-zα-ω])(exp|log|[A-Za-zα-ω])\(([^()]*)\)", of, text)


def _power_of_ten(match: re.Match) -> str:
    exponent = match.group(1).translate(SUPERSCRIPT_DIGITS).replace("⁻", "minus ")
    return f"10 to the {exponent}"


def _name(character: str) -> str:
    """A character read by its Unicode name: "GREEK SMALL LETTER BETA" → "beta"."""
    if unicodedata.combining(character):
        return ""
    name = unicodedata.name(character, "").lower()
    if name.startswith(("greek small letter ", "greek capital letter ")):
        letter = name.rsplit(" ", 1)[-1]
        return "lambda" if letter == "lamda" else letter  # Unicode spells it without the b
    decomposed = unicodedata.normalize("NFKD", character)
    if decomposed.isascii():
        return decomposed
    return name or "symbol"


def slug(text: str) -> str:
    """What ``text`` says, in at most ``KEY_SLUG_CHARS`` lowercase ASCII letters, digits and
    hyphens, cut at a word."""
    said = re.sub(r"[^a-z0-9]+", "-", spoken(text).lower()).strip("-")
    if len(said) > KEY_SLUG_CHARS:
        cut = said[: KEY_SLUG_CHARS + 1]
        said = cut[: cut.rfind("-")] if "-" in cut else cut[:KEY_SLUG_CHARS]
    return said or "sentence"


def sentence_key(text: str) -> str:
    """The name of a sentence's recording: ``<slug of what is said>-<hash of the exact text>``."""
    digest = hashlib.sha256(" ".join(text.split()).encode("utf-8")).hexdigest()
    return f"{slug(text)}-{digest[:KEY_HASH_CHARS]}"
