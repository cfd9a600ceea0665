"""The report API: same numbers as the service, 403 for counter and interpreter roles, 422 on bad input,
exports that read back."""

from __future__ import annotations

import csv
import io

import httpx
import pytest
from openpyxl import load_workbook

from tests.report.conftest import Ledger

ENDPOINTS = [
    "/api/reports/options",
    "/api/reports/usage",
    "/api/reports/usage/export",
    "/api/reports/planning",
    "/api/reports/planning/export",
    "/api/reports/unmet",
    "/api/reports/unmet/export",
    "/api/reports/growth",
    "/api/reports/pay",
    "/api/reports/pay/export",
    "/api/reports/ledger/export",
    "/api/reports/open-data.csv",
    "/api/reports/dashboard",
]


@pytest.mark.parametrize("path", ENDPOINTS)
@pytest.mark.parametrize("who", ["caseworker_a", "interpreter"])
async def test_counter_and_interpreter_roles_get_403(
    client: httpx.AsyncClient, ledger: Ledger, path: str, who: str
) -> None:
    """Caseworkers and interpreters are refused every report endpoint."""
    response = await client.get(path, headers=ledger.world.auth(who))
    assert response.status_code == 403


@pytest.mark.parametrize("path", ENDPOINTS)
async def test_managers_and_admins_get_every_report(client: httpx.AsyncClient, ledger: Ledger, path: str) -> None:
    """Managers and admins get 200 from every report endpoint."""
    for who in ("manager", "admin"):
        response = await client.get(path, headers=ledger.world.auth(who))
        assert response.status_code == 200, (who, response.text)


async def test_usage_api_matches_service_figures(client: httpx.AsyncClient, ledger: Ledger) -> None:
    """The API returns the hand-computed figures, grouped by language and month together."""
    response = await client.get(
        "/api/reports/usage",
        params=[("group_by", "language"), ("group_by", "month")],
        headers=ledger.world.auth("manager"),
    )
    body = response.json()
    assert body["total"]["requests"] == 10 and body["total"]["wait_p90_s"] == 132.0
    rows = {(r["key"]["language"], r["key"]["month"]): r["requests"] for r in body["rows"]}
    assert rows == {
        ("ar", "2025-01"): 4,
        ("fa", "2025-02"): 1,
        ("fa", "2025-07"): 1,
        ("gsg", "2025-02"): 1,
        ("uk", "2025-02"): 3,
    }


@pytest.mark.parametrize(
    ("params", "field", "allowed_hint"),
    [
        ({"from": "2025-03-01", "to": "2025-02-01"}, "from", "must not be after"),
        ({"group_by": "colour"}, "group_by", "'language'"),
        ({"mode": "sometimes"}, "mode", "'on_demand'"),
        ({"office_kind": "castle"}, "office_kind", "'immigration_office'"),
        ({"from": "yesterday"}, "from", "date"),
    ],
)
async def test_bad_input_is_422_with_what_is_allowed(
    client: httpx.AsyncClient, ledger: Ledger, params: dict, field: str, allowed_hint: str
) -> None:
    """A reversed period, unknown grouping or enum value gets 422 naming the field and what it accepts."""
    response = await client.get("/api/reports/usage", params=params, headers=ledger.world.auth("manager"))
    assert response.status_code == 422
    (error,) = response.json()["detail"]
    assert field in error["loc"]
    assert allowed_hint in error["msg"]


@pytest.mark.parametrize(
    ("param", "value"), [("language", "xx"), ("district", "99999"), ("purpose", "nope"), ("office_id", "999")]
)
async def test_unknown_filter_value_is_422_listing_allowed(
    client: httpx.AsyncClient, ledger: Ledger, param: str, value: str
) -> None:
    """A filter value that names nothing gets 422 with the complete list of allowed values."""
    response = await client.get("/api/reports/usage", params={param: value}, headers=ledger.world.auth("manager"))
    assert response.status_code == 422
    body = response.json()
    assert (body["code"], body["field"], body["unknown"]) == ("unknown_filter_value", param, [value])
    assert body["allowed"]
    if param == "language":
        assert body["allowed"] == ["ar", "fa", "gsg", "uk"]


