"""A small in-process sampling profiler, for `bench/month_end.py --profile` without py-spy.

Runs a module (`-m licenseflow.cli worker`) and samples every Python thread's stack
(`sys._current_frames`) between SIGUSR1 (start) and SIGUSR2 (stop and write), skipping
threads idle in a selector, a queue or a lock wait. It needs the GIL to look, so it hands
the GIL over every 0.2 ms while sampling (a small cost of its own) and still favours code
that releases it; py-spy has no such bias. Writes collapsed stacks in py-spy's
`raw` format (`frame;frame;leaf count` per line), `frame` being `func (file:line)`.
Threads running native code without the GIL (the Temporal core) are not seen.

    python bench/sampling_profiler.py OUT RATE -m licenseflow.cli worker
"""

from __future__ import annotations

import collections
import runpy
import signal
import sys
import threading
import time
from pathlib import Path
from types import FrameType

IDLE_LEAVES = {
    ("selectors.py", "select"),
    ("threading.py", "wait"),
    ("queue.py", "get"),
    ("thread.py", "_worker"),
    ("sampling_profiler.py", "_sample"),
}
"""(file name, function) of a leaf frame that means the thread waits."""


DEFAULT_SWITCH_INTERVAL = sys.getswitchinterval()
SWITCH_INTERVAL = 0.0002
"""Seconds between GIL hand-overs while sampling (Python's default is 0.005)."""


class Sampler:
    def __init__(self, out: Path, rate: float) -> None:
        self._out, self._interval = out, 1.0 / rate
        self._stacks: collections.Counter[str] = collections.Counter()
        self._running = threading.Event()
        self._thread: threading.Thread | None = None

    def start(self, *_: object) -> None:
        if self._thread is None:
            # the sampler needs the GIL to look: hand it over often, or short bursts of
            # work (a workflow activation) end before it looks and are never seen
            sys.setswitchinterval(SWITCH_INTERVAL)
            self._running.set()
            self._thread = threading.Thread(target=self._sample, name="sampler", daemon=True)
            self._thread.start()

    def stop(self, *_: object) -> None:
        self._running.clear()
        if self._thread is not None:
            self._thread.join()
        sys.setswitchinterval(DEFAULT_SWITCH_INTERVAL)
        lines = (f"{stack} {count}" for stack, count in self._stacks.most_common())
        self._out.write_text("\n".join(lines) + "\n")

    def _sample(self) -> None:
        own = threading.get_ident()
        while self._running.is_set():
            for ident, frame in sys._current_frames().items():
                if ident != own and not _idle(frame):
                    self._stacks[_collapse(frame)] += 1
            time.sleep(self._interval)


def _idle(frame: FrameType) -> bool:
    return (Path(frame.f_code.co_filename).name, frame.f_code.co_name) in IDLE_LEAVES


def _collapse(frame: FrameType | None) -> str:
    names = []
    while frame is not None:
        code = frame.f_code
        names.append(f"{code.co_name} ({code.co_filename}:{frame.f_lineno})")
        frame = frame.f_back
    return ";".join(reversed(names))


def main() -> None:
    out, rate, flag, module, *rest = sys.argv[1:]
    if flag != "-m":
        raise SystemExit(__doc__)
    sampler = Sampler(Path(out), float(rate))
    signal.signal(signal.SIGUSR1, sampler.start)
    signal.signal(signal.SIGUSR2, sampler.stop)
    sys.argv = [module, *rest]
    runpy.run_module(module, run_name="__main__", alter_sys=True)


if __name__ == "__main__":
    main()
