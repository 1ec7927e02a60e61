"""Beyond the five steps — log-probs in practice: how log π_θ(y | x) comes out of a language model.

The prompt and the response are one sequence s = x ∘ y, read in one forward pass. The logits at
position t − 1 score the token s_t (the shift); the prompt's tokens are masked out (they are
conditioned on, never scored); the response's token log-probs are summed (the chain rule). Padding
has mask 0 and changes nothing; the gradient reaches each position's logits as the token's
indicator minus the softmax. Every number is the lab's (``lab.experiments.logprobs``): the tiny
GPT-2's π_ref and the π_θ DPO trained from it, on the pair "4" ≻ "2 2" of "2 + 2 =". The four sums
are the four log-probs of DPO's loss, and the loss is eight lines of PyTorch, shown as the code
its claim runs (``step7.loss_as_code``).

Render with:  manim render scenes/logprobs.py Logprobs
"""

from __future__ import annotations

import numpy as np
from manim import (
    DOWN,
    LEFT,
    RIGHT,
    UP,
    CurvedArrow,
    FadeIn,
    FadeOut,
    Rectangle,
    VGroup,
    Write,
)

from lab.experiments.logprobs import LogprobsRun
from scenes import quantities, style
from scenes.base import ClaimScene
from scenes.catalog import find_clip
from scenes.code import CodeBlock
from scenes.transformer_data import transformer_run
from scenes.widgets import brace_note, heading, model_text, remark

CLIP = find_clip("logprobs")
MOMENTS = ("tokens", "summed", "four_logprobs", "code")

CELL = 1.25  # the distance between two positions of the sequence
FIRST_X = -2.9  # the first position's centre
ROWS = {"token": 1.75, "mask": 0.8, "logp": -0.1}  # each row's y
CLAIM_Y = -1.75  # where the row's claims stand, one at a time
PADDING = 2  # positions of right-padding shown
DIMMED = 0.35  # the opacity of the code's lines out of focus


def column_x(t: int) -> float:
    return FIRST_X + t * CELL


def token_row(tokens: list[str], mask: list[int], colour: str) -> VGroup:
    """A box per token: the prompt's outlined in grey, the response's in ``colour``."""
    row = VGroup()
    for t, (token, counted) in enumerate(zip(tokens, mask, strict=True)):
        frame = Rectangle(
            width=CELL - 0.14,
            height=0.7,
            color=colour if counted else style.MUTED,
            stroke_width=2.5,
        )
        row.add(VGroup(frame, model_text(token).move_to(frame)).move_to([column_x(t), 0, 0]))
    return row.set_y(ROWS["token"])


def row_label(scene: ClaimScene, tex: str, row: str) -> object:
    label = scene.label(tex, font_size=30)
    return label.move_to([column_x(0) - CELL / 2 - 0.25 - label.width / 2, ROWS[row], 0])


def number_cell(quantity, value: float, t: int, row: str, colour: str):
    return (
        quantity.number(value, font_size=28).set_color(colour).move_to([column_x(t), ROWS[row], 0])
    )


