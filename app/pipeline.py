"""The whole pipeline in one place: what runs before any GPU time is spent, and after.

Adding a gate is one line here plus its own module (and tests) in its domain package.
"""

from __future__ import annotations

import time

from copyright.stages import RenderedWorksStage, RightsStage
from generator.stages import MediaIntegrityStage
from likeness.stages import CameoConsentStage, FaceScanStage, InputFacesStage, NamedCameoStage, PublicFigureStage
from safety.stages import (
    AudioSafetyStage, FrameSafetyStage, HashBankStage, InputImageSafetyStage, PromptSafetyStage,
)

from app.stage import Stage, StageContext, Verdict

PRE_RENDER: tuple[Stage, ...] = (
    PromptSafetyStage(),   # safety: terms and the meaning of the prompt (MiniLM vs labelled exemplars), per category
    InputImageSafetyStage(),        # safety: no nudity in the input image (nudenet's detector)
    HashBankStage(rendered=False),  # safety: the input image is not known media in a hash bank
    CameoConsentStage(),   # likeness: every requested cameo is active and allows this requester
    InputFacesStage(),     # likeness: every face in an input image is a cameo that allows this requester
    NamedCameoStage(),     # likeness: naming an enrolled person (@handle, full name) needs their cameo
    PublicFigureStage(),   # likeness: no public figure unless they enrolled and allow it
    RightsStage(),         # copyright: works are default-deny unless their rightsholder's policy allows this use
)

POST_RENDER: tuple[Stage, ...] = (
    MediaIntegrityStage(),  # generator: the file is a playable H.264 + AAC MP4 of the expected length
    CameoConsentStage(),    # likeness: consent still holds (a cameo revoked while rendering blocks)
    FaceScanStage(),        # likeness: every face on screen (2 frames/s) is a declared, consenting cameo
    RenderedWorksStage(),   # copyright: works on screen (reference images vs the same frames) under their policy
    HashBankStage(rendered=True),  # safety: no frame is known media in a hash bank
    FrameSafetyStage(),     # safety: no nudity in the frames (nudenet's detector, the same 2 frames/s)
    AudioSafetyStage(),     # safety: what is said (Silero VAD + speech-to-text) through the prompt classifier
)


def run_stages(stages: tuple[Stage, ...], ctx: StageContext) -> list[Verdict]:
    """Every stage runs (no short-circuit) so each verdict records why, for review and dry runs."""
    verdicts: list[Verdict] = []
    ctx.earlier = verdicts
    for stage in stages:
        started = time.perf_counter()
        verdict = stage.check(ctx)
        verdict.latency_ms = (time.perf_counter() - started) * 1000.0
        verdict.stage, verdict.version = stage.name, stage.version
        verdicts.append(verdict)
    return verdicts


def persist_findings(stages: tuple[Stage, ...], ctx: StageContext, verdicts: list[Verdict]) -> None:
    """Let each stage record what a real run found (a dry run calls run_stages only)."""
    for stage, verdict in zip(stages, verdicts, strict=True):
        stage.persist(ctx, verdict)
