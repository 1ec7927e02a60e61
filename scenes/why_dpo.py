"""Before the five steps — why DPO: what RLHF needs, what it costs, and what DPO keeps of it.

The data people give is a preference between two answers (the toy world's "What is 2 + 2?"). RLHF
turns such pairs into a policy in three stages — SFT gives π_ref, a reward model r_φ is fitted to
the pairs, PPO trains π_θ against r_φ under a KL penalty — and holds four models in memory while
PPO runs. The closed form that step 2 derives would skip the training, but it needs Z(x), a sum
over more answers than can ever be listed. DPO keeps SFT and replaces the rest with one loss on
the pairs: two models in memory. Every size and count is the lab's (``lab.experiments.why_dpo``:
each model built from its config on the meta device and counted).

Render with:  manim render scenes/why_dpo.py WhyDpo
"""

from __future__ import annotations

import itertools
from functools import cache

from manim import (
    DOWN,
    LEFT,
    RIGHT,
    UP,
    AnimationGroup,
    Arrow,
    DashedVMobject,
    FadeIn,
    FadeOut,
    GrowFromEdge,
    LaggedStart,
    Rectangle,
    VGroup,
    Write,
)

from lab.claims import get_claim
from lab.experiments.why_dpo import (
    Backbone,
    ModelInMemory,
    Pipeline,
    WhyDpoCounts,
    why_dpo_experiment,
)
from scenes import labdata, quantities, style
from scenes.base import ClaimScene
from scenes.catalog import find_clip
from scenes.widgets import box, heading, model_text, remark

CLIP = find_clip("why_dpo")
MOMENTS = ("pair", "rlhf_models", "z_intractable", "dpo_models")

# Each model's concept colour and symbol, by its role in the lab's record; the value model (a
# critic, no concept of the lecture) is drawn hollow in the muted grey.
ROLES = {
    "policy": (style.POLICY, r"\pi_\theta"),
    "reference": (style.REFERENCE, r"\pi_{\mathrm{ref}}"),
    "reward model": (style.REWARD, r"r_\phi"),
    "value model": (style.MUTED, None),
}
# r_φ is a reward: green, as every reward of the lecture.
REWARD_MODEL_COLOURS = {r"r_\phi": style.REWARD}
COUNT_WORDS = ("no", "one", "two", "three", "four", "five", "six")
BLOCK_WIDTH = 2.0  # the largest model's block; the others in proportion to their parameters
BLOCK_HEIGHT = 0.75
SYMBOL_RISE = 0.4  # a model's symbol, centred this far above its block


@cache
def experiment() -> WhyDpoCounts:
    """The lab's counts (no training: about a tenth of a second once transformers is loaded)."""
    with labdata.backed_by("why.response_count"):
        return why_dpo_experiment()


def real_model() -> Backbone:
    """GPT-2 small: the larger of the two model sizes the lab counts."""
    return max(experiment().backbones, key=lambda backbone: backbone.dpo.parameters)


def in_words(pipeline: Pipeline) -> str:
    """How many models ``pipeline`` holds, as a word: "four"."""
    return COUNT_WORDS[len(pipeline.models)]


def prose(scene: ClaimScene, text: str, **kwargs):
    """A remark in which r_φ has the reward's colour, as every reward has."""
    colours = {**style.colors_for(text, prose=True), **REWARD_MODEL_COLOURS}
    colours = {tex: colour for tex, colour in colours.items() if tex in text}
    return scene.title(
        text,
        font_size=kwargs.pop("font_size", style.NOTE_FONT_SIZE),
        tex_to_color_map=colours,
        **kwargs,
    )


def answer_card(scene: ClaimScene, text: str, symbol: str, role: str, colour: str) -> VGroup:
    """An answer in its frame, in its concept's colour, with its symbol and role under it."""
    words = model_text(text, font_size=36).set_color(colour)
    frame = box(words, color=colour, buff=0.3)
    name = remark(scene, f"${symbol}$: {role}", font_size=34).next_to(frame, DOWN, buff=0.25)
    return VGroup(frame, words, name)


