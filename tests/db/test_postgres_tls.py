"""Postgres TLS comes from DATABASE_URL (`sslmode`, `sslrootcert`): every connection path
(the pool, the migrations, the worker/API and the CLI) passes the DSN on unchanged.

The embedded Postgres is built without SSL ("FATAL: SSL is not supported by this build" for
`ssl=on`), so the TLS end is a small proxy in front of the session's server that speaks
Postgres's own negotiation: it answers the client's SSLRequest with `S` and a TLS handshake
(a throwaway certificate for `localhost`), or with `N` when it plays a server without TLS,
then forwards the protocol to the server. It records whether each session was TLS."""

from __future__ import annotations

import asyncio
import contextlib
import os
import ssl
import subprocess
import sys
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass, field
from pathlib import Path
from urllib.parse import parse_qs, urlsplit

import asyncpg
import pytest
import pytest_asyncio
from tls_certs import TestCA

from licenseflow.config import Settings
from store.migrate import apply_migrations
from store.pool import create_pool

SSL_REQUEST = (8).to_bytes(4, "big") + (80877103).to_bytes(4, "big")
GSSENC_REQUEST = (8).to_bytes(4, "big") + (80877104).to_bytes(4, "big")
Streams = tuple[asyncio.StreamReader, asyncio.StreamWriter]


