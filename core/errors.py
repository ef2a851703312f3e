"""One error shape for every 4xx/5xx: ``{"error": {"code", "message", "details"}}``."""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel, Field


class AppError(Exception):
    """A refusal a user can understand: stable code, human message, HTTP status."""

    status_code = 400

    def __init__(
        self, code: str, message: str, *, status: int | None = None, details: Any = None,
        headers: dict[str, str] | None = None,
    ) -> None:  # fmt: skip
        super().__init__(message)
        self.code = code
        self.message = message
        self.details = details
        self.headers = headers
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


class ErrorContent(BaseModel):
    code: str = Field(description="Stable, machine-readable: what went wrong")
    message: str = Field(description="For the person at the screen, in Chinese")
    details: Any = Field(None, description="What the code refers to: fields, member numbers, a window...")


class ErrorBody(BaseModel):
    """Every refusal and failure answers this shape."""

    error: ErrorContent


_ERRORS = {
    202: "The workflow took the decision but its view could not be read (the database was unavailable): "
    "do not send it again",
    400: "The request could not be read",
    401: "No token, or a token that is not valid",
    403: "The caller's role or organisation may not do this",
    404: "No such object (or an id no object can have)",
    409: "Not allowed in the object's present state",
    413: "The upload is too large",
    422: "A value is missing, malformed or out of range (the message names the field in Chinese)",
    429: "Too many failed attempts from this address: retry after the Retry-After header's seconds",
    503: "The database, the workflow service or a worker is unavailable: nothing was changed, retry later",
}
ERROR_RESPONSES: dict[int | str, dict[str, Any]] = {
    status: {"model": ErrorBody, "description": description} for status, description in _ERRORS.items()
}