def the_sequence(scene: ClaimScene, pair: LogprobsRun) -> tuple[VGroup, VGroup]:
    """s = x ∘ y_w in boxes, the shift drawn as arcs from each position to the next."""
    chosen = pair.scored["policy_chosen"]
    scene.narrate(
        "DPO's loss needs log π_θ of whole responses, but a language model gives one token at a "
        "time. Take the lab's tiny transformer, and the pair “{chosen}” preferred to “{rejected}”.",
        chosen=quantities.RESPONSE(pair.config.chosen),
        rejected=quantities.RESPONSE(pair.config.rejected),
    )
    row = token_row(chosen.tokens, chosen.mask, style.CHOSEN)
    label = row_label(scene, r"s_t", "token")
    scene.play(FadeIn(row, label, lag_ratio=0.1), run_time=1.5)
    prompt = brace_note(scene, row[: chosen.mask.index(1)], "prompt $x$", direction=UP)
    response = brace_note(
        scene, row[chosen.mask.index(1) :], "response $y_w$", direction=UP, color=style.CHOSEN
    )
    scene.narrate(
        "The prompt and the response become one sequence, s, read in a single forward pass."
    )
    scene.play(FadeIn(prompt, response))
    scene.moment("tokens")
    scene.narrate(None)
    arcs = VGroup(
        *(
            CurvedArrow(
                row[t - 1].get_top() + UP * 0.05, row[t].get_top() + UP * 0.05, angle=-1.2,
                color=style.MUTED, stroke_width=2.5, tip_length=0.15,
            )
            for t in range(1, len(row))
        )
    )  # fmt: skip
    shift = scene.claim("step7.shift", font_size=36).set_y(CLAIM_Y)
    scene.narrate(
        "At every position the model outputs logits: a score for each possible next token."
    )
    scene.play(FadeOut(prompt, response), run_time=0.5)
    scene.play(FadeIn(arcs, lag_ratio=0.2), run_time=1.5)
    scene.narrate_claim("step7.shift")
    scene.play(Write(shift), run_time=2)
    return VGroup(row, label), VGroup(arcs, shift)


def masked_and_summed(scene: ClaimScene, pair: LogprobsRun, row: VGroup, shown: VGroup) -> VGroup:
    """Each token's log-probability under π_θ; the mask; the response's summed."""
    chosen = pair.scored["policy_chosen"]
    first = chosen.mask.index(1)
    logps = VGroup(
        *(
            number_cell(quantities.LOG_PROB, chosen.token_logps[t], t, "logp", style.POLICY)
            for t in range(1, len(chosen.tokens))
        )
    )
    logp_label = row_label(scene, r"\log \pi_\theta(s_t \mid s_{<t})", "logp")
    scene.narrate(
        "So one pass gives every token's log-probability, the prompt's included: the plus "
        "sign scores {first}.",
        first=quantities.LOG_PROB(chosen.token_logps[1]),
    )
    scene.play(FadeOut(shown[0]), FadeIn(logps, logp_label, lag_ratio=0.1), run_time=1.5)
    mask = VGroup(
        *(
            quantities.COUNT.number(m, font_size=30)
            .set_color(style.CHOSEN if m else style.MUTED)
            .move_to([column_x(t), ROWS["mask"], 0])
            for t, m in enumerate(chosen.mask)
        )
    )
    mask_label = row_label(scene, r"m_t", "mask")
    masked = scene.claim("step7.prompt_masked", font_size=36).set_y(CLAIM_Y)
    scene.narrate_claim("step7.prompt_masked")
    scene.play(
        FadeIn(mask, mask_label, lag_ratio=0.1),
        logps[: first - 1].animate.set_opacity(0.3),
        FadeOut(shown[1]),
        run_time=1.5,
    )
    scene.play(Write(masked), run_time=2)
    total = brace_note(
        scene,
        logps[first - 1 :],
        rf"$\log \pi_\theta(y_w \mid x) = {quantities.LOG_PROB.tex(chosen.total)}$",
        color=style.POLICY,
    )
    scene.narrate(
        "The response's token log-probabilities are summed: log π_θ of “{chosen}” is {total}.",
        chosen=quantities.RESPONSE(pair.config.chosen),
        total=quantities.LOG_PROB(chosen.total),
    )
    scene.play(FadeOut(masked), FadeIn(total, shift=DOWN * 0.2))
    scene.moment("summed")
    chain = scene.claim("step7.chain_rule", font_size=36).set_y(CLAIM_Y - 0.9)
    scene.narrate_claim("step7.chain_rule")
    scene.play(Write(chain), run_time=2)
    scene.narrate(None)
    scene.play(FadeOut(total, chain), run_time=0.5)
    return VGroup(mask, mask_label, logps, logp_label)


