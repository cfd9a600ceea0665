"""Domain errors carry an HTTP status and a message a person understands."""

from __future__ import annotations

from typing import Any

from fastapi import Request
from fastapi.responses import JSONResponse
from pydantic import BaseModel


class ErrorRead(BaseModel):
    detail: str
    code: str


class DomainError(Exception):
    status_code = 400
    code = "bad_request"

    def __init__(self, message: str, *, code: str | None = None, **extra: Any) -> None:
        super().__init__(message)
        self.message = message
        if code:
            self.code = code
        self.extra = extra


class NotFound(DomainError):
    status_code = 404
    code = "not_found"


class Conflict(DomainError):
    status_code = 409
    code = "conflict"


class Forbidden(DomainError):
    status_code = 403
    code = "forbidden"


class Invalid(DomainError):
    status_code = 422
    code = "invalid"


async def domain_error_handler(_request: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, DomainError)
    body: dict[str, Any] = {"detail": exc.message, "code": exc.code, **exc.extra}
    return JSONResponse(status_code=exc.status_code, content=body)


COMMON_RESPONSES: dict[int | str, dict[str, Any]] = {
    401: {"model": ErrorRead, "description": "Not signed in"},
    403: {"model": ErrorRead, "description": "Role not allowed"},
    404: {"model": ErrorRead, "description": "Not found (or not visible to this user)"},
    409: {"model": ErrorRead, "description": "Conflicts with the current state"},
    429: {"model": ErrorRead, "description": "Too many requests"},
}
