"""Helpers shared by the workflow test suites: refused updates, leftover runs, recorded
histories (sealed with the test key ring, as the test servers store them). (Polling lives in
`polling.eventually`.)"""

from __future__ import annotations

import json
import os
from collections.abc import Awaitable
from pathlib import Path
from typing import Any

from histories.encrypt_histories import codec_payloads, is_encrypted, open_history, seal_history
from temporalio.client import (
    Client,
    WorkflowExecutionStatus,
    WorkflowHistory,
    WorkflowUpdateFailedError,
)
from temporalio.converter import DataConverter
from temporalio.exceptions import ApplicationError
from temporalio.service import RPCError
from temporalio.worker import Replayer

from licenseflow.config import get_settings
from licenseflow.converter import data_converter
from licenseflow.encryption import KeyRing
from workers.main import sandbox_runner

HISTORIES = Path(__file__).parent / "histories"
"""Recorded histories replayed in CI (`LICENSEFLOW_RECORD_HISTORIES=1` re-records them). Their
payloads are encrypted with the test key ring (tests/conftest.py); see encrypt_histories.py."""

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


def replayer(*workflows: type[Any], converter: DataConverter = data_converter) -> Replayer:
    """A replayer with the worker's converter (or `converter`) and the strict sandbox."""
    return Replayer(
        workflows=list(workflows),
        data_converter=converter,
        workflow_runner=sandbox_runner(strict=True),
    )


def suite_key_ring() -> KeyRing:
    """The ring the suite runs with (`TEST_PAYLOAD_KEYS`): newest seals, all open."""
    return get_settings().payload_key_ring


def load_history(name: str, workflow_id: str | None = None) -> WorkflowHistory:
    """tests/histories/<name>.json as recorded (payloads sealed), under `workflow_id` (the
    name by default)."""
    return WorkflowHistory.from_json(workflow_id or name, (HISTORIES / f"{name}.json").read_text())


async def opened_history_json(name: str) -> dict[str, Any]:
    """tests/histories/<name>.json as a JSON dict with every payload decrypted (json/plain),
    for tests that read or edit recorded values."""
    history: dict[str, Any] = json.loads((HISTORIES / f"{name}.json").read_text())
    return await open_history(history, suite_key_ring())


async def sealed_history(workflow_id: str, history: dict[str, Any]) -> WorkflowHistory:
    """A history JSON dict (e.g. an edited `opened_history_json`) sealed again with the
    test ring's newest key, as a worker running with the codec would have written it."""
    await seal_history(history, suite_key_ring())
    return WorkflowHistory.from_json(workflow_id, history)


async def replay_and_record(history: WorkflowHistory, name: str, replay: Replayer) -> None:
    """Replay a history with today's code; with LICENSEFLOW_RECORD_HISTORIES=1 also write it
    to tests/histories/<name>.json for the replay tests. Fetched from a test server whose
    clients and workers use the test ring, its payloads are already sealed; one that is not
    (a client without the codec) is refused rather than committed in plain text."""
    await replay.replay_workflow(history)
    if os.environ.get("LICENSEFLOW_RECORD_HISTORIES") == "1":
        recorded = history.to_json()
        plain = [p for p in codec_payloads(json.loads(recorded)) if not is_encrypted(p)]
        assert not plain, f"{name}: {len(plain)} payload(s) not encrypted, not recorded"
        HISTORIES.mkdir(exist_ok=True)
        (HISTORIES / f"{name}.json").write_text(recorded)
