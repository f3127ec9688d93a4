"""Keyset pagination on (created_at, id), newest first: stable under concurrent inserts."""

from __future__ import annotations

import base64
import json
from datetime import datetime

from sqlalchemy import Select, and_, or_
from sqlalchemy.orm import Session

from app import inputs
from app.errors import ValidationFailed


def encode_cursor(created_at: datetime, row_id: str) -> str:
    return base64.urlsafe_b64encode(json.dumps([created_at.isoformat(), row_id]).encode()).decode().rstrip("=")


def decode_cursor(raw: str) -> tuple[datetime, str]:
    try:
        created, row_id = json.loads(base64.urlsafe_b64decode(raw + "=" * (-len(raw) % 4)))
        parsed = datetime.fromisoformat(created)
        # The id goes into the query: a NUL in it would be PostgreSQL's DataError, not a bad cursor.
        if parsed.tzinfo is None or not isinstance(row_id, str) or inputs.bad_character(row_id) is not None:
            raise ValueError("cursor")
        return parsed, row_id
    except (ValueError, TypeError, json.JSONDecodeError):
        raise ValidationFailed("the cursor is not one this API issued", code="invalid_cursor") from None


def paginate(session: Session, stmt: Select, model, limit: int, cursor: str | None) -> tuple[list, str | None]:
    if cursor:
        created, row_id = decode_cursor(cursor)
        stmt = stmt.where(or_(model.created_at < created, and_(model.created_at == created, model.id < row_id)))
    rows = list(session.scalars(stmt.order_by(model.created_at.desc(), model.id.desc()).limit(limit + 1)))
    if len(rows) > limit:
        rows = rows[:limit]
        return rows, encode_cursor(rows[-1].created_at, rows[-1].id)
    return rows, None
