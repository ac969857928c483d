"""Temporal transport: the settings' checks, and `connect()` over real TLS/mTLS.

`temporal server start-dev` has no TLS, so the session's dev server sits behind a small
TLS-terminating proxy (asyncio, below) with a throwaway PKI: it requires and verifies a
client certificate in the mTLS case, and reads the HTTP/2 headers of what it forwards, so
the API key is checked on the wire, as `authorization: Bearer <key>` metadata."""

from __future__ import annotations

import asyncio
import contextlib
import ssl
import uuid
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass, field
from pathlib import Path

import hpack
import pytest
import pytest_asyncio
from polling import eventually
from pydantic import ValidationError
from temporalio.client import Client, WorkflowExecutionStatus
from temporalio.testing import WorkflowEnvironment
from tls_certs import Issued, TestCA

from licenseflow.config import Settings
from licenseflow.encryption import generate_key_entry
from licenseflow.temporal_client import connect, tls_config

SERVER_NAME = "temporal-frontend.test"
"""The only name on the proxy's certificate (no IP): clients must say it."""
PRODUCTION = {
    "LICENSEFLOW_ENV": "production",
    "LICENSEFLOW_ESIGN_SECRETS": "a-real-webhook-secret",
    "LICENSEFLOW_PAYLOAD_KEYS": generate_key_entry("k-tls-test"),
}


@dataclass(frozen=True)
class Pki:
    ca: TestCA
    server: Issued
    client: Issued
    rogue_ca: TestCA
    rogue_client: Issued


@pytest.fixture(scope="module")
def pki(tmp_path_factory: pytest.TempPathFactory) -> Pki:
    root = tmp_path_factory.mktemp("pki")
    ca = TestCA(root / "ca", "licenseflow-test-ca")
    rogue = TestCA(root / "rogue", "rogue-ca")
    return Pki(
        ca=ca,
        server=ca.issue("frontend", dns=(SERVER_NAME,)),
        client=ca.issue("worker"),
        rogue_ca=rogue,
        rogue_client=rogue.issue("intruder"),
    )


def settings_for(**env: str | Path) -> Settings:
    return Settings(**{k: str(v) for k, v in env.items()})  # type: ignore[arg-type]


# ------------------------------------------------------------------ the settings' checks


def test_cli_names_and_short_names_both_work(pki: Pki) -> None:
    long = settings_for(
        TEMPORAL_TLS_SERVER_CA_CERT_PATH=pki.ca.pem,
        TEMPORAL_TLS_CLIENT_CERT_PATH=pki.client.cert,
        TEMPORAL_TLS_CLIENT_KEY_PATH=pki.client.key,
    )
    short = settings_for(
        TEMPORAL_TLS_CA=pki.ca.pem,
        TEMPORAL_TLS_CERT=pki.client.cert,
        TEMPORAL_TLS_KEY=pki.client.key,
    )
    for settings in (long, short):
        assert settings.temporal_tls_ca == pki.ca.pem
        assert settings.temporal_tls_cert == pki.client.cert
        assert settings.temporal_tls_key == pki.client.key
        assert settings.temporal_tls_enabled


