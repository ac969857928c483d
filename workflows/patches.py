"""Every `workflow.patched` id, with why it exists and when it can be deprecated.

A patch keeps histories recorded before a behaviour change replaying: new runs take the
new branch, old runs replay the old one. To retire a patch: once no run started before it
is open (check with `temporal workflow list --query 'ExecutionStatus="Running" AND
StartTime < "<patch release date>"'`), replace `patched(ID)` with `deprecate_patch(ID)`
for one release, then remove the id and the old branch, and re-record the histories.
"""

from __future__ import annotations

CHECK_STORE_WHEN_UNSIGNALLED = "check-store-when-report-unsignalled"
"""LicensingDeal: at a period's due date the stored report is checked even when no signal
arrived (the API died between storing and signalling). Before it, such a period was marked
missing without a check. Deprecate when no deal launched before it is still monitoring."""

RECHECK_REPORT_RECEIVED_DURING_CHECK = "recheck-report-received-during-check"
"""LicensingDeal: a report version that arrives while its period is being checked is
re-checked at the next wake-up instead of being lost. Deprecate as above."""

CORRECTIONS_BEFORE_YEAR_CLOSE = "corrections-before-year-close"
"""LicensingDeal: corrections received during the year-end review are booked before the
true-up. Before it they were noted as belonging to a closed year. Deprecate as above."""

SIGNATURE_DECLINE_DECISION = "signature-decline-decision"
"""LicensingDeal: a declined signature opens an owner `signature_decision` task (resend or
cancel). Before it the deal was cancelled at once. Deprecate when no deal started before it
is still in implementation."""

PERIOD_FROM_ALL_RECEIVED = "period-from-all-received"
"""LicensingDeal: a report signalled while its period's due-date check ran is checked again
instead of the period being marked missing (3 of 560 reports were lost this way under a
Postgres outage). Deprecate when no deal launched before it is still monitoring."""

MG_SETTLED_ONCE = "mg-settled-once"
"""LicensingDeal: a termination after a contract year's true-up (for example during the
renewal decision) counts the true-up as covering that year's guarantee. Before it, the final
statement billed the guarantee shortfall a second time. Deprecate when no deal launched
before it is still open."""

CURRENCY_MINOR_UNITS = "currency-minor-units"
"""LicensingDeal: statement amounts are rounded to the deal currency's minor unit (whole yen,
3 decimals for BHD). Before it every currency was rounded to cents (12,345 JPY at 7% gave
864.15 JPY). Only asked for currencies whose minor unit is not 2 decimals, so EUR deals carry
no marker. Deprecate when no deal in such a currency launched before it is open."""

RESUBMIT_BY_DECIDE_SIGNAL = "resubmit-by-decide-signal"
"""PartnerApproval: `decide_signal` with decision `resubmit` applies the revised profile.
Before it, such a signal could not be decoded and was dropped; histories that hold one
replay that way. Deprecate when no approval started before it is open."""

YEAR_BOOKS = "year-books"
"""LicensingDeal: money per contract-year book (`domain.royalty` year books): every report,
late report or correction recomputes its year, for any year until final accounting ends,
with invoices, credit notes and adjustments; unlicensed royalty charged per the deal's
policy with a compliance task; termination and expiry wind down (reports of ended and
sell-off periods, then the final statement). Asked once when a run starts: runs started
before it keep the running ledger until their next contract year, which converts their
books (`domain.royalty.book_from_legacy`). Deprecate when no run started before it is
open."""

PARTNER_APPROVAL_V2 = "partner-approval-v2"
"""LicensingDeal: a partner approval child gets the collision-free id
`partner-approval:<deal>:<partner>` (`domain.ids`) and, in its input, the users conflicted
with the partner (the owner and the partner's users, read by the `partner_users` lookup).
Before it the id was `partner-approval-<deal>-<partner>`, which two deals could share (deal
`zeta` + partner `eu-acme`, deal `zeta-eu` + partner `acme`). Asked where the child starts:
a child started before it keeps its id (it is part of the start command). Deprecate when no
deal that started its approval before it is in implementation."""

PARTNER_APPROVAL_START_CONFLICT = "partner-approval-start-conflict"
"""LicensingDeal: a partner approval child whose id is taken by a running workflow parks the
deal on an incident for ops (`retry` once the id is free, or `terminate`). Before it the
deal failed. Asked only when a start is refused, so histories without a refusal carry no
marker. Deprecate when no deal failed this way is queried any more."""

SEPARATION_OF_DUTIES = "separation-of-duties"
"""LicensingDeal: the owner cannot decide a plan approval task (even when named a plan
approver), by update or signal alike; the licensor signatory is checked against the owner
(unless `owner_may_sign`) and the partner's users before the envelope is sent, a conflict
parks the deal on an incident. Asked once when a run starts: runs started before it keep the
earlier rules until their next run. Deprecate when no run started before it is open."""

