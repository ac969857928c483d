"""Visibility queries are built from validated values only."""

from __future__ import annotations

import pytest

from api.visibility import deals_query, quote, tasks_query
from store.tokens import Principal


@pytest.mark.parametrize(
    "value",
    ["x' OR '1'='1", "carol\\", 'a"b', "Carol", "", "a b", "-lead", "x" * 64, "olivia'--"],
)
def test_quote_refuses_anything_but_identifiers(value: str) -> None:
    with pytest.raises(ValueError):
        quote(value)


def test_quote_wraps_identifiers() -> None:
    assert quote("acme-ops.eu_1") == "'acme-ops.eu_1'"


def test_tasks_query_names_the_user() -> None:
    assert tasks_query("carol") == "ExecutionStatus = 'Running' AND PendingApprovers = 'carol'"


def test_owner_sees_only_own_deals_whatever_the_filters() -> None:
    owner = Principal(user="olivia", roles=frozenset({"owner"}))
    query = deals_query(owner, stage="monitoring", partner_id="acme")
    assert query == (
        "WorkflowType = 'LicensingDeal' AND DealStage = 'monitoring'"
        " AND LicensingPartner = 'acme' AND (DealOwner = 'olivia')"
    )


def test_ops_and_admin_are_not_narrowed() -> None:
    ops = Principal(user="oscar", roles=frozenset({"ops"}))
    assert deals_query(ops, owner="olivia") == (
        "WorkflowType = 'LicensingDeal' AND DealOwner = 'olivia'"
    )


def test_roles_combine_as_alternatives() -> None:
    who = Principal(user="pat", roles=frozenset({"approver", "partner"}), partner_id="acme")
    assert deals_query(who).endswith("(LicensingPartner = 'acme' OR PendingApprovers = 'pat')")


def test_injection_through_filters_is_refused() -> None:
    admin = Principal(user="root", roles=frozenset({"admin"}))
    with pytest.raises(ValueError):
        deals_query(admin, owner="x' OR DealOwner != '")