def test_env_variables_are_read(pki: Pki, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("TEMPORAL_TLS_SERVER_CA_CERT_PATH", str(pki.ca.pem))
    monkeypatch.setenv("TEMPORAL_TLS_SERVER_NAME", SERVER_NAME)
    monkeypatch.setenv("TEMPORAL_API_KEY", "k-123")
    settings = Settings()
    assert (settings.temporal_tls_ca, settings.temporal_tls_server_name) == (
        pki.ca.pem,
        SERVER_NAME,
    )
    assert settings.temporal_api_key == "k-123"
    assert "k-123" not in repr(settings)


@pytest.mark.parametrize(
    ("env", "tls"),
    [
        ({}, False),
        ({"TEMPORAL_TLS": "true"}, True),
        ({"TEMPORAL_API_KEY": "k"}, True),  # an API key implies TLS, as in the CLI
        ({"TEMPORAL_API_KEY": "k", "TEMPORAL_TLS": "false"}, False),  # unless said otherwise
        ({"TEMPORAL_TLS_SERVER_NAME": SERVER_NAME}, True),
        ({"TEMPORAL_TLS": "", "TEMPORAL_TLS_SERVER_CA_CERT_PATH": ""}, False),  # empty: unset
    ],
)
def test_when_tls_is_on(env: dict[str, str], tls: bool) -> None:
    settings = settings_for(**env)
    assert settings.temporal_tls_enabled is tls
    assert (tls_config(settings) is not False) is tls


def test_tls_config_carries_files_and_server_name(pki: Pki) -> None:
    config = tls_config(
        settings_for(
            TEMPORAL_TLS_CA=pki.ca.pem,
            TEMPORAL_TLS_CERT=pki.client.cert,
            TEMPORAL_TLS_KEY=pki.client.key,
            TEMPORAL_TLS_SERVER_NAME=SERVER_NAME,
        )
    )
    assert not isinstance(config, bool)
    assert config.server_root_ca_cert == pki.ca.pem.read_bytes()
    assert config.client_cert == pki.client.cert.read_bytes()
    assert config.client_private_key == pki.client.key.read_bytes()
    assert config.domain == SERVER_NAME


def _error(**env: str | Path) -> str:
    with pytest.raises(ValidationError) as caught:
        settings_for(**env)
    return str(caught.value)


def test_refused_tls_settings(pki: Pki, tmp_path: Path) -> None:
    assert "TEMPORAL_TLS_CLIENT_CERT_PATH (TEMPORAL_TLS_CERT) is set without" in _error(
        TEMPORAL_TLS_CERT=pki.client.cert
    )
    assert "TEMPORAL_TLS_CLIENT_KEY_PATH (TEMPORAL_TLS_KEY) is set without" in _error(
        TEMPORAL_TLS_CLIENT_KEY_PATH=pki.client.key
    )
    missing = tmp_path / "missing.pem"
    assert f"cannot read {missing}" in _error(TEMPORAL_TLS_CA=missing)
    junk = tmp_path / "junk.pem"
    junk.write_text("not a certificate\n")
    assert f"{junk} holds no PEM certificate" in _error(TEMPORAL_TLS_CA=junk)
    assert f"{junk} holds no PEM private key" in _error(
        TEMPORAL_TLS_CERT=pki.client.cert, TEMPORAL_TLS_KEY=junk
    )
    assert "is not the key of the certificate" in _error(
        TEMPORAL_TLS_CERT=pki.client.cert, TEMPORAL_TLS_KEY=pki.rogue_client.key
    )
    assert "TEMPORAL_TLS=false but TEMPORAL_TLS_SERVER_CA_CERT_PATH" in _error(
        TEMPORAL_TLS="false", TEMPORAL_TLS_CA=pki.ca.pem
    )


def test_encrypted_client_key_is_refused(pki: Pki, tmp_path: Path) -> None:
    from cryptography.hazmat.primitives import serialization

    key = serialization.load_pem_private_key(pki.client.key.read_bytes(), password=None)
    locked = tmp_path / "locked.key"
    locked.write_bytes(
        key.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.BestAvailableEncryption(b"pw"),
        )
    )
    assert "is encrypted" in _error(TEMPORAL_TLS_CERT=pki.client.cert, TEMPORAL_TLS_KEY=locked)


