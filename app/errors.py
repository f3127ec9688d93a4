"""One exception hierarchy; the API maps it to {"error": {"code", "message", "details"}}.

Codes are stable snake_case strings that clients may rely on: see docs/errors.md.
"""

from __future__ import annotations

from typing import Any


class GreenlightError(Exception):
    status = 400
    code = "bad_request"

    def __init__(self, message: str, *, code: str | None = None, details: dict[str, Any] | None = None,
                 status: int | None = None):
        super().__init__(message)
        self.message = message
        if code:
            self.code = code
        if status:
            self.status = status
        self.details = details or {}

    def to_dict(self) -> dict[str, Any]:
        return {"error": {"code": self.code, "message": self.message, "details": self.details}}


class ValidationFailed(GreenlightError):
    status = 422
    code = "validation_error"


class Unauthenticated(GreenlightError):
    status = 401
    code = "unauthenticated"


class Forbidden(GreenlightError):
    status = 403
    code = "forbidden"


class NotFound(GreenlightError):
    """Also the answer for another user's object: existence is not disclosed."""
    status = 404
    code = "not_found"


class Conflict(GreenlightError):
    status = 409
    code = "conflict"


class IllegalTransition(Conflict):
    code = "illegal_transition"


class StaleState(Conflict):
    """The row changed under us (another worker or request moved it first)."""
    code = "stale_state"
