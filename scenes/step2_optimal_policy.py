"""Step 2 — the optimal policy in closed form: π* = π_ref exp(r/β) / Z(x).

The objective becomes a Lagrangian, its stationarity condition is solved for π, and Z(x) appears
as the normaliser. Then the toy world's bars — π_ref, the tilt exp(r/β), π* — with β swept by a
ValueTracker: π* slides from π_ref (large β) to the best answer (small β). Every bar length is
computed by the lab (``lab.optimal_policy`` on the default world) while the clip renders.

Render with:  manim render scenes/step2_optimal_policy.py Step2OptimalPolicy
"""

from __future__ import annotations

import math
from collections.abc import Sequence

from manim import (
    DOWN,
    RIGHT,
    UP,
    FadeIn,
    FadeOut,
    Indicate,
    MathTex,
    Mobject,
    ReplacementTransform,
    ValueTracker,
    VGroup,
    Write,
    config,
)

from lab.claims import normalise_tex
from scenes import labdata, quantities, style
from scenes.base import ClaimScene, parts_of
from scenes.catalog import find_clip
from scenes.widgets import (
    BarColumn,
    NumberColumn,
    column_header,
    heading,
    lay_out_columns,
    model_text,
    remark,
    row_names,
)

CLIP = find_clip("step2_optimal_policy")

PI = r"\pi(y \mid x)"
PI_REF = r"\pi_{\mathrm{ref}}(y \mid x)"
REWARD = r"r(x, y)"
LOG_RATIO = r"\log \frac{\pi(y \mid x)}{\pi_{\mathrm{ref}}(y \mid x)}"
TILTED_REFERENCE = r"\pi_{\mathrm{ref}}(y \mid x) \exp\!\Big(\frac{1}{\beta} r(x, y)\Big)"

SWEEP_HIGH = 20.0  # β this large: π* is all but π_ref
SWEEP_LOW = 0.05  # β this small: π* is all but the argmax
SETTLE = 1.0  # seconds the bars rest at the lab's β at the end of the sweep, while it is said
SIDE_MARGIN = 0.7  # an equation keeps at least this much of the frame free at each side
MOMENTS = ("stationarity", "closed_form", "beta_swept")


def carry_over(
    scene: ClaimScene,
    source: MathTex,
    target: MathTex,
    *,
    leaving: Sequence[Mobject] = (),
    run_time: float = 2.0,
) -> MathTex:
    """Turn ``source`` into ``target`` in three beats, so that no piece crosses another: the
    parts that do not carry over fade out where they are (with ``leaving``), the ``{{ }}``
    parts the two share (the n-th occurrence of a part to its n-th) move into place, and the
    new parts fade in where they belong. Leaves ``target`` on screen, whole."""
    old, new = _parts_by_tex(source), _parts_by_tex(target)
    moving, going, coming = [], list(leaving), []
    for key in sorted(old.keys() | new.keys()):
        before, after = old.get(key, []), new.get(key, [])
        shared = min(len(before), len(after))
        moving += zip(before[:shared], after[:shared], strict=True)
        going += before[shared:]
        coming += after[shared:]
    beat = run_time / 4
    if going:
        scene.play(FadeOut(*going), run_time=beat)
    scene.play(*(ReplacementTransform(a, b) for a, b in moving), run_time=2 * beat)
    if coming:
        scene.play(FadeIn(*coming), run_time=beat)
    scene.remove(source, *(b for _, b in moving), *coming)
    scene.add(target)
    return target


def _parts_by_tex(equation: MathTex) -> dict[str, list[Mobject]]:
    """An equation's ``{{ }}`` parts with ink, by their TeX, each list left to right."""
    found: dict[str, list[Mobject]] = {}
    for part in equation.submobjects:
        if part.has_points() or part.submobjects:
            found.setdefault(normalise_tex(part.tex_string), []).append(part)
    return found


def fitted(equation: MathTex) -> MathTex:
    """``equation`` scaled down, if need be, to leave a margin at both sides of the frame."""
    if equation.width > config.frame_width - 2 * SIDE_MARGIN:
        equation.scale_to_fit_width(config.frame_width - 2 * SIDE_MARGIN)
    return equation


