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
    DashedLine,
    Dot,
    FadeIn,
    FadeOut,
    Indicate,
    MathTex,
    ValueTracker,
    VGroup,
    Write,
    always_redraw,
    there_and_back,
)

from lab import preference_prob
from scenes import labdata, quantities, style
from scenes.base import ClaimScene, parts_of
from scenes.catalog import find_clip
from scenes.widgets import box, heading, model_text, remark, strike

CLIP = find_clip("step4_bradley_terry")
# Key moments (scene.moment): mid-clip snapshots compare the frame there.
MOMENTS = ("sigmoid_plot", "substituted", "z_cancelled")

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
    scene.narrate(
        "The data DPO learns from: a person sees two answers to one prompt and prefers y_w to y_l."
    )
    scene.play(FadeIn(prompt_text))
    scene.play(FadeIn(answers, shift=UP * 0.2))
    scene.play(Write(prefers), FadeIn(names, shift=DOWN * 0.2))
    scene.wait(1.5)
    return VGroup(prompt_text, answers, names, prefers)


def sigmoid_axes(scene: ClaimScene) -> tuple[Axes, VGroup]:
    """Axes for σ(A − B) against A − B, with the probabilities 0, ½ and 1 marked and labelled
    at the plot's left edge (guides at ½ and 1), and both axes named."""
    axes = Axes(
        x_range=[-6, 6, 2],
        y_range=[0, 1.12, 0.5],
        x_length=5.2,
        y_length=3.0,
        axis_config={"color": style.MUTED},
        x_axis_config={"include_numbers": True, "font_size": style.CAPTION_FONT_SIZE},
        y_axis_config={"include_tip": False},
    ).move_to(RIGHT * 3.7 + DOWN * 0.75)
    axes.x_axis.numbers.set_color(style.TEXT)
    left = axes.x_range[0]
    guides = VGroup(
        *(
            DashedLine(axes.c2p(left, v), axes.c2p(-left, v), color=style.MUTED, stroke_width=1.5)
            for v in (0.5, 1.0)
        )
    )
    ticks = VGroup(
        *(
            scene.label(tex, font_size=style.CAPTION_FONT_SIZE).next_to(
                axes.c2p(left, v), LEFT, buff=0.2
            )
            for tex, v in (("0", 0.0), (r"\frac{1}{2}", 0.5), ("1", 1.0))
        )
    )
    x_label = scene.label("A - B", font_size=style.CAPTION_FONT_SIZE)
    x_label.next_to(axes.x_axis, DOWN, buff=0.2)
    y_label = scene.label(r"\sigma(A - B)", font_size=style.CAPTION_FONT_SIZE)
    y_label.next_to(axes.y_axis, UP, buff=0.15)
    return axes, VGroup(guides, ticks, x_label, y_label)


def the_sigmoid(scene: ClaimScene, title: VGroup) -> VGroup:
    """Bradley–Terry, then the identity e^A/(e^A+e^B) = σ(A−B) on a curve: only A − B counts."""
    comparison = a_comparison(scene)
    model = scene.claim("step4.bradley_terry").move_to(DOWN * 1.2)
    p_star = remark(scene, r"$p^*$: the true probability that $y_w$ is preferred to $y_l$")
    p_star.next_to(model, DOWN, buff=0.35)
    scene.narrate_claim("step4.bradley_terry")
    scene.play(Write(model), run_time=2)
    scene.play(FadeIn(p_star, shift=UP * 0.2))
    scene.wait(style.HOLD)
    scene.play(
        FadeOut(comparison, p_star, shift=UP * 0.3),
        model.animate.scale(0.8).next_to(title, DOWN, buff=0.35).set_x(0),
    )

    identity = scene.claim("step4.sigmoid_identity").move_to(LEFT * 3.4 + UP * 0.5)
    sigma = remark(scene, r"$\sigma$: the logistic sigmoid").next_to(identity, DOWN, buff=0.3)
    scene.narrate_claim("step4.sigmoid_identity")
    scene.play(Write(identity), run_time=2)
    scene.play(FadeIn(sigma, shift=UP * 0.2))
    axes, labels = sigmoid_axes(scene)
    curve = axes.plot(win_probability, color=style.TEXT)
    scene.narrate("σ, the logistic sigmoid, squashes any reward difference into a probability.")
    scene.play(Create(axes), FadeIn(labels), run_time=1.2)
    scene.play(Create(curve), run_time=1.2)

    difference = ValueTracker(-4.0)
    dot = always_redraw(
        lambda: Dot(
            axes.c2p(difference.get_value(), win_probability(difference.get_value())),
            radius=0.09,
            color=style.BACKGROUND,
            stroke_color=style.TEXT,
            stroke_width=3,
        )
    )
    readout = always_redraw(
        lambda: quantities.PROBABILITY.number(
            win_probability(difference.get_value()),
            font_size=style.CAPTION_FONT_SIZE,
            color=style.TEXT,
        ).next_to(dot, UP + LEFT, buff=0.1)
    )
    scene.add(dot, readout)
    scene.play(difference.animate.set_value(4.0), run_time=3)
    # The dot stays where the sweep left it, a beat.
    dot.clear_updaters()
    readout.clear_updaters()
    scene.wait(0.3)
    scene.moment("sigmoid_plot")
    shift = scene.claim("step4.only_differences", font_size=style.SMALL_FONT_SIZE)
    shift.next_to(sigma, DOWN, buff=0.6)
    scene.narrate_claim("step4.only_differences")
    scene.play(Write(shift), run_time=2)
    scene.play(Indicate(dot, color=style.TEXT), run_time=1)
    scene.wait(style.HOLD)
    scene.play(FadeOut(VGroup(identity, sigma, axes, labels, curve, dot, readout, shift)))
    return model


