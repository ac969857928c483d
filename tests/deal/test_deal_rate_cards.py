"""A rate card, an MG schedule and an advance recoupable across the term, end to end (time
skipping, real Postgres): three contract years of two periods, a year-1 correction in year 3
that re-bills the later years, the statements' per-row breakdown, the licensee's view and
the signed envelope. Every expected figure is worked out by hand in the comments.

Terms: default 5%; row 0 apparel/DE/online 8% up to 100,000 then 10%; row 1 toys 0.50 per
unit; MG 20,000 / 30,000 / 40,000; advance 50,000 recoupable across the term.
"""

from __future__ import annotations

import asyncio
from datetime import timedelta
from decimal import Decimal
from typing import Any

import asyncpg
from deal_helpers import (
    OWNER,
    deal_request,
    decide_signal,
    latest,
    launch,
    line,
    open_task,
    outcome_of,
    schedule,
    skip_to,
    start_deal,
    submit_report,
    wait_state,
)
from polling import eventually
from temporalio.api.enums.v1 import EventType
from temporalio.testing import WorkflowEnvironment

from domain.common import LicensedScope
from domain.deal import Kpi, Plan, RateCardRow, RoyaltyTier, Terms
from domain.deal_state import Stage
from domain.ids import deal_workflow_id
from domain.sales import SalesLine
from domain.signed_terms import terms_hash
from store import envelopes, statements
from workflows.licensing_deal import LicensingDealWorkflow

D = Decimal
SCOPE = LicensedScope(categories=["apparel", "toys"], territories=["DE", "FR"], channels=["online"])
TERMS = Terms(
    royalty_tiers=[RoyaltyTier(rate=D("0.05"))],
    rate_card=[
        RateCardRow(
            category="apparel",
            territory="DE",
            channel="online",
            royalty_tiers=[
                RoyaltyTier(up_to=D(100_000), rate=D("0.08")),
                RoyaltyTier(rate=D("0.1")),
            ],
        ),
        RateCardRow(label="toys", category="toys", per_unit=D("0.50")),
    ],
    minimum_guarantee_schedule=[D(20_000), D(30_000), D(40_000)],
    advance=D(50_000),
    advance_recoupable_across_term=True,
)


def apparel(net: int, territory: str = "DE") -> SalesLine:
    return line(str(net), territory=territory)


def toys(units: int, territory: str = "DE") -> SalesLine:
    return line(str(units * 3), sku="MB-TOY", category="toys", territory=territory, units=units)


class Drive:
    def __init__(self, env: WorkflowEnvironment, pool: asyncpg.Pool, deal_id: str) -> None:
        self.env, self.pool, self.deal_id = env, pool, deal_id

    async def statement(self, key: str) -> dict[str, Any]:
        row = await eventually(
            lambda: statements.get(self.pool, f"{self.deal_id}:{key}"),
            lambda found: found is not None,
            within=20,
            interval=0.05,
            what=f"statement {key}",
        )
        assert row is not None
        return row

    async def period(self, n: int, lines: list[SalesLine], *, year_end: bool = False) -> None:
        """Let period n end, report it, await its statement (and at a year end, the true-up
        and the continued run, watched through describe: no query across continue-as-new)."""
        state = await wait_state(
            self.env.client, self.deal_id, lambda s: any(p.period == n for p in s.periods)
        )
        record = next(p for p in state.periods if p.period == n)
        await skip_to(self.env, record.ends_at + timedelta(seconds=1))
        before = (await latest(self.env.client, self.deal_id).describe()).run_id
        await submit_report(self.pool, self.env.client, self.deal_id, n, lines)
        year = (n + 1) // 2
        await self.statement(f"y{year}:p{n}")
        if year_end:
            await self.statement(f"y{year}:true-up")
            if n < 6:
                await self.continued(before)

    async def continued(self, before: str) -> None:
        client = self.env.client
        loop = asyncio.get_running_loop()
        deadline = loop.time() + 20
        while loop.time() < deadline:
            run_id = (await latest(client, self.deal_id).describe()).run_id
            if run_id != before:
                history = await client.get_workflow_handle(
                    deal_workflow_id(self.deal_id), run_id=run_id
                ).fetch_history()
                if any(
                    e.event_type == EventType.EVENT_TYPE_WORKFLOW_TASK_COMPLETED
                    for e in history.events
                ):
                    return
            await asyncio.sleep(0.05)
        raise AssertionError("the deal did not continue as new")

    async def issued(self) -> dict[str, tuple[int, str, Decimal]]:
        return {
            r["statement_id"].removeprefix(f"{self.deal_id}:"): (
                r["contract_year"],
                r["kind"],
                r["amount_due"],
            )
            for r in await statements.for_deal(self.pool, self.deal_id)
        }


def rows(statement: dict[str, Any]) -> list[tuple[Any, ...]]:
    return [
        (b["row"], b["label"], D(b["net_sales"]), b["units"], D(b["royalty_earned"]))
        for b in statement["breakdown"]
    ]


