"""CPU and memory of processes and process trees, from /proc (Linux), for the benches."""

from __future__ import annotations

import asyncio
import collections
import contextlib
import os
import time
from pathlib import Path

CLOCK = os.sysconf("SC_CLK_TCK")


def _proc_table() -> dict[int, tuple[int, float]]:
    """pid -> (ppid, CPU seconds of the process and of its reaped children)."""
    table = {}
    for entry in os.scandir("/proc"):
        if not entry.name.isdigit():
            continue
        with contextlib.suppress(OSError, ValueError, IndexError):
            text = Path(f"/proc/{entry.name}/stat").read_text()
            fields = text[text.rindex(")") + 2 :].split()
            # fields[1] ppid; [11..14] utime, stime, cutime, cstime (clock ticks)
            table[int(entry.name)] = (int(fields[1]), sum(map(int, fields[11:15])) / CLOCK)
    return table


def cpu_of(groups: dict[str, list[int]]) -> dict[str, float]:
    """CPU seconds of each group of process trees (a root and all its descendants; the
    CPU of descendants that exited is in their parent's reaped-children times)."""
    table = _proc_table()
    children: dict[int, list[int]] = collections.defaultdict(list)
    for pid, (ppid, _) in table.items():
        children[ppid].append(pid)

    def tree(pid: int) -> float:
        return table.get(pid, (0, 0.0))[1] + sum(tree(c) for c in children[pid])

    return {name: sum(tree(p) for p in pids) for name, pids in groups.items()}


def rss_total(pids: list[int]) -> float:
    return sum(rss_mb(pid) for pid in pids)


def rss_mb(pid: int) -> float:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    return 0.0


def children_named(name: str) -> set[int]:
    found = set()
    for pid, (ppid, _) in _proc_table().items():
        with contextlib.suppress(OSError):
            if ppid == os.getpid() and Path(f"/proc/{pid}/comm").read_text().strip() == name:
                found.add(pid)
    return found


def delta(after: dict[str, float], before: dict[str, float]) -> dict[str, float]:
    return {k: after[k] - before.get(k, 0.0) for k in after}


async def quiet(pids: list[int], *, below: float = 0.08, limit: float = 600.0) -> float:
    """Wait until `pids` together use less than `below` cores for two 1 s windows; the
    seconds waited (work queued in Temporal shows up as CPU of the worker/server)."""
    started = time.monotonic()
    groups, calm = {"p": pids}, 0
    last = cpu_of(groups)["p"]
    while calm < 2 and time.monotonic() - started < limit:
        await asyncio.sleep(1.0)
        now = cpu_of(groups)["p"]
        calm = calm + 1 if now - last < below else 0
        last = now
    return time.monotonic() - started
