"""Likeness tables."""

from __future__ import annotations

from datetime import datetime
from enum import StrEnum

from sqlalchemy import CheckConstraint, Float, ForeignKey, Integer, LargeBinary, String, Text
from sqlalchemy.orm import Mapped, mapped_column, relationship

from app.db import Base, new_id, utcnow


class Permission(StrEnum):
    ONLY_ME = "only_me"
    APPROVED = "approved"
    MUTUALS = "mutuals"
    EVERYONE = "everyone"


class CameoStatus(StrEnum):
    # Made by POST /cameos: no face, no liveness yet, so nobody may use it and its name protects
    # nothing until its owner enrols a face (POST /cameos/<id>/enrol); only enrolment activates.
    UNENROLLED = "unenrolled"
    ACTIVE = "active"
    # The enrolled face matched another account's cameo: a reviewer decides its `enrolment` case
    # (likeness/enrolment_cases.py) before any use.
    PENDING_REVIEW = "pending_review"
    REVOKED = "revoked"


class Cameo(Base):
    __tablename__ = "cameos"

    id: Mapped[str] = mapped_column(String(36), primary_key=True, default=new_id)
    owner_id: Mapped[str] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"), index=True)
    display_name: Mapped[str] = mapped_column(String(80))
    permission: Mapped[str] = mapped_column(String(16), default=Permission.ONLY_ME.value)
    status: Mapped[str] = mapped_column(String(16), default=CameoStatus.UNENROLLED.value)
    # Set by an admin once a public figure's own account is verified as theirs.
    public_figure_id: Mapped[str | None] = mapped_column(String(80), index=True)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    revoked_at: Mapped[datetime | None]
    enrolled_at: Mapped[datetime | None]

    approvals: Mapped[list["CameoApproval"]] = relationship(
        cascade="all, delete-orphan", lazy="selectin", back_populates="cameo")
    blocks: Mapped[list["CameoBlock"]] = relationship(
        cascade="all, delete-orphan", lazy="selectin", back_populates="cameo")

    @property
    def approved_user_ids(self) -> set[str]:
        return {a.user_id for a in self.approvals}

    @property
    def blocked_user_ids(self) -> set[str]:
        return {b.user_id for b in self.blocks}


class CameoApproval(Base):
    __tablename__ = "cameo_approvals"

    cameo_id: Mapped[str] = mapped_column(ForeignKey("cameos.id", ondelete="CASCADE"), primary_key=True)
    user_id: Mapped[str] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"), primary_key=True)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)

    cameo: Mapped[Cameo] = relationship(back_populates="approvals")


class CameoBlock(Base):
    """Users the owner never wants in their videos, whatever the permission says."""

    __tablename__ = "cameo_blocks"

    cameo_id: Mapped[str] = mapped_column(ForeignKey("cameos.id", ondelete="CASCADE"), primary_key=True)
    user_id: Mapped[str] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"), primary_key=True)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)

    cameo: Mapped[Cameo] = relationship(back_populates="blocks")


class _Sealed:
    """AES-GCM ciphertext under a key of the template keyring (likeness/crypto.py)."""

    key_id: Mapped[str] = mapped_column(String(32))
    nonce: Mapped[bytes] = mapped_column(LargeBinary)
    ciphertext: Mapped[bytes] = mapped_column(LargeBinary)


class _SealedVectors(_Sealed):
    """Embeddings (n x dim float32), sealed."""

    dim: Mapped[int] = mapped_column(Integer)
    vectors: Mapped[int] = mapped_column(Integer)
    model_version: Mapped[str] = mapped_column(String(160))
    created_at: Mapped[datetime] = mapped_column(default=utcnow)


class FaceTemplate(_SealedVectors, Base):
    """A cameo's face: mean embedding + exemplars. Deleted with its cameo."""

    __tablename__ = "face_templates"

    cameo_id: Mapped[str] = mapped_column(ForeignKey("cameos.id", ondelete="CASCADE"), primary_key=True)

    @property
    def key(self) -> str:
        return self.cameo_id

    @property
    def aad(self) -> str:
        return self.cameo_id


