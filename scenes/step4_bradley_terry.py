"""Step 4 — Bradley–Terry: preferences see only reward differences, so β log Z(x) cancels.

A person compares two answers; Bradley–Terry makes the preference a sigmoid of the reward
difference. Substitute step 3's reward for both answers: the two β log Z(x) terms, the same
number because the prompt is the same, cancel — the visual climax of the lecture. The lab then
computes one preference both ways, from r and from (π*, π_ref) alone, and gets the same number.

Render with:  manim render scenes/step4_bradley_terry.py Step4BradleyTerry
"""

from __future__ import annotations

import torch
from manim import (
    DOWN,
    LEFT,
    RIGHT,
    UP,
    AnimationGroup,
    Axes,
    Create,
    Dot,
    FadeIn,
    FadeOut,
    Indicate,
    ReplacementTransform,
    TransformMatchingTex,
    ValueTracker,
    VGroup,
    Write,
    always_redraw,
)

from lab import preference_prob
from scenes import labdata, quantities, style
from scenes.base import ClaimScene, parts_of
from scenes.catalog import find_clip
from scenes.widgets import box, heading, model_text, remark, strike

CLIP = find_clip("step4_bradley_terry")

PREFERENCE = r"p^*(y_w \succ y_l \mid x)"
CHOSEN_TERM = r"\beta \log \frac{\pi^*(y_w \mid x)}{\pi_{\mathrm{ref}}(y_w \mid x)}"
REJECTED_TERM = r"\beta \log \frac{\pi^*(y_l \mid x)}{\pi_{\mathrm{ref}}(y_l \mid x)}"
LOG_Z_TERM = r"\beta \log Z(x)"
# The substituted preference is the widest line of the lecture: this size fits it on screen.
EQUATION_FONT_SIZE = 34
REWARD_TERM = r"\beta \log \frac{\pi^*(y \mid x)}{\pi_{\mathrm{ref}}(y \mid x)}"


def win_probability(difference: float) -> float:
    """σ(A − B) from the lab, for a reward difference A − B."""
    return float(preference_prob(torch.tensor(difference, dtype=torch.float64), torch.tensor(0.0)))


def a_comparison(scene: ClaimScene) -> VGroup:
    """Two answers to one prompt; a person prefers one: y_w ≻ y_l."""
    p = labdata.prompt(0)
    prompt_text = model_text(p.text, font_size=28).move_to(UP * 1.9)
    chosen = model_text(p.responses[p.best], font_size=28)
    rejected = model_text(p.responses[p.worst], font_size=28)
    width = max(chosen.width, rejected.width) + 0.6
    answers = VGroup(
        VGroup(box(chosen, color=style.CHOSEN).stretch_to_fit_width(width), chosen),
        VGroup(box(rejected, color=style.REJECTED).stretch_to_fit_width(width), rejected),
    ).arrange(RIGHT, buff=2.0)
    answers.next_to(prompt_text, DOWN, buff=0.7)
    names = VGroup(
        remark(scene, "preferred, $y_w$", color=style.CHOSEN).next_to(answers[0], DOWN),
        remark(scene, "rejected, $y_l$", color=style.REJECTED).next_to(answers[1], DOWN),
    )
    prefers = scene.label(r"\succ", font_size=56).move_to(answers)
    scene.narrate("The data DPO learns from: a person sees two answers to one prompt, picks one.")
    scene.play(FadeIn(prompt_text))
    scene.play(FadeIn(answers, shift=UP * 0.2))
    scene.play(Write(prefers), FadeIn(names, shift=DOWN * 0.2))
    scene.wait(1.5)
    return VGroup(prompt_text, answers, names, prefers)


