"""A resubmitted partner profile is stored as the partner's next version with the licensor's
assessment kept (`store_partner_version`, idempotent by key); the users directory lookup."""

from __future__ import annotations

from decimal import Decimal

import asyncpg
from factories import partner_profile

from activities.approval import ApprovalActivities
from activities.directory import DirectoryActivities
from domain.activity_io import PartnerUsersQuery
from domain.approval_messages import StorePartnerVersionInput
from domain.partner import Evaluation, Risk
from store import partners, users

LICENSOR_VIEW = partner_profile(
    evaluation=Evaluation(cost=2, quality=3, efficiency=2, complementarity=3),
    risk=Risk(insurance_coverage=Decimal("1000000"), flags=["late-payments"]),
)
SELF_SCORED = partner_profile(
    name="Acme Apparel Group",
    evaluation=Evaluation(cost=5, quality=5, efficiency=5, complementarity=5),
    risk=Risk(insurance_coverage=Decimal("5000000"), flags=[]),
)


def resubmission(key: str = "partner-approval:moon:acme/v1/revision") -> StorePartnerVersionInput:
    return StorePartnerVersionInput(
        idempotency_key=key,
        deal_id="moon",
        workflow_id="partner-approval:moon:acme",
        submitted_by="erin",
        profile=SELF_SCORED,
    )


async def test_a_resubmission_is_the_next_version_with_the_licensors_assessment(
    pool: asyncpg.Pool,
) -> None:
    await partners.insert(pool, LICENSOR_VIEW.model_dump(mode="json"), created_by="admin")
    activities = ApprovalActivities(pool)

    first = await activities.store_partner_version(resubmission())
    retried = await activities.store_partner_version(resubmission())

    assert first == retried  # a retry stores nothing more
    assert first.stored and first.profile.version == 2
    assert first.profile.evaluation == LICENSOR_VIEW.evaluation
    assert first.profile.risk.flags == ["late-payments"]
    assert (first.profile.name, first.profile.risk.insurance_coverage) == (
        "Acme Apparel Group",
        Decimal("5000000"),
    )
    stored = await partners.get(pool, "acme")
    assert stored is not None and stored["version"] == 2
    assert stored["evaluation"] == LICENSOR_VIEW.evaluation.model_dump(mode="json")
    kept = await partners.versions(pool, "acme")
    assert [(v["version"], v["submitted_by"], v["deal_id"]) for v in kept] == [
        (1, "admin", None),
        (2, "erin", "moon"),
    ]
    assert kept[0]["profile"]["name"] == LICENSOR_VIEW.name  # the replaced version is kept

    later = await activities.store_partner_version(resubmission("another/v2/revision"))
    assert later.profile.version == 3


async def test_an_unstored_partner_is_not_stored(pool: asyncpg.Pool) -> None:
    result = await ApprovalActivities(pool).store_partner_version(resubmission())
    assert (result.stored, result.profile) == (False, SELF_SCORED)
    assert await partners.get(pool, "acme") is None


async def test_partner_users_lists_everyone_bound_to_the_partner(pool: asyncpg.Pool) -> None:
    await users.upsert(pool, "acme-ops", roles=["partner"], partner_id="acme")
    await users.upsert(pool, "acme-old", roles=["partner"], partner_id="acme", active=False)
    await users.upsert(pool, "globex-ops", roles=["partner"], partner_id="globex")
    await users.upsert(pool, "carol", roles=["approver"])

    found = await DirectoryActivities(pool).partner_users(PartnerUsersQuery(partner_id="acme"))

    assert found.users == ["acme-old", "acme-ops"]  # a disabled one stays conflicted
