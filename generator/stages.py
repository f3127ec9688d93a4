"""Post-render gate owned by the generator: is what we rendered a sound, playable file?"""

from __future__ import annotations

from app.kit.media import MediaError, codec_model_file
from app.stage import Decision, Reason, Stage, StageContext, Verdict
from generator.media import check_playable, probe


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