def derive_closed_form(scene: ClaimScene, title: VGroup) -> VGroup:
    """Objective → Lagrangian → stationarity → π*, then Z(x) as the normaliser."""
    objective = scene.claim("step1.objective", parts=[REWARD, r"\beta", PI_REF, PI])
    objective.move_to(UP * 1.0)
    scene.narrate(
        "Step {step}'s objective. Which policy π maximises it? Take one prompt x at a time.",
        step=quantities.derivation_step(1),
    )
    scene.play(FadeIn(objective, shift=UP * 0.3))
    scene.wait(style.HOLD)

    lagrangian = scene.claim(
        "step2.lagrangian",
        parts=[REWARD, r"\beta", LOG_RATIO, PI],
        font_size=style.SMALL_FONT_SIZE,
    )
    fitted(lagrangian).move_to(objective)
    names = remark(
        scene, r"$\mathcal{L}$: the Lagrangian \qquad $\lambda$: a Lagrange multiplier"
    ).next_to(lagrangian, DOWN, buff=0.6)
    scene.narrate("Over a finite set of answers, the expectation and the KL are sums over y.")
    carry_over(scene, objective, lagrangian)
    scene.narrate_claim("step2.lagrangian")
    scene.play(FadeIn(names, shift=UP * 0.2))
    scene.wait(style.HOLD)

    stationarity = scene.claim(
        "step2.stationarity", parts=[REWARD, r"\beta", LOG_RATIO, r"\lambda"]
    ).move_to(lagrangian)
    scene.narrate_claim("step2.stationarity")
    carry_over(scene, lagrangian, stationarity, leaving=[names])
    scene.moment("stationarity")
    scene.wait(style.HOLD)

    closed_form = scene.claim("step2.closed_form", parts=[REWARD, r"\beta", PI_REF])
    closed_form.move_to(stationarity)
    scene.narrate(
        "Solve for π: exponentiate, and collect every constant into one normaliser, Z(x)."
    )
    scene.wait(1.5)
    scene.narrate_claim("step2.closed_form")
    carry_over(scene, stationarity, closed_form)
    scene.moment("closed_form")
    scene.wait(style.HOLD + 1)
    # The same equation cut differently, so that its numerator can carry over into Z(x).
    regrouped = scene.regroup(closed_form, "step2.closed_form", [TILTED_REFERENCE, "Z(x)"])

    partition = scene.claim("step2.partition", parts=[TILTED_REFERENCE, "Z(x)"])
    partition.next_to(regrouped, DOWN, buff=0.8)
    scene.narrate_claim("step2.partition")
    carry_over(scene, regrouped.copy(), partition)
    scene.play(Indicate(parts_of(regrouped, "Z(x)"), color=style.PARTITION, scale_factor=1.3))
    scene.wait(style.HOLD + 1)
    scene.play(
        FadeOut(partition),
        regrouped.animate.scale(0.8).next_to(title, DOWN, buff=0.4).set_x(0),
    )
    return regrouped


