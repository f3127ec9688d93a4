"""Cameo endpoints (enrolment with a face and liveness comes with the face models)."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated

from flask import Blueprint
from pydantic import BaseModel, Field, StringConstraints

from app.api.schemas import Body
from app.api.spec import current_user, endpoint, session
from likeness import services
from likeness.models import Cameo, Permission

bp = Blueprint("likeness", __name__)

Handle = Annotated[str, StringConstraints(min_length=3, max_length=33)]


class CameoIn(Body):
    display_name: Annotated[str, StringConstraints(min_length=1, max_length=80)]
    permission: Permission = Permission.ONLY_ME
    approved_handles: Annotated[list[Handle], Field(max_length=500)] = []


class CameoPatch(Body):
    permission: Permission | None = None
    approved_handles: Annotated[list[Handle], Field(max_length=500)] | None = None


class CameoOut(BaseModel):
    id: str
    display_name: str
    permission: str
    status: str
    approved_user_ids: list[str]
    created_at: datetime
    revoked_at: datetime | None


class CameoList(BaseModel):
    items: list[CameoOut]


def cameo_out(c: Cameo) -> CameoOut:
    return CameoOut(id=c.id, display_name=c.display_name, permission=c.permission, status=c.status,
                    approved_user_ids=sorted(c.approved_user_ids), created_at=c.created_at, revoked_at=c.revoked_at)


_ERRORS = ("cameo_not_found", "unknown_handle", "teen_permission_not_allowed")


@endpoint(bp, "/cameos", "POST", summary="Create a cameo and choose who may use it", tag="cameos",
          body=CameoIn, response=CameoOut, status=201, errors=_ERRORS)
def create(body: CameoIn):
    return cameo_out(services.create_cameo(session(), current_user(), body.display_name, body.permission,
                                           body.approved_handles))


@endpoint(bp, "/cameos", "GET", summary="My cameos", tag="cameos", response=CameoList)
def list_mine():
    return CameoList(items=[cameo_out(c) for c in services.list_own(session(), current_user())])


@endpoint(bp, "/cameos/<cameo_id>", "GET", summary="One of my cameos", tag="cameos", response=CameoOut,
          errors=_ERRORS)
def get_one(cameo_id: str):
    return cameo_out(services.get_own_cameo(session(), current_user(), cameo_id))


@endpoint(bp, "/cameos/<cameo_id>", "PATCH", summary="Change who may use my cameo", tag="cameos",
          body=CameoPatch, response=CameoOut, errors=_ERRORS)
def update(cameo_id: str, body: CameoPatch):
    return cameo_out(services.update_permission(session(), current_user(), cameo_id, body.permission,
                                                body.approved_handles))


@endpoint(bp, "/cameos/<cameo_id>/revoke", "POST",
          summary="Revoke my cameo: queued and held videos with it are blocked, drafts deleted, published "
                  "ones unpublished, and their creators notified", tag="cameos", response=CameoOut, errors=_ERRORS)
def revoke(cameo_id: str):
    return cameo_out(services.revoke(session(), current_user(), cameo_id))


@endpoint(bp, "/cameos/<cameo_id>", "DELETE", summary="Delete my cameo: revoke it and erase its face template",
          tag="cameos", status=204, errors=_ERRORS)
def delete(cameo_id: str):
    services.delete_cameo(session(), current_user(), cameo_id)
    return "", 204


class AppearanceOut(BaseModel):
    generation_id: str
    status: str
    prompt: str
    creator_handle: str
    source: str
    media_url: str | None
    created_at: datetime


class AppearanceList(BaseModel):
    items: list[AppearanceOut]


@endpoint(bp, "/cameos/<cameo_id>/appearances", "GET",
          summary="Drafts and published videos featuring my cameo (I co-own them and may delete them)",
          tag="cameos", response=AppearanceList, errors=_ERRORS)
def appearances(cameo_id: str):
    rows = services.appearances(session(), current_user(), cameo_id)
    return AppearanceList(items=[AppearanceOut(
        generation_id=g.id, status=g.status, prompt=g.prompt, creator_handle=g.owner.handle, source=a.source,
        media_url=f"/api/v1/generations/{g.id}/media" if g.media_key else None, created_at=g.created_at)
        for g, a in rows])
