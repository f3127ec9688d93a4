"""Services the web pages (review_ui) need from a domain, as interfaces: a domain registers its
implementation in its plugin (`Domain.services`), and review_ui asks `app.domains.service(...)`,
so pages never import a domain (Warehouse's `find_service`). Return plain data (dicts, lists,
dataclasses), never ORM rows of a domain's tables, so a page cannot reach past the interface."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any, Protocol

from sqlalchemy.orm import Session

from app.models import User

# -- the rightsholder portal (copyright) -----------------------------------------------------------


class RightsPortal(Protocol):
    """Everything a rightsholder's portal shows and does, for the signed-in user's organisation
    only: another organisation's works, images and claims answer not found (app.errors.NotFound),
    a user in no organisation is refused (Forbidden, `not_in_org`)."""

    def overview(self, session: Session, user: User) -> dict[str, Any]:
        """The organisation (name, members) and everything the portal shows: `works` (verified,
        each with its policy in force, its version history and its reference images),
        `pending_claims`, `generations` that used the works, `video_claims` filed, `disputes`
        against them (with their case's id, state and due time) and `revenue` (balance per
        currency in minor units, and one statement per month)."""

    def set_policy(self, session: Session, user: User, work_id: str, kind: str, share_percent: float | None = None,
                   restrictions: Sequence[str] = ()) -> dict[str, Any]:
        """A new policy version (block, allow, allow_with_attribution, allow_with_revenue_share with
        `share_percent`), effective now; returns it."""

    def upload_reference(self, session: Session, user: User, work_id: str, image_bytes: bytes) -> dict[str, Any]:
        """Add a reference image (JPEG, PNG or WebP) of a work; returns its id, created and size."""

    def remove_reference(self, session: Session, user: User, work_id: str, image_id: str) -> None:
        """Remove a reference image of a work."""

    def file_claim(self, session: Session, user: User, generation_id: str, work_id: str, action: str,
                   reason: str) -> dict[str, Any]:
        """Claim a published video that uses a work the organisation holds (`takedown` or `monetise`)."""

    def statement_csv(self, session: Session, user: User, period: str | None = None) -> str:
        """The organisation's revenue statement as CSV: one month (YYYY-MM), or every month."""


# -- the cameo owner's page (likeness) ---------------------------------------------------------------


class CameoOwnerPage(Protocol):
    def overview(self, session: Session, user: User) -> dict[str, Any]:
        """The signed-in user's cameo and every appearance of it."""
