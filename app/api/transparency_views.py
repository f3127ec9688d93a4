"""Statements of reasons: the creator reads those about their generation; admins export them all."""

from __future__ import annotations

from typing import Any, Literal

from flask import Blueprint, Response
from pydantic import AwareDatetime, BaseModel, Field

from app import generations, statements
from app.api.schemas import Query
from app.api.spec import current_user, endpoint, session
from app.errors import ValidationFailed
from app.models import Role

bp = Blueprint("transparency", __name__)


class StatementList(BaseModel):
    items: list[dict[str, Any]] = Field(description="DSA transparency database records (plus `gl_*` fields)")


class ExportQuery(Query):
    since: AwareDatetime
    until: AwareDatetime | None = None
    format: Literal["json", "csv", "dsa"] = "json"  # dsa: submissions for the DSA database, its fields only


@endpoint(bp, "/generations/<generation_id>/statements", "GET", summary="Statements of reasons about my generation",
          tag="transparency", response=StatementList, errors=("generation_not_found",))
def generation_statements(generation_id: str):
    gen = generations.get_owned(session(), current_user(), generation_id)
    return StatementList(items=[statements.to_dsa(s) for s in statements.for_generation(session(), gen.id)])


@endpoint(bp, "/transparency/statements", "GET", summary="Export statements of reasons issued in a period (admin): "
          "JSON lines or CSV", tag="transparency", query=ExportQuery, roles={Role.ADMIN.value},
          errors=("invalid_period",))
def export_statements(query: ExportQuery):
    if query.until is not None and query.until <= query.since:
        raise ValidationFailed("until must be after since", code="invalid_period")
    found = statements.since(session(), query.since, query.until)
    mimetype = "text/csv" if query.format == "csv" else "application/x-ndjson"
    if query.format == "dsa":  # what the database's rules refuse stays out; the header counts it
        text, refused = statements.submissions(found)
        return Response(text, mimetype=mimetype, headers={"X-Refused-Statements": str(len(refused))})
    return Response(statements.export(found, query.format), mimetype=mimetype)
