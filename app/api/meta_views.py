"""Health and the OpenAPI document."""

from __future__ import annotations

from flask import Blueprint, jsonify
from sqlalchemy import text

from app import runtime
from app.api.schemas import HealthOut
from app.api.spec import endpoint, openapi_document, session

bp = Blueprint("meta", __name__)
API_VERSION = "1.0.0"


@endpoint(bp, "/health", "GET", summary="Database and queue health", tag="meta", response=HealthOut, auth=False)
def health():
    session().execute(text("SELECT 1"))
    rt = runtime.current()
    return HealthOut(status="ok", database=rt.db.engine.dialect.name,
                     queue_backend="embedded" if rt.queues.embedded else "redis", queued=rt.queues.counts())


@bp.get("/openapi.json")
def openapi():
    return jsonify(openapi_document("Greenlight API", API_VERSION, "/api/v1"))
