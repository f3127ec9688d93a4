"""Shared tables: accounts, generations, verdicts, cases, audit log, notifications, statements."""

from __future__ import annotations

from datetime import date, datetime
from enum import StrEnum
from typing import Any

from sqlalchemy import (
    JSON, Boolean, Date, Float, ForeignKey, Index, Integer, String, Text, UniqueConstraint,
)
from sqlalchemy.orm import Mapped, mapped_column, relationship

from app.db import Base, new_id, utcnow

TEEN_AGE_LIMIT = 18


class Role(StrEnum):
    CREATOR = "creator"
    REVIEWER = "reviewer"
    SENIOR_REVIEWER = "senior_reviewer"
    RIGHTSHOLDER = "rightsholder"
    ADMIN = "admin"
    # A machine account (payments, the app store): reaches only endpoints that name this role.
    SERVICE = "service"


REVIEW_ROLES = frozenset({Role.REVIEWER, Role.SENIOR_REVIEWER, Role.ADMIN})


class Status(StrEnum):
    SUBMITTED = "submitted"
    GATING = "gating"
    BLOCKED = "blocked"
    IN_REVIEW = "in_review"
    QUEUED = "queued"
    RENDERING = "rendering"
    SCANNING = "scanning"
    DRAFT = "draft"
    PUBLISHED = "published"
    FAILED = "failed"
    DELETED = "deleted"


class Phase(StrEnum):
    PRE_RENDER = "pre_render"
    POST_RENDER = "post_render"
    HUMAN = "human"


def age_on(birthdate: date, today: date) -> int:
    return today.year - birthdate.year - ((today.month, today.day) < (birthdate.month, birthdate.day))


class User(Base):
    __tablename__ = "users"

    id: Mapped[str] = mapped_column(String(36), primary_key=True, default=new_id)
    email: Mapped[str] = mapped_column(String(254), unique=True)
    handle: Mapped[str] = mapped_column(String(32), unique=True)
    password_hash: Mapped[str] = mapped_column(String(255))
    role: Mapped[str] = mapped_column(String(32), default=Role.CREATOR.value)
    birthdate: Mapped[date | None] = mapped_column(Date)
    invited_by_id: Mapped[str | None] = mapped_column(ForeignKey("users.id"))
    created_at: Mapped[datetime] = mapped_column(default=utcnow)

    def age(self, today: date | None = None) -> int | None:
        if self.birthdate is None:
            return None
        return age_on(self.birthdate, today or utcnow().date())

    @property
    def is_teen(self) -> bool:
        # No birthdate recorded: treated as a minor, so the stricter rules apply.
        age = self.age()
        return age is None or age < TEEN_AGE_LIMIT


class Invite(Base):
    __tablename__ = "invites"

    code: Mapped[str] = mapped_column(String(32), primary_key=True)
    owner_id: Mapped[str] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"), index=True)
    used_by_id: Mapped[str | None] = mapped_column(ForeignKey("users.id"))
    used_at: Mapped[datetime | None]
    created_at: Mapped[datetime] = mapped_column(default=utcnow)


class ApiToken(Base):
    __tablename__ = "api_tokens"

    id: Mapped[str] = mapped_column(String(36), primary_key=True, default=new_id)
    user_id: Mapped[str] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"), index=True)
    # sha256 of the token: tokens carry 256 bits of randomness, so a fast hash is enough.
    token_hash: Mapped[str] = mapped_column(String(64), unique=True)
    prefix: Mapped[str] = mapped_column(String(12))
    name: Mapped[str] = mapped_column(String(64), default="api")
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    last_used_at: Mapped[datetime | None]
    revoked_at: Mapped[datetime | None]
    expires_at: Mapped[datetime]

    user: Mapped[User] = relationship(lazy="joined")


class LoginThrottle(Base):
    """Wrong-password counts per email (its sha256) or client address, shared by every process.

    `failures` count within a window from `window_started_at`; reaching the limit refuses the key
    until `blocked_until`, for a time that doubles with each `strikes` up to a cap. Rows idle for a
    day are swept, which also forgives old strikes."""
    __tablename__ = "login_throttles"

    key: Mapped[str] = mapped_column(String(80), primary_key=True)
    failures: Mapped[int] = mapped_column(Integer, default=0)
    strikes: Mapped[int] = mapped_column(Integer, default=0)
    window_started_at: Mapped[datetime]
    blocked_until: Mapped[datetime | None]
    updated_at: Mapped[datetime] = mapped_column(index=True)


class Follow(Base):
    __tablename__ = "follows"

    follower_id: Mapped[str] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"), primary_key=True)
    followee_id: Mapped[str] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"), primary_key=True)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)


