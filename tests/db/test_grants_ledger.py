"""The grants ledger in Postgres (`store/grants.py`, migration 0010): the exclusion constraint
keeps conflicting grants out however the writers race; overlapping and adjacent windows;
exclusive and non-exclusive grants; regions expanded to countries; release; one
transaction per change; idempotent calls; the property's rights and window."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime
from typing import Any

import asyncpg
import pytest
from asyncpg.exceptions import DeadlockDetectedError, ExclusionViolationError
from factories import licensable_property

from domain.bounds import RECORDED
from domain.common import LicensedScope
from domain.rights import Holding, RightsConflict, WindowPolicy, desired_rows
from store import grants, properties, users
from store.pool import Db

Y2027 = datetime(2027, 1, 1, tzinfo=UTC)
Y2028 = datetime(2028, 1, 1, tzinfo=UTC)
Y2029 = datetime(2029, 1, 1, tzinfo=UTC)
Y2030 = datetime(2030, 1, 1, tzinfo=UTC)
PROPERTY = "moon-bear"


async def seed_property(pool: asyncpg.Pool) -> None:
    await users.ensure(pool, "olivia", ["owner"])
    prop = licensable_property(PROPERTY, available_to="2040-01-01T00:00:00Z")
    assert await properties.insert(pool, prop, owner="olivia", created_by="test") is not None


@pytest.fixture
async def ledger(pool: asyncpg.Pool) -> asyncpg.Pool:
    await seed_property(pool)
    return pool


def scope(*territories: str, exclusive: bool = True, **codes: list[str]) -> LicensedScope:
    return LicensedScope(
        categories=codes.get("categories", ["apparel"]),
        territories=list(territories),
        channels=codes.get("channels", ["online"]),
        exclusive=exclusive,
    )


async def hold(
    db: Db,
    deal_id: str,
    licensed: LicensedScope,
    start: datetime = Y2027,
    end: datetime = Y2030,
    *,
    status: str = "active",
    partner_id: str | None = None,
    window: WindowPolicy = "clip",
    extra: list[Holding] | None = None,
) -> RightsConflict | None:
    holding = Holding(scope=licensed, starts_at=start, ends_at=end, status=status)  # type: ignore[arg-type]
    _, conflict = await grants.hold(
        db,
        deal_id=deal_id,
        property_id=PROPERTY,
        partner_id=partner_id,
        plan_version=1,
        rows=desired_rows([holding, *(extra or [])]),
        window=window,
    )
    return conflict


async def held(pool: asyncpg.Pool, deal_id: str) -> dict[tuple[str, str, str], dict[str, Any]]:
    """The deal's rows still held, by cell."""
    return {
        (r["category"], r["territory"], r["channel"]): r
        for r in await grants.for_deal(pool, deal_id)
        if r["status"] != "released"
    }


# ---- races ---------------------------------------------------------------------------


async def test_two_transactions_racing_for_an_exclusive_cell_exactly_one_wins(
    ledger: asyncpg.Pool, db_url: str
) -> None:
    """Both writers check the cell (free for both: neither committed), meet at a barrier,
    then insert and commit. Only the exclusion constraint can stop the second: with a
    violation, or, when each insert waits on the other's uncommitted row, with a deadlock
    that aborts one of them (Postgres documents both for concurrent exclusion-constraint
    inserts; `store.grants.hold` retries the deadlock and then meets the violation)."""
    barrier = asyncio.Barrier(2)

    async def grant(deal_id: str) -> str:
        conn = await asyncpg.connect(db_url)
        try:
            async with conn.transaction():
                taken = await conn.fetchval(
                    "SELECT count(*) FROM grants WHERE property_id = $1 AND category = 'apparel'"
                    " AND territory = 'DE' AND channel = 'online' AND status <> 'released'"
                    " AND during && tstzrange($2, $3)",
                    PROPERTY,
                    Y2027,
                    Y2030,
                )
                assert taken == 0  # the check a careless writer would trust
                await barrier.wait()
                await conn.execute(
                    "INSERT INTO grants (property_id, deal_id, category, territory, channel,"
                    " during, exclusive, status, plan_version) VALUES ($1, $2, 'apparel', 'DE',"
                    " 'online', tstzrange($3, $4), true, 'active', 1)",
                    PROPERTY,
                    deal_id,
                    Y2027,
                    Y2030,
                )
            return "won"
        except (ExclusionViolationError, DeadlockDetectedError):
            return "refused"
        finally:
            await conn.close()

    outcomes = await asyncio.gather(grant("acme-eu"), grant("globex-eu"))
    assert sorted(outcomes) == ["refused", "won"]
    rows = await ledger.fetch("SELECT deal_id FROM grants WHERE status <> 'released'")
    assert len(rows) == 1


