"""Password policy: at least 12 characters, not a common password, not containing the user name.

The list of common passwords ships as data (`common_passwords.txt`). A password is also refused
when it is a common one with digits or symbols appended ("password2024!"), the most frequent
way people 'strengthen' a weak password. One function decides; every place that sets a
password (user creation, password change, `videodolmetschen user add`) calls it.
"""

from __future__ import annotations

import re
from functools import lru_cache
from pathlib import Path

from broker.errors import Invalid

MIN_LENGTH = 12
_LIST = Path(__file__).with_name("common_passwords.txt")
_TRAILING = re.compile(r"[\d\W_]+$")


@lru_cache(maxsize=1)
def common_passwords() -> frozenset[str]:
    lines = _LIST.read_text(encoding="utf-8").splitlines()
    return frozenset(line for line in lines if line and not line.startswith("#"))


def check(password: str, *, username: str, loc: tuple[str, ...] = ("body", "password")) -> None:
    """Raise `Invalid` (422, English for logs, with a code for the pages) if the password breaks the policy."""
    lowered = password.lower()
    if len(password) < MIN_LENGTH:
        raise Invalid(f"The password must have at least {MIN_LENGTH} characters.",
                      code="password_too_short", loc=list(loc), minimum=MIN_LENGTH)
    if username and username.lower() in lowered:
        raise Invalid("The password must not contain the user name.",
                      code="password_contains_username", loc=list(loc))
    common = common_passwords()
    if lowered in common or _TRAILING.sub("", lowered) in common:
        raise Invalid("This password is too common and easy to guess; please choose another.",
                      code="password_common", loc=list(loc))