async def test_three_years_of_rate_card_mg_schedule_and_recoupable_advance(
    time_worker: WorkflowEnvironment, pool: asyncpg.Pool, task_queue: str
) -> None:
    env = time_worker
    request = deal_request(
        plan=Plan(scope=SCOPE, kpis=[Kpi(target_per_period=D(1_000))]),
        terms=TERMS,
        schedule=schedule(term_periods=6, periods_per_year=2, periods_per_review=12),
    )
    deal_id = request.deal_id
    await start_deal(env.client, request, task_queue)
    await launch(env.client, deal_id)
    drive = Drive(env, pool, deal_id)

    # The envelope the licensee signed carries the terms, the scope and their hash.
    envelope = await envelopes.for_task(pool, f"{deal_workflow_id(deal_id)}:signature-1")
    assert envelope is not None
    signed = envelope["document"]["signed_terms"]
    assert envelope["terms_hash"] == envelope["document"]["terms_hash"] == terms_hash(signed)
    assert [r["label"] for r in signed["rate_card"]] == ["apparel/DE/online", "toys"]
    assert signed["minimum_guarantee_by_year"] == ["20000", "30000", "40000"]
    assert signed["advance"] == "50000" and signed["advance_recoupable_across_term"] is True
    assert signed["scope"]["categories"] == ["apparel", "toys"]

    # Year 1. p1: apparel/DE 60,000 -> 4,800 (8%); toys 10,000 units -> 5,000; apparel/FR
    # 30,000 -> default 1,500. E = 11,300, under the 50,000 advance: 0.
    await drive.period(1, [apparel(60_000), toys(10_000), apparel(30_000, "FR")])
    # p2: apparel/DE 70,000 -> YTD 130,000: 8,000 + 3,000 = 11,000 (+6,200); toys 6,000
    # units -> 16,000: 8,000 (+3,000). E = 20,500: 0. True-up (MG 20,000): 0.
    await drive.period(2, [apparel(70_000), toys(6_000, "FR")], year_end=True)
    # carried into year 2: 50,000 - max(20,000, 20,500) = 29,500

    # Year 2. p3: apparel/DE 200,000 -> 18,000; toys 20,000 units -> 10,000. E = 28,000,
    # all recouped (min(29,500, 28,000)): 0.
    await drive.period(3, [apparel(200_000), toys(20_000)])
    # p4: apparel/FR 100,000 -> 5,000. E = 33,000; recouped 29,500: 3,500.
    # True-up: G = 30,000; recouped min(29,500, 33,000 - 30,000) = 3,000: owed 30,000,
    # billed 3,500 -> 26,500. Carried into year 3: 29,500 - 3,000 = 26,500.
    await drive.period(4, [apparel(100_000, "FR")], year_end=True)

    # Year 3. p5: apparel/DE 500,000 -> 8,000 + 40,000 = 48,000; recouped 26,500: 21,500.
    await drive.period(5, [apparel(500_000)])
    state = await latest(env.client, deal_id).query(LicensingDealWorkflow.state)
    assert state.advance_unrecouped == D(0)  # year 3's 48,000 recoups all 26,500 for now

    # A year-1 correction: p2's apparel/DE 70,000 -> 370,000. Row 0 YTD 430,000: 8,000 +
    # 33,000 = 41,000; E1 = 41,000 + 8,000 + 1,500 = 50,500: year 1 owes 500 more. Nothing
    # is carried any more: year 2 owes max(30,000, 33,000) = 33,000 (+3,000), year 3
    # 48,000 so far (21,500 billed: +26,500).
    await submit_report(
        pool, env.client, deal_id, 2, [apparel(370_000), toys(6_000, "FR")], version=2
    )
    await drive.statement("y1:p2:v2")
    await drive.statement("y2:carry:y1:p2:v2")
    await drive.statement("y3:carry:y1:p2:v2")

    # p6: toys 10,000 units -> 5,000. E = 53,000, owed 53,000: 5,000. True-up (MG 40,000): 0.
    await drive.period(6, [toys(10_000)], year_end=True)
    await wait_state(env.client, deal_id, lambda s: open_task(s, "renewal-3"))
    await decide_signal(env.client, deal_id, "renewal-3", OWNER, "expire")
    outcome = await outcome_of(env, deal_id)
    assert outcome.stage is Stage.COMPLETED

    assert await drive.issued() == {
        "y1:p1": (1, "period", D("0.00")),
        "y1:p2": (1, "period", D("0.00")),
        "y1:true-up": (1, "true_up", D("0.00")),
        "y2:p3": (2, "period", D("0.00")),
        "y2:p4": (2, "period", D("3500.00")),
        "y2:true-up": (2, "true_up", D("26500.00")),
        "y3:p5": (3, "period", D("21500.00")),
        "y1:p2:v2": (1, "adjustment", D("500.00")),
        "y2:carry:y1:p2:v2": (2, "adjustment", D("3000.00")),
        "y3:carry:y1:p2:v2": (3, "adjustment", D("26500.00")),
        "y3:p6": (3, "period", D("5000.00")),
        "y3:true-up": (3, "true_up", D("0.00")),
        "final": (3, "final", D("0.00")),
    }
    # per year: advance + statements = max(G, E) + U - R: 50,500 / 33,000 / 53,000
    billed = await drive.issued()
    per_year = [sum((a for y, _, a in billed.values() if y == year), D(0)) for year in (1, 2, 3)]
    assert [D(50_000) + per_year[0], per_year[1], per_year[2]] == [
        D(50_500),
        D(33_000),
        D(53_000),
    ]

    # The breakdown: which row applied, to what, for how much.
    assert rows(await drive.statement("y1:p1")) == [
        (0, "apparel/DE/online", D(60_000), 10, D(4_800)),
        (1, "toys", D(30_000), 10_000, D(5_000)),
        (None, "default", D(30_000), None, D(1_500)),
    ]
    assert rows(await drive.statement("y1:p2")) == [
        (0, "apparel/DE/online", D(70_000), 10, D(6_200)),
        (1, "toys", D(18_000), 6_000, D(3_000)),
    ]
    assert rows(await drive.statement("y3:true-up")) == [
        (0, "apparel/DE/online", D(500_000), 10, D(48_000)),
        (1, "toys", D(30_000), 10_000, D(5_000)),
    ]
    assert (await drive.statement("y2:carry:y1:p2:v2"))["breakdown"] == []
