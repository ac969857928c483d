"""Temporal client failures mapped to problem details (validator errors keep their reason)."""

from __future__ import annotations

from datetime import timedelta

from temporalio.client import Client, WorkflowQueryFailedError, WorkflowUpdateFailedError
from temporalio.exceptions import ApplicationError
from temporalio.service import RPCError, RPCStatusCode

from api.problems import ProblemError
from domain import errors


def _application_error(exc: BaseException | None) -> ApplicationError | None:
    """The first ApplicationError in the cause chain."""
    seen = 0
    while exc is not None and seen < 10:
        if isinstance(exc, ApplicationError):
            return exc
        exc = exc.__cause__
        seen += 1
    return None


def _field_errors(app_err: ApplicationError, message: str) -> list[dict[str, str]] | None:
    """`errors` entries naming the body field a workflow validator refused, if it named one."""
    fields = [d["field"] for d in app_err.details if isinstance(d, dict) and d.get("field")]
    return [{"field": f"body.{f}", "message": message, "type": "refused"} for f in fields] or None


def problem_from_temporal(exc: Exception, *, what: str) -> ProblemError:
    """403/404/409/422 from a rejected update or missing workflow; 503 when Temporal fails."""
    if isinstance(exc, WorkflowUpdateFailedError):
        app_err = _application_error(exc.cause)
        if app_err is not None:
            status = errors.HTTP_STATUS.get(app_err.type or "", 409)
            message = app_err.message or str(app_err)
            return ProblemError(status, message, errors=_field_errors(app_err, message))
        return ProblemError(409, f"{what} was not accepted: {exc.cause}")
    if isinstance(exc, WorkflowQueryFailedError):
        return ProblemError(409, f"{what} could not be read: {exc.message}")
    if isinstance(exc, RPCError):
        if exc.status == RPCStatusCode.NOT_FOUND:
            return ProblemError(404, f"{what} does not exist or has finished")
        if exc.status == RPCStatusCode.FAILED_PRECONDITION:
            return ProblemError(409, f"{what} cannot take this now: {exc.message}")
        if exc.status == RPCStatusCode.INVALID_ARGUMENT:
            return ProblemError(422, f"{what}: {exc.message}")
        # unreachable or too slow: the error middleware answers 503 with Retry-After
        # and logs the outage once
        raise exc
    raise exc


async def update_problem(
    client: Client, workflow_id: str, exc: Exception, *, what: str
) -> ProblemError:
    """Like `problem_from_temporal`, but a finished workflow is a 409, not a 404."""
    problem = problem_from_temporal(exc, what=what)
    if problem.status != 404 or not isinstance(exc, RPCError):
        return problem
    try:
        desc = await client.get_workflow_handle(workflow_id).describe(
            rpc_timeout=timedelta(seconds=10)
        )
    except RPCError:
        return problem
    status = desc.status.name.lower() if desc.status else "closed"
    return ProblemError(409, f"{what} has finished ({status}); it takes no more decisions")