def the_pair(scene: ClaimScene, title: VGroup) -> VGroup:
    """The prompt, the two answers, which one a person preferred, and the hidden reward behind
    the choice. Returns what is on screen, for the next part to replace."""
    pair = experiment().pair
    prompt = model_text(pair.prompt, font_size=36).next_to(title, DOWN, buff=1.0).set_x(0)
    prompt_name = remark(scene, "$x$:", font_size=34).next_to(prompt, LEFT, buff=0.3)
    prompt = VGroup(prompt_name, prompt)
    chosen = answer_card(scene, pair.chosen, "y_w", "chosen", style.CHOSEN)
    rejected = answer_card(scene, pair.rejected, "y_l", "rejected", style.REJECTED)
    prefer = scene.label(r"\succ", font_size=48)
    cards = VGroup(chosen, prefer, rejected).arrange(RIGHT, buff=0.9)
    cards.next_to(prompt, DOWN, buff=0.7).set_x(0)
    prefer.set_y(chosen[0].get_y())
    scene.narrate("First, the data: a prompt x, and two answers to it.")
    scene.play(FadeIn(title, shift=DOWN * 0.2), FadeIn(prompt, shift=DOWN * 0.2))
    scene.play(FadeIn(chosen[:2], rejected[:2]))
    scene.narrate(
        "A person chose “{chosen}”, y_w, over “{rejected}”, y_l.",
        chosen=quantities.RESPONSE(pair.chosen),
        rejected=quantities.RESPONSE(pair.rejected),
    )
    scene.play(FadeIn(prefer, chosen[2], rejected[2]))
    scene.moment("pair")
    only = remark(scene, "no reward numbers: only which of two answers is better")
    only.next_to(cards, DOWN, buff=0.6)
    scene.narrate("People give no reward numbers, only which answer is better.")
    scene.play(FadeIn(only, shift=UP * 0.2))
    scene.wait(1)
    hidden = prose(
        scene,
        rf"hidden rewards ${quantities.REWARD.tex(pair.reward_chosen)}$ and "
        rf"${quantities.REWARD.tex(pair.reward_rejected)}$: a labeller picks "
        rf"$y_w$ with probability {quantities.PROBABILITY.text(pair.preference_prob)}",
        color=style.MUTED,
    ).next_to(only, DOWN, buff=0.35)
    scene.play(FadeIn(hidden, shift=UP * 0.2))
    return VGroup(prompt, cards, only, hidden)


def stage(scene: ClaimScene, name: str, what: str) -> VGroup:
    """A stage of a pipeline: its name over what it makes, in a frame."""
    words = VGroup(prose(scene, name), prose(scene, what)).arrange(DOWN, buff=0.15)
    return VGroup(box(words, color=style.MUTED, buff=0.22), words)


def pipeline_row(stages: list[VGroup]) -> tuple[VGroup, VGroup]:
    """The stages left to right, an arrow from each to the next."""
    VGroup(*stages).arrange(RIGHT, buff=0.8)
    arrows = VGroup(
        *(
            Arrow(a.get_right(), b.get_left(), buff=0.08, color=style.MUTED, stroke_width=4)
            for a, b in itertools.pairwise(stages)
        )
    )
    return VGroup(*stages), arrows


def model_block(scene: ClaimScene, model: ModelInMemory, scale: float, count: bool) -> VGroup:
    """A model in memory: a block as wide as its parameters, its role inside, its symbol above
    (the critic has none), and its parameter count under it when ``count``."""
    colour, symbol = ROLES[model.role]
    hollow = symbol is None
    block = Rectangle(
        width=model.parameters * scale,
        height=BLOCK_HEIGHT,
        stroke_color=colour,
        stroke_width=2.5,
        fill_color=colour,
        fill_opacity=0.0 if hollow else 0.85,
    )
    inside = remark(
        scene, model.role, color=style.TEXT if hollow else style.BACKGROUND, font_size=28
    ).move_to(block)
    top = (
        remark(scene, "critic", color=colour, font_size=32)
        if hollow
        else scene.label(symbol, font_size=38, color=colour)
    ).move_to(block.get_top() + UP * SYMBOL_RISE)
    parts = VGroup(block, inside, top)
    if count:
        number = quantities.COUNT.number(model.parameters, font_size=28, color=style.TEXT)
        parts.add(number.next_to(block, DOWN, buff=0.15))
    return parts