class Generation(Base):
    __tablename__ = "generations"
    __table_args__ = (Index("ix_generations_owner_created", "owner_id", "created_at", "id"),)

    id: Mapped[str] = mapped_column(String(36), primary_key=True, default=new_id)
    owner_id: Mapped[str] = mapped_column(ForeignKey("users.id"), index=True)
    prompt: Mapped[str] = mapped_column(Text)
    cameo_ids: Mapped[list[Any]] = mapped_column(JSON, default=list)
    remix_of_id: Mapped[str | None] = mapped_column(ForeignKey("generations.id"))
    # Image-to-video: a still the video starts from (its faces must be consenting cameos).
    input_image_id: Mapped[str | None] = mapped_column(ForeignKey("uploads.id"))
    status: Mapped[str] = mapped_column(String(16), default=Status.SUBMITTED.value, index=True)
    error: Mapped[str | None] = mapped_column(Text)
    seed: Mapped[int] = mapped_column(Integer, default=0)
    media_key: Mapped[str | None] = mapped_column(String(255))
    media_sha256: Mapped[str | None] = mapped_column(String(64))
    # The safety policy let it through for adults only: never shown to teen accounts.
    age_restricted: Mapped[bool] = mapped_column(Boolean, default=False, server_default="0")
    # Why the media was taken from everyone, creator included (a consent revoked, a co-owner's
    # deletion): the file sits in the legal hold until purged (app/media_holds.py).
    media_withheld: Mapped[str | None] = mapped_column(String(40))
    # What rendered it (the renderer's result): model directory and version, sampler steps, and
    # seconds spent per part (sample, sound, encode, sign), with `batch`: how many clips the model
    # sampled in the same call, whose time `sample` is. The seed is `seed`.
    render_model: Mapped[str | None] = mapped_column(String(200))
    render_steps: Mapped[int | None] = mapped_column(Integer)
    render_timings: Mapped[dict[str, Any] | None] = mapped_column(JSON)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(default=utcnow)

    owner: Mapped[User] = relationship(lazy="joined", foreign_keys=[owner_id])
    verdicts: Mapped[list["VerdictRecord"]] = relationship(
        order_by="VerdictRecord.id", lazy="selectin", back_populates="generation")


class VerdictRecord(Base):
    __tablename__ = "verdicts"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    generation_id: Mapped[str] = mapped_column(ForeignKey("generations.id"), index=True)
    phase: Mapped[str] = mapped_column(String(16))
    stage: Mapped[str] = mapped_column(String(64))
    stage_version: Mapped[str] = mapped_column(String(512))
    decision: Mapped[str] = mapped_column(String(8))
    reasons: Mapped[list[Any]] = mapped_column(JSON, default=list)
    scores: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    latency_ms: Mapped[float] = mapped_column(Float, default=0.0)
    # Human decisions are verdicts too (stage "human_review"), with the reviewer as actor.
    actor_id: Mapped[str | None] = mapped_column(ForeignKey("users.id"))
    created_at: Mapped[datetime] = mapped_column(default=utcnow)

    generation: Mapped[Generation] = relationship(back_populates="verdicts")


class CaseKind(StrEnum):
    REVIEW = "review"  # a generation the gates held, before or after rendering
    APPEAL = "appeal"  # an internal complaint against a decision (EU DSA Art. 20)
    DISPUTE = "dispute"  # a creator contests a rightsholder's claim on their video
    LIKENESS_COMPLAINT = "likeness_complaint"  # "this video shows me", from the person shown
    ENROLMENT = "enrolment"  # a cameo enrolled with a face that matches another account's cameo
    CLAIM_REVIEW = "claim_review"  # a rightsholder's claim on a video not recorded as using the work


class CaseState(StrEnum):
    OPEN = "open"
    ASSIGNED = "assigned"
    ESCALATED = "escalated"  # waits for a senior reviewer
    DECIDED = "decided"
    REOPENED = "reopened"  # its decision is under appeal (once)


