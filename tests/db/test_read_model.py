"""The read model in Postgres (`store/read_model.py`): the sequence guard (an older write
changes nothing, however late or concurrent), deltas applied on top of each other, the
`state` view assembled back (statements from `statements`, the history window), the deal
list's visibility rules and the inbox across deals and partner approvals."""

from __future__ import annotations

import asyncio
import random
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from typing import Any

import asyncpg

from domain.common import HistoryEntry
from domain.deal import DealRequest
from domain.deal_state import KpiStatus, PeriodRecord, Stage, Statement
from domain.read_model_io import (
    ApprovalReadModelWrite,
    DealCreation,
    DealReadModelWrite,
    NumberedEntry,
)
from domain.tasks import Task, TaskKind
from store import read_model, statements

T0 = datetime(2027, 3, 1, tzinfo=UTC)
REQUEST: dict[str, Any] = {
    "deal_id": "moon",
    "title": "Moon Bear apparel EU",
    "property": {"name": "Moon Bear", "rights": ["brand"]},
    "property_id": "moon-bear",
    "needs": {
        "objectives": [{"kind": "revenue", "target": 500000, "unit": "EUR"}],
        "audience": {"segments": ["young-adults"], "regions": ["EU"]},
    },
    "plan": {
        "scope": {"categories": ["apparel"], "territories": ["DE"], "channels": ["online"]},
        "kpis": [{"metric": "net_sales", "target_per_period": 40000}],
    },
    "terms": {
        "currency": "EUR",
        "royalty_tiers": [{"up_to": None, "rate": 0.1}],
        "advance": 0,
        "minimum_guarantee_per_year": 0,
    },
    "schedule": {"period": "P1M", "periods_per_year": 12, "term_periods": 12},
    "partners": ["acme"],
    "plan_approvers": ["carol"],
    "partner_approval_chain": [{"step": "legal", "approvers": ["larry"]}],
    "licensor_signatory": "sam",
    "owner": "olivia",
}


def request(deal_id: str = "moon", owner: str = "olivia") -> DealRequest:
    return DealRequest.model_validate({**REQUEST, "deal_id": deal_id, "owner": owner})


def task(local: str, *assignees: str, deal_id: str = "moon", hours: int = 24) -> Task:
    workflow_id = f"deal-{deal_id}"
    return Task(
        task_id=f"{workflow_id}:{local}",
        kind=TaskKind.PLAN_APPROVAL,
        deal_id=deal_id,
        workflow_id=workflow_id,
        title=f"Task {local}",
        assignees=list(assignees),
        opened_at=T0,
        due_at=T0 + timedelta(hours=hours),
        allowed_decisions=["approve", "reject"],
    )


def period(n: int, status: str = "open") -> PeriodRecord:
    return PeriodRecord.model_validate(
        {
            "period": n,
            "contract_year": 1,
            "starts_at": T0 + timedelta(days=30 * (n - 1)),
            "ends_at": T0 + timedelta(days=30 * n),
            "report_due_at": T0 + timedelta(days=30 * n + 10),
            "status": status,
        }
    )


def entry(n: int) -> NumberedEntry:
    return NumberedEntry(n=n, entry=HistoryEntry(at=T0 + timedelta(minutes=n), event=f"e{n}"))


def write(
    seq: int, *, deal_id: str = "moon", first: bool = False, **fields: Any
) -> DealReadModelWrite:
    """Write `seq` of deal `deal_id`; `first`: a run's first write (the row may be new)."""
    stage = fields.pop("stage", Stage.PLANNING)
    head = {"deal_id": deal_id, "stage": stage.value, **fields.pop("head", {})}
    if first:
        head = {**_head(deal_id), **head}
    return DealReadModelWrite(
        deal_id=deal_id,
        workflow_id=f"deal-{deal_id}",
        run_id="run-1",
        seq=seq,
        stage=stage,
        head=head,
        creation=DealCreation(request=request(deal_id), audit=True, created_by="olivia")
        if first
        else None,
        replace_periods=first,
        **fields,
    )


def _head(deal_id: str) -> dict[str, Any]:
    req = request(deal_id)
    return {
        "deal_id": deal_id,
        "title": req.title,
        "owner": req.owner,
        "plan": req.plan.model_dump(mode="json"),
        "term_periods": 12,
    }


async def tasks_of(pool: asyncpg.Pool, workflow_id: str) -> list[str]:
    rows = await pool.fetch(
        "SELECT task_id FROM deal_tasks WHERE workflow_id = $1 ORDER BY position", workflow_id
    )
    return [r["task_id"] for r in rows]


