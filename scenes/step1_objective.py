"""Step 1 — the RLHF objective: maximise expected reward, minus β times the KL from π_ref.

The clip names each term (reward, KL penalty, β), shows what β trades off, and why gradient
descent cannot optimise the objective directly: y is sampled, and sampling has no gradient.

Render with:  manim render scenes/step1_objective.py Step1Objective
"""

from __future__ import annotations

import itertools

import torch
from manim import (
    DOWN,
    RIGHT,
    UP,
    Arrow,
    Create,
    Cross,
    CurvedArrow,
    FadeIn,
    FadeOut,
    GrowArrow,
    GrowFromCenter,
    Indicate,
    LaggedStart,
    Square,
    VGroup,
    Write,
)

from scenes import labdata, quantities, style
from scenes.base import ClaimScene, parts_of
from scenes.catalog import find_clip
from scenes.widgets import box, brace_note, heading, model_text, remark

CLIP = find_clip("step1_objective")
SAMPLES = 2  # responses drawn from π_ref to show what "y ~ π" means
SAMPLE_SEED = 2
MOMENTS = ("terms_named", "sampling_blocked")

OVER_PROMPTS = r"\mathbb{E}_{x \sim \mathcal{D}}"
EXPECTED_REWARD = r"\mathbb{E}_{y \sim \pi(y \mid x)}\big[r(x, y)\big]"
KL_TERM = r"\mathrm{KL}\big(\pi(y \mid x) \,\|\, \pi_{\mathrm{ref}}(y \mid x)\big)"


def sampled_responses(p: labdata.Prompt, count: int) -> list[int]:
    """Response indices drawn from π_ref (seeded): what a policy's answers look like."""
    pi_ref, _ = p.tensors()
    generator = torch.Generator().manual_seed(SAMPLE_SEED)
    return torch.multinomial(pi_ref, count, replacement=True, generator=generator).tolist()


def sampling_pipeline(scene: ClaimScene) -> None:
    """A prompt x, a sampled response y, its reward r(x, y): the objects of the objective."""
    p = labdata.prompt(0)
    prompt_text = model_text(p.text)
    prompt_box = VGroup(box(prompt_text), prompt_text)
    response_frame = box(model_text(max(p.responses, key=len)), buff=0.3)
    reward = quantities.REWARD.number(0, color=style.REWARD)
    reward_frame = box(reward, color=style.REWARD)
    row = VGroup(prompt_box, response_frame, reward_frame).arrange(RIGHT, buff=1.5)
    row.shift(UP * 0.6)
    policy_arrow = Arrow(prompt_box.get_right(), response_frame.get_left(), buff=0.1)
    reward_arrow = Arrow(response_frame.get_right(), reward_frame.get_left(), buff=0.1)
    policy_label = scene.label(r"\pi(y \mid x)", font_size=32).next_to(policy_arrow, UP, 0.1)
    reward_label = scene.label(r"r(x, y)", font_size=32).next_to(reward_arrow, UP, 0.1)
    names = VGroup(
        remark(scene, "prompt $x$").next_to(prompt_box, DOWN),
        remark(scene, "response $y$").next_to(response_frame, DOWN),
        remark(scene, "reward", color=style.REWARD).next_to(reward_frame, DOWN),
        remark(scene, r"policy $\pi$").next_to(policy_arrow, DOWN, buff=0.2),
    )

    scene.narrate("A language model, the policy π, answers a prompt x by sampling a response y.")
    scene.play(FadeIn(prompt_box, names[0]))
    scene.play(GrowArrow(policy_arrow), Write(policy_label), FadeIn(names[3]))
    scene.play(FadeIn(response_frame, names[1]))
    scene.narrate("A reward r(x, y) scores each answer: correct and concise scores high.")
    scene.play(GrowArrow(reward_arrow), Write(reward_label), FadeIn(reward_frame, names[2]))
    for draw in sampled_responses(p, SAMPLES):
        answer = model_text(p.responses[draw]).move_to(response_frame)
        score = reward.copy().set_value(p.reward[draw]).move_to(reward_frame)
        scene.play(FadeIn(answer, shift=0.3 * RIGHT), FadeIn(score, shift=0.3 * RIGHT))
        scene.wait(1.2)
        scene.play(FadeOut(answer), FadeOut(score), run_time=0.5)
    scene.narrate("RLHF wants a policy whose sampled answers score high on average...")
    scene.wait(0.5)
    everything = VGroup(row, policy_arrow, reward_arrow, policy_label, reward_label, names)
    scene.play(FadeOut(everything, shift=UP * 0.5))


