"""The generation state machine: the only code that changes Generation.status."""

from __future__ import annotations

from sqlalchemy import update
from sqlalchemy.orm import Session
from sqlalchemy.orm.attributes import set_committed_value

from app import audit, cases
from app.db import utcnow
from app.errors import IllegalTransition, StaleState
from app.models import Generation, Status

S = Status

TRANSITIONS: dict[Status, frozenset[Status]] = {
    # The gate claims and decides a request in one transaction (app.orchestrator.gate), so it goes
    # from submitted straight to its outcome: nobody could ever see it "gating", and writing that
    # step cost an UPDATE and an audit row per request. GATING stays for rows an older version
    # left there; the gate and the recovery sweep take them up like submitted ones.
    S.SUBMITTED: frozenset({S.BLOCKED, S.IN_REVIEW, S.QUEUED, S.FAILED, S.DELETED}),
    S.GATING: frozenset({S.BLOCKED, S.IN_REVIEW, S.QUEUED, S.FAILED}),
    # in_review is entered before rendering (then allow -> queued) or after scanning
    # (then allow -> draft); which one is decided by whether media exists.
    S.IN_REVIEW: frozenset({S.QUEUED, S.DRAFT, S.BLOCKED, S.DELETED}),
    S.QUEUED: frozenset({S.RENDERING, S.BLOCKED, S.FAILED, S.DELETED}),
    S.RENDERING: frozenset({S.SCANNING, S.FAILED}),
    S.SCANNING: frozenset({S.DRAFT, S.IN_REVIEW, S.BLOCKED, S.FAILED}),
    S.DRAFT: frozenset({S.PUBLISHED, S.BLOCKED, S.DELETED}),
    # Unpublishing (consent revoked, takedown) returns a video to draft or blocks it.
    S.PUBLISHED: frozenset({S.DRAFT, S.BLOCKED, S.DELETED}),
    # An appeal overturned: a blocked request renders after all, a blocked video returns to drafts.
    S.BLOCKED: frozenset({S.QUEUED, S.DRAFT, S.DELETED}),
    # An operator may retry a failed generation from the start.
    S.FAILED: frozenset({S.SUBMITTED, S.DELETED}),
    S.DELETED: frozenset(),
}

IN_FLIGHT = frozenset({S.SUBMITTED, S.GATING, S.QUEUED, S.RENDERING, S.SCANNING})
TERMINAL = frozenset(s for s, nxt in TRANSITIONS.items() if not nxt)


def can_transition(current: Status | str, target: Status | str) -> bool:
    return Status(target) in TRANSITIONS[Status(current)]


def check_transition(current: Status | str, target: Status | str) -> None:
    if not can_transition(current, target):
        raise IllegalTransition(
            f"a generation cannot go from {current} to {target}",
            details={"from": str(current), "to": str(target)},
        )


def transition(session: Session, gen: Generation, target: Status, *, actor: str,
               reason: str | None = None, **changes) -> Generation:
    """Move `gen` to `target` if it is still in the state we read (compare-and-set).

    Two workers racing on one generation cannot both win: the loser gets StaleState and its
    transaction (verdicts, audit rows) rolls back, so each step happens exactly once.
    """
    current = Status(gen.status)
    check_transition(current, target)
    now = utcnow()
    values = {"status": target.value, "updated_at": now, **changes}
    result = session.execute(
        update(Generation).where(Generation.id == gen.id, Generation.status == current.value).values(**values)
        .execution_options(synchronize_session=False))
    if result.rowcount != 1:
        raise StaleState(f"generation {gen.id} is no longer {current}", details={"expected": current.value})
    for key, value in values.items():
        set_committed_value(gen, key, value)  # already written by the UPDATE above
    after = {"status": target.value}
    if reason:
        after["reason"] = reason
    audit.record(session, actor=actor, action="generation.transition", object_type="generation",
                 object_id=gen.id, before={"status": current.value}, after=after)
    if current == S.IN_REVIEW or target == S.DELETED:
        cases.close_moot(session, gen, target.value, actor)
    return gen