async def test_an_older_write_never_regresses_the_row(pool: asyncpg.Pool) -> None:
    assert await read_model.write_deal(
        pool,
        write(1, first=True, tasks=[task("plan-v1", "carol")], history=[entry(1), entry(2)]),
    )
    assert await read_model.write_deal(
        pool,
        write(3, stage=Stage.IMPLEMENTATION, tasks=[task("legal", "larry")], history=[entry(3)]),
    )
    late = write(2, stage=Stage.PLANNING, tasks=[task("plan-v2", "carol")], history=[entry(9)])
    assert not await read_model.write_deal(pool, late)  # older than the stored write
    again = write(3, stage=Stage.CANCELLED, tasks=[])
    assert not await read_model.write_deal(pool, again)  # the same write retried
    row = await pool.fetchrow("SELECT rm_seq, stage, view FROM deals WHERE deal_id = 'moon'")
    assert (row["rm_seq"], row["stage"], row["view"]["stage"]) == (
        3,
        "implementation",
        "implementation",
    )
    assert await tasks_of(pool, "deal-moon") == ["deal-moon:legal"]
    numbers = await pool.fetch("SELECT n FROM deal_history WHERE deal_id = 'moon' ORDER BY n")
    assert [r["n"] for r in numbers] == [1, 2, 3]
    # the first run's create row is written once, by the very first write
    created = await pool.fetchval(
        "SELECT count(*) FROM audit_log WHERE deal_id = 'moon' AND action = 'deal.create'"
    )
    assert created == 1


async def test_concurrent_writers_leave_the_newest_write(pool: asyncpg.Pool) -> None:
    """Thirty writes of one deal in random order, five at a time on the pool: whichever
    lands when, the row ends as write 30 left it."""
    seqs = list(range(1, 31))
    random.Random(14).shuffle(seqs)
    writes = [
        write(
            seq,
            first=True,  # each may find the row absent: insert-or-update
            stage=Stage.MONITORING if seq % 2 else Stage.MAINTENANCE,
            kpi_status=KpiStatus.ON_TRACK,
            tasks=[task(f"t{seq}", f"user{seq}")],
            pending_approvers=[f"user{seq}"],
            periods=[period(1, "checked"), period(seq)],
            statement_ids=[f"moon:s{seq}"],
            pending_statements=[],
        )
        for seq in seqs
    ]
    results = await asyncio.gather(*(read_model.write_deal(pool, w) for w in writes))
    assert results.count(True) >= 1
    row = await pool.fetchrow(
        "SELECT rm_seq, stage, pending_approvers, statement_ids FROM deals WHERE deal_id = 'moon'"
    )
    assert (row["rm_seq"], row["stage"]) == (30, "maintenance")
    assert (row["pending_approvers"], row["statement_ids"]) == (["user30"], ["moon:s30"])
    assert await tasks_of(pool, "deal-moon") == ["deal-moon:t30"]
    periods = await pool.fetch("SELECT period FROM deal_periods WHERE deal_id = 'moon'")
    assert sorted(r["period"] for r in periods) == [1, 30]
    assert (
        await pool.fetchval(
            "SELECT count(*) FROM audit_log WHERE deal_id = 'moon' AND action = 'deal.create'"
        )
        == 1
    )


async def test_concurrent_approval_writes_leave_the_newest(pool: asyncpg.Pool) -> None:
    workflow_id = "partner-approval:moon:acme"
    seqs = list(range(1, 21))
    random.Random(7).shuffle(seqs)

    def approval(seq: int) -> ApprovalReadModelWrite:
        step = Task(
            **{
                **task(f"legal-v{seq}", "larry").model_dump(),
                "task_id": f"{workflow_id}:legal-v{seq}",
                "workflow_id": workflow_id,
                "kind": TaskKind.PARTNER_APPROVAL,
            }
        )
        return ApprovalReadModelWrite(
            workflow_id=workflow_id,
            deal_id="moon",
            partner_id="acme",
            status="awaiting_decision",
            seq=seq,
            tasks=[step],
        )

    await asyncio.gather(*(read_model.write_approval(pool, approval(s)) for s in seqs))
    assert await tasks_of(pool, workflow_id) == [f"{workflow_id}:legal-v20"]
    assert not await read_model.write_approval(pool, approval(5))
    closed = ApprovalReadModelWrite(
        workflow_id=workflow_id,
        deal_id="moon",
        partner_id="acme",
        status="approved",
        seq=21,
        tasks=[],
    )
    assert await read_model.write_approval(pool, closed)
    assert await tasks_of(pool, workflow_id) == []