APPROVAL_SEPARATION_OF_DUTIES = "approval-separation-of-duties"
"""PartnerApproval: the users conflicted with the partner (`conflicted`, the partner's
contact) are dropped from the steps' assignees and refused as deciders and delegates; a
delegate cannot be an approver of a step still to come. Asked once when the approval
starts. Deprecate when no approval started before it is open."""

PARTNER_REVISION_STORED = "partner-revision-stored"
"""PartnerApproval: a resubmitted profile keeps the licensor's evaluation and risk flags
(the partner's own figures are ignored) and is stored as the partner's next version
(`store_partner_version`) before it is screened. Before it the resubmitted profile was
screened as sent. Asked when a resubmission is taken. Deprecate when no approval started
before it waits for a revision."""

AMENDMENT_APPROVAL = "amendment-approval"
"""LicensingDeal: `amend` at a review proposes the plan as an amendment
(`workflows/deal/amendments.py`): plan approval by the plan approvers, then, when scope or
KPIs change, an amendment envelope signed by the licensee and the licensor signatory; only
then is the plan version applied. Monitoring goes on meanwhile. Before it, `amend` replaced
the plan at once (recorded: `tests/histories/licensing_deal_direct_amend.json`). Asked at
an `amend` decision only, so runs that never amend carry no marker. Deprecate when no deal
started before it is still monitoring."""

RIGHTS_LEDGER = "rights-ledger"
"""LicensingDeal: a deal naming a property (`property_id`) keeps its grants in the rights
ledger (`workflows/deal/rights.py`): the plan's cells are reserved at plan approval (a
conflict turns the approval into a rejection naming the conflicting deal and cell, its
update answers 409, and the owner gets the revise task), reserved again before each contract
envelope, activated at signature (launch to term end plus sell-off), checked at amendment
approval (a conflict rejects the amendment) and renewal (a conflict refuses the renewal and
reopens the task), cut at termination and released when the deal ends. Asked once when a
run starts, and only for deals naming a property, so runs and histories without one carry no
marker. Deprecate when no run started before it is open."""

RENEWAL_HOLDS_AMENDMENT = "renewal-holds-amendment"
"""LicensingDeal (rights ledger): a renewal decided while an approved amendment awaits its
signature extends the amendment's reserved cells to the new term end too (before it, they
kept the old term end, so another deal could take them from then on and the amendment, once
signed, parked the deal on a rights incident). Asked only when such an amendment is held at
a renewal, so other runs carry no marker. Deprecate when no run started before it is open."""

READ_MODEL = "read-model"
"""LicensingDeal and PartnerApproval: the workflow keeps the Postgres read model current
itself (`workflows/read_model.py`): after its transitions one writer sends the compact delta
of what its `state` query shows (deal row, open tasks, changed periods, new history entries,
the statement list) as a local activity (`ReadModelActivities`), at most one write per
activation and only when something changed, each with a sequence number carried across
continue-as-new; updates answer once their effect is written (read-your-writes); the deal's
`sync_deal_read_model` activity is no longer called (the writer inserts the row and its
`deal.create` audit row). Asked once when a run starts: runs started before it keep their
commands, and the API asks their live workflow instead. Deprecate when no run started
before it is open."""

LEAN_CALLS = "lean-calls"
"""LicensingDeal: the month-end and decision paths made cheaper (issue 14,
`bench/month_end.py`): the sales check, the statement insert and the rights reservation at
plan approval run as local activities (`activity_options.call_local`: one attempt, one
marker event instead of a task-queue round trip and a workflow task, so an approver's update
is answered in the workflow task that took it; when the attempt fails, a task-queue activity
retried without cap, as before); search attributes are upserted only when a value changed
(before it, every transition upserted all of them); a period's check, statement and next
period are one read-model write (`ReadModelWriter.held`); a new deal no longer calls
`sync_deal_read_model` before its needs analysis (a leftover of `read-model`: the run's
writer inserts the row and its `deal.create` audit row). Asked once when a run starts: runs
started before it keep their commands. Deprecate when no run started before it is open."""

ALL = (
    CHECK_STORE_WHEN_UNSIGNALLED,
    RECHECK_REPORT_RECEIVED_DURING_CHECK,
    CORRECTIONS_BEFORE_YEAR_CLOSE,
    SIGNATURE_DECLINE_DECISION,
    PERIOD_FROM_ALL_RECEIVED,
    MG_SETTLED_ONCE,
    CURRENCY_MINOR_UNITS,
    RESUBMIT_BY_DECIDE_SIGNAL,
    YEAR_BOOKS,
    PARTNER_APPROVAL_V2,
    PARTNER_APPROVAL_START_CONFLICT,
    SEPARATION_OF_DUTIES,
    APPROVAL_SEPARATION_OF_DUTIES,
    PARTNER_REVISION_STORED,
    AMENDMENT_APPROVAL,
    RIGHTS_LEDGER,
    RENEWAL_HOLDS_AMENDMENT,
    READ_MODEL,
    LEAN_CALLS,
)
