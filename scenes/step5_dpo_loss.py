"""Step 5 — the DPO loss: put the trained policy π_θ where π* was, and fit the preferences.

    L_DPO = −E[log σ(β log π_θ(y_w)/π_ref(y_w) − β log π_θ(y_l)/π_ref(y_l))]

Its two log-ratios are implicit rewards; RLHF's reward-model loss, lined up under it, is the
same classification loss with r_φ in their place. Then the proof in numbers: the lab trains a
tabular π_θ with this loss on the toy world's preference pairs, and its bars settle onto the
closed-form π* of step 2. The training runs while
the clip renders, once: ``labdata.training`` caches it under build/cache, keyed by its settings.

Render with:  manim render scenes/step5_dpo_loss.py Step5DpoLoss
"""

from __future__ import annotations

from manim import (
    DOWN,
    LEFT,
    RIGHT,
    UP,
    FadeIn,
    FadeOut,
    GrowFromCenter,
    Indicate,
    VGroup,
    Write,
)

from scenes import labdata, quantities, style
from scenes.base import ClaimScene, parts_of
from scenes.catalog import find_clip
from scenes.widgets import (
    BarColumn,
    NumberColumn,
    brace_note,
    heading,
    lay_out_columns,
    model_text,
    remark,
    row_names,
    scientific,
)

CLIP = find_clip("step5_dpo_loss")

OPTIMAL_W = r"\pi^*(y_w \mid x)"
OPTIMAL_L = r"\pi^*(y_l \mid x)"
POLICY_W = r"\pi_\theta(y_w \mid x)"
POLICY_L = r"\pi_\theta(y_l \mid x)"
REFERENCE_W = r"\pi_{\mathrm{ref}}(y_w \mid x)"
REFERENCE_L = r"\pi_{\mathrm{ref}}(y_l \mid x)"
CHOSEN_REWARD = r"\beta \log \frac{\pi_\theta(y_w \mid x)}{\pi_{\mathrm{ref}}(y_w \mid x)}"
REJECTED_REWARD = r"\beta \log \frac{\pi_\theta(y_l \mid x)}{\pi_{\mathrm{ref}}(y_l \mid x)}"
EXPECTATION = r"-\mathbb{E}_{(x, y_w, y_l) \sim \mathcal{D}}"  # in the DPO and reward-model losses
REWARD_MODEL_W = r"r_\phi(x, y_w)"
REWARD_MODEL_L = r"r_\phi(x, y_l)"
LOSS_FONT_SIZE = 36


def derive_the_loss(scene: ClaimScene, title: VGroup):
    """Step 4's preference in π* → the DPO loss in π_θ."""
    shared = [r"\beta", REFERENCE_W, REFERENCE_L]
    preference = scene.claim(
        "step4.z_cancels", parts=[*shared, OPTIMAL_W, OPTIMAL_L], font_size=LOSS_FONT_SIZE
    )
    preference.move_to(UP * 0.8)
    scene.narrate(
        "Step {step}: the preference written in π* and π_ref alone.",
        step=quantities.derivation_step(4),
    )
    scene.play(FadeIn(preference, shift=UP * 0.3))
    scene.wait(1)
    scene.narrate(
        "π* is what we want but do not know. Put the policy we train, π_θ, in its place..."
    )
    scene.play(
        Indicate(parts_of(preference, OPTIMAL_W), color=style.OPTIMAL),
        Indicate(parts_of(preference, OPTIMAL_L), color=style.OPTIMAL),
        run_time=1.5,
    )
    scene.wait(0.5)
    scene.narrate(
        "...and make the observed preferences likely: minimise their negative log-likelihood."
    )
    loss = scene.transform_claim(
        preference,
        "step5.dpo_loss",
        parts=[*shared, POLICY_W, POLICY_L],
        key_map={OPTIMAL_W: POLICY_W, OPTIMAL_L: POLICY_L},
        font_size=LOSS_FONT_SIZE,
        run_time=2.5,
        hold=1,
    )
    return scene.regroup(loss, "step5.dpo_loss", [EXPECTATION, CHOSEN_REWARD, REJECTED_REWARD])


