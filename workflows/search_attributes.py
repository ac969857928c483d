"""Typed custom search attributes. Registered at dev-server start; no personal data here."""

from __future__ import annotations

from temporalio.common import SearchAttributeKey

DEAL_STAGE = SearchAttributeKey.for_keyword("DealStage")
DEAL_OWNER = SearchAttributeKey.for_keyword("DealOwner")
LICENSING_PARTNER = SearchAttributeKey.for_keyword("LicensingPartner")
KPI_STATUS = SearchAttributeKey.for_keyword("KpiStatus")
PENDING_APPROVERS = SearchAttributeKey.for_keyword_list("PendingApprovers")
DEAL_HEALTH = SearchAttributeKey.for_keyword("DealHealth")
"""`blocked` while a failed activity waits for ops (incident task); `ok` once resolved."""

ALL = (DEAL_STAGE, DEAL_OWNER, LICENSING_PARTNER, KPI_STATUS, PENDING_APPROVERS, DEAL_HEALTH)
"""Every custom attribute, for registration (`temporal server start-dev --search-attribute`)."""


def cli_flags() -> list[str]:
    """`--search-attribute Name=Type` flags for `temporal server start-dev`."""
    kinds = {"KEYWORD": "Keyword", "KEYWORD_LIST": "KeywordList"}
    return [
        arg
        for key in ALL
        for arg in ("--search-attribute", f"{key.name}={kinds[key.indexed_value_type.name]}")
    ]
