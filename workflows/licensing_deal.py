"""LicensingDeal: one durable workflow per deal, from needs analysis to the end of the term.

Stages: needs_analysis -> planning -> implementation -> monitoring <-> maintenance ->
completed; `terminate` at any stage ends in terminated; expired human waits end in
cancelled. The run continues as new at each contract-year boundary.

Rules decided here (documented for the API and operators):

* Reports may arrive early (before the period ends); a period is checked at its end or as
  soon as the report arrives during the grace. Reminder at half the grace, then `missing`.
* A late report for a `missing` period, or a higher version for a `checked` period of the
  current contract year, is re-checked at the next wake-up of the workflow; a changed net
  sales amount is booked as an adjustment statement `<deal>:y<year>:p<period>:v<version>`
  through the year's royalty ledger. Reports for closed contract years are only noted.
* Final statement on terminate: the current contract year's minimum guarantee pro rata to
  the periods that have ended in that year, minus what the year already covers
  (max(earned, advance credit, invoiced)); never negative. Only once the deal has launched.
* Signature declined or not completed within 3x the decision SLA cancels the deal.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime, timedelta
from decimal import Decimal

from temporalio import workflow
from temporalio.exceptions import ApplicationError, ChildWorkflowError

from domain import errors
from domain.activity_io import RECORD_AUDIT, AuditEntry
from domain.approval import PartnerApprovalInput, PartnerApprovalResult
from domain.approval_messages import WithdrawInput
from domain.deal import Plan
from domain.deal_messages import (
    COMPILE_REVIEW,
    PLAN_DECISIONS,
    RENEWAL_DECISIONS,
    REQUEST_SIGNATURE,
    REVIEW_DECISIONS,
    SIGNATURE_DECISIONS,
    TERMINAL_STAGES,
    DealOutcome,
    DealRunInput,
    EnvelopeRef,
    RequestSignatureInput,
    ReviewInput,
    ReviewPack,
    Signatory,
)
from domain.ids import partner_approval_id
from domain.kpi import early_review_due
from domain.lifecycle import (
    AddPartnersInput,
    DealState,
    KpiStatus,
    PeriodRecord,
    RevisePlanInput,
    SalesReportReceived,
    SignatureEvent,
    Stage,
    Statement,
    SubmitNeedsInput,
    TaskDecisionInput,
    TerminateInput,
    YearSummary,
)
from domain.partner import PartnerProfile
from domain.royalty import apply_period, close_year, open_year, to_cents
from domain.schedule import (
    contract_year_of,
    is_review_period,
    is_year_end,
    period_end,
    period_start,
    report_due,
)
from domain.tasks import Task, TaskKind
from workflows.deal.stops import Cancelled, Terminated, refuse
from workflows.deal.task_waits import TaskWaits

DECIDABLE = {TaskKind.PLAN_APPROVAL, TaskKind.REVIEW_DECISION, TaskKind.RENEWAL_DECISION}


@workflow.defn(name="LicensingDeal")
class LicensingDealWorkflow(TaskWaits):
    """The whole lifecycle of one licensing deal (workflow id `deal-<deal_id>`)."""

    @workflow.init
    def __init__(self, params: DealRunInput) -> None:
        self._restore(params)

    # ---- run -----------------------------------------------------------------------------

    @workflow.run
    async def run(self, params: DealRunInput) -> DealOutcome:
        self._publish()
        try:
            if self._stage is Stage.NEEDS_ANALYSIS:
                await self._needs_analysis()
            if self._stage is Stage.PLANNING:
                await self._planning()
            if self._stage is Stage.IMPLEMENTATION:
                await self._implementation()
            if self._stage in (Stage.MONITORING, Stage.MAINTENANCE):
                await self._operate()
        except Terminated:
            await self._terminate()
        except Cancelled as stop:
            await self._finish(Stage.CANCELLED, stop.reason)
        return DealOutcome(
            deal_id=self._req.deal_id,
            stage=self._stage,
            reason=self._reason,
            partner_id=self._partner_id,
            plan_version=self._plan_version,
            contract_year=self._contract_year(),
            years=self._years,
        )

    # ---- stages --------------------------------------------------------------------------

    async def _needs_analysis(self) -> None:
        await self._sync()
        if self._needs is None:
            task = self._open(
                "needs",
                TaskKind.NEEDS,
                "Submit the needs analysis (objectives and audience)",
                self._owners(),
                ["submit"],
            )
            expired = await self._human_wait(task, lambda: self._needs is not None)
            if expired:
                raise Cancelled("needs analysis not submitted in time")
        self._acked.add("needs")
        await self._enter(Stage.PLANNING, "needs analysed")

    async def _planning(self) -> None:
        while True:
            local = f"plan-v{self._plan_version}"
            task = self._board.get(self._task_id(local)) or self._open(
                local,
                TaskKind.PLAN_APPROVAL,
                f"Approve plan v{self._plan_version} of {self._req.title}",
                list(self._req.plan_approvers),
                PLAN_DECISIONS,
                version=self._plan_version,
            )
            self._acked.add(f"revise-{self._plan_version}")
            if await self._human_wait(task, lambda t=task.task_id: t in self._decisions):
                raise Cancelled(f"plan v{self._plan_version} not approved in time")
            decision = self._take(task.task_id)
            if decision.decision == "approve":
                break
            revision = self._open(
                f"revise-v{self._plan_version}",
                TaskKind.PLAN_REVISION,
                f"Revise plan v{self._plan_version}: {decision.comment}",
                self._owners(),
                ["revise"],
                version=self._plan_version,
            )
            rejected = self._plan_version
            if await self._human_wait(revision, lambda r=rejected: self._plan_version > r):
                raise Cancelled(f"plan v{rejected} rejected and not revised in time")
        await self._enter(Stage.IMPLEMENTATION, f"plan v{self._plan_version} approved")

    async def _implementation(self) -> None:
        if self._partner_id is None:
            await self._select_partner()
        if self._launched_at is None:
            await self._collect_signatures()
            self._launched_at = self._req.schedule.start or workflow.now()
            self._note("launched", detail=self._launched_at.isoformat())
            await self._notify(
                self._partner_contact or self._req.licensor_signatory,
                "deal_launched",
                f"Deal {self._req.title} is signed and launched",
                "launch",
            )
        await self._enter(Stage.MONITORING, "contract signed, deal launched")

    async def _select_partner(self) -> None:
        while True:
            while self._partner_index < len(self._partners):
                partner_id = self._partners[self._partner_index]
                self._partner_index += 1
                profile = await self._load_partner(partner_id)
                if profile is None:
                    continue
                result = await self._approve_partner(profile)
                if result is not None and result.outcome == "approved":
                    self._partner_id = partner_id
                    self._partner_contact = profile.contact_user
                    self._note("partner_approved", detail=partner_id)
                    self._publish()
                    return
            local = f"partner-selection-{self._partner_index}"
            task = self._open(
                local,
                TaskKind.PARTNER_SELECTION,
                "No partner approved: add partner candidates",
                self._owners(),
                ["add_partners"],
            )
            tried = self._partner_index
            if await self._human_wait(task, lambda t=tried: len(self._partners) > t):
                raise Cancelled("no partner approved and none added in time")

    async def _approve_partner(self, profile: PartnerProfile) -> PartnerApprovalResult | None:
        child_id = partner_approval_id(self._req.deal_id, profile.partner_id)
        handle = await workflow.start_child_workflow(
            "PartnerApproval",
            PartnerApprovalInput(
                deal_id=self._req.deal_id,
                partner=profile,
                scope=self._plan.scope,
                requester=self._owners()[0],
                chain=self._req.partner_approval_chain,
                decision_sla=self._req.schedule.decision_sla,
            ),
            id=child_id,
            task_queue=workflow.info().task_queue,
            result_type=PartnerApprovalResult,
            static_summary=f"Partner approval of {profile.partner_id} for deal {self._req.deal_id}",
        )
        self._note("partner_approval_started", detail=child_id)
        await workflow.wait_condition(lambda: handle.done() or self._termination is not None)
        if not handle.done():
            await handle.signal(
                "withdraw",
                WithdrawInput(requested_by=self._termination_by(), reason="deal terminated"),
            )
            try:
                await workflow.wait_condition(handle.done, timeout=timedelta(minutes=5))
            except TimeoutError:
                handle.cancel()
            raise Terminated()
        try:
            result = handle.result()
        except ChildWorkflowError as err:
            self._note("partner_approval_failed", detail=f"{profile.partner_id}: {err.cause}")
            return None
        self._note(f"partner_{result.outcome}", detail=profile.partner_id)
        return result

    async def _collect_signatures(self) -> None:
        self._signature_round += 1
        local = f"signature-{self._signature_round}"
        ref = await self._activity(
            REQUEST_SIGNATURE,
            RequestSignatureInput(
                idempotency_key=self._task_id(local),
                deal_id=self._req.deal_id,
                workflow_id=workflow.info().workflow_id,
                title=self._req.title,
                partner_id=self._partner_id or "",
                plan_version=self._plan_version,
                signatories=[
                    Signatory(user=self._req.licensor_signatory, role="licensor"),
                    Signatory(user=self._partner_contact or "", role="licensee"),
                ],
            ),
            EnvelopeRef,
        )
        self._envelope_id = ref.envelope_id
        self._signature = None
        self._note("signature_requested", detail=f"{ref.provider}:{ref.envelope_id}")
        task = self._open(
            local,
            TaskKind.SIGNATURE,
            f"Sign the licensing contract of {self._req.title}",
            [self._req.licensor_signatory, self._partner_contact or ""],
            SIGNATURE_DECISIONS,
        )
        if await self._human_wait(task, lambda: self._signature is not None):
            raise Cancelled("signature not completed in time")
        event = self._signature
        assert event is not None
        outcome = "signed" if event.event == "completed" else "declined"
        self._board.close(task.task_id, outcome, by=event.by, detail=event.reason)
        self._publish()
        if outcome == "declined":
            raise Cancelled(f"signature declined by {event.by or 'a signatory'}")

    async def _operate(self) -> None:
        schedule = self._req.schedule
        while self._next_period <= self._term_periods:
            period = self._next_period
            year = contract_year_of(period, schedule.periods_per_year)
            if self._ledger is None or self._ledger.contract_year != year:
                self._ledger = open_year(year, self._req.terms)
            await self._run_period(period)
            self._next_period = period + 1
            early = self._early_review_due()
            if is_review_period(period, schedule.periods_per_review) or early:
                await self._review(period, early=early)
            if is_year_end(period, schedule.periods_per_year):
                await self._close_year()
                if period == self._term_periods:
                    await self._renewal(year)
                if self._next_period <= self._term_periods:
                    await self._continue_as_new()
            elif workflow.info().is_continue_as_new_suggested():
                await self._continue_as_new()
        await self._finish(Stage.COMPLETED, "term ended")

    # ---- periods -------------------------------------------------------------------------

    async def _run_period(self, n: int) -> None:
        schedule, launch = self._req.schedule, self._launched_at
        assert launch is not None
        ends = period_end(launch, schedule.period, n)
        due = report_due(ends, schedule.report_grace)
        self._periods[n] = PeriodRecord(
            period=n,
            contract_year=contract_year_of(n, schedule.periods_per_year),
            starts_at=period_start(launch, schedule.period, n),
            ends_at=ends,
            report_due_at=due,
        )
        self._publish()
        await self._wait_until(lambda: False, ends)
        if not await self._wait_until(lambda: n in self._reports, ends + (due - ends) / 2):
            self._note("report_reminder", detail=f"period {n}")
            await self._notify(
                self._partner_contact or self._owners()[0],
                "report_reminder",
                f"Sales report for period {n} is due {due.isoformat()}",
                f"report-{n}",
            )
            await self._wait_until(lambda: n in self._reports, due)
        if n in self._reports and await self._check_period(n):
            return
        self._mark_missing(n)

    def _mark_missing(self, n: int) -> None:
        self._periods[n] = self._periods[n].model_copy(
            update={"status": "missing", "kpi_status": KpiStatus.MISSING}
        )
        self._kpi_history.append(KpiStatus.MISSING)
        self._kpi_status = KpiStatus.MISSING
        self._note("report_missing", detail=f"period {n}")
        self._publish()

    async def _check_period(self, n: int) -> bool:
        """Check period n's latest report and invoice it; False when no report is stored."""
        result = await self._check(n)
        if not result.report_exists:
            self._note("report_not_found", detail=f"period {n}")
            return False
        record, ledger = self._periods[n], self._ledger
        assert ledger is not None
        self._ledger, charge = apply_period(
            ledger, result.check.net_sales, self._req.terms, record.contract_year
        )
        self._periods[n] = record.model_copy(
            update={
                "status": "checked",
                "net_sales": result.check.net_sales,
                "unlicensed_net_sales": result.check.unlicensed_net_sales,
                "royalty_earned": charge.royalty_earned,
                "kpi_status": result.kpi_status,
                "report_version": result.version,
            }
        )
        if record.status != "missing":
            self._kpi_history.append(result.kpi_status)
        self._kpi_status = result.kpi_status
        await self._issue(
            Statement(
                statement_id=f"{self._req.deal_id}:y{record.contract_year}:p{n}",
                kind="period",
                contract_year=record.contract_year,
                period=n,
                net_sales=result.check.net_sales,
                royalty_earned=charge.royalty_earned,
                guaranteed_due=charge.guaranteed_due,
                amount_due=charge.amount_due,
                currency=self._req.terms.currency,
                issued_at=workflow.now(),
            ),
            {"report_version": result.version, "earned_to_date": str(charge.earned_to_date)},
        )
        if result.check.unlicensed_lines:
            self._note(
                "unlicensed_sales",
                detail=f"period {n}: {result.check.unlicensed_net_sales} outside the scope",
            )
            await self._notify(
                self._owners()[0],
                "unlicensed_sales",
                f"Unlicensed sales in period {n}: {result.check.unlicensed_net_sales}",
                f"unlicensed-{n}-v{result.version}",
            )
        self._note("period_checked", detail=f"period {n}: {result.kpi_status.value}")
        self._publish()
        return True

    async def _apply_corrections(self) -> None:
        while self._corrections:
            n = self._corrections.pop(0)
            record = self._periods.get(n)
            if record is None or self._ledger is None:
                continue
            if record.contract_year != self._ledger.contract_year:
                self._note("correction_ignored", detail=f"period {n}: contract year closed")
                continue
            if record.status == "missing":
                await self._check_period(n)
                continue
            await self._adjust(record)

    async def _adjust(self, record: PeriodRecord) -> None:
        result = await self._check(record.period)
        if not result.report_exists or result.version == record.report_version:
            return
        delta = result.check.net_sales - record.net_sales
        ledger = self._ledger
        assert ledger is not None
        self._periods[record.period] = record.model_copy(
            update={
                "net_sales": result.check.net_sales,
                "unlicensed_net_sales": result.check.unlicensed_net_sales,
                "kpi_status": result.kpi_status,
                "report_version": result.version,
            }
        )
        if delta == 0:
            self._note("correction_no_change", detail=f"period {record.period} v{result.version}")
            return
        self._ledger, charge = apply_period(ledger, delta, self._req.terms, record.contract_year)
        self._periods[record.period] = self._periods[record.period].model_copy(
            update={"royalty_earned": record.royalty_earned + charge.royalty_earned}
        )
        await self._issue(
            Statement(
                statement_id=(
                    f"{self._req.deal_id}:y{record.contract_year}:p{record.period}"
                    f":v{result.version}"
                ),
                kind="period",
                contract_year=record.contract_year,
                period=record.period,
                net_sales=delta,
                royalty_earned=charge.royalty_earned,
                guaranteed_due=charge.guaranteed_due,
                amount_due=charge.amount_due,
                currency=self._req.terms.currency,
                issued_at=workflow.now(),
            ),
            {"adjustment": True, "report_version": result.version},
        )
        self._note("correction_applied", detail=f"period {record.period}: {delta:+}")

    async def _close_year(self) -> None:
        ledger = self._ledger
        assert ledger is not None
        true_up = close_year(ledger, self._req.terms)
        year = ledger.contract_year
        await self._issue(
            Statement(
                statement_id=f"{self._req.deal_id}:y{year}:true-up",
                kind="true_up",
                contract_year=year,
                net_sales=true_up.ytd_net_sales,
                royalty_earned=true_up.earned,
                guaranteed_due=true_up.minimum_guarantee,
                amount_due=true_up.amount_due,
                currency=self._req.terms.currency,
                issued_at=workflow.now(),
            ),
            {"invoiced": str(true_up.invoiced), "advance_credit": str(true_up.advance_credit)},
        )
        self._years.append(
            YearSummary(
                contract_year=year,
                net_sales=true_up.ytd_net_sales,
                royalty_earned=true_up.earned,
                invoiced=true_up.invoiced,
                true_up=true_up.amount_due,
            )
        )
        self._note("year_closed", detail=f"year {year}: true-up {true_up.amount_due}")

    # ---- maintenance ---------------------------------------------------------------------

    def _early_review_due(self) -> bool:
        return early_review_due(self._kpi_history)

    async def _review(self, period: int, *, early: bool) -> None:
        await self._enter(Stage.MAINTENANCE, f"{'early ' if early else ''}review after {period}")
        record = self._periods[period]
        pack = await self._activity(
            COMPILE_REVIEW,
            ReviewInput(
                deal_id=self._req.deal_id,
                period=period,
                contract_year=record.contract_year,
                partner_id=self._partner_id or "",
                early=early,
                periods=[p for p in self._periods.values() if p.status != "open"],
            ),
            ReviewPack,
        )
        self._kpi_history.clear()
        task = self._open(
            f"review-{period}",
            TaskKind.REVIEW_DECISION,
            pack.summary,
            self._owners(),
            REVIEW_DECISIONS,
            version=self._plan_version,
        )
        if await self._human_wait(task, lambda: task.task_id in self._decisions):
            self._board.close(task.task_id, "continue", detail="default at timeout")
            self._note("review_default_continue", detail=task.task_id)
        else:
            decision = self._take(task.task_id)
            if decision.decision == "terminate":
                self._termination = TerminateInput(
                    requested_by=decision.decided_by,
                    reason=decision.comment or f"terminated at review {period}",
                )
                raise Terminated()
            if decision.decision == "amend" and decision.plan is not None:
                self._amend(decision.plan, decision.decided_by)
        await self._enter(Stage.MONITORING, f"review {period} done")

    def _amend(self, plan: Plan, by: str) -> None:
        self._plan = plan
        self._plan_version += 1
        self._note("plan_amended", by=by, detail=f"plan v{self._plan_version}")

    async def _renewal(self, year: int) -> None:
        await self._enter(Stage.MAINTENANCE, "term end: renewal decision")
        task = self._open(
            f"renewal-{year}",
            TaskKind.RENEWAL_DECISION,
            f"Renew {self._req.title} or let it expire",
            self._owners(),
            RENEWAL_DECISIONS,
        )
        if await self._human_wait(task, lambda: task.task_id in self._decisions):
            self._board.close(task.task_id, "expire", detail="default at timeout")
            self._note("renewal_default_expire", detail=task.task_id)
            return
        decision = self._take(task.task_id)
        if decision.decision == "renew" and decision.renew_periods:
            self._term_periods += decision.renew_periods
            self._note("renewed", by=decision.decided_by, detail=f"+{decision.renew_periods}")
            await self._enter(Stage.MONITORING, f"renewed to {self._term_periods} periods")

    async def _continue_as_new(self) -> None:
        await workflow.wait_condition(
            lambda: workflow.all_handlers_finished() or self._termination is not None
        )
        self._raise_if_terminating()
        workflow.continue_as_new(self._carry_over())

    # ---- endings -------------------------------------------------------------------------

    async def _terminate(self) -> None:
        request = self._termination
        assert request is not None
        if self._launched_at is not None:
            await self._issue(self._final_statement(), {"reason": request.reason})
        if self._partner_contact is not None:
            await self._notify(
                self._partner_contact,
                "deal_terminated",
                f"Deal {self._req.title} was terminated: {request.reason}",
                "terminated",
            )
        await self._finish(Stage.TERMINATED, request.reason, by=request.requested_by)

    def _final_statement(self) -> Statement:
        schedule, terms = self._req.schedule, self._req.terms
        year = self._contract_year()
        ledger = self._ledger
        if ledger is None or ledger.contract_year != year:
            ledger = open_year(year, terms)
        ended = [
            p for p in self._periods.values() if p.contract_year == year and p.status != "open"
        ]
        pro_rata = to_cents(
            terms.minimum_guarantee_per_year * Decimal(len(ended)) / schedule.periods_per_year
        )
        covered = max(to_cents(ledger.earned), ledger.advance_credit, ledger.invoiced)
        return Statement(
            statement_id=f"{self._req.deal_id}:final",
            kind="final",
            contract_year=year,
            net_sales=ledger.ytd_net_sales,
            royalty_earned=to_cents(ledger.earned),
            guaranteed_due=pro_rata,
            amount_due=max(Decimal(0), pro_rata - covered),
            currency=terms.currency,
            issued_at=workflow.now(),
        )

    async def _finish(self, stage: Stage, reason: str, *, by: str | None = None) -> None:
        for task in self._board.open_tasks():
            self._board.close(task.task_id, "cancelled", detail=stage.value)
        self._reason = reason
        await self._enter(stage, reason, by=by)
        await self._notify(self._owners()[0], f"deal_{stage.value}", reason, stage.value)
        await self._activity(
            RECORD_AUDIT,
            AuditEntry(
                idempotency_key=f"{workflow.info().workflow_id}:{stage.value}",
                actor=by or "licenseflow",
                action=f"deal.{stage.value}",
                deal_id=self._req.deal_id,
                workflow_id=workflow.info().workflow_id,
                detail={"reason": reason},
            ),
            bool,
        )

    # ---- helpers: waiting ----------------------------------------------------------------

    async def _wait_until(self, cond: Callable[[], bool], deadline: datetime) -> bool:
        """Wait for `cond()` until `deadline`, applying report corrections meanwhile."""
        while True:
            self._raise_if_terminating()
            await self._apply_corrections()
            if cond():
                return True
            remaining = deadline - workflow.now()
            if remaining <= timedelta(0):
                return False
            try:
                await workflow.wait_condition(
                    lambda: cond() or self._termination is not None or bool(self._corrections),
                    timeout=remaining,
                )
            except TimeoutError:
                self._raise_if_terminating()
                return cond()

    # ---- updates and signals -------------------------------------------------------------

    def _check_owner(self, user: str) -> None:
        if user not in self._owners():
            raise refuse(f"{user} is not the owner of deal {self._req.deal_id}", errors.FORBIDDEN)

    def _check_live(self) -> None:
        if self._stage in TERMINAL_STAGES or self._termination is not None:
            raise refuse(f"deal is {self._stage.value}", errors.CONFLICT)

    @workflow.update
    async def submit_needs(self, inp: SubmitNeedsInput) -> DealState:
        """Owner submits the missing needs analysis."""
        self._needs = inp.needs
        task_id = self._task_id("needs")
        if self._board.get(task_id) and not self._board.get(task_id).closed_at:
            self._board.close(task_id, "submitted", by=inp.submitted_by)
        self._note("needs_submitted", by=inp.submitted_by)
        self._publish()
        await workflow.wait_condition(lambda: "needs" in self._acked or self._is_final())
        return self.state()

    @submit_needs.validator
    def _validate_submit_needs(self, inp: SubmitNeedsInput) -> None:
        self._check_live()
        if self._stage is not Stage.NEEDS_ANALYSIS or self._needs is not None:
            raise refuse("needs were already analysed", errors.CONFLICT)
        self._check_owner(inp.submitted_by)
        kinds = [o.kind for o in inp.needs.objectives]
        if len(kinds) != len(set(kinds)):
            raise refuse("each objective kind may appear once", errors.INVALID)

    @workflow.update
    async def revise_plan(self, inp: RevisePlanInput) -> DealState:
        """Owner revises a rejected plan: a new plan version goes to approval."""
        revision = self._open_revision()
        assert revision is not None
        self._plan = inp.plan
        self._plan_version += 1
        self._board.close(revision.task_id, "revised", by=inp.submitted_by, detail=inp.comment)
        self._note("plan_revised", by=inp.submitted_by, detail=f"plan v{self._plan_version}")
        self._publish()
        key = f"revise-{self._plan_version}"
        await workflow.wait_condition(lambda: key in self._acked or self._is_final())
        return self.state()

    @revise_plan.validator
    def _validate_revise_plan(self, inp: RevisePlanInput) -> None:
        self._check_live()
        if self._stage is not Stage.PLANNING or self._open_revision() is None:
            raise refuse("no rejected plan is waiting for a revision", errors.CONFLICT)
        self._check_owner(inp.submitted_by)

    def _open_revision(self) -> Task | None:
        return next((t for t in self._board.open_tasks() if t.kind is TaskKind.PLAN_REVISION), None)

    @workflow.update
    async def add_partners(self, inp: AddPartnersInput) -> DealState:
        """Owner adds partner candidates while no partner is approved."""
        pending = set(self._partners[self._partner_index :])
        added = [p for p in dict.fromkeys(inp.partners) if p not in pending]
        self._partners.extend(added)
        for task in self._board.open_tasks():
            if task.kind is TaskKind.PARTNER_SELECTION:
                self._board.close(task.task_id, "partners_added", by=inp.submitted_by)
        self._note("partners_added", by=inp.submitted_by, detail=", ".join(added))
        self._publish()
        return self.state()

    @add_partners.validator
    def _validate_add_partners(self, inp: AddPartnersInput) -> None:
        self._check_live()
        if self._stage is not Stage.IMPLEMENTATION or self._partner_id is not None:
            raise refuse("partners can only be added before one is approved", errors.CONFLICT)
        self._check_owner(inp.submitted_by)

    @workflow.update
    async def decide_task(self, inp: TaskDecisionInput) -> DealState:
        """Decide a plan approval, review or renewal task."""
        task = self._apply_decision(inp)
        await workflow.wait_condition(lambda: task.task_id in self._acked or self._is_final())
        return self.state()

    @decide_task.validator
    def _validate_decide_task(self, inp: TaskDecisionInput) -> None:
        self._check_decision(inp)

    @workflow.signal
    def decide_task_signal(self, inp: TaskDecisionInput) -> None:
        """Ops tooling: same as `decide_task`; invalid decisions are noted, not applied."""
        try:
            self._check_decision(inp)
        except ApplicationError as refused:
            self._note("signal_rejected", by=inp.decided_by, detail=f"decide_task: {refused}")
            return
        self._apply_decision(inp)

    def _check_decision(self, inp: TaskDecisionInput) -> Task:
        self._check_live()
        task = self._board.get(self._full_task_id(inp.task_id))
        if task is None:
            raise refuse(f"no task {inp.task_id}", errors.NOT_FOUND)
        if task.closed_at is not None or task.task_id in self._decisions:
            raise refuse(f"task {inp.task_id} is already {task.outcome}", errors.CONFLICT)
        if task.kind not in DECIDABLE:
            raise refuse(f"{task.kind.value} tasks are not decided here", errors.CONFLICT)
        if inp.decided_by not in task.assignees:
            raise refuse(f"{inp.decided_by} is not assigned to {inp.task_id}", errors.FORBIDDEN)
        if inp.decision not in task.allowed_decisions:
            allowed = ", ".join(task.allowed_decisions)
            raise refuse(f"decision must be one of {allowed}", errors.INVALID)
        if inp.decision == "reject" and not (inp.comment and inp.comment.strip()):
            raise refuse("a rejection needs a comment", errors.INVALID)
        if inp.decision == "amend" and inp.plan is None:
            raise refuse("an amendment needs the new plan", errors.INVALID)
        if inp.decision == "renew":
            per_year = self._req.schedule.periods_per_year
            if not inp.renew_periods or inp.renew_periods % per_year:
                raise refuse(
                    f"renew_periods must be a multiple of {per_year} periods", errors.INVALID
                )
        return task

    def _apply_decision(self, inp: TaskDecisionInput) -> Task:
        task_id = self._full_task_id(inp.task_id)
        self._decisions[task_id] = inp
        task = self._board.close(task_id, inp.decision, by=inp.decided_by, detail=inp.comment)
        self._note("task_decided", by=inp.decided_by, detail=f"{task_id}: {inp.decision}")
        self._publish()
        return task

    @workflow.update
    async def terminate(self, inp: TerminateInput) -> DealState:
        """Owner terminates the deal at any stage: final statement, partner notified."""
        self._request_termination(inp)
        await workflow.wait_condition(self._is_final)
        return self.state()

    @terminate.validator
    def _validate_terminate(self, inp: TerminateInput) -> None:
        self._check_live()
        self._check_owner(inp.requested_by)

    @workflow.signal
    def terminate_signal(self, inp: TerminateInput) -> None:
        """Ops tooling: same as `terminate`; invalid requests are noted, not applied."""
        try:
            self._validate_terminate(inp)
        except ApplicationError as refused:
            self._note("signal_rejected", by=inp.requested_by, detail=f"terminate: {refused}")
            return
        self._request_termination(inp)

    def _request_termination(self, inp: TerminateInput) -> None:
        self._termination = inp
        self._note("terminate_requested", by=inp.requested_by, detail=inp.reason)

    @workflow.signal
    def signature_completed(self, event: SignatureEvent) -> None:
        """Every signatory signed the current envelope."""
        self._settle_signature(event, "completed")

    @workflow.signal
    def signature_declined(self, event: SignatureEvent) -> None:
        """A signatory declined (or the provider voided) the current envelope."""
        self._settle_signature(event, "declined")

    def _settle_signature(self, event: SignatureEvent, kind: str) -> None:
        if event.envelope_id != self._envelope_id or self._signature is not None:
            self._note(
                "signature_event_ignored",
                by=event.by,
                detail=f"{kind} for {event.envelope_id} (current {self._envelope_id})",
            )
            return
        self._signature = event.model_copy(
            update={"event": "completed" if kind == "completed" else "declined"}
        )
        self._note(f"signature_{kind}", by=event.by, detail=event.envelope_id)

    @workflow.signal
    def sales_report_received(self, inp: SalesReportReceived) -> None:
        """A partner's report (already persisted) arrived; duplicates by (period, version)."""
        period, version = inp.report.period, inp.version
        if (period, version) in self._seen:
            self._note("report_duplicate_ignored", detail=f"period {period} v{version}")
            return
        if period > self._term_periods:
            self._note("report_ignored", detail=f"period {period} is beyond the term")
            return
        self._seen.add((period, version))
        if version <= self._reports.get(period, 0):
            self._note("report_stale_ignored", detail=f"period {period} v{version}")
            return
        self._reports[period] = version
        self._note("report_received", detail=f"period {period} v{version}")
        record = self._periods.get(period)
        if record is None and period < self._next_period:
            self._note("report_ignored", detail=f"period {period} belongs to a closed year")
            return
        if record is not None and record.status in ("checked", "missing"):
            if period not in self._corrections:
                self._corrections.append(period)