async def test_empty_period_is_an_empty_report(client: httpx.AsyncClient, ledger: Ledger) -> None:
    """A period with no rows answers 200 with no rows."""
    response = await client.get(
        "/api/reports/usage", params={"from": "2030-01-01", "to": "2030-01-31"}, headers=ledger.world.auth("manager")
    )
    assert response.status_code == 200
    assert response.json()["rows"] == [] and response.json()["total"]["requests"] == 0


async def test_usage_csv_reads_back_with_suppression(client: httpx.AsyncClient, ledger: Ledger) -> None:
    """The CSV parses; counts under 3 (and shares built on them) read '<3', larger counts stay numbers."""
    response = await client.get(
        "/api/reports/usage/export",
        params={"group_by": "language", "format": "csv"},
        headers=ledger.world.auth("manager"),
    )
    assert response.headers["content-type"].startswith("text/csv")
    rows = {r["language"]: r for r in csv.DictReader(io.StringIO(response.text))}
    assert rows["ar"]["requests"] == "4" and rows["ar"]["sessions"] == "3" and rows["ar"]["unmet"] == "<3"
    # One censored wait (R4, unfilled) among Arabic's waits hides the percentiles built on it.
    assert rows["ar"]["unmet_share"] == "<3" and rows["ar"]["wait_median_s"] == "<3"
    assert rows["ar"]["waits_measured"] == "3" and rows["ar"]["waits_censored"] == "<3"
    assert rows["ar"]["language_label"] == "Arabisch"
    raw = await client.get(
        "/api/reports/usage/export",
        params={"group_by": "language", "suppress": "false"},
        headers=ledger.world.auth("manager"),
    )
    assert {r["language"]: r["unmet"] for r in csv.DictReader(io.StringIO(raw.text))}["ar"] == "1"


async def test_usage_xlsx_loads_in_openpyxl(client: httpx.AsyncClient, ledger: Ledger) -> None:
    """The XLSX export opens with openpyxl and holds a header plus one row per month."""
    response = await client.get(
        "/api/reports/usage/export",
        params={"group_by": "month", "format": "xlsx", "suppress": "false"},
        headers=ledger.world.auth("manager"),
    )
    sheet = load_workbook(io.BytesIO(response.content), read_only=True).active
    values = [list(r) for r in sheet.iter_rows(values_only=True)]
    assert values[0][:3] == ["month", "requests", "demand"]
    assert [(r[0], r[1]) for r in values[1:]] == [("2025-01", 4), ("2025-02", 5), ("2025-07", 1)]


async def test_ledger_exports_read_back(client: httpx.AsyncClient, ledger: Ledger) -> None:
    """The pseudonymous ledger export has the ten rows in CSV and XLSX, and no personal columns."""
    auth = ledger.world.auth("manager")
    text = (await client.get("/api/reports/ledger/export", headers=auth)).text
    rows = list(csv.DictReader(io.StringIO(text)))
    assert len(rows) == 10 and rows[0]["requested_at"].startswith("2025-01-06T08:10")
    book = (await client.get("/api/reports/ledger/export", params={"format": "xlsx"}, headers=auth)).content
    sheet = load_workbook(io.BytesIO(book), read_only=True).active
    assert sum(1 for _ in sheet.iter_rows()) == 11


async def test_open_data_csv_has_documented_columns(client: httpx.AsyncClient, ledger: Ledger) -> None:
    """The open-data CSV has the documented columns and hides every count under 3 as '.'."""
    text = (
        await client.get(
            "/api/reports/open-data.csv", params={"from": "2025-01-01", "to": "2025-07-31"},
            headers=ledger.world.auth("manager"),
        )
    ).text
    reader = csv.DictReader(io.StringIO(text))
    assert reader.fieldnames == [
        "month",
        "district_ags",
        "district_name",
        "office_kind",
        "language_code",
        "language_name",
        "requests",
        "sessions",
        "talk_minutes",
        "unmet",
        "unmet_share",
        "wait_median_s",
        "wait_p90_s",
    ]
    rows = list(reader)
    jan = next(r for r in rows if r["month"] == "2025-01")
    # January is one cell: its unmet (1) has nothing to hide behind, so the month's unmet is withheld.
    assert (jan["language_code"], jan["requests"], jan["sessions"], jan["unmet"]) == ("ar", "4", "3", ".")


