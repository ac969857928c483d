"""The read model of deals, their open tasks and partner approvals (migration 0012).

Written by the workflows through `activities/read_model.py`, one transaction per write: the
deal (or approval) row first, guarded by the write's sequence number, so concurrent writers
of one workflow queue on its row lock and a write older than the stored one changes nothing
(returns False). Read by the API: a deal's `state` view, its access facts, the deal list and
the inbox, each in one query.
"""

from __future__ import annotations

from typing import Any

from domain.deal import canonical_request_hash
from domain.read_model_io import ApprovalReadModelWrite, DealReadModelWrite
from domain.tasks import Task
from store import audit
from store.pool import Conn, Db, fetch_all, fetch_one, transaction

FINAL_STAGES = ("completed", "terminated", "cancelled")
SYSTEM_ACTOR = "licenseflow"
INBOX_LIMIT = 1_000
"""Open tasks one inbox answer lists at most (soonest due first)."""


def _tasks_json(tasks: list[Task]) -> list[dict[str, Any]]:
    return [t.model_dump(mode="json") for t in tasks]


# ---- writes ------------------------------------------------------------------------------

_DEAL_INSERT = """
    INSERT INTO deals AS d (deal_id, workflow_id, title, owner, stage, partner_id, kpi_status,
                            request, request_hash, rm_seq, run_id, view, health,
                            pending_approvers, history_from, statement_ids,
                            pending_statements, closed_at)
    VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15,
            coalesce($16::text[], '{}'), coalesce($17::jsonb, '{}'::jsonb),
            CASE WHEN $5 = ANY($18::text[]) THEN now() END)
    ON CONFLICT (deal_id) DO UPDATE SET
        stage = EXCLUDED.stage,
        partner_id = coalesce(EXCLUDED.partner_id, d.partner_id),
        kpi_status = EXCLUDED.kpi_status,
        rm_seq = EXCLUDED.rm_seq,
        run_id = EXCLUDED.run_id,
        view = coalesce(d.view, '{}'::jsonb) || EXCLUDED.view,
        health = EXCLUDED.health,
        pending_approvers = EXCLUDED.pending_approvers,
        history_from = EXCLUDED.history_from,
        statement_ids = CASE WHEN $16::text[] IS NULL THEN d.statement_ids
                             ELSE EXCLUDED.statement_ids END,
        pending_statements = CASE WHEN $17::jsonb IS NULL THEN d.pending_statements
                                  ELSE EXCLUDED.pending_statements END,
        closed_at = CASE WHEN EXCLUDED.stage = ANY($18::text[])
                         THEN coalesce(d.closed_at, now()) END,
        updated_at = now()
    WHERE d.rm_seq IS NULL OR d.rm_seq < EXCLUDED.rm_seq
    RETURNING 1
"""

_DEAL_UPDATE = """
    UPDATE deals AS d SET
        stage = $2,
        partner_id = coalesce($3, d.partner_id),
        kpi_status = $4,
        rm_seq = $5,
        run_id = $6,
        view = coalesce(d.view, '{}'::jsonb) || $7::jsonb,
        health = $8,
        pending_approvers = $9,
        history_from = $10,
        statement_ids = coalesce($11::text[], d.statement_ids),
        pending_statements = coalesce($12::jsonb, d.pending_statements),
        closed_at = CASE WHEN $2 = ANY($13::text[]) THEN coalesce(d.closed_at, now()) END,
        updated_at = now()
    WHERE d.deal_id = $1 AND (d.rm_seq IS NULL OR d.rm_seq < $5)
    RETURNING 1
"""

_TASKS_DROP = "DELETE FROM deal_tasks WHERE workflow_id = $1 AND NOT (task_id = ANY($2::text[]))"

