"""Safety tables: hash banks of known media and their signals."""

from __future__ import annotations

from datetime import datetime
from enum import StrEnum

from sqlalchemy import Boolean, ForeignKey, Integer, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from app.db import Base, new_id, utcnow


class BankAction(StrEnum):
    BLOCK = "block"
    REVIEW = "review"


class SignalType(StrEnum):
    """Names as python-threatexchange spells them (pHash has no threatexchange type; ours)."""

    PDQ = "pdq"
    PHASH = "phash"


class HashBank(Base):
    """A named set of hashes of known media and what a match does. A negative bank (known-good
    media: a famous painting, a stock photo) suppresses matches of the other banks."""

    __tablename__ = "hash_banks"

    id: Mapped[str] = mapped_column(String(36), primary_key=True, default=new_id)
    name: Mapped[str] = mapped_column(String(80), unique=True)
    description: Mapped[str] = mapped_column(Text, default="")
    action: Mapped[str] = mapped_column(String(16), default=BankAction.BLOCK.value)
    # DSA statement-of-reasons category a match is reported under.
    category: Mapped[str] = mapped_column(String(64), default="STATEMENT_CATEGORY_ILLEGAL_OR_HARMFUL_SPEECH")
    enabled: Mapped[bool] = mapped_column(Boolean, default=True)
    negative: Mapped[bool] = mapped_column(Boolean, default=False)
    pdq_distance: Mapped[int] = mapped_column(Integer, default=31)
    phash_distance: Mapped[int] = mapped_column(Integer, default=8)
    created_by_id: Mapped[str] = mapped_column(ForeignKey("users.id"))
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(default=utcnow)


class BankSignal(Base):
    __tablename__ = "bank_signals"
    __table_args__ = (UniqueConstraint("bank_id", "signal_type", "signal"),)

    id: Mapped[str] = mapped_column(String(36), primary_key=True, default=new_id)
    bank_id: Mapped[str] = mapped_column(ForeignKey("hash_banks.id", ondelete="CASCADE"), index=True)
    signal_type: Mapped[str] = mapped_column(String(16))
    signal: Mapped[str] = mapped_column(String(64))  # lower-case hex: 64 digits PDQ, 16 pHash
    source: Mapped[str] = mapped_column(String(200), default="")  # "upload", "import:<file>", a partner
    tags: Mapped[str] = mapped_column(String(400), default="")  # space-separated, as threatexchange writes them
    added_by_id: Mapped[str] = mapped_column(ForeignKey("users.id"))
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
