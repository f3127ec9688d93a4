"""Replay stored generations under a candidate safety policy and report what would change.

The prompt is classified again (so a dry run also shows what a new classifier or threshold file
would do); findings of the media stages (frames, input image, audio) are taken from their stored
reasons, whose `category` and `level` the policy maps again: no video is decoded. The other
stages' stored decisions stand. Nothing is written.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime

from sqlalchemy import select
from sqlalchemy.orm import Session

from app.models import Generation, Status, User, VerdictRecord
from app.stage import Decision, Reason, Requester, StageContext, combine
from safety.policy import SafetyPolicy
from safety.stages import AGE_RESTRICTED, PromptSafetyStage, judged

MEDIA_STAGES = ("safety.frames", "safety.input_image", "safety.audio")
_LEVEL = {"review": "possible", "block": "likely"}


@dataclass(frozen=True)
class Outcome:
    decision: str  # allow | review | block
    age_restricted: bool

    def __str__(self) -> str:
        return self.decision + (" (age-restricted)" if self.age_restricted and self.decision == "allow" else "")


@dataclass
class Change:
    generation_id: str
    prompt: str
    status: str
    before: Outcome
    after: Outcome
    categories: list[str]


@dataclass
class DryRunReport:
    policy_version: str
    examined: int = 0
    changes: list[Change] = field(default_factory=list)
    transitions: Counter = field(default_factory=Counter)


def _stored_reason(raw: dict) -> tuple[Decision, Reason]:
    details = dict(raw.get("details") or {})
    level = details.get("level") or None
    decision = Decision.BLOCK if level in ("likely", "certain") else Decision.REVIEW if level == "possible" else None
    return decision, Reason(raw.get("code", ""), raw.get("message", ""), details)


def _outcome(verdicts: list[tuple[str, Decision, set[str]]]) -> Outcome:
    decision = combine([d for _, d, _ in verdicts])
    restricted = decision == Decision.ALLOW and any(AGE_RESTRICTED in r for _, _, r in verdicts)
    return Outcome(decision.value, restricted)


def replay(session: Session, policy: SafetyPolicy, *, since: datetime | None = None, limit: int = 1000,
           prompt_stage: PromptSafetyStage | None = None,
           progress: Callable[[int, int], None] | None = None) -> DryRunReport:
    stage = prompt_stage or PromptSafetyStage()
    candidate = PromptSafetyStage(stage.classifier, policy)
    stmt = select(Generation).where(Generation.status != Status.DELETED).order_by(Generation.created_at.desc())
    if since is not None:
        stmt = stmt.where(Generation.created_at >= since)
    gens = list(session.scalars(stmt.limit(limit)))
    report = DryRunReport(policy.version)
    for i, gen in enumerate(gens, 1):
        rows = list(session.scalars(select(VerdictRecord).where(VerdictRecord.generation_id == gen.id,
                                                             VerdictRecord.phase != "human")))
        if not rows:
            continue
        owner = session.get(User, gen.owner_id)
        ctx = StageContext(gen.id, gen.prompt, list(gen.cameo_ids or []), gen.remix_of_id,
                           Requester(owner.id, owner.handle, owner.is_teen), session=session)
        before, after, categories = [], [], set()
        for row in rows:
            restricted = {AGE_RESTRICTED} if any((r.get("details") or {}).get("action") == "age_restrict"
                                                 for r in row.reasons) else set()
            before.append((row.stage, Decision(row.decision), restricted))
            if row.stage == "safety.prompt":
                verdict = candidate.check(ctx)
                after.append((row.stage, verdict.decision, verdict.restrictions))
            elif row.stage in MEDIA_STAGES:
                findings = []
                for raw in row.reasons:
                    decision, reason = _stored_reason(raw)
                    if decision is None:  # not a policy finding (a media error): it stands
                        decision = Decision(row.decision)
                    findings.append((decision, reason))
                verdict = judged(findings, ctx, {}, policy)
                after.append((row.stage, verdict.decision, verdict.restrictions))
            else:
                after.append(before[-1])
                continue
            categories |= {r.details["category"] for r in verdict.reasons if "category" in r.details}
        report.examined += 1
        was, will = _outcome(before), _outcome(after)
        if was != will:
            report.changes.append(Change(gen.id, gen.prompt[:120], gen.status, was, will, sorted(categories)))
            report.transitions[(str(was), str(will))] += 1
        if progress:
            progress(i, len(gens))
    return report
