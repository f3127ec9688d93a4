"""Users, invites and API tokens."""

from __future__ import annotations

import functools
import hashlib
import logging
import re
import secrets
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import date, datetime, timedelta

from sqlalchemy import select, update
from sqlalchemy.orm import Session
from werkzeug.security import check_password_hash, generate_password_hash

from app import audit, login_throttle
from app.config import setting
from app.db import as_utc, utcnow
from app.errors import Conflict, ServiceBusy, Unauthenticated, ValidationFailed
from app.models import ApiToken, Follow, Invite, Role, User, age_on

log = logging.getLogger(__name__)

INVITES_PER_USER = 4
TOKEN_PREFIX = "glt_"
MIN_PASSWORD = 10
_HANDLE = re.compile(r"^[a-z0-9_]{3,32}$")
_EMAIL = re.compile(r"^[^@\s]+@[^@\s]+\.[^@\s]+$")


@functools.cache
def _dummy_hash() -> str:
    """Checked against when the email is unknown, so the answer takes as long as for a known one.
    Made at the first login, not at import (scrypt costs ~0.1 s: every CLI call paid it)."""
    return generate_password_hash("timing-equaliser")


_slots_lock = threading.Lock()
_slots: tuple[int, threading.BoundedSemaphore] | None = None


def _hashing_semaphore() -> threading.BoundedSemaphore:
    global _slots
    size = setting("GL_PASSWORD_HASH_SLOTS")
    with _slots_lock:
        if _slots is None or _slots[0] != size:
            _slots = (size, threading.BoundedSemaphore(size))
        return _slots[1]


_busy = {"count": 0, "logged_at": 0.0}
BUSY_LOG_EVERY_S = 10.0


def _note_busy() -> None:
    # One log line per interval, not one per refused request: a flood must not flood the log too.
    with _slots_lock:
        _busy["count"] += 1
        now = time.monotonic()
        if now - _busy["logged_at"] < BUSY_LOG_EVERY_S:
            return
        count, _busy["count"], _busy["logged_at"] = _busy["count"], 0, now
    log.warning("password hashing saturated: %d sign-ins answered 503 server_busy", count)


@contextmanager
def hashing_slot() -> Iterator[None]:
    """One of the process's few password-hashing slots. scrypt takes a core for tens of
    milliseconds: unbounded, a login flood starves every other request (GET /health went from
    10 ms to 2.4 s), and queueing would hold every server thread; so a short wait, then 503."""
    slots = _hashing_semaphore()
    if not slots.acquire(timeout=setting("GL_PASSWORD_HASH_WAIT_MS") / 1000):
        _note_busy()
        raise ServiceBusy("too many sign-ins at once: try again in a moment", retry_after_s=1)
    try:
        yield
    finally:
        slots.release()


def _handle_from_email(session: Session, email: str) -> str:
    base = re.sub(r"[^a-z0-9_]", "_", email.split("@", 1)[0].lower())[:24].strip("_") or "user"
    base = base if len(base) >= 3 else f"{base}_user"
    handle, n = base, 1
    while session.scalar(select(User.id).where(User.handle == handle)):
        n += 1
        handle = f"{base}{n}"
    return handle


