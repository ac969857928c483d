"""Workflow and task ids: partner approval ids never collide across deals, and both forms
(the legacy `partner-approval-<deal>-<partner>` of running approvals, the new
`partner-approval:<deal>:<partner>`) are recognised and split the same way everywhere."""

from __future__ import annotations

import re

import pytest

from domain.ids import (
    ID_PATTERN,
    deal_workflow_id,
    is_deal_workflow_id,
    is_partner_approval_id,
    legacy_partner_approval_id,
    parse_partner_approval_id,
    partner_approval_id,
    split_task_id,
    task_local_id,
    task_workflow_id,
)


def test_identifiers_cannot_hold_the_separator() -> None:
    assert re.fullmatch(ID_PATTERN, "eu-acme")
    assert not re.fullmatch(ID_PATTERN, "eu:acme")


def test_the_issue_pairs_collide_only_in_the_legacy_form() -> None:
    first, second = ("zeta", "eu-acme"), ("zeta-eu", "acme")
    assert legacy_partner_approval_id(*first) == legacy_partner_approval_id(*second)
    assert partner_approval_id(*first) == "partner-approval:zeta:eu-acme"
    assert partner_approval_id(*first) != partner_approval_id(*second)
    assert parse_partner_approval_id(partner_approval_id(*first)) == first
    assert parse_partner_approval_id(partner_approval_id(*second)) == second
    assert parse_partner_approval_id(legacy_partner_approval_id(*first)) is None


@pytest.mark.parametrize(
    ("task_id", "expected"),
    [
        ("deal-moonbear-eu:plan-v1", ("deal-moonbear-eu", "plan-v1")),
        ("deal-moonbear-eu:incident-2", ("deal-moonbear-eu", "incident-2")),
        (
            "partner-approval-moonbear-eu-acme:commercial-v1",
            ("partner-approval-moonbear-eu-acme", "commercial-v1"),
        ),
        (
            "partner-approval:moonbear-eu:acme:commercial-v1",
            ("partner-approval:moonbear-eu:acme", "commercial-v1"),
        ),
        # a step name may hold the separator: the local id is everything after the workflow id
        (
            "partner-approval:moonbear-eu:acme:legal:eu-v2",
            ("partner-approval:moonbear-eu:acme", "legal:eu-v2"),
        ),
        (
            "partner-approval:zeta:eu-acme:revision-v1",
            ("partner-approval:zeta:eu-acme", "revision-v1"),
        ),
    ],
)
def test_split_task_id_accepts_both_forms(task_id: str, expected: tuple[str, str]) -> None:
    assert split_task_id(task_id) == expected
    assert task_workflow_id(task_id) == expected[0]
    assert task_local_id(task_id) == expected[1]


@pytest.mark.parametrize(
    "task_id",
    [
        "deal-moonbear-eu",  # no local id
        "deal-moonbear-eu:",
        "partner-approval:moonbear-eu:acme",  # the workflow id alone
        "partner-approval:moonbear-eu:acme:",
        "partner-approval::acme:legal-v1",
        "partner-approval:Moonbear:acme:legal-v1",  # not an identifier
        "smoke-1:x",  # not a workflow holding tasks
        "deal-:plan-v1",
        "partner-approval-:legal-v1",
    ],
)
def test_split_task_id_refuses_what_names_no_task(task_id: str) -> None:
    assert split_task_id(task_id) is None
    assert task_workflow_id(task_id) is None
    assert task_local_id(task_id) == ""


def test_kinds_of_workflow_ids() -> None:
    assert is_deal_workflow_id(deal_workflow_id("moonbear"))
    assert not is_deal_workflow_id(partner_approval_id("moonbear", "acme"))
    for approval in (partner_approval_id("d", "p"), legacy_partner_approval_id("d", "p")):
        assert is_partner_approval_id(approval)
        assert not is_deal_workflow_id(approval)
    assert not is_partner_approval_id("partner-approval:d")
    assert not is_partner_approval_id(deal_workflow_id("d"))