@pytest.mark.parametrize(
    ("params", "field"),
    [
        ({"from": "2025-01-02", "to": "2025-07-31"}, "from"),  # shifted by a day
        ({"from": "2025-01-01", "to": "2025-07-30"}, "to"),
        ({"from": "2025-01-01", "to": "2099-12-31"}, "to"),  # not completed
        ({"from": "2025-01-01", "to": "2025-07-31", "language": "ar"}, "language"),
    ],
)
async def test_open_data_refuses_part_months_running_months_and_filters(
    client: httpx.AsyncClient, ledger: Ledger, params: dict[str, str], field: str
) -> None:
    """Open data is for whole completed months of the whole state only: anything else is a 422 naming the field."""
    response = await client.get("/api/reports/open-data.csv", params=params, headers=ledger.world.auth("manager"))
    assert response.status_code == 422, response.text
    body = response.json()
    assert body["code"] == "open_data_whole_months" and body["detail"][0]["loc"] == ["query", field]


async def test_a_month_reads_the_same_in_every_open_data_file(client: httpx.AsyncClient, ledger: Ledger) -> None:
    """February's rows are identical whether the file covers February alone or January to July."""
    auth = ledger.world.auth("manager")

    async def february(period: dict[str, str]) -> list[dict[str, str]]:
        text = (await client.get("/api/reports/open-data.csv", params=period, headers=auth)).text
        return [r for r in csv.DictReader(io.StringIO(text)) if r["month"] == "2025-02"]

    alone = await february({"from": "2025-02-01", "to": "2025-02-28"})
    assert alone and alone == await february({"from": "2025-01-01", "to": "2025-07-31"})


async def test_other_exports_read_back(client: httpx.AsyncClient, ledger: Ledger) -> None:
    """Pay, unmet and planning exports parse as CSV with their rows."""
    auth = ledger.world.auth("manager")
    pay = list(csv.DictReader(io.StringIO((await client.get("/api/reports/pay/export", headers=auth)).text)))
    assert [r["billable_minutes"] for r in pay] == ["36", "30", "15"]
    unmet = (await client.get("/api/reports/unmet/export", params={"suppress": "false"}, headers=auth)).text
    assert [r["language"] for r in csv.DictReader(io.StringIO(unmet))] == ["gsg", "uk", "ar", "fa"]
    plan = (
        await client.get(
            "/api/reports/planning/export", params={"from": "2025-01-06", "to": "2025-01-12"}, headers=auth
        )
    ).text
    assert [r["need"] for r in csv.DictReader(io.StringIO(plan))] == ["2.0", "1.0", "1.0"]


async def test_dashboard_has_tables_and_plotly_figures(client: httpx.AsyncClient, ledger: Ledger) -> None:
    """The dashboard JSON carries five sections, each a table and a plotly figure with data and layout."""
    body = (
        await client.get("/api/reports/dashboard", params={"lang": "en"}, headers=ledger.world.auth("manager"))
    ).json()
    sections = {s["id"]: s for s in body["sections"]}
    assert set(sections) == {"languages", "fill_rate", "trend", "heatmap", "gaps"}
    assert sections["languages"]["figure"]["data"][0]["type"] == "bar"
    assert sections["heatmap"]["figure"]["data"][0]["type"] == "heatmap"
    assert sections["trend"]["figure"]["data"][0]["x"] == ["2025-01", "2025-02", "2025-07"]
    assert body["total"]["requests"] == 10


async def test_plotly_js_is_served_locally(client: httpx.AsyncClient) -> None:
    """plotly.js comes from the Python package with caching headers, no CDN."""
    response = await client.get("/static/vendor/plotly.min.js")
    assert response.status_code == 200 and len(response.content) > 1_000_000
    again = await client.get("/static/vendor/plotly.min.js", headers={"If-None-Match": response.headers["etag"]})
    assert again.status_code == 304


async def test_a_hidden_part_of_a_row_does_not_follow_from_its_total(
    client: httpx.AsyncClient, ledger: Ledger
) -> None:
    """February: 5 requests, 2 on demand (hidden), 3 booked: booked is withheld too ('.'), else 5 − 3 gives 2."""
    response = await client.get(
        "/api/reports/usage/export", params={"group_by": "month", "format": "csv"},
        headers=ledger.world.auth("manager"),
    )
    feb = next(r for r in csv.DictReader(io.StringIO(response.text)) if r["month"] == "2025-02")
    assert (feb["requests"], feb["requests_on_demand"], feb["requests_booked"]) == ("5", "<3", ".")
