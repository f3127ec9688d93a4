"""Generator tables: the platform's bank of its own outputs (generator/fingerprints.py)."""

from __future__ import annotations

from sqlalchemy import Float, ForeignKey, Integer, LargeBinary, String
from sqlalchemy.orm import Mapped, mapped_column

from app.db import Base


class OutputFingerprint(Base):
    """One view's PDQ hash of one frame of a rendered video. Kept while the generation row is,
    whatever becomes of its file: a copy of a deleted video still leads back to its generation."""

    __tablename__ = "output_fingerprints"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    generation_id: Mapped[str] = mapped_column(ForeignKey("generations.id", ondelete="CASCADE"), index=True)
    at_s: Mapped[float] = mapped_column(Float)
    view: Mapped[str] = mapped_column(String(16))
    pdq: Mapped[bytes] = mapped_column(LargeBinary(32))
    quality: Mapped[int] = mapped_column(Integer)