class Case(Base):
    """The one object behind every human decision after the gates (app/cases.py)."""

    __tablename__ = "cases"
    __table_args__ = (Index("ix_cases_state_due", "state", "due_at"),
                      Index("ix_cases_subject", "subject_type", "subject_id"))

    id: Mapped[str] = mapped_column(String(36), primary_key=True, default=new_id)
    kind: Mapped[str] = mapped_column(String(24))
    state: Mapped[str] = mapped_column(String(16), default=CaseState.OPEN.value)
    queue: Mapped[str] = mapped_column(String(48), default="general")
    priority: Mapped[int] = mapped_column(Integer, default=0)  # higher first, then the earliest due
    subject_type: Mapped[str] = mapped_column(String(24))  # generation, statement, video_claim, cameo
    subject_id: Mapped[str] = mapped_column(String(64))
    generation_id: Mapped[str | None] = mapped_column(ForeignKey("generations.id"), index=True)
    phase: Mapped[str | None] = mapped_column(String(16))  # a held generation: pre_render or post_render
    reasons: Mapped[list[Any]] = mapped_column(JSON, default=list)
    summary: Mapped[str] = mapped_column(Text, default="")  # the appellant's or complainant's words
    opened_by_id: Mapped[str | None] = mapped_column(ForeignKey("users.id"))
    # A complainant without an account: the verified address, and the hash of their private link's key.
    contact_email: Mapped[str | None] = mapped_column(String(254))
    access_key_hash: Mapped[str | None] = mapped_column(String(64))
    appeal_of_id: Mapped[str | None] = mapped_column(ForeignKey("cases.id"))
    statement_id: Mapped[str | None] = mapped_column(ForeignKey("statements_of_reasons.id"))
    # Whoever made the contested decision may not decide the appeal.
    first_decider_id: Mapped[str | None] = mapped_column(ForeignKey("users.id"))
    assignee_id: Mapped[str | None] = mapped_column(ForeignKey("users.id"), index=True)
    assigned_at: Mapped[datetime | None]
    due_at: Mapped[datetime]
    decision: Mapped[str | None] = mapped_column(String(16))
    policy_code: Mapped[str | None] = mapped_column(String(64))
    decision_note: Mapped[str | None] = mapped_column(Text)
    decided_by_id: Mapped[str | None] = mapped_column(ForeignKey("users.id"))
    decided_at: Mapped[datetime | None]
    outcome_statement_id: Mapped[str | None] = mapped_column(ForeignKey("statements_of_reasons.id"))
    reopened_count: Mapped[int] = mapped_column(Integer, default=0)
    # Quality checks: a known-answer item or a blind second review of `qa_of_id`; deciding it acts on nothing.
    qa: Mapped[str | None] = mapped_column(String(16))
    qa_of_id: Mapped[str | None] = mapped_column(ForeignKey("cases.id"))
    expected_decision: Mapped[str | None] = mapped_column(String(16))
    details: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(default=utcnow)

    generation: Mapped[Generation | None] = relationship(lazy="joined", foreign_keys=[generation_id])


class CaseParty(Base):
    """Who a case concerns besides its reviewers: they may read it and are told of each decision."""

    __tablename__ = "case_parties"

    case_id: Mapped[str] = mapped_column(ForeignKey("cases.id", ondelete="CASCADE"), primary_key=True)
    user_id: Mapped[str] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"), primary_key=True, index=True)
    role: Mapped[str] = mapped_column(String(24))  # creator, appellant, rightsholder, co_owner, complainant


