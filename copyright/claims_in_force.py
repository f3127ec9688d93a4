"""Which claim is in force on a video: read by the claims workflow and by the revenue ledger
(a monetise claim redirects the creator's share), so neither has to import the other."""

from __future__ import annotations

from sqlalchemy import select
from sqlalchemy.orm import Session

from copyright.models import ClaimAction, VideoClaim, VideoClaimStatus

IN_EFFECT = (VideoClaimStatus.OPEN.value, VideoClaimStatus.DISPUTED.value)


def _in_force(session: Session, generation_id: str, action: ClaimAction) -> VideoClaim | None:
    return session.scalar(select(VideoClaim).where(
        VideoClaim.generation_id == generation_id, VideoClaim.action == action.value,
        VideoClaim.status.in_([*IN_EFFECT, VideoClaimStatus.UPHELD.value])))


def takedown_in_force(session: Session, generation_id: str) -> VideoClaim | None:
    """A takedown in effect or upheld keeps the video from being published again."""
    return _in_force(session, generation_id, ClaimAction.TAKEDOWN)


def monetising_claim(session: Session, generation_id: str) -> VideoClaim | None:
    """The monetise claim in effect or upheld on the video, if any (its revenue is redirected)."""
    return _in_force(session, generation_id, ClaimAction.MONETISE)
