"""Signed tokens: room join tokens and short-lived WebSocket tokens for non-browser clients.

Format: base64url(JSON claims) "." base64url(HMAC-SHA256(key, claims part)). The key is
derived from the app's secret per purpose, so a WebSocket token can never pass as a join
token or the other way round. Verification is pure (the clock is a parameter).
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import secrets
from dataclasses import dataclass

JOIN_PURPOSE = b"vd-join-token-v1"
WS_PURPOSE = b"vd-ws-token-v1"
SEAT_ROLES = frozenset({"counter", "interpreter", "guest"})


class TokenError(ValueError):
    """Why a token was refused; `code` is the wire error code."""

    def __init__(self, code: str, message: str) -> None:
        super().__init__(message)
        self.code = code


@dataclass(frozen=True)
class JoinClaims:
    room_id: str
    user_id: int | None
    role: str
    expires_at: float  # unix seconds
    token_id: str  # unique per token: the seat remembers it, so a replay cannot take a second seat


def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def _unb64(text: str) -> bytes:
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


def _key(secret: str, purpose: bytes) -> bytes:
    return hmac.new(secret.encode(), purpose, hashlib.sha256).digest()


def _sign(secret: str, purpose: bytes, claims: dict[str, object]) -> str:
    body = _b64(json.dumps(claims, separators=(",", ":"), sort_keys=True).encode())
    mac = hmac.new(_key(secret, purpose), body.encode(), hashlib.sha256).digest()
    return f"{body}.{_b64(mac)}"


def _open(secret: str, purpose: bytes, token: str, now: float) -> dict[str, object]:
    body, dot, mac = token.partition(".")
    if not dot or not body or not mac:
        raise TokenError("token-invalid", "token is malformed")
    expected = hmac.new(_key(secret, purpose), body.encode(), hashlib.sha256).digest()
    try:
        given = _unb64(mac)
        claims = json.loads(_unb64(body))
    except ValueError as exc:
        raise TokenError("token-invalid", "token is malformed") from exc
    if not hmac.compare_digest(expected, given):
        raise TokenError("token-invalid", "token signature does not match")
    if not isinstance(claims, dict):
        raise TokenError("token-invalid", "token is malformed")
    exp = claims.get("exp")
    if not isinstance(exp, int | float) or exp <= now:
        raise TokenError("token-expired", "token has expired")
    return claims


def issue_join_token(
    secret: str, *, room_id: str, user_id: int | None, role: str, expires_at: float
) -> str:
    if role not in SEAT_ROLES:
        raise ValueError(f"role must be one of {sorted(SEAT_ROLES)}, not {role!r}")
    claims: dict[str, object] = {
        "r": room_id,
        "u": user_id,
        "o": role,
        "exp": round(expires_at, 3),
        "n": secrets.token_urlsafe(9),
    }
    return _sign(secret, JOIN_PURPOSE, claims)


def verify_join_token(secret: str, token: str, *, now: float) -> JoinClaims:
    claims = _open(secret, JOIN_PURPOSE, token, now)
    room, user, role, nonce = claims.get("r"), claims.get("u"), claims.get("o"), claims.get("n")
    if (
        not isinstance(room, str)
        or not (user is None or isinstance(user, int))
        or role not in SEAT_ROLES
        or not isinstance(nonce, str)
    ):
        raise TokenError("token-invalid", "token claims are malformed")
    exp = claims["exp"]
    assert isinstance(exp, int | float)
    return JoinClaims(room_id=room, user_id=user, role=str(role), expires_at=float(exp), token_id=nonce)


@dataclass(frozen=True)
class WsClaims:
    user_id: int
    session_id: int | None  # the sign-in that minted it: the token dies with that session


def issue_ws_token(secret: str, *, user_id: int, expires_at: float, session_id: int | None = None) -> str:
    claims: dict[str, object] = {"u": user_id, "exp": round(expires_at, 3)}
    if session_id is not None:
        claims["s"] = session_id
    return _sign(secret, WS_PURPOSE, claims)


def open_ws_token(secret: str, token: str, *, now: float) -> WsClaims:
    """The claims of a valid WebSocket token (the broker's `authenticate` calls this)."""
    claims = _open(secret, WS_PURPOSE, token, now)
    user, session = claims.get("u"), claims.get("s")
    if not isinstance(user, int) or not (session is None or isinstance(session, int)):
        raise TokenError("token-invalid", "token claims are malformed")
    return WsClaims(user_id=user, session_id=session)


def verify_ws_token(secret: str, token: str, *, now: float) -> int:
    """Return the user id of a valid WebSocket token."""
    return open_ws_token(secret, token, now=now).user_id


def peek_room(token: str) -> str | None:
    """The room a join token names, unverified: for clients, which cannot check the signature."""
    try:
        claims = json.loads(_unb64(token.partition(".")[0]))
    except ValueError:
        return None
    room = claims.get("r") if isinstance(claims, dict) else None
    return room if isinstance(room, str) else None
