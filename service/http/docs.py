"""The OpenAPI pages (/docs: Swagger UI, /redoc: ReDoc) and the favicon, from assets that
ship in packages: nothing is fetched from a CDN, so they work offline. The Swagger UI and
ReDoc bundles come from the pinned `fastapi-offline` package (MIT), read from its folder."""

from __future__ import annotations

from importlib import resources
from pathlib import Path
from typing import Any

from fastapi import FastAPI
from fastapi.openapi.docs import get_redoc_html, get_swagger_ui_html
from fastapi.responses import HTMLResponse, JSONResponse, Response
from fastapi.staticfiles import StaticFiles

ASSETS = "/static/docs"
FAVICON = (resources.files("service.http") / "static" / "favicon.svg").read_bytes()


def _assets_folder() -> Path:
    import fastapi_offline

    return Path(fastapi_offline.__file__).parent / "static"


def add_docs_routes(app: FastAPI, auth: list[Any] | None = None) -> None:
    """/docs, /redoc and /favicon.ico (the dashboard's icon too). ``auth``: the token's
    dependencies, when one is set: the API's description is then behind it as well."""
    app.mount(ASSETS, StaticFiles(directory=_assets_folder()), name="docs-assets")
    openapi = app.openapi_url or "/openapi.json"
    deps = auth or []
    if auth is not None:

        @app.get("/openapi.json", include_in_schema=False, dependencies=deps)
        def openapi_json() -> JSONResponse:
            return JSONResponse(app.openapi())

    @app.get("/docs", include_in_schema=False, dependencies=deps)
    def swagger() -> HTMLResponse:
        return get_swagger_ui_html(
            openapi_url=openapi,
            title=f"{app.title} API",
            swagger_js_url=f"{ASSETS}/swagger-ui-bundle.js",
            swagger_css_url=f"{ASSETS}/swagger-ui.css",
            swagger_favicon_url="/favicon.ico",
        )

    @app.get("/redoc", include_in_schema=False, dependencies=deps)
    def redoc() -> HTMLResponse:
        return get_redoc_html(
            openapi_url=openapi,
            title=f"{app.title} API",
            redoc_js_url=f"{ASSETS}/redoc.standalone.js",
            redoc_favicon_url="/favicon.ico",
            with_google_fonts=False,
        )

    @app.get("/favicon.ico", include_in_schema=False)
    def favicon() -> Response:
        return Response(
            FAVICON, media_type="image/svg+xml", headers={"Cache-Control": "max-age=86400"}
        )
