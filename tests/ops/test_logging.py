"""Structured logs: one JSON object a line, ids kept, personal data and tokens left out."""

from __future__ import annotations

import json
import logging
import re
from pathlib import Path

from broker.ops.logging import JsonFormatter, scrub


def _record(name: str, msg: str, args: object = (), **extra: object) -> logging.LogRecord:
    record = logging.LogRecord(name, logging.INFO, __file__, 1, msg, args, None)  # type: ignore[arg-type]
    record.__dict__.update(extra)
    return record


def test_json_line_keeps_ids_and_drops_unknown_extras() -> None:
    """Whitelisted ids pass; an extra like a display name is dropped, never printed."""
    line = JsonFormatter().format(_record("broker.request", "offer %d accepted", (7,), request_id=3,
                                          display_name="Maria Muster", email="maria@example.org"))
    entry = json.loads(line)
    assert entry["msg"] == "offer 7 accepted" and entry["request_id"] == 3 and entry["level"] == "info"
    assert "Maria" not in line and "maria@" not in line


def test_tokens_and_query_strings_are_scrubbed() -> None:
    """`token=…`, passwords and query strings never reach the log."""
    assert "abc123" not in scrub("GET /ws?token=abc123 failed")
    assert "hunter2" not in scrub("login failed password=hunter2 for id 4")
    assert "secret-value" not in scrub('config {"secret": "secret-value"}')
    assert "10.1.2.3" not in scrub('10.1.2.3:40014 - "WebSocket /ws" [accepted]')


def test_uvicorn_access_log_has_no_client_address_or_query() -> None:
    """An access line keeps method, path and status, not the client's address or ?token=."""
    record = _record("uvicorn.access", '%s - "%s %s HTTP/%s" %d',
                     ("192.0.2.7:5555", "GET", "/ws?token=sekret", "1.1", 101))
    entry = json.loads(JsonFormatter().format(record))
    assert entry == {**entry, "http_method": "GET", "http_path": "/ws", "http_status": 101}
    assert "192.0.2.7" not in json.dumps(entry) and "sekret" not in json.dumps(entry)


def test_plain_text_access_log_is_scrubbed_too() -> None:
    """Without JSON logs, uvicorn's access line still loses the client address and ?token=."""
    from broker.ops.logging import ScrubFilter

    record = _record("uvicorn.access", '%s - "%s %s HTTP/%s" %d',
                     ("192.0.2.7:5555", "GET", "/ws?token=sekret", "1.1", 101))
    assert ScrubFilter().filter(record)
    line = record.getMessage()
    assert "/ws" in line and "sekret" not in line and "192.0.2.7" not in line
    error = _record("uvicorn.error", "%s - connection from %s token=%s", ("x", "10.0.0.9:1", "abc"))
    ScrubFilter().filter(error)
    assert "10.0.0.9" not in error.getMessage() and "abc" not in error.getMessage()


CALENDAR_SECRET = "Zq8sF3kLw0pX9yR2tV6nB1mC4dE7gH5j"


def test_calendar_feed_secret_in_the_path_is_scrubbed_from_json_access_log() -> None:
    """The calendar feed's secret sits in the path; the JSON access line shows /calendar/[redacted].ics."""
    record = _record("uvicorn.access", '%s - "%s %s HTTP/%s" %d',
                     ("192.0.2.7:5555", "GET", f"/api/bookings/calendar/{CALENDAR_SECRET}.ics?x=1", "1.1", 200))
    entry = json.loads(JsonFormatter().format(record))
    assert entry["http_path"] == "/api/bookings/calendar/[redacted].ics"
    assert CALENDAR_SECRET not in json.dumps(entry)


def test_calendar_feed_secret_is_scrubbed_from_plain_text_logs() -> None:
    """Plain-text access lines and free-text messages (e.g. an error naming the URL) lose the secret too."""
    from broker.ops.logging import ScrubFilter

    record = _record("uvicorn.access", '%s - "%s %s HTTP/%s" %d',
                     ("192.0.2.7:5555", "GET", f"/api/bookings/calendar/{CALENDAR_SECRET}.ics", "1.1", 200))
    assert ScrubFilter().filter(record)
    assert CALENDAR_SECRET not in record.getMessage()
    assert "/api/bookings/calendar/[redacted].ics" in record.getMessage()
    text = scrub(f"Exception in ASGI application for GET /api/bookings/calendar/{CALENDAR_SECRET}.ics")
    assert CALENDAR_SECRET not in text and "/calendar/[redacted].ics" in text


def test_caddy_log_filter_redacts_the_calendar_secret() -> None:
    """The proxy's JSON access log rewrites request.uri's calendar segment (Caddy's regexp filter)."""
    caddyfile = (Path(__file__).resolve().parents[2] / "docker" / "caddy" / "Caddyfile").read_text()
    match = re.search(r'request>uri multiple \{(.*?)\n\t\t\t\t\}', caddyfile, re.S)
    assert match, "request>uri must combine the query filter with a regexp filter"
    assert "delete token" in match.group(1)
    pattern, replacement = re.search(r'regexp "([^"]+)" "([^"]+)"', match.group(1)).groups()  # type: ignore[union-attr]
    # Go's RE2 and Python's re agree on this simple pattern: check it does what the comment says.
    uri = f"/api/bookings/calendar/{CALENDAR_SECRET}.ics"
    assert re.sub(pattern, replacement, uri) == "/api/bookings/calendar/[redacted].ics"
