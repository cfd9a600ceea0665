"""Security headers on every HTTP response of the app (pages, API, files).

The Content-Security-Policy allows only the app's own files: no inline scripts, no `eval`, no inline
styles (the pages carry none; scripts set `node.style.x`, which CSP permits) except under /manager/,
where plotly.js injects its styles. Images and media may also
be `data:`/`blob:` (avatars, the device check's previews); `connect-src 'self'` covers the same-origin
`ws:`/`wss:` sockets (CSP Level 3). See docs/security.md, "Headers".
"""

from __future__ import annotations

from starlette.types import ASGIApp, Message, Receive, Scope, Send


def _policy(style_src: str) -> str:
    return "; ".join((
        "default-src 'self'",
        "script-src 'self'",
        f"style-src {style_src}",
        "img-src 'self' data: blob:",
        "media-src 'self' blob:",
        "connect-src 'self'",
        "font-src 'self'",
        "object-src 'none'",
        "base-uri 'none'",
        "form-action 'self'",
        "frame-ancestors 'none'",
    ))


CONTENT_SECURITY_POLICY = _policy("'self'")
# plotly.js (manager dashboard only) injects <style> elements and style attributes while drawing;
# inline *styles* are allowed there and nowhere else. Scripts stay 'self' everywhere.
MANAGER_CONTENT_SECURITY_POLICY = _policy("'self' 'unsafe-inline'")
MANAGER_PREFIX = "/manager/"

SECURITY_HEADERS: tuple[tuple[bytes, bytes], ...] = (
    (b"x-content-type-options", b"nosniff"),
    (b"referrer-policy", b"no-referrer"),
    (b"permissions-policy", b"camera=(self), microphone=(self), geolocation=(), payment=()"),
    (b"x-frame-options", b"DENY"),
)


class SecurityHeaders:
    """Pure ASGI (no BaseHTTPMiddleware): streaming responses and WebSockets pass untouched."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return

        manager = str(scope.get("path", "")).startswith(MANAGER_PREFIX)
        policy = (MANAGER_CONTENT_SECURITY_POLICY if manager else CONTENT_SECURITY_POLICY).encode()
        headers = (*SECURITY_HEADERS, (b"content-security-policy", policy))

        async def send_with_headers(message: Message) -> None:
            if message["type"] == "http.response.start":
                present = {name.lower() for name, _ in message.get("headers", [])}
                message["headers"] = [*message.get("headers", []),
                                      *(h for h in headers if h[0] not in present)]
            await send(message)

        await self.app(scope, receive, send_with_headers)
