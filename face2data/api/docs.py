"""The API's documentation pages, /docs (Swagger UI) and /redoc (ReDoc), served offline.

FastAPI's own pages load their scripts, styles, favicon and fonts from public CDNs. These load them from the app
itself: the files ship in the ``fastapi-offline`` package (its ``static`` folder), of which nothing else is used.
"""

from __future__ import annotations

from importlib.resources import files

from fastapi import FastAPI, Request
from fastapi.openapi.docs import get_redoc_html, get_swagger_ui_html
from fastapi.responses import HTMLResponse
from fastapi.staticfiles import StaticFiles

ASSETS_URL = "/docs-assets"
ASSETS_DIR = str(files("fastapi_offline") / "static")  # swagger-ui-bundle.js, swagger-ui.css, redoc..., favicon


def add_docs(app: FastAPI, docs_url: str = "/docs", redoc_url: str = "/redoc") -> None:
    """Serve the docs pages and their assets (an app made with ``docs_url=None, redoc_url=None``)."""
    app.mount(ASSETS_URL, StaticFiles(directory=ASSETS_DIR), name="docs-assets")

    @app.get(docs_url, include_in_schema=False)
    def swagger_ui(request: Request) -> HTMLResponse:
        """Swagger UI of the app's OpenAPI schema."""
        assets = _assets_url(request)
        return get_swagger_ui_html(
            openapi_url=_root(request) + str(app.openapi_url),
            title=f"{app.title} - Swagger UI",
            swagger_js_url=f"{assets}/swagger-ui-bundle.js",
            swagger_css_url=f"{assets}/swagger-ui.css",
            swagger_favicon_url=f"{assets}/favicon.png",
            swagger_ui_parameters={"validatorUrl": None},  # no badge from the public validator
        )

    @app.get(redoc_url, include_in_schema=False)
    def redoc(request: Request) -> HTMLResponse:
        """ReDoc of the app's OpenAPI schema, without Google's fonts."""
        assets = _assets_url(request)
        return get_redoc_html(
            openapi_url=_root(request) + str(app.openapi_url),
            title=f"{app.title} - ReDoc",
            redoc_js_url=f"{assets}/redoc.standalone.js",
            redoc_favicon_url=f"{assets}/favicon.png",
            with_google_fonts=False,
        )


def _root(request: Request) -> str:
    """The path the app is mounted under behind a proxy (``root_path``), or ''."""
    return str(request.scope.get("root_path", ""))


def _assets_url(request: Request) -> str:
    return _root(request) + ASSETS_URL
