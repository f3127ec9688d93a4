"""Operating points of a classifier on its own score, shared by the prompt and frame classifiers."""

from __future__ import annotations

from dataclasses import dataclass

from app.stage import Decision


@dataclass(frozen=True)
class Cutoffs:
    """A classifier's operating points on its own score: a possible finding (REVIEW) from
    `review`, a likely one (BLOCK) from `block`; None: the score alone never reaches that level.
    What either level then does is the policy's (safety/policy.py)."""

    review: float | None
    block: float | None = None

    def decision(self, score: float) -> Decision:
        if self.block is not None and score >= self.block:
            return Decision.BLOCK
        if self.review is not None and score >= self.review:
            return Decision.REVIEW
        return Decision.ALLOW