def name_the_rewards(scene: ClaimScene, loss, title: VGroup):
    """The loss's two log-ratios named as implicit rewards; under them, the reward model's loss,
    the same loss with r_φ where the implicit rewards are."""
    chosen = brace_note(
        scene, parts_of(loss, CHOSEN_REWARD), "implicit reward of $y_w$", color=style.CHOSEN
    )
    rejected = brace_note(
        scene, parts_of(loss, REJECTED_REWARD), "implicit reward of $y_l$", color=style.REJECTED
    )
    below_the_notes = VGroup(chosen, rejected).get_bottom()[1] - 0.5
    implicit = scene.claim("step6.implicit_reward", font_size=style.SMALL_FONT_SIZE)
    implicit.set_y(below_the_notes - implicit.height / 2)
    scene.narrate_claim("step6.implicit_reward")
    scene.play(GrowFromCenter(chosen[0]), FadeIn(chosen[1]), run_time=1.2)
    scene.play(GrowFromCenter(rejected[0]), FadeIn(rejected[1]), run_time=1.2)
    scene.play(Write(implicit), run_time=1.5)
    scene.wait(1)

    reward_model = scene.claim(
        "step5.reward_model_loss",
        parts=[EXPECTATION, REWARD_MODEL_W, REWARD_MODEL_L],
        font_size=LOSS_FONT_SIZE,
    )
    # Line the two losses up at their shared −E[…]: the same loss, term under term.
    reward_model.set_y(below_the_notes - reward_model.height / 2)
    shared_x = parts_of(loss, EXPECTATION).get_left()[0]
    reward_model.shift(RIGHT * (shared_x - parts_of(reward_model, EXPECTATION).get_left()[0]))
    scene.narrate_claim("step5.reward_model_loss")
    scene.play(FadeOut(implicit, shift=DOWN * 0.2), run_time=0.6)
    scene.play(FadeIn(reward_model, shift=UP * 0.2))
    # r_φ of each response flashes in its colour, with the brace over the implicit reward that
    # takes its place. Gently: scaled up, r_φ would touch the minus sign, and the braces each other.
    scene.play(
        Indicate(parts_of(reward_model, REWARD_MODEL_W), color=style.CHOSEN, scale_factor=1),
        Indicate(chosen[0], color=style.CHOSEN, scale_factor=1.1),
        Indicate(parts_of(reward_model, REWARD_MODEL_L), color=style.REJECTED, scale_factor=1),
        Indicate(rejected[0], color=style.REJECTED, scale_factor=1.1),
        run_time=1.5,
    )
    scene.wait(1)
    plain = remark(
        scene,
        "a classification loss on preference pairs: no sampling, no RL loop",
        color=style.MUTED,
    )
    plain.next_to(reward_model, DOWN, buff=0.45).set_x(0)
    scene.narrate("So DPO is a plain classification loss on pairs: no sampling, no RL loop.")
    scene.play(FadeIn(plain, shift=UP * 0.2))
    scene.wait(1)
    scene.play(
        FadeOut(VGroup(chosen, rejected, reward_model, plain)),
        loss.animate.scale(0.85).next_to(title, DOWN, buff=0.4).set_x(0),
    )
    return loss


