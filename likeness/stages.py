"""Likeness gates: consent for every requested cameo, and no public figure without consent."""

from __future__ import annotations

from sqlalchemy import select

from app.stage import Decision, Reason, Stage, StageContext, Verdict
from likeness.figures import FigureList, load_figures
from likeness.models import Cameo
from likeness.services import permission_denial, record_appearance, usable_figure_cameos

_DENIAL_MESSAGES = {
    "cameo_not_found": "a requested cameo does not exist",
    "cameo_revoked": "a requested cameo was revoked by its owner",
    "cameo_not_permitted": "the owner of a requested cameo does not allow you to use it",
}


class CameoConsentStage(Stage):
    name = "likeness.cameo_consent"
    version = "permissions-1"

    def check(self, ctx: StageContext) -> Verdict:
        if not ctx.cameo_ids:
            return Verdict.allow()
        cameos = {c.id: c for c in ctx.session.scalars(select(Cameo).where(Cameo.id.in_(ctx.cameo_ids)))}
        findings = []
        for cameo_id in ctx.cameo_ids:
            denial = permission_denial(ctx.session, cameos.get(cameo_id), ctx.requester.id)
            if denial:
                # Not-found and not-permitted read the same to the requester: no probing for cameos.
                code = "cameo_not_permitted" if denial == "cameo_not_found" else denial
                findings.append((Decision.BLOCK, Reason(code, _DENIAL_MESSAGES[denial], {"cameo_id": cameo_id})))
        verdict = Verdict.worst(findings, {"cameos_checked": float(len(ctx.cameo_ids))})
        verdict.evidence["existing"] = [cid for cid in ctx.cameo_ids if cid in cameos]
        return verdict

    def persist(self, ctx: StageContext, verdict: Verdict) -> None:
        # Declared cameos make their owners co-owners of the generation (and reach it on revocation).
        for cameo_id in verdict.evidence.get("existing", []):
            record_appearance(ctx.session, ctx.generation_id, cameo_id, "declared")


class PublicFigureStage(Stage):
    name = "likeness.public_figures"

    def __init__(self, figures: FigureList | None = None):
        self._figures = figures

    @property
    def figures(self) -> FigureList:
        if self._figures is None:
            self._figures = load_figures()
        return self._figures

    @property
    def version(self) -> str:  # type: ignore[override]
        return f"figures-{self.figures.version}"

    def check(self, ctx: StageContext) -> Verdict:
        refs = self.figures.find(ctx.prompt)
        consented = usable_figure_cameos(ctx.session, {r.figure.id for r in refs}, ctx.cameo_ids, ctx.requester.id)
        findings = [
            (ref.decision, Reason(
                "public_figure" if ref.decision == Decision.BLOCK else "possible_public_figure",
                f"the prompt refers to {ref.figure.name}, who has not consented through a cameo",
                {"figure_id": ref.figure.id, "name": ref.figure.name, "matched_by": ref.via}))
            for ref in refs if ref.figure.id not in consented
        ]
        return Verdict.worst(findings, {"figures_matched": float(len(refs))})
