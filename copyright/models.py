"""Copyright tables: rightsholder organisations, verified claims on works, versioned policies,
and the works each generation used under which policy."""

from __future__ import annotations

from datetime import datetime
from enum import StrEnum
from typing import Any

from sqlalchemy import (
    JSON, BigInteger, Boolean, ForeignKey, Index, Integer, LargeBinary, String, Text, UniqueConstraint,
)
from sqlalchemy.orm import Mapped, mapped_column

from app.db import Base, new_id, utcnow


class PolicyKind(StrEnum):
    BLOCK = "block"
    ALLOW = "allow"
    ALLOW_WITH_ATTRIBUTION = "allow_with_attribution"
    ALLOW_WITH_REVENUE_SHARE = "allow_with_revenue_share"


class Restriction(StrEnum):
    NO_SEXUAL = "no_sexual"
    NO_VIOLENCE = "no_violence"
    NO_REAL_PERSON_CAMEOS = "no_real_person_cameos"
    NO_REMIX = "no_remix"


class ClaimStatus(StrEnum):
    PENDING = "pending"
    VERIFIED = "verified"
    REJECTED = "rejected"


class RightsholderOrg(Base):
    __tablename__ = "rightsholder_orgs"

    id: Mapped[str] = mapped_column(String(36), primary_key=True, default=new_id)
    name: Mapped[str] = mapped_column(String(200), unique=True)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    # Set when too many of its video claims were overturned (copyright/claims.py): from then on
    # every claim it files waits for a reviewer.
    flagged_at: Mapped[datetime | None]
    flag_reason: Mapped[str | None] = mapped_column(Text)


class OrgMember(Base):
    """A rightsholder user belongs to one organisation."""

    __tablename__ = "rightsholder_members"

    user_id: Mapped[str] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"), primary_key=True)
    org_id: Mapped[str] = mapped_column(ForeignKey("rightsholder_orgs.id", ondelete="CASCADE"), index=True)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)


class RegisteredWork(Base):
    """A work a rightsholder added that the shipped catalogue does not list. Its id is used
    everywhere a catalogue id would be (claims, policies, matches)."""

    __tablename__ = "registered_works"

    id: Mapped[str] = mapped_column(String(80), primary_key=True, default=new_id)
    org_id: Mapped[str] = mapped_column(ForeignKey("rightsholder_orgs.id"), index=True)
    title: Mapped[str] = mapped_column(String(200))
    kind: Mapped[str] = mapped_column(String(32))
    aliases: Mapped[list[Any]] = mapped_column(JSON, default=list)
    descriptions: Mapped[list[Any]] = mapped_column(JSON, default=list)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)


class WorkClaim(Base):
    """An organisation says it holds the rights to a work; an admin verifies it before it counts."""

    __tablename__ = "work_claims"
    __table_args__ = (Index("ix_work_claims_work_status", "work_id", "status"),)

    id: Mapped[str] = mapped_column(String(36), primary_key=True, default=new_id)
    work_id: Mapped[str] = mapped_column(String(80))
    org_id: Mapped[str] = mapped_column(ForeignKey("rightsholder_orgs.id"), index=True)
    evidence_text: Mapped[str] = mapped_column(Text)
    evidence_url: Mapped[str | None] = mapped_column(String(2000))
    status: Mapped[str] = mapped_column(String(16), default=ClaimStatus.PENDING.value)
    decided_by_id: Mapped[str | None] = mapped_column(ForeignKey("users.id"))
    decision_reason: Mapped[str | None] = mapped_column(Text)
    decided_at: Mapped[datetime | None]
    created_at: Mapped[datetime] = mapped_column(default=utcnow)


