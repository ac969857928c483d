"""Helpers shared by the workflow test suites: refused updates, leftover runs, recorded
histories. (Polling lives in `polling.eventually`.)"""

from __future__ import annotations

import os
from collections.abc import Awaitable
from pathlib import Path
from typing import Any

from temporalio.client import (
    Client,
    WorkflowExecutionStatus,
    WorkflowHistory,
    WorkflowUpdateFailedError,
)
from temporalio.exceptions import ApplicationError
from temporalio.service import RPCError
from temporalio.worker import Replayer

from licenseflow.converter import data_converter
from workers.main import sandbox_runner

HISTORIES = Path(__file__).parent / "histories"
"""Recorded histories replayed in CI (`LICENSEFLOW_RECORD_HISTORIES=1` re-records them)."""

STARTED: list[tuple[Client, str]] = []
"""Workflows a test started, so a fixture can end the ones it leaves running."""


async def refusal(call: Awaitable[object]) -> ApplicationError:
    """The ApplicationError a refused Update failed with (fails the test if it was accepted)."""
    try:
        await call
    except WorkflowUpdateFailedError as failed:
        assert isinstance(failed.cause, ApplicationError), failed.cause
        return failed.cause
    raise AssertionError("update was accepted but should have been refused")


def refused_field(error: ApplicationError) -> str | None:
    """The input field a refusal names, if any."""
    fields = [d.get("field") for d in error.details if isinstance(d, dict)]
    return fields[0] if fields else None


def track(client: Client, workflow_id: str) -> None:
    STARTED.append((client, workflow_id))


async def terminate_leftovers() -> None:
    """Terminate every tracked workflow still running: on the time-skipping server a running
    workflow without a worker stops time from skipping for every later test."""
    while STARTED:
        client, workflow_id = STARTED.pop()
        handle = client.get_workflow_handle(workflow_id)
        try:
            if (await handle.describe()).status == WorkflowExecutionStatus.RUNNING:
                await handle.terminate("test finished")
        except RPCError:
            pass


def replayer(*workflows: type[Any]) -> Replayer:
    """A replayer with the worker's converter and sandbox."""
    return Replayer(
        workflows=list(workflows),
        data_converter=data_converter,
        workflow_runner=sandbox_runner(),
    )


async def replay_and_record(history: WorkflowHistory, name: str, replay: Replayer) -> None:
    """Replay a history with today's code; with LICENSEFLOW_RECORD_HISTORIES=1 also write it
    to tests/histories/<name>.json for the replay tests."""
    await replay.replay_workflow(history)
    if os.environ.get("LICENSEFLOW_RECORD_HISTORIES") == "1":
        HISTORIES.mkdir(exist_ok=True)
        (HISTORIES / f"{name}.json").write_text(history.to_json())
