"""Every workflow and activity the `licensing` worker runs. Add new ones here."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

import asyncpg

from activities.approval import ApprovalActivities
from activities.common import CommonActivities
from activities.deal import DealActivities
from activities.directory import DirectoryActivities
from activities.read_model import ReadModelActivities
from activities.rights import RightsActivities
from activities.signing import SigningActivities
from licenseflow.config import Settings
from workflows.licensing_deal import LicensingDealWorkflow
from workflows.partner_approval import PartnerApprovalWorkflow
from workflows.smoke import SmokeWorkflow


def workflow_classes() -> Sequence[type]:
    return [SmokeWorkflow, PartnerApprovalWorkflow, LicensingDealWorkflow]


def activity_functions(pool: asyncpg.Pool, settings: Settings) -> Sequence[Callable[..., Any]]:
    common = CommonActivities(pool)
    approval = ApprovalActivities(pool)
    deal = DealActivities(pool, licensor=settings.licensor)
    signing = SigningActivities(pool, settings)
    directory = DirectoryActivities(pool)
    rights = RightsActivities(pool)
    read_model = ReadModelActivities(pool)
    return [
        common.record_audit,
        common.send_notification,
        common.incident_responders,
        approval.screen_partner,
        approval.store_partner_version,
        directory.partner_users,
        deal.sync_deal_read_model,
        deal.load_partner,
        deal.check_sales,
        deal.issue_statement,
        deal.compile_review,
        signing.request_signature,
        rights.hold_rights,
        rights.release_rights,
        read_model.write_deal_read_model,
        read_model.write_approval_read_model,
    ]
