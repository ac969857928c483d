"""Signals from systems: e-signature outcomes and persisted sales reports."""

from __future__ import annotations

from temporalio import workflow

from domain.lifecycle import SalesReportReceived, SignatureEvent
from workflows.deal.task_waits import TaskWaits


class EventSignals(TaskWaits):
    """Settle the current envelope; register sales reports and queue corrections."""

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
