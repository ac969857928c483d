"""Tell a deal about a stored sales report version, then mark the row signalled.

Used by the API right after storing a report and by the worker's reconciler for rows whose
signal never arrived (the API died, Temporal was down). The deal ignores a second signal
for the same (period, version), so sending twice is harmless.
"""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import asyncpg
from temporalio.client import Client

from domain.bounds import RECORDED
from domain.deal_messages import SalesReportReceived
from domain.ids import deal_workflow_id
from domain.sales import SalesReport
from store import sales
from workflows.licensing_deal import LicensingDealWorkflow


async def signal_stored_report(
    client: Client,
    pool: asyncpg.Pool,
    deal_id: str,
    report_id: str,
    version: int,
    report: SalesReport,
    *,
    rpc_timeout: timedelta = timedelta(seconds=10),
) -> None:
    """Signal the deal (ids and totals only), then mark the version signalled."""
    await client.get_workflow_handle(deal_workflow_id(deal_id)).signal(
        LicensingDealWorkflow.sales_report_received,
        SalesReportReceived.stored(report_id, version, report),
        rpc_timeout=rpc_timeout,
    )
    await sales.mark_signalled(pool, report_id)


def report_of(row: dict[str, Any]) -> SalesReport:
    """The stored report of a `sales_reports` row."""
    return SalesReport.model_validate(
        {
            "period": row["period"],
            "lines": row["lines"],
            "correction": row["correction"],
            "reason": row["reason"],
        },
        context=RECORDED,
    )
