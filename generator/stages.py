"""Post-render stages owned by the generator: is what we rendered a sound, playable file; and
its fingerprints into the platform's bank of its own outputs."""

from __future__ import annotations

from app.kit.media import MediaError, codec_model_file
from app.stage import Decision, Reason, Stage, StageContext, Verdict
from generator.fingerprints import FRAMES_PER_SECOND, PRINT_SIDE, VIEWS, frame_prints
from generator.media import check_playable, probe
from generator.services import bank_fingerprints


class MediaIntegrityStage(Stage):
    dsa_category = "STATEMENT_CATEGORY_OTHER_VIOLATION_TC"  # a broken render is not content we offer
    name = "generator.media_integrity"
    models = ("video-codec",)

    @property
    def version(self) -> str:  # type: ignore[override]
        return f"probe-1:{codec_model_file().tag}"

    def check(self, ctx: StageContext) -> Verdict:
        if ctx.media_path is None or not ctx.media_path.is_file():
            return Verdict.block(Reason("media_missing", "the rendered file is missing"))
        try:
            info = probe(ctx.media_path)
        except MediaError as exc:
            return Verdict.block(Reason(exc.code, exc.message))
        problems = check_playable(info)
        findings = [(Decision.BLOCK, Reason(code, message)) for code, message in problems]
        return Verdict.worst(findings, {"frames": float(info.frames), "duration_s": info.duration_s})


class FingerprintStage(Stage):
    """Banks the PDQ hashes of every rendered video's frames (generator/fingerprints.py) so a copy
    found elsewhere can be traced to its generation. It decides nothing: always allow."""

    dsa_category = "STATEMENT_CATEGORY_OTHER_VIOLATION_TC"
    name = "generator.fingerprints"
    version = f"pdq-views-{len(VIEWS)}:{PRINT_SIDE}px:{FRAMES_PER_SECOND:g}fps"

    def check(self, ctx: StageContext) -> Verdict:
        try:
            frames = ctx.frames(FRAMES_PER_SECOND)
        except MediaError:  # generator.media_integrity blocks it; there is nothing to bank
            return Verdict.allow(scores={"frames": 0.0, "hashes": 0.0})
        prints = frame_prints(frames)
        verdict = Verdict.allow(scores={"frames": float(len(frames)), "hashes": float(len(prints))})
        verdict.evidence["prints"] = prints
        return verdict

    def persist(self, ctx: StageContext, verdict: Verdict) -> None:
        if "prints" in verdict.evidence:
            bank_fingerprints(ctx.session, ctx.generation_id, verdict.evidence["prints"])
