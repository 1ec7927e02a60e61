"""Where DPO breaks — parts 3 to 5 of the chapter ``scenes.limits``: mass on responses no pair
compared, the chosen response's log-prob falling while the margin grows, and no exploration.
Every number comes from a lab experiment's record (``scenes.limits_data``)."""

from __future__ import annotations

import math

import numpy as np
from manim import (
    DOWN,
    LEFT,
    PI,
    RIGHT,
    UP,
    Create,
    DashedVMobject,
    Dot,
    FadeIn,
    FadeOut,
    GrowFromEdge,
    Line,
    MaintainPositionRelativeTo,
    NumberLine,
    SurroundingRectangle,
    VGroup,
)

from scenes import limits_data, quantities, style
from scenes.base import ClaimScene
from scenes.widgets import (
    BarColumn,
    column_header,
    lay_out_columns,
    model_text,
    remark,
    row_names,
)

BAR_WIDTH = 1.5  # a probability of 1, in each column of a bar table


def quoted(names: list[str]) -> list[str]:
    return [f"“{name}”" for name in names]


def probability_table(scene: ClaimScene, names: list[str], columns: list[tuple]) -> VGroup:
    """Row names and one bar column per (TeX header, values, colour): the table, headers last."""
    bars = [BarColumn(values, color=colour, width=BAR_WIDTH) for _, values, colour in columns]
    table = lay_out_columns(row_names(quoted(names)), bars, gap=0.45)
    headers = VGroup(
        *(column_header(scene, tex, bar) for (tex, _, _), bar in zip(columns, bars, strict=True))
    )
    return VGroup(table, headers)


def no_exploration(scene: ClaimScene) -> None:
    """The best answer, in no pair, stays put under DPO; an online method with the reward finds
    it."""
    record = limits_data.record("no_exploration")
    summary, best = record["summary"], record["best"]
    scene.narrate(
        "Last: DPO learns only from the pairs it is given. Here no pair contains the best "
        "answer, “{best}”, though π_ref says it {reference} of the time.",
        best=quantities.RESPONSE(record["responses"][best]),
        reference=quantities.PROBABILITY(summary["pi_ref_best"]),
    )
    columns = [
        (r"\pi_{\mathrm{ref}}", record["pi_ref"], style.REFERENCE),
        (r"\pi_\theta", record["dpo"], style.POLICY),
        (r"\text{online}", record["online"], style.REWARD),
        (r"\pi^*", record["optimal"], style.OPTIMAL),
    ]
    table, headers = probability_table(scene, record["responses"], columns)
    headers[2].set_color(style.REWARD)
    whole = VGroup(table, headers).move_to(DOWN * 0.6)
    names, bars = table[0], table[1:]
    marker = SurroundingRectangle(names[best], color=style.REWARD, buff=0.08)
    note = remark(scene, "in no pair", font_size=26, color=style.REWARD)
    note.next_to(marker, LEFT, buff=0.2)
    scene.play(FadeIn(names, headers[0], bars[0]), run_time=1)
    scene.play(FadeIn(marker, note))
    claim = scene.claim("limits.no_exploration", font_size=40).to_edge(UP, buff=1.3)
    scene.narrate(
        "DPO raises what beat something and lowers what lost; “{best}” never appears in a "
        "pair, so its logit gets no gradient at all: it ends at {dpo}.",
        best=quantities.RESPONSE(record["responses"][best]),
        dpo=quantities.PROBABILITY(summary["dpo_best"]),
    )
    scene.play(FadeIn(headers[1]), GrowFromEdge(bars[1], LEFT), run_time=1.5)
    scene.narrate_claim("limits.no_exploration")
    scene.play(FadeIn(claim, shift=DOWN * 0.2))
    scene.narrate(
        "Here is such a method, sampling groups of answers from its own policy and scoring them "
        "with the reward, as RL with verifiable rewards does: “{best}” rises to {online}.",
        best=quantities.RESPONSE(record["responses"][best]),
        online=quantities.PROBABILITY(summary["online_best"]),
    )
    scene.play(FadeIn(headers[2]), GrowFromEdge(bars[2], LEFT), run_time=1.5)
    scene.play(FadeIn(headers[3]), GrowFromEdge(bars[3], LEFT), run_time=1)
    scene.moment("no_exploration")
    scene.mark_poster()
    scene.narrate(
        "DPO cannot discover an answer its data never compared: the pairs set its horizon."
    )
    scene.narrate(None)
    scene.play(FadeOut(whole, marker, note, claim), run_time=0.8)


GRAPH_CENTRE = LEFT * 3.75 + DOWN * 0.8
GRAPH_RADII = (2.75, 2.2)  # an ellipse: the names are wider than tall


