"""The one list of clips, in lecture order. Everything else derives from it: the Makefile's
per-clip targets, the lecture's chapters and sections, the manifest, the snapshot tests.

A clip is a derivation step (``step=N``) or a topic beyond the five steps (``step=None``); the
lecture plays every clip marked ``in_lecture``, in this order, and numbers them as chapters. Each
clip lists the claims it shows (a test checks the list against the scene; ``scenes.render``
verifies them before rendering).

This module imports only the standard library, so that make can read it before any virtualenv
exists:  ``python3 scenes/catalog.py names`` (every clip) or ``… lecture`` (the lecture's clips).
"""

from __future__ import annotations

import argparse
from collections.abc import Iterable
from dataclasses import dataclass

# The maths a title may hold, as plain text.
PLAIN_SYMBOLS = {r"\beta": "β", r"\pi": "π", r"\theta": "θ", r"\sigma": "σ"}


@dataclass(frozen=True)
class Clip:
    name: str  # file stem in renders/ and module in scenes/
    scene: str  # the Scene class in that module
    title: str  # plain text-mode TeX: the heading on screen, the lecture's section name
    claims: tuple[str, ...] = ()  # claim ids the clip shows, in order of first appearance
    step: int | None = None  # the derivation step it shows; None for a topic beyond them
    in_lecture: bool = True

    @property
    def module(self) -> str:
        return f"scenes.{self.name}"

    @property
    def source(self) -> str:
        return f"scenes/{self.name}.py"

    @property
    def plain_title(self) -> str:
        """The title without TeX markup, as captions, chapters and the voice have it: section
        names, the manifest ("$\\beta$ in practice" → "β in practice")."""
        plain = self.title.replace("--", "–").replace("$", "")
        for command, letter in PLAIN_SYMBOLS.items():
            plain = plain.replace(command, letter)
        return plain

    @property
    def chapter(self) -> int | None:
        """Its place among the lecture's clips (from 1); None when the lecture does not play it.
        Derived, never typed in: inserting a clip renumbers the ones after it."""
        played = lecture_clips()
        return played.index(self) + 1 if self in played else None


# Every clip that has a present(scene) function, in lecture order.
_PRESENTED: tuple[Clip, ...] = (
    Clip(
        "why_dpo",
        "WhyDpo",
        "Why DPO",
        claims=(
            "step5.reward_model_loss",
            "step1.objective",
            "step2.partition",
            "why.response_count",
            "step5.dpo_loss",
        ),
    ),
    Clip(
        "step1_objective",
        "Step1Objective",
        "The RLHF objective",
        step=1,
        claims=(
            "step1.objective",
            "step1.kl_nonnegative",
            "step1.beta_limits",
            "step1.score_function",
        ),
    ),
    Clip(
        "step2_optimal_policy",
        "Step2OptimalPolicy",
        "The optimal policy in closed form",
        step=2,
        claims=(
            "step1.objective",
            "step2.lagrangian",
            "step2.stationarity",
            "step2.closed_form",
            "step2.partition",
            "step2.gap_is_kl",
        ),
    ),
    Clip(
        "step3_reparameterisation",
        "Step3Reparameterisation",
        "Solve for the reward",
        step=3,
        claims=(
            "step2.closed_form",
            "step3.log_closed_form",
            "step3.reparameterisation",
            "step3.equivalence_class",
        ),
    ),
    Clip(
        "step4_bradley_terry",
        "Step4BradleyTerry",
        "Bradley--Terry: $Z(x)$ cancels",
        step=4,
        claims=(
            "step4.bradley_terry",
            "step4.sigmoid_identity",
            "step4.only_differences",
            "step3.reparameterisation",
            "step4.substituted",
            "step4.z_cancels",
        ),
    ),
    Clip(
        "step5_dpo_loss",
        "Step5DpoLoss",
        "The DPO loss",
        step=5,
        claims=(
            "step4.z_cancels",
            "step5.dpo_loss",
            "step6.implicit_reward",
            "step5.reward_model_loss",
            "step5.loss_at_reference",
            "step5.converges_to_optimal",
            "step5.same_as_rlhf",
        ),
    ),
    Clip(
        "gradient",
        "Gradient",
        "The gradient: what one DPO update does",
        claims=(
            "step6.implicit_reward",
            "step6.dpo_gradient",
            "step6.weight_stops_runaway",
            "step6.no_mle_no_limit",
        ),
    ),
    Clip(
        "logprobs",
        "Logprobs",
        "Log-probs in practice",
        claims=(
            "step7.shift",
            "step7.prompt_masked",
            "step7.chain_rule",
            "step7.padding_invariant",
            "step7.chunked_gradient",
            "step7.loss_as_code",
        ),
    ),
    Clip(
        "trained_transformer",
        "TrainedTransformer",
        "The trained transformer against the optimal policy",
        claims=("step7.sequences_sum_to_one", "step7.reference_start"),
    ),
    Clip(
        "limits",
        "Limits",
        r"$\beta$ in practice and where DPO breaks",
        claims=(
            "limits.beta_frontier",
            "limits.length_exploit",
            "limits.length_fix",
            "limits.unseen_mass",
            "limits.chosen_falls",
            "limits.no_exploration",
        ),
    ),
)


def _claims_shown_by(clips: Iterable[Clip]) -> tuple[str, ...]:
    seen: dict[str, None] = {}
    for clip in clips:
        seen.update(dict.fromkeys(clip.claims))
    return tuple(seen)


# Last, so that make renders it after the clips it plays and it replays their cached segments.
LECTURE = Clip(
    "lecture",
    "Lecture",
    "DPO: why, derived in five steps, and put to work",
    claims=_claims_shown_by(clip for clip in _PRESENTED if clip.in_lecture),
    in_lecture=False,
)

CLIPS: tuple[Clip, ...] = (*_PRESENTED, LECTURE)

QUALITIES: dict[str, str] = {
    "low": "low_quality",  # 854×480, 15 fps
    "medium": "medium_quality",  # 1280×720, 30 fps
    "high": "high_quality",  # 1920×1080, 60 fps
}


class CatalogError(ValueError):
    """An unknown clip name or quality; the message lists the valid ones."""


def lecture_clips() -> tuple[Clip, ...]:
    """The clips the lecture plays, in order: its chapters."""
    return tuple(clip for clip in CLIPS if clip.in_lecture)


def find_clip(name: str) -> Clip:
    for clip in CLIPS:
        if clip.name == name:
            return clip
    valid = ", ".join(c.name for c in CLIPS)
    raise CatalogError(f"no clip named {name!r}; valid clips: {valid}")


def manim_quality(quality: str) -> str:
    if quality not in QUALITIES:
        raise CatalogError(f"unknown quality {quality!r}; valid qualities: {', '.join(QUALITIES)}")
    return QUALITIES[quality]


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="python3 scenes/catalog.py", description=__doc__)
    parser.add_argument("list", choices=["names", "lecture"], help="every clip, or the lecture's")
    chosen = CLIPS if parser.parse_args(argv).list == "names" else lecture_clips()
    print("\n".join(clip.name for clip in chosen))


if __name__ == "__main__":
    main()
