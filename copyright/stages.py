"""Copyright gates."""

from __future__ import annotations

from app.stage import Reason, Stage, StageContext, Verdict
from copyright.catalogue import Catalogue, load_catalogue


class CatalogueStage(Stage):
    """Works in the catalogue are default-deny until a rightsholder opts in (registry: next issue)."""

    name = "copyright.catalogue"

    def __init__(self, catalogue: Catalogue | None = None):
        self._catalogue = catalogue

    @property
    def catalogue(self) -> Catalogue:
        if self._catalogue is None:
            self._catalogue = load_catalogue()
        return self._catalogue

    @property
    def version(self) -> str:  # type: ignore[override]
        return f"catalogue-{self.catalogue.version}"

    def check(self, ctx: StageContext) -> Verdict:
        refs = self.catalogue.find(ctx.prompt)
        findings = [
            (ref.decision, Reason(
                "copyright_default_deny" if ref.via == "title" else "possible_copyrighted_work",
                f"“{ref.work.title}” ({ref.work.owner}) is a protected {ref.work.kind}; its rightsholder has not "
                "opted in",
                {"work_id": ref.work.id, "title": ref.work.title, "owner": ref.work.owner, "matched_by": ref.via}))
            for ref in refs
        ]
        return Verdict.worst(findings, {"works_matched": float(len(refs))})