class WorkPolicy(Base):
    """One version of what a work's verified rightsholder allows. Never updated: a change is a
    new version, so the policy a generation ran under stays on record."""

    __tablename__ = "work_policies"
    __table_args__ = (UniqueConstraint("work_id", "version"),)

    id: Mapped[str] = mapped_column(String(36), primary_key=True, default=new_id)
    work_id: Mapped[str] = mapped_column(String(80), index=True)
    version: Mapped[int] = mapped_column(Integer)
    org_id: Mapped[str] = mapped_column(ForeignKey("rightsholder_orgs.id"))
    kind: Mapped[str] = mapped_column(String(32))
    share_bp: Mapped[int] = mapped_column(Integer, default=0)  # basis points of revenue
    restrictions: Mapped[list[Any]] = mapped_column(JSON, default=list)
    valid_from: Mapped[datetime]
    valid_until: Mapped[datetime | None]
    created_by_id: Mapped[str] = mapped_column(ForeignKey("users.id"))
    created_at: Mapped[datetime] = mapped_column(default=utcnow)


class GenerationWork(Base):
    """A work a generation's prompt (or media) used, and the policy version it was judged by."""

    __tablename__ = "generation_works"

    generation_id: Mapped[str] = mapped_column(ForeignKey("generations.id", ondelete="CASCADE"), primary_key=True)
    work_id: Mapped[str] = mapped_column(String(80), primary_key=True)
    policy_id: Mapped[str | None] = mapped_column(ForeignKey("work_policies.id"))
    org_id: Mapped[str | None] = mapped_column(ForeignKey("rightsholder_orgs.id"))
    decision: Mapped[str] = mapped_column(String(16))
    score: Mapped[float] = mapped_column(default=1.0)
    via: Mapped[str] = mapped_column(String(32))
    created_at: Mapped[datetime] = mapped_column(default=utcnow)


class ClaimAction(StrEnum):
    TAKEDOWN = "takedown"
    MONETISE = "monetise"


class VideoClaimStatus(StrEnum):
    PENDING_REVIEW = "pending_review"  # not in effect: a reviewer checks it is about the video first
    REJECTED = "rejected"  # the reviewer found it is not: nothing happened to the video
    OPEN = "open"          # in effect; the creator may dispute
    DISPUTED = "disputed"  # in effect until a reviewer decides
    UPHELD = "upheld"
    RELEASED = "released"  # withdrawn by the claimant or released by a reviewer


class VideoClaim(Base):
    """A rightsholder's claim on a published video: take it down, or take its revenue."""

    __tablename__ = "video_claims"
    __table_args__ = (Index("ix_video_claims_generation_status", "generation_id", "status"),)

    id: Mapped[str] = mapped_column(String(36), primary_key=True, default=new_id)
    generation_id: Mapped[str] = mapped_column(ForeignKey("generations.id"))
    org_id: Mapped[str] = mapped_column(ForeignKey("rightsholder_orgs.id"), index=True)
    work_id: Mapped[str] = mapped_column(String(80))
    action: Mapped[str] = mapped_column(String(16))
    status: Mapped[str] = mapped_column(String(16), default=VideoClaimStatus.OPEN.value)
    reason: Mapped[str] = mapped_column(Text)
    dispute_reason: Mapped[str | None] = mapped_column(Text)
    decision_reason: Mapped[str | None] = mapped_column(Text)
    filed_by_id: Mapped[str] = mapped_column(ForeignKey("users.id"))
    decided_by_id: Mapped[str | None] = mapped_column(ForeignKey("users.id"))
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    disputed_at: Mapped[datetime | None]
    decided_at: Mapped[datetime | None]
    # When it took effect: at filing, or when a reviewer upheld a claim that waited for review
    # (a monetisation redirects revenue from then). None on claims filed before 0020: created_at.
    effective_at: Mapped[datetime | None]
    # A reviewer found against the claimant (review rejected, dispute overturned): counts towards
    # flagging the organisation. A lapsed dispute is the platform's delay, not the claimant's fault.
    overturned: Mapped[bool] = mapped_column(Boolean, default=False, server_default="0")


