"""Signals from systems: e-signature outcomes and persisted sales reports.

Rules: only the first settling event of the current envelope counts; a sales report is
registered once per (period, version), a lower version than the latest is stale, and a
newer version for a period already checked or missing (or, with year books, for a period of
an earlier contract year) is queued as a correction.
"""

from __future__ import annotations

from domain.deal_messages import SalesReportReceived, SignatureEvent
from domain.deal_state import ReportKey
from workflows.deal.run import DealRun


class DealEvents:
    """Settle the current envelope; register sales reports and queue corrections."""

    def __init__(self, run: DealRun) -> None:
        self._run = run

    def settle_signature(self, event: SignatureEvent, kind: str) -> None:
        run, state = self._run, self._run.state
        if event.envelope_id != state.envelope_id or state.signature is not None:
            run.note(
                "signature_event_ignored",
                by=event.by,
                detail=f"{kind} for {event.envelope_id} (current {state.envelope_id})",
            )
            return
        state.signature = event.model_copy(
            update={"event": "completed" if kind == "completed" else "declined"}
        )
        run.note(f"signature_{kind}", by=event.by, detail=event.envelope_id)

    def report_received(self, inp: SalesReportReceived) -> None:
        run, state = self._run, self._run.state
        period, version = inp.reported_period, inp.version
        key = ReportKey(period=period, version=version)
        if key in state.reports:
            run.note("report_duplicate_ignored", detail=f"period {period} v{version}")
            return
        if period > run.last_reportable_period():
            run.note("report_ignored", detail=f"period {period} is beyond the term")
            return
        latest = state.latest_report(period)
        state.reports.append(key)
        if version <= latest:
            run.note("report_stale_ignored", detail=f"period {period} v{version}")
            return
        run.note("report_received", detail=f"period {period} v{version}")
        record = state.periods.get(period)
        if record is None and period < state.next_period:
            if run.year_books:
                # a period of an earlier contract year: its year book re-bills it
                if period not in state.corrections:
                    state.corrections.append(period)
                return
            run.note("report_ignored", detail=f"period {period} belongs to a closed year")
            return
        if record is not None and record.status in ("checked", "missing"):
            if period not in state.corrections:
                state.corrections.append(period)