def comparison_graph(record: dict) -> tuple[VGroup, VGroup]:
    """The first prompt's compared responses on a circle, and a line per distinct pair, wider
    the more often it was drawn. Returns the nodes and the edges."""
    names = [node["response"] for node in record["nodes"]]
    where = {
        name: GRAPH_CENTRE
        + GRAPH_RADII[0] * np.cos(angle) * RIGHT
        + GRAPH_RADII[1] * np.sin(angle) * UP
        for name, angle in zip(
            names, np.linspace(np.pi / 2, np.pi / 2 + 2 * np.pi, len(names), endpoint=False),
            strict=True,
        )
    }  # fmt: skip
    most = max(edge["count"] for edge in record["edges"])
    edges = VGroup(
        *(
            Line(where[edge["chosen"]], where[edge["rejected"]], color=style.MUTED).set_stroke(
                width=1.5 + 5 * edge["count"] / most, opacity=0.7
            )
            for edge in record["edges"]
        )
    )
    nodes = VGroup()
    for name in names:
        label = model_text(f"“{name}”", font_size=20).move_to(where[name])
        label.add_background_rectangle(color=style.BACKGROUND, opacity=1, buff=0.06)
        nodes.add(label)
    return nodes, edges


def mass_bars(scene: ClaimScene, rows: list[tuple[str, float, str]]) -> VGroup:
    """One bar per (label, mass, colour), on a scale where the largest mass is full length, its
    value after it (tiny masses in scientific form)."""
    bars = BarColumn([v for _, v, _ in rows], color=style.POLICY, width=2.2, quantity=None,
                     full_scale=max(v for _, v, _ in rows))  # fmt: skip
    table = VGroup()
    for bar, (label, value, colour) in zip(bars.bars, rows, strict=True):
        bar.set_fill(colour).set_stroke(colour)
        name = remark(scene, label, font_size=24).next_to(bar.get_left(), LEFT, buff=0.2)
        number = scene.label(quantities.MASS.tex(value), font_size=24).set_color(colour)
        table.add(VGroup(name, bar, number.next_to(bar, RIGHT, buff=0.12)))
    return table


def pairs_label(n_pairs: int) -> str:
    return rf"$\pi_\theta$, {quantities.COUNT.tex(n_pairs)} pairs"


def unseen_mass(scene: ClaimScene) -> None:
    """The comparison graph of N pairs drawn from π_ref, the mass the transformer moves onto a
    response no pair compared, and the fix: more pairs."""
    record = limits_data.record("unseen_mass")
    summary, top = record["summary"], record["top_unseen"]
    seen, unseen = len(record["nodes"]), len(record["unseen"])
    scene.narrate(
        "Next, what the pairs never compare. We draw {pairs} pairs from π_ref and train the "
        "transformer on them. On “{prompt}” they compare {seen} of its {total} responses.",
        pairs=quantities.COUNT(record["config"]["n_pairs"]),
        prompt=quantities.RESPONSE(record["prompt"]),
        seen=quantities.COUNT(seen),
        total=quantities.COUNT(seen + unseen),
    )
    nodes, edges = comparison_graph(record)
    caption = remark(scene, "a line per pair compared", font_size=24, color=style.MUTED)
    caption.next_to(VGroup(nodes), DOWN, buff=0.25)
    scene.play(FadeIn(nodes, lag_ratio=0.05), run_time=1.5)
    edges.set_z_index(-1)  # under the names: a line ends at a name's edge
    scene.play(Create(edges, lag_ratio=0.02), FadeIn(caption), run_time=2)
    outsider = model_text(f"“{top['response']}”", font_size=20).set_color(style.REJECTED)
    outsider.move_to(RIGHT * 0.45 + UP * 1.15)
    frame = DashedVMobject(SurroundingRectangle(outsider, color=style.REJECTED, buff=0.12))
    outside = remark(scene, "in no pair", font_size=22, color=style.REJECTED)
    outside.next_to(frame, DOWN, buff=0.12)
    scene.narrate(
        "“{response}” is in no pair. π_ref gives it {reference}; after DPO the transformer gives "
        "it {theta}.",
        response=quantities.RESPONSE(top["response"]),
        reference=quantities.MASS(top["pi_ref"]),
        theta=quantities.MASS(top["pi_theta"]),
    )
    scene.play(FadeIn(outsider, frame, outside))
    claim = scene.claim("limits.unseen_mass", font_size=30).to_edge(UP, buff=1.3)
    scene.narrate_claim("limits.unseen_mass")
    scene.play(FadeIn(claim, shift=DOWN * 0.2))
    scene.moment("unseen_graph")
    more = record["config"]["more"] * record["config"]["n_pairs"]
    n_pairs = record["config"]["n_pairs"]
    rows = [
        (r"$\pi_{\mathrm{ref}}$", summary["unseen_mass_pi_ref"], style.REFERENCE),
        (r"$\pi^*$", summary["unseen_mass_pi_star"], style.OPTIMAL),
        (pairs_label(n_pairs), summary["unseen_mass_pi_theta"], style.POLICY),
        (pairs_label(more), summary["unseen_mass_more"], style.CHOSEN),
    ]
    bars = mass_bars(scene, rows).arrange(DOWN, aligned_edge=LEFT, buff=0.3)
    title = remark(scene, "mass on the responses in no pair", font_size=26)
    VGroup(title, bars).arrange(DOWN, buff=0.35).to_edge(RIGHT, buff=0.6).shift(DOWN * 0.6)
    scene.narrate(
        "Together the {unseen} responses in no pair get {theta}, where π_ref gave {reference} "
        "and π* {optimal}. The Bradley–Terry fit does not exist, and the network carries what "
        "it learns onto answers it never compared.",
        unseen=quantities.COUNT(unseen),
        theta=quantities.MASS(summary["unseen_mass_pi_theta"]),
        reference=quantities.MASS(summary["unseen_mass_pi_ref"]),
        optimal=quantities.MASS(summary["unseen_mass_pi_star"]),
    )
    scene.play(FadeIn(title, bars[:3], lag_ratio=0.2), run_time=1.5)
    scene.narrate(
        "The fix is coverage: {more} pairs from π_ref compare enough responses, and the mass in "
        "no pair falls to {fixed}.",
        more=quantities.COUNT(more),
        fixed=quantities.MASS(summary["unseen_mass_more"]),
    )
    scene.play(FadeIn(bars[3], shift=UP * 0.2))
    scene.narrate(None)
    scene.play(FadeOut(nodes, edges, caption, outsider, frame, outside, claim, title, bars))


