"""Domain errors carry an HTTP status and a message a person understands."""

from __future__ import annotations

import logging
from typing import Any

from fastapi import Request
from fastapi.encoders import jsonable_encoder
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from pydantic import BaseModel
from pydantic_core import PydanticCustomError
from sqlalchemy import exc as sa_exc
from starlette.exceptions import HTTPException as StarletteHTTPException

log = logging.getLogger(__name__)


class ErrorRead(BaseModel):
    detail: str
    code: str


class ValidationIssue(BaseModel):
    loc: list[str | int]
    msg: str
    type: str


class ValidationErrorRead(BaseModel):
    """A 422 in FastAPI's own shape; domain `Invalid` errors add `code`, `message` and details."""

    detail: list[ValidationIssue]


class DomainError(Exception):
    status_code = 400
    code = "bad_request"

    def __init__(self, message: str, *, code: str | None = None, **extra: Any) -> None:
        super().__init__(message)
        self.message = message
        if code:
            self.code = code
        self.extra = extra

    def __reduce__(self) -> tuple[Any, ...]:
        # Reports raise these in a report process (broker/report/offload.py); subclasses take other
        # __init__ arguments, so rebuild from the fields instead of calling __init__ again.
        return _rebuild_domain_error, (type(self), self.args, self.__dict__)


def _rebuild_domain_error(cls: type[DomainError], args: tuple[Any, ...], state: dict[str, Any]) -> DomainError:
    error = cls.__new__(cls)
    Exception.__init__(error, *args)
    error.__dict__.update(state)
    return error


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


def invalid_value(code: str, message: str, **params: Any) -> PydanticCustomError:
    """A validator's refusal: the 422 item's `type` is `code` (the pages show `error.<code>`),
    its `msg` the English `message` (no "Value error, " prefix), its `ctx` the parameters."""
    return PydanticCustomError(code, message, params or None)


async def domain_error_handler(_request: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, DomainError)
    extra = dict(exc.extra)
    detail: Any = exc.message
    if exc.status_code == 422:
        # Same shape as FastAPI's own validation errors, so clients read every 422 one way.
        loc = extra.pop("loc", ["body"])
        detail = [{"loc": loc, "msg": exc.message, "type": exc.code}]
    body: dict[str, Any] = {"detail": detail, "code": exc.code, "message": exc.message, **extra}
    return JSONResponse(status_code=exc.status_code, content=body)


_HTTP_CODES = {
    400: "bad_request", 401: "unauthenticated", 403: "forbidden", 404: "not_found",
    405: "method_not_allowed", 409: "conflict", 413: "too_large", 422: "invalid", 429: "throttled",
}


class CodedHTTPException(StarletteHTTPException):
    """An HTTPException that names its machine-readable code (e.g. the role guard's refusal)
    and the parameters a page's text may use (e.g. the seconds to wait)."""

    def __init__(self, status_code: int, detail: str, *, code: str,
                 headers: dict[str, str] | None = None, **params: Any) -> None:
        super().__init__(status_code, detail=detail, headers=headers)
        self.code = code
        self.params = params


async def http_error_handler(_request: Request, exc: Exception) -> JSONResponse:
    """Every HTTP error has the same shape as domain errors: `{detail, code}`."""
    assert isinstance(exc, StarletteHTTPException)
    code = getattr(exc, "code", None) or _HTTP_CODES.get(exc.status_code, "error")
    params = getattr(exc, "params", {})
    return JSONResponse(status_code=exc.status_code, content={"detail": str(exc.detail), "code": code, **params},
                        headers=exc.headers)


def _encodable(value: Any) -> Any:
    """Echoed input with lone surrogates escaped: UTF-8 cannot encode them, the reply would be a 500."""
    if isinstance(value, str):
        return value.encode("utf-8", "backslashreplace").decode("utf-8")
    if isinstance(value, list):
        return [_encodable(v) for v in value]
    if isinstance(value, dict):
        return {k: _encodable(v) for k, v in value.items()}
    return value


async def validation_error_handler(_request: Request, exc: Exception) -> JSONResponse:
    """FastAPI's 422 shape plus `code` and a one-line `message` naming every offending field."""
    assert isinstance(exc, RequestValidationError)
    errors = _encodable(jsonable_encoder(exc.errors()))
    parts = [f"{'.'.join(str(p) for p in err.get('loc', ())[1:]) or 'body'}: {err.get('msg')}" for err in errors]
    message = "Invalid input: " + "; ".join(parts[:5])
    return JSONResponse(status_code=422, content={"detail": errors, "code": "invalid", "message": message})


DATABASE_RETRY_AFTER_SECONDS = 5
DATABASE_UNAVAILABLE = "The database is unavailable right now; please retry shortly."


def is_database_unavailable(exc: BaseException) -> bool:
    """Errors that mean "the database cannot be reached or did not answer in time", not a bug:
    refused or broken connections, a full pool, a statement or connect timeout, a locked SQLite."""
    if isinstance(exc, sa_exc.TimeoutError | sa_exc.OperationalError | sa_exc.InterfaceError):
        return True
    if isinstance(exc, sa_exc.DBAPIError) and exc.connection_invalidated:
        return True
    # The drivers let a refused connect (OSError) and their own timeouts through unwrapped;
    # the same types from anywhere else (a mail server, say) are not the database's.
    return isinstance(exc, OSError | TimeoutError) and _raised_by_driver(exc)


def _raised_by_driver(exc: BaseException) -> bool:
    tb = exc.__traceback__
    while tb is not None:
        module = str(tb.tb_frame.f_globals.get("__name__", ""))
        if module.startswith(("sqlalchemy.", "asyncpg.", "aiosqlite.")):
            return True
        tb = tb.tb_next
    return False


async def database_error_handler(_request: Request, exc: Exception) -> JSONResponse:
    """503 `database_unavailable` with Retry-After instead of a plain-text 500."""
    if not is_database_unavailable(exc):
        raise exc
    log.warning("database unavailable: %s", type(exc).__name__)
    return JSONResponse(status_code=503, content={"detail": DATABASE_UNAVAILABLE, "code": "database_unavailable"},
                        headers={"Retry-After": str(DATABASE_RETRY_AFTER_SECONDS)})


DATABASE_ERRORS: tuple[type[Exception], ...] = (sa_exc.DBAPIError, sa_exc.TimeoutError, OSError, TimeoutError)


COMMON_RESPONSES: dict[int | str, dict[str, Any]] = {
    400: {"model": ErrorRead, "description": "Malformed request (e.g. a body that is not JSON)"},
    401: {"model": ErrorRead, "description": "Not signed in"},
    403: {"model": ErrorRead, "description": "Role not allowed"},
    404: {"model": ErrorRead, "description": "Not found (or not visible to this user)"},
    409: {"model": ErrorRead, "description": "Conflicts with the current state"},
    429: {"model": ErrorRead, "description": "Too many requests"},
    503: {"model": ErrorRead, "description": "Database unavailable or instance draining; retry after Retry-After"},
}
