"""The deal workflow's fields, restored from and carried over into `DealCarry`.

A run starts from the request (first run) or from the carry of the previous run; at
continue-as-new only recent periods, statements, reports and history are carried.
"""

from __future__ import annotations

from datetime import datetime

from domain.deal import DealRequest, Needs, Plan
from domain.deal_messages import DealCarry, DealRunInput, ReportKey
from domain.lifecycle import (
    HistoryEntry,
    KpiStatus,
    PeriodRecord,
    SignatureEvent,
    Stage,
    Statement,
    TaskDecisionInput,
    TerminateInput,
    YearSummary,
)
from domain.royalty import ContractYearLedger
from domain.schedule import contract_year_of
from workflows.human_tasks import TaskBoard

HISTORY_IN_MEMORY = 300
HISTORY_CARRIED = 60


class DealFields:
    """The state of one deal run; mixins of the workflow read and write these fields."""

    _req: DealRequest
    _stage: Stage
    _plan: Plan
    _plan_version: int
    _needs: Needs | None
    _partners: list[str]
    _partner_index: int
    _partner_id: str | None
    _partner_contact: str | None
    _signature_round: int
    _envelope_id: str | None
    _launched_at: datetime | None
    _term_periods: int
    _next_period: int
    _ledger: ContractYearLedger | None
    _periods: dict[int, PeriodRecord]
    _statements: list[Statement]
    _years: list[YearSummary]
    _kpi_history: list[KpiStatus]
    _kpi_status: KpiStatus
    _reports: dict[int, int]
    _seen: set[tuple[int, int]]
    _board: TaskBoard
    _history: list[HistoryEntry]
    _run: int
    _decisions: dict[str, TaskDecisionInput]
    _acked: set[str]
    _termination: TerminateInput | None
    _signature: SignatureEvent | None
    _corrections: list[int]
    _reason: str | None
    _recorded: bool
    _created_by: str | None
    _request_id: str | None

    def _restore(self, params: DealRunInput) -> None:
        """Initialise the fields from the request, or from the previous run's carry."""
        req = params.request
        carry = params.carry or DealCarry(
            stage=Stage.NEEDS_ANALYSIS,
            plan=req.plan,
            needs=req.needs,
            partners=list(req.partners),
            term_periods=req.schedule.term_periods,
        )
        self._req = req
        self._stage = carry.stage
        self._plan = carry.plan
        self._plan_version = carry.plan_version
        self._needs = carry.needs
        self._partners = list(carry.partners)
        self._partner_index = carry.partner_index
        self._partner_id = carry.partner_id
        self._partner_contact = carry.partner_contact
        self._signature_round = carry.signature_round
        self._envelope_id = carry.envelope_id
        self._launched_at = carry.launched_at
        self._term_periods = carry.term_periods
        self._next_period = carry.next_period
        self._ledger = carry.ledger
        self._periods = {p.period: p for p in carry.periods}
        self._statements = list(carry.statements)
        self._years = list(carry.years)
        self._kpi_history = list(carry.kpi_history)
        self._kpi_status = carry.kpi_status
        self._reports = {}
        for key in carry.reports:
            self._reports[key.period] = max(key.version, self._reports.get(key.period, 0))
        self._seen = {(k.period, k.version) for k in carry.reports}
        self._board = TaskBoard(carry.tasks)
        self._history = list(carry.history)
        self._run = carry.run
        self._decisions = {}
        self._acked = set()
        self._termination = None
        self._signature = None
        self._corrections = list(carry.corrections)
        self._reason = None
        self._recorded = params.carry is not None
        self._created_by = params.created_by
        self._request_id = params.request_id

    def _carry_over(self) -> DealRunInput:
        """The next run's input: the request and the state worth carrying."""
        year = self._contract_year()
        return DealRunInput(
            request=self._req,
            carry=DealCarry(
                stage=self._stage,
                plan=self._plan,
                plan_version=self._plan_version,
                needs=self._needs,
                partners=self._partners,
                partner_index=self._partner_index,
                partner_id=self._partner_id,
                partner_contact=self._partner_contact,
                signature_round=self._signature_round,
                envelope_id=self._envelope_id,
                launched_at=self._launched_at,
                term_periods=self._term_periods,
                next_period=self._next_period,
                ledger=self._ledger,
                periods=[p for p in self._periods.values() if p.contract_year >= year - 1],
                statements=[s for s in self._statements if s.contract_year >= year - 1],
                years=self._years,
                kpi_history=self._kpi_history[-2:],
                reports=[
                    ReportKey(period=p, version=v)
                    for p, v in sorted(self._reports.items())
                    if self._periods.get(p) is None or self._periods[p].contract_year >= year
                ],
                tasks=self._board.open_tasks(),
                history=self._history[-HISTORY_CARRIED:],
                kpi_status=self._kpi_status,
                run=self._run + 1,
                corrections=list(self._corrections),
            ),
        )

    def _contract_year(self) -> int:
        if self._ledger is not None:
            return self._ledger.contract_year
        return contract_year_of(max(self._next_period, 1), self._req.schedule.periods_per_year)