class FigureFaceTemplate(_SealedVectors, Base):
    """Reference faces of a public figure from the shipped list (one row per figure and model):
    the post-render scan holds videos showing them, whatever the prompt said."""

    __tablename__ = "figure_face_templates"

    figure_id: Mapped[str] = mapped_column(String(80), primary_key=True)
    photos: Mapped[int] = mapped_column(Integer)

    @property
    def key(self) -> str:
        return self.figure_id

    @property
    def aad(self) -> str:
        return f"figure:{self.figure_id}"


# A face template of either kind: a cameo's or a public figure's.
Template = FaceTemplate | FigureFaceTemplate


class FaceCrop(_Sealed, Base):
    """One aligned 112x112 face of an enrolment (a frame of the liveness video, a gallery photo),
    sealed as PNG like the templates: a new face model re-embeds these (`greenlight likeness
    re-embed`) instead of asking everyone to enrol again. Belongs to one template, deleted with it."""

    __tablename__ = "face_crops"
    __table_args__ = (CheckConstraint("(cameo_id IS NULL) <> (figure_id IS NULL)", name="one_owner"),)

    id: Mapped[str] = mapped_column(String(36), primary_key=True, default=new_id)
    cameo_id: Mapped[str | None] = mapped_column(
        ForeignKey("face_templates.cameo_id", ondelete="CASCADE"), index=True)
    figure_id: Mapped[str | None] = mapped_column(
        ForeignKey("figure_face_templates.figure_id", ondelete="CASCADE"), index=True)
    position: Mapped[int] = mapped_column(Integer)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)

    @property
    def aad(self) -> str:
        owner = self.cameo_id if self.cameo_id is not None else f"figure:{self.figure_id}"
        return f"crop:{owner}:{self.position}"


class EnrolmentChallenge(Base):
    __tablename__ = "enrolment_challenges"

    id: Mapped[str] = mapped_column(String(36), primary_key=True, default=new_id)
    user_id: Mapped[str] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"), index=True)
    digits: Mapped[str] = mapped_column(String(16))
    direction: Mapped[str] = mapped_column(String(8))
    display_name: Mapped[str] = mapped_column(String(80))
    permission: Mapped[str] = mapped_column(String(16))
    approved_user_ids: Mapped[str] = mapped_column(Text, default="")
    blocked_user_ids: Mapped[str] = mapped_column(Text, default="", server_default="")
    status: Mapped[str] = mapped_column(String(16), default="open")
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    failure: Mapped[str | None] = mapped_column(Text)
    cameo_id: Mapped[str | None] = mapped_column(ForeignKey("cameos.id", ondelete="SET NULL"))
    expires_at: Mapped[datetime]
    created_at: Mapped[datetime] = mapped_column(default=utcnow)


class CameoAppearance(Base):
    """A cameo in a generation, declared by the requester or found by the face scan: its owner
    is a co-owner of that generation."""

    __tablename__ = "cameo_appearances"

    generation_id: Mapped[str] = mapped_column(ForeignKey("generations.id", ondelete="CASCADE"), primary_key=True)
    cameo_id: Mapped[str] = mapped_column(ForeignKey("cameos.id", ondelete="CASCADE"), primary_key=True, index=True)
    source: Mapped[str] = mapped_column(String(16))
    score: Mapped[float | None] = mapped_column(Float)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)


class EnrolmentAllowance(Base):
    """An enrolment refusal overturned on appeal: the refused cameo's template was erased at the
    refusal, so it cannot come back; instead its owner may enrol again without a match on this
    other account's cameo holding them (likeness/enrolment_cases.py)."""

    __tablename__ = "enrolment_allowances"

    user_id: Mapped[str] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"), primary_key=True)
    matched_cameo_id: Mapped[str] = mapped_column(ForeignKey("cameos.id", ondelete="CASCADE"), primary_key=True)
    case_id: Mapped[str] = mapped_column(ForeignKey("cases.id", ondelete="CASCADE"))
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