def name_the_terms(scene: ClaimScene) -> VGroup:
    """The objective, then a brace under each term and an arrow to β, each named in words."""
    objective = scene.claim(
        "step1.objective", parts=[OVER_PROMPTS, EXPECTED_REWARD, KL_TERM, r"\beta"]
    )
    objective.move_to(UP * 1.3)
    scene.narrate("...without drifting far from π_ref, the reference model it started from.")
    scene.play(Write(objective), run_time=2.5)
    scene.narrate_claim("step1.objective")
    scene.wait(style.HOLD)

    reward_note = brace_note(
        scene, parts_of(objective, EXPECTED_REWARD), "expected reward", color=style.REWARD
    )
    kl_note = brace_note(
        scene,
        parts_of(objective, KL_TERM),
        r"KL divergence: how far $\pi$ is from $\pi_{\mathrm{ref}}$",
    )
    beta = parts_of(objective, r"\beta")
    beta_note = remark(scene, r"$\beta$: how much the KL counts", color=style.BETA)
    beta_note.next_to(objective, UP, buff=0.6).align_to(beta, RIGHT).shift(RIGHT * 0.6)
    beta_arrow = Arrow(beta_note.get_bottom(), beta.get_top(), buff=0.08, color=style.BETA)

    scene.narrate("First, the expected reward, over prompts x from a dataset D.")
    scene.play(
        GrowFromCenter(reward_note[0]),
        FadeIn(reward_note[1], shift=DOWN * 0.2),
        Indicate(parts_of(objective, OVER_PROMPTS), color=style.TEXT),
    )
    scene.narrate("Second, the Kullback–Leibler divergence, KL: how far π drifts from π_ref.")
    scene.play(GrowFromCenter(kl_note[0]), FadeIn(kl_note[1], shift=DOWN * 0.2))
    scene.narrate("β sets how much the KL penalty counts.")
    scene.play(FadeIn(beta_note), GrowArrow(beta_arrow), Indicate(beta, color=style.BETA))
    scene.moment("terms_named")

    kl_fact = scene.claim("step1.kl_nonnegative", font_size=style.SMALL_FONT_SIZE)
    kl_fact.move_to(DOWN * 0.6)
    scene.narrate_claim("step1.kl_nonnegative")
    scene.play(
        FadeIn(kl_fact, shift=DOWN * 0.3),
        Indicate(parts_of(objective, KL_TERM), color=style.TEXT, scale_factor=1.05),
        run_time=1.5,
    )
    scene.wait(1)

    optimum = remark(scene, r"$\pi^*$: the policy that maximises this objective")
    optimum.move_to(DOWN * 1.5)
    limits = scene.claim("step1.beta_limits", font_size=style.SMALL_FONT_SIZE)
    limits.move_to(DOWN * 2.3)
    scene.narrate("π*, the optimal policy, is the one that maximises this objective.")
    scene.play(FadeIn(optimum, shift=UP * 0.2))
    scene.narrate_claim("step1.beta_limits")
    scene.play(Write(limits), run_time=2)
    scene.wait(1)
    notes = VGroup(reward_note, kl_note, beta_note, beta_arrow, kl_fact, optimum, limits)
    scene.play(FadeOut(notes))
    return objective


