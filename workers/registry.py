"""Every workflow and activity the `licensing` worker runs. Add new ones here."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

import asyncpg

from activities.common import CommonActivities
from licenseflow.config import Settings
from workflows.smoke import SmokeWorkflow


def workflow_classes() -> Sequence[type]:
    return [SmokeWorkflow]


def activity_functions(pool: asyncpg.Pool, settings: Settings) -> Sequence[Callable[..., Any]]:
    common = CommonActivities(pool)
    return [common.record_audit, common.send_notification]
