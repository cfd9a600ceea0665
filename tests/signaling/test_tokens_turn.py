"""Join tokens, WebSocket tokens and TURN credentials."""

from __future__ import annotations

import base64
import subprocess

import pytest

from signaling.tokens import TokenError, issue_join_token, issue_ws_token, verify_join_token, verify_ws_token
from signaling.turn import ice_servers, turn_credentials

SECRET = "k" * 40


def test_join_token_round_trip_binds_room_user_and_role() -> None:
    """A fresh token verifies to the claims it was issued with, each with its own id."""
    token = issue_join_token(SECRET, room_id="r", user_id=3, role="interpreter", expires_at=100)
    claims = verify_join_token(SECRET, token, now=50)
    assert (claims.room_id, claims.user_id, claims.role, claims.expires_at) == ("r", 3, "interpreter", 100)
    other = issue_join_token(SECRET, room_id="r", user_id=3, role="interpreter", expires_at=100)
    assert verify_join_token(SECRET, other, now=50).token_id != claims.token_id


@pytest.mark.parametrize("tamper", ["signature", "claims", "secret", "garbage", "ws-token"])
def test_forged_tokens_are_refused(tamper: str) -> None:
    """A token altered in any way, or signed for another purpose, is refused as invalid."""
    token = issue_join_token(SECRET, room_id="r", user_id=None, role="guest", expires_at=100)
    body, _, mac = token.partition(".")
    secret = SECRET
    if tamper == "signature":
        token = body + "." + mac[:-2] + ("AA" if mac[-2:] != "AA" else "BB")
    elif tamper == "claims":
        forged = base64.urlsafe_b64encode(b'{"exp":100,"n":"x","o":"counter","r":"r","u":null}')
        token = forged.decode().rstrip("=") + "." + mac
    elif tamper == "secret":
        secret = "other" * 10
    elif tamper == "garbage":
        token = "not-a-token"
    else:
        token = issue_ws_token(SECRET, user_id=1, expires_at=100)
    with pytest.raises(TokenError) as info:
        verify_join_token(secret, token, now=50)
    assert info.value.code == "token-invalid"


def test_expired_token_is_refused() -> None:
    """A token is useless from its expiry on."""
    token = issue_join_token(SECRET, room_id="r", user_id=None, role="guest", expires_at=100)
    with pytest.raises(TokenError) as info:
        verify_join_token(SECRET, token, now=100)
    assert info.value.code == "token-expired"


def test_ws_token_names_its_user() -> None:
    """A WebSocket token verifies to its user id and not as a join token."""
    token = issue_ws_token(SECRET, user_id=12, expires_at=100)
    assert verify_ws_token(SECRET, token, now=99) == 12
    with pytest.raises(TokenError):
        verify_ws_token(SECRET, token, now=101)


def test_turn_credentials_match_coturn_use_auth_secret() -> None:
    """Username is `expiry:user`; the password equals openssl's base64(HMAC-SHA1(secret, username))."""
    username, password = turn_credentials("coturn-secret", "42", now=1_700_000_000, ttl=3600)
    assert username == "1700003600:42"
    openssl = subprocess.run(
        ["openssl", "dgst", "-sha1", "-hmac", "coturn-secret", "-binary"],
        input=username.encode(), capture_output=True, check=True,
    ).stdout
    assert password == base64.b64encode(openssl).decode()


def test_ice_servers_from_settings_and_empty_without_configuration() -> None:
    """STUN and TURN entries appear as configured; nothing configured means host candidates only."""
    assert ice_servers(stun_urls=[], turn_urls=[], turn_secret="", user="1", now=0, ttl=60) == []
    servers = ice_servers(stun_urls=["stun:s:3478"], turn_urls=["turn:t:3478?transport=udp"],
                          turn_secret="x", user="1", now=0, ttl=60)
    assert servers[0] == {"urls": ["stun:s:3478"]}
    assert servers[1]["urls"] == ["turn:t:3478?transport=udp"] and servers[1]["username"] == "60:1"
