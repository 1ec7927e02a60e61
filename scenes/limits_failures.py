"""Where DPO breaks — parts 3 to 5 of the chapter ``scenes.limits``: mass on responses no pair
compared, the chosen response's log-prob falling while the margin grows, and no exploration.
Every number comes from a lab experiment's record (``scenes.limits_data``)."""

from __future__ import annotations

from manim import DOWN, LEFT, UP, FadeIn, FadeOut, GrowFromEdge, SurroundingRectangle, VGroup

from scenes import limits_data, quantities, style
from scenes.base import ClaimScene
from scenes.widgets import BarColumn, column_header, lay_out_columns, remark, row_names

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
    record = limits_data.no_exploration()
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
        "An online method samples its own answers and scores them with the reward, as RL with "
        "verifiable rewards does. It finds “{best}”: {online}.",
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


def unseen_mass(scene: ClaimScene) -> None:
    """Mass on responses no pair compared (to come: its record)."""


def chosen_falls(scene: ClaimScene) -> None:
    """The chosen log-prob falls while the margin grows (to come: its record)."""