def test_production_refuses_plaintext_to_a_remote_frontend(pki: Pki) -> None:
    message = _error(**PRODUCTION, TEMPORAL_ADDRESS="temporal.internal:7233")
    assert "TEMPORAL_ADDRESS temporal.internal:7233 is not loopback and TLS is off" in message
    assert "LICENSEFLOW_ALLOW_PLAINTEXT_TEMPORAL=true" in message
    assert "TLS is off" in _error(
        **PRODUCTION,
        TEMPORAL_ADDRESS="temporal.internal:7233",
        TEMPORAL_API_KEY="k",
        TEMPORAL_TLS="false",
    )
    accepted = [
        {"TEMPORAL_ADDRESS": "127.0.0.1:7233"},
        {"TEMPORAL_ADDRESS": "localhost:7233"},
        {"TEMPORAL_ADDRESS": "[::1]:7233"},
        {"TEMPORAL_ADDRESS": "temporal.internal:7233", "TEMPORAL_TLS": "true"},
        {"TEMPORAL_ADDRESS": "ns.acct.tmprl.cloud:7233", "TEMPORAL_API_KEY": "k"},
        {"TEMPORAL_ADDRESS": "temporal.internal:7233", "TEMPORAL_TLS_CA": str(pki.ca.pem)},
        {"TEMPORAL_ADDRESS": "temporal:7233", "LICENSEFLOW_ALLOW_PLAINTEXT_TEMPORAL": "true"},
    ]
    for env in accepted:
        assert settings_for(**PRODUCTION, **env).environment == "production", env
    # dev keeps its plaintext default for any address
    assert not settings_for(TEMPORAL_ADDRESS="temporal.internal:7233").temporal_tls_enabled


# ------------------------------------------------------------------ the TLS proxy


class HeaderTap:
    """Decodes the HTTP/2 header blocks a client sends (HEADERS + CONTINUATION frames)."""

    PREFACE = b"PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n"

    def __init__(self) -> None:
        self.headers: list[tuple[str, str]] = []
        self._buffer = b""
        self._block = b""
        self._preface_seen = False
        self._decoder = hpack.Decoder()

    def feed(self, data: bytes) -> None:
        self._buffer += data
        if not self._preface_seen:
            if len(self._buffer) < len(self.PREFACE):
                return
            assert self._buffer.startswith(self.PREFACE)
            self._buffer = self._buffer[len(self.PREFACE) :]
            self._preface_seen = True
        while len(self._buffer) >= 9:
            length = int.from_bytes(self._buffer[:3], "big")
            kind, flags = self._buffer[3], self._buffer[4]
            if len(self._buffer) < 9 + length:
                return
            payload, self._buffer = self._buffer[9 : 9 + length], self._buffer[9 + length :]
            if kind == 0x1:  # HEADERS: strip padding and priority
                if flags & 0x8:
                    payload = payload[1 : len(payload) - payload[0]]
                if flags & 0x20:
                    payload = payload[5:]
                self._block = payload
            elif kind == 0x9:  # CONTINUATION
                self._block += payload
            else:
                continue
            if flags & 0x4:  # END_HEADERS
                self.headers += [(str(k), str(v)) for k, v in self._decoder.decode(self._block)]
                self._block = b""


