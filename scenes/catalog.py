"""Every clip the lecture renders: its name (file stem in renders/ and module in scenes/), its
scene class, the derivation step it shows, its title, and the claims it typesets. The Makefile's
per-clip targets follow this list (a test keeps the two in step, and another checks that each
clip shows exactly the claims listed here: ``scenes.render`` verifies them before rendering)."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Clip:
    name: str
    scene: str
    step: int | None
    title: str  # plain text-mode TeX: the heading on screen, the lecture's section name
    claims: tuple[str, ...]  # claim ids the clip shows, in order of first appearance

    @property
    def module(self) -> str:
        return f"scenes.{self.name}"

    @property
    def source(self) -> str:
        return f"scenes/{self.name}.py"

    @property
    def plain_title(self) -> str:
        """The title without TeX markup: section names, the manifest."""
        return self.title.replace("--", "–").replace("$", "")


STEP_CLIPS: tuple[Clip, ...] = (
    Clip(
        "step1_objective",
        "Step1Objective",
        1,
        "The RLHF objective",
        (
            "step1.objective",
            "step1.kl_nonnegative",
            "step1.beta_limits",
            "step1.score_function",
        ),
    ),
    Clip(
        "step2_optimal_policy",
        "Step2OptimalPolicy",
        2,
        "The optimal policy in closed form",
        (
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
        3,
        "Solve for the reward",
        (
            "step2.closed_form",
            "step3.log_closed_form",
            "step3.reparameterisation",
            "step3.equivalence_class",
        ),
    ),
    Clip(
        "step4_bradley_terry",
        "Step4BradleyTerry",
        4,
        "Bradley--Terry: $Z(x)$ cancels",
        (
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
        5,
        "The DPO loss",
        (
            "step4.z_cancels",
            "step5.dpo_loss",
            "step6.implicit_reward",
            "step5.loss_at_reference",
            "step5.converges_to_optimal",
            "step5.same_as_rlhf",
        ),
    ),
)


def _lecture_claims() -> tuple[str, ...]:
    seen: dict[str, None] = {}
    for clip in STEP_CLIPS:
        seen.update(dict.fromkeys(clip.claims))
    return tuple(seen)


LECTURE = Clip("lecture", "Lecture", None, "DPO, derived in five steps", _lecture_claims())

CLIPS: tuple[Clip, ...] = (*STEP_CLIPS, LECTURE)

QUALITIES: dict[str, str] = {
    "low": "low_quality",  # 854×480, 15 fps
    "medium": "medium_quality",  # 1280×720, 30 fps
    "high": "high_quality",  # 1920×1080, 60 fps
}


class CatalogError(ValueError):
    """An unknown clip name or quality; the message lists the valid ones."""


def find_clip(name: str) -> Clip:
    for clip in CLIPS:
        if clip.name == name:
            return clip
    valid = ", ".join(c.name for c in CLIPS)
    raise CatalogError(f"no clip named {name!r}; valid clips: {valid}")


def step_clip(step: int) -> Clip:
    return next(clip for clip in STEP_CLIPS if clip.step == step)


def manim_quality(quality: str) -> str:
    if quality not in QUALITIES:
        raise CatalogError(f"unknown quality {quality!r}; valid qualities: {', '.join(QUALITIES)}")
    return QUALITIES[quality]
