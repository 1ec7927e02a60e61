"""One equation turned into another in three clean stages, never two lines on top of each other.

``TransformMatchingTex`` fades the parts only the old equation has out *while* the parts only the
new one has fade in, in the same place: for a moment two half-transparent equations overlap. Here
the old parts leave first, then the shared parts move (and each ``key_map`` pair morphs, glyph by
glyph: π*(y_w | x) into π_θ(y_w | x)), then the new parts come in.
"""

from __future__ import annotations

from manim import FadeIn, FadeOut, MathTex, ReplacementTransform, VGroup

from lab.claims import normalise_tex
from scenes.base import ClaimScene


def _parts_by_tex(equation: MathTex) -> dict[str, VGroup]:
    """The ``{{ }}`` parts of ``equation`` by their normalised TeX, each key's parts in order."""
    parts: dict[str, VGroup] = {}
    for part in equation.submobjects:
        parts.setdefault(normalise_tex(part.tex_string), VGroup()).add(part)
    return parts


def transform_in_stages(
    scene: ClaimScene,
    source: MathTex,
    target: MathTex,
    *,
    key_map: dict[str, str] | None = None,
    run_time: float = 2.5,
) -> MathTex:
    """Replace ``source`` (on screen) by ``target`` (placed where it should end): the parts only
    ``source`` has fade out, the parts both have (same TeX, or a ``key_map`` pair: source TeX →
    target TeX) move and morph into place, the parts only ``target`` has fade in. Returns
    ``target``, on screen as one equation."""
    old, new = _parts_by_tex(source), _parts_by_tex(target)
    pairs = [(key, key) for key in old if key in new]
    for old_tex, new_tex in (key_map or {}).items():
        old_key, new_key = normalise_tex(old_tex), normalise_tex(new_tex)
        if old_key not in old or new_key not in new:
            raise ValueError(f"key_map pair not in the equations: {old_tex!r} → {new_tex!r}")
        pairs.append((old_key, new_key))
    moved_old = {key for key, _ in pairs}
    moved_new = {key for _, key in pairs}
    leaving = VGroup(*(parts for key, parts in old.items() if key not in moved_old))
    arriving = VGroup(*(parts for key, parts in new.items() if key not in moved_new))

    # The parts become the scene's own mobjects for the three stages.
    scene.remove(source)
    scene.add(*source.submobjects)
    if len(leaving):
        scene.play(FadeOut(leaving), run_time=0.25 * run_time)
    scene.play(
        *(ReplacementTransform(old[a], new[b]) for a, b in pairs),
        run_time=0.45 * run_time,
    )
    if len(arriving):
        scene.play(FadeIn(arriving), run_time=0.3 * run_time)
    scene.remove(*target.submobjects)
    scene.add(target)
    return target
