"""CLI, logging and dev-supervisor helpers: behaviour that needs no running servers."""

from __future__ import annotations

import json
import logging
import os
import stat
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import asyncpg
import pytest
import structlog
from pydantic import ValidationError

from licenseflow import cli
from licenseflow import logging as lf_logging
from licenseflow.config import Settings
from licenseflow.encryption import generate_key_entry
from store.embedded import embedded_postgres_running
from store.migrate import migration_files
from store.principals import lookup


def _run(argv: list[str], capsys: pytest.CaptureFixture[str]) -> tuple[int, str, str]:
    """main(argv) in-process; returns (exit code, stdout, stderr)."""
    try:
        code = cli.main(argv)
    except SystemExit as exc:
        code = int(exc.code or 0)
    out, err = capsys.readouterr()
    return code, out, err


@pytest.fixture
def no_database(monkeypatch: pytest.MonkeyPatch) -> None:
    """Fail loudly if a command touches the database before validating its arguments."""

    def refuse(_settings: Settings) -> str:
        raise AssertionError("the database must not be touched for invalid input")

    monkeypatch.setattr(cli, "resolve_database_url", refuse)


# ------------------------------------------------------------------ help and parsing


def test_help_lists_every_command(capsys: pytest.CaptureFixture[str]) -> None:
    code, out, _ = _run(["--help"], capsys)
    assert code == 0
    for command in ("dev", "worker", "api", "migrate", "token"):
        assert command in out


def test_console_script_help() -> None:
    script = Path(sys.executable).parent / "licenseflow"
    argv = [str(script)] if script.exists() else [sys.executable, "-m", "licenseflow.cli"]
    done = subprocess.run(
        [*argv, "token", "create", "--help"], capture_output=True, text=True, timeout=60
    )
    assert done.returncode == 0, done.stderr
    assert "--partner" in done.stdout and "--role" in done.stdout


def test_no_command_is_an_error(capsys: pytest.CaptureFixture[str]) -> None:
    code, _, err = _run([], capsys)
    assert code == 2
    assert "required" in err


@pytest.mark.parametrize(
    ("argv", "message"),
    [
        (["--user", "acme-ops", "--role", "partner"], "the partner role needs --partner"),
        (["--user", "bob", "--role", "approver", "--partner", "acme"], "--partner only goes"),
        (["--user", "bob", "--role", "boss"], "invalid choice: 'boss'"),
        (["--user", "Bob Smith", "--role", "approver"], "invalid user"),
        (["--user", "x", "--role", "partner", "--partner", "ACME!"], "invalid partner id"),
        (["--role", "admin"], "--user"),
        (["--user", "bob", "--ttl", "2y"], "invalid TTL"),
        (["--user", "bob", "--ttl", "366d"], "above 365d"),
    ],
)
def test_token_create_rejects_bad_input(
    argv: list[str], message: str, capsys: pytest.CaptureFixture[str], no_database: None
) -> None:
    code, out, err = _run(["token", "create", *argv], capsys)
    assert code == 2
    assert message in err
    assert out == ""