def substitute(scene: ClaimScene, model) -> tuple[MathTex, MathTex]:
    """Step 3's reward, then the preference with it substituted for both answers: each piece of
    the reward flies from its place in step 3's line to its slot, nothing morphs."""
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
    chosen_z, rejected_z = parts_of(substituted, LOG_Z_TERM)
    # y_w's reward, then y_l's: its two terms drop into their slots while step 3's terms pulse.
    rewards = [
        VGroup(parts_of(substituted, CHOSEN_TERM)[0], chosen_z),
        VGroup(parts_of(substituted, REJECTED_TERM)[0], rejected_z),
    ]
    carried = {id(part) for reward_terms in rewards for part in reward_terms}
    rest = VGroup(*(part for part in substituted if id(part) not in carried))
    sources = [parts_of(reward, REWARD_TERM)[0], parts_of(reward, LOG_Z_TERM)[0]]
    scene.narrate_claim("step4.substituted")
    scene.play(FadeIn(rest), run_time=0.8)
    for reward_terms in rewards:
        scene.play(
            *(FadeIn(term, shift=DOWN * 0.8) for term in reward_terms),
            *(source.animate(rate_func=there_and_back).scale(1.06) for source in sources),
            run_time=1.1,
        )
    # The pieces landed where the equation's own parts are: swap them for the equation.
    scene.remove(rest, *(term for reward_terms in rewards for term in reward_terms))
    scene.add(substituted)
    scene.moment("substituted")
    scene.wait(style.HOLD + 1)
    return reward, substituted


def substitute_and_cancel(scene: ClaimScene, model) -> None:
    """Put step 3's reward into the preference; the two β log Z(x) terms cancel."""
    reward, substituted = substitute(scene, model)
    log_z_terms = parts_of(substituted, LOG_Z_TERM)
    # The climax: the same term, in the same colour, struck through together.
    scene.narrate("Both answers share the prompt x, so both carry the very same β log Z(x)...")
    scene.play(log_z_terms.animate.set_color(style.PARTITION), run_time=0.8)
    scene.play(
        AnimationGroup(
            *(Indicate(term, color=style.PARTITION, scale_factor=1.15) for term in log_z_terms)
        ),
        run_time=1.5,
    )
    # Strokes in the text's colour: they must stand out on the purple terms they strike.
    strikes = VGroup(
        *(strike(term, color=style.TEXT, stroke_width=5).scale(0.9) for term in log_z_terms)
    )
    note = remark(scene, "the same number, added once and subtracted once", color=style.PARTITION)
    note.next_to(substituted, DOWN, buff=0.45)
    scene.narrate("...once with a plus and once with a minus. They cancel.")
    scene.play(*(Create(line) for line in strikes), FadeIn(note, shift=UP * 0.2), run_time=1.2)
    scene.mark_poster()
    scene.wait(style.HOLD + 1)
    cancelled = close_up(scene, substituted, strikes, VGroup(note, reward))
    scene.play(cancelled.animate.scale(1.15).move_to(DOWN * 0.2))
    scene.moment("z_cancelled")
    scene.wait(style.HOLD)
    both_ways(scene, cancelled)


def close_up(scene: ClaimScene, substituted: MathTex, strikes: VGroup, aside: VGroup) -> MathTex:
    """The struck terms and their signs fade where they stand; then what is left slides together
    into the cancelled equation. Every piece keeps its order, so none passes over another."""
    cancelled = scene.claim(
        "step4.z_cancels",
        parts=[PREFERENCE, CHOSEN_TERM, REJECTED_TERM],
        font_size=EQUATION_FONT_SIZE,
    ).move_to(substituted)
    # substituted: [" ", p*, "= σ(", chosen, "+", log Z, "−", rejected, "−", log Z, ")"]
    # cancelled:   [" ", p*, "= σ(", chosen, "−", rejected, ")"]
    struck = VGroup(*(substituted[i] for i in (4, 5, 8, 9)))
    kept = [(1, 1), (2, 2), (3, 3), (6, 4), (7, 5), (10, 6)]
    scene.narrate_claim("step4.z_cancels")
    scene.play(FadeOut(struck, strikes, aside), run_time=1.2)
    scene.play(
        *(substituted[i].animate.move_to(cancelled[j]) for i, j in kept),
        run_time=1.3,
    )
    # The moved pieces were added to the scene one by one: they leave with the equation.
    scene.remove(substituted, *(substituted[i] for i, _ in kept))
    scene.add(cancelled)
    return cancelled


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
            quantities.PROBABILITY.number(from_reward, color=style.TEXT),
        ).arrange(RIGHT, buff=0.3),
        VGroup(
            remark(scene, r"from $\pi^*$ and $\pi_{\mathrm{ref}}$ alone:"),
            quantities.PROBABILITY.number(from_policies, color=style.TEXT),
        ).arrange(RIGHT, buff=0.3),
    ).arrange(DOWN, aligned_edge=RIGHT, buff=0.3)
    heading_line = VGroup(
        remark(scene, "In the toy world, $p^*$ of"),
        model_text(pair, font_size=style.CAPTION_FONT_SIZE),
    )
    heading_line.arrange(RIGHT, buff=0.25)
    block = VGroup(heading_line, rows).arrange(DOWN, buff=0.35).next_to(cancelled, DOWN, 0.6)
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
