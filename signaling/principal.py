"""Who is on the other end of a socket, as the broker's `authenticate` callable tells the hub."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Principal:
    user_id: int
    role: str  # the account role: caseworker, interpreter, manager, admin
    display_name: str
    session_id: int | None = None  # the sign-in it was opened with: logging out closes it