def _cli(args: list[str], env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    """`licenseflow ARGS` in a subprocess (the command runs its own event loop)."""
    base = {k: v for k, v in os.environ.items() if k != "DATABASE_URL"}
    return subprocess.run(
        [sys.executable, "-m", "licenseflow.cli", *args],
        env={**base, **env},
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )


async def test_token_create_prints_only_a_working_token(db_url: str, pool: asyncpg.Pool) -> None:
    done = _cli(
        ["token", "create", "--user", "acme-ops", "--role", "partner", "--role", "partner",
         "--partner", "acme"],
        {"DATABASE_URL": db_url},
    )  # fmt: skip
    assert done.returncode == 0, done.stderr
    token = done.stdout.strip()
    assert done.stdout == token + "\n" and token.startswith("lf_")

    found = await lookup(pool, token)
    assert found is not None
    principal = found[0]
    assert (principal.user, principal.roles, principal.partner_id) == (
        "acme-ops", frozenset({"partner"}), "acme",
    )  # fmt: skip
    stored = await pool.fetchval("SELECT token_hash FROM api_tokens WHERE user_name = 'acme-ops'")
    assert stored != token  # only the hash is kept


async def test_user_and_token_commands(db_url: str, pool: asyncpg.Pool) -> None:
    env = {"DATABASE_URL": db_url, "USER": "ci-operator"}

    def run(*args: str, code: int = 0) -> subprocess.CompletedProcess[str]:
        done = _cli(list(args), env)
        assert done.returncode == code, (args, done.stdout, done.stderr)
        return done

    added = run("user", "add", "bob", "--role", "approver", "--display-name", "Bob B.")
    assert added.stdout == "added user bob (approver)\n"
    assert "unchanged" in run("user", "add", "bob", "--role", "approver").stdout
    assert "--update" in run("user", "add", "bob", "--role", "admin", code=1).stderr
    bound = run("user", "add", "acme-ops", "--role", "partner", "--partner", "acme")
    assert "partner acme is not registered yet" in bound.stderr
    listed = [json.loads(line) for line in run("user", "list", "--json").stdout.splitlines()]
    assert [(u["user_name"], u["roles"], u["partner_id"]) for u in listed] == [
        ("acme-ops", ["partner"], "acme"),
        ("bob", ["approver"], None),
    ]
    assert "Bob B." in run("user", "list").stdout

    created = run("token", "create", "--user", "bob", "--ttl", "30d")
    token = created.stdout.strip()
    assert created.stdout == token + "\n" and "expires" in created.stderr
    found = await lookup(pool, token)
    assert found is not None and found[0].roles == frozenset({"approver"})
    assert (
        "does not hold the role(s) admin"
        in run("token", "create", "--user", "bob", "--role", "admin", code=1).stderr
    )
    assert "unknown user ghost" in run("token", "create", "--user", "ghost", code=1).stderr
    erin = run("token", "create", "--user", "erin", "--role", "owner")  # added with the role
    assert "added user erin (owner)" in erin.stderr

    tokens = [
        json.loads(x) for x in run("token", "list", "--user", "bob", "--json").stdout.splitlines()
    ]
    assert len(tokens) == 1 and tokens[0]["status"] == "active"
    assert tokens[0]["roles"] == ["approver"] and tokens[0]["created_by"] == "cli"
    assert token not in run("token", "list").stdout
    token_id = tokens[0]["token_id"]

    run("user", "disable", "bob")
    assert await lookup(pool, token) is None
    assert "disabled already" in run("user", "disable", "bob").stdout
    run("user", "enable", "bob")
    assert await lookup(pool, token) is not None
    assert "unknown user nobody" in run("user", "disable", "nobody", code=1).stderr

    assert run("token", "revoke", token_id).stdout == f"revoked {token_id}\n"
    assert await lookup(pool, token) is None
    assert "revoked already" in run("token", "revoke", token_id).stdout
    assert "unknown token" in run("token", "revoke", "tok_nope", code=1).stderr

    audit = await pool.fetch("SELECT actor, action, subject, detail FROM audit_log ORDER BY id")
    assert [(r["action"], r["subject"]) for r in audit] == [
        ("user.add", "bob"),
        ("user.add", "acme-ops"),
        ("token.create", token_id),
        ("user.add", "erin"),
        ("token.create", audit[4]["subject"]),
        ("user.disable", "bob"),
        ("user.enable", "bob"),
        ("token.revoke", token_id),
    ]
    assert {r["actor"] for r in audit} == {"cli"}
    assert audit[0]["detail"]["os_user"] == "ci-operator"
    assert token not in str([dict(r) for r in audit])


async def test_dev_users_and_tokens_are_created_once_and_kept_live(
    db_url: str, pool: asyncpg.Pool
) -> None:
    from licenseflow import devstack

    first = await devstack.ensure_dev_tokens(db_url, {})
    assert set(first) == {user for user, *_ in devstack.DEV_USERS}
    acme = await lookup(pool, first["acme-ops"])
    assert acme is not None and (acme[0].roles, acme[0].partner_id) == ({"partner"}, "acme")
    assert await devstack.ensure_dev_tokens(db_url, first) == first  # same tokens again

    await pool.execute("UPDATE api_tokens SET revoked_at = now() WHERE user_name = 'bob'")
    await pool.execute("UPDATE users SET active = false WHERE user_name = 'oscar'")
    again = await devstack.ensure_dev_tokens(db_url, first)
    assert again["bob"] != first["bob"] and await lookup(pool, again["bob"]) is not None
    assert "oscar" not in again  # disabled: no token printed
    assert again["admin"] == first["admin"]
    await pool.execute("DELETE FROM api_tokens WHERE user_name = 'admin'")  # database reset
    assert (await devstack.ensure_dev_tokens(db_url, again))["admin"] == first["admin"]
    assert await lookup(pool, first["admin"]) is not None


def test_one_off_commands_stop_the_embedded_postgres_they_start(tmp_path: Path) -> None:
    env = {"LICENSEFLOW_DATA_DIR": str(tmp_path)}
    migrated = _cli(["migrate"], env)
    assert migrated.returncode == 0, migrated.stderr
    assert migrated.stdout.split() == [name for name, _ in migration_files()]
    assert not embedded_postgres_running(tmp_path)

    again = _cli(["token", "create", "--user", "oscar", "--role", "ops"], env)
    assert again.returncode == 0, again.stderr
    assert again.stdout.startswith("lf_")
    assert not embedded_postgres_running(tmp_path)


def test_redact_hides_passwords() -> None:
    assert cli.redact("postgresql://u:s3cret@db:5432/x") == "postgresql://u:***@db:5432/x"
    assert (
        cli.redact("postgresql://postgres@/db?host=/tmp/pg")
        == "postgresql://postgres@/db?host=/tmp/pg"
    )


# ------------------------------------------------------------------ logging


@pytest.fixture
def fresh_logging() -> Iterator[None]:
    """Undo configure_logging after the test."""
    yield
    root = logging.getLogger()
    for handler in [h for h in root.handlers if h.get_name() == "licenseflow"]:
        root.removeHandler(handler)
    lf_logging._configured = None
    structlog.reset_defaults()
    structlog.contextvars.clear_contextvars()


def _our_handlers() -> list[logging.Handler]:
    return [h for h in logging.getLogger().handlers if h.get_name() == "licenseflow"]


def test_configure_logging_is_idempotent(
    fresh_logging: None, capsys: pytest.CaptureFixture[str]
) -> None:
    lf_logging.configure_logging("json", "INFO", force=True)
    lf_logging.configure_logging("console", "DEBUG")  # ignored: already configured
    lf_logging.configure_logging("json")
    assert len(_our_handlers()) == 1
    lf_logging.get_logger("test").info("still.json")
    line = capsys.readouterr().out.strip().splitlines()[-1]
    assert json.loads(line)["event"] == "still.json"


def test_json_logs_carry_bound_contextvars(
    fresh_logging: None, capsys: pytest.CaptureFixture[str]
) -> None:
    lf_logging.configure_logging("json", "INFO", force=True)
    structlog.contextvars.bind_contextvars(
        request_id="req-1", deal_id="acme-sneakers-2026", workflow_id="deal-acme-sneakers-2026"
    )
    lf_logging.get_logger("licenseflow.test").info("deal.started", stage="planning")
    logging.getLogger("uvicorn.error").warning("stdlib %s", "record")
    lf_logging.get_logger("licenseflow.test").debug("hidden")  # below INFO
    lines = [json.loads(x) for x in capsys.readouterr().out.strip().splitlines()]
    assert [e["event"] for e in lines] == ["deal.started", "stdlib record"]
    for event in lines:
        assert event["request_id"] == "req-1"
        assert event["deal_id"] == "acme-sneakers-2026"
        assert event["workflow_id"] == "deal-acme-sneakers-2026"
        assert "timestamp" in event and "level" in event
    assert lines[0]["stage"] == "planning" and lines[0]["logger"] == "licenseflow.test"
    assert lines[1]["logger"] == "uvicorn.error" and lines[1]["level"] == "warning"


def test_configure_logging_rejects_unknown_values(fresh_logging: None) -> None:
    with pytest.raises(ValueError, match="log format"):
        lf_logging.configure_logging("xml", force=True)
    with pytest.raises(ValueError, match="log level"):
        lf_logging.configure_logging("json", "LOUD", force=True)


# ------------------------------------------------------------------ dev supervisor helpers


def test_temporal_server_argv_persists_with_wal_and_attributes(tmp_path: Path) -> None:
    from licenseflow import devstack
    from workflows.search_attributes import cli_flags

    argv = devstack.temporal_server_argv(Settings(), tmp_path)
    joined = " ".join(argv)
    assert argv[1:3] == ["server", "start-dev"]
    assert f"--db-filename {tmp_path / 'temporal.db'}" in joined
    assert "--sqlite-pragma journal_mode=wal" in joined
    assert "--ip 127.0.0.1" in joined and "--ui-ip 127.0.0.1" in joined
    assert "--port 7233" in joined and "--ui-port 8233" in joined
    assert "--ui-codec-endpoint http://127.0.0.1:8000/codec" in joined
    assert " ".join(cli_flags()) in joined


@pytest.mark.parametrize(
    ("address", "local"),
    [("127.0.0.1:7233", True), ("localhost:17233", True), ("temporal.prod:7233", False)],
)
def test_local_temporal_detection(address: str, local: bool) -> None:
    from licenseflow import devstack

    assert devstack.is_local(address) is local


def test_dev_tokens_round_trip(tmp_path: Path) -> None:
    from licenseflow import devstack

    path = tmp_path / "dev-tokens.json"
    assert devstack.load_dev_tokens(path) == {}
    devstack.save_dev_tokens(path, {"admin": "lf_a", "olivia": "lf_o"})
    assert devstack.load_dev_tokens(path) == {"admin": "lf_a", "olivia": "lf_o"}
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    path.write_text("not json")
    assert devstack.load_dev_tokens(path) == {}


def test_dev_users_and_banner() -> None:
    from licenseflow import devstack

    users = {user: (roles, partner) for user, roles, partner, _ in devstack.DEV_USERS}
    assert users["admin"] == (("admin",), None)
    assert users["olivia"] == (("owner",), None)
    assert all(users[u] == (("approver",), None) for u in ("bob", "carol", "dave", "alice"))
    assert users["acme-ops"] == (("partner",), "acme")
    assert users["oscar"] == (("ops",), None)
    text = devstack.banner(Settings(), {"admin": "lf_x"}, local_temporal=True)
    assert "http://127.0.0.1:8233" in text
    assert "http://127.0.0.1:8000/docs" in text
    assert "http://127.0.0.1:8000/codec" in text
    assert "lf_x" in text


def test_production_refuses_placeholder_webhook_secrets() -> None:
    from pydantic import ValidationError

    for secrets in ("dev-esign-secret", "change-me", "real-new,change-me", " , "):
        with pytest.raises(ValidationError, match="LICENSEFLOW_ESIGN_SECRETS"):
            Settings(LICENSEFLOW_ENV="production", LICENSEFLOW_ESIGN_SECRETS=secrets)  # type: ignore[call-arg]
    prod = Settings(  # type: ignore[call-arg]
        LICENSEFLOW_ENV="production",
        LICENSEFLOW_ESIGN_SECRETS="s3cret-a,s3cret-b",
        LICENSEFLOW_PAYLOAD_KEYS=generate_key_entry(),
    )
    assert prod.webhook_secrets == ["s3cret-a", "s3cret-b"]
    assert Settings().webhook_secrets == ["dev-esign-secret"]  # dev keeps working out of the box


def test_settings_hide_secrets_and_refuse_open_proxy_trust() -> None:
    shown = repr(
        Settings(  # type: ignore[call-arg]
            DATABASE_URL="postgresql://app:pg-s3cret@db/app",
            LICENSEFLOW_SMTP_URL="smtp://mail:smtp-s3cret@mx:587",
            LICENSEFLOW_ESIGN_SECRETS="hook-s3cret",
        )
    )
    assert not any(s in shown for s in ("pg-s3cret", "smtp-s3cret", "hook-s3cret")), shown
    production = {
        "LICENSEFLOW_ENV": "production",
        "LICENSEFLOW_ESIGN_SECRETS": "s3cret",
        "LICENSEFLOW_PAYLOAD_KEYS": generate_key_entry("k1"),
    }
    for wide in ("0.0.0.0/0", "10.0.0.0/7", "::/0"):
        with pytest.raises(ValidationError, match="forge its address"):
            Settings(**production, LICENSEFLOW_TRUSTED_PROXIES=wide)  # type: ignore[arg-type]
    ok = Settings(**production, LICENSEFLOW_TRUSTED_PROXIES="10.0.0.0/8, 172.30.241.10")  # type: ignore[arg-type]
    assert len(ok.trusted_proxy_networks) == 2


def test_the_dev_supervisor_reaches_a_tls_frontend_like_the_sdk(tmp_path: Path) -> None:
    from tls_certs import TestCA

    from licenseflow.devstack import temporal_cli_tls_flags

    assert temporal_cli_tls_flags(Settings()) == [], "plaintext to the local dev server"
    ca = TestCA(tmp_path, "ca")
    client = ca.issue("worker")
    settings = Settings(  # type: ignore[call-arg]
        TEMPORAL_TLS_SERVER_CA_CERT_PATH=str(ca.pem),
        TEMPORAL_TLS_CLIENT_CERT_PATH=str(client.cert),
        TEMPORAL_TLS_CLIENT_KEY_PATH=str(client.key),
        TEMPORAL_TLS_SERVER_NAME="temporal.internal",
    )
    assert temporal_cli_tls_flags(settings) == [
        "--tls",
        "--tls-ca-path", str(ca.pem),
        "--tls-cert-path", str(client.cert),
        "--tls-key-path", str(client.key),
        "--tls-server-name", "temporal.internal",
    ]  # fmt: skip
