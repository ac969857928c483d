"""Statements as invoices in Postgres: gap-free numbers per licensor, due dates, statuses,
and the 0005 migration of statements issued before it."""

from __future__ import annotations

import asyncio
import uuid
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from typing import Any

import asyncpg
import pytest

from activities.deal import DealActivities
from domain.deal_activity_io import IssueStatementInput
from domain.deal_state import Statement
from store import statements
from store.migrate import apply_migrations, migration_files
from store.pool import create_pool

ISSUED = datetime(2027, 3, 1, tzinfo=UTC)


def statement(key: str, amount_due: str = "100.00", **fields: Any) -> dict[str, Any]:
    """The keyword arguments of `statements.insert` for deal `moon`."""
    return {
        "statement_id": f"moon:{key}",
        "deal_id": "moon",
        "kind": "period",
        "contract_year": 1,
        "period": 1,
        "net_sales": Decimal("1000.00"),
        "royalty_earned": Decimal("80.00"),
        "guaranteed_due": Decimal(0),
        "amount_due": Decimal(amount_due),
        "currency": "EUR",
        "issued_at": ISSUED,
        **fields,
    }


async def numbers(pool: asyncpg.Pool) -> dict[str, str | None]:
    rows = await pool.fetch("SELECT statement_id, invoice_number FROM statements")
    return {r["statement_id"]: r["invoice_number"] for r in rows}


async def counter(pool: asyncpg.Pool, licensor: str = "LF") -> int | None:
    value: int | None = await pool.fetchval(
        "SELECT last_number FROM invoice_counters WHERE licensor = $1", licensor
    )
    return value


async def test_concurrent_issuers_get_exactly_one_to_twenty(db_url: str) -> None:
    wide = await create_pool(db_url, min_size=20, max_size=20)
    try:
        inserted = await asyncio.gather(
            *(statements.insert(wide, **statement(f"p{i}")) for i in range(20))
        )
        assert inserted == [True] * 20
        got = await numbers(wide)
        assert await counter(wide) == 20
    finally:
        await wide.close()
    assert sorted(n for n in got.values() if n) == [f"LF-{i:06d}" for i in range(1, 21)]


async def test_a_rolled_back_transaction_gives_its_number_back(pool: asyncpg.Pool) -> None:
    assert await statements.insert(pool, **statement("p1"))
    async with pool.acquire() as conn:
        with pytest.raises(RuntimeError):
            async with conn.transaction():
                assert await statements.insert(conn, **statement("p2"))
                taken = await conn.fetchval(
                    "SELECT invoice_number FROM statements WHERE statement_id = 'moon:p2'"
                )
                assert taken == "LF-000002"
                raise RuntimeError("the caller's transaction fails after the counter bump")
    assert await counter(pool) == 1
    assert await statements.insert(pool, **statement("p3"))
    assert await numbers(pool) == {"moon:p1": "LF-000001", "moon:p3": "LF-000002"}


async def test_a_failure_inside_the_insert_after_the_bump_leaves_no_gap(
    pool: asyncpg.Pool,
) -> None:
    assert await statements.insert(pool, **statement("p1"))
    # a row already holding the next number makes the numbering UPDATE fail after the bump
    await pool.execute(
        "INSERT INTO statements (statement_id, deal_id, kind, contract_year, amount_due,"
        " currency, issued_at, due_at, invoice_number)"
        " VALUES ('other:p1', 'other', 'period', 1, 5, 'EUR', now(), now(), 'LF-000002')"
    )
    with pytest.raises(asyncpg.UniqueViolationError):
        await statements.insert(pool, **statement("p2"))
    assert await counter(pool) == 1
    assert "moon:p2" not in await numbers(pool)  # the statement rolled back with its number
    await pool.execute("DELETE FROM statements WHERE statement_id = 'other:p1'")
    assert await statements.insert(pool, **statement("p2"))
    assert (await numbers(pool))["moon:p2"] == "LF-000002"


async def test_a_repeated_statement_id_takes_no_number(pool: asyncpg.Pool) -> None:
    assert await statements.insert(pool, **statement("p1"))
    assert not await statements.insert(pool, **statement("p1"))  # activity retry
    assert not await statements.insert(pool, **statement("p1", amount_due="999.00"))
    assert await counter(pool) == 1
    assert await statements.insert(pool, **statement("p2"))
    assert await numbers(pool) == {"moon:p1": "LF-000001", "moon:p2": "LF-000002"}


async def test_nothing_due_is_paid_at_once_without_a_number(pool: asyncpg.Pool) -> None:
    assert await statements.insert(pool, **statement("p1", amount_due="0.00"))
    row = await statements.get(pool, "moon:p1")
    assert row is not None
    assert (row["invoice_number"], row["status"], row["paid_at"]) == (None, "paid", ISSUED)
    assert await counter(pool) is None
    assert await statements.insert(pool, **statement("p2"))
    assert (await numbers(pool))["moon:p2"] == "LF-000001"


async def test_credit_notes_are_numbered_and_open(pool: asyncpg.Pool) -> None:
    assert await statements.insert(
        pool, **statement("p1:v2", amount_due="-40.00", kind="credit_note")
    )
    row = await statements.get(pool, "moon:p1:v2")
    assert row is not None
    assert (row["invoice_number"], row["status"], row["amount_due"]) == (
        "LF-000001",
        "open",
        Decimal("-40.00"),
    )


