"""/docs and /openapi.json: public in development, admins only in production (a setting).

The API description maps the whole attack surface, so production keeps it behind sign-in
(`VD_API_DOCS_PUBLIC` overrides the default either way). FastAPI's own routes cannot carry a
guard, so the app switches them off and serves the same two pages here.
"""

from __future__ import annotations

from typing import Any

from fastapi import Depends, FastAPI
from fastapi.openapi.docs import get_swagger_ui_html
from fastapi.responses import HTMLResponse, JSONResponse

from broker.auth.deps import allow, public
from broker.config import Settings
from broker.enums import Role

OPENAPI_URL = "/openapi.json"
DOCS_URL = "/docs"


def install(app: FastAPI, settings: Settings) -> None:
    guard = public if settings.docs_public else allow(Role.ADMIN)

    @app.get(OPENAPI_URL, include_in_schema=False, dependencies=[Depends(guard)])
    async def openapi() -> JSONResponse:
        schema: dict[str, Any] = app.openapi()
        return JSONResponse(schema)

    @app.get(DOCS_URL, include_in_schema=False, dependencies=[Depends(guard)])
    async def docs() -> HTMLResponse:
        return get_swagger_ui_html(openapi_url=OPENAPI_URL, title=f"{app.title} – API")