class CaseEvent(Base):
    """A case's thread and history: notes, claims, hand-offs, escalations, decisions, media reveals.
    Reveals double as the reviewer-exposure log (app/exposure.py)."""

    __tablename__ = "case_events"
    __table_args__ = (Index("ix_case_events_actor_kind_created", "actor_id", "kind", "created_at"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    case_id: Mapped[str] = mapped_column(ForeignKey("cases.id", ondelete="CASCADE"), index=True)
    actor_id: Mapped[str | None] = mapped_column(ForeignKey("users.id"))
    kind: Mapped[str] = mapped_column(String(24))
    body: Mapped[str] = mapped_column(Text, default="")
    data: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)


class AuditEvent(Base):
    """Append-only and tamper-evident: each row carries the keyed hash of the one before it (app/chain.py)."""

    __tablename__ = "audit_events"
    __table_args__ = (
        Index("ix_audit_events_object", "object_type", "object_id"),
        UniqueConstraint("prev_hash", name="uq_audit_events_prev_hash"),
        # The app's database role may only SELECT and INSERT here (app/migrate.py grants).
        {"info": {"append_only": True}},
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    actor: Mapped[str] = mapped_column(String(64))
    action: Mapped[str] = mapped_column(String(64))
    object_type: Mapped[str] = mapped_column(String(32))
    object_id: Mapped[str] = mapped_column(String(64))
    before: Mapped[dict[str, Any] | None] = mapped_column(JSON)
    after: Mapped[dict[str, Any] | None] = mapped_column(JSON)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    prev_hash: Mapped[str] = mapped_column(String(64))
    hash: Mapped[str] = mapped_column(String(64), unique=True)
    # The chain key's id (app/chain.py); NULL for rows hashed before the chain was keyed.
    key_id: Mapped[str | None] = mapped_column(String(32))


class Upload(Base):
    """A file a user uploaded for later use (an input image), stored under `key` in media storage."""

    __tablename__ = "uploads"

    id: Mapped[str] = mapped_column(String(36), primary_key=True, default=new_id)
    owner_id: Mapped[str] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"), index=True)
    key: Mapped[str] = mapped_column(String(255))
    content_type: Mapped[str] = mapped_column(String(64))
    bytes: Mapped[int] = mapped_column(Integer)
    sha256: Mapped[str] = mapped_column(String(64))
    width: Mapped[int] = mapped_column(Integer)
    height: Mapped[int] = mapped_column(Integer)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)


class MediaHold(Base):
    """A withheld video kept out of reach (not served, not in the media folder) for legal holds,
    then purged once `purge_after` passed: app/media_holds.py, docs/retention.md."""

    __tablename__ = "media_holds"

    id: Mapped[str] = mapped_column(String(36), primary_key=True, default=new_id)
    generation_id: Mapped[str] = mapped_column(ForeignKey("generations.id"), index=True)
    media_key: Mapped[str] = mapped_column(String(255))
    media_sha256: Mapped[str | None] = mapped_column(String(64))
    reason: Mapped[str] = mapped_column(String(40))
    held_at: Mapped[datetime] = mapped_column(default=utcnow)
    purge_after: Mapped[datetime] = mapped_column(index=True)
    purged_at: Mapped[datetime | None]


class Notification(Base):
    __tablename__ = "notifications"
    __table_args__ = (Index("ix_notifications_user_created", "user_id", "created_at", "id"),)

    id: Mapped[str] = mapped_column(String(36), primary_key=True, default=new_id)
    user_id: Mapped[str] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"))
    kind: Mapped[str] = mapped_column(String(48))
    payload: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    read_at: Mapped[datetime | None]


class StatementOfReasons(Base):
    """Why a generation was blocked, removed or restricted, in the fields of the EU DSA
    transparency database (app/statements.py projects it onto them) plus what led to it here."""

    __tablename__ = "statements_of_reasons"
    __table_args__ = (Index("ix_statements_of_reasons_created_at", "created_at"),)

    id: Mapped[str] = mapped_column(String(36), primary_key=True, default=new_id)  # the DSA `puid`
    generation_id: Mapped[str] = mapped_column(ForeignKey("generations.id"), index=True)
    user_id: Mapped[str] = mapped_column(ForeignKey("users.id"), index=True)  # the recipient of the decision
    decision_visibility: Mapped[list[Any]] = mapped_column(JSON, default=list)
    decision_monetary: Mapped[str | None] = mapped_column(String(48))
    decision_ground: Mapped[str] = mapped_column(String(48))
    decision_ground_reference_url: Mapped[str] = mapped_column(String(500))
    legal_ground: Mapped[str] = mapped_column(Text, default="")  # illegal content: the law relied on
    explanation: Mapped[str] = mapped_column(Text)
    content_type: Mapped[list[Any]] = mapped_column(JSON, default=list)
    category: Mapped[str] = mapped_column(String(80))
    keywords: Mapped[list[Any]] = mapped_column(JSON, default=list)
    territorial_scope: Mapped[list[Any]] = mapped_column(JSON, default=list)
    decision_facts: Mapped[str] = mapped_column(Text)
    source_type: Mapped[str] = mapped_column(String(32))
    automated_detection: Mapped[bool] = mapped_column(Boolean)
    automated_decision: Mapped[str] = mapped_column(String(40))
    content_date: Mapped[datetime]
    application_date: Mapped[datetime]
    # Beyond the DSA record: which step decided, on which reasons, and how to contest it.
    origin: Mapped[str] = mapped_column(String(64))  # "pre_render", "post_render", "human_review", "video_claim", ...
    reasons: Mapped[list[Any]] = mapped_column(JSON, default=list)
    redress: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    # A later decision on the same matter (an appeal, a dispute) issues a new statement that names
    # the one it replaces; the old one is kept.
    supersedes_id: Mapped[str | None] = mapped_column(ForeignKey("statements_of_reasons.id"), index=True)
    case_id: Mapped[str | None] = mapped_column(String(36))
    created_at: Mapped[datetime] = mapped_column(default=utcnow)


class EmailVerification(Base):
    """A one-time code sent to an address, so someone without an account can prove it is theirs."""

    __tablename__ = "email_verifications"

    id: Mapped[str] = mapped_column(String(36), primary_key=True, default=new_id)
    email: Mapped[str] = mapped_column(String(254), index=True)
    code_hash: Mapped[str] = mapped_column(String(64))
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    expires_at: Mapped[datetime]
    used_at: Mapped[datetime | None]
    created_at: Mapped[datetime] = mapped_column(default=utcnow)


class OutboundEmail(Base):
    """Mail to people without an account (verification codes, a complaint's outcome): the outbox a
    mail relay drains; `greenlight mail outbox` shows it."""

    __tablename__ = "outbound_emails"

    id: Mapped[str] = mapped_column(String(36), primary_key=True, default=new_id)
    to: Mapped[str] = mapped_column(String(254), index=True)
    subject: Mapped[str] = mapped_column(String(200))
    body: Mapped[str] = mapped_column(Text)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    sent_at: Mapped[datetime | None]