def create_user(session: Session, email: str, password: str, *, role: Role = Role.CREATOR,
                birthdate: date | None = None, handle: str | None = None,
                invited_by: User | None = None) -> User:
    email = email.strip().lower()
    if not _EMAIL.match(email):
        raise ValidationFailed("not an email address", code="invalid_email")
    if len(password) < MIN_PASSWORD:
        raise ValidationFailed(f"password must have at least {MIN_PASSWORD} characters", code="weak_password")
    if birthdate is not None and not (date(1900, 1, 1) <= birthdate <= utcnow().date()):
        raise ValidationFailed("birthdate out of range", code="invalid_birthdate")
    if birthdate is not None and age_on(birthdate, utcnow().date()) < setting("GL_MIN_AGE"):
        # Checked before anything is written: a refused sign-up leaves no row and uses no invite.
        raise ValidationFailed(f"you must be at least {setting('GL_MIN_AGE')} to have an account",
                               code="below_minimum_age", details={"minimum_age": setting("GL_MIN_AGE")})
    if session.scalar(select(User.id).where(User.email == email)):
        raise Conflict("an account with this email exists", code="email_taken")
    if handle is not None:
        handle = handle.lower().lstrip("@")
        if not _HANDLE.match(handle):
            raise ValidationFailed("handle: 3-32 of a-z, 0-9, _", code="invalid_handle")
        if session.scalar(select(User.id).where(User.handle == handle)):
            raise Conflict("handle taken", code="handle_taken")
    with hashing_slot():
        password_hash = generate_password_hash(password)
    user = User(email=email, handle=handle or _handle_from_email(session, email),
                password_hash=password_hash, role=Role(role).value, birthdate=birthdate,
                invited_by_id=invited_by.id if invited_by else None)
    session.add(user)
    session.flush()
    for _ in range(INVITES_PER_USER):
        session.add(Invite(code=secrets.token_hex(8), owner_id=user.id))
    audit.record(session, actor=invited_by.id if invited_by else "system:cli", action="user.created",
                 object_type="user", object_id=user.id, after={"role": user.role, "handle": user.handle})
    return user


def sign_up(session: Session, invite_code: str, email: str, password: str, birthdate: date,
            handle: str | None = None) -> User:
    invite = session.get(Invite, invite_code)
    if invite is None or invite.used_by_id is not None:
        raise ValidationFailed("invite code is unknown or already used", code="invalid_invite")
    inviter = session.get(User, invite.owner_id)
    user = create_user(session, email, password, birthdate=birthdate, handle=handle, invited_by=inviter)
    # Compare-and-set: two sign-ups racing on one code cannot both succeed.
    used = session.execute(update(Invite).where(Invite.code == invite_code, Invite.used_by_id.is_(None))
                           .values(used_by_id=user.id, used_at=utcnow()))
    if used.rowcount != 1:
        raise ValidationFailed("invite code is unknown or already used", code="invalid_invite")
    return user


def list_invites(session: Session, user: User) -> list[Invite]:
    return list(session.scalars(select(Invite).where(Invite.owner_id == user.id).order_by(Invite.created_at)))


def check_credentials(session: Session, email: str, password: str, *, address: str | None = None,
                      via: str = "api") -> User:
    """The user these credentials sign in (in `session`), else 401; 429 while the email or the
    client address has failed too often (checked before hashing, so a refusal costs no KDF), 503
    when no hashing slot frees within GL_PASSWORD_HASH_WAIT_MS.

    The reads and a failure's record (counted, audited, logged) run in short transactions of their
    own, so no transaction is open while the password hashes: on SQLite every transaction holds
    the write lock, and a hash held under it stalled every other request. Call it before `session`
    has run anything (a login request's first database work)."""
    from app import runtime

    email = email.strip().lower()
    now = utcnow()
    # The slot first: waiting for it touches no database.
    with hashing_slot():
        with runtime.current().db.transaction() as reads:
            login_throttle.check(reads, email, address, now)
            found = reads.execute(select(User.id, User.password_hash).where(User.email == email)).first()
        # Hash even for unknown emails so response time does not reveal which accounts exist.
        matches = check_password_hash(found.password_hash if found else _dummy_hash(), password)
    if not matches or found is None:
        _record_failed_login(email, address, found.id if found else None, via, now)
        raise Unauthenticated("email or password is wrong", code="invalid_credentials")
    login_throttle.record_success(session, email)
    return session.get(User, found.id)


def _record_failed_login(email: str, address: str | None, user_id: str | None, via: str, now: datetime) -> None:
    # The password is never recorded; whether the account exists is, for investigators only.
    from app import runtime
    try:
        with runtime.current().db.transaction() as s:
            refused = login_throttle.record_failure(s, email, address, now)
            after = {"via": via, "address": address, "account_exists": user_id is not None}
            if refused:
                after["refused_for_s"] = refused
            audit.record(s, actor="anonymous", action="login.failed", object_type="user",
                         object_id=user_id or "unknown", after=after)
    except Exception:
        # The caller still answers 401; the failure to count it must not turn that into a 500.
        log.exception("could not record a failed login via %s from %s", via, address or "-")
        return
    log.warning("failed login via %s from %s for %s%s", via, address or "-", user_id or "an unknown email",
                f"; refusing {refused}" if refused else "")