def padding_and_gradient(scene: ClaimScene, row: VGroup, table: VGroup) -> None:
    """Right-padding has mask 0; the gradient each position's logits receive."""
    end = len(row[0])
    pads = VGroup()
    for t in range(end, end + PADDING):
        frame = Rectangle(width=CELL - 0.14, height=0.7, color=style.MUTED, stroke_width=2.5)
        frame.set_stroke(opacity=0.6)
        cell = VGroup(frame, model_text("pad").move_to(frame)).move_to(
            [column_x(t), ROWS["token"], 0]
        )
        zero = quantities.COUNT.number(0, font_size=30).set_color(style.MUTED)
        pads.add(cell, zero.move_to([column_x(t), ROWS["mask"], 0]))
    padding = scene.claim("step7.padding_invariant", font_size=34).set_y(CLAIM_Y)
    scene.narrate(
        "In a batch, shorter rows are padded on the right to one length. Padding has mask zero."
    )
    scene.play(FadeIn(pads, shift=LEFT * 0.3, lag_ratio=0.2), run_time=1.2)
    scene.narrate_claim("step7.padding_invariant")
    scene.play(Write(padding), run_time=2)
    gradient = scene.claim("step7.chunked_gradient", font_size=34).set_y(CLAIM_Y - 1.1)
    scene.narrate_claim("step7.chunked_gradient")
    scene.play(Write(gradient), run_time=2)
    chunks = remark(scene, "the lab computes it in chunks: no copy of the whole log-softmax")
    chunks.next_to(gradient, DOWN, buff=0.25)
    scene.narrate(
        "The lab computes it in chunks, never holding the whole log-softmax, and checks it "
        "against the plain computation."
    )
    scene.play(FadeIn(chunks, shift=UP * 0.2))
    scene.narrate(None)
    scene.play(FadeOut(row, table, pads, padding, gradient, chunks), run_time=0.7)


GRID = (  # each log-prob's (row, column): the model, the response
    ("reference_chosen", 0, 0),
    ("reference_rejected", 0, 1),
    ("policy_chosen", 1, 0),
    ("policy_rejected", 1, 1),
)


def four_logprobs(scene: ClaimScene, pair: LogprobsRun) -> VGroup:
    """log π_ref and log π_θ of y_w and of y_l: what the loss takes."""
    four = pair.four()
    headers = VGroup()
    for symbol, response, colour in (
        ("y_w", pair.config.chosen, style.CHOSEN),
        ("y_l", pair.config.rejected, style.REJECTED),
    ):
        quoted = model_text(f"“{response}”", font_size=28).set_color(colour)
        headers.add(VGroup(scene.label(symbol, font_size=36), quoted).arrange(RIGHT, buff=0.25))
    rows = VGroup(
        scene.label(r"\log \pi_{\mathrm{ref}}", font_size=36),
        scene.label(r"\log \pi_\theta", font_size=36),
    )
    for column, header in enumerate(headers):
        header.move_to([-0.8 + 3.0 * column, 2.35, 0])
    for row, label in enumerate(rows):
        label.move_to([-3.6, 1.55 - 0.75 * row, 0])
    cells = VGroup()
    for name, row, column in GRID:
        colour = style.REFERENCE if row == 0 else style.POLICY
        number = quantities.LOG_PROB.number(four[name], font_size=36).set_color(colour)
        cells.add(number.move_to([-0.8 + 3.0 * column, 1.55 - 0.75 * row, 0]))
    scene.narrate(
        "For each pair the loss needs four such sums: the chosen and the rejected response, "
        "under π_ref and under π_θ."
    )
    scene.play(FadeIn(headers, rows), run_time=1)
    scene.play(FadeIn(cells, lag_ratio=0.3), run_time=1.5)
    scene.moment("four_logprobs")
    scene.narrate(
        "Training raised “{chosen}” from {chosen_ref} to {chosen_theta}, and lowered “{rejected}” "
        "from {rejected_ref} to {rejected_theta}.",
        chosen=quantities.RESPONSE(pair.config.chosen),
        chosen_ref=quantities.LOG_PROB(four["reference_chosen"]),
        chosen_theta=quantities.LOG_PROB(four["policy_chosen"]),
        rejected=quantities.RESPONSE(pair.config.rejected),
        rejected_ref=quantities.LOG_PROB(four["reference_rejected"]),
        rejected_theta=quantities.LOG_PROB(four["policy_rejected"]),
    )
    return VGroup(headers, rows, cells)


