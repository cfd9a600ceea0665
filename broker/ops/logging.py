"""Structured JSON logs without personal data.

One JSON object a line: time, level, logger, message and whitelisted extra fields. Names,
e-mail addresses, tokens and client data never go in: code logs ids, and this formatter
drops what uvicorn's access log would add (client address, query strings with tokens, the
calendar feed's secret path segment).
"""

from __future__ import annotations

import json
import logging
import re
from datetime import UTC, datetime
from typing import Any

from broker.config import LogFormat, Settings, get_settings

# Extra fields a log call may pass (`log.info("...", extra={"request_id": 7})`); anything
# else is dropped, so a careless `extra={"user": user}` cannot leak a display name.
SAFE_EXTRA = frozenset({
    "request_id", "offer_id", "booking_id", "room_id", "user_id", "interpreter_id", "office_id",
    "instance_id", "job_id", "job", "status", "outcome", "duration_ms", "count", "deleted", "language",
    "http_method", "http_path", "http_status",
})
_SECRETS = re.compile(r"(?i)((?:token|secret|password|session|authorization)[\"']?\s*[=:]\s*[\"']?)[^\s&\"',;]+")
_QUERY = re.compile(r"\?[^\s\"']*")
# Secrets that travel in the URL path rather than the query: the calendar feed's address is
# its only credential (`/api/bookings/calendar/<secret>.ics`), so it is as private as ?token=.
_PATH_SECRETS = re.compile(r"(/calendar/)[^/\s?\"']+?(\.ics\b)")
# Client addresses are personal data (uvicorn logs them on WebSocket accept): keep none.
_ADDRESS = re.compile(r"\b\d{1,3}(?:\.\d{1,3}){3}(?::\d+)?\b|\[[0-9a-fA-F:]+\](?::\d+)?")


def scrub(text: str) -> str:
    """Remove query strings, `token=…`-style secrets, secrets in paths and IP addresses from free text."""
    text = _PATH_SECRETS.sub(r"\1[redacted]\2", _QUERY.sub("", text))
    return _ADDRESS.sub("[addr]", _SECRETS.sub(r"\1[redacted]", text))


def scrub_path(path: str) -> str:
    """A request path for the access log: no query string, no secret path segment."""
    return _PATH_SECRETS.sub(r"\1[redacted]\2", path.split("?", 1)[0])


class JsonFormatter(logging.Formatter):
    def format(self, record: logging.LogRecord) -> str:
        entry: dict[str, Any] = {
            "ts": datetime.fromtimestamp(record.created, UTC).isoformat(timespec="milliseconds"),
            "level": record.levelname.lower(),
            "logger": record.name,
        }
        if record.name == "uvicorn.access" and isinstance(record.args, tuple) and len(record.args) == 5:
            # (client_addr, method, path, http_version, status): keep no address, no query.
            _, method, path, _, status = record.args
            entry["msg"] = "request"
            entry.update(http_method=str(method), http_path=scrub_path(str(path)), http_status=int(str(status)))
        else:
            entry["msg"] = scrub(record.getMessage())
        for key in SAFE_EXTRA:
            if key in record.__dict__ and key not in entry:
                entry[key] = record.__dict__[key]
        if record.exc_info:
            entry["exc"] = scrub(self.formatException(record.exc_info))
        return json.dumps(entry, ensure_ascii=False, default=str)


class ScrubFilter(logging.Filter):
    """Keeps plain-text logs as private as the JSON ones: no client address, no query, no token."""

    def filter(self, record: logging.LogRecord) -> bool:
        if record.name == "uvicorn.access" and isinstance(record.args, tuple) and len(record.args) == 5:
            _, method, path, version, status = record.args
            record.args = ("-", method, scrub_path(str(path)), version, status)
        elif str(record.msg).startswith("Uvicorn running on"):
            pass  # our own listening address, not a client's: operators need to see it
        else:
            record.msg, record.args = scrub(record.getMessage()), None
        return True


def _install_scrub_filter() -> None:
    for name in ("uvicorn.access", "uvicorn.error"):
        logger = logging.getLogger(name)
        if not any(isinstance(f, ScrubFilter) for f in logger.filters):
            logger.addFilter(ScrubFilter())


def configure(settings: Settings | None = None) -> None:
    """Switch the root logger and uvicorn's loggers to JSON when `VD_LOG_FORMAT=json`; scrub either way."""
    settings = settings or get_settings()
    _install_scrub_filter()
    if settings.log_format is not LogFormat.JSON:
        return
    handler = logging.StreamHandler()
    handler.setFormatter(JsonFormatter())
    root = logging.getLogger()
    root.handlers[:] = [handler]
    root.setLevel(settings.log_level.upper())
    for name in ("uvicorn", "uvicorn.error", "uvicorn.access"):
        logger = logging.getLogger(name)
        logger.handlers[:] = []
        logger.propagate = True
