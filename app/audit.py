"""Append-only, hash-chained audit log.

Each row's hash is an HMAC, under a key outside the database, of its content and the previous
row's hash (app/chain.py), so an edited, deleted, re-ordered or re-hashed row breaks `verify()`,
and signed checkpoints of the chain's head show a truncated table or a deleted tail. The database
refuses UPDATE/DELETE (triggers in the initial migration; on PostgreSQL the app's role is granted
only SELECT and INSERT), and a unique prev_hash makes a forked chain impossible.
"""

from __future__ import annotations

from typing import Any, Sequence

from sqlalchemy import select
from sqlalchemy.orm import Session

from app import chain, domains
from app.chain import GENESIS, ChainReport  # noqa: F401  (part of this module's interface)
from app.db import utcnow
from app.models import AuditEvent


def _contents(session: Session, rows: Sequence[AuditEvent]) -> list[list[Any]]:
    return [[ev.actor, ev.action, ev.object_type, ev.object_id, ev.before, ev.after, ev.created_at.isoformat()]
            for ev in rows]


CHAIN = chain.Chain(name="audit", model=AuditEvent, position=AuditEvent.id, contents=_contents,
                    lock=0x6C_6967_6874)  # any constant; serialises appends across PostgreSQL sessions


def record(session: Session, *, actor: str, action: str, object_type: str, object_id: str,
           before: dict[str, Any] | None = None, after: dict[str, Any] | None = None) -> AuditEvent:
    """Append one event in the caller's transaction (it commits or rolls back with the change)."""
    event = AuditEvent(actor=actor, action=action, object_type=object_type, object_id=str(object_id),
                       before=before, after=after, created_at=utcnow())
    chain.link(session, CHAIN, event, _contents(session, [event])[0])
    session.add(event)
    session.flush()
    return event


def verify(session: Session, checkpoints: Sequence[chain.Checkpoint] | None = None,
           key: chain.ChainKey | None = None) -> ChainReport:
    """The rows against the chain key (this instance's unless given) and `checkpoints`
    (`greenlight audit verify` passes every checkpoint in GL_CHECKPOINT_DIR)."""
    return chain.verify(session, CHAIN, key or chain.current_key(), checkpoints)


def history(session: Session, object_type: str, object_id: str) -> list[AuditEvent]:
    return list(session.scalars(
        select(AuditEvent).where(AuditEvent.object_type == object_type, AuditEvent.object_id == object_id)
        .order_by(AuditEvent.id)))


def chains() -> list[chain.Chain]:
    """The chains `greenlight audit verify` and `checkpoint` cover: this log's and every domain's (the ledger's)."""
    return [CHAIN, *(c for d in domains.domains() for c in d.chains)]