class LedgerEntry(Base):
    """One balanced posting of the revenue ledger. Append-only (database triggers refuse UPDATE
    and DELETE); a correction is a new entry that `reverses` an earlier one. The entries form a
    keyed hash chain in `seq` order, each hash covering the entry and its lines (copyright/ledger_chain.py)."""

    __tablename__ = "ledger_entries"
    __table_args__ = ({"info": {"append_only": True}},)  # the app's role: SELECT and INSERT only

    id: Mapped[str] = mapped_column(String(36), primary_key=True, default=new_id)
    event_id: Mapped[str] = mapped_column(String(200), unique=True)
    kind: Mapped[str] = mapped_column(String(16))  # revenue | reversal | settlement
    currency: Mapped[str] = mapped_column(String(3))
    period: Mapped[str] = mapped_column(String(7), index=True)  # YYYY-MM of occurred_at
    generation_id: Mapped[str | None] = mapped_column(ForeignKey("generations.id"), index=True)
    gross: Mapped[int] = mapped_column(BigInteger, default=0)
    reverses: Mapped[str | None] = mapped_column(String(200), unique=True)
    occurred_at: Mapped[datetime]
    created_by_id: Mapped[str] = mapped_column(ForeignKey("users.id"))
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    seq: Mapped[int] = mapped_column(BigInteger, unique=True, index=True)
    prev_hash: Mapped[str] = mapped_column(String(64), unique=True, index=True)  # one successor: no fork
    hash: Mapped[str] = mapped_column(String(64), unique=True, index=True)
    key_id: Mapped[str | None] = mapped_column(String(32))  # NULL: hashed before the chain was keyed
    # A late event (or a correction) whose own month was closed is booked in the open `period`;
    # this names the closed month it belongs to, so statements show it as an adjustment.
    adjusts_period: Mapped[str | None] = mapped_column(String(7))


class LedgerLine(Base):
    __tablename__ = "ledger_lines"
    __table_args__ = (Index("ix_ledger_lines_account_currency", "account", "currency"),
                      {"info": {"append_only": True}})

    id: Mapped[int] = mapped_column(BigInteger().with_variant(Integer, "sqlite"), primary_key=True,
                                    autoincrement=True)
    entry_id: Mapped[str] = mapped_column(ForeignKey("ledger_entries.id"), index=True)
    account: Mapped[str] = mapped_column(String(120))
    currency: Mapped[str] = mapped_column(String(3))
    amount: Mapped[int] = mapped_column(BigInteger)


class PeriodAction(StrEnum):
    CLOSE = "close"
    REOPEN = "reopen"


class LedgerPeriodChange(Base):
    """A month closed or reopened (append-only, like the postings): a month is closed while its
    latest change is `close`. A reopening carries the admin's reason."""

    __tablename__ = "ledger_period_changes"
    __table_args__ = (Index("ix_ledger_period_changes_period", "period", "id"),
                      {"info": {"append_only": True}})  # the app's role: SELECT and INSERT only

    id: Mapped[int] = mapped_column(BigInteger().with_variant(Integer, "sqlite"), primary_key=True,
                                    autoincrement=True)
    period: Mapped[str] = mapped_column(String(7))
    action: Mapped[str] = mapped_column(String(8))
    reason: Mapped[str | None] = mapped_column(Text)
    actor_id: Mapped[str] = mapped_column(ForeignKey("users.id"))
    created_at: Mapped[datetime] = mapped_column(default=utcnow)


class WorkReferenceImage(Base):
    """A reference image of a work: the image in media storage (so its hashes and embedding can be
    recomputed when the model changes), its pHash and PDQ, and its embedding under one model."""

    __tablename__ = "work_reference_images"

    id: Mapped[str] = mapped_column(String(36), primary_key=True, default=new_id)
    work_id: Mapped[str] = mapped_column(String(80), index=True)
    phash: Mapped[str] = mapped_column(String(16))
    sha256: Mapped[str] = mapped_column(String(64))
    uploaded_by_id: Mapped[str] = mapped_column(ForeignKey("users.id"))
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    # None on references added before 0010 (only the pHash was kept then).
    pdq: Mapped[str | None] = mapped_column(String(64))
    pdq_quality: Mapped[int | None]
    storage_key: Mapped[str | None] = mapped_column(String(200))
    embedding: Mapped[bytes | None] = mapped_column(LargeBinary)
    embedding_model: Mapped[str | None] = mapped_column(String(16))
    # Changes whenever the hashes or the embedding are recomputed: matchers reload on it.
    indexed_at: Mapped[datetime | None]