async def test_two_deals_holding_the_same_exclusive_cells_at_once_one_wins(
    ledger: asyncpg.Pool, db_url: str
) -> None:
    """`store.grants.hold` from two connections at once, ten rounds: exactly one deal holds
    the cells each time, the other gets the conflict naming the winner and a cell."""
    for round_ in range(10):
        first, second = f"acme-{round_}", f"globex-{round_}"
        channel = f"ch{round_}"
        await ledger.execute(
            "UPDATE properties SET channels = channels || $1::text", channel
        )  # a fresh cell per round
        wanted = scope("DE", "FR", channels=[channel])
        conns = [await asyncpg.connect(db_url) for _ in range(2)]
        try:
            results = await asyncio.gather(
                hold(conns[0], first, wanted, partner_id="acme"),
                hold(conns[1], second, wanted, partner_id="globex"),
            )
        finally:
            for conn in conns:
                await conn.close()
        refused = [r for r in results if r is not None]
        assert len(refused) == 1, results
        winner = first if results[0] is None else second
        loser = second if winner == first else first
        conflict = refused[0]
        assert conflict.kind == "held" and conflict.deal_id == winner
        assert conflict.licensee == ("acme" if winner == first else "globex")
        assert (conflict.category, conflict.channel) == ("apparel", channel)
        assert conflict.territory in {"DE", "FR"}
        assert len(await held(ledger, winner)) == 2
        assert await held(ledger, loser) == {}  # nothing half-held: one transaction


# ---- windows and exclusivity -----------------------------------------------------------


async def test_overlapping_windows_conflict_and_adjacent_windows_coexist(
    ledger: asyncpg.Pool,
) -> None:
    assert await hold(ledger, "acme-eu", scope("DE"), Y2027, Y2029) is None
    overlap = await hold(ledger, "globex-eu", scope("DE"), Y2028, Y2030)
    assert overlap is not None
    assert (overlap.deal_id, overlap.territory, overlap.exclusive) == ("acme-eu", "DE", True)
    assert (overlap.starts_at, overlap.ends_at) == (Y2027, Y2029)
    assert "apparel/DE/online of property moon-bear is held exclusively by deal acme-eu" in (
        overlap.message()
    )
    # [2027, 2029) then [2029, 2030): the ranges are half-open, they touch but do not overlap
    assert await hold(ledger, "globex-eu", scope("DE"), Y2029, Y2030) is None
    assert await hold(ledger, "initech-eu", scope("DE"), Y2027, datetime(2027, 6, 1, tzinfo=UTC))
    # another channel or category of the same country is another cell
    assert await hold(ledger, "initech-eu", scope("DE", channels=["retail"])) is None


async def test_non_exclusive_grants_coexist_but_not_with_an_exclusive_one(
    ledger: asyncpg.Pool,
) -> None:
    shared = scope("DE", exclusive=False)
    assert await hold(ledger, "acme-eu", shared) is None
    assert await hold(ledger, "globex-eu", shared) is None
    assert await hold(ledger, "initech-eu", shared) is None
    exclusive = await hold(ledger, "hooli-eu", scope("DE"))
    assert exclusive is not None and exclusive.deal_id in {"acme-eu", "globex-eu", "initech-eu"}
    assert exclusive.exclusive is False  # the blocking grant is a non-exclusive one

    assert await hold(ledger, "hooli-fr", scope("FR")) is None
    beside = await hold(ledger, "acme-fr", scope("FR", exclusive=False))
    assert beside is not None and (beside.deal_id, beside.exclusive) == ("hooli-fr", True)


async def test_a_region_is_expanded_to_its_countries(ledger: asyncpg.Pool) -> None:
    assert await hold(ledger, "acme-de", scope("DE")) is None
    # a scope recorded before the edge expanded regions still names DACH: checked per country
    dach = LicensedScope.model_validate(
        {"categories": ["apparel"], "territories": ["DACH"], "channels": ["online"]},
        context=RECORDED,
    )
    assert dach.territories == ["DACH"]
    conflict = await hold(ledger, "globex-dach", dach.model_copy(update={"exclusive": True}))
    assert conflict is not None and (conflict.deal_id, conflict.territory) == ("acme-de", "DE")
    assert await hold(ledger, "globex-at-ch", scope("AT", "CH")) is None
    assert set(await held(ledger, "globex-at-ch")) == {
        ("apparel", "AT", "online"),
        ("apparel", "CH", "online"),
    }


async def test_release_frees_the_cells(ledger: asyncpg.Pool) -> None:
    assert await hold(ledger, "acme-eu", scope("DE", "FR")) is None
    assert await hold(ledger, "globex-eu", scope("FR")) is not None
    assert await grants.release(ledger, "acme-eu") == 2
    assert await grants.release(ledger, "acme-eu") == 0  # idempotent
    rows = await grants.for_deal(ledger, "acme-eu")
    assert {r["status"] for r in rows} == {"released"}
    assert all(r["released_at"] is not None for r in rows)
    assert await hold(ledger, "globex-eu", scope("FR")) is None


