"""Security headers on every response, errors and 404s included.

- `X-Content-Type-Options: nosniff`, `Referrer-Policy: no-referrer`, `X-Frame-Options: DENY`;
- `Content-Security-Policy`: nothing may load anything for API answers; the self-hosted
  Swagger UI (`api/docs_assets.py`) may load its own scripts, styles and images, and call
  the API, from this origin only (no inline script, no other host);
- `Cache-Control: no-store`, except the versioned docs assets (`no-cache`: revalidated);
- `Strict-Transport-Security` when the request came over https, directly or as told by a
  trusted proxy (`X-Forwarded-Proto`, see `api/middleware.py`).
"""

from __future__ import annotations

from starlette.datastructures import MutableHeaders
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from api.docs_assets import DOCS_PATHS, STATIC_PREFIX

API_CSP = "default-src 'none'; frame-ancestors 'none'; base-uri 'none'; form-action 'none'"
DOCS_CSP = (
    "default-src 'none'; script-src 'self'; style-src 'self' 'unsafe-inline'; "
    "img-src 'self' data:; font-src 'self' data:; connect-src 'self'; "
    "frame-ancestors 'none'; base-uri 'none'; form-action 'none'"
)
"""Swagger UI sets inline styles (hence 'unsafe-inline' for styles only) and SVG data: URIs."""
HSTS = "max-age=63072000; includeSubDomains"

COMMON = (
    ("x-content-type-options", "nosniff"),
    ("referrer-policy", "no-referrer"),
    ("x-frame-options", "DENY"),
)


class SecurityHeadersMiddleware:
    """Sets the headers above on each response start (pure ASGI, no buffering)."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return

        async def with_headers(message: Message) -> None:
            if message["type"] == "http.response.start":
                headers = MutableHeaders(scope=message)
                path: str = scope.get("path", "")
                for name, value in COMMON:
                    headers[name] = value
                docs = path in DOCS_PATHS or path.startswith(STATIC_PREFIX)
                headers["content-security-policy"] = DOCS_CSP if docs else API_CSP
                headers["cache-control"] = (
                    "no-cache" if path.startswith(STATIC_PREFIX) else "no-store"
                )
                if scope.get("scheme") == "https":
                    headers["strict-transport-security"] = HSTS
            await send(message)

        await self.app(scope, receive, with_headers)
