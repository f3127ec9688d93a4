"""Notifications to users (consent revoked, video removed, ...), read through the API."""

from __future__ import annotations

from typing import Any

from sqlalchemy import select, update
from sqlalchemy.orm import Session

from app.db import utcnow
from app.models import Notification


def notify(session: Session, user_id: str, kind: str, **payload: Any) -> Notification:
    note = Notification(user_id=user_id, kind=kind, payload=payload)
    session.add(note)
    return note


def unread_first(session: Session, user_id: str, limit: int = 50) -> list[Notification]:
    return list(session.scalars(select(Notification).where(Notification.user_id == user_id)
                                .order_by(Notification.read_at.is_not(None), Notification.created_at.desc())
                                .limit(limit)))


def mark_read(session: Session, user_id: str, notification_id: str) -> bool:
    result = session.execute(update(Notification).where(
        Notification.id == notification_id, Notification.user_id == user_id, Notification.read_at.is_(None))
        .values(read_at=utcnow()))
    return result.rowcount == 1 or session.scalar(
        select(Notification.id).where(Notification.id == notification_id, Notification.user_id == user_id)) is not None