def focus(code: CodeBlock, lines: set[int]) -> list:
    """Animations that leave ``lines`` of the code bright and dim the others."""
    return [
        line.animate.set_opacity(1.0 if number in lines else DIMMED)
        for number, line in enumerate(code.lines)
    ]


def the_code(scene: ClaimScene, pair: LogprobsRun, grid: VGroup) -> None:
    """The DPO paper's eight-line sketch, the code its claim runs, line by line."""
    code = scene.code_claim("step7.loss_as_code").to_edge(DOWN, buff=0.45)
    code.set_x(0)
    scene.narrate(
        "And the loss is a few lines of PyTorch. This is the DPO paper's sketch, the very code "
        "the lab runs against its own loss."
    )
    scene.play(FadeIn(code, lag_ratio=0.02), run_time=2)
    scene.mark_poster()
    scene.narrate_claim("step7.loss_as_code")
    scene.play(*focus(code, {1, 2}))
    scene.moment("code")
    scene.narrate("Index arrays pick each pair's chosen and rejected log-probs from the batch.")
    scene.narrate(
        "The loss compares the policy's log-ratio with the reference's, times β, inside minus "
        "log sigmoid."
    )
    scene.play(*focus(code, {3, 4, 5}))
    loss = VGroup(
        remark(scene, "this pair's loss:"),
        quantities.LOSS.number(pair.loss, font_size=34).set_color(style.TEXT),
    ).arrange(RIGHT, buff=0.2)
    loss.next_to(grid, RIGHT, buff=0.8)
    scene.narrate(
        "On this pair it gives {loss}, against log two, about {start}, before training.",
        loss=quantities.LOSS(pair.loss),
        start=quantities.LOSS(np.log(2)),
    )
    scene.play(FadeIn(loss, shift=UP * 0.2))
    scene.narrate(
        "The rewards it returns are the implicit rewards: {chosen} for the chosen answer, "
        "{rejected} for the rejected one.",
        chosen=quantities.LOG_RATIO(pair.chosen_reward),
        rejected=quantities.LOG_RATIO(pair.rejected_reward),
    )
    scene.play(*focus(code, {6}))
    scene.narrate(None)
    scene.play(*focus(code, set(range(len(code.lines)))), run_time=0.5)
    takeaway = remark(
        scene,
        "one pass, shift by one, mask the prompt, sum: four log-probs make the loss",
        font_size=32,
    )
    takeaway.next_to(code, UP, buff=0.3)
    scene.narrate(
        "One pass, shift by one, mask the prompt, sum: four log-probs per pair, and the loss is "
        "a few lines."
    )
    scene.play(FadeOut(loss), FadeIn(takeaway, shift=UP * 0.2))


def present(scene: ClaimScene) -> None:
    """Log-probs in practice, as a clip or as a chapter of the lecture."""
    pair = transformer_run().pair
    title = heading(scene, CLIP)
    scene.play(FadeIn(title, shift=DOWN * 0.2))
    row, shown = the_sequence(scene, pair)
    table = masked_and_summed(scene, pair, row, shown)
    padding_and_gradient(scene, row, table)
    grid = four_logprobs(scene, pair)
    the_code(scene, pair, grid)


class Logprobs(ClaimScene):
    def construct(self) -> None:
        present(self)
