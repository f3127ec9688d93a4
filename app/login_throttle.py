"""Wrong-password throttling per email and per client address, kept in the database.

The database, not Redis: it is the one store every process of every deployment shares (the
embedded queue's fakeredis lives inside one process), its rows lock, and failed logins are rare
enough that a row write each costs nothing next to the password hash they follow.

Each key counts failures in a window; reaching the limit refuses the key for a time that doubles
with each refusal in a row and is capped, so an attacker can delay but never lock out an account
for good. The email's counter is reset by a successful login; the address's is not (one valid
account must not let an attacker wipe their address's count between guesses). The check runs
before any hashing, so a refused attempt costs one indexed read.
"""

from __future__ import annotations

import hashlib
import math
from datetime import datetime, timedelta

from sqlalchemy import delete, or_, select
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.orm import Session

from app.config import setting
from app.db import as_utc
from app.errors import TooManyRequests
from app.models import LoginThrottle

ACCOUNT, ADDRESS = "account", "address"
IDLE_FORGIVEN = timedelta(days=1)  # a key untouched this long is forgotten, strikes and all


def keys(email: str, address: str | None) -> dict[str, str]:
    """The throttle keys of an attempt. The email is hashed: attackers spraying made-up addresses
    must not fill a table with them."""
    found = {ACCOUNT: "account:" + hashlib.sha256(email.strip().lower().encode()).hexdigest()}
    if address:
        found[ADDRESS] = "address:" + address[:64]
    return found


def check(session: Session, email: str, address: str | None, now: datetime) -> None:
    """Raise 429 while the email or the address is refused. Unknown emails are throttled like
    known ones, so the answer says nothing about which accounts exist."""
    wanted = list(keys(email, address).values())
    until = max((as_utc(row.blocked_until) for row in
                 session.scalars(select(LoginThrottle).where(LoginThrottle.key.in_(wanted)))
                 if row.blocked_until is not None and as_utc(row.blocked_until) > now), default=None)
    if until is not None:
        raise TooManyRequests("too many failed sign-ins: try again later", code="too_many_login_attempts",
                              retry_after_s=math.ceil((until - now).total_seconds()))


def lockout_s(strikes: int) -> int:
    """The refusal after `strikes` earlier ones in a row: doubling from GL_LOGIN_LOCKOUT, capped."""
    base, cap = setting("GL_LOGIN_LOCKOUT"), setting("GL_LOGIN_LOCKOUT_MAX")
    return min(base * 2 ** min(strikes, 30), cap)


def _row_for_update(session: Session, key: str, now: datetime) -> LoginThrottle:
    # Insert-if-missing then lock: two processes failing on one key at once both count.
    insert = pg_insert if session.get_bind().dialect.name == "postgresql" else sqlite_insert
    session.execute(insert(LoginThrottle).values(key=key, failures=0, strikes=0, window_started_at=now,
                                                 updated_at=now).on_conflict_do_nothing(index_elements=["key"]))
    return session.scalars(select(LoginThrottle).where(LoginThrottle.key == key).with_for_update()
                           .execution_options(populate_existing=True)).one()


def record_failure(session: Session, email: str, address: str | None, now: datetime) -> dict[str, int]:
    """Count one wrong password against the email and the address; returns, per scope that it
    newly refuses, for how many seconds."""
    limits = {ACCOUNT: setting("GL_LOGIN_ACCOUNT_FAILURES"), ADDRESS: setting("GL_LOGIN_ADDRESS_FAILURES")}
    window = timedelta(seconds=setting("GL_LOGIN_WINDOW"))
    session.execute(delete(LoginThrottle).where(
        LoginThrottle.updated_at < now - IDLE_FORGIVEN,
        or_(LoginThrottle.blocked_until.is_(None), LoginThrottle.blocked_until < now)))
    refused: dict[str, int] = {}
    for scope, key in keys(email, address).items():
        row = _row_for_update(session, key, now)
        if as_utc(row.window_started_at) <= now - window:
            row.failures, row.window_started_at = 0, now
        row.failures += 1
        row.updated_at = now
        if row.failures >= limits[scope]:
            seconds = lockout_s(row.strikes)
            row.blocked_until = now + timedelta(seconds=seconds)
            row.strikes += 1
            row.failures, row.window_started_at = 0, now
            refused[scope] = seconds
    return refused


def record_success(session: Session, email: str) -> None:
    session.execute(delete(LoginThrottle).where(LoginThrottle.key == keys(email, None)[ACCOUNT]))
