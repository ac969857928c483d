"""Deal reads under load: the reads people make often, while N deals run concurrently.

Starts what it needs (`month_end.stack()`: a Temporal dev server and an embedded Postgres in
this process; the production worker and the API as child processes, payloads encrypted as in
production, rate limiting off as in the other benches). Then, at once:

- drivers: N deals (default 300), each through the real API lifecycle: create (owner), plan
  approval (carol), partner approval in two steps (dave, larry), both signatures (sam and the
  licensee's acme-ops: 5 decisions), then the licensee's sales reports for periods 1 and 2;
  short periods (`--period`), so each deal reaches monitoring and issues two period
  statements. Drivers learn their next task from the read model's tables in one shared poll
  (no API traffic of their own but the calls a person would make).
- readers: a separate process (so its latencies are not the drivers' event loop) of
  `--readers` clients, each in a loop with `--think` seconds between requests, over the deals
  the read model holds: GET /v1/deals/{id} as its owner, GET /v1/deals (the owner's list),
  GET /v1/tasks (the inbox of one of the six people), GET /v1/deals/{id}/statements and
  GET /healthz (the HTTP floor); `--live-readers` clients read GET /v1/deals/{id}?live=true
  (the workflow's query) for comparison. Each driver also reads its deal once right after
  creating it (before the workflow may have written it: the live fallback).

The window runs from the first create until every deal has both period statements (or
`--timeout`). Printed: p50/p95/p99 per read kind (whole window, and split launch/monitoring),
the CPU of worker, dev server, Postgres, API and the bench's own processes in the window, and
the goal line. Stops by itself.

    python bench/deal_reads.py [--deals 300] [--readers 10] [--think 0.1] [--live-readers 2]
                               [--period 20] [--timeout 900]
"""

from __future__ import annotations

import argparse
import asyncio
import collections
import contextlib
import json
import os
import random
import shutil
import signal
import statistics
import sys
import time
import uuid
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
sys.path.insert(0, str(Path(__file__).resolve().parent))

import httpx
from api_latency import PARTNER_PROFILE, deal_body, free_port, register_property
from month_end import (
    REPORT_LINES,
    TASK_QUEUE,
    Stack,
    Tokens,
    _ready,
    people,
    service_env,
    stack,
    timing,
    wait_pollers,
)
from proc_stats import cpu_of, delta, quiet
from worker_profile import Profiler

from store.tokens import create_token

GOAL_MS, GOAL_DEALS = 50.0, 300
RETRIES = 10
"""Times a driver sends a call again after a 503 (worker busy) or 429 before giving up."""
POLL = 0.3
"""Seconds between the drivers' shared poll of the read model's tables."""
READ_KINDS = ("deal", "list", "inbox", "statements", "health", "live", "deal-after-create")
CYCLE = ("deal", "list", "deal", "inbox", "deal", "statements", "deal", "health")
"""What each reader asks, in turn: half of all reads are a deal read."""
STEPS: tuple[tuple[str, str, str], ...] = (
    ("plan_approval", "carol", "approve"),
    ("partner_approval", "dave", "approve"),
    ("partner_approval", "larry", "approve"),
    ("signature", "sam", "sign"),
    ("signature", "acme-ops", "sign"),
)
"""The 5 decisions of a deal: (task kind, who decides, decision)."""
RATE_LIMITS = {
    "off": {"LICENSEFLOW_RATE_LIMIT": "off"},
    "wide": {
        "LICENSEFLOW_RATE_LIMIT": "on",
        "LICENSEFLOW_TOKEN_RATE": "100000",
        "LICENSEFLOW_TOKEN_BURST": "100000",
        "LICENSEFLOW_IP_RATE": "100000",
        "LICENSEFLOW_IP_BURST": "100000",
    },
}
"""The API's rate limits: off (every call comes from one address and a few tokens, far
above the production budgets of 50/s per address and 20/s per token), or on with budgets
no call exhausts (the buckets' own cost)."""
INBOX_USERS = ("olivia", "carol", "dave", "larry", "sam", "acme-ops")