def the_sigmoid(scene: ClaimScene, title: VGroup) -> VGroup:
    """Bradley–Terry, then the identity e^A/(e^A+e^B) = σ(A−B) on a curve: only A − B counts."""
    comparison = a_comparison(scene)
    model = scene.claim("step4.bradley_terry").to_edge(DOWN, buff=0.9)
    scene.narrate_claim("step4.bradley_terry")
    scene.play(Write(model), run_time=2)
    scene.wait(style.HOLD + 1)
    scene.play(
        FadeOut(comparison, shift=UP * 0.3),
        model.animate.scale(0.8).next_to(title, DOWN, buff=0.35).set_x(0),
    )

    identity = scene.claim("step4.sigmoid_identity").move_to(LEFT * 3.4 + UP * 0.2)
    scene.narrate_claim("step4.sigmoid_identity")
    scene.play(Write(identity), run_time=2)
    axes = Axes(
        x_range=[-6, 6, 2],
        y_range=[0, 1, 0.5],
        x_length=5.6,
        y_length=3.0,
        axis_config={"include_numbers": True, "font_size": 22, "color": style.MUTED},
    ).move_to(RIGHT * 3.3 + DOWN * 0.6)
    x_label = scene.label("A - B", font_size=28).next_to(axes.x_axis, DOWN, buff=0.4)
    curve = axes.plot(win_probability, color=style.CHOSEN)
    scene.play(Create(axes), FadeIn(x_label), run_time=1.2)
    scene.play(Create(curve), run_time=1.2)

    difference = ValueTracker(-4.0)
    dot = always_redraw(
        lambda: Dot(
            axes.c2p(difference.get_value(), win_probability(difference.get_value())),
            color=style.OPTIMAL,
        )
    )
    readout = always_redraw(
        lambda: quantities.PROBABILITY.number(
            win_probability(difference.get_value()),
            font_size=style.CAPTION_FONT_SIZE,
            color=style.OPTIMAL,
        ).next_to(dot, UP + LEFT, buff=0.1)
    )
    scene.add(dot, readout)
    scene.play(difference.animate.set_value(4.0), run_time=3)
    shift = scene.claim("step4.only_differences", font_size=style.SMALL_FONT_SIZE)
    shift.next_to(identity, DOWN, buff=0.9)
    scene.narrate_claim("step4.only_differences")
    scene.play(Write(shift), run_time=2)
    scene.play(Indicate(dot, color=style.OPTIMAL), run_time=1)
    scene.wait(style.HOLD)
    dot.clear_updaters()
    readout.clear_updaters()
    scene.play(FadeOut(VGroup(identity, axes, x_label, curve, dot, readout, shift)))
    return model


