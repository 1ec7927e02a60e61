"""Every clip the lecture renders: its name (file stem in renders/ and module in scenes/), its
scene class and the derivation step it shows. The Makefile's per-clip targets follow this list."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Clip:
    name: str
    scene: str
    step: int | None

    @property
    def module(self) -> str:
        return f"scenes.{self.name}"

    @property
    def source(self) -> str:
        return f"scenes/{self.name}.py"


CLIPS: tuple[Clip, ...] = (Clip("step4_bradley_terry", "Step4BradleyTerry", 4),)

QUALITIES: dict[str, str] = {
    "low": "low_quality",  # 854×480, 15 fps
    "medium": "medium_quality",  # 1280×720, 30 fps
    "high": "high_quality",  # 1920×1080, 60 fps
}


class CatalogError(ValueError):
    """An unknown clip name or quality; the message lists the valid ones."""


def find_clip(name: str) -> Clip:
    for clip in CLIPS:
        if clip.name == name:
            return clip
    valid = ", ".join(c.name for c in CLIPS)
    raise CatalogError(f"no clip named {name!r}; valid clips: {valid}")


def manim_quality(quality: str) -> str:
    if quality not in QUALITIES:
        raise CatalogError(f"unknown quality {quality!r}; valid qualities: {', '.join(QUALITIES)}")
    return QUALITIES[quality]