def memory_row(scene: ClaimScene, pipeline: Pipeline, count: bool) -> VGroup:
    """A pipeline's models side by side, on the scale of GPT-2 small's largest model."""
    largest = max(model.parameters for model in real_model().rlhf.models)
    blocks = [model_block(scene, model, BLOCK_WIDTH / largest, count) for model in pipeline.models]
    return VGroup(*blocks).arrange(RIGHT, buff=0.3, aligned_edge=DOWN)


def rlhf_stages(scene: ClaimScene) -> tuple[list[VGroup], VGroup]:
    """SFT, the reward model, PPO: three framed stages and the arrows between them."""
    stages = [
        stage(scene, "supervised fine-tuning", r"gives $\pi_{\mathrm{ref}}$"),
        stage(scene, "reward model", r"$r_\phi$ fitted to the pairs"),
        stage(scene, "PPO", r"sample, score, update $\pi_\theta$"),
    ]
    row, arrows = pipeline_row(stages)
    VGroup(row, arrows).move_to(UP * 2.15)
    return stages, arrows


def rlhf_pipeline(scene: ClaimScene, shown: VGroup) -> VGroup:
    """RLHF's three stages, the losses of the last two, and its four models in memory. Returns
    what is on screen."""
    stages, arrows = rlhf_stages(scene)
    scene.narrate("RLHF, reinforcement learning from human feedback, takes three stages.")
    scene.play(FadeOut(shown), run_time=0.6)
    scene.play(FadeIn(stages[0], shift=RIGHT * 0.2))
    scene.narrate("One: fine-tuning gives π_ref, the reference policy.")
    scene.wait(1)
    scene.play(FadeIn(arrows[0]), FadeIn(stages[1], shift=RIGHT * 0.2))
    fit = scene.claim(
        "step5.reward_model_loss",
        font_size=style.SMALL_FONT_SIZE,
        tex_to_color_map={
            **style.colors_for(get_claim("step5.reward_model_loss").tex),
            **REWARD_MODEL_COLOURS,
        },
    ).move_to(UP * 0.55)
    scene.narrate(
        "Two: on the pairs, D, a reward model r_φ learns to score y_w above y_l, through a "
        "sigmoid σ."
    )
    scene.play(Write(fit), run_time=2)
    scene.narrate(
        "Three: PPO samples from π_θ, the policy we train, scores with r_φ, updates π_θ..."
    )
    scene.play(FadeIn(arrows[1]), FadeIn(stages[2], shift=RIGHT * 0.2))
    objective = scene.claim("step1.objective", font_size=style.SMALL_FONT_SIZE).move_to(fit)
    scene.narrate("...under a KL penalty to π_ref, weighted by β.")
    scene.play(FadeOut(fit, shift=UP * 0.2), run_time=0.6)
    scene.play(FadeIn(objective, shift=UP * 0.2))
    return VGroup(*stages, arrows, objective, rlhf_memory(scene))


