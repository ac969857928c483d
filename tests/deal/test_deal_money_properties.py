"""Property test: real deals under the time-skipping server bill what the reference model
(`tests/money_reference.py`) says, statement by statement.

Each example is a deal of one or two contract years (four quarters each) with random terms
(EUR, JPY or BHD; 1-3 tiers; advance, maybe recoupable across the term; MG or an MG
schedule; unlicensed policy; maybe a rate card of one or two rows, tiered or per unit, that
may take the licensed line (apparel, DE, online, 10 units) or not). Per period its report comes
early (before the period ends, maybe revised before it ends: only the latest version is
checked), on time (during the grace), late (after the due date: the period is missing
first) or never; licensed and unlicensed net sales may be negative (returns). After each
period: corrections up, down or with the same figures (no statement) of any reported
period, also of a settled year, and late reports; at a year end also while its review is
open (booked before the true-up). The deal then ends: a termination during a period (cut
short, maybe still reported), in a period's grace (the period already running is cut short;
at a year end that year's true-up comes at final accounting), during the renewal decision,
or expiry. Every statement stored in Postgres must equal the reference's (id, contract
year, kind, amount), issued in the reference's order; per contract year, advance credit +
all statements = max(G, E) + U - R (R the advance recouped, recoupable advance only); no
statement id is issued twice.

Reports sent while the deal cannot book them (a review or the renewal decision) wait in
its queue, which holds a period once and books its latest version: such a window gets at
most one report per period here, since two versions queued together give one statement
(the latest), where the reference, fed one event per version, gives two.

Hypothesis and the event loop: pytest-asyncio (1.x) runs an `async def` test decorated
with `@given` itself - it drives Hypothesis' inner test on the session loop - so the
session-scoped Temporal environment and Postgres fixtures work unchanged, and each example
is one more deal on the same worker (`asyncio.run` inside a sync test would need a loop of
its own, which the session fixtures cannot cross). The function-scoped fixtures (`pool`,
`task_queue`) are shared by every example on purpose: each example starts a deal of its
own, so examples never see each other's statements. Shrinking is off: an example costs
seconds and the failing scenario is printed whole instead (events and statements).

Synchronisation never sleeps: time moves with `env.sleep` (`skip_to`) to the moments the
scenario needs, and every money event is awaited where it lands - the statement row in
Postgres, or the `correction_no_change` history note. The state query is never polled
across the continue-as-new at the year end (the new run is awaited by `describe`).
Decision SLAs are one hour, so a review (early or at the year end) expires three hours after
the check that opened it; the renewal decision likewise.
"""

from __future__ import annotations

import asyncio
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from decimal import Decimal
from typing import Literal

import asyncpg
from deal_helpers import (
    OWNER,
    deal_request,
    latest,
    launch,
    outcome_of,
    schedule,
    skip_to,
    start_deal,
    submit_report,
    wait_state,
)
from hypothesis import HealthCheck, Phase, event, example, given, note, reject, settings
from hypothesis import strategies as st
from money_reference import (
    Event,
    Final,
    MoneyModel,
    RefLine,
    RefRow,
    RefTerms,
    Report,
    Terminate,
    YearEnd,
)
from polling import eventually
from pydantic import ValidationError
from temporalio.api.enums.v1 import EventType
from temporalio.client import Client
from temporalio.testing import WorkflowEnvironment

from domain.deal import RateCardRow, RoyaltyTier, Terms, UnlicensedPolicy, UnlicensedPolicyKind
from domain.deal_messages import TerminateInput
from domain.deal_state import Stage
from domain.ids import deal_workflow_id
from domain.sales import SalesLine
from domain.schedule import period_end, report_due
from store import statements
from workflows.licensing_deal import LicensingDealWorkflow

D = Decimal
CURRENCIES = {"EUR": 2, "JPY": 0, "BHD": 3}
PERIOD, GRACE, PER_YEAR = "P3M", "P15D", 4
SLA = timedelta(hours=1)
SETTLED = 4 * SLA
"""After a check, any review it opened has expired (3 x SLA) and the deal moved on."""

# ---- scenarios --------------------------------------------------------------------------

Mode = Literal["early", "on_time", "late", "none"]
EndingKind = Literal["during", "grace", "renewal", "expire"]


@dataclass
class Extra:
    """A report after a period's processing: a correction or a late report. `same`: the
    period's last figures again (a correction that changes nothing)."""

    period: int
    net: Decimal
    unlicensed: Decimal
    same: bool = False