def backward_path(frames: VGroup) -> VGroup:
    """The gradient's way back, one hop per stage, under the pipeline: r → sample → π_θ → θ."""
    hops = VGroup()
    for later, earlier in itertools.pairwise(reversed(frames)):
        hops.add(
            CurvedArrow(
                later.get_bottom() + DOWN * 0.1,
                earlier.get_bottom() + DOWN * 0.1,
                angle=-1.2,
                color=style.TEXT,
                stroke_width=3,
                tip_length=0.2,
            )
        )
    return hops


def why_not_gradient_descent(scene: ClaimScene, objective) -> None:
    """θ → π_θ → sample y → r: the gradient cannot flow back through the sampling step."""
    scene.play(objective.animate.scale(0.8).move_to(UP * 2.3))
    theta = scene.label(r"\theta", font_size=40)
    policy = scene.label(r"\pi_\theta(y \mid x)", font_size=36)
    sample = remark(scene, "sample $y$")
    reward = scene.label(r"r(x, y)", font_size=36)
    stages = VGroup(theta, policy, sample, reward).arrange(RIGHT, buff=1.5).shift(UP * 0.6)
    frames = VGroup(*(box(stage, buff=0.2) for stage in stages))
    forward = VGroup(
        *(
            Arrow(a.get_right(), b.get_left(), buff=0.08, stroke_width=3)
            for a, b in itertools.pairwise(frames)
        )
    )
    scene.narrate(
        "For gradient descent, make π a network π_θ with parameters θ, and follow the samples..."
    )
    scene.play(
        *(FadeIn(VGroup(s, f)) for s, f in zip(stages, frames, strict=True)),
        *(GrowArrow(arrow) for arrow in forward),
        run_time=2,
    )
    hops = backward_path(frames)  # hops[0]: r → sample; hops[1]: sample → π_θ; hops[2]: π_θ → θ
    gradient_note = remark(scene, "gradient").next_to(hops[0], DOWN, buff=0.12)
    scene.narrate("...and push the gradient of the reward back to the parameters θ.")
    scene.play(
        LaggedStart(*(Create(hop) for hop in hops), lag_ratio=0.6),
        FadeIn(gradient_note),
        run_time=2,
    )
    # The block sits on the hop out of the sampling step, so the words "sample y" stay clear.
    where = Square(side_length=0.4).move_to(hops[1].point_from_proportion(0.5))
    blocked = Cross(where, stroke_color=style.TEXT, stroke_width=6)
    stuck = remark(scene, "sampling a discrete $y$ has no gradient")
    stuck.next_to(frames[2], UP, buff=0.25)
    scene.narrate("But y is sampled: a discrete draw, with no gradient to pass back.")
    scene.play(
        *(hop.animate.fade(0.75) for hop in hops[1:]),
        Create(blocked),
        FadeIn(stuck),
        run_time=1.5,
    )
    scene.moment("sampling_blocked")

    estimate = scene.claim("step1.score_function", font_size=style.SMALL_FONT_SIZE)
    estimate.move_to(DOWN * 1.7)
    scene.narrate_claim("step1.score_function")
    scene.play(Write(estimate), run_time=2)
    scene.wait(1)
    cost = remark(scene, "noisy estimates from samples, a reward model, an RL loop")
    cost.set_color(style.MUTED).next_to(estimate, DOWN, buff=0.35)
    scene.narrate("That works, but it is noisy and needs a reward model and an RL loop.")
    scene.play(FadeIn(cost, shift=UP * 0.2))
    scene.wait(1)
    scene.narrate(
        "DPO takes another road: solve for the best policy exactly. That is step {step}.",
        step=quantities.derivation_step(2),
    )
    scene.narrate(None)


def present(scene: ClaimScene) -> None:
    """Step 1, as a clip or as a section of the lecture."""
    title = heading(scene, CLIP)
    scene.play(FadeIn(title, shift=DOWN * 0.2))
    sampling_pipeline(scene)
    objective = name_the_terms(scene)
    why_not_gradient_descent(scene, objective)


class Step1Objective(ClaimScene):
    def construct(self) -> None:
        present(self)
