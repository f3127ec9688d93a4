"""Mail to people who may have no account: one-time codes that verify an address, and what
happened to their complaint. Messages go to an outbox table that a relay drains (`greenlight mail
outbox` lists it); the code is stored only as a hash and expires."""

from __future__ import annotations

import hashlib
import hmac
import re
import secrets
from datetime import timedelta

from sqlalchemy import func, select, update
from sqlalchemy.orm import Session

from app.db import as_utc, on_rollback, utcnow
from app.errors import GreenlightError, ValidationFailed
from app.models import EmailVerification, OutboundEmail

CODE_TTL = timedelta(minutes=30)
MAX_ATTEMPTS = 5
# Codes per address per hour: with five guesses each, this bounds a guesser to 25 tries an hour.
MAX_CODES_PER_HOUR = 5
_EMAIL = re.compile(r"^[^@\s]+@[^@\s]+\.[^@\s]+$")


def normalise(email: str) -> str:
    email = (email or "").strip().lower()
    if not _EMAIL.match(email) or len(email) > 254:
        raise ValidationFailed("not an email address", code="invalid_email")
    return email


def send(session: Session, to: str, subject: str, body: str) -> OutboundEmail:
    message = OutboundEmail(to=to, subject=subject[:200], body=body)
    session.add(message)
    return message


def _hash(code: str) -> str:
    return hashlib.sha256(code.encode()).hexdigest()


def start_verification(session: Session, email: str) -> EmailVerification:
    email = normalise(email)
    recent = session.scalar(select(func.count()).select_from(EmailVerification).where(
        EmailVerification.email == email, EmailVerification.created_at >= utcnow() - timedelta(hours=1)))
    if recent >= MAX_CODES_PER_HOUR:
        raise GreenlightError("too many codes asked for this address: try again in an hour",
                              code="too_many_codes", status=429)
    code = f"{secrets.randbelow(10**6):06d}"
    verification = EmailVerification(email=email, code_hash=_hash(code), expires_at=utcnow() + CODE_TTL)
    session.add(verification)
    send(session, email, "Your Greenlight verification code",
         f"Your code is {code}. It expires in {int(CODE_TTL.total_seconds() // 60)} minutes.")
    return verification


def confirm(session: Session, email: str, code: str) -> str:
    """Use up the address's newest live code; returns the verified address."""
    email = normalise(email)
    verification = session.scalar(select(EmailVerification).where(EmailVerification.email == email,
                                                                 EmailVerification.used_at.is_(None))
                                  .order_by(EmailVerification.created_at.desc()).limit(1))
    if verification is None or as_utc(verification.expires_at) < utcnow() or verification.attempts >= MAX_ATTEMPTS:
        raise GreenlightError("no live verification code for this address: ask for a new one",
                              code="email_not_verified", status=403)
    if not hmac.compare_digest(verification.code_hash, _hash((code or "").strip())):
        # Counted whether the caller's transaction commits or (as it will, with this error) rolls back.
        verification.attempts += 1
        verification_id = verification.id
        on_rollback(session, lambda: _count_failed_attempt(verification_id))
        raise GreenlightError("the code is wrong", code="email_code_wrong", status=403)
    verification.used_at = utcnow()
    return email


def _count_failed_attempt(verification_id: str) -> None:
    # Its own transaction, after the caller's rolled back with the error: a guess must still count.
    from app import runtime
    with runtime.current().db.transaction() as s:
        s.execute(update(EmailVerification).where(EmailVerification.id == verification_id)
                  .values(attempts=EmailVerification.attempts + 1))


def outbox(session: Session, to: str | None = None, limit: int = 50) -> list[OutboundEmail]:
    stmt = select(OutboundEmail).order_by(OutboundEmail.created_at.desc()).limit(limit)
    if to:
        stmt = stmt.where(OutboundEmail.to == to.strip().lower())
    return list(session.scalars(stmt))
