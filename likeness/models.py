"""Likeness tables."""

from __future__ import annotations

from datetime import datetime
from enum import StrEnum

from sqlalchemy import ForeignKey, String
from sqlalchemy.orm import Mapped, mapped_column, relationship

from app.db import Base, new_id, utcnow


class Permission(StrEnum):
    ONLY_ME = "only_me"
    APPROVED = "approved"
    MUTUALS = "mutuals"
    EVERYONE = "everyone"


class CameoStatus(StrEnum):
    ACTIVE = "active"
    REVOKED = "revoked"


class Cameo(Base):
    __tablename__ = "cameos"

    id: Mapped[str] = mapped_column(String(36), primary_key=True, default=new_id)
    owner_id: Mapped[str] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"), index=True)
    display_name: Mapped[str] = mapped_column(String(80))
    permission: Mapped[str] = mapped_column(String(16), default=Permission.ONLY_ME.value)
    status: Mapped[str] = mapped_column(String(16), default=CameoStatus.ACTIVE.value)
    # Set by an admin once a public figure's own account is verified as theirs.
    public_figure_id: Mapped[str | None] = mapped_column(String(80), index=True)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    revoked_at: Mapped[datetime | None]

    approvals: Mapped[list["CameoApproval"]] = relationship(
        cascade="all, delete-orphan", lazy="selectin", back_populates="cameo")

    @property
    def approved_user_ids(self) -> set[str]:
        return {a.user_id for a in self.approvals}


class CameoApproval(Base):
    __tablename__ = "cameo_approvals"

    cameo_id: Mapped[str] = mapped_column(ForeignKey("cameos.id", ondelete="CASCADE"), primary_key=True)
    user_id: Mapped[str] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"), primary_key=True)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)

    cameo: Mapped[Cameo] = relationship(back_populates="approvals")