_TASKS_PUT = """
    INSERT INTO deal_tasks (task_id, workflow_id, deal_id, kind, assignees, title, opened_at,
                            due_at, position, task)
    SELECT t.task ->> 'task_id', $1, $2, t.task ->> 'kind',
           ARRAY(SELECT jsonb_array_elements_text(t.task -> 'assignees')),
           t.task ->> 'title', (t.task ->> 'opened_at')::timestamptz,
           (t.task ->> 'due_at')::timestamptz, t.position, t.task
    FROM jsonb_array_elements($3::jsonb) WITH ORDINALITY AS t(task, position)
    ON CONFLICT (task_id) DO UPDATE SET
        workflow_id = EXCLUDED.workflow_id, deal_id = EXCLUDED.deal_id, kind = EXCLUDED.kind,
        assignees = EXCLUDED.assignees, title = EXCLUDED.title, opened_at = EXCLUDED.opened_at,
        due_at = EXCLUDED.due_at, position = EXCLUDED.position, task = EXCLUDED.task
"""

_PERIODS_PUT = """
    INSERT INTO deal_periods (deal_id, period, record)
    SELECT $1, (r.record ->> 'period')::integer, r.record
    FROM jsonb_array_elements($2::jsonb) AS r(record)
    ON CONFLICT (deal_id, period) DO UPDATE SET record = EXCLUDED.record
"""

_HISTORY_PUT = """
    INSERT INTO deal_history (deal_id, n, entry)
    SELECT $1, (h.item ->> 'n')::bigint, h.item -> 'entry'
    FROM jsonb_array_elements($2::jsonb) AS h(item)
    ON CONFLICT (deal_id, n) DO NOTHING
"""


async def write_deal(db: Db, w: DealReadModelWrite) -> bool:
    """Apply one write of a deal in one transaction; False (nothing changed) when the row
    holds this sequence number or a later one."""
    statement_ids = w.statement_ids
    pending = (
        {s.statement_id: s.model_dump(mode="json") for s in w.pending_statements}
        if w.pending_statements is not None
        else None
    )
    async with transaction(db) as conn:
        if w.creation is not None:
            request = w.creation.request
            written = await conn.fetchval(
                _DEAL_INSERT,
                w.deal_id,
                w.workflow_id,
                request.title,
                request.owner,
                w.stage.value,
                w.partner_id,
                w.kpi_status.value,
                request.model_dump(mode="json"),
                canonical_request_hash(request),
                w.seq,
                w.run_id,
                w.head,
                w.health,
                w.pending_approvers,
                w.history_from,
                statement_ids,
                pending,
                list(FINAL_STAGES),
            )
        else:
            written = await conn.fetchval(
                _DEAL_UPDATE,
                w.deal_id,
                w.stage.value,
                w.partner_id,
                w.kpi_status.value,
                w.seq,
                w.run_id,
                w.head,
                w.health,
                w.pending_approvers,
                w.history_from,
                statement_ids,
                pending,
                list(FINAL_STAGES),
            )
        if written is None:
            return False
        if w.tasks is not None:
            await _replace_tasks(conn, w.workflow_id, w.deal_id, w.tasks)
        await _write_periods(conn, w)
        if w.history:
            history = [{"n": h.n, "entry": h.entry.model_dump(mode="json")} for h in w.history]
            await conn.execute(_HISTORY_PUT, w.deal_id, history)
        if w.creation is not None and w.creation.audit:
            await audit.append(
                conn,
                actor=w.creation.created_by or w.creation.request.owner or SYSTEM_ACTOR,
                action="deal.create",
                deal_id=w.deal_id,
                workflow_id=w.workflow_id,
                detail={
                    "request_hash": canonical_request_hash(w.creation.request),
                    "request_id": w.creation.request_id,
                    "run_id": w.run_id,
                },
                idempotency_key=f"{w.workflow_id}:deal.create",
            )
    return True


