"""Step 5 — the DPO loss: put the trained policy π_θ where π* was, and fit the preferences.

    L_DPO = −E[log σ(β log π_θ(y_w)/π_ref(y_w) − β log π_θ(y_l)/π_ref(y_l))]

Its two log-ratios are implicit rewards r̂; RLHF's reward-model loss, lined up under it, is the
same classification loss with the reward model r_φ in their place. Then the proof in numbers: the
lab trains a tabular π_θ with this loss on the toy world's preference pairs, in five separate runs
of growing length, each from π_ref, and the bars settle onto the closed-form π* of step 2. The
training runs while the clip renders, once: ``labdata.training`` caches it under build/cache,
keyed by its settings.

Render with:  manim render scenes/step5_dpo_loss.py Step5DpoLoss
"""

from __future__ import annotations

import numpy as np
import torch
from manim import (
    DOWN,
    LEFT,
    RIGHT,
    UP,
    FadeIn,
    FadeOut,
    GrowFromCenter,
    Indicate,
    Mobject,
    VGroup,
    Write,
)

from lab.worlds.tabular import DTYPE
from scenes import labdata, quantities, style
from scenes.base import ClaimScene, parts_of
from scenes.catalog import find_clip
from scenes.morph import transform_in_stages
from scenes.widgets import (
    ROW_HEIGHT,
    BarColumn,
    NumberColumn,
    box,
    brace_note,
    heading,
    lay_out_columns,
    model_text,
    remark,
    scientific,
)

CLIP = find_clip("step5_dpo_loss")
# Key moments (tests/test_snapshots.py): the loss just written, the table's columns named, the
# bars settled on π* after the last run, DPO's policy equal to RLHF's. Each follows a wait: the
# snapshot draws only what the last play moved, and after a still wait that is the whole screen.
MOMENTS = ("loss_written", "columns_named", "trained", "same_policy")

OPTIMAL_W = r"\pi^*(y_w \mid x)"
OPTIMAL_L = r"\pi^*(y_l \mid x)"
POLICY_W = r"\pi_\theta(y_w \mid x)"
POLICY_L = r"\pi_\theta(y_l \mid x)"
REFERENCE_W = r"\pi_{\mathrm{ref}}(y_w \mid x)"
REFERENCE_L = r"\pi_{\mathrm{ref}}(y_l \mid x)"
CHOSEN_REWARD = r"\beta \log \frac{\pi_\theta(y_w \mid x)}{\pi_{\mathrm{ref}}(y_w \mid x)}"
REJECTED_REWARD = r"\beta \log \frac{\pi_\theta(y_l \mid x)}{\pi_{\mathrm{ref}}(y_l \mid x)}"
EXPECTATION = r"-\mathbb{E}_{(x, y_w, y_l) \sim \mathcal{D}}"  # in the DPO and reward-model losses
SIGMOID = r"\sigma"
REWARD_MODEL_W = r"r_\phi(x, y_w)"
REWARD_MODEL_L = r"r_\phi(x, y_l)"
LOSS_FONT_SIZE = 36
NAME_FONT_SIZE = 28  # the responses and the prompt: no text on screen under 28
# π_θ^DPO and π*_{r_φ} coloured whole: coloured apart, their scripts would be set off the symbol.
SAME_POLICY_COLORS = {r"\pi_\theta^{\mathrm{DPO}}": style.POLICY, r"\pi^*_{r_\phi}": style.OPTIMAL}
# The precision every lab number is computed in: a difference this small is rounding.
MACHINE_EPSILON = torch.finfo(DTYPE).eps


