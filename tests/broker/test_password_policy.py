"""Password policy: at least 12 characters, not a common password, not containing the user name,
with an English message (for logs) and a code the pages translate, wherever a password is set."""

from __future__ import annotations

import httpx
import pytest

from broker.auth import passwords
from broker.demo.seed import DEMO_PASSWORD
from broker.errors import Invalid
from tests.conftest import PASSWORD, World

WEAK = [
    ("12345678", "password_too_short"),
    ("password", "password_too_short"),
    ("password1234", "password_common"),
    ("Password2024!", "password_common"),  # a common word with digits and symbols appended
    ("qwertyuiop12", "password_common"),
    ("ichliebedich!!", "password_common"),  # German entries of the list
    ("neue.kollegin-2025", "password_contains_username"),
]


@pytest.mark.parametrize(("password", "code"), WEAK)
async def test_creating_a_user_with_a_weak_password_is_refused_and_changes_nothing(
    client: httpx.AsyncClient, world: World, unchanged, password: str, code: str  # type: ignore[no-untyped-def]
) -> None:
    """POST /api/users with a weak password: 422 with the policy's code and an English message,
    and no user is created."""
    async with unchanged():
        response = await client.post("/api/users", headers=world.auth("admin"), json={
            "username": "neue.kollegin", "display_name": "Neue Kollegin", "role": "manager",
            "password": password})
    assert response.status_code == 422, response.text
    body = response.json()
    assert body["code"] == code
    assert body["detail"][0]["loc"] == ["body", "password"]
    assert "password" in body["message"].lower()


async def test_changing_a_password_to_a_common_one_is_refused(
    client: httpx.AsyncClient, world: World, unchanged  # type: ignore[no-untyped-def]
) -> None:
    """PATCH /api/users/{id} with a common password is refused; the old password still works."""
    target = world.users["manager"]
    async with unchanged():
        response = await client.patch(f"/api/users/{target.id}", headers=world.auth("admin"),
                                      json={"password": "football12345"})
    assert response.status_code == 422 and response.json()["code"] == "password_common"
    login = await client.post("/api/auth/login", json={"username": "manager", "password": PASSWORD})
    assert login.status_code == 200


async def test_a_strong_password_is_accepted_and_signs_in(client: httpx.AsyncClient, world: World) -> None:
    """A long, uncommon password without the user name passes: creation and sign-in work."""
    response = await client.post("/api/users", headers=world.auth("admin"), json={
        "username": "neue.kollegin", "display_name": "Neue Kollegin", "role": "manager",
        "password": "Linde-Auenweg-Kahla-7"})
    assert response.status_code == 201, response.text
    login = await client.post("/api/auth/login", json={"username": "neue.kollegin",
                                                       "password": "Linde-Auenweg-Kahla-7"})
    assert login.status_code == 200


def test_the_demo_and_test_passwords_pass_the_policy() -> None:
    """The documented demo password and the tests' password satisfy the policy themselves."""
    for username in ("admin", "sb-erfurt-abh-1", "dolmetscher01"):
        passwords.check(DEMO_PASSWORD, username=username)
        passwords.check(PASSWORD, username=username)


def test_the_shipped_list_holds_thousands_of_common_passwords() -> None:
    """The list is real data: thousands of entries, the notorious ones among them."""
    common = passwords.common_passwords()
    assert len(common) > 5000
    assert {"123456", "password", "qwerty", "passwort", "letmein"} <= common
    with pytest.raises(Invalid) as refused:
        passwords.check("Letmein-2025", username="x")
    assert refused.value.code == "password_common"