async def _write_periods(conn: Conn, w: DealReadModelWrite) -> None:
    numbers = [p.period for p in w.periods]
    if w.replace_periods:
        await conn.execute(
            "DELETE FROM deal_periods WHERE deal_id = $1 AND NOT (period = ANY($2::integer[]))",
            w.deal_id,
            numbers,
        )
    elif w.dropped_periods:
        await conn.execute(
            "DELETE FROM deal_periods WHERE deal_id = $1 AND period = ANY($2::integer[])",
            w.deal_id,
            w.dropped_periods,
        )
    if w.periods:
        records = [p.model_dump(mode="json") for p in w.periods]
        await conn.execute(_PERIODS_PUT, w.deal_id, records)


async def _replace_tasks(conn: Conn, workflow_id: str, deal_id: str, tasks: list[Task]) -> None:
    """The workflow's open tasks are exactly `tasks` (closed ones are deleted)."""
    await conn.execute(_TASKS_DROP, workflow_id, [t.task_id for t in tasks])
    if tasks:
        await conn.execute(_TASKS_PUT, workflow_id, deal_id, _tasks_json(tasks))


async def write_approval(db: Db, w: ApprovalReadModelWrite) -> bool:
    """Apply one write of a partner approval; False when a later one is stored already."""
    async with transaction(db) as conn:
        written = await conn.fetchval(
            """
            INSERT INTO approval_read_models AS a (workflow_id, deal_id, partner_id, status, seq)
            VALUES ($1, $2, $3, $4, $5)
            ON CONFLICT (workflow_id) DO UPDATE SET
                status = EXCLUDED.status, seq = EXCLUDED.seq, updated_at = now()
            WHERE a.seq < EXCLUDED.seq
            RETURNING 1
            """,
            w.workflow_id,
            w.deal_id,
            w.partner_id,
            w.status,
            w.seq,
        )
        if written is None:
            return False
        if w.tasks is not None:
            await _replace_tasks(conn, w.workflow_id, w.deal_id, w.tasks)
    return True


# ---- reads -------------------------------------------------------------------------------

_STATEMENT_JSON = """
    jsonb_build_object(
        'statement_id', s.statement_id, 'kind', s.kind, 'contract_year', s.contract_year,
        'period', s.period, 'currency', s.currency, 'issued_at', s.issued_at,
        'due_at', s.due_at, 'net_sales', s.net_sales::text,
        'royalty_earned', s.royalty_earned::text, 'guaranteed_due', s.guaranteed_due::text,
        'amount_due', s.amount_due::text, 'unlicensed_royalty', s.unlicensed_royalty::text,
        'breakdown', s.breakdown)
"""
"""A stored statement as the workflow made it (amounts as exact decimal strings)."""

_DEAL_DOCUMENT = f"""
    SELECT d.view, d.request, d.statement_ids, d.pending_statements,
        coalesce((SELECT jsonb_agg(t.task ORDER BY t.position) FROM deal_tasks t
                  WHERE t.workflow_id = d.workflow_id), '[]'::jsonb) AS open_tasks,
        coalesce((SELECT jsonb_agg(p.record ORDER BY p.period) FROM deal_periods p
                  WHERE p.deal_id = d.deal_id), '[]'::jsonb) AS periods,
        coalesce((SELECT jsonb_agg(h.entry ORDER BY h.n) FROM deal_history h
                  WHERE h.deal_id = d.deal_id AND h.n >= d.history_from), '[]'::jsonb)
            AS history,
        coalesce((SELECT jsonb_agg({_STATEMENT_JSON}) FROM statements s
                  WHERE s.statement_id = ANY(d.statement_ids)), '[]'::jsonb) AS stored
    FROM deals d
    WHERE d.deal_id = $1 AND d.rm_seq IS NOT NULL
"""


