"""Users, invites and API tokens."""

from __future__ import annotations

import hashlib
import re
import secrets
from datetime import date, timedelta

from sqlalchemy import select, update
from sqlalchemy.orm import Session
from werkzeug.security import check_password_hash, generate_password_hash

from app import audit
from app.config import setting
from app.db import utcnow
from app.errors import Conflict, Unauthenticated, ValidationFailed
from app.models import ApiToken, Follow, Invite, Role, User, age_on

INVITES_PER_USER = 4
TOKEN_PREFIX = "glt_"
MIN_PASSWORD = 10
_HANDLE = re.compile(r"^[a-z0-9_]{3,32}$")
_EMAIL = re.compile(r"^[^@\s]+@[^@\s]+\.[^@\s]+$")
_DUMMY_HASH = generate_password_hash("timing-equaliser")


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
    user = User(email=email, handle=handle or _handle_from_email(session, email),
                password_hash=generate_password_hash(password), role=Role(role).value, birthdate=birthdate,
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


def check_credentials(session: Session, email: str, password: str) -> User:
    user = session.scalar(select(User).where(User.email == email.strip().lower()))
    # Hash even for unknown emails so response time does not reveal which accounts exist.
    if not check_password_hash(user.password_hash if user else _DUMMY_HASH, password) or user is None:
        raise Unauthenticated("email or password is wrong", code="invalid_credentials")
    return user


def _token_hash(raw: str) -> str:
    return hashlib.sha256(raw.encode()).hexdigest()


def issue_token(session: Session, user: User, name: str = "api") -> tuple[str, ApiToken]:
    """The raw token is returned once and never stored."""
    raw = TOKEN_PREFIX + secrets.token_urlsafe(32)
    token = ApiToken(user_id=user.id, token_hash=_token_hash(raw), prefix=raw[:10], name=name)
    session.add(token)
    session.flush()
    audit.record(session, actor=user.id, action="token.issued", object_type="api_token", object_id=token.id)
    return raw, token


def user_for_token(session: Session, raw: str) -> User | None:
    if not raw.startswith(TOKEN_PREFIX) or len(raw) > 128:
        return None
    token = session.scalar(select(ApiToken).where(ApiToken.token_hash == _token_hash(raw)))
    if token is None or token.revoked_at is not None:
        return None
    now = utcnow()
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