@dataclass
class PgTlsProxy:
    """127.0.0.1:<port> in front of the Postgres at `upstream`; TLS when `context` is set."""

    upstream: Callable[[], Awaitable[Streams]]
    context: ssl.SSLContext | None
    ca: Path
    rogue_ca: Path
    port: int = 0
    sessions: list[bool] = field(default_factory=list)  # one per session: TLS or not
    refused: list[str] = field(default_factory=list)
    _tasks: set[asyncio.Task[None]] = field(default_factory=set)
    _server: asyncio.Server | None = None

    def dsn(self, query: str, *, host: str = "localhost", database: str = "postgres") -> str:
        return f"postgresql://postgres@{host}:{self.port}/{database}?{query}"

    def verify_full(self, database: str = "postgres", *, ca: Path | None = None) -> str:
        return self.dsn(f"sslmode=verify-full&sslrootcert={ca or self.ca}", database=database)

    async def start(self) -> None:
        self._server = await asyncio.start_server(self._serve, "127.0.0.1", 0)
        self.port = int(self._server.sockets[0].getsockname()[1])

    async def stop(self) -> None:
        assert self._server is not None
        self._server.close()
        for task in list(self._tasks):
            task.cancel()
        await asyncio.gather(*self._tasks, return_exceptions=True)

    async def _serve(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        task = asyncio.current_task()
        assert task is not None
        self._tasks.add(task)
        try:
            await self._session(reader, writer)
        except (asyncio.IncompleteReadError, ConnectionError):
            pass  # the client gave up (e.g. sslmode=require after an N)
        finally:
            writer.close()
            self._tasks.discard(task)

    async def _session(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        tls = False
        head = await reader.readexactly(8)
        while head in (SSL_REQUEST, GSSENC_REQUEST):
            if head == SSL_REQUEST and self.context is not None:
                writer.write(b"S")
                await writer.drain()
                try:
                    await writer.start_tls(self.context)
                except (ssl.SSLError, ConnectionError) as exc:
                    self.refused.append(str(exc))
                    return
                tls = True
            else:
                writer.write(b"N")
                await writer.drain()
            head = await reader.readexactly(8)
        self.sessions.append(tls)
        up_reader, up_writer = await self.upstream()
        up_writer.write(head)
        await asyncio.gather(_pipe(reader, up_writer), _pipe(up_reader, writer))


async def _pipe(source: asyncio.StreamReader, sink: asyncio.StreamWriter) -> None:
    with contextlib.suppress(ConnectionError, ssl.SSLError):
        while data := await source.read(65536):
            sink.write(data)
            await sink.drain()
    with contextlib.suppress(ConnectionError, ssl.SSLError, RuntimeError):
        sink.close()


def _opener(pg_base_url: str) -> Callable[[], Awaitable[Streams]]:
    """Connects to the session's server: its Unix socket, or host:port (TEST_DATABASE_URL)."""
    url = urlsplit(pg_base_url)
    socket_dir = parse_qs(url.query).get("host", [""])[0]
    port = url.port or 5432
    if socket_dir.startswith("/"):
        return lambda: asyncio.open_unix_connection(f"{socket_dir}/.s.PGSQL.{port}")
    return lambda: asyncio.open_connection(url.hostname or "127.0.0.1", port)


@pytest.fixture(scope="module")
def pki(tmp_path_factory: pytest.TempPathFactory) -> tuple[TestCA, TestCA, ssl.SSLContext]:
    root = tmp_path_factory.mktemp("pg-pki")
    ca, rogue = TestCA(root / "ca", "pg-test-ca"), TestCA(root / "rogue", "rogue-ca")
    issued = ca.issue("postgres", dns=("localhost",))  # the name only, not 127.0.0.1
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    context.load_cert_chain(issued.cert, issued.key)
    return ca, rogue, context


@contextlib.asynccontextmanager
async def _running(proxy: PgTlsProxy) -> AsyncIterator[PgTlsProxy]:
    await proxy.start()
    try:
        yield proxy
    finally:
        await proxy.stop()


@pytest_asyncio.fixture(loop_scope="session")
async def tls_pg(
    pg_base_url: str, pki: tuple[TestCA, TestCA, ssl.SSLContext]
) -> AsyncIterator[PgTlsProxy]:
    ca, rogue, context = pki
    async with _running(PgTlsProxy(_opener(pg_base_url), context, ca.pem, rogue.pem)) as proxy:
        yield proxy


@pytest_asyncio.fixture(loop_scope="session")
async def plain_pg(
    pg_base_url: str, pki: tuple[TestCA, TestCA, ssl.SSLContext]
) -> AsyncIterator[PgTlsProxy]:
    """A server without TLS: every SSLRequest is answered `N`."""
    ca, rogue, _ = pki
    async with _running(PgTlsProxy(_opener(pg_base_url), None, ca.pem, rogue.pem)) as proxy:
        yield proxy


async def _database(dsn: str) -> str:
    conn = await asyncpg.connect(dsn, timeout=15)
    try:
        return str(await conn.fetchval("SELECT current_database()"))
    finally:
        await conn.close()


async def test_sslmode_decides_whether_the_session_is_tls(tls_pg: PgTlsProxy) -> None:
    assert await _database(tls_pg.verify_full()) == "postgres"
    assert await _database(tls_pg.dsn("sslmode=require")) == "postgres"
    assert await _database(tls_pg.dsn("sslmode=disable")) == "postgres"
    assert tls_pg.sessions == [True, True, False]
    assert tls_pg.refused == []


async def test_verification_failures_refuse_to_connect(tls_pg: PgTlsProxy) -> None:
    with pytest.raises(ssl.SSLCertVerificationError):
        await _database(tls_pg.verify_full(ca=tls_pg.rogue_ca))
    # the certificate names localhost, not 127.0.0.1: verify-full checks the name too,
    # verify-ca only the chain
    ca = f"sslrootcert={tls_pg.ca}"
    with pytest.raises(ssl.SSLCertVerificationError, match=r"127\.0\.0\.1"):
        await _database(tls_pg.dsn(f"sslmode=verify-full&{ca}", host="127.0.0.1"))
    assert tls_pg.sessions == []  # nothing reached the server
    assert await _database(tls_pg.dsn(f"sslmode=verify-ca&{ca}", host="127.0.0.1"))
    assert tls_pg.sessions == [True]


async def test_require_fails_against_a_server_without_tls(plain_pg: PgTlsProxy) -> None:
    assert await _database(plain_pg.dsn("sslmode=prefer")) == "postgres"  # falls back
    with pytest.raises(ConnectionError, match="rejected SSL"):
        await _database(plain_pg.dsn("sslmode=require"))
    with pytest.raises(ConnectionError, match="rejected SSL"):
        await create_pool(plain_pg.verify_full(), min_size=1, max_size=1)
    assert plain_pg.sessions == [False]


async def test_pool_honours_the_dsn(tls_pg: PgTlsProxy) -> None:
    pool = await create_pool(tls_pg.verify_full(), min_size=3, max_size=3)
    try:
        async with pool.acquire() as conn:
            assert await conn.fetchval("SELECT 1") == 1
    finally:
        await pool.close()
    assert tls_pg.sessions == [True, True, True]
    with pytest.raises(ssl.SSLCertVerificationError):
        await create_pool(tls_pg.verify_full(ca=tls_pg.rogue_ca), min_size=1, max_size=1)


@pytest_asyncio.fixture(loop_scope="session")
async def empty_database(pg_base_url: str) -> AsyncIterator[str]:
    name = f"lf_tls_{uuid.uuid4().hex[:10]}"
    conn = await asyncpg.connect(pg_base_url)
    try:
        await conn.execute(f'CREATE DATABASE "{name}"')
        yield name
        await conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
    finally:
        await conn.close()


async def test_migrations_and_entry_points_pass_the_dsn_unchanged(
    tls_pg: PgTlsProxy, empty_database: str
) -> None:
    from licenseflow.cli import resolve_database_url as cli_database_url
    from workers.main import resolve_database_url as worker_database_url  # the API's too

    dsn = tls_pg.verify_full(empty_database)
    settings = Settings(DATABASE_URL=dsn)  # type: ignore[call-arg]
    assert cli_database_url(settings) == dsn
    assert await worker_database_url(settings) == dsn

    with pytest.raises(ssl.SSLCertVerificationError):
        await apply_migrations(tls_pg.verify_full(empty_database, ca=tls_pg.rogue_ca))
    assert await apply_migrations(dsn)  # every migration, over verify-full
    assert tls_pg.sessions == [True]

    base = {k: v for k, v in os.environ.items() if k != "DATABASE_URL"}

    def migrate(url: str) -> subprocess.CompletedProcess[str]:
        """`licenseflow migrate` in a process of its own, DATABASE_URL from the environment."""
        return subprocess.run(
            [sys.executable, "-m", "licenseflow.cli", "migrate"],
            env={**base, "DATABASE_URL": url},
            capture_output=True,
            text=True,
            timeout=120,
            check=False,
        )

    refused = await asyncio.to_thread(
        migrate, tls_pg.verify_full(empty_database, ca=tls_pg.rogue_ca)
    )
    assert refused.returncode != 0 and "certificate verify failed" in refused.stderr
    done = await asyncio.to_thread(migrate, dsn)
    assert done.returncode == 0, done.stderr
    assert tls_pg.sessions == [True, True]