def substitute_and_cancel(scene: ClaimScene, model) -> None:
    """Put step 3's reward into the preference; the two β log Z(x) terms cancel."""
    reward = scene.claim(
        "step3.reparameterisation",
        parts=[REWARD_TERM, LOG_Z_TERM],
        font_size=style.SMALL_FONT_SIZE,
    )
    reward.next_to(model, DOWN, buff=0.5)
    scene.narrate(
        "Step {step} wrote every reward as β log π*/π_ref plus β log Z(x). Substitute it.",
        step=quantities.derivation_step(3),
    )
    scene.play(FadeIn(reward, shift=DOWN * 0.2))
    scene.wait(1.5)

    substituted = scene.claim(
        "step4.substituted",
        parts=[PREFERENCE, CHOSEN_TERM, REJECTED_TERM, LOG_Z_TERM],
        font_size=EQUATION_FONT_SIZE,
    ).move_to(DOWN * 1.3)
    log_z_terms = parts_of(substituted, LOG_Z_TERM)
    carried = VGroup(
        parts_of(substituted, CHOSEN_TERM),
        parts_of(substituted, REJECTED_TERM),
        log_z_terms,
    )
    rest = VGroup(*(part for part in substituted if not any(part in g for g in carried)))
    source_ratio = parts_of(reward, REWARD_TERM)
    source_z = parts_of(reward, LOG_Z_TERM)
    scene.narrate_claim("step4.substituted")
    scene.play(
        FadeIn(rest),
        ReplacementTransform(source_ratio.copy(), carried[0]),
        ReplacementTransform(source_ratio.copy(), carried[1]),
        ReplacementTransform(source_z.copy(), log_z_terms[0]),
        ReplacementTransform(source_z.copy(), log_z_terms[1]),
        run_time=2.5,
    )
    # The pieces landed where the equation's own parts are: swap them for the equation.
    scene.remove(rest, carried[0], carried[1], *log_z_terms)
    scene.add(substituted)
    scene.wait(style.HOLD + 1)

    # The climax: the same term, in the same colour, struck through together.
    scene.narrate("Both answers share the prompt x, so both carry the very same β log Z(x)...")
    scene.play(log_z_terms.animate.set_color(style.PARTITION), run_time=0.8)
    scene.play(
        AnimationGroup(
            *(Indicate(term, color=style.PARTITION, scale_factor=1.15) for term in log_z_terms)
        ),
        run_time=1.5,
    )
    strikes = VGroup(*(strike(term) for term in log_z_terms))
    note = remark(scene, "the same number, added once and subtracted once", color=style.PARTITION)
    note.next_to(substituted, DOWN, buff=0.45)
    scene.narrate("...once with a plus and once with a minus. They cancel.")
    scene.play(*(Create(line) for line in strikes), FadeIn(note, shift=UP * 0.2), run_time=1.2)
    scene.mark_poster()
    scene.wait(style.HOLD + 1)

    cancelled = scene.claim(
        "step4.z_cancels",
        parts=[PREFERENCE, CHOSEN_TERM, REJECTED_TERM],
        font_size=EQUATION_FONT_SIZE,
    ).move_to(substituted)
    scene.narrate_claim("step4.z_cancels")
    scene.play(
        TransformMatchingTex(substituted, cancelled),
        FadeOut(strikes),
        FadeOut(note),
        FadeOut(reward),
        run_time=2.5,
    )
    scene.play(cancelled.animate.scale(1.15).move_to(DOWN * 0.4))
    scene.wait(style.HOLD)
    both_ways(scene, cancelled)


def both_ways(scene: ClaimScene, cancelled) -> None:
    """The lab's check in one pair: the preference from r equals the one from π* and π_ref."""
    p = labdata.prompt(0)
    chosen, rejected = p.best, p.worst
    from_reward = labdata.preference_from_reward(p, chosen, rejected)
    from_policies = labdata.preference_from_policies(p, chosen, rejected, p.beta)
    pair = f"“{p.responses[chosen]}” over “{p.responses[rejected]}”"
    rows = VGroup(
        VGroup(
            remark(scene, "from the reward $r$:"),
            quantities.PROBABILITY.number(from_reward, color=style.CHOSEN),
        ).arrange(RIGHT, buff=0.3),
        VGroup(
            remark(scene, r"from $\pi^*$ and $\pi_{\mathrm{ref}}$ alone:"),
            quantities.PROBABILITY.number(from_policies, color=style.CHOSEN),
        ).arrange(RIGHT, buff=0.3),
    ).arrange(DOWN, aligned_edge=RIGHT, buff=0.3)
    heading_line = VGroup(remark(scene, "In the toy world, $p^*$ of"), model_text(pair))
    heading_line.arrange(RIGHT, buff=0.25)
    block = VGroup(heading_line, rows).arrange(DOWN, buff=0.35).next_to(cancelled, DOWN, 0.8)
    scene.narrate("Check it in the toy world: one preference, computed both ways by the lab.")
    scene.play(FadeIn(block, shift=UP * 0.2))
    scene.wait(style.HOLD + 1)
    scene.narrate("Z(x) is gone: preferences are written in π* and π_ref alone.")


def present(scene: ClaimScene) -> None:
    """Step 4, as a clip or as a section of the lecture."""
    title = heading(scene, CLIP)
    scene.play(FadeIn(title, shift=DOWN * 0.2))
    model = the_sigmoid(scene, title)
    substitute_and_cancel(scene, model)
    scene.narrate(None)


class Step4BradleyTerry(ClaimScene):
    def construct(self) -> None:
        present(self)