def _token_hash(raw: str) -> str:
    return hashlib.sha256(raw.encode()).hexdigest()


def issue_token(session: Session, user: User, name: str = "api", *,
                lifetime_s: int | None = None) -> tuple[str, ApiToken]:
    """The raw token is returned once and never stored. It expires after `lifetime_s` (default
    GL_TOKEN_LIFETIME)."""
    raw = TOKEN_PREFIX + secrets.token_urlsafe(32)
    now = utcnow()
    lifetime = timedelta(seconds=lifetime_s or setting("GL_TOKEN_LIFETIME"))
    token = ApiToken(user_id=user.id, token_hash=_token_hash(raw), prefix=raw[:10], name=name, created_at=now,
                     expires_at=now + lifetime)
    session.add(token)
    session.flush()
    audit.record(session, actor=user.id, action="token.issued", object_type="api_token", object_id=token.id,
                 after={"name": token.name, "expires_at": token.expires_at.isoformat()})
    return raw, token


def list_tokens(session: Session, user: User) -> list[ApiToken]:
    """The user's usable tokens (neither revoked nor expired), newest first."""
    return list(session.scalars(select(ApiToken).where(
        ApiToken.user_id == user.id, ApiToken.revoked_at.is_(None), ApiToken.expires_at > utcnow())
        .order_by(ApiToken.created_at.desc(), ApiToken.id)))


def user_for_token(session: Session, raw: str) -> User | None:
    """The token's user; None for an unknown or revoked token; 401 token_expired for an expired one.
    One lookup by sha256 (no KDF: tokens carry 256 bits of randomness)."""
    if not raw.startswith(TOKEN_PREFIX) or len(raw) > 128:
        return None
    token = session.scalar(select(ApiToken).where(ApiToken.token_hash == _token_hash(raw)))
    if token is None or token.revoked_at is not None:
        return None
    now = utcnow()
    if as_utc(token.expires_at) <= now:
        raise Unauthenticated("the token has expired: ask for a new one", code="token_expired")
    if token.last_used_at is None or now - token.last_used_at > timedelta(minutes=5):
        token.last_used_at = now  # coarse, so a busy client does not write on every request
    return token.user


def revoke_token(session: Session, user: User, token_id: str) -> bool:
    token = session.get(ApiToken, token_id)
    if token is None or token.user_id != user.id:
        return False
    if token.revoked_at is None:
        token.revoked_at = utcnow()
        audit.record(session, actor=user.id, action="token.revoked", object_type="api_token", object_id=token.id)
    return True


def user_by_handle(session: Session, handle: str) -> User | None:
    return session.scalar(select(User).where(User.handle == handle.lower().lstrip("@")))


def follow(session: Session, follower: User, followee: User) -> None:
    if follower.id == followee.id:
        raise ValidationFailed("you cannot follow yourself", code="cannot_follow_self")
    if session.get(Follow, (follower.id, followee.id)) is None:
        session.add(Follow(follower_id=follower.id, followee_id=followee.id))


def unfollow(session: Session, follower: User, followee: User) -> None:
    row = session.get(Follow, (follower.id, followee.id))
    if row is not None:
        session.delete(row)


def users_by_handle(session: Session, handles: list[str]) -> list[User]:
    """The users with these handles (@ optional, any case); unknown_handle names the missing ones."""
    wanted = {h.lower().lstrip("@") for h in handles}
    users = list(session.scalars(select(User).where(User.handle.in_(wanted))))
    missing = wanted - {u.handle for u in users}
    if missing:
        raise ValidationFailed("unknown handles", code="unknown_handle", details={"handles": sorted(missing)})
    return users
