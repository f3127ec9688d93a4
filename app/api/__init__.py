"""The JSON API under /api/v1: blueprints, and one error envelope for everything under it."""

from __future__ import annotations

import logging

from flask import Blueprint, Flask, request
from werkzeug.exceptions import HTTPException

from app.errors import GreenlightError

log = logging.getLogger(__name__)
PREFIX = "/api/v1"

_HTTP_CODES = {400: "bad_request", 401: "unauthenticated", 403: "forbidden", 404: "not_found",
               405: "method_not_allowed", 406: "not_acceptable", 413: "payload_too_large",
               415: "unsupported_media_type", 429: "rate_limited"}


def build_blueprint() -> Blueprint:
    from app import domains
    from app.api import (
        account_views, case_views, generation_views, meta_views, transparency_views, upload_views,
    )

    api = Blueprint("api", __name__, url_prefix=PREFIX)
    for module in (meta_views, account_views, generation_views, upload_views, case_views, transparency_views):
        api.register_blueprint(module.bp)
    for domain in domains.domains():
        for blueprint in domain.blueprints() if domain.blueprints else ():
            api.register_blueprint(blueprint)
    return api


def _envelope(code: str, message: str, status: int, details: dict | None = None):
    return {"error": {"code": code, "message": message, "details": details or {}}}, status


def register_error_handlers(app: Flask) -> None:
    @app.errorhandler(GreenlightError)
    def _domain_error(exc: GreenlightError):
        return exc.to_dict(), exc.status, exc.headers

    @app.errorhandler(HTTPException)
    def _http_error(exc: HTTPException):
        if not request.path.startswith(PREFIX):
            return exc
        status = exc.code or 500
        message = exc.description or exc.name
        if status == 413:
            message = f"the request body is larger than {app.config['MAX_CONTENT_LENGTH']} bytes"
        return _envelope(_HTTP_CODES.get(status, "http_error"), message, status)

    @app.errorhandler(Exception)
    def _unexpected(exc: Exception):
        log.exception("unhandled error on %s %s", request.method, request.path)
        return _envelope("internal_error", "something went wrong on our side", 500)
