"""Sales reports from the deal's partner: persisted first, then signalled to the deal."""

from __future__ import annotations

import hashlib
import json
from typing import Literal

from fastapi import APIRouter, Request, Response, status
from temporalio.service import RPCError

from api.deps import Caller, Services, Svc, write_audit
from api.gates import ReportedDeal
from api.params import DealId
from api.problems import conflict, invalid
from api.routing import AuthorizeFirstRoute
from api.schemas import SalesReportAccepted
from api.workflow_errors import problem_from_temporal
from domain.currency import check_minor_unit
from domain.deal_state import TERMINAL_STAGES, DealState
from domain.sales import SalesReport
from domain.schedule import contract_year_of
from licenseflow.report_signals import signal_stored_report
from store import sales

router = APIRouter(prefix="/v1/deals", tags=["sales"], route_class=AuthorizeFirstRoute)


def report_hash(report: SalesReport) -> str:
    """sha256 of the period and lines only: a correction flag does not change the figures."""
    body = {"period": report.period, "lines": report.model_dump(mode="json")["lines"]}
    return hashlib.sha256(
        json.dumps(body, sort_keys=True, separators=(",", ":")).encode()
    ).hexdigest()


@router.post(
    "/{deal_id}/sales-reports",
    status_code=status.HTTP_201_CREATED,
    response_model=SalesReportAccepted,
    responses={200: {"description": "Identical resubmission: nothing changed"}},
)
async def submit_sales_report(
    deal_id: DealId,
    state: ReportedDeal,  # 404/403 (its partner or an admin) before the body is validated
    body: SalesReport,
    request: Request,
    response: Response,
    svc: Svc,
    who: Caller,
) -> SalesReportAccepted:
    """Report one period (empty `lines` = no sales). A changed report needs `correction`."""
    if state.stage in TERMINAL_STAGES:
        raise conflict(f"deal {deal_id} is {state.stage.value}; it takes no more reports")
    if body.period > _last_reportable(state):
        raise invalid("body.period", f"the deal has {_last_reportable(state)} periods to report")
    if state.request is not None:
        _check_minor_units(body, state.request.terms.currency)
    _check_year_adjustable(state, body.period)
    digest = report_hash(body)
    latest = await sales.latest(svc.pool, deal_id, body.period)
    if latest is not None and latest["body_hash"] == digest:
        if latest["signalled_at"] is None:
            # stored by an earlier call whose signal failed: this retry delivers it
            await _signal(svc, deal_id, latest["report_id"], latest["version"], body)
        response.status_code = status.HTTP_200_OK
        return _accepted(latest["report_id"], deal_id, body.period, latest["version"], "duplicate")
    if latest is not None and not body.correction:
        raise conflict(
            f"period {body.period} was reported already; send `correction: true` with a reason"
        )
    version = 1 if latest is None else latest["version"] + 1
    report_id = f"{deal_id}:p{body.period}:v{version}"
    async with svc.pool.acquire() as conn, conn.transaction():
        # the version and its audit row are stored together: a crash in between loses neither
        stored = await sales.insert_version(
            conn,
            report_id=report_id,
            deal_id=deal_id,
            period=body.period,
            version=version,
            lines=[line.model_dump(mode="json") for line in body.lines],
            body_hash=digest,
            submitted_by=who.user,
            correction=body.correction,
            reason=body.reason,
        )
        if stored:
            await write_audit(
                svc,
                request,
                who,
                "sales_report.correct" if version > 1 else "sales_report.submit",
                deal_id=deal_id,
                subject=report_id,
                detail={"period": body.period, "version": version, "lines": len(body.lines)},
                db=conn,
            )
    if not stored:
        winner = await sales.latest(svc.pool, deal_id, body.period)
        if winner is not None and winner["body_hash"] == digest:
            # an identical report won the race; it signals the deal itself
            response.status_code = status.HTTP_200_OK
            return _accepted(
                winner["report_id"], deal_id, body.period, winner["version"], "duplicate"
            )
        raise conflict(f"period {body.period} changed meanwhile; fetch and retry")
    await _signal(svc, deal_id, report_id, version, body)
    return _accepted(report_id, deal_id, body.period, version, _what_happens(state, body.period))


async def _signal(
    svc: Services, deal_id: str, report_id: str, version: int, body: SalesReport
) -> None:
    """Signal the deal about a stored version, then mark it signalled.

    On failure the row stays unsignalled (503/404 to the caller): resending the same body
    delivers it, and `store.sales.unsignalled` lists it for reconciliation.
    """
    try:
        await signal_stored_report(
            svc.client, svc.pool, deal_id, report_id, version, body, rpc_timeout=svc.rpc_timeout
        )
    except RPCError as exc:
        raise problem_from_temporal(exc, what=f"deal {deal_id}") from exc


def _check_minor_units(body: SalesReport, currency: str) -> None:
    """422 naming the first amount finer than the deal currency's minor unit."""
    for index, line in enumerate(body.lines):
        for name in ("gross_sales", "deductions", "returns"):
            try:
                check_minor_unit(getattr(line, name), currency)
            except ValueError as exc:
                raise invalid(f"body.lines.{index}.{name}", str(exc)) from None


ReportOutcome = Literal["accepted", "late", "adjustment", "duplicate"]


def _last_reportable(state: DealState) -> int:
    """The term's last period, or its sell-off period (year books, before winding down)."""
    terms = state.request.terms if state.request is not None else None
    sell_off = state.year_books and state.wind_down is None and terms and terms.sell_off
    return state.term_periods + (1 if sell_off else 0)


def _year_of(state: DealState, period: int) -> int | None:
    record = next((p for p in state.periods if p.period == period), None)
    if record is not None:
        return record.contract_year
    if state.request is None:
        return None
    return contract_year_of(period, state.request.schedule.periods_per_year)


def _check_year_adjustable(state: DealState, period: int) -> None:
    """409 for a report the deal would not bill: a closed contract year of a deal started
    before year books, or a year before the first year its books hold."""
    year = _year_of(state, period)
    if year is None or period >= (state.next_period or period + 1):
        return
    if not state.year_books and (_in_closed_year(state, period) or year < state.contract_year):
        raise conflict(
            f"period {period} belongs to a closed contract year; this deal started before"
            " year books and adjusts closed years only from its next contract year"
        )
    if state.year_books and state.first_booked_year and year < state.first_booked_year:
        raise conflict(
            f"period {period} belongs to contract year {year}, closed before year books:"
            " it can no longer be adjusted"
        )


def _in_closed_year(state: DealState, period: int) -> bool:
    """The period is no longer listed: its contract year closed in an earlier run."""
    listed = any(p.period == period for p in state.periods)
    return not listed and state.next_period is not None and period < state.next_period


def _what_happens(state: DealState, period: int) -> ReportOutcome:
    """`accepted`: checked when its period ends (or at once in the grace); `late`: the period
    was marked missing, the report is invoiced at once; `adjustment`: the period was billed
    already (or its year closed), the difference is invoiced or credited."""
    record = next((p for p in state.periods if p.period == period), None)
    if record is None:
        return "adjustment" if _in_closed_year(state, period) else "accepted"
    if record.status == "missing":
        return "late"
    return "adjustment" if record.status == "checked" else "accepted"


def _accepted(
    report_id: str, deal_id: str, period: int, version: int, outcome: ReportOutcome
) -> SalesReportAccepted:
    return SalesReportAccepted(
        report_id=report_id,
        deal_id=deal_id,
        period=period,
        version=version,
        status=outcome,
    )
