"""Safety gates."""

from __future__ import annotations

from app.stage import Reason, Stage, StageContext, Verdict
from safety.terms import TermPolicy, load_policy


class PromptTermStage(Stage):
    name = "safety.prompt_terms"

    def __init__(self, policy: TermPolicy | None = None):
        self._policy = policy

    @property
    def policy(self) -> TermPolicy:
        if self._policy is None:
            self._policy = load_policy()
        return self._policy

    @property
    def version(self) -> str:  # type: ignore[override]
        return f"terms-{self.policy.version}"

    def check(self, ctx: StageContext) -> Verdict:
        hits = self.policy.evaluate(ctx.prompt)
        findings = [
            (h.decision, Reason(f"safety_{h.category.name}", f"{h.category.label}: the prompt contains “{h.term}”",
                                {"category": h.category.name, "term": h.term,
                                 "dsa_category": h.category.dsa_category}))
            for h in hits
        ]
        scores = {h.category.name: 1.0 for h in hits}
        return Verdict.worst(findings, scores)
