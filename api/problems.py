"""RFC 9457 problem details (`application/problem+json`) and the app's exception handlers."""

from __future__ import annotations

from http import HTTPStatus
from typing import Any

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from pydantic import BaseModel
from starlette.exceptions import HTTPException as StarletteHTTPException

PROBLEM_JSON = "application/problem+json"
PROBLEM_BASE = "https://licenseflow.dev/problems/"

_SLUGS = {
    400: "bad-request",
    401: "unauthorized",
    403: "forbidden",
    404: "not-found",
    405: "method-not-allowed",
    409: "conflict",
    413: "content-too-large",
    415: "unsupported-media-type",
    422: "validation-error",
    429: "too-many-requests",
    500: "internal-error",
    503: "unavailable",
}


class ProblemError(Exception):
    """Raise anywhere in a request to answer with a problem document."""

    def __init__(
        self,
        status: int,
        detail: str,
        *,
        title: str | None = None,
        errors: list[dict[str, Any]] | None = None,
        headers: dict[str, str] | None = None,
    ) -> None:
        super().__init__(detail)
        self.status = status
        self.detail = detail
        self.title = title or HTTPStatus(status).phrase
        self.errors = errors
        self.headers = headers


def unauthorized(detail: str = "a valid bearer token is required") -> ProblemError:
    return ProblemError(401, detail, headers={"WWW-Authenticate": "Bearer"})


def forbidden(detail: str) -> ProblemError:
    return ProblemError(403, detail)


def not_found(detail: str) -> ProblemError:
    return ProblemError(404, detail)


def conflict(detail: str) -> ProblemError:
    return ProblemError(409, detail)


def invalid(field: str, message: str, *, kind: str = "value_error") -> ProblemError:
    """A 422 naming one failing field, shaped like request validation errors."""
    return ProblemError(
        422,
        f"{field}: {message}",
        title="Validation failed",
        errors=[{"field": field, "message": message, "type": kind}],
    )


def problem_response(
    request: Request,
    status: int,
    detail: str,
    *,
    title: str | None = None,
    errors: list[dict[str, Any]] | None = None,
    headers: dict[str, str] | None = None,
) -> JSONResponse:
    """Render one problem document for this request."""
    body: dict[str, Any] = {
        "type": PROBLEM_BASE + _SLUGS.get(status, str(status)),
        "title": title or HTTPStatus(status).phrase,
        "status": status,
        "detail": detail,
        "instance": request.url.path,
        "request_id": getattr(request.state, "request_id", None),
    }
    if errors is not None:
        body["errors"] = errors
    return JSONResponse(body, status_code=status, media_type=PROBLEM_JSON, headers=headers)


def field_errors(exc: RequestValidationError) -> list[dict[str, Any]]:
    """Pydantic errors as `{"field": "body.terms.royalty_tiers.0.rate", "message", "type"}`."""
    return [
        {
            "field": ".".join(str(part) for part in err.get("loc", ())),
            "message": err.get("msg", "invalid"),
            "type": err.get("type", "value_error"),
        }
        for err in exc.errors()
    ]


async def _on_problem(request: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, ProblemError)
    return problem_response(
        request, exc.status, exc.detail, title=exc.title, errors=exc.errors, headers=exc.headers
    )


async def _on_validation(request: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, RequestValidationError)
    errors = field_errors(exc)
    detail = "; ".join(f"{e['field']}: {e['message']}" for e in errors[:5])
    return problem_response(request, 422, detail, title="Validation failed", errors=errors)


async def _on_http(request: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, StarletteHTTPException)
    return problem_response(
        request, exc.status_code, str(exc.detail), headers=getattr(exc, "headers", None)
    )


def install_problem_handlers(app: FastAPI) -> None:
    """Every error the app produces becomes `application/problem+json`."""
    app.add_exception_handler(ProblemError, _on_problem)
    app.add_exception_handler(RequestValidationError, _on_validation)
    app.add_exception_handler(StarletteHTTPException, _on_http)


class FieldError(BaseModel):
    field: str
    message: str
    type: str


class Problem(BaseModel):
    """RFC 9457 problem details, as every error of this API is sent."""

    type: str
    title: str
    status: int
    detail: str
    instance: str
    request_id: str | None = None
    errors: list[FieldError] | None = None


API_ERRORS = {
    400: "Malformed request (for example two Authorization headers)",
    401: "No valid bearer token",
    403: "The caller may not do this",
    404: "No such resource, or not visible to the caller",
    409: "The resource's state does not allow this now",
    413: "Request body above 1 MiB",
    415: "Request body is not application/json",
    422: "Invalid input; `errors` names each field",
    429: "Too many requests; see Retry-After",
    503: "Postgres, Temporal or the worker cannot answer now; see Retry-After",
}
"""Statuses any authenticated route may answer, each as `application/problem+json`."""


def document_problems(spec: dict[str, Any]) -> dict[str, Any]:
    """State the bearer scheme and every problem status on each route of an OpenAPI spec."""
    components = spec.setdefault("components", {})
    components.setdefault("securitySchemes", {})["bearer"] = {"type": "http", "scheme": "bearer"}
    schemas = components.setdefault("schemas", {})
    schemas["Problem"] = Problem.model_json_schema(ref_template="#/components/schemas/{model}")
    schemas["FieldError"] = schemas["Problem"].pop("$defs", {}).get("FieldError", {})
    for key in ("HTTPValidationError", "ValidationError"):
        schemas.pop(key, None)
    problem = {"application/problem+json": {"schema": {"$ref": "#/components/schemas/Problem"}}}
    for path, operations in spec.get("paths", {}).items():
        for operation in operations.values():
            responses = operation.setdefault("responses", {})
            if path.startswith("/v1/"):
                for status, description in API_ERRORS.items():
                    responses.setdefault(str(status), {"description": description})
                if not path.startswith("/v1/webhooks/"):
                    operation["security"] = [{"bearer": []}]
            for status, response in responses.items():
                if status.isdigit() and int(status) >= 400:
                    response["content"] = problem
    return spec
