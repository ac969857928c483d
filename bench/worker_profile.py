"""`--profile` of `bench/month_end.py`: sample a worker during the month-end window and
print where its CPU goes, per deal-period.

py-spy (`PY_SPY`, PATH or the venv; not a project dependency) attaches to the running
worker for the window only; without it the worker is started under
`bench/sampling_profiler.py`, which samples between SIGUSR1 and SIGUSR2. Both write collapsed
stacks (py-spy's `raw` format), read here.
"""

from __future__ import annotations

import collections
import os
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

BENCH = Path(__file__).resolve().parent


class Profiler:
    """py-spy (PY_SPY, PATH or the venv) attached to a worker for the window, else the
    in-process sampler (`bench/sampling_profiler.py`, the worker started under it)."""

    RATE = 100

    def __init__(self, root: Path) -> None:
        self.out = root / "worker-profile.txt"
        found = os.environ.get("PY_SPY") or shutil.which("py-spy")
        venv = Path(sys.executable).parent / "py-spy"
        self.py_spy = found or (str(venv) if venv.exists() else None)
        self._proc: subprocess.Popen[bytes] | None = None
        self._pid = 0

    @property
    def name(self) -> str:
        return "py-spy" if self.py_spy else "in-process sampler (py-spy not found)"

    def worker_command(self, cli: list[str]) -> list[str]:
        if self.py_spy:
            return cli
        sampler = str(BENCH / "sampling_profiler.py")
        return [sys.executable, sampler, str(self.out), str(self.RATE), *cli[1:]]

    def start(self, pid: int) -> None:
        self._pid = pid
        if self.py_spy:
            args = [self.py_spy, "record", "--pid", str(pid), "--rate", str(self.RATE)]
            args += ["--format", "raw", "--output", str(self.out)]
            log = (self.out.parent / "py-spy.log").open("ab")
            self._proc = subprocess.Popen(args, stdout=log, stderr=subprocess.STDOUT)
        else:
            os.kill(pid, signal.SIGUSR1)

    def stop(self) -> None:
        if self._proc is not None:
            self._proc.send_signal(signal.SIGINT)
            try:
                self._proc.wait(timeout=60)
            except subprocess.TimeoutExpired:
                self._proc.kill()
                self._proc.wait()
        elif self._pid:
            os.kill(self._pid, signal.SIGUSR2)
            for _ in range(100):
                if self.out.exists():
                    break
                time.sleep(0.1)

    def report(self, deal_periods: int, top: int = 10) -> None:
        if not self.out.exists():
            print(f"profile: no output from {self.name}")
            return
        own: collections.Counter[str] = collections.Counter()
        charged: collections.Counter[str] = collections.Counter()
        inclusive: collections.Counter[str] = collections.Counter()
        ours: collections.Counter[str] = collections.Counter()
        areas: collections.Counter[str] = collections.Counter()
        total = idle = 0
        for line in self.out.read_text().splitlines():
            stack, _, count_text = line.rpartition(" ")
            if not stack or not count_text.isdigit():
                continue
            count, frames = int(count_text), stack.split(";")
            if _waits(frames[-1]):
                idle += count
                continue
            total += count
            own[_short(frames[-1])] += count
            outside = next((f for f in reversed(frames) if not _stdlib(f)), frames[-1])
            charged[_short(outside)] += count
            areas[_area(frames)] += count
            for name in {_short(f) for f in frames if not any(m in f for m in FRAMING)}:
                inclusive[name] += count
            for name in {
                _short(f)
                for f in frames
                if _root(f) in PROJECT and not any(m in f for m in FRAMING)
            }:
                ours[name] += count
        if not total:
            print("profile: no samples")
            return
        per = 1000 / self.RATE / max(deal_periods, 1)  # ms of one worker per deal-period
        print(
            f"\nworker profile ({self.name} at {self.RATE} Hz, window only): {total} busy"
            f" samples ({total / self.RATE:.1f} s), {idle} idle-thread samples left out;"
            " the profiled worker's CPU above includes the profiler's own cost"
        )
        print(f"{'area (by where samples land)':<72} {'share':>6} {'ms/deal-period':>15}")
        for name, count in areas.most_common():
            print(f"  {name:<70} {count / total:6.1%} {count * per:15.3f}")
        for title, counter in (
            ("self (leaf frame)", own),
            ("self, charged to the innermost non-stdlib frame", charged),
            ("inclusive", inclusive),
            ("inclusive, licenseflow code", ours),
        ):
            print(f"{'top ' + title:<72} {'share':>6} {'ms/deal-period':>15}")
            for name, count in counter.most_common(top):
                print(f"  {name[:70]:<70} {count / total:6.1%} {count * per:15.3f}")


