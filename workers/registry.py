"""Every workflow and activity the `licensing` worker runs. Add new ones here."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

import asyncpg

from activities.approval import ApprovalActivities
from activities.common import CommonActivities
from licenseflow.config import Settings
from workflows.partner_approval import PartnerApprovalWorkflow
from workflows.smoke import SmokeWorkflow


def workflow_classes() -> Sequence[type]:
    return [SmokeWorkflow, PartnerApprovalWorkflow]


def activity_functions(pool: asyncpg.Pool, settings: Settings) -> Sequence[Callable[..., Any]]:
    common = CommonActivities(pool)
    approval = ApprovalActivities(pool)
    return [common.record_audit, common.send_notification, approval.screen_partner]
