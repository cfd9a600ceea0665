"""Report routes answer generated nonsense (found by schemathesis) with 422 in FastAPI's shape, never a 500."""

from __future__ import annotations

from typing import Any

import httpx
import pytest

from tests.report.conftest import Ledger


@pytest.mark.parametrize(
    ("path", "params", "loc"),
    [
        ("/api/reports/usage", [("office_id", "303"), ("office_id", "-111316"), ("office_id", "-812")], "office_id"),
        ("/api/reports/usage", {"district": "x" * 41}, "district"),
        ("/api/reports/pay/export", {"to": "0.0"}, "to"),
        ("/api/reports/planning", {"from": "8996-06-19"}, "from"),
        ("/api/reports/growth", {"to": "0001-01-01"}, "to"),
        ("/api/reports/dashboard", {"from": "2025-01-32"}, "from"),
        ("/api/reports/usage", [("language", "ar")] * 201, "language"),
    ],
)
async def test_generated_nonsense_is_422_in_fastapi_shape(
    client: httpx.AsyncClient, ledger: Ledger, path: str, params: Any, loc: str
) -> None:
    """Negative ids, overlong codes, numeric or out-of-range dates and huge lists are 422s naming the query field."""
    response = await client.get(path, params=params, headers=ledger.world.auth("manager"))
    assert response.status_code == 422, response.text
    detail = response.json()["detail"]
    assert detail and all({"loc", "msg", "type"} <= set(issue) for issue in detail)
    assert detail[0]["loc"][:2] == ["query", loc]


async def test_unknown_value_422_names_the_query_field(client: httpx.AsyncClient, ledger: Ledger) -> None:
    """A domain 422 (unknown language) points at the query parameter, like FastAPI's own errors."""
    response = await client.get("/api/reports/usage", params={"language": "xx"}, headers=ledger.world.auth("manager"))
    assert response.status_code == 422
    assert response.json()["detail"][0]["loc"] == ["query", "language"]


@pytest.mark.parametrize(
    ("path", "params"),
    [
        ("/api/reports/planning", {"from": "2098-06-19"}),
        ("/api/reports/dashboard", {"from": "2099-12-31"}),
        ("/api/reports/growth", {"to": "2000-01-01", "months": "24"}),
        ("/api/reports/usage", {"from": "2000-01-01", "to": "2099-12-31", "group_by": "week"}),
    ],
)
async def test_edges_of_the_period_are_empty_reports(
    client: httpx.AsyncClient, ledger: Ledger, path: str, params: dict[str, str]
) -> None:
    """A period in the far future or at the first allowed day answers 200 (an empty report), not an error."""
    response = await client.get(path, params=params, headers=ledger.world.auth("manager"))
    assert response.status_code == 200, response.text