async def deal_document(db: Db, deal_id: str) -> dict[str, Any] | None:
    """The deal's `state` view as JSON (as the workflow's query answers it), or None when
    the read model does not hold the deal (unknown, or never written by its workflow)."""
    row = await db.fetchrow(_DEAL_DOCUMENT, deal_id)
    if row is None:
        return None
    pending: dict[str, Any] = row["pending_statements"] or {}
    stored = {s["statement_id"]: s for s in row["stored"]}
    statements = [
        pending.get(sid) or stored[sid]
        for sid in row["statement_ids"]
        if sid in pending or sid in stored
    ]
    return {
        **row["view"],
        "request": row["request"],
        "open_tasks": row["open_tasks"],
        "periods": row["periods"],
        "history": row["history"],
        "statements": statements,
    }


async def deal_access_row(db: Db, deal_id: str) -> dict[str, Any] | None:
    """Owner, licensee, request and open-task assignees of a deal the read model holds."""
    return await fetch_one(
        db,
        "SELECT view ->> 'owner' AS owner, view ->> 'partner_id' AS partner_id, request,"
        " pending_approvers FROM deals WHERE deal_id = $1 AND rm_seq IS NOT NULL",
        deal_id,
    )


async def open_task(db: Db, task_id: str) -> dict[str, Any] | None:
    """An open task as its workflow last wrote it (closed ones are deleted): its workflow,
    deal, assignees and approval step."""
    return await fetch_one(
        db,
        "SELECT workflow_id, deal_id, assignees, task ->> 'step' AS step"
        " FROM deal_tasks WHERE task_id = $1",
        task_id,
    )


async def has_unpublished_deals(db: Db) -> bool:
    """The read model may not hold every open task: an open deal runs a run from before
    patch `read-model` (its partner approvals too), or no workflow has written to it yet
    (a fresh or just-upgraded database). Lists and the inbox ask Temporal then."""
    found: bool = await db.fetchval(
        "SELECT EXISTS (SELECT 1 FROM deals WHERE rm_seq IS NULL"
        "   AND stage NOT IN ('completed', 'terminated', 'cancelled'))"
        " OR NOT (EXISTS (SELECT 1 FROM deals WHERE rm_seq IS NOT NULL)"
        "   OR EXISTS (SELECT 1 FROM approval_read_models))"
    )
    return found


async def list_deals(
    db: Db,
    *,
    stage: str | None,
    partner_id: str | None,
    owner: str | None,
    everything: bool,
    as_owner: str | None,
    as_partner: str | None,
    as_approver: str | None,
    limit: int,
) -> list[dict[str, Any]]:
    """Deals matching the filters and visible to the caller (`everything`, or owned by
    `as_owner`, licensed to `as_partner`, or with an open task of `as_approver`), newest
    first."""
    return await fetch_all(
        db,
        """
        SELECT deal_id, workflow_id, coalesce(run_id, '') AS run_id, stage, owner,
               partner_id, kpi_status, created_at, closed_at,
               CASE WHEN stage = ANY($9::text[]) THEN 'completed' ELSE 'running' END AS status
        FROM deals
        WHERE ($1::text IS NULL OR stage = $1)
          AND ($2::text IS NULL OR partner_id = $2)
          AND ($3::text IS NULL OR owner = $3)
          AND ($4 OR owner = $5 OR partner_id = $6 OR $7 = ANY(pending_approvers))
        ORDER BY created_at DESC, deal_id DESC
        LIMIT $8
        """,
        stage,
        partner_id,
        owner,
        everything,
        as_owner,
        as_partner,
        as_approver,
        limit,
        list(FINAL_STAGES),
    )


async def inbox(db: Db, user: str) -> list[dict[str, Any]]:
    """Open tasks of deals and partner approvals assigned to `user`, soonest due first
    (`@>` rather than `= ANY`: the assignees' GIN index answers it)."""
    return await fetch_all(
        db,
        "SELECT task_id, kind, deal_id, title, due_at, task -> 'allowed_decisions' AS allowed"
        " FROM deal_tasks WHERE assignees @> ARRAY[$1::text] ORDER BY due_at, task_id LIMIT $2",
        user,
        INBOX_LIMIT,
    )
