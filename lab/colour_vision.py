"""How the palette looks to a viewer with red–green colour blindness, measured.

``simulate(colour, vision)`` is Machado, Oliveira & Fernandes (2009)'s model of full
deuteranopia or protanopia: a 3×3 matrix applied in linear sRGB. ``difference(a, b, vision)`` is
the CIE 1976 colour difference ΔE*ab between two colours as that viewer sees them (about 2.3 is
just noticeable; above 20, two colours read as different at a glance).
"""

from __future__ import annotations

import numpy as np

VISIONS = ("normal", "deuteranopia", "protanopia")
_MACHADO = {
    "normal": np.eye(3),
    "deuteranopia": np.array(
        [
            [0.367322, 0.860646, -0.227968],
            [0.280085, 0.672501, 0.047413],
            [-0.011820, 0.042940, 0.968881],
        ]
    ),
    "protanopia": np.array(
        [
            [0.152286, 1.052583, -0.204868],
            [0.114503, 0.786281, 0.099216],
            [-0.003882, -0.048116, 1.051998],
        ]
    ),
}
_SRGB_TO_XYZ = np.array(
    [[0.4124, 0.3576, 0.1805], [0.2126, 0.7152, 0.0722], [0.0193, 0.1192, 0.9505]]
)
_WHITE_D65 = np.array([0.95047, 1.0, 1.08883])


def linear_rgb(colour: str) -> np.ndarray:
    """``#RRGGBB`` as linear-light sRGB in [0, 1]."""
    if len(colour) != 7 or colour[0] != "#":
        raise ValueError(f"colour must be '#RRGGBB', got {colour!r}")
    encoded = np.array([int(colour[i : i + 2], 16) / 255 for i in (1, 3, 5)])
    return np.where(encoded <= 0.04045, encoded / 12.92, ((encoded + 0.055) / 1.055) ** 2.4)


def simulate(colour: str, vision: str) -> np.ndarray:
    """The linear sRGB a viewer with ``vision`` perceives for ``colour``."""
    if vision not in _MACHADO:
        raise ValueError(f"vision must be one of {VISIONS}, got {vision!r}")
    return np.clip(_MACHADO[vision] @ linear_rgb(colour), 0.0, 1.0)


def cielab(linear: np.ndarray) -> np.ndarray:
    """CIELAB (D65) of a linear sRGB colour."""
    t = (_SRGB_TO_XYZ @ linear) / _WHITE_D65
    f = np.where(t > (6 / 29) ** 3, np.cbrt(t), t / (3 * (6 / 29) ** 2) + 4 / 29)
    return np.array([116 * f[1] - 16, 500 * (f[0] - f[1]), 200 * (f[1] - f[2])])


def difference(a: str, b: str, vision: str = "normal") -> float:
    """ΔE*ab between colours ``a`` and ``b`` as a viewer with ``vision`` sees them."""
    return float(np.linalg.norm(cielab(simulate(a, vision)) - cielab(simulate(b, vision))))


def relative_luminance(colour: str) -> float:
    """WCAG's relative luminance of ``colour``."""
    return float(np.array([0.2126, 0.7152, 0.0722]) @ linear_rgb(colour))


def contrast_ratio(a: str, b: str) -> float:
    """WCAG's contrast ratio between two colours (1 to 21)."""
    light, dark = sorted((relative_luminance(a), relative_luminance(b)), reverse=True)
    return (light + 0.05) / (dark + 0.05)