def lifecycle_body(deal_id: str, period: float, grace: float) -> dict[str, Any]:
    """`api_latency.deal_body` with a two-step partner approval and a short 2-period term."""
    body = deal_body(deal_id)
    body["partner_approval_chain"] = [
        {"step": "commercial", "approvers": ["dave"]},
        {"step": "legal", "approvers": ["larry"]},
    ]
    body["schedule"] = {
        "period": f"PT{period:g}S",
        "periods_per_review": 2,
        "periods_per_year": 2,
        "term_periods": 2,
        "report_grace": f"PT{grace:g}S",
        "decision_sla": "PT1H",
    }
    return body


# ---- the readers (a child process) -------------------------------------------------------


Samples = dict[str, list[tuple[float, float, int]]]
"""Read kind -> [(wall time, ms, HTTP status or 0 for a transport error)]."""


def reader_process(config_path: Path) -> None:
    """The readers' process: read until SIGTERM, then write every sample."""
    cfg = json.loads(config_path.read_text())
    samples = asyncio.run(read_until_stopped(cfg))
    Path(cfg["out"]).write_text(json.dumps(samples))


async def read_until_stopped(cfg: dict[str, Any]) -> Samples:
    ids_file = Path(cfg["ids_file"])
    tokens: dict[str, str] = cfg["tokens"]
    owner = {"Authorization": f"Bearer {tokens['olivia']}"}
    samples: Samples = collections.defaultdict(list)
    ids: list[str] = []
    stop, have_ids = asyncio.Event(), asyncio.Event()
    loop = asyncio.get_running_loop()

    def on_term() -> None:
        stop.set()
        have_ids.set()

    loop.add_signal_handler(signal.SIGTERM, on_term)
    rng = random.Random(cfg["seed"])

    async def refresh() -> None:
        while not stop.is_set():
            with contextlib.suppress(OSError):
                if found := (await asyncio.to_thread(ids_file.read_text)).split():
                    ids[:] = found
                    have_ids.set()
            await asyncio.sleep(0.5)

    def request(kind: str, n: int) -> tuple[str, dict[str, Any], dict[str, str]]:
        deal = rng.choice(ids)
        if kind == "deal":
            return f"/v1/deals/{deal}", {}, owner
        if kind == "live":
            return f"/v1/deals/{deal}", {"live": "true"}, owner
        if kind == "statements":
            return f"/v1/deals/{deal}/statements", {}, owner
        if kind == "list":
            return "/v1/deals", {}, owner
        if kind == "inbox":
            user = INBOX_USERS[n % len(INBOX_USERS)]
            return "/v1/tasks", {}, {"Authorization": f"Bearer {tokens[user]}"}
        return "/healthz", {}, {}

    async def client(http: httpx.AsyncClient, index: int, kinds: tuple[str, ...]) -> None:
        n = index
        await have_ids.wait()
        await asyncio.sleep(rng.random() * cfg["think"])  # not all in step
        while not stop.is_set():
            kind = kinds[n % len(kinds)]
            path, params, headers = request(kind, n // len(kinds))
            started = time.perf_counter()
            try:
                resp = await http.get(path, params=params, headers=headers)
                status = resp.status_code
            except httpx.HTTPError:
                status = 0
            samples[kind].append((time.time(), (time.perf_counter() - started) * 1000, status))
            n += 1
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(stop.wait(), cfg["think"])

    clients = cfg["readers"] + cfg["live_readers"]
    limits = httpx.Limits(max_connections=clients + 1, max_keepalive_connections=clients + 1)
    async with httpx.AsyncClient(base_url=cfg["base_url"], timeout=120, limits=limits) as http:
        await asyncio.gather(
            refresh(),
            *(client(http, i, CYCLE) for i in range(cfg["readers"])),
            *(client(http, i, ("live",)) for i in range(cfg["live_readers"])),
        )
    return samples


# ---- the drivers -----------------------------------------------------------------------


class Board:
    """What the drivers wait for, from one poll of the read model's tables for all deals:
    open tasks by (deal, kind, assignee), stages, period statements issued."""

    def __init__(self, st: Stack, prefix: str, ids_file: Path) -> None:
        self.st, self.prefix, self.ids_file = st, prefix, ids_file
        self.tasks: dict[tuple[str, str, str], str] = {}
        self.stages: dict[str, str] = {}
        self.statements: dict[str, int] = {}
        self.changed = asyncio.Condition()

    async def poll(self) -> None:
        while True:
            pool, like = self.st.pool, self.prefix + "%"
            rows = await pool.fetch(
                "SELECT deal_id, kind, task_id, assignees FROM deal_tasks WHERE deal_id LIKE $1",
                like,
            )
            tasks = {
                (r["deal_id"], r["kind"], a): r["task_id"] for r in rows for a in r["assignees"]
            }
            rows = await pool.fetch(
                "SELECT deal_id, stage FROM deals WHERE deal_id LIKE $1 AND rm_seq IS NOT NULL",
                like,
            )
            stages = {r["deal_id"]: r["stage"] for r in rows}
            rows = await pool.fetch(
                "SELECT deal_id, count(*) AS n FROM statements"
                " WHERE deal_id LIKE $1 AND kind = 'period' GROUP BY deal_id",
                like,
            )
            if len(stages) != len(self.stages):  # the deals readers may read: the read model's
                staged = self.ids_file.with_suffix(".new")
                staged.write_text("\n".join(sorted(stages)))
                staged.replace(self.ids_file)  # whole: the readers never see half a file
            async with self.changed:
                self.tasks, self.stages = tasks, stages
                self.statements = {r["deal_id"]: r["n"] for r in rows}
                self.changed.notify_all()
            await asyncio.sleep(POLL)

    async def task(self, key: tuple[str, str, str]) -> str:
        """The id of the open task `key` (deal, kind, assignee), once it is open."""
        async with self.changed:
            await self.changed.wait_for(lambda: key in self.tasks)
            return self.tasks[key]

    async def until(self, ready: Callable[[], Any]) -> Any:
        async with self.changed:
            return await self.changed.wait_for(ready)


@dataclass
class Drive:
    decisions: list[float] = field(default_factory=list)
    creates: list[float] = field(default_factory=list)
    after_create: list[tuple[float, float, int]] = field(default_factory=list)
    launched: list[float] = field(default_factory=list)
    done: list[float] = field(default_factory=list)
    retried: collections.Counter[str] = field(default_factory=collections.Counter)
    """Calls sent again after a 503 or 429, by kind (deals, decision, sales-reports)."""
    monitoring_at: float | None = None
    """Wall time when the last deal reached monitoring."""


async def post(
    http: httpx.AsyncClient,
    out: Drive,
    url: str,
    body: dict[str, Any],
    headers: dict[str, str],
    ok: int,
    again: tuple[int, ...],
) -> float:
    """POST as a client of the API does: a 503 (worker busy: its update or start timed out)
    or a 429 is sent again after its Retry-After; the answer must be `ok`, or after a
    resend one of `again` (the first attempt may have taken effect). The ms of the attempt
    that answered."""
    for attempt in range(RETRIES + 1):
        started = time.perf_counter()
        resp = await http.post(url, json=body, headers=headers)
        ms = (time.perf_counter() - started) * 1000
        if resp.status_code in (429, 503) and attempt < RETRIES:
            out.retried[url.rsplit("/", 1)[-1] if "/tasks/" not in url else "decision"] += 1
            await asyncio.sleep(float(resp.headers.get("retry-after", "1")))
            continue
        wanted = (ok,) if attempt == 0 else (ok, *again)
        assert resp.status_code in wanted, f"POST {url} {body}: {resp.text}"
        return ms
    raise AssertionError("unreachable")


async def drive_deal(
    http: httpx.AsyncClient,
    board: Board,
    heads: dict[str, dict[str, str]],
    deal_id: str,
    args: argparse.Namespace,
    out: Drive,
) -> None:
    started = time.monotonic()
    body = lifecycle_body(deal_id, args.period, args.grace)
    out.creates.append(await post(http, out, "/v1/deals", body, heads["olivia"], 201, (200,)))
    t0 = time.perf_counter()
    resp = await http.get(f"/v1/deals/{deal_id}", headers=heads["olivia"])
    out.after_create.append((time.time(), (time.perf_counter() - t0) * 1000, resp.status_code))
    for kind, user, decision in STEPS:
        task_id = await board.task((deal_id, kind, user))
        url, decided = f"/v1/tasks/{task_id}/decision", {"decision": decision}
        out.decisions.append(await post(http, out, url, decided, heads[user], 200, (404, 409)))
    await board.until(lambda: board.stages.get(deal_id) == "monitoring")
    out.launched.append(time.monotonic() - started)
    if len(out.launched) == args.deals:
        out.monitoring_at = time.time()
    for period in (1, 2):
        report = {"period": period, "lines": REPORT_LINES}
        url = f"/v1/deals/{deal_id}/sales-reports"
        await post(http, out, url, report, heads["acme-ops"], 201, (200,))
    await board.until(lambda: board.statements.get(deal_id, 0) >= 2)
    out.done.append(time.monotonic() - started)


def renice(pid: int, nice: int) -> None:
    """Every thread of `pid` to `nice` (Linux keeps it per thread; new threads inherit it
    from the thread that makes them)."""
    for tid in os.listdir(f"/proc/{pid}/task"):
        with contextlib.suppress(ProcessLookupError):
            os.setpriority(os.PRIO_PROCESS, int(tid), nice)


def machine_cpu() -> float:
    """CPU seconds the whole machine spent busy (all cores, every process: /proc/stat)."""
    fields = [int(v) for v in Path("/proc/stat").read_text().split("\n", 1)[0].split()[1:]]
    idle = fields[3] + fields[4]  # idle, iowait
    return (sum(fields[:8]) - idle) / os.sysconf("SC_CLK_TCK")


async def sample_load(
    groups: dict[str, list[int]], out: list[tuple[float, dict[str, float]]]
) -> None:
    """Every second: (wall time, CPU seconds so far of each group and of the machine)."""
    while True:
        now = await asyncio.to_thread(cpu_of, groups)
        now["machine"] = machine_cpu()
        out.append((time.time(), now))
        await asyncio.sleep(1.0)


def print_timeline(
    samples: Samples, loads: list[tuple[float, dict[str, float]]], step: float
) -> None:
    """Per `step` seconds: cores busy (machine, API, worker, dev server) and the p99 of the
    deal read and of /healthz, to see what the slow reads coincide with."""
    if len(loads) < 2:
        return
    print(f"\ntimeline ({step:g} s steps): cores busy; p99 ms (n) of deal reads and /healthz")
    row = "{:>6} {:>8} {:>6} {:>7} {:>9} {:>14} {:>14}"
    print(row.format("s", "machine", "api", "worker", "temporal", "deal p99", "health p99"))
    zero, t = loads[0][0], loads[0][0]
    while t < loads[-1][0]:
        inside = [(w, v) for w, v in loads if t <= w <= t + step]
        cells = []
        for kind in ("deal", "health"):
            ms = [r[1] for r in samples.get(kind, []) if t <= r[0] < t + step]
            cells.append(f"{quantiles(ms)[2]:.0f} ({len(ms)})" if ms else "-")
        if len(inside) >= 2:
            (w0, a), (w1, b) = inside[0], inside[-1]
            busy = {k: (b[k] - a[k]) / (w1 - w0) for k in b}
            print(
                row.format(
                    f"{t - zero:.0f}",
                    f"{busy['machine']:.2f}",
                    f"{busy['api']:.2f}",
                    f"{busy['worker']:.2f}",
                    f"{busy['temporal']:.2f}",
                    *cells,
                )
            )
        t += step


async def service_times(
    http: httpx.AsyncClient, heads: dict[str, dict[str, str]], ids: list[str], api: int, n: int
) -> list[tuple[str, float, float]]:
    """(kind, p50 ms, API CPU ms per read) of `n` sequential reads of each kind."""
    owner = heads["olivia"]
    kinds: list[tuple[str, Callable[[int], tuple[str, dict[str, str], dict[str, str]]]]] = [
        ("health", lambda i: ("/healthz", {}, {})),
        ("deal", lambda i: (f"/v1/deals/{ids[i % len(ids)]}", {}, owner)),
        ("list", lambda i: ("/v1/deals", {}, owner)),
        ("inbox", lambda i: ("/v1/tasks", {}, heads[INBOX_USERS[i % len(INBOX_USERS)]])),
        ("statements", lambda i: (f"/v1/deals/{ids[i % len(ids)]}/statements", {}, owner)),
        ("live", lambda i: (f"/v1/deals/{ids[i % len(ids)]}", {"live": "true"}, owner)),
    ]
    rows = []
    for kind, make in kinds:
        ms: list[float] = []
        before = cpu_of({"api": [api]})["api"]
        for i in range(n):
            path, params, headers = make(i)
            started = time.perf_counter()
            resp = await http.get(path, params=params, headers=headers)
            ms.append((time.perf_counter() - started) * 1000)
            assert resp.status_code == 200, resp.text
        used = cpu_of({"api": [api]})["api"] - before
        rows.append((kind, statistics.median(ms), used * 1000 / n))
    return rows


async def explain_reads(st: Stack, tokens: dict[str, str], deal_id: str) -> None:
    """The plans (EXPLAIN ANALYZE through auto_explain) of the queries the reads make, run by
    the store functions the API calls, on the data the window left."""
    from api.read_model import ListScope
    from store import principals, read_model, statements

    scope = ListScope(everything=False, as_owner="olivia")
    calls: list[tuple[str, Callable[[Any], Any]]] = [
        ("token lookup (every request)", lambda c: principals.lookup(c, tokens["olivia"])),
        ("deal read: access row", lambda c: read_model.deal_access_row(c, deal_id)),
        ("deal read: document", lambda c: read_model.deal_document(c, deal_id)),
        ("list/inbox: covers open deals", lambda c: read_model.has_unpublished_deals(c)),
        (
            "list (owner)",
            lambda c: read_model.list_deals(
                c,
                stage=None,
                partner_id=None,
                owner=None,
                everything=False,
                as_owner=scope.as_owner,
                as_partner=None,
                as_approver=None,
                limit=100,
            ),
        ),
        (
            "list (approver)",
            lambda c: read_model.list_deals(
                c,
                stage=None,
                partner_id=None,
                owner=None,
                everything=False,
                as_owner=None,
                as_partner=None,
                as_approver="carol",
                limit=100,
            ),
        ),
        ("inbox (olivia)", lambda c: read_model.inbox(c, "olivia")),
        ("statements of a deal", lambda c: statements.for_deal(c, deal_id)),
    ]
    plans: list[str] = []
    async with st.pool.acquire() as conn:
        conn.add_log_listener(lambda _c, msg: plans.append(str(msg.message)))
        await conn.execute(
            "LOAD 'auto_explain'; SET auto_explain.log_min_duration = 0;"
            " SET auto_explain.log_analyze = on; SET auto_explain.log_buffers = on;"
            " SET auto_explain.log_nested_statements = on;"
            " SET auto_explain.log_level = notice"
        )
        counts = await conn.fetchrow(
            "SELECT (SELECT count(*) FROM deals) AS deals, (SELECT count(*) FROM deal_tasks)"
            " AS tasks, (SELECT count(*) FROM deal_history) AS history,"
            " (SELECT count(*) FROM statements) AS statements"
        )
        print(f"\nquery plans on {dict(counts or {})} rows, deal {deal_id}:")
        for title, call in calls:
            plans.clear()
            await call(conn)
            await asyncio.sleep(0.05)  # notices arrive with the reply; let the listener run
            print(f"-- {title}")
            for plan in plans:
                lines = [ln for ln in plan.splitlines() if ln.strip()]
                print("\n".join("   " + ln for ln in lines if not ln.startswith("Query Text")))


# ---- report ------------------------------------------------------------------------------


def quantiles(values: list[float]) -> tuple[float, float, float, float]:
    """(p50, p95, p99, max)."""
    if len(values) == 1:
        return values[0], values[0], values[0], values[0]
    q = statistics.quantiles(values, n=100, method="inclusive")
    return q[49], q[94], q[98], max(values)


def print_latencies(samples: Samples, split: float | None, window: float) -> float | None:
    """p50/p95/p99 per read kind; the deal read's p99 (None without samples)."""
    row = "{:<22} {:>7} {:>7} {:>8} {:>8} {:>8} {:>8}  {}"
    print(row.format("read", "n", "per s", "p50 ms", "p95 ms", "p99 ms", "max ms", "not 200"))
    deal_p99 = None
    for kind in READ_KINDS:
        rows = samples.get(kind) or []
        if not rows:
            continue
        parts = [("", rows)]
        if split is not None and kind != "deal-after-create":
            parts += [
                ("  launch", [r for r in rows if r[0] < split]),
                ("  monitoring", [r for r in rows if r[0] >= split]),
            ]
        for suffix, part in parts:
            if not part:
                continue
            p50, p95, p99, top = quantiles([r[1] for r in part])
            bad = collections.Counter(r[2] for r in part if r[2] != 200)
            rate = "" if suffix else f"{len(part) / window:.1f}"
            name = kind if not suffix else suffix
            text = ", ".join(f"{k}: {v}" for k, v in sorted(bad.items()))
            print(
                row.format(
                    name,
                    len(part),
                    rate,
                    f"{p50:.1f}",
                    f"{p95:.1f}",
                    f"{p99:.1f}",
                    f"{top:.0f}",
                    text,
                )
            )
            if kind == "deal" and not suffix:
                deal_p99 = p99
    return deal_p99


def print_report(
    args: argparse.Namespace,
    drive: Drive,
    samples: Samples,
    cpu: dict[str, float],
    window: float,
    finished: bool,
) -> None:
    n = args.deals
    print(
        f"\ndeal reads: {n} deals driven concurrently through the API ({len(drive.launched)}"
        f" launched, {len(drive.done)} with both period statements"
        f"{'' if finished else '; TIMED OUT'});"
        f" window {window:.0f} s; {args.readers} readers (think {args.think:g} s),"
        f" {args.live_readers} live readers; API rate limit {args.rate_limit}"
        + (f"; worker and dev server at nice {args.nice}" if args.nice else "")
    )
    if drive.launched:
        p50, _, p99, _ = quantiles(drive.launched)
        d50, _, d99, _ = quantiles(drive.decisions)
        c50, _, c99, _ = quantiles(drive.creates)
        print(
            f"drive: create p50 {c50:.0f} / p99 {c99:.0f} ms; decision p50 {d50:.0f} / p99"
            f" {d99:.0f} ms ({len(drive.decisions)}); create to monitoring p50 {p50:.1f} /"
            f" p99 {p99:.1f} s; to 2 statements max {max(drive.done, default=0):.1f} s"
        )
    if drive.retried:
        again = ", ".join(f"{k} {v}" for k, v in sorted(drive.retried.items()))
        print(f"drive: sent again after a 503 (worker busy) or 429: {again}")
    busy = ", ".join(f"{k} {v / window:.2f}" for k, v in cpu.items())
    print(f"CPU in the window, cores busy (of {os.cpu_count()}): {busy}")
    samples = {**samples, "deal-after-create": drive.after_create}
    deal_p99 = print_latencies(samples, drive.monitoring_at, window)
    if drive.monitoring_at is not None:
        print("  (launch: until the last deal reached monitoring; monitoring: after)")
    verdict = "n/a" if deal_p99 is None else "met" if deal_p99 <= GOAL_MS else "not met"
    at = "" if n == GOAL_DEALS else f" (measured at {n}: run --deals {GOAL_DEALS} for the goal)"
    shown = "-" if deal_p99 is None else f"{deal_p99:.1f} ms"
    print(
        f"goal: deal read p99 <= {GOAL_MS:g} ms at {GOAL_DEALS} concurrent deals: {verdict}"
        f" (p99 {shown}){at}"
    )
    floor = [r[1] for r in samples.get("health", [])]
    if floor and deal_p99 is not None and deal_p99 > GOAL_MS:
        machine = cpu["machine (all processes)"] / window
        ours = sum(v for k, v in cpu.items() if not k.startswith("machine")) / window
        print(
            f"  the HTTP floor in the same window: GET /healthz p99 {quantiles(floor)[2]:.1f} ms"
            f" (no auth, no database); machine busy {machine:.2f} of {os.cpu_count()} cores,"
            f" {ours:.2f} of them this bench's processes"
        )


# ---- main --------------------------------------------------------------------------------


async def run(args: argparse.Namespace) -> int:
    async with stack() as st, keep_logs(st, args.logs):
        tokens = await people(st)
        extra = {u: await create_token(st.pool, u, ["approver"], None) for u in STEPS_USERS}
        all_tokens = {
            "olivia": tokens.owner,
            "carol": tokens.approver,
            "acme-ops": tokens.partner,
            **extra,
        }
        heads = {u: Tokens.header(t) for u, t in all_tokens.items()}
        env = {**service_env(st), **RATE_LIMITS[args.rate_limit]}
        cli = [sys.executable, "-m", "licenseflow.cli"]
        workers = [st.spawn(f"worker-{w + 1}", [*cli, "worker"], env) for w in range(args.workers)]
        port = free_port()
        api_cmd = [*cli, "api", "--host", "127.0.0.1", "--port", str(port)]
        profiler = Profiler(st.root) if args.profile_api else None
        if profiler is not None:
            api_cmd = profiler.worker_command(api_cmd)
        api = st.spawn("api", api_cmd, env)
        await wait_pollers(st.client, TASK_QUEUE, [w.pid for w in workers])
        if args.nice:
            for pid in [*(w.pid for w in workers), st.server_pid]:
                renice(pid, args.nice)
        base_url = f"http://127.0.0.1:{port}"
        limits = httpx.Limits(max_connections=args.deals, max_keepalive_connections=args.deals)
        async with httpx.AsyncClient(base_url=base_url, timeout=300, limits=limits) as http:
            await _ready(http)
            admin = Tokens.header(tokens.admin)
            (
                await http.post("/v1/partners", json=PARTNER_PROFILE, headers=admin)
            ).raise_for_status()
            await register_property(http, heads["olivia"])

            run_id = uuid.uuid4().hex[:6]
            ids = [f"rd-{run_id}-{i:05d}" for i in range(args.deals)]
            ids_file, out_file = st.root / "read-ids.txt", st.root / "reads.json"
            ids_file.write_text("")
            config = st.root / "reader.json"
            config.write_text(
                json.dumps(
                    {
                        "base_url": base_url,
                        "tokens": all_tokens,
                        "ids_file": str(ids_file),
                        "out": str(out_file),
                        "readers": args.readers,
                        "live_readers": args.live_readers,
                        "think": args.think,
                        "seed": 14,
                    }
                )
            )
            reader = st.spawn(
                "reader", [sys.executable, __file__, "--reader", str(config)], {**os.environ}
            )
            groups = {
                "worker": [w.pid for w in workers],
                "temporal": [st.server_pid],
                "postgres": [st.postmaster_pid],
                "api": [api.pid],
                "readers": [reader.pid],
            }
            board = Board(st, f"rd-{run_id}-", ids_file)
            poller = asyncio.create_task(board.poll())
            loads: list[tuple[float, dict[str, float]]] = []
            sampler = asyncio.create_task(sample_load(groups, loads))
            drive = Drive()
            print(f"deal reads: driving {args.deals} deals (period {args.period:g} s)")
            if profiler is not None:
                profiler.start(api.pid)
            before, self_before, started = cpu_of(groups), time.process_time(), time.monotonic()
            machine_before = machine_cpu()
            finished = True
            with timing("window"):
                drivers = [
                    asyncio.create_task(drive_deal(http, board, heads, d, args, drive)) for d in ids
                ]
                try:
                    async with asyncio.timeout(args.timeout):
                        await asyncio.gather(*drivers)
                except TimeoutError:
                    finished = False
                finally:
                    window = time.monotonic() - started
                    cpu = delta(cpu_of(groups), before)
                    cpu["bench"] = time.process_time() - self_before
                    cpu["machine (all processes)"] = machine_cpu() - machine_before
                    if profiler is not None:
                        profiler.stop()
                    st.stop(reader)
                    for task in [*drivers, poller, sampler]:
                        task.cancel()
                    await asyncio.gather(*drivers, poller, sampler, return_exceptions=True)
            quiet_rows: list[tuple[str, float, float]] = []
            if board.stages and args.quiet_reads:
                await quiet([w.pid for w in workers] + [st.server_pid], limit=60)
                quiet_rows = await service_times(
                    http, heads, sorted(board.stages), api.pid, args.quiet_reads
                )
            if args.explain and board.stages:
                await explain_reads(st, all_tokens, sorted(board.stages)[0])
            if reader.returncode != 0 or not out_file.exists():
                print(
                    f"reader process failed (exit {reader.returncode}); see its log",
                    file=sys.stderr,
                )
                print((st.root / "reader.log").read_text()[-3000:], file=sys.stderr)
                return 1
            samples = {
                k: [tuple(r) for r in v] for k, v in json.loads(out_file.read_text()).items()
            }
        for child in [*workers, api]:
            st.stop(child)
        print_report(args, drive, samples, cpu, window, finished)
        if quiet_rows:
            print(
                f"after the window, worker idle, one reader, {args.quiet_reads} reads each:"
                " latency p50 and the API's CPU per read (its service time)"
            )
            for kind, p50, api_ms in quiet_rows:
                print(f"  {kind:<12} p50 {p50:6.1f} ms   API CPU {api_ms:5.2f} ms/read")
        if args.timeline:
            print_timeline(samples, loads, args.timeline)
        if profiler is not None:
            print("\nAPI profile (printed as 'worker', ms per deal driven):")
            profiler.report(args.deals)
    return 0


STEPS_USERS = sorted({user for _, user, _ in STEPS} - {"carol", "acme-ops"})


@contextlib.asynccontextmanager
async def keep_logs(st: Stack, where: Path | None) -> AsyncIterator[None]:
    """Copy the children's logs to `where` on the way out (the stack's directory goes)."""
    try:
        yield
    finally:
        if where is not None:
            for child in st.children:
                st.stop(child)
            await asyncio.to_thread(_copy_logs, st.root, where)


def _copy_logs(root: Path, where: Path) -> None:
    where.mkdir(parents=True, exist_ok=True)
    for log in [*root.glob("*.log"), *root.glob("reads.json")]:
        shutil.copyfile(log, where / log.name)


def main() -> int:
    if len(sys.argv) == 3 and sys.argv[1] == "--reader":
        reader_process(Path(sys.argv[2]))
        return 0
    parser = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    parser.add_argument("--deals", type=int, default=GOAL_DEALS)
    parser.add_argument("--readers", type=int, default=10, help="reader clients")
    parser.add_argument("--think", type=float, default=0.1, help="s between a reader's reads")
    parser.add_argument("--live-readers", type=int, default=2, help="?live=true readers")
    parser.add_argument("--period", type=float, default=20.0, help="reporting period, s")
    parser.add_argument("--grace", type=float, default=10.0, help="report grace, s")
    parser.add_argument("--workers", type=int, default=1, choices=(1, 2, 3, 4))
    parser.add_argument("--timeout", type=float, default=900.0, help="window limit, s")
    parser.add_argument("--profile-api", action="store_true", help="sample the API process")
    parser.add_argument(
        "--quiet-reads", type=int, default=200, help="sequential reads per kind after (0: none)"
    )
    parser.add_argument("--explain", action="store_true", help="plans of the read queries")
    parser.add_argument(
        "--nice",
        type=int,
        default=0,
        choices=range(20),
        metavar="0..19",
        help="run the worker(s) and the dev server at this nice level (the API and Postgres"
        " at 0): the API as on a host of its own, the worker's bursts yielding to it",
    )
    parser.add_argument("--timeline", type=float, help="print load and p99 per this many s")
    parser.add_argument("--logs", type=Path, help="keep the children's logs here")
    parser.add_argument("--rate-limit", choices=sorted(RATE_LIMITS), default="off")
    args = parser.parse_args()
    if not 1 <= args.deals <= 5000 or args.readers < 1 or args.live_readers < 0:
        parser.error("--deals must be 1..5000, --readers >= 1, --live-readers >= 0")
    try:
        return asyncio.run(run(args))
    except (RuntimeError, TimeoutError, AssertionError) as exc:
        print(f"deal-reads bench failed: {type(exc).__name__}: {exc}", file=sys.stderr)
        return 1


if __name__ == "__main__":
    raise SystemExit(main())