def sweep_beta(scene: ClaimScene) -> VGroup:
    """The toy world's bars: π_ref, exp(r/β) and π*, with β swept from large to small."""
    p = labdata.prompt(0)
    log_beta = ValueTracker(math.log(p.beta))

    def beta() -> float:
        return math.exp(log_beta.get_value())

    names = row_names(p.responses)
    reward = NumberColumn(p.reward, quantity=quantities.REWARD, color=style.REWARD)
    reference = BarColumn(p.pi_ref, color=style.REFERENCE, width=2.4)
    tilt = BarColumn(labdata.tilt(p, p.beta), color=style.TEXT, width=1.6, quantity=None)
    optimal = BarColumn(labdata.optimal(p, p.beta), color=style.OPTIMAL, width=2.4)
    columns = VGroup(reward, reference, tilt, optimal)
    table = lay_out_columns(names, columns, gap=0.45).move_to(DOWN * 0.55)
    headers = VGroup(
        column_header(scene, REWARD, reward),
        column_header(scene, PI_REF, reference),
        column_header(scene, r"\exp\!\big(r(x, y) / \beta\big)", tilt),
        column_header(scene, r"\pi^*(y \mid x)", optimal),
    )
    prompt_text = model_text(p.text).next_to(names, UP, buff=0.45).align_to(names, RIGHT)
    tilt_note = remark(scene, "(scaled to its largest)", color=style.MUTED, font_size=28)
    tilt_note.next_to(tilt, DOWN, buff=0.25).set_x(tilt.left + tilt_note.width / 2)

    beta_label = scene.label(r"\beta =", font_size=style.SMALL_FONT_SIZE)
    beta_value = quantities.BETA.number(p.beta, color=style.BETA, font_size=36)
    beta_readout = VGroup(beta_label, beta_value).arrange(RIGHT, buff=0.15)
    # Under the response names, level with the note: the π* column's numbers need the room.
    beta_readout.align_to(names, RIGHT).set_y(tilt_note.get_y())

    scene.narrate("Now in numbers, on the toy world's prompt: the reference policy's answers...")
    scene.play(FadeIn(prompt_text), FadeIn(names), FadeIn(headers[0]), FadeIn(reward))
    scene.play(FadeIn(headers[1]), FadeIn(reference, shift=RIGHT * 0.3))
    scene.narrate("...are tilted by exp(r/β): a higher reward, a bigger factor...")
    scene.play(FadeIn(headers[2], tilt_note), FadeIn(tilt, shift=RIGHT * 0.3), FadeIn(beta_readout))
    scene.narrate(
        "...and renormalised by Z(x): that is π*, here at β = {beta}.", beta=quantities.BETA(p.beta)
    )
    scene.play(FadeIn(headers[3]), FadeIn(optimal, shift=RIGHT * 0.3))
    scene.wait(style.HOLD)

    beta_value.add_updater(lambda number: number.set_value(beta()))
    tilt.add_updater(lambda column: column.set_values(labdata.tilt(p, beta())))
    optimal.add_updater(lambda column: column.set_values(labdata.optimal(p, beta())))

    # Each sweep lasts as long as the sentence that describes it.
    with scene.voiceover("Raise β and the KL penalty wins: π* falls back onto π_ref.") as said:
        scene.play(log_beta.animate.set_value(math.log(SWEEP_HIGH)), run_time=said.duration)
    with scene.voiceover(
        "Lower β and the reward wins: π* piles onto the best answer, “{best}”.",
        best=quantities.RESPONSE(p.responses[p.best]),
    ) as said:
        scene.play(log_beta.animate.set_value(math.log(SWEEP_LOW)), run_time=said.duration)
    with scene.voiceover("In between, π* trades reward against closeness to π_ref.") as said:
        back = max(said.duration - SETTLE, SETTLE)
        scene.play(log_beta.animate.set_value(math.log(p.beta)), run_time=back)
        for mobject in (beta_value, tilt, optimal):
            mobject.clear_updaters()
        # The bars rest for the end of the sentence; a still frame draws the whole table.
        scene.wait(1 / config.frame_rate)
    scene.moment("beta_swept")
    return VGroup(prompt_text, table, headers, tilt_note, beta_readout)


def present(scene: ClaimScene) -> None:
    """Step 2, as a clip or as a section of the lecture."""
    title = heading(scene, CLIP)
    scene.play(FadeIn(title, shift=DOWN * 0.2))
    closed_form = derive_closed_form(scene, title)
    bars = sweep_beta(scene)

    value_note = remark(scene, r"$J(\pi)$: the objective's value at a policy $\pi$")
    value_note.move_to(UP * 0.6)
    gap = scene.claim("step2.gap_is_kl").next_to(value_note, DOWN, buff=0.7)
    scene.narrate("Write J(π) for the objective's value at a policy π.")
    scene.play(FadeOut(bars), run_time=0.7)
    scene.play(FadeIn(value_note, shift=UP * 0.2))
    scene.narrate_claim("step2.gap_is_kl")
    scene.play(Write(gap), run_time=2)
    scene.wait(style.HOLD)
    scene.narrate(
        "So π* is the unique best policy. Step {step} turns this around, to solve for r.",
        step=quantities.derivation_step(3),
    )
    scene.play(Indicate(closed_form, color=style.OPTIMAL, scale_factor=1.05))
    scene.narrate(None)


class Step2OptimalPolicy(ClaimScene):
    def construct(self) -> None:
        present(self)
