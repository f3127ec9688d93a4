"""Services the web pages (review_ui) need from a domain, as interfaces: a domain registers its
implementation in its plugin (`Domain.services`), and review_ui asks `app.domains.service(...)`,
so pages never import a domain (Warehouse's `find_service`). Return plain data (dicts, lists,
dataclasses), never ORM rows of a domain's tables, so a page cannot reach past the interface."""

from __future__ import annotations

from typing import Any, Protocol

from sqlalchemy.orm import Session

from app.models import User

# -- the rightsholder portal (copyright) -----------------------------------------------------------


class RightsPortal(Protocol):
    def overview(self, session: Session, user: User) -> dict[str, Any]:
        """The signed-in rightsholder's organisation and everything the portal shows."""


# -- the cameo owner's page (likeness) ---------------------------------------------------------------


class CameoOwnerPage(Protocol):
    def overview(self, session: Session, user: User) -> dict[str, Any]:
        """The signed-in user's cameo and every appearance of it."""