@dataclass
class Step:
    mode: Mode
    net: Decimal
    unlicensed: Decimal
    extras: list[Extra] = field(default_factory=list)
    """After the period's processing (and its year's true-up): each booked at once."""
    revised: tuple[Decimal, Decimal] | None = None
    """`early`: a version 2 before the period ends (only the latest version is checked)."""
    in_review: list[Extra] = field(default_factory=list)
    """A year's last period: reports while the year-end review is open (one per period),
    booked before the true-up."""


@dataclass
class Ending:
    kind: EndingKind
    period: int | None = None
    """`during`: the period running at the termination; `grace`: the period just ended."""
    hours: int = 0
    """`during`: hours into the period."""
    report: tuple[Decimal, Decimal] | None = None
    """The report of the period cut short (or in its grace) after the termination."""
    next_report: tuple[Decimal, Decimal] | None = None
    """`grace`: the report of the next period, running at the termination, cut short."""
    extras: list[Extra] = field(default_factory=list)
    """Corrections and late reports during the renewal decision or the winding down."""


@dataclass
class Scenario:
    currency: str
    tiers: list[tuple[Decimal | None, Decimal]]
    advance: Decimal
    mg: Decimal
    policy: UnlicensedPolicyKind
    rate: Decimal | None
    years: int
    steps: list[Step]
    ending: Ending
    rows: list[tuple[RefRow, RateCardRow]] = field(default_factory=list)
    schedule: list[Decimal] = field(default_factory=list)
    recoupable: bool = False

    @property
    def decimals(self) -> int:
        return CURRENCIES[self.currency]

    def ref(self) -> RefTerms:
        return RefTerms(
            tiers=tuple(self.tiers),
            advance=self.advance,
            mg=self.mg,
            decimals=self.decimals,
            unlicensed=self.policy,
            unlicensed_rate=self.rate,
            periods_per_year=PER_YEAR,
            rows=tuple(ref for ref, _ in self.rows),
            mg_schedule=tuple(self.schedule),
            recoupable=self.recoupable,
        )

    def terms(self) -> Terms:
        return Terms(
            currency=self.currency,
            royalty_tiers=[RoyaltyTier(up_to=u, rate=r) for u, r in self.tiers],
            advance=self.advance,
            minimum_guarantee_per_year=self.mg,
            unlicensed=UnlicensedPolicy(policy=self.policy, rate=self.rate),
            rate_card=[row for _, row in self.rows],
            minimum_guarantee_schedule=self.schedule,
            advance_recoupable_across_term=self.recoupable,
        )


def money(decimals: int, low: int, high: int) -> st.SearchStrategy[Decimal]:
    scale = 10**decimals
    return st.integers(low * scale, high * scale).map(lambda i: D(i).scaleb(-decimals))


