"""One exception hierarchy; the API maps it to {"error": {"code", "message", "details"}}.

Codes are stable snake_case strings that clients may rely on: see docs/errors.md.
"""

from __future__ import annotations

from typing import Any


class GreenlightError(Exception):
    status = 400
    code = "bad_request"
    headers: dict[str, str] = {}  # extra response headers (Retry-After); never mutated in place

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


class TooManyRequests(GreenlightError):
    """Refused for now: `Retry-After` (and details.retry_after_s) say when to try again."""
    status = 429
    code = "rate_limited"

    def __init__(self, message: str, *, retry_after_s: int, code: str | None = None,
                 details: dict[str, Any] | None = None, status: int | None = None):
        retry_after_s = max(1, int(retry_after_s))
        super().__init__(message, code=code, details={**(details or {}), "retry_after_s": retry_after_s},
                         status=status)
        self.retry_after_s = retry_after_s
        self.headers = {"Retry-After": str(retry_after_s)}


class ServiceBusy(TooManyRequests):
    """The server is saturated for a moment (not the caller's fault): 503 with Retry-After."""
    status = 503
    code = "server_busy"