async def test_each_licensor_has_its_own_sequence(pool: asyncpg.Pool) -> None:
    assert await statements.insert(pool, **statement("p1"))
    assert await statements.insert(pool, **statement("p2", licensor="ACME"))
    assert await statements.insert(pool, **statement("p3", licensor="ACME"))
    assert await numbers(pool) == {
        "moon:p1": "LF-000001",
        "moon:p2": "ACME-000001",
        "moon:p3": "ACME-000002",
    }


async def test_due_date_is_given_or_thirty_days_after_issue(pool: asyncpg.Pool) -> None:
    assert await statements.insert(pool, **statement("p1"))
    due = ISSUED + timedelta(days=45)
    assert await statements.insert(pool, **statement("p2", due_at=due))
    rows = {r["statement_id"]: r for r in await statements.for_deal(pool, "moon")}
    assert rows["moon:p1"]["due_at"] == ISSUED + timedelta(days=30)
    assert rows["moon:p2"]["due_at"] == due
    assert rows["moon:p1"]["paid_amount"] == 0


async def test_the_activity_stores_every_statement_field_with_the_worker_licensor(
    pool: asyncpg.Pool,
) -> None:
    activities = DealActivities(pool, licensor="MOON")
    issued = Statement(
        statement_id="moon:y1:p1",
        kind="adjustment",
        contract_year=1,
        period=1,
        net_sales=Decimal("1000.00"),
        royalty_earned=Decimal("80.00"),
        unlicensed_royalty=Decimal("12.50"),
        amount_due=Decimal("92.50"),
        currency="EUR",
        issued_at=ISSUED,
        due_at=ISSUED + timedelta(days=60),
    )
    inp = IssueStatementInput(deal_id="moon", statement=issued, detail={"report_version": 2})
    assert await activities.issue_statement(inp)
    assert not await activities.issue_statement(inp)  # retried: stored once, one number
    row = await statements.get(pool, "moon:y1:p1")
    assert row is not None
    assert (row["kind"], row["unlicensed_royalty"], row["due_at"], row["invoice_number"]) == (
        "adjustment",
        Decimal("12.50"),
        ISSUED + timedelta(days=60),
        "MOON-000001",
    )
    assert row["detail"] == {"report_version": 2}


async def test_statement_checks_refuse_bad_values(pool: asyncpg.Pool) -> None:
    with pytest.raises(asyncpg.CheckViolationError):
        await statements.insert(pool, **statement("p1", kind="refund"))
    with pytest.raises(asyncpg.CheckViolationError):
        await statements.insert(pool, **statement("p2", unlicensed_royalty=Decimal("0.0001")))
    with pytest.raises(asyncpg.CheckViolationError):
        await statements.insert(pool, **statement("p3", due_at=ISSUED - timedelta(days=1)))
    assert await counter(pool) is None  # the refused ones took no number


async def test_migration_0005_backfills_older_statements(pg_base_url: str) -> None:
    """Statements stored before 0005 are due 30 days after issue, `paid` when nothing was
    due, and keep no invoice number (they were never sent as numbered invoices)."""
    name = f"lf_mig_{uuid.uuid4().hex[:10]}"
    admin = await asyncpg.connect(pg_base_url)
    await admin.execute(f'CREATE DATABASE "{name}"')
    head, _, query = pg_base_url.partition("?")
    url = head.rsplit("/", 1)[0] + "/" + name + (f"?{query}" if query else "")
    try:
        conn = await asyncpg.connect(url)
        try:
            await conn.execute(
                "CREATE TABLE schema_migrations (name text PRIMARY KEY,"
                " applied_at timestamptz NOT NULL DEFAULT now())"
            )
            for migration, sql in migration_files():
                if migration >= "0005":
                    break
                await conn.execute(sql)
                await conn.execute("INSERT INTO schema_migrations (name) VALUES ($1)", migration)
            await conn.execute(
                "INSERT INTO statements (statement_id, deal_id, kind, contract_year, amount_due,"
                " currency, issued_at) VALUES ('old:p1', 'old', 'period', 1, 120.50, 'EUR', $1),"
                " ('old:p2', 'old', 'period', 1, 0, 'EUR', $1)",
                ISSUED,
            )
        finally:
            await conn.close()
        assert (await apply_migrations(url))[0] == "0005_invoices"
        conn = await asyncpg.connect(url)
        try:
            rows = {
                r["statement_id"]: dict(r)
                for r in await conn.fetch(
                    "SELECT statement_id, due_at, status, paid_at, invoice_number,"
                    " unlicensed_royalty FROM statements"
                )
            }
        finally:
            await conn.close()
    finally:
        await admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        await admin.close()
    due = ISSUED + timedelta(days=30)
    assert rows["old:p1"] == {
        "statement_id": "old:p1",
        "due_at": due,
        "status": "open",
        "paid_at": None,
        "invoice_number": None,
        "unlicensed_royalty": Decimal(0),
    }
    assert (rows["old:p2"]["status"], rows["old:p2"]["paid_at"]) == ("paid", ISSUED)