@st.composite
def scenarios(draw: st.DrawFn) -> Scenario:
    currency = draw(st.sampled_from(sorted(CURRENCIES)))
    dec = CURRENCIES[currency]
    count = draw(st.integers(1, 3))
    bounds = sorted(draw(st.sets(st.integers(1, 12), min_size=count, max_size=count)))
    uppers: list[Decimal | None] = [D(b * 100_000) for b in bounds]
    if draw(st.booleans()):
        uppers[-1] = None
    rates = draw(st.lists(st.integers(1, 2000), min_size=count, max_size=count))
    tiers = [(u, D(r).scaleb(-4)) for u, r in zip(uppers, rates, strict=True)]
    policies: list[UnlicensedPolicyKind] = ["charge_highest_rate", "charge_rate", "exclude"]
    policy = draw(st.sampled_from(policies))
    rate = D(draw(st.integers(1, 3000))).scaleb(-4) if policy == "charge_rate" else None
    advance = draw(st.one_of(st.just(D(0)), money(dec, 0, 40_000)))
    mg = draw(st.one_of(st.just(D(0)), money(dec, 0, 120_000)))
    schedule: list[Decimal] = []
    if draw(st.integers(0, 2)) == 0:
        schedule, mg = draw(st.lists(money(dec, 0, 120_000), min_size=1, max_size=2)), D(0)
    recoupable = draw(st.booleans())
    rows = draw(st.one_of(st.just([]), rate_cards()))
    try:  # a row earlier rows pre-empt is refused at the edge: not a scenario
        Terms(
            royalty_tiers=[RoyaltyTier(up_to=u, rate=r) for u, r in tiers],
            rate_card=[row for _, row in rows],
        )
    except ValidationError as exc:
        if "never applies" not in str(exc):
            raise
        reject()
    years = draw(st.sampled_from([2, 1]))
    term = years * PER_YEAR

    net = st.one_of(money(dec, -30_000, 0), money(dec, 0, 400_000))
    unlicensed = st.one_of(st.just(D(0)), st.just(D(0)), money(dec, -5_000, 40_000))
    reported: set[int] = set()
    late: set[int] = set()

    def extras(count: int, distinct: bool = False) -> list[Extra]:
        chosen: list[Extra] = []
        for _ in range(count):
            targets = sorted(reported | late)
            if distinct:
                targets = [t for t in targets if t not in {e.period for e in chosen}]
            if not targets:
                break
            period = draw(st.sampled_from(targets))
            same = period in reported and draw(st.integers(0, 4)) == 0
            late.discard(period)
            reported.add(period)
            chosen.append(Extra(period, draw(net), draw(unlicensed), same))
        return chosen

    kinds: list[EndingKind] = ["during", "grace", "renewal", "expire"]
    kind = draw(st.sampled_from(kinds))
    last = draw(st.integers(1, term)) if kind in ("during", "grace") else term + 1
    steps: list[Step] = []
    for n in range(1, last):
        mode: Mode = draw(st.sampled_from(["early", "on_time", "on_time", "late", "none"]))
        step = Step(mode, draw(net), draw(unlicensed))
        if mode in ("early", "on_time"):
            reported.add(n)
        elif mode == "late":
            late.add(n)
        if mode == "early" and draw(st.integers(0, 2)) == 0:
            step.revised = (draw(net), draw(unlicensed))
        if n % PER_YEAR == 0:
            step.in_review = extras(draw(st.integers(0, 2)), distinct=True)
        if n < term:  # after the term's last period: the renewal decision (`ending`)
            step.extras = extras(draw(st.integers(0, 2)))
        steps.append(step)
    ending = Ending(kind)
    if kind in ("during", "grace"):
        ending.period = last
        ending.hours = draw(st.integers(1, 24 * 60))
        ending.extras = extras(draw(st.integers(0, 2)))
        if draw(st.booleans()):
            ending.report = (draw(net), draw(unlicensed))
        if kind == "grace" and last < term and draw(st.booleans()):
            ending.next_report = (draw(net), draw(unlicensed))
    else:
        # queued during the renewal decision, booked at the final accounting: one per period
        ending.extras = extras(draw(st.integers(0, 2)), distinct=True)
    return Scenario(
        currency, tiers, advance, mg, policy, rate, years, steps, ending, rows, schedule, recoupable
    )


@st.composite
def rate_cards(draw: st.DrawFn) -> list[tuple[RefRow, RateCardRow]]:
    """One or two rows inside the deal's scope (apparel, DE/FR, online); a row may take the
    licensed line (apparel, DE, online) or not (FR), a less specific one loses to a more
    specific one."""
    matchers = [
        ("apparel", "DE", "online"),
        ("apparel", "DACH", None),
        (None, "DE", None),
        (None, None, "online"),
        ("apparel", "FR", "online"),
    ]
    chosen = draw(st.lists(st.sampled_from(matchers), min_size=1, max_size=2, unique=True))
    rows: list[tuple[RefRow, RateCardRow]] = []
    for category, territory, channel in chosen:
        if draw(st.booleans()):
            rate = D(draw(st.integers(1, 2000))).scaleb(-4)
            ref = RefRow(category, territory, channel, tiers=((D(200_000), rate), (None, rate * 2)))
            row = RateCardRow(
                category=category,
                territory=territory,
                channel=channel,
                royalty_tiers=[
                    RoyaltyTier(up_to=D(200_000), rate=rate),
                    RoyaltyTier(rate=rate * 2),
                ],
            )
        else:
            per_unit = D(draw(st.integers(1, 200_000))).scaleb(-2)
            ref = RefRow(category, territory, channel, per_unit=per_unit)
            row = RateCardRow(
                category=category, territory=territory, channel=channel, per_unit=per_unit
            )
        rows.append((ref, row))
    return rows


# ---- driving a real deal ----------------------------------------------------------------


