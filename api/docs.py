"""The API's documentation pages (/docs, /redoc) served with their assets from this package, so
they work without internet: Swagger UI (npm ``swagger-ui-dist``, Apache-2.0) and Redoc (npm
``redoc``, MIT), each with its licence in ``api/static``. The notice font is served beside them
for the HTML documents (``/static/fonts``)."""

from __future__ import annotations

from pathlib import Path

from fastapi import FastAPI
from fastapi.openapi.docs import get_redoc_html, get_swagger_ui_html, get_swagger_ui_oauth2_redirect_html
from fastapi.responses import HTMLResponse
from fastapi.staticfiles import StaticFiles

from documents.notices import FONT_DIR

STATIC_DIR = Path(__file__).parent / "static"
STATIC = "/static"
SWAGGER_JS = f"{STATIC}/swagger-ui/swagger-ui-bundle.js"
SWAGGER_CSS = f"{STATIC}/swagger-ui/swagger-ui.css"
FAVICON = f"{STATIC}/swagger-ui/favicon-32x32.png"
REDOC_JS = f"{STATIC}/redoc/redoc.standalone.js"
OAUTH2_REDIRECT = "/docs/oauth2-redirect"


def install_docs(app: FastAPI) -> None:
    """/docs, /redoc and /static on ``app`` (created with ``docs_url=None, redoc_url=None``)."""
    openapi_url = app.openapi_url or "/openapi.json"
    title = app.title

    async def swagger_ui() -> HTMLResponse:
        return get_swagger_ui_html(
            openapi_url=openapi_url,
            title=f"{title} - Swagger UI",
            swagger_js_url=SWAGGER_JS,
            swagger_css_url=SWAGGER_CSS,
            swagger_favicon_url=FAVICON,
            oauth2_redirect_url=OAUTH2_REDIRECT,
            swagger_ui_parameters={"validatorUrl": None},  # no badge fetched from the online validator
        )

    async def oauth2_redirect() -> HTMLResponse:
        return get_swagger_ui_oauth2_redirect_html()

    async def redoc() -> HTMLResponse:
        return get_redoc_html(
            openapi_url=openapi_url,
            title=f"{title} - ReDoc",
            redoc_js_url=REDOC_JS,
            redoc_favicon_url=FAVICON,
            with_google_fonts=False,
        )

    app.add_api_route("/docs", swagger_ui, methods=["GET"], include_in_schema=False)
    app.add_api_route(OAUTH2_REDIRECT, oauth2_redirect, methods=["GET"], include_in_schema=False)
    app.add_api_route("/redoc", redoc, methods=["GET"], include_in_schema=False)
    app.mount(f"{STATIC}/fonts", StaticFiles(directory=FONT_DIR), name="fonts")
    app.mount(STATIC, StaticFiles(directory=STATIC_DIR), name="static")