@dataclass
class TlsProxy:
    """Terminates TLS on 127.0.0.1 and forwards the plaintext to the dev server."""

    upstream: tuple[str, int]
    context: ssl.SSLContext
    address: str = ""
    refused: list[str] = field(default_factory=list)
    peers: list[str] = field(default_factory=list)
    taps: list[HeaderTap] = field(default_factory=list)
    _tasks: set[asyncio.Task[None]] = field(default_factory=set)
    _server: asyncio.Server | None = None

    async def start(self) -> None:
        self._server = await asyncio.start_server(self._serve, "127.0.0.1", 0)
        self.address = f"127.0.0.1:{self._server.sockets[0].getsockname()[1]}"

    async def stop(self) -> None:
        assert self._server is not None
        self._server.close()
        for task in list(self._tasks):
            task.cancel()
        await asyncio.gather(*self._tasks, return_exceptions=True)

    @property
    def headers(self) -> list[tuple[str, str]]:
        return [h for tap in self.taps for h in tap.headers]

    async def _serve(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        task = asyncio.current_task()
        assert task is not None
        self._tasks.add(task)
        try:
            try:
                await writer.start_tls(self.context)
            except (ssl.SSLError, ConnectionError) as exc:
                self.refused.append(str(exc))
                return
            peer = writer.get_extra_info("peercert")
            self.peers.append(dict(x[0] for x in peer["subject"])["commonName"] if peer else "")
            up_reader, up_writer = await asyncio.open_connection(*self.upstream)
            tap = HeaderTap()
            self.taps.append(tap)
            await asyncio.gather(
                _pipe(reader, up_writer, tap.feed), _pipe(up_reader, writer, lambda _: None)
            )
        finally:
            writer.close()
            self._tasks.discard(task)


async def _pipe(
    source: asyncio.StreamReader, sink: asyncio.StreamWriter, seen: Callable[[bytes], None]
) -> None:
    with contextlib.suppress(ConnectionError, ssl.SSLError):
        while data := await source.read(65536):
            seen(data)
            sink.write(data)
            await sink.drain()
    with contextlib.suppress(ConnectionError, ssl.SSLError, RuntimeError):
        sink.close()


def server_context(pki: Pki, *, client_ca: Path | None) -> ssl.SSLContext:
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    context.load_cert_chain(pki.server.cert, pki.server.key)
    context.set_alpn_protocols(["h2"])
    if client_ca is not None:  # mTLS: a client certificate from this CA, or no connection
        context.verify_mode = ssl.CERT_REQUIRED
        context.load_verify_locations(client_ca)
    return context


def _upstream(env: WorkflowEnvironment) -> tuple[str, int]:
    host, _, port = env.client.service_client.config.target_host.rpartition(":")
    return host, int(port)


@contextlib.asynccontextmanager
async def running(proxy: TlsProxy) -> AsyncIterator[TlsProxy]:
    await proxy.start()
    try:
        yield proxy
    finally:
        await proxy.stop()


@pytest_asyncio.fixture(loop_scope="session")
async def mtls_proxy(pki: Pki, dev_env: WorkflowEnvironment) -> AsyncIterator[TlsProxy]:
    context = server_context(pki, client_ca=pki.ca.pem)
    async with running(TlsProxy(_upstream(dev_env), context)) as proxy:
        yield proxy


@pytest_asyncio.fixture(loop_scope="session")
async def tls_proxy(pki: Pki, dev_env: WorkflowEnvironment) -> AsyncIterator[TlsProxy]:
    async with running(TlsProxy(_upstream(dev_env), server_context(pki, client_ca=None))) as proxy:
        yield proxy


def mtls_settings(pki: Pki, address: str, **extra: str | Path) -> Settings:
    env: dict[str, str | Path] = {
        "TEMPORAL_ADDRESS": address,
        "TEMPORAL_TLS_CA": pki.ca.pem,
        "TEMPORAL_TLS_CERT": pki.client.cert,
        "TEMPORAL_TLS_KEY": pki.client.key,
        "TEMPORAL_TLS_SERVER_NAME": SERVER_NAME,
    }
    return settings_for(**{**env, **extra})


async def _connect_fails(settings: Settings) -> str:
    with pytest.raises(RuntimeError) as caught:
        await asyncio.wait_for(connect(settings), timeout=60)
    return str(caught.value)


async def refused_for_certificate(proxy: TlsProxy) -> None:
    """The proxy's handshake failed over the client certificate (it records that in its own
    task, which may run just after the client has given up)."""

    async def reasons() -> list[str]:
        return proxy.refused

    await eventually(
        reasons, lambda found: any("CERTIFICATE" in r.upper() for r in found), within=10
    )


# ------------------------------------------------------------------ over the wire


async def test_mtls_connect_starts_and_describes_a_workflow(
    pki: Pki, mtls_proxy: TlsProxy, dev_env: WorkflowEnvironment
) -> None:
    client: Client = await connect(mtls_settings(pki, mtls_proxy.address))
    workflow_id = f"tls-probe-{uuid.uuid4().hex[:8]}"
    handle = await client.start_workflow(
        "NoWorkerNeeded", {"note": "over mTLS"}, id=workflow_id, task_queue="tls-probe"
    )
    described = await handle.describe()
    assert described.status == WorkflowExecutionStatus.RUNNING
    await handle.terminate("tls test done")
    # the dev server saw it too (the direct, plaintext session client)
    direct = await dev_env.client.get_workflow_handle(workflow_id).describe()
    assert direct.status == WorkflowExecutionStatus.TERMINATED
    assert mtls_proxy.peers and set(mtls_proxy.peers) == {"worker"}
    assert mtls_proxy.refused == []


async def test_wrong_ca_is_refused_by_the_client(pki: Pki, mtls_proxy: TlsProxy) -> None:
    settings = mtls_settings(pki, mtls_proxy.address, TEMPORAL_TLS_CA=pki.rogue_ca.pem)
    await _connect_fails(settings)
    assert mtls_proxy.peers == []  # no request got through


async def test_wrong_server_name_is_refused_by_the_client(pki: Pki, mtls_proxy: TlsProxy) -> None:
    await _connect_fails(
        mtls_settings(pki, mtls_proxy.address, TEMPORAL_TLS_SERVER_NAME="other.test")
    )
    assert mtls_proxy.peers == []


async def test_client_without_certificate_is_refused_by_the_proxy(
    pki: Pki, mtls_proxy: TlsProxy
) -> None:
    settings = settings_for(
        TEMPORAL_ADDRESS=mtls_proxy.address,
        TEMPORAL_TLS_CA=pki.ca.pem,
        TEMPORAL_TLS_SERVER_NAME=SERVER_NAME,
    )
    await _connect_fails(settings)
    assert mtls_proxy.peers == []
    await refused_for_certificate(mtls_proxy)


async def test_client_certificate_of_another_ca_is_refused_by_the_proxy(
    pki: Pki, mtls_proxy: TlsProxy
) -> None:
    settings = mtls_settings(
        pki,
        mtls_proxy.address,
        TEMPORAL_TLS_CERT=pki.rogue_client.cert,
        TEMPORAL_TLS_KEY=pki.rogue_client.key,
    )
    await _connect_fails(settings)
    assert mtls_proxy.peers == []
    await refused_for_certificate(mtls_proxy)


async def test_plaintext_client_gets_nowhere(mtls_proxy: TlsProxy) -> None:
    await _connect_fails(settings_for(TEMPORAL_ADDRESS=mtls_proxy.address))
    assert mtls_proxy.peers == []


async def test_api_key_is_sent_as_bearer_metadata_inside_tls(pki: Pki, tls_proxy: TlsProxy) -> None:
    key = f"tls-test-{uuid.uuid4().hex}"
    client = await connect(
        settings_for(
            TEMPORAL_ADDRESS=tls_proxy.address,
            TEMPORAL_TLS_CA=pki.ca.pem,
            TEMPORAL_TLS_SERVER_NAME=SERVER_NAME,
            TEMPORAL_API_KEY=key,
        )
    )
    assert client.api_key == key
    await client.count_workflows()
    sent = [value for name, value in tls_proxy.headers if name == "authorization"]
    assert sent and set(sent) == {f"Bearer {key}"}
    paths = {value for name, value in tls_proxy.headers if name == ":path"}
    assert "/temporal.api.workflowservice.v1.WorkflowService/CountWorkflowExecutions" in paths


async def test_api_key_alone_turns_tls_on(dev_env: WorkflowEnvironment) -> None:
    """As with the CLI: an API key means TLS (the plaintext dev server cannot answer it),
    unless TEMPORAL_TLS=false says plaintext on purpose."""
    address = dev_env.client.service_client.config.target_host
    await _connect_fails(settings_for(TEMPORAL_ADDRESS=address, TEMPORAL_API_KEY="k"))
    plain = await connect(
        settings_for(TEMPORAL_ADDRESS=address, TEMPORAL_API_KEY="k", TEMPORAL_TLS="false")
    )
    assert plain.api_key == "k"
    await plain.count_workflows()
