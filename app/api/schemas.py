"""Request and response schemas of the core API (domain packages keep their own)."""

from __future__ import annotations

import typing
from dataclasses import dataclass
from datetime import date, datetime
from typing import Annotated, Any, ClassVar, Literal

from pydantic import BaseModel, ConfigDict, Field, StringConstraints, ValidationInfo, field_validator
from pydantic_core import PydanticCustomError

from app import inputs

MAX_PROMPT_CHARS = 2000
MAX_CAMEOS = 8

# Error types a schema raises that are API error codes of their own (app/api/spec.py answers with them).
TEXT_CODES = frozenset({"invalid_characters", "prompt_not_utf8", "empty_prompt"})


@dataclass(frozen=True)
class Text:
    """Annotated metadata: how a str field's characters are checked. Every other str field of a
    `Body` is checked as Text(): no control characters, no lone surrogates (app/inputs.py)."""
    free_text: bool = False            # typed text: tab, line feed and carriage return allowed
    not_utf8: str = "invalid_characters"  # the code for a lone surrogate (or undecodable bytes)
    blank: str | None = None           # the code for text with nothing readable in it (zero-width only)


FREE_TEXT = Text(free_text=True)
_STRICT = Text()


def _text_rules(annotation: Any, metadata: list) -> Text:
    for item in metadata:
        if isinstance(item, Text):
            return item
    for arg in typing.get_args(annotation):  # `Annotated[str, FREE_TEXT] | None`, list[Annotated[...]]
        if typing.get_origin(arg) is Annotated:
            found = _text_rules(None, list(arg.__metadata__))
        else:
            found = _text_rules(arg, [])
        if found is not _STRICT:
            return found
    return _STRICT


def text_error(rules: Text, text: str, position: int) -> PydanticCustomError:
    code = rules.not_utf8 if inputs.is_surrogate(text[position]) else "invalid_characters"
    return PydanticCustomError(code, "the text contains {what}",
                               {"what": inputs.describe(text, position), "position": position,
                                "character": f"U+{ord(text[position]):04X}"})


Id = Annotated[str, StringConstraints(min_length=1, max_length=64, pattern=r"^[A-Za-z0-9_\-]+$")]
Prompt = Annotated[str, StringConstraints(min_length=1, max_length=MAX_PROMPT_CHARS),
                   Text(free_text=True, not_utf8="prompt_not_utf8", blank="empty_prompt")]


class Body(BaseModel):
    """Strict: unknown fields and wrong types are errors, never coerced or ignored. No string in a
    body carries control characters or lone surrogates, except tab and line breaks in FREE_TEXT."""
    model_config = ConfigDict(extra="forbid", strict=True)

    _rules: ClassVar[dict[str, Text]] = {}

    @classmethod
    def __pydantic_init_subclass__(cls, **kwargs: Any) -> None:
        super().__pydantic_init_subclass__(**kwargs)
        cls._rules = {name: _text_rules(f.annotation, f.metadata) for name, f in cls.model_fields.items()}

    @classmethod
    def text_rules(cls, field: str) -> Text:
        return cls._rules.get(field, _STRICT)

    @field_validator("*", mode="after")
    @classmethod
    def _printable(cls, value: Any, info: ValidationInfo) -> Any:
        rules = cls.text_rules(info.field_name or "")
        found = inputs.find_bad(value, free_text=rules.free_text)
        if found is not None:
            _, text, position = found
            raise text_error(rules, text, position)
        if rules.blank and isinstance(value, str) and inputs.is_blank(value):
            raise PydanticCustomError(rules.blank, "the text is empty (only spaces or zero-width characters)")
        return value


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
    prompt: Prompt
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
    media_withheld: str | None = Field(None, description="why the media was withdrawn from everyone, creator "
                                       "included: `cameo_consent_revoked` or `deleted_by_co_owner` (docs/retention.md)")
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