async def test_the_view_is_assembled_from_its_rows(pool: asyncpg.Pool) -> None:
    """Deltas add up: periods changed or dropped, history numbered across writes (shown from
    `history_from`), statements listed in order from `statements` unless the workflow's own
    copy is pending (not stored yet)."""
    stored = Statement(
        statement_id="moon:p1",
        kind="period",
        contract_year=1,
        period=1,
        issued_at=T0,
        due_at=T0 + timedelta(days=30),
        net_sales=Decimal("50000.00"),
        royalty_earned=Decimal("5000.00"),
        amount_due=Decimal("5000.00"),
    )
    pending = stored.model_copy(update={"statement_id": "moon:p2", "period": 2})
    await statements.insert(pool, deal_id="moon", **stored.model_dump())
    await read_model.write_deal(
        pool,
        write(
            1,
            first=True,
            periods=[period(1), period(2), period(3)],
            history=[entry(1), entry(2), entry(3)],
            history_from=1,
        ),
    )
    await read_model.write_deal(
        pool,
        write(
            2,
            stage=Stage.MONITORING,
            head={"launched_at": T0.isoformat().replace("+00:00", "Z")},
            periods=[period(1, "checked")],
            dropped_periods=[3],
            history=[entry(4)],
            history_from=3,
            statement_ids=["moon:p1", "moon:p2"],
            pending_statements=[pending],
            tasks=[task("review-1", "olivia")],
        ),
    )
    document = await read_model.deal_document(pool, "moon")
    assert document is not None
    assert (document["stage"], document["title"], document["launched_at"]) == (
        "monitoring",
        "Moon Bear apparel EU",
        "2027-03-01T00:00:00Z",
    )
    assert [(p["period"], p["status"]) for p in document["periods"]] == [
        (1, "checked"),
        (2, "open"),
    ]
    assert [h["event"] for h in document["history"]] == ["e3", "e4"]
    listed = [Statement.model_validate(s) for s in document["statements"]]
    assert listed == [stored, pending]
    assert [t["task_id"] for t in document["open_tasks"]] == ["deal-moon:review-1"]
    assert document["request"]["deal_id"] == "moon"
    assert await read_model.deal_document(pool, "unknown") is None


async def test_lists_and_inbox_follow_the_visibility_rules(pool: asyncpg.Pool) -> None:
    assert await read_model.has_unpublished_deals(pool)  # nothing written yet: ask Temporal
    await read_model.write_deal(
        pool,
        write(1, first=True, tasks=[task("plan", "carol", hours=5)], pending_approvers=["carol"]),
    )
    await read_model.write_deal(
        pool,
        write(
            1,
            deal_id="sun",
            first=True,
            partner_id="acme",
            tasks=[task("review", "carol", "olivia", deal_id="sun", hours=2)],
            pending_approvers=["carol", "olivia"],
        ),
    )
    approval_task = Task(
        **{
            **task("legal-v1", "carol", hours=9).model_dump(),
            "task_id": "partner-approval:moon:acme:legal-v1",
            "workflow_id": "partner-approval:moon:acme",
        }
    )
    await read_model.write_approval(
        pool,
        ApprovalReadModelWrite(
            workflow_id="partner-approval:moon:acme",
            deal_id="moon",
            partner_id="acme",
            status="awaiting_decision",
            seq=1,
            tasks=[approval_task],
        ),
    )
    inbox = await read_model.inbox(pool, "carol")
    assert [t["task_id"] for t in inbox] == [
        "deal-sun:review",
        "deal-moon:plan",
        "partner-approval:moon:acme:legal-v1",
    ]

    async def listed(**scope: Any) -> list[str]:
        everything = scope.pop("everything", False)
        rows = await read_model.list_deals(
            pool,
            stage=scope.pop("stage", None),
            partner_id=scope.pop("partner_id", None),
            owner=scope.pop("owner", None),
            everything=everything,
            as_owner=scope.pop("as_owner", None),
            as_partner=scope.pop("as_partner", None),
            as_approver=scope.pop("as_approver", None),
            limit=scope.pop("limit", 100),
        )
        return [r["deal_id"] for r in rows]

    assert await listed(everything=True) == ["sun", "moon"]  # newest first
    assert await listed(everything=True, limit=1) == ["sun"]
    assert await listed(as_approver="olivia") == ["sun"]
    assert await listed(as_owner="olivia") == ["sun", "moon"]
    assert await listed(as_partner="acme") == ["sun"]
    assert await listed(as_owner="otto", as_approver="otto") == []
    assert await listed(everything=True, partner_id="acme") == ["sun"]
    assert await listed(everything=True, stage="monitoring") == []
    assert not await read_model.has_unpublished_deals(pool)
    await pool.execute(
        "INSERT INTO deals (deal_id, workflow_id, title, owner, stage, request, request_hash)"
        " VALUES ('old', 'deal-old', 'Old', 'olivia', 'monitoring', '{}'::jsonb, 'x')"
    )
    assert await read_model.has_unpublished_deals(pool)  # a run from before the read model
