"""Append-only, hash-chained audit log.

Each row's hash covers its content and the previous row's hash, so an edited, deleted or
re-ordered row breaks `verify()`. The database refuses UPDATE/DELETE (triggers in the
initial migration) and a unique prev_hash makes a forked chain impossible.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass
from typing import Any

from sqlalchemy import select, text
from sqlalchemy.orm import Session

from app.db import utcnow
from app.models import AuditEvent

GENESIS = "0" * 64
_PG_AUDIT_LOCK = 0x6C_6967_6874  # any constant; serialises appends across PostgreSQL sessions


def _digest(prev_hash: str, actor: str, action: str, object_type: str, object_id: str,
            before: Any, after: Any, created_at_iso: str) -> str:
    payload = json.dumps(
        [prev_hash, actor, action, object_type, object_id, before, after, created_at_iso],
        sort_keys=True, separators=(",", ":"), default=str,
    )
    return hashlib.sha256(payload.encode()).hexdigest()


def record(session: Session, *, actor: str, action: str, object_type: str, object_id: str,
           before: dict[str, Any] | None = None, after: dict[str, Any] | None = None) -> AuditEvent:
    """Append one event in the caller's transaction (it commits or rolls back with the change)."""
    if session.get_bind().dialect.name == "postgresql":
        session.execute(text("SELECT pg_advisory_xact_lock(:k)"), {"k": _PG_AUDIT_LOCK})
    session.flush()
    prev = session.scalar(select(AuditEvent.hash).order_by(AuditEvent.id.desc()).limit(1)) or GENESIS
    created_at = utcnow()
    event = AuditEvent(
        actor=actor, action=action, object_type=object_type, object_id=str(object_id),
        before=before, after=after, created_at=created_at, prev_hash=prev,
        hash=_digest(prev, actor, action, object_type, str(object_id), before, after, created_at.isoformat()),
    )
    session.add(event)
    session.flush()
    return event


@dataclass(frozen=True)
class ChainReport:
    ok: bool
    checked: int
    first_bad_id: int | None = None
    problem: str | None = None


def verify(session: Session) -> ChainReport:
    prev = GENESIS
    checked = 0
    for ev in session.scalars(select(AuditEvent).order_by(AuditEvent.id)).yield_per(500):
        if ev.prev_hash != prev:
            return ChainReport(False, checked, ev.id, "prev_hash does not match the previous row")
        expected = _digest(prev, ev.actor, ev.action, ev.object_type, ev.object_id, ev.before, ev.after,
                           ev.created_at.isoformat())
        if expected != ev.hash:
            return ChainReport(False, checked, ev.id, "row content does not match its hash")
        prev = ev.hash
        checked += 1
    return ChainReport(True, checked)


def history(session: Session, object_type: str, object_id: str) -> list[AuditEvent]:
    return list(session.scalars(
        select(AuditEvent).where(AuditEvent.object_type == object_type, AuditEvent.object_id == object_id)
        .order_by(AuditEvent.id)))
