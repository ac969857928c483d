"""LicensingDeal activities: read model, partner lookup, sales check, statements, reviews."""

from __future__ import annotations

from decimal import Decimal

import asyncpg
import structlog
from temporalio import activity
from temporalio.exceptions import ApplicationError

from domain import errors
from domain.approval import ScreeningSettings
from domain.bounds import RECORDED
from domain.deal import canonical_request_hash
from domain.deal_activity_io import (
    DealReadModelInput,
    IssueStatementInput,
    LoadPartnerInput,
    ReviewInput,
    ReviewPack,
    SalesCheckInput,
    SalesCheckResult,
)
from domain.deal_state import KpiStatus
from domain.kpi import kpi_actual, kpi_status, overall_status, partner_score
from domain.partner import PartnerProfile
from domain.sales import SalesLine
from domain.sales_check import check_sales
from domain.screening import weighted_score
from store import audit, deals, partners, sales, statements

log = structlog.get_logger(__name__)

SYSTEM_ACTOR = "licenseflow"


class DealActivities:
    """Postgres side of a licensing deal, bound to a pool."""

    def __init__(self, pool: asyncpg.Pool, *, licensor: str = statements.DEFAULT_LICENSOR) -> None:
        self._pool = pool
        self._licensor = licensor
        """Prefix and sequence of the invoice numbers (LICENSEFLOW_LICENSOR)."""

    @activity.defn
    async def sync_deal_read_model(self, inp: DealReadModelInput) -> bool:
        """Insert the deal row and its `deal.create` audit row in one transaction (when
        `request` is given) or move its stage; idempotent."""
        stage = inp.stage.value
        kpi = inp.kpi_status.value if inp.kpi_status else None
        if inp.request is None:
            await deals.set_stage(
                self._pool, inp.deal_id, stage, partner_id=inp.partner_id, kpi_status=kpi
            )
            return True
        request_hash = canonical_request_hash(inp.request)
        async with self._pool.acquire() as conn, conn.transaction():
            await deals.upsert(
                conn,
                deal_id=inp.deal_id,
                workflow_id=inp.workflow_id,
                title=inp.request.title,
                owner=inp.request.owner,
                stage=stage,
                request=inp.request.model_dump(mode="json"),
                request_hash=request_hash,
                partner_id=inp.partner_id,
                kpi_status=kpi,
            )
            await audit.append(
                conn,
                actor=inp.created_by or inp.request.owner or SYSTEM_ACTOR,
                action="deal.create",
                deal_id=inp.deal_id,
                workflow_id=inp.workflow_id,
                detail={
                    "request_hash": request_hash,
                    "request_id": inp.request_id,
                    "run_id": activity.info().workflow_run_id,
                },
                idempotency_key=f"{inp.workflow_id}:deal.create",
            )
        return True

    @activity.defn
    async def load_partner(self, inp: LoadPartnerInput) -> PartnerProfile:
        """The stored partner profile; unknown partners fail for good (NOT_FOUND)."""
        row = await partners.get(self._pool, inp.partner_id)
        if row is None:
            raise ApplicationError(
                f"partner {inp.partner_id} not found", type=errors.NOT_FOUND, non_retryable=True
            )
        return PartnerProfile.model_validate(row, context=RECORDED)

    @activity.defn
    async def check_sales(self, inp: SalesCheckInput) -> SalesCheckResult:
        """Check the latest report version of a period: scope split, then KPI status."""
        row = await sales.latest(self._pool, inp.deal_id, inp.period)
        if row is None:
            return SalesCheckResult(period=inp.period, report_exists=False)
        lines = [SalesLine.model_validate(line, context=RECORDED) for line in row["lines"]]
        check = check_sales(lines, inp.scope, inp.rate_card)
        statuses = [kpi_status(kpi_actual(check, kpi), kpi) for kpi in inp.kpis]
        return SalesCheckResult(
            period=inp.period,
            report_exists=True,
            version=row["version"],
            check=check,
            kpi_statuses=statuses,
            kpi_status=overall_status(statuses),
        )

    @activity.defn
    async def issue_statement(self, inp: IssueStatementInput) -> bool:
        """Store a statement once (by its workflow-made id), with the licensor's next invoice
        number when something is due; False when it exists already (no number taken)."""
        return await statements.insert(
            self._pool,
            deal_id=inp.deal_id,
            **inp.statement.model_dump(),
            detail=inp.detail,
            licensor=self._licensor,
        )

    @activity.defn
    async def compile_review(self, inp: ReviewInput) -> ReviewPack:
        """KPI trend, royalties of the contract year so far and a partner score (1-5)."""
        year_rows = [
            r
            for r in await statements.for_deal(self._pool, inp.deal_id)
            if r["contract_year"] == inp.contract_year
        ]
        royalties = sum((Decimal(r["royalty_earned"]) for r in year_rows), Decimal(0))
        invoiced = sum((Decimal(r["amount_due"]) for r in year_rows), Decimal(0))
        trend = [p.kpi_status for p in inp.periods]
        profile_row = await partners.get(self._pool, inp.partner_id)
        evaluation = (
            weighted_score(
                PartnerProfile.model_validate(profile_row, context=RECORDED), ScreeningSettings()
            )
            if profile_row
            else 0.0
        )
        score = partner_score(evaluation, trend)
        summary = (
            f"{'Early' if inp.early else 'Periodic'} review after period {inp.period}: "
            f"{trend.count(KpiStatus.ON_TRACK)}/{len(trend)} periods on track, "
            f"royalties this contract year {royalties}, partner score {score:.2f}"
        )
        return ReviewPack(
            period=inp.period,
            early=inp.early,
            kpi_trend=trend,
            net_sales_trend=[p.net_sales for p in inp.periods],
            royalties_ytd=royalties,
            invoiced_ytd=invoiced,
            partner_score=score,
            summary=summary,
        )