def licensed(net: Decimal) -> tuple[RefLine, ...]:
    """The licensed line of `lines` as the reference model reads it."""
    return (RefLine("apparel", "DE", "online", net, 10),)


def lines(net: Decimal, unlicensed: Decimal) -> list[SalesLine]:
    """A licensed line (DE, online) and, when not 0, an unlicensed one (IT is outside the
    scope); negative net sales are returns."""

    def sale(amount: Decimal, territory: str) -> SalesLine:
        return SalesLine(
            sku="MB-TEE",
            category="apparel",
            territory=territory,
            channel="online",
            units=10,
            gross_sales=max(amount, D(0)),
            returns=max(-amount, D(0)),
        )

    return [sale(net, "DE")] + ([sale(unlicensed, "IT")] if unlicensed else [])


class Driver:
    """One scenario on one deal; `events` are the money events in the order they landed."""

    def __init__(self, env: WorkflowEnvironment, pool: asyncpg.Pool, scenario: Scenario) -> None:
        self.env, self.pool, self.scenario = env, pool, scenario
        self.client: Client = env.client
        self.deal_id = ""
        self.launched = datetime.min
        self.events: list[Event] = []
        self.versions: dict[int, int] = {}
        self.figures: dict[int, tuple[Decimal, Decimal]] = {}

    def ends(self, n: int) -> datetime:
        return period_end(self.launched, PERIOD, n)

    def due(self, n: int) -> datetime:
        return report_due(self.ends(n), GRACE)

    @staticmethod
    def year(n: int) -> int:
        return (n - 1) // PER_YEAR + 1

    async def run(self, task_queue: str) -> Stage:
        s = self.scenario
        request = deal_request(
            terms=s.terms(),
            schedule=schedule(
                term_periods=s.years * PER_YEAR, periods_per_review=PER_YEAR, decision_sla="PT1H"
            ),
        )
        self.deal_id = request.deal_id
        await start_deal(self.client, request, task_queue)
        state = await launch(self.client, self.deal_id)
        assert state.launched_at is not None
        self.launched = state.launched_at
        await self.wait_period(1)
        for n, step in enumerate(s.steps, start=1):
            await self.period(n, step)
            for extra in step.extras:
                await self.report(extra.period, extra, wait=True)
        return await self.end(s.ending)

    async def period(self, n: int, step: Step) -> None:
        figures = (step.net, step.unlicensed)
        if step.mode == "early":
            await self.submit(n, *figures)
            if step.revised is not None:
                figures = step.revised
                await self.submit(n, *figures)
            checked = self.ends(n)
        elif step.mode == "on_time":
            checked = self.ends(n) + timedelta(hours=1)
            await skip_to(self.env, checked)
            await self.submit(n, step.net, step.unlicensed)
        else:
            checked = self.due(n)
        await skip_to(self.env, checked + timedelta(seconds=1))
        year = self.year(n)
        if step.mode in ("early", "on_time"):
            self.events.append(Report(n, self.versions[n], *figures, lines=licensed(figures[0])))
            await self.statement(f"y{year}:p{n}")
        if n % PER_YEAR:
            if step.mode in ("late", "none"):
                await wait_state(
                    self.client,
                    self.deal_id,
                    lambda st: any(p.period == n and p.status == "missing" for p in st.periods),
                    what=f"p{n} missing",
                )
            await skip_to(self.env, checked + SETTLED)
            return
        before = (await latest(self.client, self.deal_id).describe()).run_id
        for extra in step.in_review:
            await self.report(extra.period, extra, wait=False)
        await skip_to(self.env, checked + SETTLED)  # the review expires, then the true-up
        await self.statement(f"y{year}:true-up")
        self.events.append(YearEnd(year))
        if n < self.scenario.years * PER_YEAR:
            await self.continued(before)
            await self.wait_period(n + 1)

    async def end(self, ending: Ending) -> Stage:
        if ending.kind in ("renewal", "expire"):
            # The renewal decision is open: reports are queued, booked at final accounting.
            for extra in ending.extras:
                await self.report(extra.period, extra, wait=False)
            year = self.scenario.years
            if ending.kind == "renewal":
                await self.terminate(year, PER_YEAR)
            self.events.append(Final(year))
            outcome = await outcome_of(self.env, self.deal_id)
            return outcome.stage
        assert ending.period is not None
        n, year = ending.period, self.year(ending.period)
        if ending.kind == "during":
            moment = self.ends(n - 1) if n > 1 else self.launched
            now = await self.env.get_current_time()
            await skip_to(self.env, max(now, moment) + timedelta(hours=ending.hours))
            await self.terminate(year, (n - 1) % PER_YEAR)  # period n is cut short
            running = None
        else:
            # In period n's grace: the period already running (if any) is cut short and
            # its year is the final one; period n ended in full.
            await skip_to(self.env, self.ends(n) + timedelta(hours=1))
            running = n + 1 if n < self.scenario.years * PER_YEAR else None
            if running is None:
                await self.terminate(year, PER_YEAR)
            else:
                await self.terminate(self.year(running), n % PER_YEAR)
        for extra in ending.extras:
            await self.report(extra.period, extra, wait=True)
        if ending.report is not None:
            await self.report(n, Extra(n, *ending.report), wait=True)
        if running is not None and ending.next_report is not None:
            # checked once period n is settled: at once when reported, else at its due date
            wait = ending.report is not None
            await self.report(running, Extra(running, *ending.next_report), wait=wait)
        if running is not None and n % PER_YEAR == 0:
            self.events.append(YearEnd(year))  # its true-up comes at final accounting
        self.events.append(Final(self.year(running) if running else year))
        outcome = await outcome_of(self.env, self.deal_id)
        return outcome.stage

    async def terminate(self, year: int, ended: int) -> None:
        await latest(self.client, self.deal_id).signal(
            LicensingDealWorkflow.terminate_signal,
            TerminateInput(requested_by=OWNER, reason="property test"),
        )
        self.events.append(Terminate(year, ended))
        if self.scenario.ending.kind != "renewal":
            await wait_state(
                self.client,
                self.deal_id,
                lambda s: s.stage is Stage.WINDING_DOWN,
                what="winding down",
            )

    async def report(self, n: int, extra: Extra, *, wait: bool) -> None:
        """Submit the period's next version; await its statement (or its no-change note)."""
        net, unlicensed = self.figures[n] if extra.same else (extra.net, extra.unlicensed)
        before = self.figures.get(n)
        version = await self.submit(n, net, unlicensed)
        self.events.append(Report(n, version, net, unlicensed, licensed(net)))
        if not wait:
            return
        if before is None:
            await self.statement(f"y{self.year(n)}:p{n}")
        elif before == (net, unlicensed):
            detail = f"period {n} v{version}"
            await wait_state(
                self.client,
                self.deal_id,
                lambda s: any(
                    h.event == "correction_no_change" and h.detail == detail for h in s.history
                ),
                what=f"no change {detail}",
            )
        else:
            await self.statement(f"y{self.year(n)}:p{n}:v{version}")

    async def submit(self, n: int, net: Decimal, unlicensed: Decimal) -> int:
        version = self.versions.get(n, 0) + 1
        self.versions[n], self.figures[n] = version, (net, unlicensed)
        await submit_report(
            self.pool, self.client, self.deal_id, n, lines(net, unlicensed), version=version
        )
        return version

    async def statement(self, key: str) -> None:
        statement_id = f"{self.deal_id}:{key}"
        await eventually(
            lambda: statements.get(self.pool, statement_id),
            lambda row: row is not None,
            within=20,
            interval=0.05,
            what=f"statement {statement_id}",
        )

    async def wait_period(self, n: int) -> None:
        await wait_state(
            self.client,
            self.deal_id,
            lambda s: any(p.period == n for p in s.periods),
            what=f"period {n} running",
        )

    async def continued(self, before: str) -> None:
        """The run after the year end's continue-as-new has completed its first task."""
        handle = latest(self.client, self.deal_id)
        loop = asyncio.get_running_loop()
        deadline = loop.time() + 20
        while loop.time() < deadline:
            run_id = (await handle.describe()).run_id
            if run_id != before:
                history = await self.client.get_workflow_handle(
                    deal_workflow_id(self.deal_id), run_id=run_id
                ).fetch_history()
                if any(
                    e.event_type == EventType.EVENT_TYPE_WORKFLOW_TASK_COMPLETED
                    for e in history.events
                ):
                    return
            await asyncio.sleep(0.05)
        raise AssertionError(f"deal {self.deal_id} did not continue as new")