IDLE = {("selectors.py", "select"), ("thread.py", "_worker"), ("threading.py", "wait")}
"""(file, function) of a leaf frame whose thread waits (py-spy still samples some)."""
FRAMING = (
    "threading.py",
    "runpy",
    "asyncio/",
    "futures/thread.py",
    "cli.py",
    "workers/main.py",
    "sampling_profiler.py",
)
"""Frames every stack passes through, left out of the inclusive list."""


PROJECT = {"workflows", "domain", "activities", "store", "licenseflow", "workers"}
"""Top-level packages of this project (its entry points are in FRAMING)."""
ROOT = str(BENCH.parent) + "/"
STDLIB_DIR = f"/lib/python{sys.version_info.major}.{sys.version_info.minor}/"


def _module_path(frame: str) -> str:
    """The frame's file relative to its sys.path entry (py-spy prints it so already; the
    in-process sampler prints absolute paths)."""
    path = frame.partition(" (")[2].rsplit(":", 1)[0]
    for marker in ("site-packages/", STDLIB_DIR, ROOT):
        if marker in path:
            return path.split(marker, 1)[1]
    return path


def _root(frame: str) -> str:
    return _module_path(frame).split("/", 1)[0].removesuffix(".py")


def _stdlib(frame: str) -> bool:
    path = _module_path(frame)
    return path.startswith("<") or _root(frame) in sys.stdlib_module_names


def _waits(frame: str) -> bool:
    func, _, where = frame.partition(" (")
    return (Path(where.rsplit(":", 1)[0]).name, func.rsplit(".", 1)[-1]) in IDLE


def _short(frame: str) -> str:
    """`func (/…/site-packages/pkg/mod.py:12)` -> `func (pkg/mod.py)`."""
    return f"{frame.partition(' (')[0]} ({_module_path(frame)})"


AREAS = (
    ("cryptography", "payload codec (cryptography)"),
    ("licenseflow/encryption", "payload codec (cryptography)"),
    ("pydantic", "pydantic (models, JSON)"),
    ("temporalio/worker/workflow_sandbox", "workflow sandbox (imports, restrictions)"),
    ("asyncpg", "asyncpg (Postgres client)"),
    ("structlog", "logging"),
    ("logging", "logging"),
    ("google/protobuf", "protobuf"),
    ("temporalio/converter", "temporalio payload converter"),
    ("temporalio/bridge/_visitor", "temporalio payload visitor (codec walk)"),
    ("temporalio/worker/_workflow_instance", "temporalio workflow instance (activation)"),
    ("temporalio/worker", "temporalio worker (other)"),
    ("temporalio", "temporalio (other)"),
    ("workflows/", "licenseflow workflow code"),
    ("domain/", "licenseflow domain code"),
    ("activities/", "licenseflow activities"),
    ("store/", "licenseflow store"),
    ("asyncio", "asyncio (event loop, sockets)"),
)
"""Module path prefix -> area, most specific first."""


def _area(frames: list[str]) -> str:
    """The area of the innermost frame that has one."""
    for frame in reversed(frames):
        path = _module_path(frame)
        for prefix, name in AREAS:
            if path.startswith(prefix):
                return name
    return "other"
