"""Swagger UI served by the app itself: works offline, loads nothing from another host.

The Swagger UI bundle and stylesheet come from the `fastapi-offline` package (a PyPI
dependency that ships swagger-ui-dist's files) and are served under `/static/docs/`; the
page at `/docs` has no inline script (its start-up code is `/static/docs-init.js`), so the
Content-Security-Policy of `api/security_headers.py` can forbid inline scripts and every
other origin. ReDoc and the OAuth2 redirect page of FastAPI are not served (they load from
a CDN, and the API uses bearer tokens).
"""

from __future__ import annotations

import html
from importlib import resources
from pathlib import Path

from fastapi import FastAPI, Request
from fastapi.responses import HTMLResponse, Response
from fastapi.staticfiles import StaticFiles

DOCS_URL = "/docs"
STATIC_PREFIX = "/static/"
ASSETS_URL = "/static/docs"
INIT_URL = "/static/docs-init.js"
DOCS_PATHS = frozenset({DOCS_URL})

INIT_JS = """\
// Starts Swagger UI on /docs; its settings are the data-* attributes of #swagger-ui.
(function () {
  var element = document.getElementById("swagger-ui");
  window.ui = SwaggerUIBundle({
    url: element.dataset.openapiUrl,
    dom_id: "#swagger-ui",
    layout: "BaseLayout",
    deepLinking: true,
    showExtensions: true,
    showCommonExtensions: true,
    validatorUrl: null,
    presets: [SwaggerUIBundle.presets.apis, SwaggerUIBundle.SwaggerUIStandalonePreset],
  });
})();
"""


def assets_dir() -> Path:
    """swagger-ui-bundle.js, swagger-ui.css and favicon.png, as `fastapi-offline` ships them."""
    return Path(str(resources.files("fastapi_offline") / "static"))


def docs_html(title: str, root_path: str, openapi_url: str) -> str:
    root = html.escape(root_path.rstrip("/"), quote=True)
    spec = html.escape(root_path.rstrip("/") + openapi_url, quote=True)
    return f"""<!DOCTYPE html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>{html.escape(title)}</title>
<link rel="stylesheet" href="{root}{ASSETS_URL}/swagger-ui.css">
<link rel="icon" type="image/png" href="{root}{ASSETS_URL}/favicon.png">
</head>
<body>
<div id="swagger-ui" data-openapi-url="{spec}"></div>
<script src="{root}{ASSETS_URL}/swagger-ui-bundle.js"></script>
<script src="{root}{INIT_URL}"></script>
</body>
</html>
"""


def install_docs(app: FastAPI) -> None:
    """Serve /docs and its assets; create the app with `docs_url=None, redoc_url=None`."""
    assert app.openapi_url is not None
    openapi_url = app.openapi_url
    title = f"{app.title} - Swagger UI"

    @app.get(DOCS_URL, include_in_schema=False)
    async def swagger_ui(request: Request) -> HTMLResponse:
        return HTMLResponse(docs_html(title, request.scope.get("root_path", ""), openapi_url))

    @app.get(INIT_URL, include_in_schema=False)
    async def swagger_init() -> Response:
        return Response(INIT_JS, media_type="text/javascript")

    app.mount(ASSETS_URL, StaticFiles(directory=assets_dir()), name="docs-assets")