# ---- the property -----------------------------------------------------------------------


def worked(years: int, sales: list[int], ending: Ending, **extras: list[Extra]) -> Scenario:
    """The worked-check terms (8% to 500k then 10%, advance 20,000, MG 60,000), every
    report on time; `extras["p<n>"]`: reports after period n."""
    return Scenario(
        currency="EUR",
        tiers=[(D(500_000), D("0.08")), (None, D("0.10"))],
        advance=D(20_000),
        mg=D(60_000),
        policy="charge_highest_rate",
        rate=None,
        years=years,
        steps=[
            Step("on_time", D(amount), D(0), extras.get(f"p{n}", []))
            for n, amount in enumerate(sales, start=1)
        ],
        ending=ending,
    )


WORKED_TWO_YEARS = worked(
    2,
    [100_000, 150_000, 200_000, 50_000, 200_000, 250_000, 150_000, 150_000],
    Ending("expire"),
    # year 1's p2 corrected in year 2 (+35,000 to year 1), p5 corrected down (-12,000)
    p6=[Extra(2, D(500_000), D(0)), Extra(5, D(50_000), D(0))],
)
"""0/0/16,000/4,000, true-up 20,000; 16,000/20,000/14,000/15,000, no true-up; then the
corrections."""
TERMINATED_DURING_RENEWAL = worked(1, [100_000] * 4, Ending("renewal"))
"""True-up 28,000, final 0: 60,000 in all with the advance."""
TERMINATED_IN_A_YEAR_END_GRACE = worked(
    2,
    [200_000] * 3,
    Ending("grace", period=4, report=(D(200_000), D(0)), next_report=(D(50_000), D(5_000))),
)
"""p4 reported after the termination; p5, running, cut short; year 1's true-up at final
accounting, then the final statement of year 2 (MG pro rata 0 of 4)."""