def train_it(scene: ClaimScene, loss) -> VGroup:
    """The lab's DPO training on the toy world: π_θ's bars settle onto π*'s outlines."""
    run = labdata.training()
    p = labdata.prompt(0)
    start = run.snapshots[0]

    at_reference = scene.claim("step5.loss_at_reference", font_size=style.SMALL_FONT_SIZE)
    at_reference.next_to(loss, DOWN, buff=0.3)
    scene.narrate_claim("step5.loss_at_reference")
    scene.play(Write(at_reference), run_time=1.5)

    names = row_names(p.responses)
    policy = BarColumn(p.pi_ref, color=style.POLICY, width=4.0, numbers_after_full=True)
    target = BarColumn(
        run.optimal[p.index], color=style.OPTIMAL, width=4.0, outline=True, quantity=None
    )
    target_numbers = NumberColumn(
        run.optimal[p.index], quantity=quantities.PROBABILITY, color=style.OPTIMAL
    )
    table = lay_out_columns(names, [policy, target_numbers], gap=0.4)
    target.shift(RIGHT * (policy.left - target.left))
    table.add(target)
    table.shift(UP * (0.1 - names[0].get_y()))
    header = VGroup(
        scene.label(r"\pi_\theta(y \mid x)", font_size=style.CAPTION_FONT_SIZE + 2),
        remark(scene, "filled,", color=style.MUTED, font_size=26),
        scene.label(r"\pi^*(y \mid x)", font_size=style.CAPTION_FONT_SIZE + 2),
        remark(scene, "outlined", color=style.MUTED, font_size=26),
    ).arrange(RIGHT, buff=0.15)
    header.next_to(policy, UP, buff=0.3).set_x(policy.left + header.width / 2)
    prompt_text = model_text(p.text).align_to(names, RIGHT).align_to(header, DOWN)
    # The prompt is the widest thing on the left: it sets the table's margin.
    VGroup(prompt_text, table, header).to_edge(LEFT, buff=0.5)

    steps_label = remark(scene, "training steps", color=style.MUTED)
    steps_value = quantities.COUNT.number(0, color=style.POLICY, font_size=36)
    loss_label = remark(scene, "expected DPO loss", color=style.MUTED)
    loss_value = quantities.LOSS.number(start.loss, color=style.POLICY, font_size=36)
    error_label = remark(scene, r"max $|\pi_\theta - \pi^*|$", color=style.MUTED)
    error_value = scientific(scene, start.max_abs_error, color=style.POLICY)
    readouts = VGroup(
        VGroup(steps_label, steps_value),
        VGroup(loss_label, loss_value),
        VGroup(error_label, error_value),
    )
    for label, value in readouts:
        value.next_to(label, DOWN, buff=0.15, aligned_edge=RIGHT)
    readouts.arrange(DOWN, aligned_edge=RIGHT, buff=0.35).to_edge(RIGHT, buff=0.7)
    readouts.set_y(table.get_center()[1])

    scene.narrate("Train on the toy world's preference pairs, starting from π_θ = π_ref.")
    scene.play(
        FadeIn(prompt_text),
        FadeIn(names),
        FadeIn(header),
        FadeIn(policy),
        FadeIn(readouts),
        run_time=1.5,
    )
    scene.play(FadeIn(target), FadeIn(target_numbers), run_time=1)
    scene.narrate(
        "The yellow outlines are the closed-form π* of step {step}, at the same β.",
        step=quantities.derivation_step(2),
    )
    scene.wait(1)
    scene.narrate("As the loss falls, π_θ's bars grow into π*'s outlines.")
    previous = start
    for snapshot in run.snapshots[1:]:
        # The bars glide from one computed state to the next; the printed numbers then jump
        # to the lab's values (nothing in between is shown as if it had been computed).
        progress, glide = policy.glide(previous.policy[p.index], snapshot.policy[p.index])
        scene.play(progress.animate.set_value(1.0), run_time=1.4)
        policy.remove_updater(glide)
        policy.set_values(snapshot.policy[p.index])
        steps_value.set_value(snapshot.steps)
        loss_value.set_value(snapshot.loss)
        error_value.become(scientific(scene, snapshot.max_abs_error, color=style.POLICY))
        for label, value in readouts:
            value.next_to(label, DOWN, buff=0.15, aligned_edge=RIGHT)
        scene.play(
            Indicate(
                VGroup(steps_value, loss_value, error_value), color=style.TEXT, scale_factor=1.05
            ),
            run_time=0.6,
        )
        previous = snapshot
    return VGroup(at_reference, prompt_text, table, header, readouts)


def present(scene: ClaimScene) -> None:
    """Step 5, as a clip or as a section of the lecture."""
    title = heading(scene, CLIP)
    scene.play(FadeIn(title, shift=DOWN * 0.2))
    loss = name_the_rewards(scene, derive_the_loss(scene, title), title)
    training = train_it(scene, loss)

    converged = scene.claim("step5.converges_to_optimal", font_size=style.SMALL_FONT_SIZE)
    converged.move_to(training[0])
    scene.narrate_claim("step5.converges_to_optimal")
    scene.play(FadeOut(training[0], shift=UP * 0.2), FadeIn(converged, shift=UP * 0.2))
    scene.wait(1)

    run = labdata.training()
    same = scene.claim("step5.same_as_rlhf", font_size=style.SMALL_FONT_SIZE)
    agreement = VGroup(
        remark(
            scene, "largest difference between the two, toy world:", color=style.MUTED, font_size=26
        ),
        scientific(scene, run.rlhf_max_abs_difference, color=style.POLICY, font_size=30),
    ).arrange(RIGHT, buff=0.25)
    closing = VGroup(same, agreement).arrange(DOWN, buff=0.2).to_edge(DOWN, buff=0.3)
    scene.narrate_claim("step5.same_as_rlhf")
    readouts = training[-1]
    scene.play(FadeOut(readouts, shift=RIGHT * 0.2), FadeIn(closing, shift=UP * 0.2))
    scene.wait(1)
    scene.narrate("That is DPO: the RLHF objective's solution, fitted directly from preferences.")
    scene.narrate(None)


class Step5DpoLoss(ClaimScene):
    def construct(self) -> None:
        present(self)
