"""Request and response schemas of the core API (domain packages keep their own)."""

from __future__ import annotations

from datetime import date, datetime
from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Field, StringConstraints

MAX_PROMPT_CHARS = 2000
MAX_CAMEOS = 8

Id = Annotated[str, StringConstraints(min_length=1, max_length=64, pattern=r"^[A-Za-z0-9_\-]+$")]


class Body(BaseModel):
    """Strict: unknown fields and wrong types are errors, never coerced or ignored."""
    model_config = ConfigDict(extra="forbid", strict=True)


class Query(BaseModel):
    model_config = ConfigDict(extra="forbid")


class Page(Query):
    limit: int = Field(20, ge=1, le=100, description="page size (1-100)")
    cursor: str | None = Field(None, max_length=200, description="next_cursor of the previous page")


# -- accounts ---------------------------------------------------------------------------------

class SignUpIn(Body):
    invite_code: Annotated[str, StringConstraints(min_length=4, max_length=32)]
    email: Annotated[str, StringConstraints(min_length=3, max_length=254)]
    password: Annotated[str, StringConstraints(min_length=1, max_length=256)]
    birthdate: date
    handle: Annotated[str, StringConstraints(min_length=3, max_length=32)] | None = None


class TokenIn(Body):
    email: Annotated[str, StringConstraints(min_length=3, max_length=254)]
    password: Annotated[str, StringConstraints(min_length=1, max_length=256)]
    name: Annotated[str, StringConstraints(min_length=1, max_length=64)] = "api"


class TokenOut(BaseModel):
    id: str
    token: str = Field(description="shown once; store it now")
    prefix: str
    name: str
    created_at: datetime
    expires_at: datetime = Field(description="then the token answers 401 token_expired")


class TokenInfo(BaseModel):
    """One of my tokens, without its secret."""
    id: str
    name: str
    created_at: datetime
    expires_at: datetime
    last_used_at: datetime | None


class TokenList(BaseModel):
    items: list[TokenInfo]


class UserOut(BaseModel):
    id: str
    email: str
    handle: str
    role: str
    is_teen: bool
    created_at: datetime


class InviteOut(BaseModel):
    code: str
    used: bool
    used_at: datetime | None


class InviteList(BaseModel):
    items: list[InviteOut]


class NotificationOut(BaseModel):
    id: str
    kind: str
    payload: dict[str, Any]
    read: bool
    created_at: datetime


class NotificationList(BaseModel):
    items: list[NotificationOut]


class FollowIn(Body):
    handle: Annotated[str, StringConstraints(min_length=3, max_length=33)]


# -- generations --------------------------------------------------------------------------------

class GenerationIn(Body):
    prompt: Annotated[str, StringConstraints(min_length=1, max_length=MAX_PROMPT_CHARS)]
    cameo_ids: Annotated[list[Id], Field(max_length=MAX_CAMEOS)] = []
    remix_of: Id | None = None
    input_image_id: Id | None = Field(default=None, description="an upload from POST /uploads/images to start from")


class ReasonOut(BaseModel):
    code: str
    message: str
    details: dict[str, Any] = {}


class VerdictOut(BaseModel):
    stage: str
    version: str
    phase: str
    decision: Literal["allow", "review", "block"]
    reasons: list[ReasonOut]
    scores: dict[str, Any]
    latency_ms: float
    created_at: datetime


class GenerationOut(BaseModel):
    id: str
    status: str
    prompt: str
    cameo_ids: list[str]
    remix_of: str | None
    input_image_id: str | None = None
    verdicts: list[VerdictOut]
    media_url: str | None
    media_sha256: str | None
    error: str | None
    age_restricted: bool = False
    created_at: datetime
    updated_at: datetime


class GenerationPage(BaseModel):
    items: list[GenerationOut]
    next_cursor: str | None


class GenerationListQuery(Page):
    status: str | None = Field(None, max_length=16, description="only generations in this state")


class HealthOut(BaseModel):
    status: str
    database: str
    queue_backend: str
    queued: dict[str, int]