def derive_the_loss(scene: ClaimScene, title: VGroup):
    """Step 4's preference in π* → the DPO loss in π_θ, then D and σ named."""
    shared = [r"\beta", REFERENCE_W, REFERENCE_L]
    preference = scene.claim(
        "step4.z_cancels", parts=[*shared, OPTIMAL_W, OPTIMAL_L], font_size=LOSS_FONT_SIZE
    )
    preference.move_to(UP * 0.8)
    scene.narrate(
        "Step {step}: the probability that y_w is preferred to y_l, in π* and π_ref alone.",
        step=quantities.derivation_step(4),
    )
    scene.play(FadeIn(preference, shift=UP * 0.3))
    scene.wait(1)
    scene.narrate(
        "π*, the optimal policy, is what we want but do not know. "
        "Put the policy we train, π_θ, in its place..."
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
    loss = scene.claim(
        "step5.dpo_loss", parts=[*shared, POLICY_W, POLICY_L], font_size=LOSS_FONT_SIZE
    ).move_to(preference)
    scene.narrate_claim("step5.dpo_loss")
    transform_in_stages(
        scene, preference, loss, key_map={OPTIMAL_W: POLICY_W, OPTIMAL_L: POLICY_L}, run_time=3
    )
    scene.wait(1)
    scene.moment("loss_written")
    loss = scene.regroup(
        loss, "step5.dpo_loss", [EXPECTATION, SIGMOID, CHOSEN_REWARD, REJECTED_REWARD]
    )
    name_the_symbols(scene, loss)
    return loss


def name_the_symbols(scene: ClaimScene, loss) -> None:
    """D and σ, named in words where they first appear; then out of the way."""
    data = brace_note(
        scene, parts_of(loss, EXPECTATION), r"$\mathcal{D}$: the dataset of preference pairs"
    )
    sigmoid = remark(scene, r"$\sigma$: the logistic sigmoid")
    sigmoid.next_to(parts_of(loss, SIGMOID), UP, buff=0.35)
    scene.narrate("Here D is the dataset of preference pairs, and σ the logistic sigmoid.")
    scene.play(GrowFromCenter(data[0]), FadeIn(data[1]), run_time=1.2)
    scene.play(FadeIn(sigmoid, shift=DOWN * 0.2), run_time=0.8)
    scene.wait(1.5)
    scene.play(FadeOut(data), FadeOut(sigmoid), run_time=0.6)


def name_the_rewards(scene: ClaimScene, loss, title: VGroup):
    """The loss's two log-ratios named as implicit rewards r̂; under them, the reward model's
    loss, the same loss with the reward model r_φ where the implicit rewards are."""
    chosen = brace_note(
        scene, parts_of(loss, CHOSEN_REWARD), "implicit reward of $y_w$", color=style.CHOSEN
    )
    rejected = brace_note(
        scene, parts_of(loss, REJECTED_REWARD), "implicit reward of $y_l$", color=style.REJECTED
    )
    below_the_notes = VGroup(chosen, rejected).get_bottom()[1] - 0.5
    implicit = VGroup(
        remark(scene, "the implicit reward:"),
        scene.claim("step6.implicit_reward", font_size=style.SMALL_FONT_SIZE),
    ).arrange(RIGHT, buff=0.3)
    implicit.set_y(below_the_notes - implicit.height / 2)
    scene.narrate_claim("step6.implicit_reward")
    scene.play(GrowFromCenter(chosen[0]), FadeIn(chosen[1]), run_time=1.2)
    scene.play(GrowFromCenter(rejected[0]), FadeIn(rejected[1]), run_time=1.2)
    scene.play(FadeIn(implicit[0]), Write(implicit[1]), run_time=1.5)
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
    reward_model_named = remark(scene, r"$r_\phi$: the reward model RLHF fits to the pairs")
    reward_model_named.next_to(reward_model, DOWN, buff=0.35).set_x(0)
    scene.narrate_claim("step5.reward_model_loss")
    scene.play(FadeOut(implicit, shift=DOWN * 0.2), run_time=0.6)
    scene.play(FadeIn(reward_model, shift=UP * 0.2), FadeIn(reward_model_named, shift=UP * 0.2))
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
    plain = remark(scene, "a classification loss on preference pairs: no sampling, no RL loop")
    plain.next_to(reward_model_named, DOWN, buff=0.35).set_x(0)
    scene.narrate("So DPO is a plain classification loss on pairs: no sampling, no RL loop.")
    scene.play(FadeIn(plain, shift=UP * 0.2))
    scene.wait(1)
    scene.play(
        FadeOut(VGroup(chosen, rejected, reward_model, reward_model_named, plain)),
        loss.animate.scale(0.85).next_to(title, DOWN, buff=0.4).set_x(0),
    )
    return loss


def start_from_reference(scene: ClaimScene, loss) -> VGroup:
    """The loss before training, log 2, and why: every implicit reward is 0 at π_θ = π_ref."""
    run = labdata.training()
    at_reference = scene.claim("step5.loss_at_reference", font_size=style.SMALL_FONT_SIZE)
    zero, two = (
        quantities.notation("0", "an implicit reward at π_θ = π_ref: β log 1"),
        (quantities.notation("2", "log 2: −log σ(0), a pair's loss at π_θ = π_ref")),
    )
    why = remark(
        scene,
        rf"every implicit reward is 0, $\sigma(0) = 1/2$, and "
        rf"$-\log (1/2) = \log 2 = {quantities.LOSS.tex(run.loss_at_reference)}$",
        color=style.MUTED,
    )
    VGroup(at_reference, why).arrange(DOWN, buff=0.2).next_to(loss, DOWN, buff=0.3)
    scene.narrate_claim("step5.loss_at_reference")
    scene.play(Write(at_reference), run_time=1.5)
    scene.narrate(
        "Every implicit reward is then {zero}, σ({zero}) is a half, and minus log a half is "
        "log {two}, {loss}.",
        zero=zero,
        two=two,
        loss=quantities.LOSS(run.loss_at_reference),
    )
    scene.play(FadeIn(why, shift=UP * 0.2))
    return VGroup(at_reference, why)


def response_names(names) -> VGroup:
    """The responses, one per row of the bar table, right-aligned at x = 0."""
    labels = VGroup()
    for row, name in enumerate(names):
        label = model_text(name, font_size=NAME_FONT_SIZE)
        labels.add(label.move_to(np.array([0.0, -row * ROW_HEIGHT, 0.0]), aligned_edge=RIGHT))
    return labels


def header_over(header: Mobject, column: Mobject, baseline: float) -> Mobject:
    """``header`` centred over ``column``, its bottom on ``baseline``."""
    header.set_x(column.get_center()[0])
    header.shift(UP * (baseline - header.get_bottom()[1]))
    return header


def policy_table(scene: ClaimScene, top: float) -> tuple[BarColumn, VGroup, VGroup, VGroup]:
    """The prompt's responses with π_θ's bars (starting at π_ref) over π*'s outlines, and a
    number column for each, every column headed. Returns the policy bars, π*'s outlines and
    numbers, the headers (with the prompt), and the whole table."""
    run = labdata.training()
    p = labdata.prompt(0)
    names = response_names(p.responses)
    policy = BarColumn(p.pi_ref, color=style.POLICY, width=2.8, numbers_after_full=True)
    target = BarColumn(
        run.optimal[p.index], color=style.OPTIMAL, width=2.8, outline=True, quantity=None
    )
    target_numbers = NumberColumn(
        run.optimal[p.index], quantity=quantities.PROBABILITY, color=style.OPTIMAL
    )
    table = lay_out_columns(names, [policy, target_numbers], gap=0.3)
    target.shift(RIGHT * (policy.left - target.left))
    table.add(target)

    baseline = names[0].get_top()[1] + 0.3
    bars_header = remark(scene, r"$\pi_\theta$ filled, $\pi^*$ outlined")
    bars_header.shift(UP * (baseline - bars_header.get_bottom()[1]))
    bars_header.set_x(policy.left + bars_header.width / 2)
    headers = VGroup(
        bars_header,
        header_over(scene.label(r"\pi_\theta", font_size=30), policy.numbers, baseline),
        header_over(scene.label(r"\pi^*", font_size=30), target_numbers, baseline),
    )
    prompt_text = model_text(p.text, font_size=NAME_FONT_SIZE).align_to(names, RIGHT)
    prompt_text.shift(UP * (baseline - prompt_text.get_bottom()[1]))
    headers.add(prompt_text)
    whole = VGroup(table, headers)
    # The prompt is the widest thing on the left: it sets the table's margin.
    whole.to_edge(LEFT, buff=0.45).shift(UP * (top - whole.get_top()[1]))
    return policy, VGroup(target, target_numbers), headers, whole


def runs_grid(scene: ClaimScene) -> tuple[VGroup, list[VGroup]]:
    """The five training runs as a table: a header row, then one row per run (run, steps, loss,
    max |π_θ − π*|), the first row π_θ = π_ref before training. Cells are right-aligned."""
    run = labdata.training()
    header = [
        remark(scene, "run"),
        remark(scene, "steps"),
        remark(scene, "loss"),
        remark(scene, r"max $|\pi_\theta - \pi^*|$"),
    ]
    rows = []
    for index, snapshot in enumerate(run.snapshots):
        if index == 0:  # before training: π_θ = π_ref
            first = remark(scene, "start", color=style.MUTED)
        else:
            first = quantities.COUNT.number(index, color=style.TEXT, font_size=30)
        rows.append(
            [
                first,
                quantities.COUNT.number(snapshot.steps, color=style.TEXT, font_size=30),
                quantities.LOSS.number(snapshot.loss, color=style.POLICY, font_size=30),
                scientific(scene, snapshot.max_abs_error, color=style.POLICY, font_size=30),
            ]
        )
    widths = [max(line[c].width for line in [header, *rows]) for c in range(len(header))]
    rights = np.cumsum(widths) + 0.35 * np.arange(len(widths))
    lines = []
    for row, line in enumerate([header, *rows]):
        y = -row * 0.52 - (0.1 if row else 0.0)  # a little air under the header
        for cell, right in zip(line, rights, strict=True):
            cell.move_to(np.array([right, y, 0.0]), aligned_edge=RIGHT)
        lines.append(VGroup(*line))
    return lines[0], lines[1:]


def show_the_table(scene: ClaimScene, top: float) -> tuple[BarColumn, VGroup]:
    """The bar table at π_θ = π_ref, then π*'s outlines; every number column headed."""
    policy, target, headers, whole = policy_table(scene, top)
    names, prompt_text = whole[0][0], headers[-1]
    with scene.voiceover(
        "π_θ starts at π_ref; in yellow, the closed-form π* of step {step}, at the same β.",
        step=quantities.derivation_step(2),
    ) as tracker:
        scene.play(
            FadeIn(prompt_text), FadeIn(names), FadeIn(policy), FadeIn(headers[:2]), run_time=1.5
        )
        scene.wait(max(tracker.get_remaining_duration() / 2 - 1, 0.2))
        scene.play(FadeIn(target), FadeIn(headers[2]), run_time=1)
        scene.wait(0.5)
        scene.moment("columns_named")
    return policy, whole


def train_in_runs(scene: ClaimScene, policy: BarColumn, left_edge: float, top: float) -> VGroup:
    """Five separate runs, each from π_ref for more steps: per run, the bars go back to π_ref
    and glide to that run's trained π_θ, and its row of the table fills in."""
    run = labdata.training()
    p = labdata.prompt(0)
    header, rows = runs_grid(scene)
    grid = VGroup(header, *rows)
    grid.next_to(np.array([left_edge, 0.0, 0.0]), RIGHT, buff=0.0)
    grid.shift(UP * (top - header.get_top()[1]))
    steps = [quantities.COUNT(snapshot.steps) for snapshot in run.snapshots[1:]]
    scene.narrate(
        "The lab trains π_θ on the toy world's pairs in five separate runs, each from π_ref: "
        "{a}, {b}, {c}, {d} and {e} steps.",
        **dict(zip("abcde", steps, strict=True)),
    )
    scene.play(FadeIn(header), FadeIn(rows[0]), run_time=1)
    # The run in progress: a frame across the whole row.
    marker = box(rows[1], buff=0.1).stretch_to_fit_width(grid.width + 0.25)
    marker.set_x(grid.get_center()[0])
    current = run.snapshots[0].policy[p.index]
    for index, snapshot in enumerate(run.snapshots[1:], start=1):
        row = rows[index]
        if index == 1:
            scene.play(FadeIn(row[:2]), FadeIn(marker), run_time=0.6)
        else:
            progress, glide = policy.glide(current, run.snapshots[0].policy[p.index])
            scene.play(
                FadeIn(row[:2]),
                marker.animate.set_y(row.get_center()[1]),
                progress.animate.set_value(1.0),
                run_time=0.8,
            )
            policy.remove_updater(glide)
            scene.remove(progress)  # the tracker is not a picture: off the scene
            policy.set_values(run.snapshots[0].policy[p.index])
        # The bars glide from π_ref to the run's computed π_θ; the printed numbers then jump
        # to the lab's values (nothing in between is shown as if it had been computed).
        progress, glide = policy.glide(run.snapshots[0].policy[p.index], snapshot.policy[p.index])
        scene.play(progress.animate.set_value(1.0), run_time=1.2)
        policy.remove_updater(glide)
        scene.remove(progress)  # the tracker is not a picture: off the scene
        policy.set_values(snapshot.policy[p.index])
        scene.play(FadeIn(row[2:]), run_time=0.5)
        current = snapshot.policy[p.index]
    scene.play(FadeOut(marker), run_time=0.4)
    scene.wait(0.5)
    scene.moment("trained")
    return grid


def explain_the_last_gap(scene: ClaimScene, grid: VGroup) -> VGroup:
    """The last run's gap to π*, read for what it is: float64 rounding."""
    final = labdata.training().final
    rounding = final.max_abs_error <= 4 * MACHINE_EPSILON
    epsilon = quantities.ERROR.tex(MACHINE_EPSILON)
    words = "float64 rounding: machine epsilon is" if rounding else "machine epsilon is"
    note = remark(scene, rf"{words} ${epsilon}$", color=style.MUTED)
    note.next_to(grid, DOWN, buff=0.3).align_to(grid, RIGHT)
    if rounding:
        line = "That last gap, {error}, is double-precision rounding, of machine epsilon's size."
    else:  # a lab change left a real gap: say so, do not call it rounding
        line = "That last gap is {error}."
    scene.narrate(line, error=quantities.ERROR(final.max_abs_error))
    scene.play(Indicate(grid[-1][-1], color=style.POLICY, scale_factor=1.1), run_time=1)
    scene.play(FadeIn(note, shift=UP * 0.2))
    return note


def same_as_rlhf(scene: ClaimScene, replaced: VGroup, left_edge: float, top: float) -> VGroup:
    """π_θ^DPO = π*_{r_φ}, each side named, and how close the two policies are, in the place of
    ``replaced``."""
    run = labdata.training()
    same = scene.claim(
        "step5.same_as_rlhf", font_size=LOSS_FONT_SIZE + 4, tex_to_color_map=SAME_POLICY_COLORS
    )
    lines = VGroup(
        remark(scene, r"left: $\pi_\theta$ trained with the DPO loss"),
        remark(scene, r"right: the optimal policy for a reward"),
        remark(scene, r"model $r_\phi$, found by KL-regularised RL"),
        VGroup(
            remark(scene, "largest difference:", color=style.MUTED),
            scientific(scene, run.rlhf_max_abs_difference, color=style.POLICY, font_size=30),
        ).arrange(RIGHT, buff=0.2),
        remark(scene, "float64 rounding again", color=style.MUTED),
    ).arrange(DOWN, aligned_edge=LEFT, buff=0.22)
    lines[3:].shift(DOWN * 0.15)  # the measurement apart from the words
    block = VGroup(same, lines).arrange(DOWN, aligned_edge=LEFT, buff=0.45)
    block.next_to(np.array([left_edge, top, 0.0]), DOWN + RIGHT, buff=0.0)
    scene.narrate_claim("step5.same_as_rlhf")
    scene.play(FadeOut(replaced), run_time=0.6)
    scene.play(FadeIn(same, shift=UP * 0.2))
    scene.play(FadeIn(lines[:3], lag_ratio=0.3), run_time=1.5)
    scene.play(FadeIn(lines[3:], shift=UP * 0.2))
    scene.wait(0.5)
    scene.moment("same_policy")
    return block


def present(scene: ClaimScene) -> None:
    """Step 5, as a clip or as a section of the lecture."""
    title = heading(scene, CLIP)
    scene.play(FadeIn(title, shift=DOWN * 0.2))
    loss = name_the_rewards(scene, derive_the_loss(scene, title), title)
    start = start_from_reference(scene, loss)
    top = start.get_bottom()[1] - 0.35
    policy, table = show_the_table(scene, top)
    right_of_table = table.get_right()[0] + 0.5
    grid = train_in_runs(scene, policy, right_of_table, top)
    note = explain_the_last_gap(scene, grid)

    converged = scene.claim("step5.converges_to_optimal", font_size=style.SMALL_FONT_SIZE)
    converged.move_to(start)
    scene.narrate_claim("step5.converges_to_optimal")
    scene.play(FadeOut(start, shift=UP * 0.2), run_time=0.6)
    scene.play(FadeIn(converged, shift=UP * 0.2), run_time=0.8)
    scene.wait(1)

    same_as_rlhf(scene, VGroup(grid, note), right_of_table, top)
    scene.narrate("That is DPO: the RLHF objective's solution, fitted directly from preferences.")
    scene.narrate(None)


class Step5DpoLoss(ClaimScene):
    def construct(self) -> None:
        present(self)
