"""One error shape for every 4xx/5xx: ``{"error": {"code", "message", "details"}}``."""

from __future__ import annotations

from typing import Any


class AppError(Exception):
    """A refusal a user can understand: stable code, human message, HTTP status."""

    status_code = 400

    def __init__(self, code: str, message: str, *, status: int | None = None, details: Any = None) -> None:
        super().__init__(message)
        self.code = code
        self.message = message
        self.details = details
        if status is not None:
            self.status_code = status

    def body(self) -> dict[str, Any]:
        return {"error": {"code": self.code, "message": self.message, "details": self.details}}


class NotFound(AppError):
    status_code = 404


class Conflict(AppError):
    status_code = 409


class Invalid(AppError):
    status_code = 422


class Forbidden(AppError):
    status_code = 403


class Unauthorized(AppError):
    status_code = 401


class Unavailable(AppError):
    status_code = 503