def rlhf_memory(scene: ClaimScene) -> VGroup:
    """The four models PPO holds, with the lab's parameter counts."""
    model = real_model()
    row = memory_row(scene, model.rlhf, count=True).move_to(DOWN * 1.75)
    title = remark(scene, f"in memory while PPO trains {model.name}:", color=style.MUTED)
    title.next_to(row, UP, buff=0.3).align_to(row, LEFT)
    scene.narrate(
        in_words(model.rlhf).capitalize()
        + " models sit in memory: π_θ, π_ref, r_φ, and PPO's critic, a value model."
    )
    scene.play(FadeIn(title))
    scene.play(
        LaggedStart(
            *(
                AnimationGroup(GrowFromEdge(block[0], LEFT), FadeIn(VGroup(*block[1:])))
                for block in row
            ),
            lag_ratio=0.4,
        ),
        run_time=3,
    )
    scene.moment("rlhf_models")
    total = remark(scene, rf"{quantities.COUNT.text(model.rlhf.parameters)} parameters")
    total.next_to(title, RIGHT, buff=0.25)
    scene.narrate(
        "For {model}: {millions} million parameters.",
        model=quantities.MODEL(model.name),
        millions=quantities.MILLIONS(model.rlhf.parameters / 1e6),
    )
    scene.play(FadeIn(total, shift=UP * 0.2))
    return VGroup(row, title, total)


def intractable_partition(scene: ClaimScene, shown: VGroup) -> VGroup:
    """The closed form needs Z(x), a sum over every answer: more answers than can be listed."""
    model, result = real_model(), experiment()
    partition = scene.claim("step2.partition", font_size=style.SMALL_FONT_SIZE).move_to(UP * 1.7)
    scene.narrate(
        "Why train? Step {step}'s closed form needs Z(x), a sum over every answer.",
        step=quantities.derivation_step(2),
    )
    scene.play(FadeOut(shown), run_time=0.6)
    scene.play(Write(partition), run_time=2)
    count = scene.claim("why.response_count", font_size=style.SMALL_FONT_SIZE).move_to(UP * 0.2)
    scene.narrate_claim("why.response_count")
    scene.play(Write(count), run_time=2)
    config = result.config
    power = quantities.POWER_OF_TEN.tex(result.log10_responses)
    numbers = VGroup(
        scene.label("V =", font_size=36),
        quantities.COUNT.number(config.vocab, font_size=36),
        scene.label(",", font_size=36),
        scene.label("L =", font_size=36),
        quantities.COUNT.number(config.max_tokens, font_size=36),
        scene.label(rf"\Rightarrow\ |\mathcal{{Y}}| \approx 10^{{{power}}}", font_size=36),
    ).arrange(RIGHT, buff=0.2)
    numbers[2].align_to(numbers[1], DOWN).shift(LEFT * 0.15)  # the comma after the number
    numbers.next_to(count, DOWN, buff=0.7)
    scene.narrate(
        "For {model} and L = {tokens}: about {ten} to the {power} answers.",
        model=quantities.MODEL(model.name),
        tokens=quantities.COUNT(config.max_tokens),
        ten=quantities.notation("10", "a power of ten"),
        power=quantities.POWER_OF_TEN(result.log10_responses),
    )
    scene.play(FadeIn(numbers, shift=UP * 0.2))
    scene.moment("z_intractable")
    verdict = prose(scene, r"$Z(x)$ cannot be computed: the derivation will cancel it")
    verdict.next_to(numbers, DOWN, buff=0.55)
    scene.narrate("No computer can sum that: the derivation must cancel Z(x).")
    scene.play(FadeIn(verdict, shift=UP * 0.2))
    return VGroup(partition, count, numbers, verdict)


def dpo_pipeline(scene: ClaimScene, shown: VGroup) -> VGroup:
    """DPO's two stages, and the loss the five steps lead to. Returns the loss and its note,
    for the next part to replace (the stages stay)."""
    stages = [
        stage(scene, "supervised fine-tuning", r"gives $\pi_{\mathrm{ref}}$"),
        stage(scene, "one loss on the pairs", r"trains $\pi_\theta$, no sampling"),
    ]
    row, arrows = pipeline_row(stages)
    VGroup(row, arrows).move_to(UP * 2.15)
    loss = scene.claim("step5.dpo_loss", font_size=32).move_to(UP * 0.45)
    lead = remark(scene, "where the five steps lead", color=style.MUTED)
    lead.next_to(loss, DOWN, buff=0.35)
    scene.narrate("DPO keeps fine-tuning, then trains on one loss over the pairs.")
    scene.play(FadeOut(shown), run_time=0.6)
    scene.play(FadeIn(stages[0], shift=RIGHT * 0.2), run_time=0.8)
    scene.play(FadeIn(arrows[0]), FadeIn(stages[1], shift=RIGHT * 0.2), run_time=0.8)
    scene.play(Write(loss), run_time=2)
    scene.narrate("Where the five steps lead: no reward model, and no sampling.")
    scene.play(FadeIn(lead, shift=UP * 0.2))
    return VGroup(loss, lead)


