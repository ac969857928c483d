"""The read model's writes (`store/read_model.py`): one activity per workflow kind, run as a
local activity after a workflow's transitions (`workflows/read_model.py`)."""

from __future__ import annotations

import asyncpg
import structlog
from temporalio import activity

from domain.read_model_io import ApprovalReadModelWrite, DealReadModelWrite
from store import read_model

log = structlog.get_logger(__name__)


class ReadModelActivities:
    """Read-model writes, bound to a Postgres pool; idempotent and ordered by sequence."""

    def __init__(self, pool: asyncpg.Pool) -> None:
        self._pool = pool

    @activity.defn
    async def write_deal_read_model(self, write: DealReadModelWrite) -> bool:
        """Write a deal's delta; False when the row holds this write or a later one."""
        written = await read_model.write_deal(self._pool, write)
        if not written:
            log.info("read_model.stale_write", deal_id=write.deal_id, seq=write.seq)
        return written

    @activity.defn
    async def write_approval_read_model(self, write: ApprovalReadModelWrite) -> bool:
        """Write a partner approval's status and open tasks; False when stale."""
        written = await read_model.write_approval(self._pool, write)
        if not written:
            log.info("read_model.stale_write", workflow_id=write.workflow_id, seq=write.seq)
        return written
