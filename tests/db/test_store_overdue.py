"""Overdue invoice reminders: once per 7-day window per invoice, shared by several workers
(SKIP LOCKED), to the deal partner's contact user; swept with an explicit `now`."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from typing import Any

import asyncpg
from factories import partner_profile

from store import deals, partners, payments, statements
from store.pool import create_pool
from workers.overdue import OverdueReminders, remind_batch

ISSUED = datetime(2027, 3, 1, tzinfo=UTC)
DUE = ISSUED + timedelta(days=30)
NOW = DUE + timedelta(days=1)


async def seed_deal(pool: asyncpg.Pool, deal_id: str = "moon", partner_id: str = "acme") -> None:
    profile = partner_profile(partner_id, contact_user=f"{partner_id}-ops")
    await partners.insert(pool, profile.model_dump(mode="json"), "admin")
    await deals.upsert(
        pool,
        deal_id=deal_id,
        workflow_id=f"deal-{deal_id}",
        title="Moon Bear",
        owner="olivia",
        stage="monitoring",
        request={},
        request_hash="x",
        partner_id=partner_id,
    )


async def issue(
    pool: asyncpg.Pool, key: str, amount_due: str = "100.00", deal_id: str = "moon", **extra: Any
) -> str:
    statement_id = f"{deal_id}:{key}"
    await statements.insert(
        pool,
        statement_id=statement_id,
        deal_id=deal_id,
        kind="period",
        contract_year=1,
        period=1,
        net_sales=Decimal("1000.00"),
        royalty_earned=Decimal("80.00"),
        guaranteed_due=Decimal(0),
        amount_due=Decimal(amount_due),
        currency="EUR",
        issued_at=extra.pop("issued_at", ISSUED),
        due_at=extra.pop("due_at", DUE),
        **extra,
    )
    return statement_id


async def reminders(pool: asyncpg.Pool) -> list[dict[str, Any]]:
    rows = await pool.fetch(
        "SELECT idempotency_key, recipient, kind, subject, body, deal_id, workflow_id"
        " FROM notifications ORDER BY id"
    )
    return [dict(r) for r in rows]


async def test_only_open_overdue_invoices_are_reminded_once_per_window(
    pool: asyncpg.Pool,
) -> None:
    await seed_deal(pool)
    due = await issue(pool, "p1")
    partly = await issue(pool, "p2", "250.00")
    await payments.insert(
        pool,
        statement_id=partly,
        amount=Decimal("100.00"),
        received_at=DUE,
        reference="bank-1",
        recorded_by="fiona",
    )
    await issue(pool, "p3", "0.00")  # nothing due: paid at once
    await issue(pool, "p4", due_at=NOW + timedelta(days=30))  # not due yet
    paid = await issue(pool, "p5")
    await pool.execute(
        "UPDATE statements SET status = 'paid', paid_at = $2 WHERE statement_id = $1", paid, DUE
    )
    await pool.execute(  # issued before invoices were numbered: listed, never reminded
        "UPDATE statements SET invoice_number = NULL WHERE statement_id = $1",
        await issue(pool, "p6"),
    )
    sweeper = OverdueReminders(pool)

    assert await sweeper.run_once(NOW) == 2
    sent = await reminders(pool)
    assert [(n["idempotency_key"], n["recipient"], n["kind"]) for n in sent] == [
        (f"invoice-overdue:{due}:2027-04-01", "acme-ops", "invoice_overdue"),
        (f"invoice-overdue:{partly}:2027-04-01", "acme-ops", "invoice_overdue"),
    ]
    assert sent[0]["subject"] == "Invoice LF-000001 is overdue"
    assert (sent[0]["deal_id"], sent[0]["workflow_id"]) == ("moon", "deal-moon")
    assert "150.00 EUR of 250.00 EUR is still open" in sent[1]["body"]
    assert "due on 2027-03-31" in sent[1]["body"]

    assert await sweeper.run_once(NOW) == 0  # the same sweep again
    assert await sweeper.run_once(NOW + timedelta(days=6, hours=23)) == 0
    assert await sweeper.run_once(NOW + timedelta(days=7)) == 2  # the next window
    keys = [n["idempotency_key"] for n in await reminders(pool)]
    assert keys[2:] == [
        f"invoice-overdue:{due}:2027-04-08",
        f"invoice-overdue:{partly}:2027-04-08",
    ]
    reminded = await pool.fetchval(
        "SELECT reminded_at FROM statements WHERE statement_id = $1", due
    )
    assert reminded == NOW + timedelta(days=7)


async def test_invoices_without_a_partner_contact_are_left_alone(pool: asyncpg.Pool) -> None:
    await issue(pool, "p1", deal_id="orphan")  # no deal row, hence no partner
    assert await OverdueReminders(pool).run_once(NOW) == 0
    assert await reminders(pool) == []


async def test_concurrent_sweepers_skip_each_others_rows(pool: asyncpg.Pool) -> None:
    await seed_deal(pool)
    ids = [await issue(pool, f"p{i}") for i in range(1, 5)]
    async with pool.acquire() as first, first.transaction():
        held = await remind_batch(first, now=NOW, limit=2)  # locked until this commits
        assert [h.statement_id for h in held] == ids[:2]
        # without SKIP LOCKED this sweep would wait for `first`, which waits for it
        async with asyncio.timeout(10):
            assert await OverdueReminders(pool).run_once(NOW) == 2
    assert await OverdueReminders(pool).run_once(NOW) == 0
    keyed = sorted(n["idempotency_key"] for n in await reminders(pool))
    assert keyed == sorted(f"invoice-overdue:{i}:2027-04-01" for i in ids)


async def test_workers_sweeping_at_once_remind_each_invoice_once(db_url: str) -> None:
    pool = await create_pool(db_url, min_size=4, max_size=4)
    try:
        await seed_deal(pool)
        ids = [await issue(pool, f"p{i}") for i in range(1, 41)]
        workers = [OverdueReminders(pool, batch=3) for _ in range(4)]
        counts = await asyncio.gather(*(w.run_once(NOW) for w in workers))
        assert sum(counts) == 40
        keys = [n["idempotency_key"] for n in await reminders(pool)]
    finally:
        await pool.close()
    assert sorted(keys) == sorted(f"invoice-overdue:{i}:2027-04-01" for i in ids)


async def test_a_paid_invoice_is_not_reminded(pool: asyncpg.Pool) -> None:
    await seed_deal(pool)
    statement_id = await issue(pool, "p1")
    await payments.insert(
        pool,
        statement_id=statement_id,
        amount=Decimal("100.00"),
        received_at=DUE,
        reference="bank-1",
        recorded_by="fiona",
    )
    await statements.settle(pool, statement_id)
    assert await OverdueReminders(pool).run_once(NOW) == 0
