"""ICE server lists with coturn `use-auth-secret` (TURN REST API) credentials.

coturn accepts username `<expiry unix time>:<user>` and password
base64(HMAC-SHA1(static-auth-secret, username)); it refuses the pair once the expiry passed,
so a leaked credential is only good for `ttl` seconds.
"""

from __future__ import annotations

import base64
import hashlib
import hmac


def turn_credentials(secret: str, user: str, *, now: float, ttl: int) -> tuple[str, str]:
    username = f"{int(now) + ttl}:{user}"
    digest = hmac.new(secret.encode(), username.encode(), hashlib.sha1).digest()
    return username, base64.b64encode(digest).decode()


def ice_servers(
    *,
    stun_urls: list[str],
    turn_urls: list[str],
    turn_secret: str,
    user: str,
    now: float,
    ttl: int,
) -> list[dict[str, object]]:
    """The RTCConfiguration.iceServers list; empty when nothing is configured (host candidates only)."""
    servers: list[dict[str, object]] = []
    if stun_urls:
        servers.append({"urls": list(stun_urls)})
    if turn_urls and turn_secret:
        username, credential = turn_credentials(turn_secret, user, now=now, ttl=ttl)
        servers.append({"urls": list(turn_urls), "username": username, "credential": credential})
    return servers