def reward_axis(scene: ClaimScene, low: float) -> tuple[NumberLine, VGroup]:
    """A vertical axis of implicit reward, from ``low`` to a little above 0."""
    axis = NumberLine(x_range=[low, 0.5, 0.5], length=4.2, rotation=PI / 2, color=style.MUTED,
                      include_ticks=False)  # fmt: skip
    zero = scene.label("0", font_size=24).next_to(axis.n2p(0), LEFT, buff=0.15)
    name = scene.label(r"\hat r_\theta", font_size=30).next_to(axis, UP, buff=0.15)
    return axis, VGroup(zero, name)


def chosen_falls(scene: ClaimScene) -> None:
    """Both implicit rewards fall while their gap grows: the loss sees only the difference."""
    record = limits_data.record("unseen_mass")
    population = record["chosen_falls"]["transformer"]["population"]
    before, after = population["step0"], population["metrics"]
    summary = record["chosen_falls"]["summary"]
    scene.narrate(
        "A puzzle every DPO user meets: the chosen answers' own log-probability falls. In the "
        "transformer's run on every pair, it goes from {before} to {after} on average.",
        before=quantities.LOG_PROB(before["logps/chosen"]),
        after=quantities.LOG_PROB(after["logps/chosen"]),
    )
    low = math.floor(after["rewards/rejected"] * 2) / 2 - 0.5
    axis, labels = reward_axis(scene, low)
    VGroup(axis, labels).move_to(LEFT * 3.5 + DOWN * 0.7)
    chosen = Dot(axis.n2p(0), radius=0.11, color=style.CHOSEN).shift(RIGHT * 0.25)
    rejected = Dot(axis.n2p(0), radius=0.11, color=style.REJECTED).shift(LEFT * 0.25)
    names = VGroup(scene.label("y_w", font_size=28), scene.label("y_l", font_size=28))
    names[0].next_to(chosen, RIGHT, buff=0.15)
    names[1].next_to(rejected, LEFT, buff=0.15)
    scene.play(Create(axis), FadeIn(labels, chosen, rejected, names))
    scene.narrate(
        "Yet the margin grows: the implicit rewards both fall, to {chosen} and {rejected}, and "
        "the gap between them opens to {margin}.",
        chosen=quantities.LOG_RATIO(after["rewards/chosen"]),
        rejected=quantities.LOG_RATIO(after["rewards/rejected"]),
        margin=quantities.LOG_RATIO(after["rewards/margins"]),
    )
    scene.play(
        chosen.animate.move_to(axis.n2p(after["rewards/chosen"]) + RIGHT * 0.25),
        rejected.animate.move_to(axis.n2p(after["rewards/rejected"]) + LEFT * 0.25),
        MaintainPositionRelativeTo(names[0], chosen),
        MaintainPositionRelativeTo(names[1], rejected),
        run_time=2.5,
    )
    claim = scene.claim("limits.chosen_falls", font_size=34).to_edge(UP, buff=1.3)
    claim.shift(RIGHT * 1.5)
    scene.narrate_claim("limits.chosen_falls")
    scene.play(FadeIn(claim, shift=DOWN * 0.2))
    scene.moment("chosen_fell")
    reason = VGroup(
        remark(scene, r"the loss sees only $\hat r_\theta(x, y_w) - \hat r_\theta(x, y_l)$"),
        remark(scene, r"and $\pi_\theta$ must still sum to one"),
    ).arrange(DOWN, aligned_edge=LEFT, buff=0.25)
    reason.next_to(axis, RIGHT, buff=1.6).shift(UP * 0.3)
    scene.narrate(
        "Why: the loss sees the two rewards only through their difference, and π_θ must still "
        "sum to one. Even the table, which reaches π* to {error}, ends with the chosen reward "
        "at {reward}.",
        error=quantities.ERROR(summary["table_max_abs_error"]),
        reward=quantities.LOG_RATIO(summary["table_chosen_reward"]),
    )
    scene.play(FadeIn(reason, shift=UP * 0.2, lag_ratio=0.3))
    scene.narrate(None)
    scene.play(FadeOut(axis, labels, chosen, rejected, names, claim, reason))