def memory_comparison(scene: ClaimScene) -> VGroup:
    """RLHF's four models over DPO's two, on one scale, each row with its total; dashed frames
    where DPO has no model."""
    model = real_model()
    rows = VGroup()
    for pipeline in (model.rlhf, model.dpo):
        name = remark(scene, pipeline.name.split(" (")[0], font_size=32)  # RLHF (PPO): RLHF
        blocks = memory_row(scene, pipeline, count=False)
        total = quantities.COUNT.number(pipeline.parameters, font_size=30, color=style.TEXT)
        rows.add(VGroup(name, blocks, total))
    rlhf_blocks, dpo_blocks = rows[0][1], rows[1][1]
    dpo_blocks.next_to(rlhf_blocks, DOWN, buff=0.7).align_to(rlhf_blocks, LEFT)
    missing = VGroup(
        *(
            DashedVMobject(block[0].copy().set_fill(opacity=0).set_stroke(style.MUTED, 2))
            for block in rlhf_blocks[len(dpo_blocks) :]
        )
    )
    for block in missing:
        block.set_y(dpo_blocks[0][0].get_y())
    rows[1].add(missing)
    header = remark(scene, "parameters", color=style.MUTED, font_size=28)
    for name, blocks, total, *_ in rows:
        name.next_to(rlhf_blocks, LEFT, buff=0.4).set_y(blocks[0][0].get_y())
        total.next_to(rlhf_blocks, RIGHT, buff=0.4).set_y(blocks[0][0].get_y())
    header.next_to(rows[0][2], UP, buff=0.25)
    rows[0].add(header)
    return rows.move_to(DOWN * 0.45)


def dpo_memory(scene: ClaimScene, shown: VGroup) -> None:
    """Two models instead of four, and the takeaway."""
    model = real_model()
    rows = memory_comparison(scene)
    scene.narrate(
        in_words(model.dpo).capitalize() + " models: {dpo} million parameters, not {rlhf} million.",
        dpo=quantities.MILLIONS(model.dpo.parameters / 1e6),
        rlhf=quantities.MILLIONS(model.rlhf.parameters / 1e6),
    )
    scene.play(FadeOut(shown), run_time=0.6)
    scene.play(FadeIn(rows[0]), run_time=1)
    scene.play(
        LaggedStart(*(GrowFromEdge(block[0], LEFT) for block in rows[1][1]), lag_ratio=0.3),
        FadeIn(rows[1][0], rows[1][2], rows[1][3], *(VGroup(*block[1:]) for block in rows[1][1])),
        run_time=1.5,
    )
    scene.moment("dpo_models")
    takeaway = (
        "Same goal as RLHF: "
        + in_words(model.dpo)
        + " models instead of "
        + in_words(model.rlhf)
        + ", one loss on the pairs."
    )
    words = remark(scene, takeaway, font_size=34).next_to(rows, DOWN, buff=0.6)
    scene.narrate(takeaway)
    scene.play(FadeIn(words, shift=UP * 0.2))
    scene.mark_poster()


def present(scene: ClaimScene) -> None:
    """Why DPO, as a clip or as the lecture's first chapter."""
    title = heading(scene, CLIP)
    shown = the_pair(scene, title)
    shown = rlhf_pipeline(scene, shown)
    shown = intractable_partition(scene, shown)
    shown = dpo_pipeline(scene, shown)
    dpo_memory(scene, shown)


class WhyDpo(ClaimScene):
    def construct(self) -> None:
        present(self)
