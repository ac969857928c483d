"""Schema-driven fuzzing of the running API (schemathesis), then a check that nothing it got
accepted broke a deal.

Starts its own stack (dev server, embedded Postgres, worker and API processes, as
`bench/api_latency.py` does), registers the example partner, and runs schemathesis against
/openapi.json once per principal (admin, owner, partner) with the `not_a_server_error`
check. Afterwards every workflow must be running or completed (none failed, terminated or
timed out), none blocked (DealHealth) and none stuck on a failing workflow task.

    python bench/fuzz_api.py [--examples 50]      # or: make fuzz
"""

from __future__ import annotations

import argparse
import asyncio
import subprocess
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
sys.path.insert(0, str(Path(__file__).resolve().parent))

from api_latency import TASK_QUEUE, api_stack
from temporalio.client import Client, WorkflowExecutionStatus

from domain import examples

PRINCIPALS = [
    ("ada", ["admin"], None),
    ("olivia", ["owner"], None),
    ("acme-ops", ["partner"], "acme"),
]
BAD_ENDINGS = {
    WorkflowExecutionStatus.FAILED,
    WorkflowExecutionStatus.TERMINATED,
    WorkflowExecutionStatus.TIMED_OUT,
    WorkflowExecutionStatus.CANCELED,
}


def schemathesis(base_url: str, token: str, examples_per_operation: int) -> tuple[int, str]:
    """One schemathesis run; its exit code and summary lines."""
    done = subprocess.run(
        [
            str(Path(sys.executable).parent / "schemathesis"),
            "run",
            f"{base_url}/openapi.json",
            "--header",
            f"Authorization: Bearer {token}",
            "--checks",
            "not_a_server_error",
            "--max-examples",
            str(examples_per_operation),
            "--request-timeout",
            "15",
            "--suppress-health-check",
            "all",
            "--seed",
            "20261124",
        ],
        capture_output=True,
        text=True,
        timeout=900,
        check=False,
    )
    summary = [line for line in done.stdout.splitlines() if "generated" in line or "FAIL" in line]
    return done.returncode, "; ".join(summary) or done.stdout[-2000:]


async def deal_health(client: Client) -> tuple[int, list[str]]:
    """How many workflows exist, and each one that ended badly, is blocked or is stuck."""
    problems: list[str] = []
    count = 0
    async for execution in client.list_workflows(f'TaskQueue="{TASK_QUEUE}"'):
        count += 1
        if execution.status in BAD_ENDINGS:
            problems.append(f"{execution.id}: {execution.status.name}")
            continue
        if execution.status != WorkflowExecutionStatus.RUNNING:
            continue
        description = await client.get_workflow_handle(execution.id).describe()
        pending = description.raw_description.pending_workflow_task
        if pending.attempt > 1:
            problems.append(f"{execution.id}: workflow task failing (attempt {pending.attempt})")
        health = description.typed_search_attributes
        if any(pair.key.name == "DealHealth" and pair.value == "blocked" for pair in health):
            problems.append(f"{execution.id}: blocked")
    return count, problems


async def run(examples_per_operation: int) -> int:
    grants = [(user, user, roles, partner) for user, roles, partner in PRINCIPALS]
    async with api_stack(grants) as (client, http, tokens):
        base_url = str(http.base_url).rstrip("/")
        admin = {"Authorization": f"Bearer {tokens['ada']}"}
        await http.post("/v1/partners", json=examples.PARTNER, headers=admin)
        owner = {"Authorization": f"Bearer {tokens['olivia']}"}
        await http.post("/v1/properties", json=examples.PROPERTY, headers=owner)
        failed = 0
        for user in tokens:
            code, summary = await asyncio.to_thread(
                schemathesis, base_url, tokens[user], examples_per_operation
            )
            failed += code != 0
            print(f"schemathesis as {user}: exit {code}; {summary}")
        await asyncio.sleep(5)  # let the worker take what was accepted
        count, problems = await deal_health(client)
    print(f"workflows started: {count}; failed, blocked or stuck: {len(problems)}")
    for problem in problems:
        print(f"  {problem}")
    return 1 if failed or problems else 0


def main() -> int:
    parser = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    parser.add_argument("--examples", type=int, default=50, help="examples per operation")
    args = parser.parse_args()
    if not 1 <= args.examples <= 2000:
        parser.error("--examples must be 1..2000")
    return asyncio.run(run(args.examples))


if __name__ == "__main__":
    raise SystemExit(main())