@settings(
    max_examples=30,
    deadline=None,
    phases=[Phase.explicit, Phase.reuse, Phase.generate],
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
@example(scenario=WORKED_TWO_YEARS)
@example(scenario=TERMINATED_DURING_RENEWAL)
@example(scenario=TERMINATED_IN_A_YEAR_END_GRACE)
@given(scenario=scenarios())
async def test_deal_statements_match_the_reference_model(
    time_worker: WorkflowEnvironment, pool: asyncpg.Pool, task_queue: str, scenario: Scenario
) -> None:
    note(f"scenario: {scenario}")
    event(f"{scenario.years} year(s), {scenario.ending.kind}")
    driver = Driver(time_worker, pool, scenario)
    try:
        stage = await driver.run(task_queue)
    finally:
        note(f"deal {driver.deal_id}, events so far: {driver.events}")

    ending = scenario.ending.kind
    assert stage is (Stage.COMPLETED if ending == "expire" else Stage.TERMINATED)
    model = MoneyModel(scenario.ref())
    expected = model.run(driver.events)
    rows = await statements.for_deal(pool, driver.deal_id)
    prefix = f"{driver.deal_id}:"
    actual = {
        r["statement_id"].removeprefix(prefix): (r["contract_year"], r["kind"], r["amount_due"])
        for r in rows
    }
    for kind in sorted({s.kind for s in expected}):
        event(f"statement kind {kind}")
    context = f"\nscenario: {scenario}\nevents: {driver.events}\nstatements: {actual}"
    if actual != {s.id: (s.year, s.kind, s.amount) for s in expected}:
        final = await latest(time_worker.client, driver.deal_id).query(LicensingDealWorkflow.state)
        context += "".join(f"\n  {h.at} {h.event} {h.detail or ''}" for h in final.history[-60:])
    assert actual == {s.id: (s.year, s.kind, s.amount) for s in expected}, context
    issued = {r["statement_id"].removeprefix(prefix): r["issued_at"] for r in rows}
    moments = [issued[s.id] for s in expected]
    assert moments == sorted(moments), f"issue order{context}"
    for year in model.years:
        advance = scenario.advance if year == 1 else D(0)
        billed = sum((a for y, _, a in actual.values() if y == year), D(0))
        assert advance + billed == model.owed(year), f"invariant of year {year}{context}"
        if scenario.rows:
            event("rate card")
        if any(":carry:" in key for key in actual):
            event("advance carried into a later year")
    state = await latest(time_worker.client, driver.deal_id).query(LicensingDealWorkflow.state)
    ids = [s.statement_id for s in state.statements]
    assert len(ids) == len(set(ids)), f"a statement issued twice: {ids}{context}"