# ---- one deal's changes ----------------------------------------------------------------


async def test_holding_the_same_rows_again_changes_nothing(ledger: asyncpg.Pool) -> None:
    assert await hold(ledger, "acme-eu", scope("DE", "FR"), status="reserved") is None
    before = await ledger.fetch("SELECT * FROM grants ORDER BY id")
    assert await hold(ledger, "acme-eu", scope("DE", "FR"), status="reserved") is None
    assert await ledger.fetch("SELECT * FROM grants ORDER BY id") == before


async def test_activation_amendment_and_renewal_of_one_deal(ledger: asyncpg.Pool) -> None:
    later = datetime(2027, 3, 1, tzinfo=UTC)
    # reserved at plan approval for a wide window, activated at signature with real dates
    assert await hold(ledger, "acme-eu", scope("DE", "FR"), Y2027, Y2030, status="reserved") is None
    assert await hold(ledger, "acme-eu", scope("DE", "FR"), later, Y2029, partner_id="acme") is None
    rows = await held(ledger, "acme-eu")
    assert {
        (r["status"], r["starts_at"], r["ends_at"], r["partner_id"]) for r in rows.values()
    } == {("active", later, Y2029, "acme")}
    # an amendment FR -> IT: one transaction, FR released, IT active from the amendment on,
    # DE keeps its start (a granted right is not moved)
    amended = datetime(2028, 1, 1, tzinfo=UTC)
    assert await hold(ledger, "acme-eu", scope("DE", "IT"), amended, Y2029) is None
    rows = await held(ledger, "acme-eu")
    assert set(rows) == {("apparel", "DE", "online"), ("apparel", "IT", "online")}
    assert rows[("apparel", "DE", "online")]["starts_at"] == later
    assert rows[("apparel", "IT", "online")]["starts_at"] == amended
    # the same amendment into another licensee's exclusive country changes nothing at all
    assert await hold(ledger, "globex-es", scope("ES")) is None
    refused = await hold(ledger, "acme-eu", scope("DE", "IT", "ES"), amended, Y2029)
    assert refused is not None and (refused.deal_id, refused.territory) == ("globex-es", "ES")
    assert set(await held(ledger, "acme-eu")) == set(rows)
    # a renewal moves only the end
    assert await hold(ledger, "acme-eu", scope("DE", "IT"), amended, Y2030) is None
    rows = await held(ledger, "acme-eu")
    assert rows[("apparel", "DE", "online")]["starts_at"] == later
    assert {r["ends_at"] for r in rows.values()} == {Y2030}


async def test_the_property_bounds_what_may_be_held(ledger: asyncpg.Pool) -> None:
    not_offered = await hold(ledger, "acme-us", scope("US"))
    assert not_offered is not None and not_offered.kind == "unavailable"
    assert not_offered.territory == "US" and "does not offer" in not_offered.message()
    # a reservation reaching past the availability is held as far as it goes (clip)
    far = datetime(2045, 1, 1, tzinfo=UTC)
    assert await hold(ledger, "acme-eu", scope("DE"), Y2027, far, status="reserved") is None
    (row,) = (await held(ledger, "acme-eu")).values()
    assert row["ends_at"] == datetime(2040, 1, 1, tzinfo=UTC)
    # a renewal past it is refused (contain), and nothing changes
    refused = await hold(ledger, "acme-eu", scope("DE"), Y2027, far, window="contain")
    assert refused is not None and refused.kind == "unavailable"
    assert "available until 2040-01-01" in refused.message()
    with pytest.raises(grants.UnknownProperty):
        await grants.hold(
            ledger, deal_id="x", property_id="nope", partner_id=None, plan_version=1, rows=[]
        )


async def test_the_database_refuses_a_conflicting_row_written_by_hand(
    ledger: asyncpg.Pool,
) -> None:
    """Whatever writes the table, the constraint holds (not only `store.grants.hold`)."""
    assert await hold(ledger, "acme-eu", scope("DE")) is None
    with pytest.raises(ExclusionViolationError):
        await ledger.execute(
            "INSERT INTO grants (property_id, deal_id, category, territory, channel, during,"
            " exclusive, status, plan_version) VALUES ($1, 'globex-eu', 'apparel', 'DE',"
            " 'online', tstzrange($2, $3), false, 'reserved', 1)",
            PROPERTY,
            Y2028,
            Y2029,
        )
    # released rows do not count
    await grants.release(ledger, "acme-eu")
    await ledger.execute(
        "INSERT INTO grants (property_id, deal_id, category, territory, channel, during,"
        " exclusive, status, plan_version) VALUES ($1, 'globex-eu', 'apparel', 'DE',"
        " 'online', tstzrange($2, $3), true, 'reserved', 1)",
        PROPERTY,
        Y2028,
        Y2029,
    )
