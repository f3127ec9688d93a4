"""Services the web pages (review_ui) and the core need from a domain, as interfaces: a domain
registers its implementation in its plugin (`Domain.services`), and they ask
`app.domains.service(...)`, so neither imports a domain (Warehouse's `find_service`). Return plain data (dicts, lists,
dataclasses), never ORM rows of a domain's tables, so a page cannot reach past the interface."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
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
    """Everything the signed-in user's cameo page shows and does, on their own cameo only (their
    newest one; another user's cameo is never reachable through it). Generations appear as dicts
    with id, creator_handle, status, prompt (a snippet), created_at and may_delete."""

    def overview(self, session: Session, user: User) -> dict[str, Any] | None:
        """The cameo (id, display_name, status, permission, approved_handles, blocked_handles,
        created_at, revoked_at) and its appearances grouped as published, drafts, held
        (in_review) and blocked (requests that named the cameo or showed the face, refused);
        None if the user has no cameo."""

    def revocation_preview(self, session: Session, user: User) -> dict[str, Any]:
        """What revoking consent would do, computed by the revocation's own plan: generation ids
        under unpublished, deleted (drafts), blocked (queued or held requests), with counts, and
        rendering (caught by the consent check when their render ends)."""

    def revoke(self, session: Session, user: User) -> dict[str, Any]:
        """Revoke consent; returns the same shape as the preview, of what was done."""

    def delete_cameo(self, session: Session, user: User) -> dict[str, Any]:
        """Revoke, then erase the face template and face crops; returns what was done and erased."""

    def delete_video(self, session: Session, user: User, generation_id: str) -> dict[str, Any]:
        """Delete a video the user's cameo appears in (as a co-owner) or that they created."""

    def set_permission(self, session: Session, user: User, permission: str) -> dict[str, Any]:
        """Change who may use the cameo (only_me, approved, mutuals, everyone); narrowing it
        revokes consent for whoever lost it. Returns the cameo as in the overview."""


# -- likeness complaints ("this video shows me") ---------------------------------------------------------


class LikenessComplaints(Protocol):
    """A person shown in a video complains, with a selfie matched against the video's faces: the
    same code path as POST /api/v1/complaints/likeness. Errors are app.errors.GreenlightError with
    the endpoint's codes (generation_not_found, authentication_required, email_not_verified,
    email_code_wrong, not_an_image, no_face, multiple_faces, face_too_small, face_pose_extreme,
    face_too_blurry, complaint_no_match, payload_too_large, empty_upload)."""

    def file(self, session: Session, *, generation_id: str, image_bytes: bytes, user: User | None = None,
             email: str | None = None, code: str | None = None, statement: str = "") -> dict[str, Any]:
        """Without `user`, `email` and the `code` mailed to it (app.mail.start_verification) are
        required. On a match the video is hidden and a case opens; returns case_id, due_at, score and
        link (the private link `/complaints/<case_id>?key=...`, shown once). A selfie that matches no
        face raises complaint_no_match, having committed the attempt's audit row."""


# -- provenance (likeness, for the generator's manifest) --------------------------------------------


class ConsentReceipts(Protocol):
    """What a render's C2PA manifest states about the people in it."""

    def receipts(self, session: Session, generation_id: str) -> list[dict[str, str]]:
        """One receipt per cameo the generation shows (declared, remixed or found in its input
        image): `cameo` (sha256 of its id: the manifest names no one), `permission` in force now
        and `source` (how it came to be in the video)."""


class CameoFaces(Protocol):
    """The faces a render puts on screen (likeness). Biometric data: returned in memory only, to
    the render job, which composites them and keeps nothing."""

    def faces(self, session: Session, cameo_ids: Sequence[str]) -> list[Any]:
        """One aligned face crop (112x112 BGR uint8) per cameo that is active and has stored
        crops, in the order asked; a cameo without one is left out."""


# -- the renderer (generator) -----------------------------------------------------------------------


@dataclass(frozen=True)
class RenderRequest:
    """One greenlit generation's render, as the core hands it to the registered renderer."""

    generation_id: str
    prompt: str
    out_path: Path
    seed: int
    fps: int
    seconds: float
    watermark: str                    # the visible label
    provenance: dict[str, Any]        # the gates and consent receipts the C2PA manifest states
    faces: tuple[Any, ...] = ()       # cameos' aligned crops (CameoFaces), in memory only
    lineage: tuple[tuple[str, int], ...] = ()  # a remix: (prompt, seed) of each ancestor, root first
    input_image: Path | None = None


class Renderer(Protocol):
    """Renders greenlit requests to MP4 files (`Domain.renderer`). Given several, it may sample them
    together (a batch on one model call)."""

    def __call__(self, requests: Sequence[RenderRequest]) -> list[Any]:
        """One entry per request, in order: the render's result (with `sha256`, `model`, `steps`,
        `timings`), or the exception raised for that request alone."""
